"""Time the LSTM classifier's training step and epoch, jaxdl against PyTorch eager (CPU).

The network is ``jaxdl.models.lstm_classifier()``: an LSTM of 128 units reading a
28×28 MNIST image as 28 time steps of 28 pixels, then a dense layer from its last hidden
state to 10 logits; softmax cross-entropy, Adam with learning rate 1e-3, batch 128.
PyTorch trains ``torch.nn.LSTM(28, 128, batch_first=True)`` and ``torch.nn.Linear(128,
10)`` from the same starting weights (jaxdl's ``w_ih`` is ``weight_ih_l0.T``, ``w_hh``
is ``weight_hh_l0.T``, ``b`` goes to ``bias_ih_l0`` and ``bias_hh_l0`` is zero) on the
same batches, with fused Adam.

The measurements, the three configurations and the table are those of
``bench/bench_cnn.py`` (see its docstring), whose machinery this script reuses. Unlike
the CNN, ``fit`` runs this model's epoch as one compiled ``lax.scan``.

Usage::

    python bench/bench_lstm.py            # 40 step rounds, 3 fit epochs of 60 batches
    python bench/bench_lstm.py --quick    # a smoke run
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bench_cnn import Workload, main

from jaxdl import models


def lstm_torch(params: Any) -> Any:
    """``models.lstm_classifier()`` in PyTorch, with jaxdl's params copied in."""
    import torch

    class LSTMClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(28, 128, batch_first=True)
            self.dense = torch.nn.Linear(128, 10)

        def forward(self, x):
            outputs, _ = self.lstm(x)
            return self.dense(outputs[:, -1])

    net = LSTMClassifier()
    lstm, dense = params["1"], params["2"]
    copies = [
        (net.lstm.weight_ih_l0, lstm["w_ih"].T),  # both stack the gates i, f, g, o
        (net.lstm.weight_hh_l0, lstm["w_hh"].T),
        (net.lstm.bias_ih_l0, lstm["b"]),
        (net.lstm.bias_hh_l0, np.zeros_like(lstm["b"])),
        (net.dense.weight, dense["w"].T),
        (net.dense.bias, dense["b"]),
    ]
    with torch.no_grad():
        for parameter, value in copies:
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return net


def rows(x: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(x.reshape(len(x), 28, 28)))


LSTM = Workload(
    "LSTM classifier (models.lstm_classifier)", models.lstm_classifier, lstm_torch, rows
)


if __name__ == "__main__":
    main(LSTM, __file__)

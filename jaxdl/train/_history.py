"""``History``: per-epoch metrics, as Keras records them."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["History"]


class History:
    """Per-epoch metrics: ``history.history["loss"]`` is a list with one float per epoch.

    Keys are ``loss``, ``accuracy`` (classification), ``val_loss``, ``val_accuracy`` (with
    validation data) and any extra metric or logged value by its name. ``history["loss"]``
    works too, and ``history.epoch`` lists the epoch numbers (0-based).

    After :func:`jaxdl.train.fit`, ``stop_reason`` says why training ended:
    ``"completed"`` (all epochs ran), ``"stopped"`` (a callback such as
    :class:`EarlyStopping` set ``stop_training``) or ``"diverged"`` (the training loss or
    the state became NaN or inf; ``divergence`` then holds a
    :class:`jaxdl.train.Divergence` naming the epoch and batch, and that epoch is not
    recorded). A ``History`` built by hand has ``stop_reason=None``.

    Example:
        >>> h = History()
        >>> h.append(0, {"loss": 0.9, "accuracy": 0.7})
        >>> h.append(1, {"loss": 0.5, "accuracy": 0.8})
        >>> h["loss"], h.epoch
        ([0.9, 0.5], [0, 1])
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stop_reason: str | None = None
        self.divergence: Any = None

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        """Record one epoch's values (a metric missing from earlier epochs is padded with
        NaN, so every list has one entry per epoch)."""
        for name in logs.keys() - self.history.keys():
            self.history[name] = [math.nan] * len(self.epoch)
        for name, values in self.history.items():
            values.append(float(logs.get(name, math.nan)))
        self.epoch.append(int(epoch))

    def __getitem__(self, name: str) -> list[float]:
        return self.history[name]

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, metrics={sorted(self.history)})"

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write ``epoch,<metric>,…`` with one row per epoch; returns the path."""
        path = Path(path)
        names = sorted(self.history)
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", *names])
            for i, epoch in enumerate(self.epoch):
                writer.writerow([epoch, *(repr(self.history[n][i]) for n in names)])
        return path

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write ``{"epoch": [...], "history": {...}}`` (NaN as null); returns the path."""
        path = Path(path)
        clean = {n: [None if math.isnan(v) else v for v in vs] for n, vs in self.history.items()}
        path.write_text(json.dumps({"epoch": self.epoch, "history": clean}, indent=2))
        return path

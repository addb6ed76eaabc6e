"""Layers under one protocol: ``init(key, x) -> (params, state)`` and
``apply(params, state, x, *, key=None, train=False) -> (y, state)``.

See :mod:`jaxdl.nn._base` and docs/protocols.md for the protocol.
"""

from jaxdl.nn._base import Lambda, Layer, Params, Sequential, State, VariablesMismatchError
from jaxdl.nn._conv import Conv1D, Conv2D
from jaxdl.nn._conv_transpose import ConvTranspose1D, ConvTranspose2D
from jaxdl.nn._dense import Dense
from jaxdl.nn._dropout import Dropout, MaskingNoise
from jaxdl.nn._embedding import Embedding
from jaxdl.nn._normalization import BatchNorm, LayerNorm
from jaxdl.nn._pooling import AvgPool, AvgPool1D, AvgPool2D, MaxPool, MaxPool1D, MaxPool2D
from jaxdl.nn._recurrent import GRU, LSTM, SimpleRNN
from jaxdl.nn._reshape import Flatten, Reshape
from jaxdl.nn._residual import Residual
from jaxdl.nn._summary import count_params, summary
from jaxdl.nn._surgery import Bound, Frozen, graft
from jaxdl.nn._upsampling import UpSampling1D, UpSampling2D

__all__ = [
    "GRU",
    "LSTM",
    "AvgPool",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "Bound",
    "Conv1D",
    "Conv2D",
    "ConvTranspose1D",
    "ConvTranspose2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "Frozen",
    "Lambda",
    "Layer",
    "LayerNorm",
    "MaskingNoise",
    "MaxPool",
    "MaxPool1D",
    "MaxPool2D",
    "Params",
    "Reshape",
    "Residual",
    "Sequential",
    "SimpleRNN",
    "State",
    "UpSampling1D",
    "UpSampling2D",
    "VariablesMismatchError",
    "count_params",
    "graft",
    "summary",
]

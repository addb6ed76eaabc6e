"""Reshaping layers: ``Flatten``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl._checks import shape_of
from jaxdl.nn._base import Layer, Params, State, check_input

__all__ = ["Flatten"]


@dataclasses.dataclass(frozen=True, repr=False)
class Flatten(Layer):
    r"""Flatten every axis but the batch axis: ``(batch, d_1, …, d_k) → (batch, d_1⋯d_k)``.

    .. math:: y_{n,\, \mathrm{idx}(i_1, \dots, i_k)} = x_{n, i_1, \dots, i_k}

    in row-major (C) order, so an NHWC image is read row by row with its channels
    innermost, as ``numpy.reshape`` and Keras do. A ``(batch,)`` input becomes
    ``(batch, 1)``. Any dtype passes through unchanged.

    No arguments, no params, no state.

    Example:
        >>> import jax
        >>> Flatten().apply({}, {}, jax.numpy.ones((8, 5, 5, 16)))[0].shape
        (8, 400)
    """

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        del key
        self._check(x)
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        self._check(x)
        x = jnp.asarray(x)
        return x.reshape(x.shape[0], math.prod(x.shape[1:])), state

    def _check(self, x: Any) -> None:
        if shape_of(x) == ():
            check_input(self, x, ["batch"])

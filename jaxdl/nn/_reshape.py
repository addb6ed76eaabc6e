"""Reshaping layers: ``Flatten`` and ``Reshape``."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl._checks import ArgumentTypeError, is_int, shape_of
from jaxdl.nn._base import Layer, Params, State, check_input

__all__ = ["Flatten", "Reshape"]


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


@dataclasses.dataclass(frozen=True, repr=False, init=False)
class Reshape(Layer):
    r"""Reshape each sample: ``(batch, *in_shape) → (batch, *shape)``, row-major.

    Arguments:
        shape: the per-sample output shape; one entry may be ``-1`` (inferred). Its size
            must equal the per-sample input size.

    No params, no state. Example: MNIST images as sequences of rows for a recurrent layer.

    Example:
        >>> import jax
        >>> Reshape((28, 28)).apply({}, {}, jax.numpy.ones((8, 28, 28, 1)))[0].shape
        (8, 28, 28)
    """

    shape: tuple[int, ...]

    def __init__(self, shape: tuple[int, ...] | list[int]) -> None:
        shape = tuple(shape)
        ints = all(is_int(d) for d in shape)
        valid = ints and all(d >= 1 or d == -1 for d in shape)
        if not valid or shape.count(-1) > 1:
            raise (ValueError if ints else ArgumentTypeError)(
                f"Reshape: shape must hold positive ints and at most one -1, got {shape}."
            )
        shape = tuple(int(d) for d in shape)
        object.__setattr__(self, "shape", shape)

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        del key
        self._target(x)
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        target = self._target(x)
        x = jnp.asarray(x)
        return x.reshape(x.shape[0], *target), state

    def _target(self, x: Any) -> tuple[int, ...]:
        shape = shape_of(x)
        size = math.prod(shape[1:])
        known = math.prod(d for d in self.shape if d != -1)
        if len(shape) < 1 or (-1 not in self.shape and known != size) or size % known:
            raise ValueError(
                f"{self!r}: cannot reshape samples of shape {shape[1:]} ({size} values) "
                f"to {self.shape}; got input {shape}."
            )
        return tuple(size // known if d == -1 else d for d in self.shape)

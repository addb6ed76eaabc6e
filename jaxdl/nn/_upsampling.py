"""Upsampling layers: repeat each element along the spatial axes (nearest neighbour)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from jaxdl.nn import _windows
from jaxdl.nn._base import Layer, Params, State, check_floating, check_input

__all__ = ["UpSampling1D", "UpSampling2D"]


@dataclasses.dataclass(frozen=True, repr=False)
class _UpSampling(Layer):
    """Nearest-neighbour upsampling of ``spatial_dims`` axes of channels-last input."""

    size: int | tuple[int, ...] = 2

    spatial_dims: ClassVar[int]

    def __post_init__(self) -> None:
        owner, n = type(self).__name__, self.spatial_dims
        object.__setattr__(self, "size", _windows.canonical_ints(owner, "size", self.size, n))

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        del key
        self._check(x)
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        self._check(x)
        x = jnp.asarray(x)
        factors = _windows.expand(self.size, self.spatial_dims)
        # (batch, n_1, 1, n_2, 1, …, c) broadcast to (batch, n_1, r_1, n_2, r_2, …, c), then
        # merged: one broadcast whose gradient is one sum over the repeat axes.
        spread, target = [x.shape[0]], [x.shape[0]]
        for n, r in zip(x.shape[1:-1], factors):
            spread += [n, 1]
            target += [n, r]
        blocks = jnp.broadcast_to(x.reshape(*spread, x.shape[-1]), (*target, x.shape[-1]))
        sizes = [n * r for n, r in zip(x.shape[1:-1], factors)]
        return blocks.reshape(x.shape[0], *sizes, x.shape[-1]), state

    def _check(self, x: Any) -> None:
        check_floating(self, x)
        check_input(self, x, ["batch", *_windows.SPATIAL_NAMES[self.spatial_dims], "channels"])


@dataclasses.dataclass(frozen=True, repr=False)
class UpSampling1D(_UpSampling):
    r"""Nearest-neighbour upsampling of sequences ``(batch, length, channels)``: repeat
    every step ``r`` times.

    .. math:: y_{n,t,c} = x_{n,\, \lfloor t / r \rfloor,\, c}, \qquad 0 \le t < r L

    as ``numpy.repeat(x, r, axis=1)`` and Keras' ``UpSampling1D``.

    Arguments:
        size: the factor ``r`` (a positive int or a 1-tuple; default 2, as Keras).

    No params, no state; any real dtype passes through unchanged. Output
    ``(batch, r L, channels)``. The gradient of an input element is the sum of the
    gradients of its ``r`` copies.

    Example:
        >>> import jax
        >>> y, _ = UpSampling1D(2).apply({}, {}, jax.numpy.array([[[1.0], [2.0]]]))
        >>> y[0, :, 0].tolist()
        [1.0, 1.0, 2.0, 2.0]
    """

    spatial_dims: ClassVar[int] = 1


@dataclasses.dataclass(frozen=True, repr=False)
class UpSampling2D(_UpSampling):
    r"""Nearest-neighbour upsampling of images ``(batch, height, width, channels)`` (NHWC):
    repeat every pixel into an ``r_h × r_w`` block.

    .. math:: y_{n,i,j,c} = x_{n,\, \lfloor i / r_h \rfloor,\, \lfloor j / r_w \rfloor,\, c}

    as ``numpy.repeat`` along both axes and Keras' ``UpSampling2D(interpolation="nearest")``.

    Arguments:
        size: ``(r_h, r_w)``, or an int for both (default 2, as Keras' ``(2, 2)``).

    No params, no state; any real dtype passes through unchanged. Output
    ``(batch, r_h H, r_w W, channels)``. The gradient of an input pixel is the sum of the
    gradients of its block.

    Example:
        >>> import jax
        >>> x = jax.numpy.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
        >>> y, _ = UpSampling2D((1, 2)).apply({}, {}, x)
        >>> y.shape, y[0, :, :, 0].tolist()
        ((1, 2, 4, 1), [[1.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0]])
    """

    spatial_dims: ClassVar[int] = 2

"""Pooling layers (SPEC §10): the maximum or the mean of each window, per channel."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdl._checks import floating_dtype, shape_of
from jaxdl.nn import _windows
from jaxdl.nn._base import Layer, Params, State, check_floating, check_input

__all__ = ["AvgPool", "AvgPool1D", "AvgPool2D", "MaxPool", "MaxPool1D", "MaxPool2D"]


@dataclasses.dataclass(frozen=True, repr=False)
class _Pool(Layer):
    """A reduction over windows of ``spatial_dims`` axes of channels-last input."""

    window: int | tuple[int, ...]
    strides: int | tuple[int, ...] | None = None
    padding: _windows.Padding = "VALID"

    spatial_dims: ClassVar[int]

    def __post_init__(self) -> None:
        owner, n = type(self).__name__, self.spatial_dims
        object.__setattr__(self, "window", _windows.canonical_ints(owner, "window", self.window, n))
        if self.strides is not None:
            strides = _windows.canonical_ints(owner, "strides", self.strides, n)
            object.__setattr__(self, "strides", strides)
        object.__setattr__(self, "padding", _windows.canonical_padding(owner, self.padding, n))

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        del key
        self._geometry(x)
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        window, strides, pads = self._geometry(x)
        # Pool only the spatial axes: batch and channel axes get a window of 1 and no padding.
        dims = (1, *window, 1)
        steps = (1, *strides, 1)
        padding = ((0, 0), *pads, (0, 0))
        return self._pool(jnp.asarray(x), dims, steps, padding), state

    def _pool(self, x: jax.Array, dims: tuple, steps: tuple, padding: tuple) -> jax.Array:
        raise NotImplementedError

    def _geometry(self, x: Any) -> tuple[tuple[int, ...], tuple[int, ...], tuple]:
        """Check ``x``; return the window, strides and ``(low, high)`` padding per axis."""
        check_floating(self, x)
        check_input(self, x, ["batch", *_windows.SPATIAL_NAMES[self.spatial_dims], "channels"])
        shape, n = shape_of(x), self.spatial_dims
        window = _windows.expand(self.window, n)
        strides = window if self.strides is None else _windows.expand(self.strides, n)
        dilation = (1,) * n
        pads = _windows.resolve_padding(self.padding, shape[1:-1], window, strides, dilation)
        _windows.output_sizes(self, shape, window, strides, dilation, pads)
        return window, strides, pads


@dataclasses.dataclass(frozen=True, repr=False)
class _MaxPool(_Pool):
    def _pool(self, x: jax.Array, dims: tuple, steps: tuple, padding: tuple) -> jax.Array:
        # Padding takes the identity of max, so a padded element is never the maximum. A
        # concrete NumPy init value lets JAX pick its differentiable max-pool primitive.
        floating = jnp.issubdtype(x.dtype, jnp.floating)
        lowest = np.array(-np.inf if floating else jnp.iinfo(x.dtype).min, x.dtype)
        return lax.reduce_window(x, lowest, lax.max, dims, steps, padding)


@dataclasses.dataclass(frozen=True, repr=False)
class _AvgPool(_Pool):
    def _pool(self, x: jax.Array, dims: tuple, steps: tuple, padding: tuple) -> jax.Array:
        x = x.astype(floating_dtype(x))
        zero = np.array(0, x.dtype)
        sums = lax.reduce_window(x, zero, lax.add, dims, steps, padding)
        # Divide by the number of input elements in each window, padding excluded
        # (count_include_pad=False): one reduction over ones shaped (1, *spatial, 1).
        ones = jnp.ones((1, *x.shape[1:-1], 1), x.dtype)
        counts = lax.reduce_window(ones, zero, lax.add, dims, steps, padding)
        return sums / counts


@dataclasses.dataclass(frozen=True, repr=False)
class MaxPool1D(_MaxPool):
    r"""Max pooling over sequences ``(batch, length, channels)``.

    .. math:: y_{n,t,c} = \max_{0 \le k < K} x_{n,\, s t + k - p_{lo},\, c}

    Arguments:
        window: the window length ``K`` (an int or a 1-tuple).
        strides: step ``s`` between windows (default None: ``K``, windows do not overlap).
        padding: ``"VALID"`` (default: every window lies inside the input), ``"SAME"``
            (output length :math:`\lceil L/s \rceil`, the padding split evenly, the odd
            element after), an int ``p`` (``p`` on each side) or ``((low, high),)``. Padded
            elements never win: the maximum is over the input elements of each window.

    No params, no state. Output length :math:`\lfloor (L + p_{lo} + p_{hi} - K)/s \rfloor + 1`.

    Example:
        >>> import jax
        >>> y, _ = MaxPool1D(2).apply({}, {}, jax.numpy.arange(8.0).reshape(1, 4, 2))
        >>> y[0].tolist()
        [[2.0, 3.0], [6.0, 7.0]]
    """

    spatial_dims: ClassVar[int] = 1


@dataclasses.dataclass(frozen=True, repr=False)
class MaxPool2D(_MaxPool):
    r"""Max pooling over images ``(batch, height, width, channels)`` (NHWC). ``MaxPool``
    is this class.

    .. math:: y_{n,i,j,c} = \max_{0 \le p < K_h,\ 0 \le q < K_w}
        x_{n,\, s_h i + p - p_h,\, s_w j + q - p_w,\, c}

    Arguments:
        window: ``(K_h, K_w)``, or an int for a square window.
        strides: step between windows, an int or ``(s_h, s_w)`` (default None: the window,
            so windows do not overlap).
        padding: ``"VALID"`` (default: every window lies inside the input), ``"SAME"``
            (output size :math:`\lceil n/s \rceil`, the padding split evenly, the odd
            element after), an int ``p`` (``p`` on every side), ``(p_h, p_w)`` or
            ``((low_h, high_h), (low_w, high_w))``. Padded elements never win: the maximum
            is over the input elements of each window.

    No params, no state. Along each axis the output size is
    :math:`\lfloor (n + p_{lo} + p_{hi} - K)/s \rfloor + 1`.

    Example:
        >>> import jax
        >>> MaxPool2D(2).apply({}, {}, jax.numpy.ones((8, 28, 28, 6)))[0].shape
        (8, 14, 14, 6)
    """

    spatial_dims: ClassVar[int] = 2


@dataclasses.dataclass(frozen=True, repr=False)
class AvgPool1D(_AvgPool):
    r"""Average pooling over sequences ``(batch, length, channels)``.

    .. math:: y_{n,t,c} = \frac{1}{|W_t|} \sum_{k \in W_t} x_{n,\, s t + k - p_{lo},\, c}

    where :math:`W_t` holds the offsets ``0 ≤ k < K`` whose element lies inside the input:
    padding is not counted (``count_include_pad=False``, as Keras and TensorFlow; PyTorch's
    ``avg_pool1d`` counts it by default).

    Arguments:
        window: the window length ``K`` (an int or a 1-tuple).
        strides: step ``s`` between windows (default None: ``K``, windows do not overlap).
        padding: ``"VALID"`` (default), ``"SAME"`` (output length :math:`\lceil L/s \rceil`,
            the padding split evenly, the odd element after), an int ``p`` (``p`` on each
            side) or ``((low, high),)``.

    No params, no state. Integer inputs give float outputs. Output length
    :math:`\lfloor (L + p_{lo} + p_{hi} - K)/s \rfloor + 1`.

    Example:
        >>> import jax
        >>> y, _ = AvgPool1D(2).apply({}, {}, jax.numpy.arange(8.0).reshape(1, 4, 2))
        >>> y[0].tolist()
        [[1.0, 2.0], [5.0, 6.0]]
    """

    spatial_dims: ClassVar[int] = 1


@dataclasses.dataclass(frozen=True, repr=False)
class AvgPool2D(_AvgPool):
    r"""Average pooling over images ``(batch, height, width, channels)`` (NHWC).
    ``AvgPool`` is this class.

    .. math:: y_{n,i,j,c} = \frac{1}{|W_{ij}|} \sum_{(p, q) \in W_{ij}}
        x_{n,\, s_h i + p - p_h,\, s_w j + q - p_w,\, c}

    where :math:`W_{ij}` holds the offsets ``(p, q)`` whose element lies inside the input:
    padding is not counted (``count_include_pad=False``, as Keras and TensorFlow; PyTorch's
    ``avg_pool2d`` counts it by default). With ``"SAME"`` padding a corner window of a
    2×2 pool that overlaps the border averages fewer than 4 elements.

    Arguments:
        window: ``(K_h, K_w)``, or an int for a square window.
        strides: step between windows, an int or ``(s_h, s_w)`` (default None: the window,
            so windows do not overlap).
        padding: ``"VALID"`` (default), ``"SAME"`` (output size :math:`\lceil n/s \rceil`,
            the padding split evenly, the odd element after), an int ``p`` (``p`` on every
            side), ``(p_h, p_w)`` or ``((low_h, high_h), (low_w, high_w))``.

    No params, no state. Integer inputs give float outputs. Along each axis the output
    size is :math:`\lfloor (n + p_{lo} + p_{hi} - K)/s \rfloor + 1`.

    Example:
        >>> import jax
        >>> x = jax.numpy.ones((8, 27, 27, 6))
        >>> y, _ = AvgPool2D(2, padding="SAME").apply({}, {}, x)
        >>> y.shape, float(y[0, -1, -1, 0])
        ((8, 14, 14, 6), 1.0)
    """

    spatial_dims: ClassVar[int] = 2


MaxPool = MaxPool2D
AvgPool = AvgPool2D

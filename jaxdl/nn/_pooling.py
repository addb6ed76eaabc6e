"""Pooling layers (docs/concepts.md §10): the maximum or the mean of each window, per channel.

Two computations, one result. When the windows tile the input — strides equal to the
window and no padding (``"VALID"``, or ``"SAME"`` where the window divides the size) —
the input is reshaped into its windows, ``(batch, n_1, K_1, n_2, K_2, channels)``, and the
window axes are reduced. Otherwise ``lax.reduce_window`` handles any stride and padding.
Both give the same values and the same gradients; the reshaped path exists because on
XLA:CPU the gradient of ``reduce_window`` (``select_and_scatter``) is slow: for a 2×2
max-pool of a ``(128, 28, 28, 32)`` batch it took about 9 times as long as the reshaped
path's, forward and backward together.
"""

from __future__ import annotations

import dataclasses
import functools
import math
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
        x = jnp.asarray(x)
        if strides == window and all(pad == (0, 0) for pad in pads):
            # Windows tile the input: pool blocks of a reshaped view. On XLA:CPU this is
            # much faster than reduce_window, whose gradient (select_and_scatter) is slow.
            blocks, axes = _tile(x, window)
            return self._pool_blocks(blocks, axes), state
        # Pool only the spatial axes: batch and channel axes get a window of 1 and no padding.
        dims = (1, *window, 1)
        steps = (1, *strides, 1)
        padding = ((0, 0), *pads, (0, 0))
        return self._pool(x, dims, steps, padding), state

    def _pool(self, x: jax.Array, dims: tuple, steps: tuple, padding: tuple) -> jax.Array:
        """Pool with ``lax.reduce_window``: any window, stride and padding."""
        raise NotImplementedError

    def _pool_blocks(self, blocks: jax.Array, axes: tuple[int, ...]) -> jax.Array:
        """Pool a tiled input (see :func:`_tile`) by reducing its window ``axes``."""
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

    def _pool_blocks(self, blocks: jax.Array, axes: tuple[int, ...]) -> jax.Array:
        if jnp.issubdtype(blocks.dtype, jnp.floating):
            return _block_max(blocks, axes)
        return jnp.max(blocks, axis=axes)


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

    def _pool_blocks(self, blocks: jax.Array, axes: tuple[int, ...]) -> jax.Array:
        return jnp.mean(blocks.astype(floating_dtype(blocks)), axis=axes)


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

    Gradient: each output's gradient goes wholly to the first maximum of its window in
    row-major order, as in PyTorch's ``max_pool`` and ``lax.reduce_window``; ``jnp.max``
    alone would split it evenly between tied maxima, which are common after a ReLU
    (windows of zeros). A window holding a NaN outputs NaN and passes its gradient to a NaN.

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

    Gradient: each output's gradient goes wholly to the first maximum of its window in
    row-major order, as in PyTorch's ``max_pool`` and ``lax.reduce_window``; ``jnp.max``
    alone would split it evenly between tied maxima, which are common after a ReLU
    (windows of zeros). A window holding a NaN outputs NaN and passes its gradient to a NaN.

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


def _tile(x: jax.Array, window: tuple[int, ...]) -> tuple[jax.Array, tuple[int, ...]]:
    """Split ``x`` ``(batch, *spatial, channels)`` into its windows of size ``window``.

    Returns the blocks ``(batch, n_1, K_1, n_2, K_2, …, channels)``, where ``n_i`` is the
    spatial size ``s_i // K_i`` (elements past the last whole window are dropped, as
    ``"VALID"`` does), and the positions of the ``K_i`` axes.
    """
    counts = [size // k for size, k in zip(x.shape[1:-1], window)]
    x = x[(slice(None), *(slice(0, n * k) for n, k in zip(counts, window)), slice(None))]
    shape = [x.shape[0]]
    for n, k in zip(counts, window):
        shape += [n, k]
    axes = tuple(range(2, 2 * len(window) + 1, 2))
    return x.reshape(*shape, x.shape[-1]), axes


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _block_max(blocks: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    """The maximum over ``axes``, differentiated as ``reduce_window`` and PyTorch do.

    ``jnp.max``'s own derivative splits the gradient evenly between tied maxima; this one
    gives all of it to the first maximum of the window in row-major order (the first NaN,
    if there is one), so that the tiled path has the gradient of the ``reduce_window`` one
    and of PyTorch. Ties are common here: ReLU before pooling makes windows of zeros.
    A ``custom_jvp`` rather than a ``custom_vjp``, so that forward mode works too.
    """
    return jnp.max(blocks, axis=axes)


@_block_max.defjvp
def _block_max_jvp(axes, primals, tangents):
    (blocks,), (blocks_dot,) = primals, tangents
    maxima = jnp.max(blocks, axis=axes, keepdims=True)
    # Number each window's elements in row-major order; the winner is the lowest-numbered
    # element equal to the maximum. The numbers are a small constant broadcast along the
    # window axes, so the backward pass is one elementwise select per input element.
    sizes = [blocks.shape[axis] if axis in axes else 1 for axis in range(blocks.ndim)]
    order = np.arange(math.prod(sizes), dtype=np.int32).reshape(sizes)
    candidates = jnp.where((blocks == maxima) | jnp.isnan(blocks), order, order.size)
    wins = order == jnp.min(candidates, axis=axes, keepdims=True)
    maxima_dot = jnp.sum(jnp.where(wins, blocks_dot, jnp.zeros_like(blocks_dot)), axis=axes)
    return jnp.squeeze(maxima, axes), maxima_dot


MaxPool = MaxPool2D
AvgPool = AvgPool2D

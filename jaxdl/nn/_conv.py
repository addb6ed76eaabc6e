"""Convolutional layers (docs/concepts.md §10): learned filters, a sum of elementwise
products over a window, slid over the input."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import DTypeLike

from jaxdl import initializers
from jaxdl._checks import check_int, shape_of
from jaxdl.nn import _fourier, _windows
from jaxdl.nn._base import (
    Layer,
    Params,
    State,
    check_floating,
    check_input,
    check_variable_names,
    check_variable_shapes,
    param_dtype,
)

__all__ = ["Conv1D", "Conv2D"]


@dataclasses.dataclass(frozen=True, repr=False)
class _Conv(Layer):
    """Convolution over ``spatial_dims`` axes of channels-last input; see Conv1D/Conv2D."""

    features: int
    kernel_size: int | tuple[int, ...]
    strides: int | tuple[int, ...] = 1
    padding: _windows.Padding = "SAME"
    dilation: int | tuple[int, ...] = 1
    use_bias: bool = True
    kernel_init: Callable[..., jax.Array] = initializers.glorot_uniform()
    bias_init: Callable[..., jax.Array] = initializers.zeros
    activation: Callable[[jax.Array], jax.Array] | None = None
    dtype: DTypeLike | None = None
    algorithm: str = "auto"

    spatial_dims: ClassVar[int]
    _dimension_numbers: ClassVar[tuple[str, str, str]]
    # The values ``algorithm`` may take.
    _algorithms: ClassVar[tuple[str, ...]] = ("auto", "direct")

    def __post_init__(self) -> None:
        owner = type(self).__name__
        features = check_int(owner, "features", self.features, minimum=1)
        object.__setattr__(self, "features", features)
        n = self.spatial_dims
        for name in ("kernel_size", "strides", "dilation"):
            value = _windows.canonical_ints(owner, name, getattr(self, name), n)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "padding", _windows.canonical_padding(owner, self.padding, n))
        self._check_algorithm()

    def _check_algorithm(self) -> None:
        owner = type(self).__name__
        if not isinstance(self.algorithm, str) or self.algorithm not in self._algorithms:
            raise ValueError(
                f"{owner}: algorithm must be one of {', '.join(map(repr, self._algorithms))}, got "
                f"{self.algorithm!r}."
            )
        if self.algorithm == "fourier" and (self.strides != 1 or self.dilation != 1):
            raise ValueError(
                f"{owner}: algorithm='fourier' needs strides=1 and dilation=1, got "
                f"strides={self.strides!r} and dilation={self.dilation!r}."
            )

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        self._check(x)
        dtype = param_dtype(self, x)
        w_key, b_key = jax.random.split(key)
        kernel_shape = (*self._window(), shape_of(x)[-1], self.features)
        params = {"w": self.kernel_init(w_key, kernel_shape, dtype)}
        if self.use_bias:
            params["b"] = self.bias_init(b_key, (self.features,), dtype)
        return params, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        expected = check_variable_names(self, params, state, x)
        w = jnp.asarray(params["w"])
        pads = self._check(x, w.shape[-2])
        check_variable_shapes(self, params, state, x, expected)
        x, w = _operands(x, w)
        return self._finish(params, self._correlate(x, w, pads)), state

    def _correlate(self, x: jax.Array, w: jax.Array, pads: tuple) -> jax.Array:
        """The correlation of ``x`` with ``w``, by the algorithm :attr:`algorithm` picks."""
        strides = _windows.expand(self.strides, self.spatial_dims)
        dilation = _windows.expand(self.dilation, self.spatial_dims)

        def direct(x: jax.Array, w: jax.Array) -> jax.Array:
            return lax.conv_general_dilated(
                x,
                w,
                window_strides=strides,
                padding=pads,
                rhs_dilation=dilation,
                dimension_numbers=self._dimension_numbers,
            )

        if self.algorithm == "fourier":
            # bfloat16 and float16 have too few bits for the transforms' longer sums.
            wide = jnp.promote_types(x.dtype, jnp.float32)
            return _fourier.correlate(x.astype(wide), w.astype(wide), pads).astype(x.dtype)
        if self.algorithm == "auto" and self.spatial_dims == 2:
            if _fourier.prefers_fourier(x.shape, w.shape, x.dtype, strides, dilation, pads):
                # Chosen when the program is lowered: the Fourier method on XLA:CPU, the
                # backend's own convolution (cuDNN, ...) elsewhere.
                fourier = functools.partial(_fourier.correlate, pads=pads)
                return lax.platform_dependent(x, w, cpu=fourier, default=direct)
        return direct(x, w)

    def _finish(self, params: Params, y: jax.Array) -> jax.Array:
        """The bias and the activation applied to the convolution's output ``y``."""
        if self.use_bias:
            y = y + _broadcast_bias(jnp.asarray(params["b"]), y.shape)
        if self.activation is not None:
            y = self.activation(y)
        return y

    def _window(self) -> tuple[int, ...]:
        return _windows.expand(self.kernel_size, self.spatial_dims)

    def _check(self, x: Any, in_features: int | None = None) -> tuple[tuple[int, int], ...]:
        """Check ``x``'s shape and dtype; return the ``(low, high)`` padding per axis."""
        check_floating(self, x)
        expected = ["batch", *_windows.SPATIAL_NAMES[self.spatial_dims], in_features]
        check_input(self, x, expected)
        shape, n = shape_of(x), self.spatial_dims
        window = self._window()
        strides = _windows.expand(self.strides, n)
        dilation = _windows.expand(self.dilation, n)
        pads = _windows.resolve_padding(self.padding, shape[1:-1], window, strides, dilation)
        _windows.output_sizes(self, shape, window, strides, dilation, pads)
        return pads


@dataclasses.dataclass(frozen=True, repr=False)
class Conv1D(_Conv):
    r"""1-D convolution over sequences ``(batch, length, in)`` (cross-correlation).

    .. math::
        y_{n,t,o} = f\Big(b_o + \sum_{k=0}^{K-1} \sum_{c} x_{n,\, s t + d k - p_{lo},\, c}\,
        w_{k,c,o}\Big)

    with stride :math:`s`, dilation :math:`d` and zero padding :math:`p_{lo}` before the
    input. Like every framework, the kernel is not flipped. Output length
    :math:`\lfloor (L + p_{lo} + p_{hi} - d(K-1) - 1) / s \rfloor + 1`.

    Arguments:
        features: number of output channels ``out``.
        kernel_size: window length ``K`` (an int or a 1-tuple).
        strides: step ``s`` between windows (default 1).
        padding: ``"SAME"`` (default: output length :math:`\lceil L/s \rceil`, zeros split
            evenly, the odd one after), ``"VALID"`` (no padding), an int ``p`` (``p`` zeros
            on each side) or ``((low, high),)``.
        dilation: spacing ``d`` between kernel taps (default 1; 2 skips every other input).
        use_bias: add ``b`` (default True).
        kernel_init: initializer of ``w`` (default Glorot uniform; fans include the window).
        bias_init: initializer of ``b`` (default zeros).
        activation: ``f``, applied after the bias (default None: identity).
        dtype: dtype of the params (default: the input's floating dtype).
        algorithm: ``"auto"`` (default) or ``"direct"``: both run the backend's own
            convolution (Conv2D has a second algorithm).

    Params: ``{"w": (K, in, out), "b": (out,)}``. Output ``(batch, length', out)``.

    Example:
        >>> import jax
        >>> layer = Conv1D(16, kernel_size=5, padding="VALID")
        >>> x = jax.numpy.ones((2, 100, 3))
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> params["w"].shape, layer.apply(params, state, x)[0].shape
        ((5, 3, 16), (2, 96, 16))
    """

    spatial_dims: ClassVar[int] = 1
    _dimension_numbers: ClassVar[tuple[str, str, str]] = ("NWC", "WIO", "NWC")


@dataclasses.dataclass(frozen=True, repr=False)
class Conv2D(_Conv):
    r"""2-D convolution over images ``(batch, height, width, in)`` (NHWC; cross-correlation).

    .. math::
        y_{n,i,j,o} = f\Big(b_o + \sum_{p=0}^{K_h-1} \sum_{q=0}^{K_w-1} \sum_{c}
        x_{n,\, s_h i + d_h p - p_h,\, s_w j + d_w q - p_w,\, c}\, w_{p,q,c,o}\Big)

    — the sum of elementwise products of the kernel with each window of the zero-padded
    input (strides :math:`s`, dilations :math:`d`, leading padding :math:`p`). Like every
    framework, the kernel is not flipped. Along each axis the output size is
    :math:`\lfloor (n + p_{lo} + p_{hi} - d(K-1) - 1) / s \rfloor + 1`.

    Arguments:
        features: number of output channels ``out``.
        kernel_size: window ``(K_h, K_w)``, or an int for a square window.
        strides: step between windows, an int or ``(s_h, s_w)`` (default 1).
        padding: ``"SAME"`` (default: output size :math:`\lceil n/s \rceil`, zeros split
            evenly, the odd one after, as Keras), ``"VALID"`` (no padding), an int ``p``
            (``p`` zeros on every side, as PyTorch's ``padding=p``), ``(p_h, p_w)``, or
            ``((low_h, high_h), (low_w, high_w))``.
        dilation: spacing between kernel taps, an int or ``(d_h, d_w)`` (default 1).
        use_bias: add ``b`` (default True).
        kernel_init: initializer of ``w`` (default Glorot uniform; fans include the window,
            :math:`n_{in} = K_h K_w \cdot in`).
        bias_init: initializer of ``b`` (default zeros).
        activation: ``f``, applied after the bias (default None: identity).
        dtype: dtype of the params (default: the input's floating dtype).
        algorithm: how the correlation is computed; every choice gives the same values up
            to float rounding.

            - ``"auto"`` (default): on XLA:CPU, the Fourier method (the DFT as matrix
              products, ``jaxdl/nn/_fourier.py``) where it needs at most 30 % of the direct
              method's multiply-adds: stride and dilation 1, a float32 or float64 input and
              a large kernel over many channels, such as LeNet's second 5×5 convolution
              (32 → 64 channels), whose training step it made faster. Otherwise, and on
              every other backend, the backend's own convolution.
            - ``"direct"``: always the backend's own convolution.
            - ``"fourier"``: always the Fourier method, on any backend (strides and
              dilation must be 1; bfloat16 and float16 inputs are transformed in float32).

    Params: ``{"w": (K_h, K_w, in, out), "b": (out,)}`` (HWIO). Output
    ``(batch, height', width', out)``.

    Example:
        >>> import jax
        >>> layer = Conv2D(6, kernel_size=5)
        >>> x = jax.numpy.ones((8, 28, 28, 1))
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> params["w"].shape, layer.apply(params, state, x)[0].shape
        ((5, 5, 1, 6), (8, 28, 28, 6))
    """

    spatial_dims: ClassVar[int] = 2
    _dimension_numbers: ClassVar[tuple[str, str, str]] = ("NHWC", "HWIO", "NHWC")
    _algorithms: ClassVar[tuple[str, ...]] = ("auto", "direct", "fourier")


def _operands(x: Any, w: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``x`` and ``w`` in one dtype: integer inputs take the kernel's dtype; floats promote
    with it, as in Dense."""
    x = jnp.asarray(x)
    floating = jnp.issubdtype(x.dtype, jnp.floating)
    dtype = jnp.result_type(x.dtype, w.dtype) if floating else w.dtype
    return x.astype(dtype), w.astype(dtype)


def _broadcast_bias(b: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """``b`` ``(out,)`` broadcast to ``shape`` ``(batch, *spatial, out)``, one axis at a time.

    The value is ``jnp.broadcast_to(b, shape)``; the point is its transpose, the bias
    gradient. Summed in one reduction over ``(batch, *spatial)``, XLA:CPU rewrites that
    sum into a ``reduce-window`` that took 18 ms of a 120 ms LeNet step (a 5×5 Conv2D(32)
    on a batch of 128 28×28 images; the sum itself needs under 1 ms). Broadcasting one
    axis at a time, with optimisation barriers that keep XLA from merging the steps, makes
    the gradient sum the first spatial axis first — fused with its producer, into a large
    output — then the others.
    """
    out = lax.broadcast_in_dim(b, (shape[0], shape[-1]), (1,))
    for size in reversed(shape[1:-1]):
        out = lax.optimization_barrier(out)
        # Insert the axis after the batch axis: (batch, size, *out.shape[1:]).
        kept = (0, *range(2, out.ndim + 1))
        out = lax.broadcast_in_dim(out, (shape[0], size, *out.shape[1:]), kept)
    return out

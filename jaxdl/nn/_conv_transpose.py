"""Transposed convolutions (docs/concepts.md §10): learned upsampling, a convolution of the
input spread out by the stride.

The layers compute what ``jax.lax.conv_transpose`` and ``flax.linen.ConvTranspose``
(``transpose_kernel=False``, the default) compute with the same kernel: a stride-1
convolution of the input *dilated* by the stride (``s - 1`` zeros inserted between its
elements) and zero-padded. ``"SAME"`` and ``"VALID"`` padding give the output sizes of
Keras' ``Conv2DTranspose`` and Flax's ``ConvTranspose``; the kernel is not flipped, so a
Keras or PyTorch kernel is this layer's kernel flipped along its spatial axes (and, for
Keras, with its channel axes swapped).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax.numpy as jnp
from jax import lax

from jaxdl._checks import shape_of
from jaxdl.nn import _windows
from jaxdl.nn._base import (
    check_floating,
    check_input,
    check_variable_names,
    check_variable_shapes,
)
from jaxdl.nn._conv import _Conv, _operands

__all__ = ["ConvTranspose1D", "ConvTranspose2D"]


@dataclasses.dataclass(frozen=True, repr=False)
class _ConvTranspose(_Conv):
    """Transposed convolution over ``spatial_dims`` axes of channels-last input; see
    ConvTranspose1D/ConvTranspose2D. Hyperparameters, params and their initialisation are
    those of :class:`_Conv`; only ``"SAME"`` and ``"VALID"`` padding are accepted."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.padding not in ("SAME", "VALID"):
            raise ValueError(
                f"{type(self).__name__}: padding must be 'SAME' or 'VALID', got "
                f"{self.padding!r}; explicit padding is not supported (frameworks disagree on "
                "its meaning: Flax pads the dilated input, PyTorch crops the output)."
            )

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        expected = check_variable_names(self, params, state, x)
        w = jnp.asarray(params["w"])
        self._check(x, w.shape[-2])
        check_variable_shapes(self, params, state, x, expected)
        x, w = _operands(x, w)
        y = lax.conv_transpose(
            x,
            w,
            strides=_windows.expand(self.strides, self.spatial_dims),
            padding=self.padding,
            rhs_dilation=_windows.expand(self.dilation, self.spatial_dims),
            dimension_numbers=self._dimension_numbers,
        )
        return self._finish(params, y), state

    def _check(self, x: Any, in_features: int | None = None) -> None:
        """Check ``x``'s shape and dtype; every spatial axis must be non-empty."""
        check_floating(self, x)
        expected = ["batch", *_windows.SPATIAL_NAMES[self.spatial_dims], in_features]
        check_input(self, x, expected)
        shape = shape_of(x)
        if min(shape[1:-1]) < 1:
            raise ValueError(f"{self!r}: expected non-empty spatial axes, got input {shape}.")


@dataclasses.dataclass(frozen=True, repr=False)
class ConvTranspose1D(_ConvTranspose):
    r"""1-D transposed convolution over sequences ``(batch, length, in)``: learned
    upsampling, the convolution of the input spread out by the stride.

    .. math::
        y_{n,t,o} = f\Big(b_o + \sum_{k=0}^{K-1} \sum_{c} \tilde x_{n,\, t + d k - p_{lo},\, c}\,
        w_{k,c,o}\Big), \qquad \tilde x_{n,\, s u,\, c} = x_{n,u,c}

    where :math:`\tilde x` is the input dilated by the stride :math:`s` (``s - 1`` zeros
    between elements, zero at every position that is not some ``s u``, ``0 ≤ u < L``);
    equivalently, every input element adds :math:`x_{n,u,c}\, w_{k,c,o}` to output
    :math:`t = s u + p_{lo} - d k`.
    With the dilated kernel extent :math:`e = d(K-1) + 1`:

    - ``"SAME"``: output length :math:`L s` exactly, :math:`p_{lo} = e - 1` if
      :math:`s > e - 1`, else :math:`\lceil (e + s - 2)/2 \rceil`;
    - ``"VALID"``: output length :math:`(L - 1)s + \max(e, s)` (:math:`(L-1)s + K` when
      :math:`K \ge s`, :math:`d = 1`), :math:`p_{lo} = e - 1`: every product of an input
      element with a tap is kept.

    These are the values of ``jax.lax.conv_transpose`` and ``flax.linen.ConvTranspose``
    (``transpose_kernel=False``) with the same kernel, and the output sizes of Keras'
    ``Conv1DTranspose``. The layer is the transpose (the input gradient) of a
    :class:`Conv1D` with the same strides, dilation and padding mode whose kernel is this
    one flipped along ``K`` with ``in`` and ``out`` swapped — which is how Keras and PyTorch
    define it, so their kernels are this layer's flipped.

    Arguments:
        features: number of output channels ``out``.
        kernel_size: kernel length ``K`` (an int or a 1-tuple).
        strides: upsampling factor ``s`` (default 1).
        padding: ``"SAME"`` (default) or ``"VALID"``, as above; explicit padding is not
            accepted.
        dilation: spacing ``d`` between kernel taps (default 1).
        use_bias: add ``b`` (default True).
        kernel_init: initializer of ``w`` (default Glorot uniform; fans include the window).
        bias_init: initializer of ``b`` (default zeros).
        activation: ``f``, applied after the bias (default None: identity).
        dtype: dtype of the params (default: the input's floating dtype).
        algorithm: ``"auto"`` (default) or ``"direct"``: both run the backend's own
            transposed convolution.

    Params: ``{"w": (K, in, out), "b": (out,)}``, as :class:`Conv1D`. Output
    ``(batch, length', out)``.

    Example:
        >>> import jax
        >>> layer = ConvTranspose1D(4, kernel_size=3, strides=2)
        >>> x = jax.numpy.ones((2, 10, 3))
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> params["w"].shape, layer.apply(params, state, x)[0].shape
        ((3, 3, 4), (2, 20, 4))
        >>> y, _ = ConvTranspose1D(4, 3, strides=2, padding="VALID").apply(params, state, x)
        >>> y.shape  # (10 - 1) * 2 + 3
        (2, 21, 4)
    """

    spatial_dims: ClassVar[int] = 1
    _dimension_numbers: ClassVar[tuple[str, str, str]] = ("NWC", "WIO", "NWC")


@dataclasses.dataclass(frozen=True, repr=False)
class ConvTranspose2D(_ConvTranspose):
    r"""2-D transposed convolution over images ``(batch, height, width, in)`` (NHWC):
    learned upsampling, as in decoders and generators.

    .. math::
        y_{n,i,j,o} = f\Big(b_o + \sum_{p=0}^{K_h-1} \sum_{q=0}^{K_w-1} \sum_{c}
        \tilde x_{n,\, i + d_h p - p_h,\, j + d_w q - p_w,\, c}\, w_{p,q,c,o}\Big), \qquad
        \tilde x_{n,\, s_h u,\, s_w v,\, c} = x_{n,u,v,c}

    — a stride-1 convolution of the input dilated by the strides (``s - 1`` zeros between
    elements along each axis) and zero-padded by :math:`p_h, p_w` before it. Along each
    axis, with the dilated kernel extent :math:`e = d(K-1) + 1`, an input of size
    :math:`n` gives:

    - ``"SAME"``: :math:`n s` outputs exactly, leading padding :math:`e - 1` if
      :math:`s > e - 1`, else :math:`\lceil (e + s - 2)/2 \rceil`;
    - ``"VALID"``: :math:`(n - 1)s + \max(e, s)` outputs (:math:`(n-1)s + K` when
      :math:`K \ge s`, :math:`d = 1`), leading padding :math:`e - 1`.

    These are the values of ``jax.lax.conv_transpose`` and ``flax.linen.ConvTranspose``
    (``transpose_kernel=False``) with the same kernel, and the output sizes of Keras'
    ``Conv2DTranspose``. The layer is the transpose (the input gradient) of a
    :class:`Conv2D` with the same strides, dilation and padding mode whose kernel is this
    one flipped along both spatial axes with ``in`` and ``out`` swapped — how Keras and
    PyTorch define it, so their kernels are this layer's flipped.

    Arguments:
        features: number of output channels ``out``.
        kernel_size: kernel ``(K_h, K_w)``, or an int for a square kernel.
        strides: upsampling factors, an int or ``(s_h, s_w)`` (default 1).
        padding: ``"SAME"`` (default) or ``"VALID"``, as above; explicit padding is not
            accepted.
        dilation: spacing between kernel taps, an int or ``(d_h, d_w)`` (default 1).
        use_bias: add ``b`` (default True).
        kernel_init: initializer of ``w`` (default Glorot uniform; fans include the window).
        bias_init: initializer of ``b`` (default zeros).
        activation: ``f``, applied after the bias (default None: identity).
        dtype: dtype of the params (default: the input's floating dtype).
        algorithm: ``"auto"`` (default) or ``"direct"``: both run the backend's own
            transposed convolution.

    Params: ``{"w": (K_h, K_w, in, out), "b": (out,)}`` (HWIO), as :class:`Conv2D`. Output
    ``(batch, height', width', out)``.

    Example:
        >>> import jax
        >>> layer = ConvTranspose2D(8, kernel_size=4, strides=2)
        >>> x = jax.numpy.ones((2, 7, 7, 16))
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> params["w"].shape, layer.apply(params, state, x)[0].shape
        ((4, 4, 16, 8), (2, 14, 14, 8))
    """

    spatial_dims: ClassVar[int] = 2
    _dimension_numbers: ClassVar[tuple[str, str, str]] = ("NHWC", "HWIO", "NHWC")

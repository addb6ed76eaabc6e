r"""2-D convolution (cross-correlation) through the discrete Fourier transform, in matrix
products: the algorithm ``Conv2D`` uses on XLA:CPU where it needs fewer operations.

A stride-1 correlation :math:`y_{ij} = \sum_{pq} x_{i+p-l_h,\ j+q-l_w} w_{pq}` (zero outside
the input; :math:`l_h, l_w` the low padding) is a circular correlation over a period
:math:`L_h \ge H + \max(l_h, r_h)` (:math:`L_w` likewise), because the zeros beyond the
input absorb every wrapped index. In the frequency domain it is a product, one small
matrix product per frequency over the channels:

.. math::
    \hat y_{fg,o} = \sum_c \hat x_{fg,c}\, \overline{\hat w_{fg,co}},\qquad
    \hat w_{fg,co} = \sum_{pq} e^{-2\pi i\,(f (p - l_h)/L_h + g (q - l_w)/L_w)} w_{pq,co}.

The transforms are matrix products with small DFT matrices (the real input needs only
:math:`L_w/2 + 1` frequencies along the width), and complex numbers are carried as pairs
of real ones, so every step is a ``dot_general`` that XLA:CPU runs well and that ``jax.grad``
and ``jax.jvp`` differentiate as they do any matrix product. For LeNet's second
convolution (5×5, 32 → 64 channels on 14×14 images) it needs a quarter of the direct
method's multiply-adds, and on a 2-core x86-64 CPU the LeNet training step
(``models.cnn()``, batch 128) took 46–48 ms with it against 56 ms without it under the
``jaxdl`` command's XLA flag, and against 72 ms with XLA's defaults
(``bench/bench_cnn.py``, ``bench/RESULTS.md``).

The result equals the direct convolution up to float rounding (about 5e-7 relative in
float32, more summands than the direct sum). Samples stay the leading axis throughout:
the spatial transforms are batched over samples, the channel mixing over frequencies.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["correlate", "multiply_adds", "prefers_fourier"]

Pads = tuple[tuple[int, int], tuple[int, int]]

# The Fourier method is used only when it needs at most this share of the direct
# method's multiply-adds: below it the saving outweighs its extra memory passes.
FOURIER_SHARE = 0.3


def _period(size: int, pad: tuple[int, int]) -> int:
    """The DFT length along an axis: the smallest even ``L >= size + max(pad)``."""
    length = size + max(pad)
    return length + length % 2


def multiply_adds(x_shape: Sequence[int], w_shape: Sequence[int], pads: Pads) -> tuple[int, int]:
    """Multiply-adds per sample of the direct and of the Fourier method, for an input
    ``(batch, H, W, C)``, a kernel ``(K_h, K_w, C, O)`` and stride 1."""
    _, h, wd, c = x_shape
    kh, kw, _, o = w_shape
    ho, wo = h + sum(pads[0]) - kh + 1, wd + sum(pads[1]) - kw + 1
    f, g = _period(h, pads[0]), _period(wd, pads[1]) // 2 + 1
    direct = ho * wo * c * o * kh * kw
    fourier = (
        2 * f * h * wd * c  # along the height
        + f * 2 * g * 2 * wd * c  # along the width
        + f * g * 4 * c * o  # the channel mixing, one complex product per frequency
        + f * 2 * wo * 2 * g * o  # back along the width
        + ho * 2 * f * wo * o  # back along the height
    )
    return direct, fourier


def prefers_fourier(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    dtype: jnp.dtype,
    strides: Sequence[int],
    dilation: Sequence[int],
    pads: Pads,
) -> bool:
    """Whether a 2-D correlation with these arguments should take the Fourier method: stride
    and dilation 1, a float32 or float64 input (bfloat16 and float16 have too few bits for
    the longer sums), and at most :data:`FOURIER_SHARE` of the direct method's work."""
    if tuple(strides) != (1, 1) or tuple(dilation) != (1, 1):
        return False
    if jnp.dtype(dtype) not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        return False
    direct, fourier = multiply_adds(x_shape, w_shape, pads)
    return fourier <= FOURIER_SHARE * direct


def correlate(x: jax.Array, w: jax.Array, pads: Pads) -> jax.Array:
    """The stride-1 cross-correlation of ``x`` ``(N, H, W, C)`` with ``w`` ``(K_h, K_w, C, O)``
    and zero padding ``pads`` ``((low_h, high_h), (low_w, high_w))``, by the DFT: the same
    values as ``lax.conv_general_dilated(x, w, (1, 1), pads, dimension_numbers=("NHWC",
    "HWIO", "NHWC"))`` up to rounding, shape ``(N, H', W', O)``.

    Example:
        >>> import jax, numpy as np
        >>> x = jax.numpy.asarray(np.random.default_rng(0).random((2, 6, 6, 3), "float32"))
        >>> w = jax.numpy.ones((3, 3, 3, 4))
        >>> y = correlate(x, w, ((1, 1), (1, 1)))
        >>> y.shape, bool(abs(y[0, 2, 2, 0] - x[0, 1:4, 1:4].sum()) < 1e-5)
        ((2, 6, 6, 4), True)
    """
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    pads = (tuple(pads[0]), tuple(pads[1]))
    m = _matrices(h, wd, kh, kw, pads)
    f, g, ho, wo = m.sizes
    dtype = x.dtype

    def const(a: np.ndarray) -> jax.Array:
        return jnp.asarray(a, dtype)

    # The kernel's spectrum as one real matrix per frequency: [Re y, Im y] = [Re x, Im x] @
    # [[Re ŵ, -Im ŵ], [Im ŵ, Re ŵ]], which is x times the conjugate of ŵ.
    taps = w.reshape(kh * kw, c * o)
    w_re = (const(m.kernel_re) @ taps).reshape(f * g, c, o)
    w_im = (const(m.kernel_im) @ taps).reshape(f * g, c, o)
    mixing = jnp.concatenate(
        [jnp.concatenate([w_re, -w_im], 2), jnp.concatenate([w_im, w_re], 2)], 1
    )  # (FG, 2C, 2O)

    # Along the height, per sample: rows (frequency, real/imaginary).
    x1 = _batched_dot(jnp.broadcast_to(const(m.height), (n, 2 * f, h)), x.reshape(n, h, wd * c))
    # Along the width: contract (real/imaginary, column) -> (N·F, C, (frequency, re/im)).
    x2 = lax.dot_general(x1.reshape(n * f, 2 * wd, c), const(m.width), (((1,), (1,)), ((), ())))
    x2 = jnp.transpose(x2.reshape(n, f, c, g, 2), (1, 3, 0, 4, 2)).reshape(f * g, n, 2 * c)
    y = _batched_dot(x2, mixing)  # (FG, N, 2O)
    y = jnp.transpose(y, (1, 0, 2)).reshape(n * f, 2 * g, o)
    # Back along the width (Hermitian: each frequency but the first and last counts twice),
    # then along the height, keeping the real part.
    u = _batched_dot(jnp.broadcast_to(const(m.width_back), (n * f, 2 * wo, 2 * g)), y)
    u = u.reshape(n, 2 * f, wo * o)
    out = _batched_dot(jnp.broadcast_to(const(m.height_back), (n, ho, 2 * f)), u)
    return out.reshape(n, ho, wo, o)


def _batched_dot(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a @ b`` over a shared leading batch axis: ``(B, M, K) x (B, K, N) -> (B, M, N)``."""
    return lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,))))


class _Matrices:
    """The DFT matrices of one geometry (NumPy float64; see :func:`_matrices`)."""

    def __init__(self, h: int, wd: int, kh: int, kw: int, pads: Pads) -> None:
        (lo_h, hi_h), (lo_w, hi_w) = pads
        ho, wo = h + lo_h + hi_h - kh + 1, wd + lo_w + hi_w - kw + 1
        length_h, length_w = _period(h, pads[0]), _period(wd, pads[1])
        f, g = length_h, length_w // 2 + 1
        fs, gs = np.arange(f), np.arange(g)
        self.sizes = (f, g, ho, wo)
        # Forward along the height: rows (f, re/im) of e^{-2πi f t / L_h}.
        angle = 2 * np.pi * np.outer(fs, np.arange(h)) / length_h
        self.height = np.stack([np.cos(angle), -np.sin(angle)], 1).reshape(2 * f, h)
        # Forward along the width, complex input: rows (g, re/im), columns (re/im, s).
        angle = 2 * np.pi * np.outer(gs, np.arange(wd)) / length_w
        cos, sin = np.cos(angle), np.sin(angle)
        rows_re = np.concatenate([cos, sin], 1)
        rows_im = np.concatenate([-sin, cos], 1)
        self.width = np.stack([rows_re, rows_im], 1).reshape(2 * g, 2 * wd)
        # Back along the width: rows (re/im, j), columns (g, re/im), with the Hermitian
        # weights (1 for g = 0 and, for an even length, g = L_w / 2; 2 otherwise).
        weight = np.full(g, 2.0)
        weight[0] = 1.0
        if length_w % 2 == 0:
            weight[-1] = 1.0
        angle = 2 * np.pi * np.outer(np.arange(wo), gs) / length_w
        cos, sin = weight * np.cos(angle), weight * np.sin(angle)
        back_re = np.stack([cos, -sin], 2).reshape(wo, 2 * g)
        back_im = np.stack([sin, cos], 2).reshape(wo, 2 * g)
        self.width_back = np.concatenate([back_re, back_im])
        # Back along the height, real part: columns (f, re/im), with the 1 / (L_h L_w).
        angle = 2 * np.pi * np.outer(np.arange(ho), fs) / length_h
        back = np.stack([np.cos(angle), -np.sin(angle)], 2).reshape(ho, 2 * f)
        self.height_back = back / (length_h * length_w)
        # The kernel's spectrum from its taps: rows (f, g), columns (p, q).
        phase_h = np.exp(-2j * np.pi * np.outer(fs, np.arange(kh) - lo_h) / length_h)
        phase_w = np.exp(-2j * np.pi * np.outer(gs, np.arange(kw) - lo_w) / length_w)
        kernel = (phase_h[:, None, :, None] * phase_w[None, :, None, :]).reshape(f * g, kh * kw)
        self.kernel_re, self.kernel_im = kernel.real.copy(), kernel.imag.copy()


@functools.lru_cache(maxsize=64)
def _matrices(h: int, wd: int, kh: int, kw: int, pads: Pads) -> _Matrices:
    return _Matrices(h, wd, kh, kw, pads)

r"""Weight initializers (docs/concepts.md §8): ``init(key, shape, dtype=jnp.float32) -> Array``.

Each initializer is a hashable value (a frozen dataclass or a module-level function), so
layers that hold one stay hashable and compare equal when built with equal arguments.

Fans follow the usual convention: for a kernel of shape ``(..., fan_in, fan_out)`` (Dense
``(in, out)``, Conv2D ``(kh, kw, in, out)``) the receptive field is the product of the
leading axes, :math:`n_{in} = \text{in} \cdot \text{field}` and
:math:`n_{out} = \text{out} \cdot \text{field}`.

| name | distribution | variance |
| --- | --- | --- |
| ``glorot_uniform`` / ``glorot_normal`` (Xavier) | U or truncated N | :math:`2/(n_{in}+n_{out})` |
| ``he_uniform`` / ``he_normal`` (Kaiming) | U or truncated N | :math:`2/n_{in}` |
| ``lecun_uniform`` / ``lecun_normal`` | U or truncated N | :math:`1/n_{in}` |

Example:
    >>> import jax
    >>> from jaxdl import initializers
    >>> w = initializers.he_normal()(jax.random.key(0), (784, 512))
    >>> w.shape
    (784, 512)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from jaxdl import _rng
from jaxdl._checks import check_int

__all__ = [
    "Constant",
    "Initializer",
    "Normal",
    "Orthogonal",
    "Uniform",
    "VarianceScaling",
    "constant",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "uniform",
    "variance_scaling",
    "zeros",
]

Shape = tuple[int, ...]

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it makes the
# truncated draw have exactly the requested variance.
_TRUNCATED_STD = 0.87962566103423978


class Initializer(Protocol):
    def __call__(
        self, key: jax.Array, shape: Shape, dtype: DTypeLike = jnp.float32
    ) -> jax.Array: ...


def zeros(key: jax.Array, shape: Shape, dtype: DTypeLike = jnp.float32) -> jax.Array:
    """All zeros (biases, batch-norm shifts). ``key`` is ignored."""
    del key
    return jnp.zeros(shape, dtype)


def ones(key: jax.Array, shape: Shape, dtype: DTypeLike = jnp.float32) -> jax.Array:
    """All ones (batch-norm scales). ``key`` is ignored."""
    del key
    return jnp.ones(shape, dtype)


@dataclasses.dataclass(frozen=True)
class Constant:
    """Every entry equal to ``value``."""

    value: float

    def __call__(self, key: jax.Array, shape: Shape, dtype: DTypeLike = jnp.float32) -> jax.Array:
        del key
        return jnp.full(shape, self.value, dtype)


@dataclasses.dataclass(frozen=True)
class Uniform:
    r"""Uniform on :math:`[-s, s)`, variance :math:`s^2/3`."""

    scale: float = 0.05

    def __call__(self, key: jax.Array, shape: Shape, dtype: DTypeLike = jnp.float32) -> jax.Array:
        return _rng.uniform(key, shape, dtype, -self.scale, self.scale)


@dataclasses.dataclass(frozen=True)
class Normal:
    r"""Normal :math:`\mathcal N(0, \sigma^2)` with :math:`\sigma` = ``stddev``."""

    stddev: float = 0.05

    def __call__(self, key: jax.Array, shape: Shape, dtype: DTypeLike = jnp.float32) -> jax.Array:
        return self.stddev * _rng.normal(key, shape, dtype)


@dataclasses.dataclass(frozen=True)
class VarianceScaling:
    r"""Zero-mean draws with variance :math:`\text{scale} / n`, ``n`` set by ``mode``.

    Arguments:
        scale: the numerator (2 for He, 1 for Glorot and LeCun).
        mode: ``"fan_in"`` (:math:`n=n_{in}`), ``"fan_out"`` or ``"fan_avg"``
            (:math:`n=(n_{in}+n_{out})/2`).
        distribution: ``"uniform"`` (:math:`U[-\sqrt{3v}, \sqrt{3v}]`),
            ``"truncated_normal"`` (a normal cut at two standard deviations, rescaled so
            the variance is exactly ``v``; Keras' and JAX's choice) or ``"normal"``.
        in_axis, out_axis: the kernel axes that hold the fans (default ``-2``, ``-1``).
    """

    scale: float
    mode: Literal["fan_in", "fan_out", "fan_avg"]
    distribution: Literal["uniform", "truncated_normal", "normal"]
    in_axis: int = -2
    out_axis: int = -1

    def __post_init__(self) -> None:
        for name in ("in_axis", "out_axis"):
            object.__setattr__(self, name, check_int("VarianceScaling", name, getattr(self, name)))
        if self.scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {self.scale}.")
        if self.mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: unknown mode {self.mode!r}.")
        if self.distribution not in ("uniform", "truncated_normal", "normal"):
            raise ValueError(f"VarianceScaling: unknown distribution {self.distribution!r}.")

    def __repr__(self) -> str:
        # The presets by name ("he_uniform()"), anything else field by field.
        for name, preset in _PRESETS.items():
            if (self.scale, self.mode, self.distribution) == preset:
                axes = (self.in_axis, self.out_axis)
                return f"{name}()" if axes == (-2, -1) else f"{name}{axes}"
        return (
            f"VarianceScaling({self.scale}, {self.mode!r}, {self.distribution!r}, "
            f"{self.in_axis}, {self.out_axis})"
        )

    def __call__(self, key: jax.Array, shape: Shape, dtype: DTypeLike = jnp.float32) -> jax.Array:
        fan_in, fan_out = compute_fans(shape, self.in_axis, self.out_axis)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3 * variance)
            return _rng.uniform(key, shape, dtype, -limit, limit)
        if self.distribution == "truncated_normal":
            std = math.sqrt(variance) / _TRUNCATED_STD
            return std * _rng.truncated_normal(key, -2.0, 2.0, shape, dtype)
        return math.sqrt(variance) * _rng.normal(key, shape, dtype)


@dataclasses.dataclass(frozen=True)
class Orthogonal:
    r"""A (semi-)orthogonal matrix times ``scale`` (Saxe et al., 2014).

    The last axis is the output axis; the others are flattened into rows. With
    :math:`W` of shape ``(rows, cols)``: :math:`W^\top W = s^2 I` if rows ≥ cols, else
    :math:`W W^\top = s^2 I`. Built by a QR decomposition of a normal draw with the signs of
    ``R``'s diagonal folded in, which makes the distribution uniform (Haar).
    """

    scale: float = 1.0

    def __call__(self, key: jax.Array, shape: Shape, dtype: DTypeLike = jnp.float32) -> jax.Array:
        if len(shape) < 2:
            raise ValueError(f"orthogonal: needs a shape of 2 or more axes, got {shape}.")
        cols = shape[-1]
        rows = math.prod(shape[:-1])
        big, small = max(rows, cols), min(rows, cols)
        # QR needs at least float32 (no bfloat16 kernel); the result is cast back to dtype.
        draw = _rng.normal(key, (big, small), jnp.promote_types(dtype, jnp.float32))
        q, r = jnp.linalg.qr(draw)
        q = q * jnp.sign(jnp.diagonal(r))
        if rows < cols:
            q = q.T
        return (self.scale * q).reshape(shape).astype(dtype)


def constant(value: float) -> Constant:
    """Initializer filling with ``value``."""
    return Constant(value)


def uniform(scale: float = 0.05) -> Uniform:
    """Initializer drawing from :math:`U[-\\text{scale}, \\text{scale})`."""
    return Uniform(scale)


def normal(stddev: float = 0.05) -> Normal:
    """Initializer drawing from :math:`\\mathcal N(0, \\text{stddev}^2)`."""
    return Normal(stddev)


def variance_scaling(
    scale: float,
    mode: Literal["fan_in", "fan_out", "fan_avg"],
    distribution: Literal["uniform", "truncated_normal", "normal"],
    in_axis: int = -2,
    out_axis: int = -1,
) -> VarianceScaling:
    """See :class:`VarianceScaling`."""
    return VarianceScaling(scale, mode, distribution, in_axis, out_axis)


def glorot_uniform(in_axis: int = -2, out_axis: int = -1) -> VarianceScaling:
    r"""Glorot/Xavier uniform: :math:`U[-a, a]`, :math:`a = \sqrt{6/(n_{in}+n_{out})}`."""
    return VarianceScaling(1.0, "fan_avg", "uniform", in_axis, out_axis)


def glorot_normal(in_axis: int = -2, out_axis: int = -1) -> VarianceScaling:
    r"""Glorot/Xavier normal: variance :math:`2/(n_{in}+n_{out})` (truncated normal)."""
    return VarianceScaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis)


def he_uniform(in_axis: int = -2, out_axis: int = -1) -> VarianceScaling:
    r"""He/Kaiming uniform for ReLU: :math:`U[-a, a]`, :math:`a = \sqrt{6/n_{in}}`."""
    return VarianceScaling(2.0, "fan_in", "uniform", in_axis, out_axis)


def he_normal(in_axis: int = -2, out_axis: int = -1) -> VarianceScaling:
    r"""He/Kaiming normal for ReLU: variance :math:`2/n_{in}` (truncated normal)."""
    return VarianceScaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis)


def lecun_uniform(in_axis: int = -2, out_axis: int = -1) -> VarianceScaling:
    r"""LeCun uniform (SELU, tanh): :math:`U[-a, a]`, :math:`a = \sqrt{3/n_{in}}`."""
    return VarianceScaling(1.0, "fan_in", "uniform", in_axis, out_axis)


def lecun_normal(in_axis: int = -2, out_axis: int = -1) -> VarianceScaling:
    r"""LeCun normal: variance :math:`1/n_{in}` (truncated normal)."""
    return VarianceScaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis)


def orthogonal(scale: float = 1.0) -> Orthogonal:
    """See :class:`Orthogonal`."""
    return Orthogonal(scale)


_PRESETS = {
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
}


def compute_fans(shape: Shape, in_axis: int = -2, out_axis: int = -1) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of a kernel shape; a 1-D shape has both equal to its size."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    field = np.prod([d for i, d in enumerate(shape) if i not in _axes(shape, in_axis, out_axis)])
    return float(shape[in_axis] * field), float(shape[out_axis] * field)


def _axes(shape: Shape, *axes: int) -> set[int]:
    return {a % len(shape) for a in axes}

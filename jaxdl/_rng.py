"""``jax.random`` draws made over a flat shape and then reshaped.

XLA:CPU compiles the threefry generator slowly for some shapes: a ``uniform`` of shape
``(256, 10)`` took 1.3–2.0 s to compile against 0.3 s for the same 2,560 numbers drawn
flat (jaxlib 0.10.1, 2-core x86-64), and a network's initialisation and dropout masks
draw many such shapes. The numbers are the same bit for bit: the generator counts
elements in row-major order whatever the shape, so a flat draw reshaped equals the
shaped draw (``tests/test_rng.py`` checks it). Only the compile time changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
from jax.typing import ArrayLike, DTypeLike


def uniform(
    key: jax.Array, shape: Sequence[int], dtype: DTypeLike, minval: ArrayLike, maxval: ArrayLike
) -> jax.Array:
    """``jax.random.uniform(key, shape, dtype, minval, maxval)``."""
    return jax.random.uniform(key, _flat(shape), dtype, minval, maxval).reshape(shape)


def normal(key: jax.Array, shape: Sequence[int], dtype: DTypeLike) -> jax.Array:
    """``jax.random.normal(key, shape, dtype)``."""
    return jax.random.normal(key, _flat(shape), dtype).reshape(shape)


def truncated_normal(
    key: jax.Array, lower: ArrayLike, upper: ArrayLike, shape: Sequence[int], dtype: DTypeLike
) -> jax.Array:
    """``jax.random.truncated_normal(key, lower, upper, shape, dtype)``."""
    return jax.random.truncated_normal(key, lower, upper, _flat(shape), dtype).reshape(shape)


def bernoulli(key: jax.Array, p: ArrayLike, shape: Sequence[int]) -> jax.Array:
    """``jax.random.bernoulli(key, p, shape)``."""
    return jax.random.bernoulli(key, p, _flat(shape)).reshape(shape)


def _flat(shape: Sequence[Any]) -> tuple[int]:
    return (math.prod(shape),)

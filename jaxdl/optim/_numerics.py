"""Arithmetic shared by the transformations: step counters, moving averages, bias correction.

Each helper is written in the exact operation order optax uses, because XLA:CPU fuses
the first product of ``a*b + c*d`` into a fused multiply-add: the same formula written in
another order rounds differently (docs/conventions.md, "Bit-for-bit equality with optax").
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

__all__ = [
    "bias_correction",
    "cast_tree",
    "full_like",
    "one_minus_power",
    "safe_increment",
    "update_moment",
    "zero_count",
]


def zero_count() -> jax.Array:
    """A fresh step counter: an int32 scalar 0."""
    return jnp.zeros([], jnp.int32)


def safe_increment(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating at the largest value of ``count``'s integer dtype.

    >>> safe_increment(jnp.asarray(2**31 - 1, jnp.int32))
    Array(2147483647, dtype=int32)
    """
    dtype = jnp.asarray(count).dtype
    max_value = jnp.array(jnp.iinfo(dtype).max, dtype)
    return jnp.where(count < max_value, count + jnp.array(1, dtype), max_value)


def full_like(tree: Any, fill_value: ArrayLike, dtype: DTypeLike | None = None) -> Any:
    """A pytree shaped like ``tree`` with every element ``fill_value``."""
    return jax.tree.map(lambda x: jnp.full_like(x, fill_value, dtype=dtype), tree)


def cast_tree(tree: Any, dtype: DTypeLike | None) -> Any:
    """``tree`` with every leaf cast to ``dtype``; unchanged when ``dtype`` is None."""
    if dtype is None:
        return tree
    return jax.tree.map(lambda x: x.astype(dtype), tree)


def update_moment(updates: Any, moments: Any, decay: ArrayLike, order: int) -> Any:
    """The exponential moving average of ``g**order``.

    .. math:: m \\leftarrow (1 - \\beta)\\, g^k + \\beta\\, m

    The ``(1 - decay) * g**order`` product comes first, as in optax: XLA fuses that one
    into a fused multiply-add, so this order is what makes the results bit-identical.
    """
    return jax.tree.map(lambda g, t: (1 - decay) * (g**order) + decay * t, updates, moments)


def one_minus_power(decay: ArrayLike, count: jax.Array) -> jax.Array:
    """The bias-correction factor :math:`1 - \\beta^t` of a moving average started at 0.

    Computed as optax does, in JAX's default float dtype from the int32 step counter.
    """
    return 1 - decay**count


@functools.partial(jax.jit, inline=True)
def bias_correction(moment: Any, decay: ArrayLike, count: jax.Array) -> Any:
    """Correct a zero-initialised moving average for its bias towards 0.

    .. math:: \\hat m = \\frac{m}{1 - \\beta^t}

    ``count`` is the step counter after it was incremented (1 on the first update). Like
    optax's, this is one compiled computation (inlined when called under ``jit``): XLA
    compiles the division of every leaf by the one scalar as a multiplication by its
    reciprocal, and calling it op by op outside ``jit`` would round differently.
    """
    factor = one_minus_power(decay, count)
    return jax.tree.map(lambda t: t / factor.astype(t.dtype), moment)

"""Private numerical helpers shared by ``activations`` and ``losses``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike


def as_float(x: ArrayLike) -> jax.Array:
    """``x`` as an array of an inexact dtype (integers become the default float)."""
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(float)


def shift_by_max(z: jax.Array, axis: int) -> jax.Array:
    """``z - max(z)`` along ``axis``: the shift that keeps every ``exp`` at most 1.

    The max cancels in softmax and log-softmax, so no gradient flows through it;
    ``stop_gradient`` also avoids the tie-breaking subgradient of ``max``.
    """
    return z - jax.lax.stop_gradient(jnp.max(z, axis=axis, keepdims=True))


def log_softmax(z: ArrayLike, axis: int = -1) -> jax.Array:
    """``z - max z - log(sum(exp(z - max z)))`` along ``axis``."""
    shifted = shift_by_max(as_float(z), axis)
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))

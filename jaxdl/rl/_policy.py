"""Action selection from Q-values: greedy and ε-greedy (docs/concepts.md §10)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxdl.rl._checks import check_key, check_unit_interval

__all__ = ["epsilon_greedy", "greedy"]


def greedy(q_values: ArrayLike) -> jax.Array:
    """The greedy action :math:`a = \\arg\\max_a Q(s, a)` (ties: the lowest index), int32.

    Arguments:
        q_values: shape ``(..., actions)``.

    Returns:
        int32 actions of shape ``(...)``.

    >>> greedy(jnp.array([[0.1, 0.7, 0.2], [1.0, 1.0, 0.0]]))
    Array([1, 0], dtype=int32)
    """
    q = _q_values("greedy", q_values)
    return jnp.argmax(q, axis=-1).astype(jnp.int32)


def epsilon_greedy(key: jax.Array, q_values: ArrayLike, epsilon: ArrayLike) -> jax.Array:
    """ε-greedy actions: a uniformly random action with probability ε, else the greedy one.

    .. math:: \\pi(a \\mid s) = (1 - \\varepsilon)\\,[a = \\arg\\max_b Q(s, b)]
              + \\frac{\\varepsilon}{n}

    The random action is drawn from all ``n`` actions, the greedy one included, so the
    greedy action is taken with probability :math:`1 - \\varepsilon + \\varepsilon / n`.
    A decaying ε comes from a schedule of :mod:`jaxdl.optim` evaluated at the step, e.g.
    ``optim.linear_schedule(1.0, 0.05, transition_steps=10_000)(step)``.

    Arguments:
        key: a ``jax.random`` key.
        q_values: shape ``(..., n)``, one row of Q-values per state.
        epsilon: a number in [0, 1], or an array of them broadcastable to ``(...)``.

    Returns:
        int32 actions of shape ``(...)``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxdl import optim, rl
        >>> q = jnp.array([[0.0, 1.0], [2.0, 0.0]])
        >>> rl.epsilon_greedy(jax.random.key(0), q, 0.0)
        Array([1, 0], dtype=int32)
        >>> epsilon = optim.linear_schedule(1.0, 0.05, transition_steps=1000)
        >>> round(float(epsilon(500)), 4)
        0.525
    """
    check_key("epsilon_greedy", key)
    q = _q_values("epsilon_greedy", q_values)
    check_unit_interval("epsilon_greedy", "epsilon", epsilon)
    batch = q.shape[:-1]
    eps_shape = tuple(np.shape(epsilon))
    try:
        fits = np.broadcast_shapes(eps_shape, batch) == batch
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"epsilon_greedy: epsilon of shape {eps_shape} does not broadcast to the batch "
            f"shape {batch} of q_values {q.shape}."
        )
    explore_key, action_key = jax.random.split(key)
    explore = jax.random.uniform(explore_key, batch) < epsilon
    random_actions = jax.random.randint(action_key, batch, 0, q.shape[-1], dtype=jnp.int32)
    return jnp.where(explore, random_actions, jnp.argmax(q, axis=-1).astype(jnp.int32))


def _q_values(name: str, q_values: ArrayLike) -> jax.Array:
    q = jnp.asarray(q_values)
    if q.ndim == 0 or q.shape[-1] < 1:
        raise ValueError(
            f"{name}: q_values need a last axis of actions, shape (..., actions) with at least "
            f"one action, got shape {q.shape}."
        )
    return q

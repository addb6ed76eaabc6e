"""TD targets and target-network updates (docs/concepts.md §10)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxdl._numerics import as_float
from jaxdl.rl._checks import check_positive_int, check_unit_interval

__all__ = ["periodic_update", "polyak_update", "td_target"]


def td_target(
    rewards: ArrayLike,
    terminated: ArrayLike,
    next_q_target: ArrayLike,
    *,
    gamma: float,
    next_q_online: ArrayLike | None = None,
) -> jax.Array:
    """The one-step TD target of (Double) DQN, with no gradient through it.

    DQN (Mnih et al., 2015) bootstraps from the target network's best value:

    .. math:: y = r + \\gamma\\,(1 - d)\\,\\max_{a'} Q_{\\bar\\theta}(s', a')

    Double DQN (van Hasselt et al., 2016), when ``next_q_online`` is given, picks the
    action with the online network and values it with the target network:

    .. math:: y = r + \\gamma\\,(1 - d)\\,Q_{\\bar\\theta}\\big(s', \\arg\\max_{a'}
              Q_\\theta(s', a')\\big)

    ``d = 1`` marks a transition into a terminal state, which has no future value. An
    episode cut by a time limit (truncated, not terminated) has ``d = 0``: its next state
    still has a value, so it is bootstrapped.

    Arguments:
        rewards: ``r``, shape ``(batch,)`` (any shape ``S``).
        terminated: ``d``, booleans or 0/1 of shape ``S``.
        next_q_target: :math:`Q_{\\bar\\theta}(s', \\cdot)`, shape ``S + (actions,)``.
        gamma: the discount :math:`\\gamma \\in [0, 1]`.
        next_q_online: :math:`Q_\\theta(s', \\cdot)` for Double DQN, shape as
            ``next_q_target``; default ``None``: plain DQN.

    Returns:
        ``y``, shape ``S``, float32, wrapped in ``stop_gradient``.

    >>> rewards, terminated = jnp.array([1.0, 1.0]), jnp.array([False, True])
    >>> q_target = jnp.array([[2.0, 4.0], [2.0, 4.0]])
    >>> td_target(rewards, terminated, q_target, gamma=0.5)
    Array([3., 1.], dtype=float32)
    >>> q_online = jnp.array([[9.0, 0.0], [0.0, 9.0]])      # Double DQN: argmax by online
    >>> td_target(rewards, terminated, q_target, gamma=0.5, next_q_online=q_online)
    Array([2., 1.], dtype=float32)
    """
    check_unit_interval("td_target", "gamma", gamma)
    if np.ndim(gamma) != 0:
        raise ValueError(f"td_target: gamma must be a scalar, got shape {np.shape(gamma)}.")
    r = as_float(rewards)
    done = jnp.asarray(terminated)
    q_next = as_float(next_q_target)
    if done.shape != r.shape:
        raise ValueError(
            f"td_target: rewards and terminated must have the same shape, got rewards "
            f"{r.shape} and terminated {done.shape}."
        )
    if q_next.ndim != r.ndim + 1 or q_next.shape[:-1] != r.shape or q_next.shape[-1] < 1:
        raise ValueError(
            f"td_target: next_q_target must have the rewards' shape plus an axis of actions, "
            f"{r.shape} + (actions,), got {q_next.shape}."
        )
    if next_q_online is None:
        next_value = jnp.max(q_next, axis=-1)
    else:
        q_online = jnp.asarray(next_q_online)
        if q_online.shape != q_next.shape:
            raise ValueError(
                f"td_target: next_q_online must have next_q_target's shape {q_next.shape}, "
                f"got {q_online.shape}."
            )
        best = jnp.argmax(q_online, axis=-1)
        next_value = jnp.take_along_axis(q_next, best[..., None], axis=-1)[..., 0]
    not_done = 1.0 - done.astype(r.dtype)
    return jax.lax.stop_gradient(r + gamma * not_done * next_value)


def periodic_update(target: Any, online: Any, step: ArrayLike, period: int) -> Any:
    """A hard target-network update: copy ``online`` every ``period`` steps.

    .. math:: \\bar\\theta \\leftarrow \\begin{cases} \\theta & t \\bmod P = 0 \\\\
              \\bar\\theta & \\text{otherwise} \\end{cases}

    ``step`` is usually the number of gradient updates made so far (``TrainState.step``
    after the update), so the copy happens after updates ``P, 2P, …``. It may be traced;
    the choice is a ``jnp.where`` per leaf, so the function is jittable (optax's
    ``periodic_update(new, old, steps, period)`` with the arguments in this order).

    >>> periodic_update({"w": 0.0}, {"w": 1.0}, step=4, period=2)
    {'w': Array(1., dtype=float32, weak_type=True)}
    """
    period = check_positive_int("periodic_update", "period", period)
    _check_same_tree("periodic_update", target, online)
    copy = jnp.asarray(step) % period == 0
    return jax.tree_util.tree_map(lambda old, new: jnp.where(copy, new, old), target, online)


def polyak_update(target: Any, online: Any, tau: float) -> Any:
    """A soft target-network update (Polyak averaging), each step.

    .. math:: \\bar\\theta \\leftarrow \\tau\\,\\theta + (1 - \\tau)\\,\\bar\\theta

    ``tau = 1`` copies the online network; ``tau = 0`` keeps the target. Same as optax's
    ``incremental_update(online, target, tau)``.

    >>> polyak_update({"w": jnp.array(0.0)}, {"w": jnp.array(1.0)}, tau=0.25)
    {'w': Array(0.25, dtype=float32, weak_type=True)}
    """
    check_unit_interval("polyak_update", "tau", tau)
    if np.ndim(tau) != 0:
        raise ValueError(f"polyak_update: tau must be a scalar, got shape {np.shape(tau)}.")
    _check_same_tree("polyak_update", target, online)
    return jax.tree_util.tree_map(lambda old, new: tau * new + (1.0 - tau) * old, target, online)


def _check_same_tree(name: str, target: Any, online: Any) -> None:
    target_tree = jax.tree_util.tree_structure(target)
    online_tree = jax.tree_util.tree_structure(online)
    if target_tree != online_tree:
        raise ValueError(
            f"{name}: target and online must have the same structure, got {target_tree} and "
            f"{online_tree}."
        )
    for (path, old), new in zip(
        jax.tree_util.tree_leaves_with_path(target), jax.tree_util.tree_leaves(online)
    ):
        if np.shape(old) != np.shape(new):
            raise ValueError(
                f"{name}: target{jax.tree_util.keystr(path)} has shape {np.shape(old)} but "
                f"online{jax.tree_util.keystr(path)} has {np.shape(new)}."
            )

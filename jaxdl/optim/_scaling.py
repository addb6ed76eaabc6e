"""Step sizes: constant scaling, scheduled scaling, the learning rate, weight decay.

The learning rate is the last link of every optimizer's chain: the moments before it hold
unscaled gradients, and ``scale_by_learning_rate`` multiplies by :math:`-\\eta` (the
minus sign turns a gradient into a descent step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl.optim._base import (
    EmptyState,
    GradientTransformation,
    OptState,
    Params,
    ScalarOrSchedule,
    Schedule,
    Updates,
    init_empty_state,
    memoized,
)
from jaxdl.optim._numerics import safe_increment, zero_count
from jaxdl.optim._validation import check_hyperparameters, check_schedule_value

__all__ = [
    "ScaleByScheduleState",
    "WeightDecayScheduleState",
    "add_decayed_weights",
    "scale",
    "scale_by_learning_rate",
    "scale_by_schedule",
]


class ScaleByScheduleState(NamedTuple):
    """The step counter a schedule is evaluated at (int32, 0 before the first update)."""

    count: jax.Array


class WeightDecayScheduleState(NamedTuple):
    """The step counter a weight-decay schedule is evaluated at."""

    count: jax.Array


@memoized
def scale(step_size: ArrayLike) -> GradientTransformation:
    """Multiply the updates by a constant.

    .. math:: u \\leftarrow s\\, u

    **Arguments:**

    - ``step_size``: the scalar :math:`s`.

    **Returns:** a stateless :class:`GradientTransformation` (optax: ``optax.scale``).

    >>> import jax.numpy as jnp
    >>> updates, _ = scale(-0.5).update({"w": jnp.array([2.0])}, EmptyState())
    >>> updates["w"]
    Array([-1.], dtype=float32)
    """

    def update(
        updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, OptState]:
        del params
        return jax.tree.map(lambda g: step_size * g, updates), state

    return GradientTransformation(init_empty_state, update)


@memoized
def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformation:
    """Multiply the updates by a schedule of the step counter.

    .. math:: u \\leftarrow s(t)\\, u, \\qquad t = 0, 1, 2, \\dots

    **Arguments:**

    - ``step_size_fn``: a function of the int32 counter ``t`` (0 on the first update)
      returning a scalar.

    **Returns:** a :class:`GradientTransformation` whose state is a
    :class:`ScaleByScheduleState` (optax: ``optax.scale_by_schedule``).

    >>> import jax.numpy as jnp
    >>> opt = scale_by_schedule(lambda t: t + 1.0)
    >>> state = opt.init(None)
    >>> _, state = opt.update({"w": jnp.ones(1)}, state)
    >>> updates, state = opt.update({"w": jnp.ones(1)}, state)
    >>> updates["w"]
    Array([2.], dtype=float32)
    """

    def init(params: Params) -> ScaleByScheduleState:
        del params
        return ScaleByScheduleState(count=zero_count())

    def update(
        updates: Updates, state: ScaleByScheduleState, params: Params | None = None
    ) -> tuple[Updates, ScaleByScheduleState]:
        del params
        step_size = step_size_fn(state.count)
        updates = jax.tree.map(lambda g: jnp.array(step_size, dtype=g.dtype) * g, updates)
        return updates, ScaleByScheduleState(count=safe_increment(state.count))

    return GradientTransformation(init, update)


@memoized
def scale_by_learning_rate(
    learning_rate: ScalarOrSchedule, *, flip_sign: bool = True
) -> GradientTransformation:
    """Multiply the updates by the negative learning rate, a constant or a schedule.

    .. math:: u \\leftarrow -\\eta(t)\\, u

    **Arguments:**

    - ``learning_rate``: :math:`\\eta`, a non-negative scalar or a schedule ``f(count)``.
      ``None`` raises (no scaling would turn a descent step into ascent; use
      :func:`identity` for that on purpose).
    - ``flip_sign``: multiply by :math:`-\\eta` (default ``True``) or by :math:`+\\eta`.

    **Returns:** a :class:`GradientTransformation` (optax: ``optax.scale_by_learning_rate``).

    A schedule is checked at step 0 when the transformation is built, and at every step
    when ``update`` runs op by op with a concrete step counter: a negative or NaN value
    raises a ``ValueError`` naming the step. Under ``jit`` the counter is traced and later
    values are not checked (nor changed).

    >>> import jax.numpy as jnp
    >>> updates, _ = scale_by_learning_rate(0.1).update({"w": jnp.array([2.0])}, EmptyState())
    >>> updates["w"]
    Array([-0.2], dtype=float32)
    """
    check_hyperparameters("scale_by_learning_rate", learning_rate=learning_rate)
    sign = -1 if flip_sign else 1
    if callable(learning_rate):
        schedule = learning_rate

        def signed(count: jax.Array) -> jax.Array:
            value = schedule(count)
            check_schedule_value("scale_by_learning_rate", "learning_rate", value, count)
            return sign * value

        return scale_by_schedule(signed)
    return scale(sign * learning_rate)


@memoized
def add_decayed_weights(
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any | Callable[[Params], Any] | None = None,
) -> GradientTransformation:
    """Add the parameters scaled by a weight-decay rate (decoupled weight decay).

    .. math:: u \\leftarrow u + \\lambda\\, \\theta

    Placed before the learning rate in a chain, this is the weight decay of AdamW
    (Loshchilov & Hutter, 2019): the step becomes :math:`-\\eta\\,(u + \\lambda\\theta)`.

    **Arguments:**

    - ``weight_decay``: :math:`\\lambda \\ge 0`, a scalar or a schedule (default 0); a
      schedule is checked as in :func:`scale_by_learning_rate`.
    - ``mask``: ``None`` (decay every leaf), or a pytree of booleans with the structure of
      the parameters (or a prefix of it), or a function of the parameters returning one;
      ``False`` leaves are passed through undecayed (typically biases and norms).

    **Returns:** a :class:`GradientTransformation` (optax: ``optax.add_decayed_weights``);
    ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> params = {"w": jnp.array([2.0]), "b": jnp.array([2.0])}
    >>> opt = add_decayed_weights(0.5, mask={"w": True, "b": False})
    >>> updates, _ = opt.update({"w": jnp.zeros(1), "b": jnp.zeros(1)}, opt.init(params), params)
    >>> updates["w"], updates["b"]
    (Array([1.], dtype=float32), Array([0.], dtype=float32))
    """
    check_hyperparameters("add_decayed_weights", weight_decay=weight_decay)
    is_schedule = callable(weight_decay)

    def init(params: Params) -> WeightDecayScheduleState | EmptyState:
        del params
        return WeightDecayScheduleState(count=zero_count()) if is_schedule else EmptyState()

    def update(
        updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, OptState]:
        if is_schedule:
            rate = weight_decay(state.count)
            check_schedule_value("add_decayed_weights", "weight_decay", rate, state.count)
            state = WeightDecayScheduleState(count=safe_increment(state.count))
        elif isinstance(weight_decay, (int, float)) and weight_decay == 0.0:
            return updates, state
        else:
            rate = weight_decay
        if params is None:
            raise ValueError(
                "add_decayed_weights: update needs the parameters for weight decay; "
                "call update(grads, state, params)."
            )

        def decay(g: jax.Array, p: jax.Array) -> jax.Array:
            return g + rate * p

        if mask is None:
            return jax.tree.map(decay, updates, params), state
        mask_tree = mask(params) if callable(mask) else mask
        decayed = jax.tree.map(
            lambda keep, u, p: jax.tree.map(decay, u, p) if keep else u,
            mask_tree,
            updates,
            params,
        )
        return decayed, state

    return GradientTransformation(init, update)

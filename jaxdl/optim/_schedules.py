"""Learning-rate schedules: functions of the int32 step counter.

A schedule ``f(count)`` can stand wherever a learning rate is expected; the optimizer
evaluates it at the number of updates made so far (0 on the first update). Names,
arguments and values are optax's (``optax.schedules``); each schedule is a pure function,
so it works on Python ints and on traced counters inside ``jit``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl._checks import check_int, is_int
from jaxdl.optim._base import Schedule, memoized

__all__ = [
    "constant_schedule",
    "cosine_decay_schedule",
    "exponential_decay",
    "join_schedules",
    "linear_schedule",
    "piecewise_constant_schedule",
    "polynomial_schedule",
    "warmup_cosine_decay_schedule",
]


@memoized
def constant_schedule(value: ArrayLike) -> Schedule:
    """The same value at every step: :math:`\\eta(t) = \\eta_0`.

    >>> constant_schedule(0.1)(1000)
    0.1
    """
    return lambda count: value


@memoized
def polynomial_schedule(
    init_value: ArrayLike,
    end_value: ArrayLike,
    power: ArrayLike,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """Polynomial interpolation from ``init_value`` to ``end_value``, then constant.

    .. math::

        \\eta(t) = (\\eta_0 - \\eta_1)\\, (1 - s/T)^p + \\eta_1, \\qquad
        s = \\operatorname{clip}(t - t_0, 0, T)

    **Arguments:**

    - ``init_value``, ``end_value``: :math:`\\eta_0` and :math:`\\eta_1`.
    - ``power``: :math:`p`.
    - ``transition_steps``: :math:`T`; if :math:`T \\le 0` the schedule is the constant
      ``init_value`` (as in optax).
    - ``transition_begin``: :math:`t_0`, steps held at ``init_value`` first (negative
      values count as 0).

    >>> polynomial_schedule(1.0, 0.0, power=2, transition_steps=4)(2)
    Array(0.25, dtype=float32, weak_type=True)
    """
    transition_steps = check_int("polynomial_schedule", "transition_steps", transition_steps)
    transition_begin = check_int("polynomial_schedule", "transition_begin", transition_begin)
    if transition_steps <= 0:
        return lambda count: init_value
    transition_begin = max(transition_begin, 0)

    def schedule(count: ArrayLike) -> jax.Array:
        count = jnp.clip(count - transition_begin, 0, transition_steps)
        fraction = 1 - count / transition_steps
        return (init_value - end_value) * (fraction**power) + end_value

    return schedule


@memoized
def linear_schedule(
    init_value: ArrayLike, end_value: ArrayLike, transition_steps: int, transition_begin: int = 0
) -> Schedule:
    """Linear interpolation over ``transition_steps`` (a linear warmup when increasing).

    .. math:: \\eta(t) = \\eta_0 + (\\eta_1 - \\eta_0)\\, \\frac{\\operatorname{clip}(t -
              t_0, 0, T)}{T}

    **Arguments:** as :func:`polynomial_schedule` with ``power=1``.

    >>> linear_schedule(0.0, 1.0, transition_steps=4)(1)
    Array(0.25, dtype=float32, weak_type=True)
    """
    transition_steps = check_int("linear_schedule", "transition_steps", transition_steps)
    transition_begin = check_int("linear_schedule", "transition_begin", transition_begin)
    return polynomial_schedule(
        init_value=init_value,
        end_value=end_value,
        power=1,
        transition_steps=transition_steps,
        transition_begin=transition_begin,
    )


@memoized
def piecewise_constant_schedule(
    init_value: ArrayLike, boundaries_and_scales: dict[int, float] | None = None
) -> Schedule:
    """A step schedule: multiply the value by ``scale`` once ``t`` reaches each boundary.

    .. math:: \\eta(t) = \\eta_0 \\prod_{b \\le t} s_b

    **Arguments:**

    - ``init_value``: :math:`\\eta_0`.
    - ``boundaries_and_scales``: ``{step: scale}`` with non-negative scales; ``None`` means
      constant.

    >>> schedule = piecewise_constant_schedule(1.0, {2: 0.5, 4: 0.5})
    >>> [float(schedule(t)) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    for boundary in boundaries_and_scales or {}:
        check_int("piecewise_constant_schedule", "each boundary (key)", boundary)
    if boundaries_and_scales is not None and any(
        scale < 0.0 for scale in boundaries_and_scales.values()
    ):
        raise ValueError(
            "piecewise_constant_schedule: scales must be non-negative, got "
            f"{boundaries_and_scales}."
        )

    def schedule(count: ArrayLike) -> jax.Array:
        value = init_value
        for threshold, scale in sorted((boundaries_and_scales or {}).items()):
            indicator = jnp.maximum(0.0, jnp.sign(threshold - count))
            value = value * indicator + (1 - indicator) * scale * value
        return value

    return schedule


@memoized
def exponential_decay(
    init_value: ArrayLike,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: ArrayLike | None = None,
) -> Schedule:
    """Exponential decay by ``decay_rate`` every ``transition_steps`` steps.

    .. math:: \\eta(t) = \\eta_0\\, r^{(t - t_0)/T} \\quad (t > t_0), \\qquad
              \\eta(t) = \\eta_0 \\quad (t \\le t_0)

    **Arguments:**

    - ``init_value``: :math:`\\eta_0`.
    - ``transition_steps``: :math:`T`; if :math:`T \\le 0` the schedule is constant.
    - ``decay_rate``: :math:`r`; 0 makes the schedule constant (as in optax).
    - ``transition_begin``: :math:`t_0` (negative values count as 0).
    - ``staircase``: use :math:`\\lfloor (t - t_0)/T \\rfloor` (decay in steps).
    - ``end_value``: a floor (if :math:`r < 1`) or ceiling (if :math:`r > 1`).

    >>> exponential_decay(1.0, transition_steps=10, decay_rate=0.5)(20)
    Array(0.25, dtype=float32, weak_type=True)
    """
    transition_steps = check_int("exponential_decay", "transition_steps", transition_steps)
    transition_begin = check_int("exponential_decay", "transition_begin", transition_begin)
    if transition_steps <= 0 or decay_rate == 0:
        return lambda count: init_value
    transition_begin = max(transition_begin, 0)
    clip = jnp.maximum if decay_rate < 1.0 else jnp.minimum

    def schedule(count: ArrayLike) -> jax.Array:
        decreased_count = count - transition_begin
        exponent = decreased_count / transition_steps
        if staircase:
            exponent = jnp.floor(exponent)
        value = jnp.where(
            decreased_count <= 0, init_value, init_value * jnp.power(decay_rate, exponent)
        )
        return value if end_value is None else clip(value, end_value)

    return schedule


@memoized
def cosine_decay_schedule(
    init_value: ArrayLike, decay_steps: int, alpha: ArrayLike = 0.0, exponent: ArrayLike = 1.0
) -> Schedule:
    """Cosine decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps``.

    .. math:: \\eta(t) = \\eta_0 \\left[(1-\\alpha) \\left(\\tfrac12\\left(1 + \\cos\\frac{\\pi
              \\min(t, T)}{T}\\right)\\right)^{k} + \\alpha\\right]

    (Loshchilov & Hutter, SGDR, 2017).

    **Arguments:**

    - ``init_value``: :math:`\\eta_0`.
    - ``decay_steps``: :math:`T > 0`.
    - ``alpha``: the final value as a fraction of ``init_value`` (default 0).
    - ``exponent``: :math:`k` (default 1).

    >>> round(float(cosine_decay_schedule(1.0, decay_steps=100)(50)), 6)
    0.5
    """
    decay_steps = check_int("cosine_decay_schedule", "decay_steps", decay_steps, minimum=1)
    steps = float(decay_steps)  # a Python int would overflow int32 arithmetic under jit

    def schedule(count: ArrayLike) -> jax.Array:
        count = float(count) if is_int(count) else count
        count = jnp.minimum(count, steps)
        cosine_decay = 0.5 * (1 + jnp.cos(jnp.pi * count / steps))
        decayed = (1 - alpha) * cosine_decay**exponent + alpha
        return init_value * decayed

    return schedule


@memoized
def warmup_cosine_decay_schedule(
    init_value: ArrayLike,
    peak_value: ArrayLike,
    warmup_steps: int,
    decay_steps: int,
    end_value: ArrayLike = 0.0,
    exponent: ArrayLike = 1.0,
) -> Schedule:
    """Linear warmup from ``init_value`` to ``peak_value``, then cosine decay to ``end_value``.

    .. math::

        \\eta(t) = \\begin{cases}
        \\eta_0 + (\\eta_p - \\eta_0)\\, t / W & t < W \\\\
        \\text{cosine decay from } \\eta_p \\text{ to } \\eta_1 \\text{ over }
        T - W \\text{ steps, at } t - W & t \\ge W \\end{cases}

    **Arguments:**

    - ``init_value``: :math:`\\eta_0`, the value at step 0.
    - ``peak_value``: :math:`\\eta_p`, reached at the end of the warmup.
    - ``warmup_steps``: :math:`W`.
    - ``decay_steps``: :math:`T`, the total length *including* the warmup (:math:`T > W`).
    - ``end_value``: :math:`\\eta_1` (default 0).
    - ``exponent``: the cosine's exponent (default 1).

    >>> schedule = warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=10, decay_steps=110)
    >>> [round(float(schedule(t)), 6) for t in (0, 5, 10, 60, 110)]
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    warmup_steps = check_int("warmup_cosine_decay_schedule", "warmup_steps", warmup_steps)
    decay_steps = check_int("warmup_cosine_decay_schedule", "decay_steps", decay_steps)
    if not decay_steps > warmup_steps:
        raise ValueError(
            "warmup_cosine_decay_schedule: decay_steps (the total length, warmup included) "
            f"must exceed warmup_steps, got decay_steps={decay_steps} and "
            f"warmup_steps={warmup_steps}."
        )
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    warmup = linear_schedule(
        init_value=init_value, end_value=peak_value, transition_steps=warmup_steps
    )
    decay = cosine_decay_schedule(
        init_value=peak_value,
        decay_steps=decay_steps - warmup_steps,
        alpha=alpha,
        exponent=exponent,
    )
    return join_schedules([warmup, decay], [warmup_steps])


@memoized
def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Run ``schedules[i + 1]`` from ``boundaries[i]`` on, its counter restarting at 0.

    **Arguments:**

    - ``schedules``: ``n`` schedules.
    - ``boundaries``: ``n - 1`` increasing steps at which to switch.

    >>> schedule = join_schedules([constant_schedule(1.0), linear_schedule(1.0, 0.0, 4)], [2])
    >>> [float(schedule(t)) for t in (0, 2, 4)]
    [1.0, 1.0, 0.5]
    """
    for position, boundary in enumerate(boundaries):
        check_int("join_schedules", f"boundaries[{position}]", boundary)
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(
            f"join_schedules: {len(schedules)} schedules need {len(schedules) - 1} "
            f"boundaries, got {len(boundaries)}."
        )

    def schedule(count: ArrayLike) -> jax.Array:
        output = schedules[0](count)
        for boundary, later in zip(boundaries, schedules[1:], strict=True):
            output = jnp.where(count < boundary, output, later(count - boundary))
        return output

    return schedule

"""Schedules: optax's names, arguments and values, bit for bit; usable as learning rates."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optim_problems import MLP, QUADRATIC, assert_trees_equal, trajectories

from jaxdl import optim

# name -> keyword arguments, identical for optim.<name> and optax.<name>.
SCHEDULES: dict[str, dict[str, Any]] = {
    "constant_schedule": {"value": 0.3},
    "linear_schedule": {"init_value": 0.0, "end_value": 0.1, "transition_steps": 50},
    "linear_schedule-delayed": {
        "init_value": 0.2,
        "end_value": 0.01,
        "transition_steps": 40,
        "transition_begin": 25,
    },
    "polynomial_schedule": {
        "init_value": 0.1,
        "end_value": 0.001,
        "power": 2,
        "transition_steps": 80,
    },
    "piecewise_constant_schedule": {
        "init_value": 0.1,
        "boundaries_and_scales": {30: 0.5, 60: 0.1, 90: 2.0},
    },
    "exponential_decay": {"init_value": 0.1, "transition_steps": 7, "decay_rate": 0.9},
    "exponential_decay-staircase": {
        "init_value": 0.1,
        "transition_steps": 10,
        "decay_rate": 0.5,
        "transition_begin": 5,
        "staircase": True,
        "end_value": 0.01,
    },
    "cosine_decay_schedule": {"init_value": 0.1, "decay_steps": 90, "alpha": 0.05},
    "cosine_decay_schedule-exponent": {"init_value": 0.1, "decay_steps": 60, "exponent": 2.0},
    "warmup_cosine_decay_schedule": {
        "init_value": 0.0,
        "peak_value": 0.1,
        "warmup_steps": 20,
        "decay_steps": 100,
        "end_value": 0.001,
    },
}


def _pair(key: str) -> tuple[Any, Any]:
    name = key.split("-")[0]
    kwargs = SCHEDULES[key]
    return getattr(optim, name)(**kwargs), getattr(optax, name)(**kwargs)


@pytest.mark.parametrize("key", list(SCHEDULES))
def test_values_equal_optax_bitwise(key: str) -> None:
    ours, theirs = _pair(key)
    counts = jnp.arange(130, dtype=jnp.int32)
    traced = jax.jit(jax.vmap(ours))(counts)
    expected = jax.jit(jax.vmap(theirs))(counts)
    np.testing.assert_array_equal(
        np.broadcast_to(traced, counts.shape), np.broadcast_to(expected, counts.shape)
    )
    for count in (0, 1, 19, 20, 21, 99, 100, 129):  # Python ints, outside jit
        np.testing.assert_array_equal(np.asarray(ours(count)), np.asarray(theirs(count)))


def test_values_by_hand() -> None:
    step = optim.piecewise_constant_schedule(1.0, {3: 0.5, 5: 0.1})
    np.testing.assert_allclose([step(t) for t in range(7)], [1, 1, 1, 0.5, 0.5, 0.05, 0.05])
    exponential = optim.exponential_decay(2.0, transition_steps=10, decay_rate=0.5)
    np.testing.assert_allclose([exponential(t) for t in (0, 10, 15, 30)], [2, 1, 2**-0.5, 0.25])
    cosine = optim.cosine_decay_schedule(1.0, decay_steps=4, alpha=0.2)
    np.testing.assert_allclose(
        [cosine(t) for t in (0, 2, 4, 8)], [1.0, 0.6, 0.2, 0.2], rtol=1e-6, atol=1e-7
    )
    warmup = optim.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=4, decay_steps=8)
    np.testing.assert_allclose(
        [warmup(t) for t in (0, 2, 4, 6, 8, 100)], [0, 0.5, 1, 0.5, 0, 0], atol=1e-6
    )
    linear = optim.linear_schedule(1.0, 0.0, transition_steps=4, transition_begin=2)
    np.testing.assert_allclose([linear(t) for t in (0, 2, 3, 6, 9)], [1, 1, 0.75, 0, 0])


def test_degenerate_arguments_follow_optax() -> None:
    assert optim.exponential_decay(0.3, transition_steps=0, decay_rate=0.5)(10) == 0.3
    assert optim.exponential_decay(0.3, transition_steps=5, decay_rate=0.0)(10) == 0.3
    assert optim.linear_schedule(0.3, 0.0, transition_steps=0)(10) == 0.3
    with pytest.raises(ValueError, match="decay_steps must be an int ≥ 1, got 0"):
        optim.cosine_decay_schedule(0.1, decay_steps=0)
    with pytest.raises(ValueError, match="scales must be non-negative"):
        optim.piecewise_constant_schedule(0.1, {10: -0.5})
    with pytest.raises(ValueError, match="2 schedules need 1 boundaries"):
        optim.join_schedules([optim.constant_schedule(1.0)] * 2, [])


@pytest.mark.parametrize(
    ("name", "hyperparameters"),
    [
        ("sgd", {"momentum": 0.9}),
        ("rmsprop", {"momentum": 0.5}),  # momentum traces the scheduled step
        ("adam", {}),
        ("adamw", {"weight_decay": 0.1}),
    ],
)
@pytest.mark.parametrize("key", ["warmup_cosine_decay_schedule", "exponential_decay-staircase"])
def test_schedule_as_learning_rate_is_bitwise_optax(
    name: str, hyperparameters: dict[str, Any], key: str
) -> None:
    ours_schedule, optax_schedule = _pair(key)
    params, loss = MLP.make(np.float32)
    path, expected = trajectories(
        (
            getattr(optim, name)(ours_schedule, **hyperparameters),
            getattr(optax, name)(optax_schedule, **hyperparameters),
        ),
        params,
        loss,
        150,
    )
    assert_trees_equal(path, expected)


def test_schedule_is_evaluated_at_the_step_count() -> None:
    """``f(0)`` on the first update, ``f(1)`` on the second: the counter is incremented after.
    (The first ``f(0)`` is the check of its value when the optimizer is built.)"""
    seen: list[int] = []
    opt = optim.sgd(lambda count: seen.append(int(count)) or 0.1 * (count + 1))
    assert seen == [0]
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    first, state = opt.update(params, state, params)
    second, state = opt.update(params, state, params)
    assert seen == [0, 0, 1]
    np.testing.assert_allclose(first["w"], [-0.1, -0.1])
    np.testing.assert_allclose(second["w"], [-0.2, -0.2])


def test_weight_decay_schedule() -> None:
    """``add_decayed_weights`` accepts a schedule too (as optax), with its own counter."""
    decay = optim.linear_schedule(0.0, 1.0, transition_steps=2)
    opt = optim.add_decayed_weights(decay)
    params = {"w": jnp.array([2.0])}
    state = opt.init(params)
    zeros = {"w": jnp.zeros(1)}
    steps = []
    for _ in range(3):
        updates, state = opt.update(zeros, state, params)
        steps.append(float(updates["w"][0]))
    assert steps == [0.0, 1.0, 2.0]
    params_q, loss = QUADRATIC.make(np.float32)
    path, expected = trajectories(
        (optim.adamw(0.01, weight_decay=decay), optax.adamw(0.01, weight_decay=decay)),
        params_q,
        loss,
        50,
    )
    assert_trees_equal(path, expected)

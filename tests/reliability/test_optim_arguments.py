"""Optimizer arguments: no learning rate of None, schedules checked where their values are
known, gradients checked against the params and state at trace time, chain's arguments."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl import optim
from jaxdl.optim import torch as toptim

# Every optimizer that takes a learning rate, by the name its errors carry.
OPTAX_STYLE: dict[str, Callable[..., Any]] = {
    "sgd": optim.sgd,
    "momentum": optim.momentum,
    "nesterov": optim.nesterov,
    "adagrad": optim.adagrad,
    "adadelta": optim.adadelta,
    "rmsprop": optim.rmsprop,
    "adam": optim.adam,
    "nadam": optim.nadam,
    "adamw": optim.adamw,
}
TORCH_STYLE: dict[str, Callable[..., Any]] = {
    "torch.sgd": toptim.sgd,
    "torch.adagrad": toptim.adagrad,
    "torch.rmsprop": toptim.rmsprop,
    "torch.adam": toptim.adam,
    "torch.adamw": toptim.adamw,
    "torch.nadam": toptim.nadam,
}
ALL = {**OPTAX_STYLE, **TORCH_STYLE}

PARAMS = {"dense": {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}}
GRADS = {"dense": {"w": jnp.full((3, 2), 0.5), "b": jnp.ones(2)}}


def _build(name: str, learning_rate: Any) -> optim.GradientTransformation:
    return ALL[name](learning_rate)


# --- learning_rate=None ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ALL))
def test_a_learning_rate_of_none_raises_naming_the_optimizer(name: str) -> None:
    argument = "lr" if name.startswith("torch.") else "learning_rate"
    with pytest.raises(TypeError, match=rf"^{name}: {argument} must be a number ≥ 0 .*got None"):
        _build(name, None)


def test_optax_reads_none_as_ascent_which_is_why_it_is_refused() -> None:
    """The behaviour refused: optax.adam(None) adds the raw Adam direction, climbing."""
    params = {"w": jnp.array([1.0])}
    grads = {"w": jnp.array([2.0])}  # d/dw of w², positive: descent lowers w
    updates, _ = optax.adam(None).update(grads, optax.adam(None).init(params), params)
    assert float(updates["w"][0]) > 0
    with pytest.raises(TypeError):
        optim.adam(None)


def test_scale_by_learning_rate_refuses_none_too() -> None:
    with pytest.raises(TypeError, match="scale_by_learning_rate: learning_rate"):
        optim.scale_by_learning_rate(None)


# --- schedules --------------------------------------------------------------------------------


BAD_SCHEDULES: dict[str, Callable[[Any], Any]] = {
    "negative": lambda count: -0.1,
    "nan": lambda count: jnp.nan,
    "negative array": lambda count: jnp.asarray(-1e-3) + 0 * count,
    "decays below zero at once": optim.linear_schedule(-0.1, 0.1, 10),
}


@pytest.mark.parametrize("schedule", list(BAD_SCHEDULES))
@pytest.mark.parametrize("name", list(ALL))
def test_a_schedule_bad_at_step_0_raises_at_construction(name: str, schedule: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: the (learning_rate|lr) schedule returned"):
        _build(name, BAD_SCHEDULES[schedule])


def test_a_weight_decay_schedule_is_checked_at_construction() -> None:
    with pytest.raises(
        ValueError, match=r"adamw: the weight_decay schedule returned -0\.5 at step 0"
    ):
        optim.adamw(1e-3, weight_decay=lambda count: -0.5)


@pytest.mark.parametrize("name", ["sgd", "adam", "torch.sgd", "torch.adam"])
def test_a_schedule_turning_negative_later_raises_at_that_step_outside_jit(name: str) -> None:
    schedule = optim.linear_schedule(0.3, -0.3, transition_steps=6)  # 0 at step 3, < 0 after
    opt = _build(name, schedule)
    state = opt.init(PARAMS)
    for _ in range(4):  # steps 0..3: values 0.3, 0.2, 0.1, 0.0
        _, state = opt.update(GRADS, state, PARAMS)
    with pytest.raises(ValueError, match=r"schedule returned -0\.1 at step 4"):
        opt.update(GRADS, state, PARAMS)


def test_under_jit_a_later_bad_value_is_neither_checked_nor_changed() -> None:
    """Documented limit: a traced step counter cannot be checked, and values are never
    clamped: step 4 of this schedule runs with its -0.1, as optax does."""
    schedule = optim.linear_schedule(0.3, -0.3, transition_steps=6)
    ours, theirs = optim.sgd(schedule), optax.sgd(schedule)

    def run(opt: Any) -> Any:
        def step(state: Any, _: Any) -> tuple[Any, Any]:
            updates, state = opt.update(GRADS, state, PARAMS)
            return state, updates["dense"]["b"][0]

        return jax.lax.scan(step, opt.init(PARAMS), length=6)[1]

    steps = jax.jit(lambda: run(ours))()
    np.testing.assert_array_equal(steps, jax.jit(lambda: run(theirs))())
    np.testing.assert_allclose(steps, [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2], atol=1e-7)


def test_good_schedules_still_match_optax_bit_for_bit() -> None:
    schedule = optim.warmup_cosine_decay_schedule(0.0, 0.1, 5, 50)
    ours, theirs = optim.adam(schedule), optax.adam(schedule)
    state_ours, state_theirs = ours.init(PARAMS), theirs.init(PARAMS)
    for _ in range(10):
        u_ours, state_ours = ours.update(GRADS, state_ours, PARAMS)
        u_theirs, state_theirs = theirs.update(GRADS, state_theirs, PARAMS)
        jax.tree.map(np.testing.assert_array_equal, u_ours, u_theirs)


# --- gradients against params and state ---------------------------------------------------------


MISMATCHES: dict[str, tuple[Any, str]] = {
    "missing leaf": ({"dense": {"w": jnp.ones((3, 2))}}, r"missing \['dense'\]\['b'\]"),
    "extra leaf": (
        {"dense": {"w": jnp.ones((3, 2)), "b": jnp.ones(2), "c": jnp.ones(1)}},
        r"unexpected \['dense'\]\['c'\]",
    ),
    "renamed subtree": (
        {"head": {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}},
        r"missing \['dense'\]\['b'\], \['dense'\]\['w'\]; unexpected \['head'\]\['b'\]",
    ),
    "wrong shape": (
        {"dense": {"w": jnp.ones((3, 4)), "b": jnp.ones(2)}},
        r"\['dense'\]\['w'\] has shape \(3, 4\) in the gradients but \(3, 2\) in the",
    ),
    "other container": (
        {"dense": [jnp.ones(2), jnp.ones((3, 2))]},
        r"missing \['dense'\]\['b'\], \['dense'\]\['w'\]; unexpected \['dense'\]\[0\]",
    ),
}


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("mismatch", list(MISMATCHES))
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "adamw", "torch.sgd"])
def test_gradients_unlike_the_params_raise_naming_the_paths(
    name: str, mismatch: str, jit: bool
) -> None:
    opt = _build(name, 0.1)
    grads, message = MISMATCHES[mismatch]
    update = jax.jit(opt.update) if jit else opt.update
    with pytest.raises(ValueError, match=rf"^{name}: the gradients do not match the params: "):
        update(grads, opt.init(PARAMS), PARAMS)
    with pytest.raises(ValueError, match=message):
        update(grads, opt.init(PARAMS), PARAMS)


@pytest.mark.parametrize(
    ("name", "buffer"),
    [
        ("sgd-momentum", "TraceState.trace"),
        ("adam", "ScaleByAdamState.mu"),
        ("rmsprop", "ScaleByRmsState.nu"),
        ("torch.adam", "AdamState.exp_avg"),
    ],
)
def test_gradients_unlike_the_state_raise_without_params(name: str, buffer: str) -> None:
    opt = optim.sgd(0.1, momentum=0.9) if name == "sgd-momentum" else _build(name, 0.1)
    state = opt.init(PARAMS)
    grads = {"dense": {"w": jnp.ones((3, 2))}}
    with pytest.raises(
        ValueError, match=rf"optimizer state's {buffer}: missing \['dense'\]\['b'\]"
    ):
        jax.jit(opt.update)(grads, state)  # no params given: the state is the reference


def test_the_check_adds_nothing_to_the_compiled_step() -> None:
    """Structures and shapes are static: the traced program with the check is the one of
    the same chain without it."""
    checked = optim.sgd(0.1, momentum=0.9)
    unchecked = optim.chain(optim.trace(0.9), optim.scale_by_learning_rate(0.1))
    state = checked.init(PARAMS)
    jaxpr = lambda opt: str(jax.make_jaxpr(opt.update)(GRADS, state, PARAMS))  # noqa: E731
    assert jaxpr(checked) == jaxpr(unchecked)


def test_matching_gradients_give_optax_s_step() -> None:
    opt, reference = optim.sgd(0.1, momentum=0.9), optax.sgd(0.1, momentum=0.9)
    ours, _ = opt.update(GRADS, opt.init(PARAMS), PARAMS)
    theirs, _ = reference.update(GRADS, reference.init(PARAMS), PARAMS)
    jax.tree.map(np.testing.assert_array_equal, ours, theirs)


def test_low_precision_buffers_are_not_a_mismatch() -> None:
    """Only shapes are compared: a bfloat16 momentum buffer takes float32 gradients."""
    opt = optim.sgd(0.1, momentum=0.9, accumulator_dtype=jnp.bfloat16)
    updates, _ = opt.update(GRADS, opt.init(PARAMS), PARAMS)
    np.testing.assert_allclose(updates["dense"]["b"], [-0.1, -0.1])


# --- chain --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transforms", "position", "shown"),
    [
        ((3,), 0, "got 3 (int)"),
        ((optim.sgd(0.1), "adam"), 1, "got 'adam' (str)"),
        ((optim.adam, optim.sgd(0.1)), 0, "got <function adam"),
        ((optim.sgd(0.1), None), 1, "got None (NoneType)"),
    ],
    ids=["int", "string", "factory-not-called", "none"],
)
def test_chain_rejects_non_transformations_naming_the_argument(
    transforms: tuple[Any, ...], position: int, shown: str
) -> None:
    with pytest.raises(TypeError, match=rf"^chain: transforms\[{position}\] must be a Gradient"):
        optim.chain(*transforms)
    with pytest.raises(TypeError, match=re.escape(shown)):
        optim.chain(*transforms)


def test_chain_accepts_optax_transformations() -> None:
    opt = optim.chain(optax.clip_by_global_norm(1.0), optim.sgd(1.0))
    updates, _ = opt.update({"w": jnp.array([3.0, 4.0])}, opt.init({"w": jnp.zeros(2)}))
    np.testing.assert_allclose(updates["w"], [-0.6, -0.8], rtol=1e-6)

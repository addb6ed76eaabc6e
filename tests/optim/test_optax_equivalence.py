"""Proof against optax: each optimizer's 1,000-step trajectory equals optax's counterpart.

Every optimizer × hyperparameter set × problem runs ``optim.<name>(**hyperparameters)``
and its optax counterpart with the *same* keyword arguments (the names and defaults are
optax's) for 1,000 steps, each compiled once as a ``lax.scan``. In float32 on CPU the
whole trajectory (every step, every leaf) must be identical bit for bit; in float64 the
parameters must agree to 1e-10 of their scale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import optax
import pytest
from optim_problems import (
    MLP,
    PROBLEMS,
    Problem,
    all_finite,
    assert_trees_equal,
    final,
    max_relative_difference,
    trajectories,
    trajectory,
)

from jaxdl import optim

STEPS = 1000
SNAPSHOT = 499  # an intermediate step compared besides the final one

# name -> (ours, optax's counterpart); both are called as f(learning_rate, **hyperparameters).
COUNTERPARTS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "sgd": (optim.sgd, optax.sgd),
    "momentum": (
        optim.momentum,
        lambda learning_rate, momentum=0.9: optax.sgd(learning_rate, momentum=momentum),
    ),
    "nesterov": (
        optim.nesterov,
        lambda learning_rate, momentum=0.9: optax.sgd(
            learning_rate, momentum=momentum, nesterov=True
        ),
    ),
    "adagrad": (optim.adagrad, optax.adagrad),
    "adadelta": (optim.adadelta, optax.adadelta),
    "rmsprop": (optim.rmsprop, optax.rmsprop),
    "adam": (optim.adam, optax.adam),
    "nadam": (optim.nadam, optax.nadam),
    "adamw": (optim.adamw, optax.adamw),
}


def _weights_only(params: Any) -> Any:
    return jax.tree.map(lambda x: x.ndim > 1, params)


# name -> {set name: hyperparameters other than the learning rate}; "default" passes none.
HYPERPARAMETERS: dict[str, dict[str, dict[str, Any]]] = {
    "sgd": {"default": {}, "custom": {"momentum": 0.7, "nesterov": True}},
    "momentum": {"default": {}, "custom": {"momentum": 0.5}},
    "nesterov": {"default": {}, "custom": {"momentum": 0.6}},
    "adagrad": {"default": {}, "custom": {"initial_accumulator_value": 0.5, "eps": 1e-5}},
    "adadelta": {"default": {}, "custom": {"rho": 0.95, "eps": 1e-5, "weight_decay": 1e-3}},
    "rmsprop": {
        "default": {},
        "centered-momentum": {
            "decay": 0.95,
            "eps": 1e-6,
            "initial_scale": 0.1,
            "centered": True,
            "momentum": 0.5,
            "nesterov": True,
        },
        "eps-outside-bias-corrected": {"eps_in_sqrt": False, "bias_correction": True},
    },
    "adam": {"default": {}, "custom": {"b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_root": 1e-9}},
    "nadam": {"default": {}, "custom": {"b1": 0.85, "b2": 0.995, "eps": 1e-7}},
    "adamw": {
        "default": {},
        "custom": {"b1": 0.8, "b2": 0.99, "weight_decay": 0.05},
        "masked": {"weight_decay": 0.1, "mask": _weights_only},
    },
}

CASES = [
    pytest.param(name, set_name, problem, id=f"{name}-{set_name}-{problem.name}")
    for name, sets in HYPERPARAMETERS.items()
    for set_name in sets
    for problem in PROBLEMS
]


def _run_both(name: str, set_name: str, problem: Problem, dtype: Any) -> tuple[Any, Any, Any]:
    ours, theirs = COUNTERPARTS[name]
    hyperparameters = HYPERPARAMETERS[name][set_name]
    learning_rate = problem.learning_rates[name]
    params, loss = problem.make(dtype)
    path, expected = trajectories(
        (ours(learning_rate, **hyperparameters), theirs(learning_rate, **hyperparameters)),
        params,
        loss,
        STEPS,
    )
    assert all_finite(path)
    assert float(loss(final(path))) < float(loss(params)), "the optimizer did not descend"
    return path, expected, loss


@pytest.mark.parametrize(("name", "set_name", "problem"), CASES)
def test_float32_trajectory_is_bitwise_optax(name: str, set_name: str, problem: Problem) -> None:
    path, expected, _ = _run_both(name, set_name, problem, np.float32)
    snapshot = jax.tree.map(lambda x: x[SNAPSHOT], path)
    assert_trees_equal(snapshot, jax.tree.map(lambda x: x[SNAPSHOT], expected))
    assert_trees_equal(final(path), final(expected))
    assert_trees_equal(path, expected)  # and every other step


def _float64_case(param: Any) -> Any:
    """Float64 on the MLP by default; the other problems are ``slow`` (compile time)."""
    name, set_name, problem = param.values
    marks = () if problem is MLP else (pytest.mark.slow,)
    return pytest.param(name, set_name, problem, id=param.id, marks=marks)


@pytest.mark.parametrize(("name", "set_name", "problem"), [_float64_case(c) for c in CASES])
def test_float64_trajectory_matches_optax(
    x64: None, name: str, set_name: str, problem: Problem
) -> None:
    path, expected, _ = _run_both(name, set_name, problem, np.float64)
    assert all(x.dtype == np.float64 for x in jax.tree.leaves(path))
    for step in (SNAPSHOT, STEPS - 1):
        at_step = jax.tree.map(lambda x, s=step: x[s], path)
        expected_at_step = jax.tree.map(lambda x, s=step: x[s], expected)
        assert max_relative_difference(at_step, expected_at_step) <= 1e-10


@pytest.mark.parametrize("name", ["adam", "rmsprop", "adadelta"])
def test_separately_compiled_trajectories_are_bitwise_optax(name: str) -> None:
    """The same equality when each optimizer is compiled alone, as a user would run it."""
    ours, theirs = COUNTERPARTS[name]
    hyperparameters = max(HYPERPARAMETERS[name].values(), key=len)
    learning_rate = MLP.learning_rates[name]
    params, loss = MLP.make(np.float32)
    path = trajectory(ours(learning_rate, **hyperparameters), params, loss, STEPS)
    expected = trajectory(theirs(learning_rate, **hyperparameters), params, loss, STEPS)
    assert all_finite(path)
    assert_trees_equal(final(path), final(expected))


EAGER_CASES = [
    pytest.param(name, set_name, id=f"{name}-{set_name}")
    for name, sets in HYPERPARAMETERS.items()
    for set_name in sets
]


@pytest.mark.parametrize(("name", "set_name"), EAGER_CASES)
def test_eager_updates_are_bitwise_optax(name: str, set_name: str) -> None:
    """Outside ``jit`` too (op by op), three updates equal optax's bit for bit."""
    ours, theirs = COUNTERPARTS[name]
    hyperparameters = HYPERPARAMETERS[name][set_name]
    params, loss = MLP.make(np.float32)
    ours_opt = ours(MLP.learning_rates[name], **hyperparameters)
    theirs_opt = theirs(MLP.learning_rates[name], **hyperparameters)
    ours_state, theirs_state = ours_opt.init(params), theirs_opt.init(params)
    ours_params = theirs_params = params
    for _ in range(3):
        updates, ours_state = ours_opt.update(jax.grad(loss)(ours_params), ours_state, ours_params)
        expected, theirs_state = theirs_opt.update(
            jax.grad(loss)(theirs_params), theirs_state, theirs_params
        )
        assert_trees_equal(updates, expected)
        ours_params = optim.apply_updates(ours_params, updates)
        theirs_params = optax.apply_updates(theirs_params, expected)


def test_every_optimizer_is_covered() -> None:
    public = {"sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam"}
    assert public | {"nadam", "adamw"} == set(COUNTERPARTS) == set(HYPERPARAMETERS)
    assert all({"default"} < set(sets) for sets in HYPERPARAMETERS.values())

"""The nine optimizers: their formulas, their argument checks and their documented conventions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optim_problems import MLP, QUADRATIC, assert_trees_equal, trajectories

from jaxdl import optim

NAMES = ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "nadam", "adamw"]


# Reference implementations of the docstring formulas in float64 NumPy, one step each:
# (params, grad, state dict, step t) -> params. Hyperparameters are the defaults except
# where the keyword arguments below set them.
def _sgd(p, g, s, t, lr):
    return p - lr * g


def _momentum(p, g, s, t, lr, mu=0.9):
    s["v"] = g + mu * s.get("v", 0.0)
    return p - lr * s["v"]


def _nesterov(p, g, s, t, lr, mu=0.9):
    s["v"] = g + mu * s.get("v", 0.0)
    return p - lr * (g + mu * s["v"])


def _adagrad(p, g, s, t, lr, g0=0.1, eps=1e-7):
    s["G"] = s.get("G", g0) + g**2
    return p - lr * g / np.sqrt(s["G"] + eps)


def _adadelta(p, g, s, t, lr, rho=0.9, eps=1e-6):
    s["Eg"] = (1 - rho) * g**2 + rho * s.get("Eg", 0.0)
    delta = np.sqrt(s.get("Ex", 0.0) + eps) / np.sqrt(s["Eg"] + eps) * g
    s["Ex"] = (1 - rho) * delta**2 + rho * s.get("Ex", 0.0)
    return p - lr * delta


def _rmsprop(p, g, s, t, lr, rho=0.9, eps=1e-8, centered=False):
    s["nu"] = (1 - rho) * g**2 + rho * s.get("nu", 0.0)
    s["mu"] = (1 - rho) * g + rho * s.get("mu", 0.0) if centered else 0.0
    return p - lr * g / np.sqrt(s["nu"] - s["mu"] ** 2 + eps)


def _adam_direction(g, s, t, b1=0.9, b2=0.999, eps=1e-8, nesterov=False):
    s["m"] = (1 - b1) * g + b1 * s.get("m", 0.0)
    s["v"] = (1 - b2) * g**2 + b2 * s.get("v", 0.0)
    if nesterov:
        m_hat = b1 * s["m"] / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
    else:
        m_hat = s["m"] / (1 - b1**t)
    return m_hat / (np.sqrt(s["v"] / (1 - b2**t)) + eps)


def _adam(p, g, s, t, lr):
    return p - lr * _adam_direction(g, s, t)


def _nadam(p, g, s, t, lr):
    return p - lr * _adam_direction(g, s, t, nesterov=True)


def _adamw(p, g, s, t, lr, wd=1e-4):
    return p - lr * (_adam_direction(g, s, t) + wd * p)


REFERENCES: dict[str, Callable[..., np.ndarray]] = {
    "sgd": _sgd,
    "momentum": _momentum,
    "nesterov": _nesterov,
    "adagrad": _adagrad,
    "adadelta": _adadelta,
    "rmsprop": _rmsprop,
    "adam": _adam,
    "nadam": _nadam,
    "adamw": _adamw,
}


@pytest.mark.parametrize("name", NAMES)
def test_five_steps_follow_the_docstring_formula(x64: None, name: str) -> None:
    learning_rate = 0.05
    data = QUADRATIC.data()
    a, b, p = data["a"], data["b"], data["params"]["x"]
    opt = getattr(optim, name)(learning_rate)
    params = {"x": jnp.asarray(p)}
    state = opt.init(params)
    reference_state: dict[str, Any] = {}
    for t in range(1, 6):
        grads = {"x": params["x"] @ jnp.asarray(a) - jnp.asarray(b)}
        updates, state = opt.update(grads, state, params)
        params = optim.apply_updates(params, updates)
        p = REFERENCES[name](p, a @ p - b, reference_state, t, learning_rate)
        np.testing.assert_allclose(params["x"], p, rtol=1e-12, atol=1e-12)
    assert not np.allclose(p, data["params"]["x"])


def test_rmsprop_centered_follows_its_formula(x64: None) -> None:
    p, g = np.array([1.0, -3.0]), np.array([0.5, 2.0])
    opt = optim.rmsprop(0.1, centered=True)
    updates, _ = opt.update({"w": jnp.asarray(g)}, opt.init({"w": jnp.asarray(p)}))
    expected = _rmsprop(p, g, {}, 1, 0.1, centered=True) - p  # g / sqrt(0.09 g² + eps)
    np.testing.assert_allclose(updates["w"], expected, rtol=1e-12)
    plain, _ = optim.rmsprop(0.1).update({"w": jnp.asarray(g)}, opt.init({"w": jnp.asarray(p)}))
    np.testing.assert_allclose(np.asarray(updates["w"]) / np.asarray(plain["w"]), 1 / 0.9**0.5)


@pytest.mark.parametrize("name", NAMES)
def test_negative_learning_rate_raises_naming_the_optimizer(name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: learning_rate must be in \[0, inf\).*-0\.1"):
        getattr(optim, name)(-0.1)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("adam", {"b1": 1.0}, "adam: b1 must be in [0, 1), got 1.0"),
        ("adam", {"b1": -0.1}, "adam: b1 must be in [0, 1), got -0.1"),
        ("adamw", {"b2": 1.5}, "adamw: b2 must be in [0, 1), got 1.5"),
        ("nadam", {"eps": -1e-8}, "nadam: eps must be in [0, inf), got -1e-08"),
        ("adam", {"eps_root": -1.0}, "adam: eps_root must be in [0, inf)"),
        ("adamw", {"weight_decay": -0.1}, "adamw: weight_decay must be in [0, inf)"),
        ("rmsprop", {"decay": 1.2}, "rmsprop: decay must be in [0, 1)"),
        ("rmsprop", {"initial_scale": -1.0}, "rmsprop: initial_scale must be in [0, inf)"),
        ("rmsprop", {"momentum": -0.9}, "rmsprop: momentum must be in [0, inf)"),
        ("adagrad", {"initial_accumulator_value": -0.1}, "adagrad: initial_accumulator_value"),
        ("adadelta", {"rho": 1.0}, "adadelta: rho must be in [0, 1)"),
        ("sgd", {"momentum": -0.5}, "sgd: momentum must be in [0, inf)"),
        ("momentum", {"momentum": float("nan")}, "momentum: momentum must be in [0, inf), got nan"),
        ("adam", {"b1": "0.9"}, "adam: b1 must be a real number, got '0.9'"),
    ],
)
def test_bad_hyperparameters_raise(name: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(optim, name)(0.1, **kwargs)


def test_traced_values_are_not_checked_at_construction() -> None:
    jax.jit(lambda lr: optim.sgd(lr, momentum=lr).init({"w": jnp.ones(1)}))(jnp.asarray(-1.0))


def test_adadelta_default_descends_where_optax_default_ascends() -> None:
    """``optim.adadelta()`` is ``optax.adadelta(1.0)``; ``optax.adadelta()`` climbs."""
    params, loss = QUADRATIC.make(np.float32)
    ours, optax_one, optax_default = trajectories(
        (optim.adadelta(), optax.adadelta(1.0), optax.adadelta()), params, loss, 300
    )
    assert_trees_equal(ours, optax_one)
    start = float(loss(params))
    ours_losses = np.asarray(jax.vmap(loss)(ours))
    optax_losses = np.asarray(jax.vmap(loss)(optax_default))
    assert ours_losses[-1] < start and np.all(np.diff(ours_losses) < 0)
    assert optax_losses[-1] > start and np.all(np.diff(optax_losses) > 0)


@pytest.mark.parametrize(
    "mask",
    [
        {"hidden": {"w": True, "b": False}, "out": {"w": True, "b": False}},
        lambda params: jax.tree.map(lambda x: x.ndim == 2, params),
        {"hidden": True, "out": False},  # a prefix of the params
    ],
    ids=["tree", "callable", "prefix"],
)
def test_adamw_mask_decays_only_the_selected_leaves(mask: Any) -> None:
    params, loss = MLP.make(np.float32)
    grads = jax.grad(loss)(params)
    learning_rate, weight_decay = 0.01, 0.5
    masked = optim.adamw(learning_rate, weight_decay=weight_decay, mask=mask)
    updates, _ = masked.update(grads, masked.init(params), params)
    adam_updates, _ = optim.adam(learning_rate).update(grads, optim.adam(0.1).init(params), params)
    resolved = mask(params) if callable(mask) else mask
    flags = jax.tree.leaves(
        jax.tree.map(lambda m, p: jax.tree.map(lambda _: m, p), resolved, params)
    )
    for decayed, u, a, p in zip(
        flags,
        jax.tree.leaves(updates),
        jax.tree.leaves(adam_updates),
        jax.tree.leaves(params),
        strict=True,
    ):
        expected = a - learning_rate * weight_decay * p if decayed else a
        np.testing.assert_allclose(u, expected, rtol=1e-5, atol=1e-8)
    assert any(flags) and not all(flags)
    theirs = optax.adamw(learning_rate, weight_decay=weight_decay, mask=mask)
    expected_updates, _ = theirs.update(grads, theirs.init(params), params)
    assert_trees_equal(updates, expected_updates)


def test_adamw_decays_every_leaf_by_default() -> None:
    params = {"w": jnp.array([10.0]), "b": jnp.array([-10.0])}
    zeros = jax.tree.map(jnp.zeros_like, params)
    opt = optim.adamw(0.1)
    updates, _ = opt.update(zeros, opt.init(params), params)
    np.testing.assert_allclose(updates["w"], [-0.1 * 1e-4 * 10.0], rtol=1e-6)
    np.testing.assert_allclose(updates["b"], [0.1 * 1e-4 * 10.0], rtol=1e-6)


@pytest.mark.parametrize(
    ("alias", "equivalent"),
    [
        (optim.momentum(0.05, momentum=0.8), optim.sgd(0.05, momentum=0.8)),
        (optim.nesterov(0.05, momentum=0.8), optim.sgd(0.05, momentum=0.8, nesterov=True)),
        (optim.nadam(0.01, b1=0.8), optim.adam(0.01, b1=0.8, nesterov=True)),
    ],
    ids=["momentum", "nesterov", "nadam"],
)
def test_aliases_are_the_documented_special_cases(alias: Any, equivalent: Any) -> None:
    params, loss = QUADRATIC.make(np.float32)
    path, expected = trajectories((alias, equivalent), params, loss, 100)
    assert_trees_equal(path, expected)


def test_nesterov_looks_ahead_where_momentum_does_not() -> None:
    grads = {"w": jnp.ones(1)}
    heavy, lookahead = optim.momentum(1.0, 0.5), optim.nesterov(1.0, 0.5)
    heavy_step, _ = heavy.update(grads, heavy.init(grads))
    lookahead_step, _ = lookahead.update(grads, lookahead.init(grads))
    np.testing.assert_array_equal(heavy_step["w"], [-1.0])  # v = g
    np.testing.assert_array_equal(lookahead_step["w"], [-1.5])  # g + mu v


def test_reduced_precision_moments_match_optax() -> None:
    params, loss = MLP.make(np.float32)
    ours = optim.adam(3e-3, mu_dtype=jnp.bfloat16)
    state = ours.init(params)
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(state[0].mu))
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state[0].nu))
    path, expected = trajectories(
        (ours, optax.adam(3e-3, mu_dtype=jnp.bfloat16)), params, loss, 100
    )
    assert_trees_equal(path, expected)
    sgd = optim.sgd(0.05, momentum=0.9, accumulator_dtype=jnp.bfloat16)
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(sgd.init(params)[0].trace))

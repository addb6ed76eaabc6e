"""TD targets and target-network updates (jaxdl/rl/_targets.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl import rl

RNG = np.random.default_rng(0)
REWARDS = RNG.normal(size=6).astype(np.float32)
TERMINATED = np.array([False, True, False, False, True, False])
NEXT_Q_TARGET = RNG.normal(size=(6, 3)).astype(np.float32)
NEXT_Q_ONLINE = RNG.normal(size=(6, 3)).astype(np.float32)


def _hand_dqn(gamma):
    out = []
    for r, d, q in zip(REWARDS, TERMINATED, NEXT_Q_TARGET):
        out.append(r if d else r + gamma * max(q))
    return np.array(out)


def _hand_double(gamma):
    out = []
    for r, d, q_target, q_online in zip(REWARDS, TERMINATED, NEXT_Q_TARGET, NEXT_Q_ONLINE):
        best = int(np.argmax(q_online))
        out.append(r if d else r + gamma * q_target[best])
    return np.array(out)


@pytest.mark.parametrize("gamma", [0.0, 0.9, 0.99, 1.0])
def test_dqn_target_matches_a_hand_computation(gamma):
    y = rl.td_target(REWARDS, TERMINATED, NEXT_Q_TARGET, gamma=gamma)
    np.testing.assert_allclose(y, _hand_dqn(gamma), rtol=1e-6)
    np.testing.assert_array_equal(y[TERMINATED], REWARDS[TERMINATED])  # no bootstrap


@pytest.mark.parametrize("gamma", [0.5, 0.99])
def test_double_dqn_target_matches_a_hand_computation(gamma):
    y = jax.jit(rl.td_target, static_argnames="gamma")(
        REWARDS, TERMINATED, NEXT_Q_TARGET, gamma=gamma, next_q_online=NEXT_Q_ONLINE
    )
    np.testing.assert_allclose(y, _hand_double(gamma), rtol=1e-6)
    # Where the two networks' argmax differ, Double DQN's target is not DQN's.
    differs = np.argmax(NEXT_Q_ONLINE, 1) != np.argmax(NEXT_Q_TARGET, 1)
    assert np.any(differs & ~TERMINATED)
    assert np.all(np.asarray(y)[differs & ~TERMINATED] < _hand_dqn(gamma)[differs & ~TERMINATED])


def test_float_terminal_flags_and_no_gradient():
    y = rl.td_target(REWARDS, TERMINATED.astype(np.float32), NEXT_Q_TARGET, gamma=0.9)
    np.testing.assert_allclose(y, _hand_dqn(0.9), rtol=1e-6)
    grad = jax.grad(lambda q: jnp.sum(rl.td_target(REWARDS, TERMINATED, q, gamma=0.9)))(
        jnp.asarray(NEXT_Q_TARGET)
    )
    np.testing.assert_array_equal(grad, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gamma": 1.5}, r"td_target: gamma must lie in \[0, 1\], got 1.5"),
        ({"gamma": -0.1}, r"gamma must lie in \[0, 1\], got -0.1"),
        ({"gamma": "0.9"}, r"gamma must be a number in \[0, 1\]"),
        ({"gamma": [0.9, 0.9]}, r"gamma must be a scalar"),
        (
            {"gamma": 0.9, "terminated": TERMINATED[:5]},
            r"rewards and terminated must have the same shape, got rewards \(6,\) and terminated "
            r"\(5,\)",
        ),
        (
            {"gamma": 0.9, "next_q_target": NEXT_Q_TARGET[:5]},
            r"next_q_target must have the rewards' shape plus an axis of actions, \(6,\) \+ "
            r"\(actions,\), got \(5, 3\)",
        ),
        ({"gamma": 0.9, "next_q_target": NEXT_Q_TARGET[:, 0]}, r"got \(6,\)"),
        (
            {"gamma": 0.9, "next_q_online": NEXT_Q_ONLINE[:, :2]},
            r"next_q_online must have next_q_target's shape \(6, 3\), got \(6, 2\)",
        ),
    ],
)
def test_td_target_rejects_bad_inputs(kwargs, match):
    arguments = {"rewards": REWARDS, "terminated": TERMINATED, "next_q_target": NEXT_Q_TARGET}
    arguments.update(kwargs)
    gamma = arguments.pop("gamma")
    with pytest.raises(ValueError, match=match):
        rl.td_target(
            arguments["rewards"],
            arguments["terminated"],
            arguments["next_q_target"],
            gamma=gamma,
            next_q_online=arguments.get("next_q_online"),
        )


TARGET = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
ONLINE = {"w": jnp.ones((2, 2)), "b": jnp.full(2, 2.0)}


def test_periodic_update_copies_every_period_steps_and_matches_optax():
    update = jax.jit(rl.periodic_update, static_argnums=3)
    copied = [bool(update(TARGET, ONLINE, step, 3)["b"][0] == 2.0) for step in range(7)]
    assert copied == [True, False, False, True, False, False, True]
    for step in range(7):
        ours = rl.periodic_update(TARGET, ONLINE, step, 3)
        theirs = optax.periodic_update(ONLINE, TARGET, jnp.asarray(step), 3)
        for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("tau", [0.0, 0.005, 0.5, 1.0])
def test_polyak_update_matches_formula_and_optax(tau):
    new = rl.polyak_update(TARGET, ONLINE, tau)
    np.testing.assert_allclose(new["b"], tau * 2.0, rtol=1e-6)
    np.testing.assert_allclose(new["w"], tau * 1.0, rtol=1e-6)
    theirs = optax.incremental_update(ONLINE, TARGET, tau)
    for a, b in zip(jax.tree_util.tree_leaves(new), jax.tree_util.tree_leaves(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_repeated_polyak_updates_converge_geometrically():
    target = TARGET
    for _ in range(100):
        target = rl.polyak_update(target, ONLINE, 0.05)
    np.testing.assert_allclose(target["b"], 2.0 * (1 - 0.95**100), rtol=1e-5)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: rl.periodic_update(TARGET, ONLINE, 0, 0),
            r"periodic_update: period must be an int ≥ 1, got 0",
        ),
        (lambda: rl.periodic_update(TARGET, ONLINE, 0, 2.0), r"period must be an int ≥ 1"),
        (lambda: rl.periodic_update(TARGET, {"w": ONLINE["w"]}, 0, 2), r"same structure"),
        (
            lambda: rl.polyak_update(TARGET, {"w": jnp.ones(3), "b": ONLINE["b"]}, 0.1),
            r"polyak_update: target\['w'\] has shape \(2, 2\) but online\['w'\] has \(3,\)",
        ),
        (lambda: rl.polyak_update(TARGET, ONLINE, 1.5), r"tau must lie in \[0, 1\], got 1.5"),
        (lambda: rl.polyak_update(TARGET, ONLINE, -0.5), r"tau must lie in \[0, 1\]"),
    ],
)
def test_target_updates_reject_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()

"""Greedy and ε-greedy action selection (jaxdl/rl/_policy.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxdl import optim, rl

ACTIONS = 4
STATES = 50_000
# Every row's greedy action is action 2.
Q = jnp.tile(jnp.array([0.1, -1.0, 3.0, 0.5]), (STATES, 1))


def _frequencies(epsilon, key=0):
    actions = jax.jit(rl.epsilon_greedy)(jax.random.key(key), Q, epsilon)
    assert actions.shape == (STATES,) and actions.dtype == jnp.int32
    return np.bincount(np.asarray(actions), minlength=ACTIONS) / STATES, np.asarray(actions)


def test_epsilon_zero_is_greedy():
    freq, _ = _frequencies(0.0)
    np.testing.assert_array_equal(freq, [0, 0, 1, 0])


def test_epsilon_one_is_uniform():
    _, actions = _frequencies(1.0)
    _, p_value = stats.chisquare(np.bincount(actions, minlength=ACTIONS))
    assert p_value > 1e-3


@pytest.mark.parametrize("epsilon", [0.1, 0.3, 0.8])
def test_greedy_action_has_probability_one_minus_epsilon_plus_epsilon_over_n(epsilon):
    _, actions = _frequencies(epsilon, key=3)
    expected = np.full(ACTIONS, epsilon / ACTIONS)
    expected[2] += 1 - epsilon
    _, p_value = stats.chisquare(np.bincount(actions, minlength=ACTIONS), expected * STATES)
    assert p_value > 1e-3


def test_the_frequency_test_can_fail():
    # ε = 0.3 measured against the ε = 0.1 expectation is rejected.
    _, actions = _frequencies(0.3, key=3)
    expected = np.full(ACTIONS, 0.1 / ACTIONS)
    expected[2] += 0.9
    assert stats.chisquare(np.bincount(actions, minlength=ACTIONS), expected * STATES).pvalue < 1e-6


def test_per_state_epsilon_broadcasts_over_the_batch():
    q = jnp.tile(jnp.array([0.0, 1.0]), (20_000, 1))
    epsilon = jnp.concatenate([jnp.zeros(10_000), jnp.ones(10_000)])
    actions = np.asarray(rl.epsilon_greedy(jax.random.key(1), q, epsilon))
    assert np.all(actions[:10_000] == 1)
    assert abs(actions[10_000:].mean() - 0.5) < 0.02


def test_decaying_epsilon_from_an_optim_schedule():
    schedule = optim.linear_schedule(1.0, 0.05, transition_steps=100)
    greedy_share = []
    for step in (0, 50, 100, 1000):
        freq, _ = _frequencies(schedule(step), key=step)
        greedy_share.append(freq[2])
    expected = [1 - e + e / ACTIONS for e in (1.0, 0.525, 0.05, 0.05)]
    np.testing.assert_allclose(greedy_share, expected, atol=0.01)


def test_greedy_breaks_ties_by_the_lowest_index():
    np.testing.assert_array_equal(rl.greedy(jnp.array([[1.0, 1.0], [0.0, 2.0]])), [0, 1])


@pytest.mark.parametrize(
    ("epsilon", "match"),
    [
        (-0.1, r"epsilon_greedy: epsilon must lie in \[0, 1\], got -0.1"),
        (1.5, r"epsilon must lie in \[0, 1\], got 1.5"),
        (jnp.array([0.5, 2.0]), r"epsilon must lie in \[0, 1\], got values from 0.5 to 2.0"),
        ("0.1", r"epsilon must be a number in \[0, 1\], got '0.1'"),
        (None, r"epsilon must be a number"),
        (jnp.zeros(3), r"epsilon of shape \(3,\) does not broadcast to the batch shape \(2,\)"),
    ],
)
def test_bad_epsilon_raises(epsilon, match):
    with pytest.raises(ValueError, match=match):
        rl.epsilon_greedy(jax.random.key(0), jnp.zeros((2, 4)), epsilon)


def test_q_values_without_an_action_axis_raise():
    with pytest.raises(ValueError, match=r"last axis of actions.*got shape \(\)"):
        rl.epsilon_greedy(jax.random.key(0), jnp.zeros(()), 0.1)
    with pytest.raises(ValueError, match=r"got shape \(3, 0\)"):
        rl.greedy(jnp.zeros((3, 0)))
    with pytest.raises(TypeError, match="key must be a JAX random key"):
        rl.epsilon_greedy(7, jnp.zeros((2, 4)), 0.1)

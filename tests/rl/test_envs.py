"""gymnax environments (jaxdl/rl/_envs.py): the lazy import, and gymnax's CartPole-v1
against gymnasium's, the reference implementation."""

import importlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxdl import rl
from jaxdl.rl import _envs


def test_jaxdl_imports_without_gymnax():
    # gymnax made unimportable: jaxdl and jaxdl.rl still import, make_env says what to do.
    code = (
        "import sys; sys.modules['gymnax'] = None\n"
        "import jaxdl\n"
        "from jaxdl import rl\n"
        "assert not [m for m in sys.modules if m.startswith('gymnax.')], 'gymnax imported'\n"
        "try:\n"
        "    rl.make_env('CartPole-v1')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert 'pip install "jaxdl[rl]"' in completed.stdout


def test_missing_gymnax_raises_an_import_error_naming_the_extra(monkeypatch):
    real = importlib.import_module

    def fake_import(name, *args):
        if name == "gymnax":
            raise ModuleNotFoundError("No module named 'gymnax'")
        return real(name, *args)

    monkeypatch.setattr(_envs.importlib, "import_module", fake_import)
    with pytest.raises(ImportError, match=r'need gymnax.*pip install "jaxdl\[rl\]"'):
        rl.make_env("CartPole-v1")


def test_make_env_rejects_unknown_names():
    pytest.importorskip("gymnax")
    with pytest.raises(ValueError, match=r"unknown gymnax environment 'CartPole-v9'"):
        rl.make_env("CartPole-v9")
    with pytest.raises(TypeError, match="name must be a gymnax environment id"):
        rl.make_env(1)


def _state_vector(state):
    return np.array([state.x, state.x_dot, state.theta, state.theta_dot], np.float64)


def _policy(rng, observation, controlled):
    """Random actions, or a noisy balancing controller that keeps the pole up for hundreds
    of steps (so the 500-step time limit is reached)."""
    if controlled and rng.random() > 0.1:
        return int(observation[2] + 0.5 * observation[3] > 0)
    return int(rng.integers(2))


@pytest.fixture(scope="module")
def cartpoles():
    gymnasium = pytest.importorskip("gymnasium")
    pytest.importorskip("gymnax")
    env, params = rl.make_env("CartPole-v1")
    step = jax.jit(lambda key, state, action: env.step(key, state, action, params))
    reset = jax.jit(lambda key: env.reset(key, params))
    return env, step, reset, gymnasium.make("CartPole-v1")


def test_gymnax_cartpole_matches_gymnasium_step_by_step(cartpoles):
    """From the same state and action, every step of many episodes gives the same next
    observation (float32 against gymnasium's float64), reward, termination and, at 500
    steps, truncation. Gymnasium's state is set to gymnax's before every step: the pole's
    dynamics are unstable, so float32 and float64 trajectories part after ~100 steps."""
    _, step, reset, reference = cartpoles
    rng = np.random.default_rng(0)
    endings = {"terminated": 0, "truncated": 0}
    steps = 0
    for episode in range(12):
        observation, state = reset(jax.random.key(episode))
        reference.reset(seed=episode)
        controlled = episode % 3 == 0
        for t in range(600):
            action = _policy(rng, np.asarray(observation), controlled)
            reference.unwrapped.state = _state_vector(state)
            ref_obs, ref_reward, ref_terminated, ref_truncated, _ = reference.step(action)
            observation, state, reward, terminated, truncated, info = step(
                jax.random.key(10_000 + steps), state, action
            )
            steps += 1
            np.testing.assert_allclose(
                info["final_observation"],
                ref_obs,
                rtol=1e-5,
                atol=1e-6,
                err_msg=f"episode {episode} step {t}",
            )
            assert float(reward) == ref_reward
            assert bool(terminated) == ref_terminated, (episode, t)
            assert bool(truncated) == ref_truncated, (episode, t)
            if ref_terminated or ref_truncated:
                endings["terminated" if ref_terminated else "truncated"] += 1
                assert t + 1 == 500 if ref_truncated else t + 1 < 500
                break
        else:
            pytest.fail(f"episode {episode} did not end within 600 steps")
    assert endings["terminated"] >= 8 and endings["truncated"] >= 1, endings
    assert steps > 1500


def test_gymnax_cartpole_trajectory_follows_gymnasium_without_resyncing(cartpoles):
    """The first 50 steps of free-running trajectories agree within float32 rounding."""
    _, step, reset, reference = cartpoles
    rng = np.random.default_rng(1)
    for episode in range(5):
        observation, state = reset(jax.random.key(100 + episode))
        reference.reset(seed=episode)
        reference.unwrapped.state = _state_vector(state)
        for t in range(50):
            action = _policy(rng, np.asarray(observation), controlled=True)
            ref_obs, _, ref_terminated, _, _ = reference.step(action)
            observation, state, _, terminated, _, info = step(jax.random.key(t), state, action)
            np.testing.assert_allclose(info["final_observation"], ref_obs, rtol=1e-4, atol=1e-5)
            assert bool(terminated) == ref_terminated
            if ref_terminated:
                break

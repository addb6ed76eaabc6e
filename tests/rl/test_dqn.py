"""The DQN loss, update and agent (jaxdl/rl/_dqn.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, losses, models, nn, optim, rl
from jaxdl.train import TrainState

# --- dqn_loss -------------------------------------------------------------------------------


def test_dqn_loss_is_the_huber_loss_of_the_taken_actions():
    q = jnp.array([[1.0, 2.0], [0.0, 5.0], [3.0, -1.0]])
    actions = jnp.array([1, 0, 0])
    targets = jnp.array([2.5, 3.0, 3.2])
    # errors -0.5, -3, -0.2: 0.125, 3 - 0.5, 0.02
    assert float(rl.dqn_loss(q, actions, targets)) == pytest.approx((0.125 + 2.5 + 0.02) / 3)
    assert float(rl.dqn_loss(q, actions, targets, loss_fn=losses.mse)) == pytest.approx(
        (0.25 + 9 + 0.04) / 3, rel=1e-6
    )


def test_dqn_loss_gradient_reaches_only_the_taken_actions_and_is_clipped():
    q = jnp.array([[1.0, 2.0], [0.0, 5.0]])
    actions, targets = jnp.array([1, 0]), jnp.array([2.5, 3.0])
    grad_q, grad_y = jax.grad(rl.dqn_loss, argnums=(0, 2))(q, actions, targets)
    np.testing.assert_allclose(grad_q, [[0.0, -0.5 / 2], [-1.0 / 2, 0.0]])  # clipped at -1
    np.testing.assert_array_equal(grad_y, 0.0)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (
            (jnp.zeros(3), jnp.zeros(3, jnp.int32), jnp.zeros(3)),
            ValueError,
            r"q_values must have shape \(batch, actions\), got \(3,\)",
        ),
        ((jnp.zeros((3, 2)), jnp.zeros(3), jnp.zeros(3)), TypeError, r"actions must be integers"),
        (
            (jnp.zeros((3, 2)), jnp.zeros(2, jnp.int32), jnp.zeros(3)),
            ValueError,
            r"actions and targets must have shape \(3,\) for q_values \(3, 2\), got actions \(2,\)",
        ),
        (
            (jnp.zeros((3, 2)), jnp.zeros(3, jnp.int32), jnp.zeros((3, 1))),
            ValueError,
            r"got actions \(3,\) and targets \(3, 1\)",
        ),
    ],
)
def test_dqn_loss_rejects_bad_inputs(args, error, match):
    with pytest.raises(error, match=match):
        rl.dqn_loss(*args)


# --- make_dqn_update ------------------------------------------------------------------------

NET = nn.Dense(3)
OBS = jax.random.normal(jax.random.key(0), (8, 4))
NEXT_OBS = jax.random.normal(jax.random.key(1), (8, 4))
BATCH = rl.Transition(
    OBS,
    jnp.array([0, 1, 2, 0, 1, 2, 0, 1]),
    jnp.arange(8, dtype=jnp.float32) / 4,
    NEXT_OBS,
    jnp.array([False, False, True, False, False, False, True, False]),
)


def _params(seed):
    return NET.init(jax.random.key(seed), OBS)[0]


def _by_hand(params, target_params, double, gamma=0.9, lr=0.1):
    """Targets in numpy, then one SGD step on the Huber loss of the taken Q-values."""
    q = lambda p, x: np.asarray(x @ p["w"] + p["b"])  # noqa: E731
    next_target, next_online = q(target_params, NEXT_OBS), q(params, NEXT_OBS)
    rows = np.arange(8)
    best = np.argmax(next_online if double else next_target, axis=1)
    done = np.asarray(BATCH.terminated)
    y = np.asarray(BATCH.reward) + gamma * (1 - done) * next_target[rows, best]

    def loss(p):
        taken = (OBS @ p["w"] + p["b"])[rows, BATCH.action]
        e = taken - y
        return jnp.mean(jnp.where(jnp.abs(e) <= 1, 0.5 * e**2, jnp.abs(e) - 0.5))

    grads = jax.grad(loss)(params)
    return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), float(loss(params))


@pytest.mark.parametrize("double", [False, True])
def test_update_is_one_sgd_step_on_the_hand_computed_loss(double):
    params, target_params = _params(2), _params(3)
    opt = optim.sgd(0.1)
    ts = TrainState.create(params=params, optimizer=opt)
    update = jax.jit(rl.make_dqn_update(NET, opt, gamma=0.9, double=double))
    new_ts, metrics = update(ts, target_params, BATCH)
    expected, expected_loss = _by_hand(params, target_params, double)
    assert int(new_ts.step) == 1
    assert float(metrics["loss"]) == pytest.approx(expected_loss, rel=1e-5)
    for name in ("w", "b"):
        np.testing.assert_allclose(new_ts.params[name], expected[name], rtol=1e-5, atol=1e-6)


def test_double_and_plain_updates_differ_and_the_target_params_matter():
    params, target_params = _params(2), _params(3)
    opt = optim.sgd(0.1)
    ts = TrainState.create(params=params, optimizer=opt)
    plain = rl.make_dqn_update(NET, opt, gamma=0.9)
    double = rl.make_dqn_update(NET, opt, gamma=0.9, double=True)
    a = plain(ts, target_params, BATCH)[0].params["w"]
    b = double(ts, target_params, BATCH)[0].params["w"]
    c = plain(ts, params, BATCH)[0].params["w"]
    assert not np.allclose(a, b) and not np.allclose(a, c)
    # Without a target network (target = online) the targets are still constants.
    expected, _ = _by_hand(params, params, double=False)
    np.testing.assert_allclose(c, expected["w"], rtol=1e-5, atol=1e-6)


def test_updates_compare_equal_when_built_alike():
    opt = optim.adam(1e-3)
    assert rl.make_dqn_update(NET, opt, gamma=0.9) == rl.make_dqn_update(NET, opt, gamma=0.9)
    assert rl.make_dqn_update(NET, opt) != rl.make_dqn_update(NET, opt, double=True)
    with pytest.raises(ValueError, match=r"make_dqn_update: gamma must lie in \[0, 1\]"):
        rl.make_dqn_update(NET, opt, gamma=1.01)


# --- the agent ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cartpole():
    pytest.importorskip("gymnax")
    return rl.make_env("CartPole-v1")


def _agent(env, **kwargs):
    settings = dict(
        num_envs=4,
        buffer_capacity=256,
        batch_size=16,
        learning_starts=30,
        train_every=2,
        target_period=6,
    )
    settings.update(kwargs)
    net = models.mlp(2, hidden=(16,), activation=activations.relu)
    return rl.DQN(env[0], net, optim.adam(1e-3), **settings)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_envs": 0}, ValueError, r"DQN: num_envs must be an int ≥ 1, got 0"),
        ({"buffer_capacity": 0}, ValueError, r"buffer_capacity must be an int ≥ 1"),
        ({"batch_size": -1}, ValueError, r"batch_size must be an int ≥ 1, got -1"),
        ({"train_every": 0}, ValueError, r"train_every must be an int ≥ 1"),
        ({"target_period": 0}, ValueError, r"target_period must be an int ≥ 1"),
        ({"gradient_steps": 0}, ValueError, r"gradient_steps must be an int ≥ 1"),
        ({"learning_starts": -1}, ValueError, r"learning_starts must be an int ≥ 0, got -1"),
        ({"buffer_capacity": 2}, ValueError, r"buffer_capacity \(2\) must be at least num_envs"),
        ({"gamma": 1.5}, ValueError, r"DQN: gamma must lie in \[0, 1\], got 1.5"),
        ({"epsilon": 2.0}, ValueError, r"DQN: epsilon must lie in \[0, 1\], got 2.0"),
        ({"epsilon": "0.1"}, ValueError, r"epsilon must be a number in \[0, 1\]"),
        ({"tau": -0.1}, ValueError, r"DQN: tau must lie in \[0, 1\]"),
        ({"double": 1}, TypeError, r"DQN: double must be a bool, got 1"),
    ],
)
def test_agent_rejects_bad_settings(cartpole, kwargs, error, match):
    with pytest.raises(error, match=match):
        _agent(cartpole, **kwargs)


def test_agent_rejects_a_network_with_the_wrong_number_of_outputs(cartpole):
    agent = rl.DQN(
        cartpole[0],
        models.mlp(3, hidden=(8,)),
        optim.adam(1e-3),
        num_envs=2,
        buffer_capacity=16,
        learning_starts=0,
    )
    with pytest.raises(ValueError, match=r"Q-values of shape \(2, 2\).*got \(2, 3\)"):
        jax.eval_shape(agent.init, jax.random.key(0))


def test_dqn_train_rounds_up_to_whole_iterations_and_needs_steps_past_the_warmup(cartpole):
    agent = _agent(cartpole, learning_starts=10)  # warm-up: 3 steps of 4 environments
    assert agent.warmup_steps == 12
    _, logs = jax.eval_shape(lambda k: rl.dqn_train(agent, k, 30), jax.random.key(0))
    assert logs.loss.shape == (3,)  # ceil((30 - 12) / (2 * 4))
    assert logs.episode_return.shape == (6, 4)
    several = _agent(cartpole, learning_starts=10, gradient_steps=5)
    _, logs = jax.eval_shape(lambda k: rl.dqn_train(several, k, 30), jax.random.key(0))
    assert logs.loss.shape == (15,) and logs.episode_return.shape == (6, 4)
    with pytest.raises(ValueError, match=r"env_steps \(12\) must exceed the warm-up of 12"):
        rl.dqn_train(agent, jax.random.key(0), 12)
    with pytest.raises(TypeError, match="key must be a JAX random key"):
        agent.init(0)


@pytest.fixture(scope="module")
def short_run(cartpole):
    agent = _agent(cartpole)
    init = jax.jit(agent.init)
    train = jax.jit(lambda state: agent.train(state, 3))
    start = init(jax.random.key(0))
    middle, first_logs = train(start)
    end, second_logs = train(middle)
    return agent, start, middle, end, first_logs, second_logs, init, train


def test_init_fills_the_buffer_with_the_warmup(short_run):
    agent, start, *_ = short_run
    assert agent.warmup_steps == 32  # learning_starts 30, 4 environments
    assert int(start.env_steps) == 32 and int(start.buffer.size) == 32
    assert int(start.train_state.step) == 0
    stored = start.buffer.storage
    assert set(np.unique(stored.action[:32])) <= {0, 1}
    # Next observations follow observations within each environment's stream.
    np.testing.assert_array_equal(
        stored.next_observation[:4][~stored.terminated[:4]],
        stored.observation[4:8][~stored.terminated[:4]],
    )


def test_train_takes_the_documented_steps_and_logs_episodes(short_run):
    _, _, middle, end, first_logs, second_logs, *_ = short_run
    assert int(middle.env_steps) == 32 + 3 * 2 * 4 and int(middle.train_state.step) == 3
    assert int(end.buffer.size) == 32 + 2 * 24
    assert first_logs.episode_return.shape == (6, 4) and first_logs.loss.shape == (3,)
    for logs in (first_logs, second_logs):
        done = np.asarray(logs.episode_done)
        returns = np.asarray(logs.episode_return)
        assert np.all(np.isnan(returns[~done]))
        assert np.all((returns[done] >= 1) & (returns[done] <= 500))
        assert np.all(returns[done] == np.round(returns[done]))  # one reward per step
        assert np.all(np.isfinite(np.asarray(logs.loss)))


def test_the_target_network_is_copied_every_target_period_updates(short_run):
    _, start, middle, end, *_ = short_run
    leaves = jax.tree_util.tree_leaves
    # After 3 updates (period 6) the target is still the initial network.
    for target, initial in zip(leaves(middle.target_params), leaves(start.train_state.params)):
        np.testing.assert_array_equal(target, initial)
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(leaves(middle.target_params), leaves(middle.train_state.params))
    )
    # After 6 it is a copy of the online network.
    for target, online in zip(leaves(end.target_params), leaves(end.train_state.params)):
        np.testing.assert_array_equal(target, online)


def test_runs_are_reproducible_from_the_key(short_run):
    *_, first_logs, _, init, train = short_run
    _, logs = train(init(jax.random.key(0)))
    np.testing.assert_array_equal(logs.loss, first_logs.loss)
    other = train(init(jax.random.key(1)))[1]
    assert not np.array_equal(other.loss, first_logs.loss)


def test_evaluate_runs_greedy_episodes(short_run):
    agent, _, _, end, *_ = short_run
    returns = np.asarray(agent.evaluate(end, jax.random.key(5), episodes=6))
    assert returns.shape == (6,)
    assert np.all((returns >= 1) & (returns <= 500)) and np.all(returns == np.round(returns))
    capped = np.asarray(agent.evaluate(end, jax.random.key(5), episodes=6, max_steps=5))
    assert np.all(capped <= 5)
    with pytest.raises(ValueError, match=r"DQN.evaluate: episodes must be an int ≥ 1, got 0"):
        agent.evaluate(end, jax.random.key(0), episodes=0)


def test_without_a_target_network_it_bootstraps_from_the_online_network(cartpole):
    agent = _agent(cartpole, target_network=False)
    state, _ = jax.jit(lambda key: agent.train(agent.init(key), 2))(jax.random.key(0))
    for target, online in zip(
        jax.tree_util.tree_leaves(state.target_params),
        jax.tree_util.tree_leaves(state.train_state.params),
    ):
        np.testing.assert_array_equal(target, online)


@pytest.mark.slow
def test_dqn_learns_cartpole(cartpole):
    net = models.mlp(2, hidden=(64, 64), activation=activations.relu)
    opt = optim.chain(optim.clip_by_global_norm(10.0), optim.adam(1e-3))
    agent = rl.DQN(
        cartpole[0],
        net,
        opt,
        num_envs=4,
        buffer_capacity=20_000,
        batch_size=64,
        learning_starts=2_000,
        target_period=100,
        epsilon=optim.linear_schedule(1.0, 0.05, 10_000),
    )
    state, _ = jax.jit(lambda key: rl.dqn_train(agent, key, 60_000))(jax.random.key(0))
    returns = agent.evaluate(state, jax.random.key(1), episodes=20)
    assert float(jnp.mean(returns)) > 100  # a random policy averages about 22


def test_stored_transitions_follow_gymnasiums_cartpole(short_run):
    """Every transition in the buffer is one CartPole step: gymnasium's reference
    implementation, put in the stored state and given the stored action, reaches the
    stored next observation and termination (time-limit truncations are not terminal)."""
    gymnasium = pytest.importorskip("gymnasium")
    *_, end, _, _, _, _ = short_run
    stored = jax.tree_util.tree_map(np.asarray, end.buffer.storage)
    reference = gymnasium.make("CartPole-v1").unwrapped
    reference.reset(seed=0)
    size = int(end.buffer.size)
    for i in range(size):
        reference.state = stored.observation[i].astype(np.float64)  # the state is observed
        reference.steps_beyond_terminated = None
        next_observation, reward, terminated, _, _ = reference.step(int(stored.action[i]))
        np.testing.assert_allclose(
            stored.next_observation[i], next_observation, rtol=1e-5, atol=1e-6
        )
        assert bool(stored.terminated[i]) == terminated and stored.reward[i] == reward
    assert 0 < stored.terminated[:size].sum() < size

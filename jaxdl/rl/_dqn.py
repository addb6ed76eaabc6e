"""Deep Q-networks: the loss, one update, and a whole agent loop in ``lax.scan``
(docs/concepts.md §10)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl import losses, nn, optim
from jaxdl._checks import check_int
from jaxdl.rl._buffer import ReplayBuffer, add_batch, replay_buffer, sample
from jaxdl.rl._checks import check_key, check_positive_int, check_unit_interval
from jaxdl.rl._policy import epsilon_greedy, greedy
from jaxdl.rl._targets import periodic_update, polyak_update, td_target
from jaxdl.train import TrainState

__all__ = [
    "DQN",
    "DQNLogs",
    "DQNState",
    "DQNUpdate",
    "Transition",
    "dqn_loss",
    "dqn_train",
    "make_dqn_update",
]

LossFn = Callable[[jax.Array, jax.Array], jax.Array]


class Transition(NamedTuple):
    """One step of experience :math:`(s, a, r, s', d)`, or a batch of them (a leading
    axis on every field).

    Fields:
        observation: :math:`s`, shape ``obs_shape``.
        action: :math:`a`, int32 scalar.
        reward: :math:`r`, float32 scalar.
        next_observation: :math:`s'`, the observation the step led to (before any
            automatic reset), shape ``obs_shape``.
        terminated: :math:`d`, bool: :math:`s'` is terminal (a time-limit truncation is
            not: its :math:`s'` is bootstrapped).
    """

    observation: jax.Array
    action: jax.Array
    reward: jax.Array
    next_observation: jax.Array
    terminated: jax.Array


def dqn_loss(
    q_values: ArrayLike,
    actions: ArrayLike,
    targets: ArrayLike,
    *,
    loss_fn: LossFn = losses.huber,
) -> jax.Array:
    """The DQN regression loss of the taken actions' Q-values on the TD targets.

    .. math:: L(\\theta) = \\frac1B \\sum_{i=1}^B \\ell\\big(Q_\\theta(s_i, a_i),\\,
              y_i\\big), \\qquad \\ell = \\text{Huber}_{\\delta=1} \\text{ by default}

    The Huber loss's gradient is the TD error clipped to ±1 (Mnih et al., 2015, clip the
    error term the same way); pass ``loss_fn=losses.mse`` for the squared error. No
    gradient flows into ``targets``.

    Arguments:
        q_values: :math:`Q_\\theta(s, \\cdot)`, shape ``(batch, actions)``.
        actions: the integer actions taken, shape ``(batch,)``.
        targets: the TD targets :math:`y` (:func:`jaxdl.rl.td_target`), shape ``(batch,)``.
        loss_fn: ``loss_fn(predictions, targets) -> scalar``.

    >>> dqn_loss(jnp.array([[1.0, 2.0], [0.0, 5.0]]), jnp.array([1, 0]), jnp.array([2.5, 3.0]))
    Array(1.3125, dtype=float32)
    """
    q = jnp.asarray(q_values)
    a = jnp.asarray(actions)
    y = jnp.asarray(targets)
    if q.ndim != 2:
        raise ValueError(f"dqn_loss: q_values must have shape (batch, actions), got {q.shape}.")
    if not jnp.issubdtype(a.dtype, jnp.integer):
        raise TypeError(f"dqn_loss: actions must be integers, got dtype {a.dtype}.")
    if a.shape != q.shape[:1] or y.shape != q.shape[:1]:
        raise ValueError(
            f"dqn_loss: actions and targets must have shape {q.shape[:1]} for q_values "
            f"{q.shape}, got actions {a.shape} and targets {y.shape}."
        )
    taken = jnp.take_along_axis(q, a[:, None], axis=-1)[:, 0]
    return loss_fn(taken, jax.lax.stop_gradient(y))


def make_dqn_update(
    q_network: nn.Layer,
    optimizer: optim.GradientTransformation,
    *,
    gamma: float = 0.99,
    double: bool = False,
    loss_fn: LossFn = losses.huber,
) -> DQNUpdate:
    """Build ``update(train_state, target_params, batch) -> (train_state, metrics)``.

    One update computes the TD targets of ``batch`` (a :class:`Transition` batch) with the
    target network's params (:func:`td_target`; Double DQN when ``double``), the loss
    :func:`dqn_loss` of the online network, its gradient, and one optimizer step. Pure:
    wrap it in ``jax.jit`` or call it inside ``lax.scan``. For DQN without a target
    network pass the online params as ``target_params``.

    Arguments:
        q_network: a layer mapping observations ``(batch, *obs_shape)`` to Q-values
            ``(batch, actions)``.
        optimizer: e.g. ``optim.chain(optim.clip_by_global_norm(10.0), optim.adam(5e-4))``.
        gamma: the discount :math:`\\gamma \\in [0, 1]`.
        double: Double DQN targets (argmax by the online network).
        loss_fn: the regression loss (default Huber).

    Returns:
        A :class:`DQNUpdate`; its metrics are ``loss`` and ``q_mean`` (the mean Q-value of
        the taken actions), computed before the update.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxdl import nn, optim, rl
        >>> from jaxdl.train import TrainState
        >>> net, opt = nn.Dense(2), optim.sgd(0.1)
        >>> params, state = net.init(jax.random.key(0), jnp.zeros((1, 3)))
        >>> ts = TrainState.create(params=params, state=state, optimizer=opt)
        >>> batch = rl.Transition(jnp.ones((4, 3)), jnp.array([0, 1, 0, 1]), jnp.ones(4),
        ...                       jnp.ones((4, 3)), jnp.array([False, False, True, True]))
        >>> update = jax.jit(rl.make_dqn_update(net, opt, gamma=0.9, double=True))
        >>> ts, metrics = update(ts, params, batch)
        >>> int(ts.step), sorted(metrics)
        (1, ['loss', 'q_mean'])
    """
    check_unit_interval("make_dqn_update", "gamma", gamma)
    return DQNUpdate(q_network, optimizer, float(gamma), bool(double), loss_fn)


@dataclasses.dataclass(frozen=True)
class DQNUpdate:
    """The update of :func:`make_dqn_update`; equal fields compare and hash equal."""

    q_network: nn.Layer
    optimizer: optim.GradientTransformation
    gamma: float = 0.99
    double: bool = False
    loss_fn: LossFn = losses.huber

    def __call__(
        self, train_state: TrainState, target_params: Any, batch: Transition
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        model_state = train_state.state
        next_q_target, _ = self.q_network.apply(target_params, model_state, batch.next_observation)

        def objective(params):
            q, new_state = self.q_network.apply(params, model_state, batch.observation, train=True)
            next_q_online = None
            if self.double:
                next_q_online, _ = self.q_network.apply(params, model_state, batch.next_observation)
            targets = td_target(
                batch.reward,
                batch.terminated,
                next_q_target,
                gamma=self.gamma,
                next_q_online=next_q_online,
            )
            loss = dqn_loss(q, batch.action, targets, loss_fn=self.loss_fn)
            taken = jnp.take_along_axis(q, batch.action[:, None], axis=-1)
            return loss, (jnp.mean(taken), new_state)

        (loss, (q_mean, new_state)), grads = jax.value_and_grad(objective, has_aux=True)(
            train_state.params
        )
        train_state = train_state.apply_gradients(grads, self.optimizer, state=new_state)
        return train_state, {"loss": loss, "q_mean": q_mean}


class DQNState(NamedTuple):
    """Everything a DQN run carries from one step to the next, as one pytree.

    Fields:
        train_state: the online network's :class:`jaxdl.train.TrainState` (its ``step``
            counts the gradient updates).
        target_params: the target network's params :math:`\\bar\\theta`.
        buffer: the :class:`ReplayBuffer` of :class:`Transition` s.
        env_state: the environments' states (a leading axis of ``num_envs``).
        observation: the current observations, ``(num_envs, *obs_shape)``.
        episode_return: the return so far of each environment's running episode.
        env_steps: int32 scalar, the environment steps taken over all environments.
        key: the ``jax.random`` key of what comes next.
    """

    train_state: TrainState
    target_params: Any
    buffer: ReplayBuffer
    env_state: Any
    observation: jax.Array
    episode_return: jax.Array
    env_steps: jax.Array
    key: jax.Array


class DQNLogs(NamedTuple):
    """What :meth:`DQN.train` records: per environment step (``T = iterations *
    train_every`` rows, one column per environment) and per update (``U = iterations *
    gradient_steps``).

    Fields:
        episode_return: ``(T, num_envs)`` float32, the return of the episode that ended at
            that step in that environment, NaN where none ended.
        episode_done: ``(T, num_envs)`` bool, where an episode ended (terminated or
            truncated).
        loss: ``(U,)``, the DQN loss of each update.
        q_mean: ``(U,)``, the mean Q-value of the sampled actions.
    """

    episode_return: jax.Array
    episode_done: jax.Array
    loss: jax.Array
    q_mean: jax.Array


@dataclasses.dataclass(frozen=True)
class DQN:
    """A DQN agent on a gymnax environment: acting and learning as pure functions, so a
    whole run is one ``lax.scan`` (and several seeds one ``vmap`` of it).

    Each training iteration takes ``train_every`` steps in each of ``num_envs``
    environments with the ε-greedy policy and stores the transitions in the replay
    buffer, then makes ``gradient_steps`` updates (:func:`make_dqn_update`), each on a
    uniformly sampled batch and each followed by the target network's update: a copy
    every ``target_period`` updates (:func:`periodic_update`) or, with ``tau``, a Polyak
    average (:func:`polyak_update`).

    Arguments:
        env: a gymnax environment (:func:`jaxdl.rl.make_env`) with discrete actions.
        q_network: observations ``(batch, *obs_shape)`` to Q-values ``(batch, actions)``.
        optimizer: the online network's optimizer.
        env_params: the environment's parameters (default ``env.default_params``).
        num_envs: environments stepped in parallel (``vmap``).
        buffer_capacity: the replay buffer's size, at least ``num_envs``.
        batch_size: transitions per update.
        gamma: the discount :math:`\\gamma`.
        epsilon: the exploration rate, a number or a schedule of the environment step
            (e.g. ``optim.linear_schedule(1.0, 0.05, transition_steps=20_000)``, the
            default), counted over all environments and including the warm-up.
        learning_starts: environment steps of uniformly random actions that fill the
            buffer before the first update (taken by :meth:`init`, rounded up to whole
            steps of all environments).
        train_every: steps of all environments per iteration.
        gradient_steps: updates per iteration (the replay ratio is ``batch_size *
            gradient_steps / (train_every * num_envs)`` samples per transition).
        target_period: updates between target-network copies.
        tau: Polyak averaging with this :math:`\\tau` after every update instead of copies.
        double: Double DQN targets.
        target_network: ``False`` bootstraps from the online network itself,
            :math:`y = r + \\gamma (1 - d) \\max_{a'} Q_\\theta(s', a')` (no gradient
            through it), the ablation that shows what the target network is for.
        loss_fn: the regression loss of the TD error (default Huber with δ = 1, as Mnih
            et al. on Atari's clipped rewards; with values of order 100, as CartPole's,
            ``losses.mse`` learns far better: experiments/dqn/README.md).

    Example:
        >>> import jax
        >>> from jaxdl import activations, models, optim, rl
        >>> env, env_params = rl.make_env("CartPole-v1")
        >>> net = models.mlp(2, hidden=(32,), activation=activations.relu)
        >>> agent = rl.DQN(env, net, optim.adam(1e-3), num_envs=4, buffer_capacity=1000,
        ...                learning_starts=200)
        >>> run = jax.jit(lambda key: agent.train(agent.init(key), iterations=100))
        >>> state, logs = run(jax.random.key(0))
        >>> int(state.env_steps), logs.episode_return.shape, logs.loss.shape
        (600, (100, 4), (100,))

    ``agent.evaluate(state, key, episodes=100)`` then gives the greedy policy's returns.
    """

    env: Any
    q_network: nn.Layer
    optimizer: optim.GradientTransformation
    env_params: Any = None
    num_envs: int = 1
    buffer_capacity: int = 50_000
    batch_size: int = 64
    gamma: float = 0.99
    epsilon: float | optim.Schedule = optim.linear_schedule(1.0, 0.05, 20_000)
    learning_starts: int = 1_000
    train_every: int = 1
    gradient_steps: int = 1
    target_period: int = 500
    tau: float | None = None
    double: bool = False
    target_network: bool = True
    loss_fn: LossFn = losses.huber

    def __post_init__(self) -> None:
        for name in (
            "num_envs",
            "buffer_capacity",
            "batch_size",
            "train_every",
            "gradient_steps",
            "target_period",
        ):
            object.__setattr__(self, name, check_positive_int("DQN", name, getattr(self, name)))
        learning_starts = check_int("DQN", "learning_starts", self.learning_starts, minimum=0)
        object.__setattr__(self, "learning_starts", learning_starts)
        if self.buffer_capacity < self.num_envs:
            raise ValueError(
                f"DQN: buffer_capacity ({self.buffer_capacity}) must be at least num_envs "
                f"({self.num_envs}): each step stores one transition per environment."
            )
        check_unit_interval("DQN", "gamma", self.gamma)
        if not callable(self.epsilon):
            check_unit_interval("DQN", "epsilon", self.epsilon)
        if self.tau is not None:
            check_unit_interval("DQN", "tau", self.tau)
        for name in ("double", "target_network"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"DQN: {name} must be a bool, got {getattr(self, name)!r}.")
        if self.env_params is None:
            object.__setattr__(self, "env_params", self.env.default_params)
        space = self.env.action_space(self.env_params)
        if not hasattr(space, "n"):
            raise ValueError(
                f"DQN: the environment needs a discrete action space, got {type(space).__name__}."
            )

    @property
    def num_actions(self) -> int:
        """The number of discrete actions of the environment."""
        return int(self.env.action_space(self.env_params).n)

    @property
    def warmup_steps(self) -> int:
        """The environment steps :meth:`init` takes (``learning_starts`` rounded up)."""
        return math.ceil(self.learning_starts / self.num_envs) * self.num_envs

    @property
    def update(self) -> DQNUpdate:
        """The agent's update step (:func:`make_dqn_update`)."""
        return make_dqn_update(
            self.q_network,
            self.optimizer,
            gamma=self.gamma,
            double=self.double,
            loss_fn=self.loss_fn,
        )

    def init(self, key: jax.Array) -> DQNState:
        """Initialise the network, its optimizer and target copy, the buffer and the
        environments, then take the ``learning_starts`` random warm-up steps."""
        check_key("DQN.init", key)
        init_key, reset_key, warmup_key = jax.random.split(key, 3)
        observation, env_state = jax.vmap(self.env.reset, in_axes=(0, None))(
            jax.random.split(reset_key, self.num_envs), self.env_params
        )
        params, model_state = self.q_network.init(init_key, observation)
        q_spec = jax.eval_shape(
            lambda p, s, x: self.q_network.apply(p, s, x)[0], params, model_state, observation
        )
        if q_spec.shape != (self.num_envs, self.num_actions):
            raise ValueError(
                f"DQN: q_network must map observations {observation.shape} to Q-values of "
                f"shape {(self.num_envs, self.num_actions)} (one per action), got "
                f"{q_spec.shape}."
            )
        example = Transition(
            observation=observation[0],
            action=jnp.zeros((), jnp.int32),
            reward=jnp.zeros((), jnp.float32),
            next_observation=observation[0],
            terminated=jnp.zeros((), bool),
        )
        state = DQNState(
            train_state=TrainState.create(
                params=params, state=model_state, optimizer=self.optimizer
            ),
            target_params=params,
            buffer=replay_buffer(self.buffer_capacity, example),
            env_state=env_state,
            observation=observation,
            episode_return=jnp.zeros(self.num_envs, jnp.float32),
            env_steps=jnp.zeros((), jnp.int32),
            key=warmup_key,
        )
        warmup = self.warmup_steps // self.num_envs
        if warmup:
            state, _ = jax.lax.scan(
                lambda s, _: self._act(s, explore=True), state, None, length=warmup
            )
        return state

    def train(self, state: DQNState, iterations: int) -> tuple[DQNState, DQNLogs]:
        """Run ``iterations`` training iterations (``iterations * train_every * num_envs``
        environment steps and ``iterations * gradient_steps`` updates) in one
        ``lax.scan``.

        ``iterations`` is static: jit with it fixed, e.g.
        ``jax.jit(lambda s: agent.train(s, 1000))``. Returns the new state and the logs.
        """
        iterations = check_positive_int("DQN.train", "iterations", iterations)
        update = self.update

        def iteration(state: DQNState, _):
            if self.train_every == 1:
                state, (returns, done) = self._act(state, explore=False)
                returns, done = returns[None], done[None]
            else:
                state, (returns, done) = jax.lax.scan(
                    lambda s, _: self._act(s, explore=False),
                    state,
                    None,
                    length=self.train_every,
                )
            if self.gradient_steps == 1:
                state, (loss, q_mean) = learn(state, None)
                loss, q_mean = loss[None], q_mean[None]
            else:
                state, (loss, q_mean) = jax.lax.scan(learn, state, None, length=self.gradient_steps)
            return state, (returns, done, loss, q_mean)

        def learn(state: DQNState, _):
            key, sample_key = jax.random.split(state.key)
            batch = sample(state.buffer, sample_key, self.batch_size)
            online = state.train_state.params
            target = state.target_params if self.target_network else online
            train_state, metrics = update(state.train_state, target, batch)
            new_online = train_state.params
            if not self.target_network:
                target_params = new_online
            elif self.tau is not None:
                target_params = polyak_update(state.target_params, new_online, self.tau)
            else:
                target_params = periodic_update(
                    state.target_params, new_online, train_state.step, self.target_period
                )
            state = state._replace(train_state=train_state, target_params=target_params, key=key)
            return state, (metrics["loss"], metrics["q_mean"])

        state, (returns, done, loss, q_mean) = jax.lax.scan(
            iteration, state, None, length=iterations
        )
        steps = iterations * self.train_every
        logs = DQNLogs(
            returns.reshape(steps, self.num_envs),
            done.reshape(steps, self.num_envs),
            loss.reshape(-1),
            q_mean.reshape(-1),
        )
        return state, logs

    def evaluate(
        self,
        state: DQNState,
        key: jax.Array,
        *,
        episodes: int = 100,
        max_steps: int | None = None,
    ) -> jax.Array:
        """The returns of ``episodes`` episodes of the greedy policy
        :math:`a = \\arg\\max_a Q_\\theta(s, a)`, run in parallel.

        Arguments:
            state: a :class:`DQNState` (its online network is evaluated).
            key: a ``jax.random`` key (the initial states and the environment's noise).
            episodes: the number of episodes.
            max_steps: steps per episode (default ``env_params.max_steps_in_episode``, the
                time limit, 500 for CartPole-v1).

        Returns:
            float32 returns, shape ``(episodes,)``.
        """
        check_key("DQN.evaluate", key)
        episodes = check_positive_int("DQN.evaluate", "episodes", episodes)
        if max_steps is None:
            max_steps = int(self.env_params.max_steps_in_episode)
        max_steps = check_positive_int("DQN.evaluate", "max_steps", max_steps)
        params, model_state = state.train_state.params, state.train_state.state
        reset_key, steps_key = jax.random.split(key)
        observation, env_state = jax.vmap(self.env.reset, in_axes=(0, None))(
            jax.random.split(reset_key, episodes), self.env_params
        )

        def step(carry, step_key):
            observation, env_state, total, alive = carry
            q, _ = self.q_network.apply(params, model_state, observation)
            observation, env_state, reward, terminated, truncated, _ = jax.vmap(
                self.env.step, in_axes=(0, 0, 0, None)
            )(jax.random.split(step_key, episodes), env_state, greedy(q), self.env_params)
            total = total + jnp.where(alive, reward, 0.0)
            alive = alive & ~(terminated | truncated)
            return (observation, env_state, total, alive), None

        carry = (observation, env_state, jnp.zeros(episodes, jnp.float32), jnp.ones(episodes, bool))
        (_, _, total, _), _ = jax.lax.scan(step, carry, jax.random.split(steps_key, max_steps))
        return total

    def _act(self, state: DQNState, *, explore: bool) -> tuple[DQNState, tuple]:
        """One ε-greedy step of every environment (uniformly random when ``explore``);
        the transitions go into the buffer."""
        key, action_key, step_key = jax.random.split(state.key, 3)
        ts = state.train_state
        if explore:
            q = jnp.zeros((self.num_envs, self.num_actions), jnp.float32)
            epsilon = 1.0
        else:
            q, _ = self.q_network.apply(ts.params, ts.state, state.observation)
            epsilon = self.epsilon(state.env_steps) if callable(self.epsilon) else self.epsilon
        action = epsilon_greedy(action_key, q, epsilon)
        observation, env_state, reward, terminated, truncated, info = jax.vmap(
            self.env.step, in_axes=(0, 0, 0, None)
        )(jax.random.split(step_key, self.num_envs), state.env_state, action, self.env_params)
        reward = reward.astype(jnp.float32)
        transition = Transition(
            state.observation, action, reward, info["final_observation"], terminated
        )
        done = terminated | truncated
        episode_return = state.episode_return + reward
        state = state._replace(
            buffer=add_batch(state.buffer, transition),
            env_state=env_state,
            observation=observation,
            episode_return=jnp.where(done, 0.0, episode_return),
            env_steps=state.env_steps + self.num_envs,
            key=key,
        )
        return state, (jnp.where(done, episode_return, jnp.nan), done)


def dqn_train(agent: DQN, key: jax.Array, env_steps: int) -> tuple[DQNState, DQNLogs]:
    """A whole DQN run, warm-up and training, as one program: :meth:`DQN.init` then
    :meth:`DQN.train` for at least ``env_steps`` environment steps in all.

    The training part is rounded up to whole iterations of ``train_every * num_envs``
    steps. Jit it with ``agent`` and ``env_steps`` fixed, and ``vmap`` it over keys to
    run several seeds at once::

        run = jax.jit(jax.vmap(lambda key: rl.dqn_train(agent, key, 100_000)))
        states, logs = run(jax.random.split(jax.random.key(0), 5))

    Arguments:
        agent: a :class:`DQN`.
        key: a ``jax.random`` key.
        env_steps: the total number of environment steps, more than
            ``agent.warmup_steps``.
    """
    env_steps = check_positive_int("dqn_train", "env_steps", env_steps)
    if env_steps <= agent.warmup_steps:
        raise ValueError(
            f"dqn_train: env_steps ({env_steps}) must exceed the warm-up of "
            f"{agent.warmup_steps} steps (learning_starts), or no update is made."
        )
    per_iteration = agent.train_every * agent.num_envs
    iterations = math.ceil((env_steps - agent.warmup_steps) / per_iteration)
    return agent.train(agent.init(key), iterations)

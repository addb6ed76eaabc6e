"""Reinforcement learning: deep Q-networks as pure functions over pytrees
(docs/concepts.md §10).

The pieces of DQN (Mnih et al., 2015) and Double DQN (van Hasselt et al., 2016), each
usable on its own and all jittable, so a whole run of acting and learning is one
``lax.scan``:

- the replay buffer: :func:`replay_buffer`, :func:`add`, :func:`add_batch`,
  :func:`sample` on a :class:`ReplayBuffer` pytree;
- action selection: :func:`greedy`, :func:`epsilon_greedy` (with a decaying ε from a
  :mod:`jaxdl.optim` schedule);
- targets: :func:`td_target` (DQN, and Double DQN with ``next_q_online``),
  :func:`periodic_update` and :func:`polyak_update` of the target network;
- learning: :func:`dqn_loss` (Huber of the TD error), :func:`make_dqn_update`;
- the agent: :class:`DQN` (``init``, ``train``, ``evaluate``) and :func:`dqn_train` on a
  gymnax environment from :func:`make_env` (gymnax is optional:
  ``pip install "jaxdl[rl]"``).

Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxdl import rl
    >>> rewards, terminated = jnp.array([1.0, 0.0]), jnp.array([False, True])
    >>> next_q = jnp.array([[1.0, 3.0], [5.0, 2.0]])
    >>> rl.td_target(rewards, terminated, next_q, gamma=0.5)   # r + γ(1 - d) max Q'
    Array([2.5, 0. ], dtype=float32)
"""

from jaxdl.rl._buffer import ReplayBuffer, add, add_batch, replay_buffer, sample
from jaxdl.rl._dqn import (
    DQN,
    DQNLogs,
    DQNState,
    DQNUpdate,
    Transition,
    dqn_loss,
    dqn_train,
    make_dqn_update,
)
from jaxdl.rl._envs import make_env
from jaxdl.rl._policy import epsilon_greedy, greedy
from jaxdl.rl._targets import periodic_update, polyak_update, td_target

__all__ = [
    "DQN",
    "DQNLogs",
    "DQNState",
    "DQNUpdate",
    "ReplayBuffer",
    "Transition",
    "add",
    "add_batch",
    "dqn_loss",
    "dqn_train",
    "epsilon_greedy",
    "greedy",
    "make_dqn_update",
    "make_env",
    "periodic_update",
    "polyak_update",
    "replay_buffer",
    "sample",
    "td_target",
]

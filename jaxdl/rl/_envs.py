"""Environments from gymnax, imported lazily: jaxdl itself does not need gymnax."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["make_env"]

INSTALL_HINT = 'pip install "jaxdl[rl]"'


def make_env(name: str = "CartPole-v1", **kwargs: Any) -> tuple[Any, Any]:
    """A JAX-native environment and its default parameters: ``gymnax.make(name)``.

    gymnax environments are pure functions, ``env.reset(key, params) -> (obs, state)`` and
    ``env.step(key, state, action, params) -> (obs, state, reward, terminated, truncated,
    info)``, so acting can run inside ``jit``, ``vmap`` and ``lax.scan`` together with
    learning (:class:`jaxdl.rl.DQN`). gymnax is an optional dependency, installed with
    ``pip install "jaxdl[rl]"``.

    Arguments:
        name: a gymnax environment id, e.g. ``"CartPole-v1"`` (gymnax's port of
            gymnasium's, with the same dynamics and its 500-step limit).
        kwargs: passed on to ``gymnax.make``.

    Returns:
        ``(env, env_params)``.

    >>> env, env_params = make_env("CartPole-v1")
    >>> env.name, env.num_actions, env_params.max_steps_in_episode
    ('CartPole-v1', 2, 500)
    """
    if not isinstance(name, str):
        raise TypeError(f"make_env: name must be a gymnax environment id, got {name!r}.")
    gymnax = import_gymnax()
    if name not in gymnax.registered_envs:
        raise ValueError(
            f"make_env: unknown gymnax environment {name!r}; known ones include "
            f"{', '.join(sorted(gymnax.registered_envs)[:8])}, …"
        )
    return gymnax.make(name, **kwargs)


def import_gymnax() -> ModuleType:
    """gymnax, or an ``ImportError`` that says how to install it."""
    try:
        return importlib.import_module("gymnax")
    except ImportError as error:
        raise ImportError(
            f"jaxdl.rl environments need gymnax, which is not installed: {INSTALL_HINT} "
            f"(or pip install gymnax). The import failed with: {error}"
        ) from error

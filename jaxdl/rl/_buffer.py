"""A fixed-capacity experience replay buffer as a pytree (docs/concepts.md §10)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import is_concrete
from jaxdl.rl._checks import check_key, check_positive_int

__all__ = ["ReplayBuffer", "add", "add_batch", "replay_buffer", "sample"]


class ReplayBuffer(NamedTuple):
    """A ring buffer of transitions: ``(storage, index, size)``, all pytree children.

    Fields:
        storage: the transitions, a pytree whose every leaf has a leading axis of length
            ``capacity`` (slot ``i`` of every leaf is one transition).
        index: int32 scalar, the slot the next transition is written to.
        size: int32 scalar, the number of filled slots, at most ``capacity``.

    The filled slots are always ``0 … size - 1``: the buffer fills from slot 0 and, once
    full, ``index`` wraps around and overwrites the oldest transition.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxdl import rl
        >>> buffer = rl.replay_buffer(3, {"obs": jnp.zeros(2), "reward": jnp.zeros(())})
        >>> for r in range(4):
        ...     buffer = rl.add(buffer, {"obs": jnp.full(2, r), "reward": jnp.array(r)})
        >>> buffer.storage["reward"], buffer.index, buffer.size
        (Array([3., 1., 2.], dtype=float32), Array(1, dtype=int32), Array(3, dtype=int32))
    """

    storage: Any
    index: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        """The number of slots (static: the storage's leading axis)."""
        return int(jax.tree_util.tree_leaves(self.storage)[0].shape[0])


def replay_buffer(capacity: int, example_transition: Any) -> ReplayBuffer:
    """An empty buffer of ``capacity`` slots, each shaped like ``example_transition``.

    Arguments:
        capacity: the number of transitions held, at least 1.
        example_transition: one transition, a pytree of arrays (e.g. an
            :class:`jaxdl.rl.Transition`); only its structure, shapes and dtypes are used.

    Returns:
        A :class:`ReplayBuffer` whose storage is zeros of shape ``(capacity, *leaf.shape)``
        per leaf, with ``index = size = 0``.
    """
    capacity = check_positive_int("replay_buffer", "capacity", capacity)
    leaves = jax.tree_util.tree_leaves(example_transition)
    if not leaves:
        raise ValueError("replay_buffer: example_transition has no array leaves.")
    storage = jax.tree_util.tree_map(
        lambda leaf: jnp.zeros((capacity, *np.shape(leaf)), _dtype(leaf)), example_transition
    )
    zero = jnp.zeros((), jnp.int32)
    return ReplayBuffer(storage, zero, zero)


def add(buffer: ReplayBuffer, transition: Any) -> ReplayBuffer:
    """Write one transition at ``index`` and advance it (a ring: overwrites the oldest).

    .. math:: D[i] \\leftarrow \\tau, \\quad i \\leftarrow (i + 1) \\bmod N, \\quad
              n \\leftarrow \\min(n + 1, N)

    ``transition`` must have the storage's tree structure and per-slot shapes; its leaves
    are cast to the storage's dtypes. Pure and jittable: it returns a new buffer.
    """
    _check_transition("add", buffer, transition, batched=False)
    capacity = buffer.capacity
    storage = jax.tree_util.tree_map(
        lambda slots, leaf: slots.at[buffer.index].set(jnp.asarray(leaf, slots.dtype)),
        buffer.storage,
        transition,
    )
    return ReplayBuffer(
        storage, (buffer.index + 1) % capacity, jnp.minimum(buffer.size + 1, capacity)
    )


def add_batch(buffer: ReplayBuffer, transitions: Any) -> ReplayBuffer:
    """Write ``k`` transitions (a leading axis of length ``k`` on every leaf) in order, as
    ``k`` calls of :func:`add` would, in one scatter.

    ``k`` must be at most the capacity (otherwise part of the batch would overwrite the
    rest of it). Used for vectorised environments: one transition per environment.
    """
    count = _check_transition("add_batch", buffer, transitions, batched=True)
    capacity = buffer.capacity
    if count > capacity:
        raise ValueError(
            f"add_batch: a batch of {count} transitions does not fit a buffer of capacity "
            f"{capacity}; add at most {capacity} at a time."
        )
    slots = (buffer.index + jnp.arange(count, dtype=jnp.int32)) % capacity
    storage = jax.tree_util.tree_map(
        lambda stored, leaf: stored.at[slots].set(jnp.asarray(leaf, stored.dtype)),
        buffer.storage,
        transitions,
    )
    return ReplayBuffer(
        storage, (buffer.index + count) % capacity, jnp.minimum(buffer.size + count, capacity)
    )


def sample(buffer: ReplayBuffer, key: jax.Array, batch_size: int) -> Any:
    """``batch_size`` transitions drawn uniformly, with replacement, from the filled slots.

    .. math:: i_1, \\dots, i_B \\overset{\\text{iid}}{\\sim} \\mathcal U\\{0, \\dots, n - 1\\}

    With replacement, one batch may hold a transition twice (rarely, once ``n`` is much
    larger than ``B``); it keeps every draw independent and costs one ``randint``.

    Arguments:
        buffer: a :class:`ReplayBuffer` holding ``n ≥ 1`` transitions.
        key: a ``jax.random`` key.
        batch_size: ``B ≥ 1``.

    Returns:
        The storage's pytree with a leading axis of length ``B`` on every leaf.

    An empty buffer raises ``ValueError`` when ``size`` is concrete; under ``jit`` it
    cannot be checked and the batch repeats slot 0 (zeros).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxdl import rl
        >>> buffer = rl.add_batch(rl.replay_buffer(8, jnp.zeros(())), jnp.arange(3.0))
        >>> batch = rl.sample(buffer, jax.random.key(0), 5)
        >>> batch.shape, bool(jnp.all(batch < 3))
        ((5,), True)
    """
    batch_size = check_positive_int("sample", "batch_size", batch_size)
    check_key("sample", key)
    if is_concrete(buffer.size) and int(buffer.size) < 1:
        raise ValueError("sample: the buffer is empty; add transitions before sampling.")
    indices = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree_util.tree_map(lambda slots: slots[indices], buffer.storage)


def _dtype(leaf: Any) -> np.dtype:
    dtype = getattr(leaf, "dtype", None)
    return np.dtype(
        jax.dtypes.canonicalize_dtype(dtype if dtype is not None else jnp.asarray(leaf).dtype)
    )


def _check_transition(name: str, buffer: ReplayBuffer, transition: Any, *, batched: bool) -> int:
    """Check the tree structure and the per-slot shapes; return the batch length (1 when
    not batched)."""
    if not isinstance(buffer, ReplayBuffer):
        raise TypeError(f"{name}: expected a ReplayBuffer, got {type(buffer).__name__}.")
    expected = jax.tree_util.tree_structure(buffer.storage)
    got = jax.tree_util.tree_structure(transition)
    if expected != got:
        raise ValueError(
            f"{name}: the transition's structure {got} differs from the buffer's {expected}."
        )
    counts = set()
    for (path, slots), leaf in zip(
        jax.tree_util.tree_leaves_with_path(buffer.storage), jax.tree_util.tree_leaves(transition)
    ):
        shape, slot = tuple(np.shape(leaf)), slots.shape[1:]
        if batched:
            fits, wanted = len(shape) >= 1 and shape[1:] == slot, f"(k, *{slot}) for k rows"
        else:
            fits, wanted = shape == slot, str(slot)
        if not fits:
            where = jax.tree_util.keystr(path) or "the transition"
            raise ValueError(f"{name}: {where} must have shape {wanted}, got {shape}.")
        if batched:
            counts.add(shape[0])
    if len(counts) > 1:
        raise ValueError(
            f"{name}: every leaf needs the same leading batch length, got {sorted(counts)}."
        )
    return counts.pop() if batched else 1

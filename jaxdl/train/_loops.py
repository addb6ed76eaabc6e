"""Whole epochs and whole evaluations as compiled programs, plus the streaming epoch.

``make_epoch``: one XLA program per epoch — shuffle on the device, then ``lax.scan`` over
the batches, gathering each batch from the on-device arrays (no per-batch Python).
``make_streaming_epoch``: the same epoch for data that stays in host memory, one jitted
step per batch. Both use the same permutation, batch keys and dropped remainder, so they
compute the same training run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import nn
from jaxdl.train._state import TrainState

__all__ = ["convolutions_on_cpu", "make_epoch", "make_evaluate", "make_streaming_epoch"]

StepFn = Callable[[TrainState, tuple[Any, Any], jax.Array], tuple[TrainState, dict]]
EvalFn = Callable[[TrainState, tuple[Any, Any]], dict]


def make_epoch(train_step: StepFn, batch_size: int) -> Callable:
    """Jitted ``epoch(train_state, x, y, key) -> (train_state, metrics)``.

    The ``n // batch_size`` batches of a random permutation (from ``key``) are visited by
    ``lax.scan``; the ``n % batch_size`` left-over samples are skipped this epoch (a new
    permutation each epoch skips different ones). ``metrics`` are the batch means.
    Compiles once per data shape.
    """

    @jax.jit
    def epoch(train_state: TrainState, x: jax.Array, y: jax.Array, key: jax.Array):
        order, step_keys = _epoch_plan(key, x.shape[0], batch_size)

        def body(ts, inputs):
            indices, step_key = inputs
            return train_step(ts, (x[indices], y[indices]), step_key)

        train_state, metrics = jax.lax.scan(body, train_state, (order, step_keys))
        return train_state, jax.tree_util.tree_map(jnp.mean, metrics)

    return epoch


def make_streaming_epoch(train_step: StepFn, batch_size: int) -> Callable:
    """``epoch(train_state, x, y, key)`` for host-resident data: each batch is gathered in
    host memory and sent to the device for one jitted step. Same results as
    :func:`make_epoch` (same permutation and keys), for data too large for the device."""
    step = jax.jit(train_step)
    plan = jax.jit(_epoch_plan, static_argnums=(1, 2))

    def epoch(train_state: TrainState, x: Any, y: Any, key: jax.Array):
        order, step_keys = plan(key, len(x), batch_size)
        order = np.asarray(order)
        totals = None
        for indices, step_key in zip(order, step_keys):
            train_state, metrics = step(train_state, (x[indices], y[indices]), step_key)
            totals = metrics if totals is None else jax.tree_util.tree_map(
                jnp.add, totals, metrics
            )
        return train_state, jax.tree_util.tree_map(lambda t: t / len(order), totals)

    return epoch


def make_evaluate(eval_step: EvalFn, batch_size: int) -> Callable:
    """Jitted ``evaluate(train_state, x, y) -> metrics``: exact means over all samples.

    Full batches run under ``lax.scan``; the remainder runs as one smaller batch, and each
    batch mean is weighted by its size. Compiles once per data shape.
    """

    @jax.jit
    def evaluate(train_state: TrainState, x: jax.Array, y: jax.Array) -> dict:
        n = x.shape[0]
        size = min(batch_size, n)
        full, rest = divmod(n, size)
        head = (x[: full * size], y[: full * size])
        batched = jax.tree_util.tree_map(lambda a: a.reshape(full, size, *a.shape[1:]), head)
        _, means = jax.lax.scan(lambda c, b: (c, eval_step(train_state, b)), None, batched)
        totals = jax.tree_util.tree_map(lambda m: jnp.sum(m) * size, means)
        if rest:
            tail = eval_step(train_state, (x[full * size :], y[full * size :]))
            totals = jax.tree_util.tree_map(lambda t, m: t + m * rest, totals, tail)
        return jax.tree_util.tree_map(lambda t: t / n, totals)

    return evaluate


def _epoch_plan(key: jax.Array, n: int, batch_size: int) -> tuple[jax.Array, jax.Array]:
    """Batch indices ``(num_batches, batch_size)`` of a permutation, and one key per batch."""
    permute_key, step_key = jax.random.split(key)
    num_batches = n // batch_size
    order = jax.random.permutation(permute_key, n)[: num_batches * batch_size]
    return order.reshape(num_batches, batch_size), jax.random.split(step_key, num_batches)


def convolutions_on_cpu(model: nn.Layer) -> bool:
    """Whether ``model`` has a convolution layer and runs on XLA:CPU, where a convolution's
    weight gradient inside a loop body is about 80 times slower than outside one
    (jax-ml/jax#12868): such models train one jitted step per batch, not a scanned epoch."""
    return jax.default_backend() == "cpu" and _has_convolution(model)


def _has_convolution(layer: nn.Layer) -> bool:
    if isinstance(layer, (nn.Conv1D, nn.Conv2D)):
        return True
    return any(_has_convolution(inner) for inner in getattr(layer, "layers", ()))

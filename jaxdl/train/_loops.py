"""Whole epochs and whole evaluations as compiled programs, plus the streaming epoch.

``make_epoch``: one XLA program per epoch — shuffle on the device, then ``lax.scan`` over
the batches, gathering each batch from the on-device arrays (no per-batch Python).
``make_streaming_epoch``: the same epoch for data that stays in host memory, one jitted
step per batch. Both use the same permutation, batch keys and dropped remainder, so they
compute the same training run.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import nn
from jaxdl.train._divergence import EpochHealth, all_finite, is_loss_name, state_is_finite
from jaxdl.train._state import TrainState

__all__ = [
    "FitEpoch",
    "cached",
    "collector_paused",
    "convolutions_on_cpu",
    "evaluate_batches",
    "make_epoch",
    "make_evaluate",
    "make_fit_epoch",
    "make_streaming_epoch",
    "scan_epoch",
]

StepFn = Callable[[TrainState, tuple[Any, Any], jax.Array], tuple[TrainState, dict]]
EvalFn = Callable[[TrainState, tuple[Any, Any]], dict]


def make_epoch(train_step: StepFn, batch_size: int) -> Callable:
    """Jitted ``epoch(train_state, x, y, key) -> (train_state, metrics)``.

    The ``n // batch_size`` batches of a random permutation (from ``key``) are visited by
    ``lax.scan``; the ``n % batch_size`` left-over samples are skipped this epoch (a new
    permutation each epoch skips different ones). ``metrics`` are the batch means.
    Compiles once per data shape, and once per process for equal steps: the jitted
    epoch is cached on ``(train_step, batch_size)`` (see :func:`cached`).
    """
    return cached(_jit_epoch, train_step, batch_size)


def scan_epoch(
    train_step: StepFn,
    batch_size: int,
    train_state: TrainState,
    x: jax.Array,
    y: jax.Array,
    key: jax.Array,
) -> tuple[TrainState, dict]:
    """The body of :func:`make_epoch`'s program, for use inside another traced function."""
    train_state, metrics = _scan_steps(train_step, batch_size, train_state, x, y, key)
    return train_state, jax.tree_util.tree_map(jnp.mean, metrics)


def _scan_steps(
    train_step: StepFn,
    batch_size: int,
    train_state: TrainState,
    x: jax.Array,
    y: jax.Array,
    key: jax.Array,
) -> tuple[TrainState, dict]:
    """:func:`scan_epoch` before the means: the metrics of every batch, ``(batches,)``."""
    order, step_keys = _epoch_plan(key, x.shape[0], batch_size)

    def body(ts, inputs):
        indices, step_key = inputs
        return train_step(ts, (x[indices], y[indices]), step_key)

    return jax.lax.scan(body, train_state, (order, step_keys))


def make_streaming_epoch(train_step: StepFn, batch_size: int) -> Callable:
    """``epoch(train_state, x, y, key)`` with one jitted step per batch: for data too large
    for the device (NumPy ``x``, ``y``: each batch is gathered in host memory and sent
    over), and for models that train faster stepped (device ``x``, ``y``: each step
    gathers its batch inside its program). Same results as :func:`make_epoch` (same
    permutation and keys).

    The steps donate their input state to their output, so the state is updated in
    place; the epoch first copies the state it is given, which therefore stays valid.
    The jitted steps are cached as :func:`make_epoch`'s program is.
    """
    stepped = _stepped_epoch(train_step)

    def epoch(train_state: TrainState, x: Any, y: Any, key: jax.Array):
        train_state, means, _ = stepped(train_state, x, y, _jit_plan(key, len(x), batch_size))
        return train_state, means

    return epoch


class FitEpoch:
    """The epoch :func:`jaxdl.train.fit` and :func:`jaxdl.train.fit_gan` run:
    ``epoch(train_state, x, y, data_key, number) -> (train_state, metrics, health)``.

    It is :func:`make_epoch`'s epoch (or, with ``streaming``, :func:`make_streaming_epoch`'s)
    for the key ``jax.random.fold_in(data_key, number)``, derived inside the compiled
    program rather than by a program of its own. ``health`` is an :class:`EpochHealth`
    for the divergence check: whether the state after the epoch is finite and the
    per-batch values of the watched losses (left on the device). The state is checked
    by :func:`state_is_finite` after the epoch (in NumPy on XLA:CPU, by one small
    program elsewhere), except that the compiled epoch computes the flag inside its own
    program when ``flag_in_program`` is true (default: on every backend but XLA:CPU).
    Its first call, which lowers and compiles those programs, runs with the garbage
    collector paused (:func:`collector_paused`). :meth:`check` traces the epoch's
    programs without running them.
    """

    def __init__(
        self,
        train_step: StepFn,
        batch_size: int,
        *,
        streaming: bool,
        flag_in_program: bool | None = None,
    ) -> None:
        self.train_step = train_step
        self.batch_size = batch_size
        self.streaming = streaming
        if flag_in_program is None:
            flag_in_program = jax.default_backend() != "cpu"
        self._called = False
        if streaming:
            self._stepped = _stepped_epoch(train_step)
        else:
            self._compiled = cached(_jit_fit_epoch, train_step, batch_size, flag_in_program)

    def __call__(
        self, train_state: Any, x: Any, y: Any, data_key: jax.Array, number: int
    ) -> tuple[Any, dict, EpochHealth]:
        if not self._called:  # the call that lowers and compiles the epoch's programs
            self._called = True
            with collector_paused():
                return self(train_state, x, y, data_key, number)
        if not self.streaming:
            train_state, means, watched, flag = self._compiled(train_state, x, y, data_key, number)
            finite = state_is_finite(train_state) if flag is None else flag
            return train_state, means, EpochHealth(finite, watched)
        plan = _jit_fit_plan(data_key, number, len(x), self.batch_size)
        train_state, means, steps = self._stepped(train_state, x, y, plan)
        watched = {name: [m[name] for m in steps] for name in means if is_loss_name(name)}
        return train_state, means, EpochHealth(state_is_finite(train_state), watched)

    def check(self, train_state: Any, x: Any, y: Any, data_key: Any, *, on_device: bool) -> None:
        """Trace (not compile, not run) the programs of an epoch on arguments shaped like
        these (arrays or ``jax.ShapeDtypeStruct``; ``on_device`` says whether the epoch
        will get device arrays or host ones), so that errors raised while tracing the
        step — a loss that does not return a scalar, a shape mismatch — come before
        anything compiles. JAX keeps the traces for the first real call."""
        x_spec, y_spec = (jax.ShapeDtypeStruct(np.shape(a), a.dtype) for a in (x, y))
        if not self.streaming:
            jax.eval_shape(self._compiled, train_state, x_spec, y_spec, data_key, 0)
            return
        order, step_keys = jax.eval_shape(
            _jit_fit_plan, data_key, 0, x_spec.shape[0], self.batch_size
        )
        if on_device:
            step = cached(_jit_device_step, self.train_step)
            jax.eval_shape(step, train_state, x_spec, y_spec, order, step_keys, 0)
        else:
            batch = tuple(
                jax.ShapeDtypeStruct((self.batch_size, *s.shape[1:]), s.dtype)
                for s in (x_spec, y_spec)
            )
            key = jax.ShapeDtypeStruct(step_keys.shape[1:], step_keys.dtype)
            jax.eval_shape(cached(_jit_host_step, self.train_step), train_state, batch, key)


def make_fit_epoch(
    train_step: StepFn, batch_size: int, *, streaming: bool, flag_in_program: bool | None = None
) -> FitEpoch:
    """The :class:`FitEpoch` of ``train_step`` (its programs cached as
    :func:`make_epoch`'s are)."""
    return FitEpoch(train_step, batch_size, streaming=streaming, flag_in_program=flag_in_program)


def _stepped_epoch(train_step: StepFn) -> Callable:
    """``stepped(train_state, x, y, plan)``: one jitted, donating step per batch of
    ``plan = (order, step_keys)``; the batch means of the metrics, and each batch's
    metrics (device values, not fetched)."""
    host_step = cached(_jit_host_step, train_step)
    device_step = cached(_jit_device_step, train_step)

    def stepped(train_state: TrainState, x: Any, y: Any, plan: tuple[jax.Array, jax.Array]):
        order, step_keys = plan
        on_device = isinstance(x, jax.Array) and isinstance(y, jax.Array)
        host_order = None if on_device else np.asarray(order)
        train_state = _jit_copy(train_state)
        totals = None
        steps = []
        for batch in range(order.shape[0]):
            if on_device:
                train_state, metrics = device_step(train_state, x, y, order, step_keys, batch)
            else:
                indices = host_order[batch]
                train_state, metrics = host_step(
                    train_state, (x[indices], y[indices]), step_keys[batch]
                )
            steps.append(metrics)
            totals = metrics if totals is None else jax.tree_util.tree_map(jnp.add, totals, metrics)
        means = jax.tree_util.tree_map(lambda t: t / order.shape[0], totals)
        return train_state, means, steps

    return stepped


def make_evaluate(eval_step: EvalFn, batch_size: int) -> Callable:
    """Jitted ``evaluate(train_state, x, y) -> metrics``: exact means over all samples.

    Full batches run under ``lax.scan``; the remainder runs as one smaller batch, and each
    batch mean is weighted by its size. Compiles once per data shape, and once per
    process for equal evaluation steps (cached as :func:`make_epoch`'s program is).
    """
    return cached(_jit_evaluate, eval_step, batch_size)


def evaluate_batches(
    eval_step: EvalFn, batch_size: int, train_state: TrainState, x: jax.Array, y: jax.Array
) -> dict:
    """The body of :func:`make_evaluate`'s program."""
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


def cached(build: Callable[..., Callable], *args: Hashable) -> Callable:
    """``build(*args)``, built once per process for equal (hashable) ``args``.

    ``fit`` and ``evaluate`` build their jitted programs through this, so a second call
    with the same model, loss, optimizer, metrics and batch size finds JAX's compiled
    executables (which ``jax.jit`` keeps per argument shape) instead of tracing and
    compiling again. What makes two calls "the same" is equality of the arguments: layers
    compare by their hyperparameters, functions and optimizers by identity (jaxdl's
    optimizer factories return the same object for the same hyperparameters). Arguments
    that cannot be hashed are built anew each time. At most ``CACHE_SIZE`` programs are
    kept, the least recently used dropped first.
    """
    try:
        hash(args)
    except TypeError:
        return build(*args)
    return _cached_build(build, *args)


CACHE_SIZE = 128


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the block (when it was running).

    Tracing and lowering a training program creates many short-lived Python objects, and
    the collections they trigger scan every object the process holds, JAX's own
    included. Tracing ``fit``'s MNIST-MLP epoch took 0.06–0.11 s with the collector
    paused against 0.14–0.17 s with it running (2-core CPU, fresh processes). Reference
    counting still frees everything that is not in a cycle; cycles wait for the next
    collection after the block.
    """
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()


@functools.lru_cache(maxsize=CACHE_SIZE)
def _cached_build(build: Callable[..., Callable], *args: Hashable) -> Callable:
    return build(*args)


def _jit_epoch(train_step: StepFn, batch_size: int) -> Callable:
    return jax.jit(functools.partial(scan_epoch, train_step, batch_size))


def _jit_fit_epoch(train_step: StepFn, batch_size: int, flag_in_program: bool) -> Callable:
    def epoch(train_state, x, y, data_key, number):
        key = jax.random.fold_in(data_key, number)
        train_state, steps = _scan_steps(train_step, batch_size, train_state, x, y, key)
        means = jax.tree_util.tree_map(jnp.mean, steps)
        watched = {name: values for name, values in steps.items() if is_loss_name(name)}
        # The flag made the MNIST MLP's epoch program 0.04-0.08 s slower to compile on
        # XLA:CPU, where state_is_finite reads the state in place instead.
        flag = all_finite(train_state) if flag_in_program else None
        return train_state, means, watched, flag

    return jax.jit(epoch)


def _jit_host_step(train_step: StepFn) -> Callable:
    return jax.jit(train_step, donate_argnums=0)


def _jit_device_step(train_step: StepFn) -> Callable:
    def step(train_state, x, y, order, step_keys, batch):
        indices = order[batch]
        return train_step(train_state, (x[indices], y[indices]), step_keys[batch])

    return jax.jit(step, donate_argnums=0)


# A copy of a state, so that donating it to the steps leaves the caller's state intact.
_jit_copy = jax.jit(lambda tree: jax.tree_util.tree_map(jnp.copy, tree))


def _jit_evaluate(eval_step: EvalFn, batch_size: int) -> Callable:
    return jax.jit(functools.partial(evaluate_batches, eval_step, batch_size))


def _epoch_plan(key: jax.Array, n: int, batch_size: int) -> tuple[jax.Array, jax.Array]:
    """Batch indices ``(num_batches, batch_size)`` of a permutation, and one key per batch."""
    permute_key, step_key = jax.random.split(key)
    num_batches = n // batch_size
    order = jax.random.permutation(permute_key, n)[: num_batches * batch_size]
    return order.reshape(num_batches, batch_size), jax.random.split(step_key, num_batches)


_jit_plan = jax.jit(_epoch_plan, static_argnums=(1, 2))


@functools.partial(jax.jit, static_argnums=(2, 3))
def _jit_fit_plan(data_key: jax.Array, number: Any, n: int, batch_size: int):
    return _epoch_plan(jax.random.fold_in(data_key, number), n, batch_size)


def convolutions_on_cpu(model: nn.Layer) -> bool:
    """Whether ``model`` has a convolution layer and runs on XLA:CPU, where a convolution's
    weight gradient inside a loop body is about 80 times slower than outside one
    (jax-ml/jax#12868): such models train one jitted step per batch, not a scanned epoch."""
    return jax.default_backend() == "cpu" and _has_convolution(model)


def _has_convolution(layer: nn.Layer) -> bool:
    """Whether ``layer`` is or holds a (transposed) convolution, looking through every
    container that lists its sublayers in ``layers`` (Sequential, Residual)."""
    if isinstance(layer, (nn.Conv1D, nn.Conv2D, nn.ConvTranspose1D, nn.ConvTranspose2D)):
        return True
    return any(_has_convolution(inner) for inner in getattr(layer, "layers", ()))

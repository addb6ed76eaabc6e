"""``fit`` and ``evaluate``: the familiar training entry points."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh
from jax.typing import DTypeLike

from jaxdl import nn, optim, parallel
from jaxdl._rng import merge_draws
from jaxdl.train._callbacks import Callback
from jaxdl.train._history import History
from jaxdl.train._inputs import (
    check_arrays,
    check_callbacks,
    check_flag,
    check_key,
    check_model,
    check_on_divergence,
    check_optimizer,
    check_parallel,
    check_progress,
    check_run,
    check_train_state,
    checked_data,
    output_spec,
    unpack,
)
from jaxdl.train._loops import (
    cached,
    collector_paused,
    convolutions_on_cpu,
    make_evaluate,
    make_fit_epoch,
)
from jaxdl.train._progress import run_epochs
from jaxdl.train._state import TrainState
from jaxdl.train._steps import LossFn, Metric, make_eval_step, make_train_step

__all__ = ["evaluate", "fit", "initial_state"]

# Data larger than this stays in host memory and is streamed batch by batch (fit's
# streaming=None); smaller data is put on the device once and each epoch is one program.
DEVICE_DATA_LIMIT_BYTES = 2**30


def fit(
    model: nn.Layer,
    optimizer: optim.GradientTransformation,
    train_data: Any,
    *,
    loss: LossFn,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    validation_data: Any = None,
    callbacks: Sequence[Callback] = (),
    metrics: Sequence[Metric] | None = None,
    progress: bool | str = True,
    train_state: TrainState | None = None,
    initial_epoch: int = 0,
    streaming: bool | None = None,
    eval_batch_size: int | None = None,
    compute_dtype: DTypeLike | None = None,
    mesh: Mesh | None = None,
    on_divergence: str = "stop",
) -> tuple[TrainState, History]:
    """Train ``model`` for ``epochs`` passes over ``train_data``; Keras' ``fit``, functional.

    Each epoch shuffles the training set with a key derived from ``key`` and the epoch
    number, then takes one optimizer step per batch of ``batch_size`` samples (the
    ``n % batch_size`` left over are skipped that epoch). When the data fits on the device
    (below 1 GiB) it is put there once and the whole epoch is one compiled program
    (``lax.scan``); otherwise batches stream from host memory, one jitted step each. Either
    way the step compiles once, and both loops compute the same run.

    One exception to the compiled epoch: on the CPU backend, a model with convolution
    layers runs one jitted step per batch (its data still on the device). XLA:CPU computes
    a convolution's weight gradient inside a loop body about 80 times slower than outside
    one (jax-ml/jax#12868; measured here: 3.9 s against 45 ms for a 5×5, 32→64 layer on a
    batch of 128), which made a scanned LeNet epoch 32 times slower than the stepped one.

    Arguments:
        model: a layer; it is initialised from ``x``'s shape unless ``train_state`` is given.
        optimizer: a :class:`jaxdl.optim.GradientTransformation` (or an optax one).
        train_data: ``(x, y)`` arrays (NumPy or JAX) with the same first dimension, or a
            dataset with ``x_train``/``y_train`` (e.g. :func:`jaxdl.data.mnist`).
        loss: ``loss(predictions, targets) -> scalar``, e.g.
            ``jaxdl.losses.softmax_cross_entropy``.
        epochs: the epoch to stop at (≥ 0); with ``initial_epoch``, epochs
            ``initial_epoch … epochs-1`` run.
        batch_size: samples per step (≥ 1; clipped to the number of samples).
        key: a JAX random key: initialisation, shuffling and dropout all derive from it, so
            the same key gives the same run.
        validation_data: ``(x_val, y_val)`` evaluated after each epoch (``val_*`` metrics).
        callbacks: e.g. :class:`EarlyStopping`, :class:`ModelCheckpoint`.
        metrics: extra metrics (default: accuracy for classification).
        progress: show a progress bar with the latest metrics (default True); a string
            shows it under that label.
        train_state: continue from this state (e.g. a restored checkpoint).
        initial_epoch: the epoch to start at when resuming (default 0).
        streaming: force one jitted step per batch (True) or the compiled epoch (False);
            default: by size, and by the exception above.
        eval_batch_size: batch size for validation (default ``batch_size``).
        compute_dtype: mixed precision: run the forward and backward passes in this
            floating dtype (e.g. ``jnp.bfloat16``) while params, optimizer state,
            batch-norm statistics and the loss stay in float32 (default ``None``: all
            float32). See :func:`make_train_step`.
        mesh: data parallelism over a :func:`jaxdl.parallel.data_mesh`: the state and
            the data are replicated on its devices, each batch is split over them and XLA
            sums the gradients (``batch_size`` must be a multiple of the number of
            devices). The run equals the single-device run up to float32 rounding.
            Default ``None``: one device.
        on_divergence: what to do when training diverges — an epoch's mean training
            loss is NaN or inf, or the state after it holds a NaN or inf (checked once
            per epoch: the mean losses, fetched anyway, and the state, read in place on
            XLA:CPU or reduced to one flag on the device elsewhere; nothing is fetched
            per step):

            - ``"stop"`` (default): stop, and return the state after the last finite
              epoch (the one before the divergence, or the initial state), with a
              ``RuntimeWarning`` naming the epoch and the first batch whose loss was
              non-finite. The diverged epoch is not recorded nor passed to the
              callbacks; ``history.stop_reason`` is ``"diverged"`` and
              ``history.divergence`` a :class:`Divergence` (epoch, batch, step, loss,
              value).
            - ``"raise"``: the same, but raise :class:`DivergenceError` (with the last
              finite state and the history as attributes) instead of returning.
            - ``"ignore"``: train on with NaN, as a plain loop would.

            Keras' ``TerminateOnNaN`` callback differs: it stops after the first NaN
            batch, returns the NaN weights and records the NaN epoch.

    Returns:
        ``(train_state, history)``.

    Raises:
        ValueError: before any compilation, for mismatched lengths, empty data, NaN/inf
            inputs, labels outside ``[0, classes)``, ``epochs < 0``, ``batch_size < 1``,
            validation data whose shape does not match the training data, a
            ``batch_size`` that the mesh's devices do not divide, a loss that does not
            return a scalar, a ``train_state`` whose params or optimizer state do not
            match the model and optimizer, or an unknown ``on_divergence``.
        TypeError: before any compilation, for a ``model`` that is not a layer, an
            ``optimizer`` that is not a ``GradientTransformation`` (such as the factory
            ``optim.adam`` not called), ``callbacks`` that are not a list of
            :class:`Callback` objects (a function, or one callback not in a list), a
            ``train_state`` that is not a :class:`TrainState`, ``streaming`` other than
            True, False or None, a non-integer ``epochs``/``batch_size``, a
            ``compute_dtype`` that is not floating, or a ``mesh`` that is not a
            ``jax.sharding.Mesh``.
        DivergenceError: with ``on_divergence="raise"``, when training diverges.

    Example:
        >>> import jax, numpy as np
        >>> from jaxdl import losses, nn, optim, train
        >>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
        >>> y = (x[:, 0] > 0).astype("int32")
        >>> ts, history = train.fit(nn.Dense(2), optim.adam(0.1), (x, y), epochs=5,
        ...     batch_size=16, loss=losses.softmax_cross_entropy, key=jax.random.key(0),
        ...     progress=False)
        >>> len(history["loss"]), history["accuracy"][-1] > 0.9
        (5, True)
    """
    # Every argument is checked before the first compilation: types and values first,
    # then the data, then (by tracing the epoch's programs) the model and the loss.
    check_model("fit", model)
    check_optimizer("fit", optimizer)
    check_run(epochs, batch_size, initial_epoch, eval_batch_size)
    check_key(key)
    callbacks = check_callbacks("fit", callbacks)
    check_flag("fit", "streaming", streaming)
    check_progress("fit", progress)
    check_on_divergence("fit", on_divergence)
    x, y, validation = checked_data(model, train_data, validation_data)
    if train_state is not None:
        check_train_state("fit", train_state, model, optimizer, x)
    batch_size = min(batch_size, len(x))
    devices = check_parallel(mesh, batch_size, "fit")
    train_step = make_train_step(
        model, loss, optimizer, metrics=metrics, compute_dtype=compute_dtype, mesh=mesh
    )
    eval_step = make_eval_step(model, loss, metrics=metrics, compute_dtype=compute_dtype, mesh=mesh)

    fits_on_device = x.nbytes + y.nbytes <= DEVICE_DATA_LIMIT_BYTES
    if streaming is None:
        streaming = not fits_on_device or convolutions_on_cpu(model)
    run_epoch = make_fit_epoch(train_step, batch_size, streaming=streaming)
    evaluate_fn = None
    if validation is not None:
        evaluate_fn = make_evaluate(eval_step, eval_batch_size or batch_size)
    # Where the data and the state live: the default device, or replicated on every
    # device of the mesh (each device then takes its share of each batch).
    place = (
        jax.device_put
        if devices is None
        else functools.partial(parallel.put, sharding=parallel.replicated(mesh))
    )
    on_device = fits_on_device or not streaming
    # Tracing creates many Python objects; the garbage collector's passes over all of
    # them would slow it down (collector_paused).
    with collector_paused():
        if devices is None:
            # Trace the epoch (and the validation pass) on abstract values before anything
            # compiles, so that a loss returning a vector, or a shape error in the step,
            # fails here; JAX keeps these traces for the real calls. (With a mesh, whose
            # shardings the abstract values lack, the step is traced at its first call.)
            if train_state is None:
                state_spec, key_spec = _initial_program(model, optimizer, x).eval_shape(key)
            else:
                state_spec, key_spec = train_state, jax.eval_shape(lambda k: _jit_split(k)[1], key)
            run_epoch.check(state_spec, x, y, key_spec, on_device=on_device)
            if evaluate_fn is not None:
                jax.eval_shape(evaluate_fn, state_spec, *validation)

        if train_state is None:
            train_state, data_key = _initial_state_and_key(model, optimizer, x, key)
        else:
            data_key = _jit_split(key)[1]
        if devices is not None:
            train_state = place(train_state)
        if on_device:
            x, y = place((x, y))
        if validation is not None:
            validation = place(validation)

    validate = None
    if evaluate_fn is not None:
        validate = functools.partial(_validate, evaluate_fn, validation)
    return run_epochs(
        run_epoch,
        train_state,
        (x, y),
        data_key,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        progress=progress,
        label="fit",
        validate=validate,
        on_divergence=on_divergence,
    )


def _validate(evaluate_fn: Any, validation: tuple[Any, Any], train_state: TrainState) -> Any:
    return evaluate_fn(train_state, *validation)


def evaluate(
    model: nn.Layer,
    train_state: TrainState,
    data: Any,
    *,
    loss: LossFn,
    batch_size: int = 256,
    metrics: Sequence[Metric] | None = None,
) -> dict[str, float]:
    """Mean loss and metrics of ``model`` in inference mode over all of ``data``.

    Arguments:
        data: ``(x, y)`` arrays or a dataset with ``x_test``/``y_test``.
        loss, metrics: as for :func:`fit`.
        batch_size: samples per compiled batch (the remainder runs as one smaller batch;
            the means are exact).

    Returns:
        ``{"loss": ..., "accuracy": ...}`` as Python floats.
    """
    x, y = unpack("data", data, split="test")
    check_run(0, batch_size, 0, None)
    check_arrays("data", x, y, output_spec(model, x))
    evaluate_fn = make_evaluate(make_eval_step(model, loss, metrics=metrics), batch_size)
    return {name: float(value) for name, value in evaluate_fn(train_state, x, y).items()}


def initial_state(
    model: nn.Layer, optimizer: optim.GradientTransformation, x: Any, key: jax.Array
) -> TrainState:
    """``TrainState.create`` for ``model.init(key, x)``: the model initialised for inputs
    shaped like one sample of ``x``, with the optimizer's state, as one compiled program
    (cached per model, optimizer and input shape, as the training programs are)."""
    shape, dtype = (1, *x.shape[1:]), np.dtype(x.dtype)
    return cached(_jit_initial_state, model, optimizer, shape, dtype, False)(key)


def _initial_state_and_key(
    model: nn.Layer, optimizer: optim.GradientTransformation, x: Any, key: jax.Array
) -> tuple[TrainState, jax.Array]:
    """``fit``'s start: ``init_key, data_key = split(key)``, the initial state from
    ``init_key``, and ``data_key``, all in one compiled program."""
    return _initial_program(model, optimizer, x)(key)


def _initial_program(model: nn.Layer, optimizer: optim.GradientTransformation, x: Any):
    shape, dtype = (1, *x.shape[1:]), np.dtype(x.dtype)
    return cached(_jit_initial_state, model, optimizer, shape, dtype, True)


def _jit_initial_state(
    model: nn.Layer,
    optimizer: optim.GradientTransformation,
    shape: tuple,
    dtype: Any,
    split: bool,
):
    def create(key: jax.Array) -> TrainState:
        params, state = model.init(key, jax.ShapeDtypeStruct(shape, dtype))
        return TrainState.create(params=params, state=state, optimizer=optimizer)

    def create_and_split(key: jax.Array) -> tuple[TrainState, jax.Array]:
        init_key, data_key = jax.random.split(key)
        return create(init_key), data_key

    # Its threefry draws merged: the same numbers from fewer generator loops to compile.
    return jax.jit(merge_draws(create_and_split if split else create))


_jit_split = jax.jit(jax.random.split)

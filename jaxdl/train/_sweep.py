"""``fit_sweep``: many independent training runs — seeds × hyperparameters — trained
together, ``jax.vmap``-ed over a leading axis of runs into one compiled program per epoch
(sweeps are vmapped, not looped in Python: docs/architecture.md); on CPU, convolution
models run one compiled program per batch that holds every run (jax-ml/jax#12868)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.typing import ArrayLike

from jaxdl import nn, optim, parallel
from jaxdl._checks import ArgumentTypeError
from jaxdl._rng import merge_draws
from jaxdl.train._inputs import (
    check_int,
    check_key,
    check_model,
    check_parallel,
    check_run,
    checked_data,
    describe,
)
from jaxdl.train._loops import (
    _epoch_plan,
    cached,
    convolutions_on_cpu,
    make_evaluate,
    scan_epoch,
)
from jaxdl.train._progress import progress_bar
from jaxdl.train._state import TrainState
from jaxdl.train._steps import LossFn, Metric, make_eval_step, make_train_step

__all__ = ["fit_sweep"]

OptimizerFactory = Callable[..., optim.GradientTransformation]


def fit_sweep(
    model: nn.Layer,
    make_optimizer: OptimizerFactory,
    train_data: Any,
    *,
    loss: LossFn,
    epochs: int,
    batch_size: int,
    keys: jax.Array,
    hyperparameters: Mapping[str, ArrayLike] | None = None,
    validation_data: Any = None,
    metrics: Sequence[Metric] | None = None,
    progress: bool | str = True,
    eval_batch_size: int | None = None,
    stepped: bool | None = None,
    mesh: Mesh | None = None,
) -> tuple[TrainState, dict[str, np.ndarray]]:
    r"""Train ``runs`` independent copies of ``model`` at once: one per key and
    hyperparameter row, ``jax.vmap``-ed into one compiled program per epoch (per batch
    for convolution models on CPU, see below).

    Run :math:`r` is exactly :func:`fit` with ``key=keys[r]`` and the optimizer
    ``make_optimizer(**{name: values[r] for name, values in hyperparameters.items()})``:
    the same initialisation, shuffling, batches and dropout keys. The training steps,
    the compiled epoch (:func:`make_epoch`) and the validation pass (:func:`make_evaluate`)
    are those of :func:`fit`, mapped over a leading ``runs`` axis of the training state,
    the keys and the hyperparameters, while the data is shared by all runs. On one
    device, a sweep over learning rates (or anything that does not enter an expression
    with the step counter) gives each run's state bit for bit as :func:`fit` does: the
    runs' step counters are shared, not vmapped (see ``_SharedCounterEpochs``). Sweeping
    Adam's ``b1``/``b2`` (which enter its bias correction), or splitting the runs over a
    ``mesh``, leaves float32 rounding differences of a few ulp (below 1e-6 after a few
    epochs in the tests). The program
    is traced once, so ``make_optimizer`` receives traced scalars: it may pass them to an
    optimizer (learning rates, momenta, decays) but not branch on them in Python. For a
    grid crossed with seeds, flatten both into rows, e.g. ``np.repeat(grid, seeds)``
    beside ``jax.random.split(key, len(grid) * seeds)``.

    Models with convolution layers on the CPU backend are the exception, as in
    :func:`fit` (jax-ml/jax#12868: XLA:CPU computes a convolution's weight gradient
    about 80 times slower inside a loop body). They train *stepped*: one compiled program
    per batch that steps every run, holding one copy of the step per run rather than a
    ``vmap``-ed one — a ``vmap``-ed convolution becomes a grouped convolution, which
    XLA:CPU runs 2.5–2.7 times slower than separate ones. Measured by
    ``bench/bench_sweep.py`` (LeNet, 28×28 batches of 128, 4 runs, 2-core CPU): 0.30 s
    per step stepped, 0.78 s stepped with ``vmap``, 17.8 s scanned with ``vmap``, and
    0.32 s for the four runs trained one after another by :func:`fit`. The program, and
    its compile time, grow with the number of runs. The runs are the same either way.

    Arguments:
        model: a layer; every run is initialised from ``x``'s shape with its own key.
        make_optimizer: ``make_optimizer(**row) -> GradientTransformation``, e.g.
            ``optim.adam`` (called with ``learning_rate=...``) or a ``lambda``. It is
            first called once per run with Python scalars, so bad values (a negative
            learning rate, an unknown name) fail before anything compiles.
        train_data: ``(x, y)`` arrays or a dataset with ``x_train``/``y_train``, as for
            :func:`fit`; it must fit on the device.
        loss: ``loss(predictions, targets) -> scalar``, e.g.
            ``jaxdl.losses.softmax_cross_entropy``.
        epochs: passes over the data (≥ 1).
        batch_size: samples per step (≥ 1; clipped to the number of samples).
        keys: one JAX random key per run, shape ``(runs,)`` (``jax.random.split(key,
            runs)``); run ``r``'s initialisation, shuffling and dropout derive from
            ``keys[r]`` as :func:`fit`'s do from ``key``.
        hyperparameters: ``{name: values}`` with one value per run (shape ``(runs,)``),
            passed to ``make_optimizer`` by keyword (default ``None``: no arguments, a
            sweep over keys only).
        validation_data: ``(x_val, y_val)`` evaluated after each epoch (``val_*`` metrics).
        metrics: extra metrics (default: accuracy for classification).
        progress: show a progress bar over the epochs with the best run's loss and
            validation accuracy (default ``True``); a string shows it under that label.
        eval_batch_size: batch size for validation (default ``batch_size``).
        stepped: one compiled program per batch stepping all runs (True) or per epoch
            (False); default: stepped for convolution models on CPU, as above.
        mesh: split the runs over this :func:`jaxdl.parallel.data_mesh`'s devices (the
            number of runs must be a multiple of the number of devices); each device
            trains its runs on its own copy of the data, with no communication between
            devices. Default ``None``: one device.

    Returns:
        ``(train_state, history)``: the final :class:`TrainState` of every run, stacked
        along a leading ``runs`` axis (``train_state.params["0"]["w"][r]`` is run ``r``'s
        weight), and ``{"loss": ..., "accuracy": ..., "val_loss": ..., "val_accuracy":
        ...}`` of NumPy arrays of shape ``(runs, epochs)``: per-epoch training means and
        validation metrics, as in :func:`fit`'s ``History``.

    Raises:
        ValueError: before any compilation, for everything :func:`fit` checks, for
            ``epochs < 1``, for a ``keys`` array that is not one key per run, for
            hyperparameters whose number of values is not the number of keys, for
            hyperparameters that ``make_optimizer`` rejects, and for ``stepped`` other
            than True, False or None.
        TypeError: ``keys`` is not an array of JAX random keys.

    Example:
        >>> import jax, numpy as np
        >>> from jaxdl import losses, nn, optim, train
        >>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
        >>> y = (x[:, 0] > 0).astype("int32")
        >>> rates = np.repeat([0.01, 0.1], 2)          # two learning rates × two seeds
        >>> keys = jax.random.split(jax.random.key(0), len(rates))
        >>> ts, history = train.fit_sweep(nn.Dense(2), optim.sgd, (x, y),
        ...     loss=losses.softmax_cross_entropy, epochs=5, batch_size=16, keys=keys,
        ...     hyperparameters={"learning_rate": rates}, progress=False)
        >>> ts.params["w"].shape, history["loss"].shape
        ((4, 3, 2), (4, 5))
        >>> bool(history["loss"][2:, -1].max() < history["loss"][:2, -1].min())
        True
    """
    check_int("fit_sweep", "epochs", epochs, minimum=1)
    check_run(epochs, batch_size, 0, eval_batch_size, name="fit_sweep")
    check_model("fit_sweep", model)
    if not callable(make_optimizer):
        raise TypeError(
            "fit_sweep: make_optimizer must be a function of the hyperparameters returning "
            f"an optimizer, such as optim.adam (not called), got {describe(make_optimizer)}."
        )
    if not (stepped is None or isinstance(stepped, (bool, np.bool_))):
        raise ArgumentTypeError(f"fit_sweep: stepped must be True, False or None, got {stepped!r}.")
    runs = _count_runs(keys)
    devices = check_parallel(mesh, runs, "fit_sweep", what="number of runs")
    rows = _hyperparameter_rows(hyperparameters, runs)
    for run, row in enumerate(rows):
        _check_optimizer(make_optimizer, row, run)
    x, y, validation = checked_data(model, train_data, validation_data)

    batch_size = min(batch_size, len(x))
    if stepped is None:
        stepped = convolutions_on_cpu(model)
    init_runs, epoch_runs = cached(
        _sweep_programs,
        model,
        loss,
        make_optimizer,
        _metrics_key(metrics),
        batch_size,
        eval_batch_size or batch_size,
        stepped,
        runs,
        (1, *x.shape[1:]),
        x.dtype,
        devices is None,
    )

    columns = {name: jnp.asarray(values) for name, values in (hyperparameters or {}).items()}
    init_keys, data_keys = _split_each(keys)
    train_state = init_runs(init_keys, columns)
    if devices is None:
        x, y, validation = jax.device_put((x, y, validation))
    else:
        # The runs are split over the devices; the data is whole on each.
        by_run = parallel.batch_sharding(mesh)
        train_state, columns, data_keys = parallel.put((train_state, columns, data_keys), by_run)
        x, y, validation = parallel.put((x, y, validation), parallel.replicated(mesh))
    logs_per_epoch: list[dict[str, np.ndarray]] = []
    label = progress if isinstance(progress, str) else "fit_sweep"
    bar = progress_bar(range(epochs), enabled=bool(progress), label=label)
    for epoch in bar:
        train_state, logs = epoch_runs(
            train_state, columns, data_keys, jnp.int32(epoch), x, y, validation
        )
        logs_per_epoch.append(jax.device_get(logs))
        if progress:
            bar.set_postfix(_best_of(logs_per_epoch[-1]))
    history = {
        name: np.stack([logs[name] for logs in logs_per_epoch], axis=1)
        for name in logs_per_epoch[0]
    }
    return train_state, history


def _sweep_programs(
    model: nn.Layer,
    loss: LossFn,
    make_optimizer: OptimizerFactory,
    metrics: tuple[Metric, ...] | None,
    batch_size: int,
    eval_batch_size: int,
    stepped: bool,
    runs: int,
    sample_shape: tuple[int, ...],
    sample_dtype: Any,
    share_counters: bool,
) -> tuple[Callable, Callable]:
    """``(init_runs, epoch_runs)``: the sweep's initialisation and its compiled epoch,
    built once per process for equal arguments (see :func:`jaxdl.train._loops.cached`)."""
    evaluate_fn = make_evaluate(make_eval_step(model, loss, metrics=metrics), eval_batch_size)

    # The model's initialisation is one compiled program, shared by every sweep of this
    # model and sample shape whatever its optimizer; the optimizer's state (zeros and
    # counters) is built op by op, whose small compilations are shared across sweeps too.
    init_models = cached(_jit_init_models, model, sample_shape, sample_dtype)

    def init_runs(init_keys: jax.Array, columns: dict[str, jax.Array]) -> TrainState:
        params, state = init_models(init_keys)

        def create(params, state, row):
            return TrainState.create(params=params, state=state, optimizer=make_optimizer(**row))

        return jax.vmap(create)(params, state, columns)

    def train_step_for(row: dict[str, jax.Array]) -> Callable:
        # Built inside the trace, so the optimizer's hyperparameters are traced.
        return make_train_step(model, loss, make_optimizer(**row), metrics=metrics)

    def epoch_run(
        train_state: TrainState,
        row: dict[str, jax.Array],
        data_key: jax.Array,
        epoch: jax.Array,
        x: jax.Array,
        y: jax.Array,
        validation: tuple[jax.Array, jax.Array] | None,
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        epoch_key = jax.random.fold_in(data_key, epoch)
        train_state, logs = scan_epoch(
            train_step_for(row), batch_size, train_state, x, y, epoch_key
        )
        if validation is not None:
            logs = _with_validation(logs, evaluate_fn(train_state, *validation))
        return train_state, logs

    if stepped:
        epoch_runs = _stepped_epochs(train_step_for, evaluate_fn, batch_size, runs)
    else:
        epoch_runs = _SharedCounterEpochs(epoch_run, runs, enabled=share_counters)
    return init_runs, epoch_runs


class _SharedCounterEpochs:
    """``epoch_runs`` of the vmapped sweep, with the step counters shared by the runs.

    Why: with ``vmap``, a counter held per run (``TrainState.step``, an optimizer's
    ``count``) makes every quantity derived from it a vector over the runs, and XLA
    simplifies the resulting expressions differently from :func:`fit`'s scalar ones.
    For Adam, ``fit`` compiles the bias-corrected update
    ``(m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)`` as
    ``m / ((1 - b1**t) * (sqrt(v / (1 - b2**t)) + eps))``, dividing by the scalar,
    while the vmapped step multiplies by the per-run reciprocals ``1 / (1 - b**t)``: the
    runs then drifted from ``fit`` by about one float32 ulp
    per step (6e-8 on the parameters after 3 epochs). The runs' counters are equal by
    construction (same batch size, same number of batches, all from 0), so they are
    passed unbatched (``in_axes=None``): the program computes them, and everything
    derived from them alone, as ``fit`` does, and each run equals ``fit`` bit for bit.
    Hyperparameters that enter such an expression (``b1``, ``b2``) are vectors over the
    runs whatever is shared, so sweeping them leaves a difference of that size.

    An integer leaf of the state is taken for a counter. One that depends on its run's
    data (a count of skipped non-finite updates, say) makes tracing fail (a batched
    output declared unbatched); the epoch then falls back, once, to every leaf batched.
    Disabled (``enabled=False``) for sweeps split over a mesh.
    """

    def __init__(self, epoch_run: Callable, runs: int, *, enabled: bool) -> None:
        self.epoch_run = epoch_run
        self.runs = runs
        self.enabled = enabled
        self._programs: dict[tuple[bool, ...], Callable] = {}

    def _program(self, treedef: Any, shared: tuple[bool, ...]) -> Callable:
        if (treedef, shared) not in self._programs:
            axes = jax.tree_util.tree_unflatten(treedef, [None if s else 0 for s in shared])
            self._programs[treedef, shared] = jax.jit(
                jax.vmap(
                    self.epoch_run,
                    in_axes=(axes, 0, 0, None, None, None, None),
                    out_axes=(axes, 0),
                )
            )
        return self._programs[treedef, shared]

    def __call__(self, train_state, columns, data_keys, epoch, x, y, validation):
        leaves, treedef = jax.tree_util.tree_flatten(train_state)
        shared = tuple(self.enabled and jnp.issubdtype(leaf.dtype, jnp.integer) for leaf in leaves)
        if (
            any(shared)
            and self.enabled
            and not all(bool(jnp.all(leaf == leaf[0])) for leaf, s in zip(leaves, shared) if s)
        ):
            self.enabled, shared = False, (False,) * len(leaves)
        if not any(shared):
            return self._program(treedef, shared)(
                train_state, columns, data_keys, epoch, x, y, validation
            )
        squeezed = [leaf[0] if s else leaf for leaf, s in zip(leaves, shared)]
        try:
            new_state, logs = self._program(treedef, shared)(
                jax.tree_util.tree_unflatten(treedef, squeezed),
                columns,
                data_keys,
                epoch,
                x,
                y,
                validation,
            )
        except ValueError:  # a counter depends on its run (or a genuine error, raised again)
            self.enabled = False
            return self(train_state, columns, data_keys, epoch, x, y, validation)
        new_leaves = jax.tree_util.tree_leaves(new_state)
        stacked = [
            jnp.broadcast_to(leaf, (self.runs, *leaf.shape)) if s else leaf
            for leaf, s in zip(new_leaves, shared)
        ]
        return jax.tree_util.tree_unflatten(treedef, stacked), logs


def _jit_init_models(model: nn.Layer, sample_shape: tuple[int, ...], sample_dtype: Any):
    sample = jax.ShapeDtypeStruct(sample_shape, sample_dtype)
    return jax.jit(merge_draws(jax.vmap(lambda key: model.init(key, sample))))


def _metrics_key(metrics: Sequence[Metric] | None) -> tuple[Metric, ...] | None:
    return None if metrics is None else tuple(metrics)


def _stepped_epochs(
    train_step_for: Callable, evaluate_fn: Callable, batch_size: int, runs: int
) -> Callable:
    """``epoch_runs`` of :func:`fit_sweep` as one compiled step of all runs per batch.

    Each run sees the batches and keys of :func:`fit`'s stepped epoch
    (:func:`make_streaming_epoch`): the same plan, the same means of batch metrics.
    """

    def step_run(train_state, row, x, y, indices, step_key):
        return train_step_for(row)(train_state, (x[indices], y[indices]), step_key)

    step_all = jax.jit(_unrolled(step_run, runs, in_axes=(0, 0, None, None, 0, 0)))
    evaluate_all = jax.jit(_unrolled(evaluate_fn, runs, in_axes=(0, None, None)))

    @functools.partial(jax.jit, static_argnums=(2,))
    def plan_all(data_keys: jax.Array, epoch: jax.Array, n: int):
        epoch_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(data_keys, epoch)
        return jax.vmap(_epoch_plan, in_axes=(0, None, None))(epoch_keys, n, batch_size)

    def epoch_runs(train_state, columns, data_keys, epoch, x, y, validation):
        order, step_keys = plan_all(data_keys, epoch, x.shape[0])
        num_batches = order.shape[1]
        totals = None
        for batch in range(num_batches):
            train_state, batch_metrics = step_all(
                train_state, columns, x, y, order[:, batch], step_keys[:, batch]
            )
            totals = (
                batch_metrics
                if totals is None
                else jax.tree_util.tree_map(jnp.add, totals, batch_metrics)
            )
        logs = jax.tree_util.tree_map(lambda total: total / num_batches, totals)
        if validation is not None:
            logs = _with_validation(logs, evaluate_all(train_state, *validation))
        return train_state, logs

    return epoch_runs


def _unrolled(fn: Callable, runs: int, in_axes: tuple[int | None, ...]) -> Callable:
    """``jax.vmap(fn, in_axes)`` for axes 0 or None, computed as ``runs`` separate copies
    of ``fn`` side by side in one program instead of one batched copy."""

    def run_args(args: tuple, run: int) -> list:
        return [
            arg if axis is None else jax.tree_util.tree_map(lambda leaf: leaf[run], arg)
            for arg, axis in zip(args, in_axes)
        ]

    def mapped(*args):
        outputs = [fn(*run_args(args, run)) for run in range(runs)]
        return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *outputs)

    return mapped


def _with_validation(logs: dict, val_logs: dict) -> dict:
    return {**logs, **{f"val_{name}": value for name, value in val_logs.items()}}


def _count_runs(keys: Any) -> int:
    """The number of runs, from a key array of shape ``(runs,)`` (typed keys) or
    ``(runs, 2)`` (raw ``uint32`` keys)."""
    check_key(keys)
    typed = jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key)
    key_rank = 0 if typed else 1
    if keys.ndim != key_rank + 1 or keys.shape[0] == 0:
        raise ValueError(
            "fit_sweep: keys must hold one random key per run, shape (runs,) — e.g. "
            f"jax.random.split(jax.random.key(0), runs) — got shape {keys.shape}."
        )
    return keys.shape[0]


def _hyperparameter_rows(
    hyperparameters: Mapping[str, ArrayLike] | None, runs: int
) -> list[dict[str, Any]]:
    """One ``{name: Python scalar}`` per run, after checking every column has ``runs``
    values."""
    columns = {name: np.asarray(values) for name, values in (hyperparameters or {}).items()}
    for name, values in columns.items():
        if values.ndim != 1 or len(values) != runs:
            raise ValueError(
                f"fit_sweep: hyperparameters[{name!r}] must hold one value per run, shape "
                f"({runs},) like keys, got shape {values.shape}. For a grid crossed with "
                "seeds, repeat it per seed (np.repeat) and split one key per run."
            )
    return [{name: values[run].item() for name, values in columns.items()} for run in range(runs)]


def _check_optimizer(make_optimizer: OptimizerFactory, row: dict[str, Any], run: int) -> None:
    """Build run ``run``'s optimizer from Python scalars, where the optimizer's own range
    checks still apply (under tracing they cannot)."""
    try:
        make_optimizer(**row)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"fit_sweep: make_optimizer(**{row}) failed for run {run}: {error}"
        ) from error


def _split_each(keys: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Each run's ``(init_key, data_key)``, split as :func:`fit` splits its ``key``."""
    pairs = jax.vmap(jax.random.split)(keys)
    return pairs[:, 0], pairs[:, 1]


def _best_of(logs: dict[str, np.ndarray]) -> dict[str, str]:
    """The best run's training loss and validation accuracy, for the progress bar."""
    best = {"best_loss": np.nanmin(logs["loss"])}
    if "val_accuracy" in logs:
        best["best_val_accuracy"] = np.nanmax(logs["val_accuracy"])
    return {name: f"{value:.4g}" for name, value in best.items()}

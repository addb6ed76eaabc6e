"""Over- and underfitting, and two remedies: dropout and early stopping.

The course's claims (docs/concepts.md §8, §9): an *underfitting* model has a high training
error **and** a high test error (too little capacity); an *overfitting* model has a low
training error but a much higher validation or test error — while it trains, its training
error keeps falling as its validation loss turns and rises, the gap between them widening.
More data, dropout and early stopping reduce the gap.

Method, on MNIST (flattened pixels in [0, 1]); one fixed random order of the 60,000
training images, ``validation_size`` of them held out as the validation set,
training subsets taken from the rest (nested: a smaller subset is part of a larger one):

1. **Model size**: MLPs with one hidden layer of growing width ``w`` on a fixed
   subset, the same epochs each.
2. **Training-set size**: an MLP of fixed width on subsets from 500 images to all 60,000
   (the largest includes the validation images, which this part does not use), each
   trained for about the same number of optimizer steps (``epochs = steps / (n / batch)``,
   rounded), so a small set is seen many times over.
3. **Remedies**, on a setting that overfits (a small subset, a two-hidden-layer MLP, many
   epochs): dropout rates 0, 0.2 and 0.5 (``nn.Dropout`` after each hidden ReLU), and
   ``train.EarlyStopping(monitor="val_loss", patience=..., restore_best_weights=True)`` on
   each of them — and the same with ``monitor="val_accuracy"``, since the validation loss
   and the validation error need not turn at the same epoch.

Every setting trains with Adam, several seeds (the seed sets the initial weights, the
batches and the dropout masks; the subsets are the same for every seed), all seeds of a
setting in one ``train.fit_sweep``; early stopping uses ``train.fit`` per seed, whose run
with seed ``s`` is the sweep's run ``s`` until it stops. Errors are those of the final
networks in inference mode (dropout off): training error on the training subset, test
error on the 10,000 test images, gap = test − training.

Usage::

    python experiments/overfitting/run.py                   # MNIST, about 3 min on 2 cores
    python experiments/overfitting/run.py --data-dir DIR --seeds 5
    python experiments/overfitting/run.py --quick --out DIR  # digits, offline, seconds

Writes ``table.md``, ``table.csv``, ``runs.csv``, ``curves.csv``, ``error_vs_width.png``,
``error_vs_train_size.png``, ``width_curves.png`` and ``overfitting_curves.png`` to
``--out`` (default ``results/`` beside this file) and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import activations, data, losses, models, nn, optim, train

HERE = Path(__file__).resolve().parent
SUBSET_SEED = 1958  # the order of the training images: validation set and subsets
PARTS = ("width", "train_size", "dropout", "early_stopping")
MONITORS = ("val_loss", "val_accuracy")
TABLE_COLUMNS = [
    "part",
    "width",
    "train_size",
    "dropout",
    "monitor",
    "epochs",
    "epochs_std",
    "best_epoch",
    "train_error_percent",
    "train_error_std",
    "test_error_percent",
    "test_error_std",
    "gap_percent",
    "gap_std",
    "seeds",
]
RUN_COLUMNS = [
    "part",
    "width",
    "train_size",
    "dropout",
    "monitor",
    "seed",
    "epochs",
    "best_epoch",
    "train_error_percent",
    "test_error_percent",
    "gap_percent",
    "train_loss",
    "test_loss",
]
CURVE_COLUMNS = [
    "part",
    "width",
    "dropout",
    "monitor",
    "seed",
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
]


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of the three parts."""

    widths: tuple[int, ...]  # part 1: hidden units of the one-hidden-layer MLP
    width_train_size: int  # part 1: training images
    width_epochs: int  # part 1: epochs
    train_sizes: tuple[int, ...]  # part 2: training images
    size_width: int  # part 2: hidden units
    size_steps: int  # part 2: optimizer steps per run (rounded to whole epochs)
    overfit_train_size: int  # part 3: training images
    overfit_hidden: tuple[int, ...]  # part 3: hidden layer sizes
    overfit_epochs: int  # part 3: epochs without early stopping (and its maximum)
    dropouts: tuple[float, ...]  # part 3: dropout rates
    stopping_dropouts: tuple[float, ...]  # part 3: the rates also trained with early stopping
    monitors: tuple[str, ...]  # part 3: what early stopping watches, one run each
    patience: int  # part 3: early stopping's patience, epochs
    validation_size: int  # held-out training images for validation curves and stopping
    batch_size: int
    learning_rate: float  # Adam
    seeds: int


DEFAULT = Config(
    widths=(1, 2, 4, 8, 16, 32, 128, 512),
    width_train_size=2000,
    width_epochs=50,
    train_sizes=(500, 1000, 2000, 5000, 10_000, 20_000, 60_000),
    size_width=128,
    size_steps=2000,
    overfit_train_size=1000,
    overfit_hidden=(256, 256),
    overfit_epochs=100,
    dropouts=(0.0, 0.2, 0.5),
    stopping_dropouts=(0.0, 0.2, 0.5),
    monitors=MONITORS,
    patience=10,
    validation_size=2000,
    batch_size=100,
    learning_rate=1e-3,
    seeds=3,
)
# Few distinct programs, each a compilation: part 3's dropout-0 network is part 1's widest
# on the same subset, so its sweep reuses part 1's compiled epoch.
QUICK = Config(
    widths=(2, 64),
    width_train_size=200,
    width_epochs=40,
    train_sizes=(100, 1000),
    size_width=64,
    size_steps=150,
    overfit_train_size=200,
    overfit_hidden=(64,),
    overfit_epochs=40,
    dropouts=(0.0,),
    stopping_dropouts=(0.0,),
    monitors=MONITORS,
    patience=5,
    validation_size=300,
    batch_size=50,
    learning_rate=1e-2,
    seeds=2,
)


@dataclasses.dataclass
class Setting:
    """One trained setting: per-seed final numbers and per-epoch curves."""

    part: str
    width: int | None  # hidden units (part 3: the hidden sizes joined by "-" in tables)
    train_size: int
    dropout: float | None
    monitor: str  # what early stopping watched; "" without early stopping
    epochs: np.ndarray  # (seeds,) epochs trained
    train_error: np.ndarray  # (seeds,) % on the training subset, inference mode
    test_error: np.ndarray  # (seeds,) % on the test set
    train_loss: np.ndarray  # (seeds,)
    test_loss: np.ndarray  # (seeds,)
    params: int
    best_epoch: np.ndarray | None = None  # (seeds,) 1-based epoch of the lowest val loss
    history: dict[str, np.ndarray] | None = None  # metric -> (seeds, epochs), NaN-padded

    @property
    def early_stopping(self) -> bool:
        return bool(self.monitor)

    @property
    def gap(self) -> np.ndarray:
        return self.test_error - self.train_error


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = _config(args)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    dataset = "digits" if args.quick else "mnist"
    split = _load(dataset, args.data_dir, config)
    description = (
        f"{'MNIST' if dataset == 'mnist' else 'digits (quick)'}: subsets of "
        f"{len(split.order):,} training images, {config.validation_size:,} held out for "
        f"validation, {len(split.test[0]):,} test images; Adam {config.learning_rate:g}, "
        f"batch {config.batch_size}; {_seeds(config.seeds)}"
    )
    print(description, flush=True)

    start = time.perf_counter()
    settings: list[Setting] = []
    for width in config.widths:
        settings.append(_train_width(width, config, split))
        _report(settings[-1])
    for size in config.train_sizes:
        settings.append(_train_size(size, config, split))
        _report(settings[-1])
    for rate in config.dropouts:
        settings.append(_train_dropout(rate, config, split))
        _report(settings[-1])
    for full in _part(settings, "dropout"):
        for monitor in config.monitors:
            if full.dropout in config.stopping_dropouts:
                settings.append(_train_early_stopping(full, monitor, config, split))
                _report(settings[-1])
    seconds = time.perf_counter() - start

    table = _markdown(settings, config, description)
    (out / "table.md").write_text(table)
    _write_table_csv(out / "table.csv", settings, config)
    _write_runs_csv(out / "runs.csv", settings)
    _write_curves_csv(out / "curves.csv", settings)
    _plot_error_vs(out / "error_vs_width.png", _part(settings, "width"), "width", config)
    _plot_error_vs(
        out / "error_vs_train_size.png", _part(settings, "train_size"), "train_size", config
    )
    _plot_width_curves(out / "width_curves.png", _part(settings, "width"), config)
    _plot_overfitting_curves(out / "overfitting_curves.png", settings, config)
    print(table)
    print(f"trained in {seconds:.0f} s; results in {out}")
    return 0


# --- data ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Split:
    """The training images in a fixed random order (validation images last), the
    validation set and the test set."""

    x: np.ndarray
    y: np.ndarray
    order: np.ndarray  # indices into x: the non-validation images, then the validation ones
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]

    def subset(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``size`` training images of the order (the same for every seed)."""
        if not 1 <= size <= len(self.order):
            raise ValueError(f"subset: size must be in [1, {len(self.order)}], got {size}.")
        index = self.order[:size]
        return self.x[index], self.y[index]


def split_order(
    n: int, validation_size: int, seed: int = SUBSET_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """``(order, validation)``: a random permutation of ``range(n)`` whose last
    ``validation_size`` entries are the validation indices, and those indices.

    Subsets ``order[:size]`` never contain a validation image while
    ``size ≤ n − validation_size``.

    >>> order, validation = split_order(10, 3)
    >>> sorted(order.tolist()) == list(range(10)), order[-3:].tolist() == validation.tolist()
    (True, True)
    """
    if not 0 < validation_size < n:
        raise ValueError(
            f"split_order: validation_size must be in (0, {n}), got {validation_size}."
        )
    permutation = np.random.default_rng(seed).permutation(n)
    validation = permutation[:validation_size]
    return np.concatenate([permutation[validation_size:], validation]), validation


def _load(dataset: str, data_dir: str | None, config: Config) -> Split:
    if dataset == "digits":
        ds = data.digits(flatten=True)
    else:
        ds = data.load(dataset, data_dir=data_dir, flatten=True)
    order, validation = split_order(len(ds.x_train), config.validation_size)
    largest = max(config.width_train_size, *config.train_sizes, config.overfit_train_size)
    if largest > len(order):
        raise SystemExit(
            f"a subset of {largest:,} images was asked for, but the training set has {len(order):,}"
        )
    free = len(order) - config.validation_size
    if max(config.width_train_size, config.overfit_train_size) > free:
        raise SystemExit(f"parts 1 and 3 train on at most {free:,} images (the rest validate)")
    return Split(
        ds.x_train, ds.y_train, order, (ds.x_train[validation], ds.y_train[validation]), ds.test
    )


def epochs_for(train_size: int, batch_size: int, steps: int) -> int:
    """Whole epochs closest to ``steps`` optimizer steps (at least one), an epoch being
    ``train_size // batch_size`` steps.

    >>> epochs_for(60_000, 100, 2000), epochs_for(500, 100, 2000)
    (3, 400)
    """
    per_epoch = train_size // batch_size
    if per_epoch < 1:
        raise ValueError(
            f"epochs_for: train_size {train_size} is smaller than one batch ({batch_size})."
        )
    return max(1, round(steps / per_epoch))


# --- training --------------------------------------------------------------------------


def _mlp(hidden: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    return models.mlp(10, hidden=tuple(hidden), activation=activations.relu, dropout=dropout)


def _keys(seeds: int) -> jax.Array:
    return jnp.stack([jax.random.key(seed) for seed in range(seeds)])


def _sweep(model: nn.Layer, train_data, epochs: int, config: Config, validation=None):
    """Every seed of one setting in one ``fit_sweep``; the final networks measured on the
    training subset and the test set."""
    final, history = train.fit_sweep(
        model,
        optim.adam,
        train_data,
        loss=losses.softmax_cross_entropy,
        epochs=epochs,
        batch_size=config.batch_size,
        keys=_keys(config.seeds),
        hyperparameters={"learning_rate": np.full(config.seeds, config.learning_rate)},
        validation_data=validation,
        eval_batch_size=1000,
        progress=False,
    )
    history = {name: np.asarray(values, np.float64) for name, values in history.items()}
    return final, history


def _measure(model: nn.Layer, final: train.TrainState, train_data, test_data):
    """``(train_error, test_error, train_loss, test_loss)`` per run of a stacked state."""
    evaluate = evaluator(model)
    on_train = jax.device_get(evaluate(final, *train_data))
    on_test = jax.device_get(evaluate(final, *test_data))
    return (
        error_percent(on_train["accuracy"], on_train["loss"]),
        error_percent(on_test["accuracy"], on_test["loss"]),
        np.asarray(on_train["loss"], np.float64),
        np.asarray(on_test["loss"], np.float64),
    )


@functools.cache
def evaluator(model: nn.Layer):
    """``evaluate(stacked_state, x, y)``: loss and accuracy of every run of a sweep's
    stacked state, in inference mode, jitted once per model (models compare by their
    layers, so equal models share it and its compiled programs)."""
    step = train.make_eval_step(model, losses.softmax_cross_entropy)
    return jax.jit(jax.vmap(train.make_evaluate(step, 1000), in_axes=(0, None, None)))


def error_percent(accuracy, loss) -> np.ndarray:
    """``100 · (1 − accuracy)``, NaN where the loss is not finite: a diverged run has no
    meaningful error, so it is reported as missing rather than as a number.

    >>> error_percent([0.9, 1.0], [0.3, np.nan]).tolist()
    [10.000000000000002, nan]
    """
    accuracy, loss = np.asarray(accuracy, np.float64), np.asarray(loss, np.float64)
    return np.where(np.isfinite(loss), 100.0 * (1.0 - accuracy), np.nan)


def best_epochs(val_loss: np.ndarray) -> np.ndarray:
    """The 1-based epoch of the lowest validation loss of each run, ``(runs, epochs)`` →
    ``(runs,)`` (the first one on ties; NaN epochs never count as lowest).

    >>> best_epochs(np.array([[0.9, 0.5, 0.7], [0.9, np.nan, 0.8]])).tolist()
    [2, 3]
    """
    return np.nanargmin(np.where(np.isfinite(val_loss), val_loss, np.nan), axis=1) + 1


def _train_width(width: int, config: Config, split: Split) -> Setting:
    model = _mlp((width,))
    train_data = split.subset(config.width_train_size)
    final, history = _sweep(model, train_data, config.width_epochs, config, split.validation)
    return _setting(
        "width",
        width,
        config.width_train_size,
        None,
        model,
        final,
        history,
        train_data,
        split,
        config.width_epochs,
    )


def _train_size(size: int, config: Config, split: Split) -> Setting:
    model = _mlp((config.size_width,))
    train_data = split.subset(size)
    epochs = epochs_for(size, config.batch_size, config.size_steps)
    final, history = _sweep(model, train_data, epochs, config)
    return _setting(
        "train_size",
        config.size_width,
        size,
        None,
        model,
        final,
        history,
        train_data,
        split,
        epochs,
    )


def _train_dropout(rate: float, config: Config, split: Split) -> Setting:
    model = _mlp(config.overfit_hidden, rate)
    train_data = split.subset(config.overfit_train_size)
    final, history = _sweep(model, train_data, config.overfit_epochs, config, split.validation)
    return _setting(
        "dropout",
        None,
        config.overfit_train_size,
        rate,
        model,
        final,
        history,
        train_data,
        split,
        config.overfit_epochs,
    )


def _setting(
    part, width, size, dropout, model, final, history, train_data, split, epochs
) -> Setting:
    train_error, test_error, train_loss, test_loss = _measure(model, final, train_data, split.test)
    first = jax.tree_util.tree_map(lambda leaf: leaf[0], final.params)
    return Setting(
        part=part,
        width=width,
        train_size=size,
        dropout=dropout,
        monitor="",
        epochs=np.full(len(train_error), epochs),
        train_error=train_error,
        test_error=test_error,
        train_loss=train_loss,
        test_loss=test_loss,
        params=sum(nn.count_params(first)),
        best_epoch=best_epochs(history["val_loss"]) if "val_loss" in history else None,
        history=history,
    )


def _train_early_stopping(full: Setting, monitor: str, config: Config, split: Split) -> Setting:
    """``train.fit`` per seed of ``full``'s network with early stopping on ``monitor``,
    restoring the best epoch's weights; at most ``overfit_epochs`` epochs."""
    model = _mlp(config.overfit_hidden, full.dropout)
    train_data = split.subset(config.overfit_train_size)
    optimizer = optim.adam(config.learning_rate)
    rows, curves = [], []
    for seed in range(config.seeds):
        stopper = train.EarlyStopping(
            monitor=monitor, patience=config.patience, restore_best_weights=True
        )
        state, history = train.fit(
            model,
            optimizer,
            train_data,
            loss=losses.softmax_cross_entropy,
            epochs=config.overfit_epochs,
            batch_size=config.batch_size,
            key=jax.random.key(seed),
            validation_data=split.validation,
            eval_batch_size=1000,
            callbacks=[stopper],
            progress=False,
        )
        on_train = train.evaluate(
            model, state, train_data, loss=losses.softmax_cross_entropy, batch_size=1000
        )
        on_test = train.evaluate(
            model, state, split.test, loss=losses.softmax_cross_entropy, batch_size=1000
        )
        rows.append((len(history), stopper.best_epoch + 1, on_train, on_test))
        curves.append(history.history)
    return Setting(
        part="early_stopping",
        width=None,
        train_size=config.overfit_train_size,
        dropout=full.dropout,
        monitor=monitor,
        epochs=np.array([row[0] for row in rows]),
        train_error=error_percent([r[2]["accuracy"] for r in rows], [r[2]["loss"] for r in rows]),
        test_error=error_percent([r[3]["accuracy"] for r in rows], [r[3]["loss"] for r in rows]),
        train_loss=np.array([row[2]["loss"] for row in rows]),
        test_loss=np.array([row[3]["loss"] for row in rows]),
        params=full.params,
        best_epoch=np.array([row[1] for row in rows]),
        history={
            name: padded([curve[name] for curve in curves], config.overfit_epochs)
            for name in curves[0]
        },
    )


def padded(curves: Sequence[Sequence[float]], epochs: int) -> np.ndarray:
    """Per-run curves of different lengths as one ``(runs, epochs)`` array, NaN after a
    run's end.

    >>> padded([[1.0, 2.0], [3.0]], 3).tolist()
    [[1.0, 2.0, nan], [3.0, nan, nan]]
    """
    out = np.full((len(curves), epochs), np.nan)
    for run, curve in enumerate(curves):
        out[run, : len(curve)] = curve
    return out


# --- reporting -------------------------------------------------------------------------


def _part(settings: Sequence[Setting], part: str) -> list[Setting]:
    return [s for s in settings if s.part == part]


def _spread(values: np.ndarray, digits: int = 2) -> str:
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def _seeds(seeds: int) -> str:
    return "1 seed (0)" if seeds == 1 else f"{seeds} seeds (0 … {seeds - 1})"


def _hidden(config: Config) -> str:
    return "-".join(str(h) for h in config.overfit_hidden)


def _report(s: Setting) -> None:
    if s.part == "width":
        label = f"width {s.width}"
    elif s.part == "train_size":
        label = f"{s.train_size:,} images"
    else:
        label = f"dropout {s.dropout:g}" + (f" + stopping on {s.monitor}" if s.monitor else "")
    print(
        f"{label:32s} train error {_spread(s.train_error)} %, test error "
        f"{_spread(s.test_error)} %, epochs {_spread(s.epochs, 1)}",
        flush=True,
    )


def _markdown(settings: Sequence[Setting], config: Config, description: str) -> str:
    err = "train error (%) | test error (%) | gap (%)"
    rule = "---:|---:|---:"

    def errors(s: Setting) -> str:
        return f"{_spread(s.train_error)} | {_spread(s.test_error)} | {_spread(s.gap)}"

    lines = [
        f"# Over- and underfitting — {description}",
        "",
        "Errors in %, mean ± std over seeds, of the final networks in inference mode: "
        "training error on the training subset, test error on the test set, gap = test − "
        "training. Epochs are 1-based; *lowest val loss* is the epoch of the lowest "
        "validation loss.",
        "",
        f"## 1. Model size: MLPs with one hidden layer of w units on "
        f"{config.width_train_size:,} training images, {config.width_epochs} epochs",
        "",
        f"| width | params | lowest val loss (epoch) | {err} |",
        f"|---:|---:|---:|{rule}|",
    ]
    for s in _part(settings, "width"):
        lines.append(f"| {s.width} | {s.params:,} | {_spread(s.best_epoch, 1)} | {errors(s)} |")
    lines += [
        "",
        f"## 2. Training-set size: MLPs with {config.size_width} hidden units, about "
        f"{config.size_steps:,} steps each",
        "",
        f"| train images | epochs | steps | {err} |",
        f"|---:|---:|---:|{rule}|",
    ]
    for s in _part(settings, "train_size"):
        epochs = int(s.epochs[0])
        steps = epochs * (s.train_size // config.batch_size)
        lines.append(f"| {s.train_size:,} | {epochs} | {steps:,} | {errors(s)} |")
    lines += [
        "",
        f"## 3. Dropout: MLPs with hidden layers {_hidden(config)} on "
        f"{config.overfit_train_size:,} training images, {config.overfit_epochs} epochs",
        "",
        f"| dropout | lowest val loss (epoch) | {err} |",
        f"|---:|---:|{rule}|",
    ]
    for s in _part(settings, "dropout"):
        lines.append(f"| {s.dropout:g} | {_spread(s.best_epoch, 1)} | {errors(s)} |")
    lines += [
        "",
        f"## 4. Early stopping (patience {config.patience}, best weights restored), the "
        f"networks of part 3, at most {config.overfit_epochs} epochs",
        "",
        "| dropout | monitor | stopped after (epochs) | best epoch | test error without (%) "
        f"| test error with (%) | with − without (%) | {err} |",
        f"|---:|---|---:|---:|---:|---:|---:|{rule}|",
    ]
    full = {s.dropout: s for s in _part(settings, "dropout")}
    for s in _part(settings, "early_stopping"):
        without = full[s.dropout].test_error
        lines.append(
            f"| {s.dropout:g} | {s.monitor} | {_spread(s.epochs, 1)} "
            f"| {_spread(s.best_epoch, 1)} "
            f"| {_spread(without)} | {_spread(s.test_error)} "
            f"| {_spread(s.test_error - without)} | {errors(s)} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _write_table_csv(path: Path, settings: Sequence[Setting], config: Config) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(TABLE_COLUMNS)
        for s in settings:
            writer.writerow(
                [
                    s.part,
                    "" if s.width is None else s.width,
                    s.train_size,
                    "" if s.dropout is None else f"{s.dropout:g}",
                    s.monitor,
                    _fmt(np.mean(s.epochs), 2),
                    _fmt(np.std(s.epochs), 2),
                    "" if s.best_epoch is None else _fmt(np.mean(s.best_epoch), 2),
                    _fmt(np.mean(s.train_error)),
                    _fmt(np.std(s.train_error)),
                    _fmt(np.mean(s.test_error)),
                    _fmt(np.std(s.test_error)),
                    _fmt(np.mean(s.gap)),
                    _fmt(np.std(s.gap)),
                    config.seeds,
                ]
            )


def _write_runs_csv(path: Path, settings: Sequence[Setting]) -> None:
    """Every run's final numbers: one row per setting × seed."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(RUN_COLUMNS)
        for s in settings:
            for seed in range(len(s.train_error)):
                writer.writerow(
                    [
                        s.part,
                        "" if s.width is None else s.width,
                        s.train_size,
                        "" if s.dropout is None else f"{s.dropout:g}",
                        s.monitor,
                        seed,
                        int(s.epochs[seed]),
                        "" if s.best_epoch is None else int(s.best_epoch[seed]),
                        _fmt(s.train_error[seed]),
                        _fmt(s.test_error[seed]),
                        _fmt(s.gap[seed]),
                        _fmt(s.train_loss[seed], 5),
                        _fmt(s.test_loss[seed], 5),
                    ]
                )


def _write_curves_csv(path: Path, settings: Sequence[Setting]) -> None:
    """Every validated run's metrics per epoch (parts 1 and 3, early stopping included):
    one row per setting × seed × epoch trained."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(CURVE_COLUMNS)
        for s in settings:
            if s.history is None or "val_loss" not in s.history:
                continue
            for seed in range(len(s.train_error)):
                for epoch in range(int(s.epochs[seed])):
                    writer.writerow(
                        [
                            s.part,
                            "" if s.width is None else s.width,
                            "" if s.dropout is None else f"{s.dropout:g}",
                            s.monitor,
                            seed,
                            epoch + 1,
                            *(f"{s.history[name][seed, epoch]:.9g}" for name in CURVE_COLUMNS[-4:]),
                        ]
                    )


# --- plots -----------------------------------------------------------------------------

TRAIN_COLOR, TEST_COLOR, VAL_COLOR = "#4c72b0", "#c44e52", "#dd8452"


def _plot_error_vs(path: Path, settings: Sequence[Setting], field: str, config: Config) -> None:
    """Final training and test error (mean ± std, seeds as dots) against width or
    training-set size, the gap shaded."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = np.array([getattr(s, field) for s in settings], dtype=float)
    for name, color, label in (
        ("train_error", TRAIN_COLOR, "training error"),
        ("test_error", TEST_COLOR, "test error"),
    ):
        values = [getattr(s, name) for s in settings]
        ax.errorbar(
            x,
            [np.mean(v) for v in values],
            yerr=[np.std(v) for v in values],
            marker="o",
            capsize=3,
            color=color,
            label=label,
        )
        for xi, v in zip(x, values):
            ax.scatter(np.full(len(v), xi), v, s=8, color=color, alpha=0.5)
    ax.fill_between(
        x,
        [np.mean(s.train_error) for s in settings],
        [np.mean(s.test_error) for s in settings],
        color="#999999",
        alpha=0.2,
        label="gap (test − training)",
    )
    ax.set_xscale("log", base=2 if field == "width" else 10)
    ax.set_xticks(x, [f"{int(v):,}" for v in x], fontsize=8)
    ax.minorticks_off()
    ax.set_ylabel("error (%)")
    ax.grid(alpha=0.3)
    if field == "width":
        ax.set_xlabel("hidden units w (one hidden layer)")
        ax.set_title(
            f"Model size: {config.width_train_size:,} training images, "
            f"{config.width_epochs} epochs; mean ± std over {config.seeds} seeds\n"
            "underfitting on the left (both errors high), a gap on the right",
            fontsize=9,
        )
    else:
        ax.set_xlabel("training images")
        ax.set_title(
            f"Training-set size: {config.size_width} hidden units, about "
            f"{config.size_steps:,} steps each; mean ± std over {config.seeds} "
            "seeds\nmore data: training error up, test error down, gap closes",
            fontsize=9,
        )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _error_curves(history: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return 100 * (1 - history["accuracy"]), 100 * (1 - history["val_accuracy"])


def _plot_width_curves(path: Path, settings: Sequence[Setting], config: Config) -> None:
    """Training error (running, training mode) and validation error per epoch of the
    narrowest, a middle and the widest network: the two symptoms as curves."""
    chosen = [settings[0], settings[len(settings) // 2], settings[-1]]
    chosen = list({id(s): s for s in chosen}.values())
    fig, axes = plt.subplots(1, len(chosen), figsize=(3.6 * len(chosen), 3.4), sharey=True)
    epochs = np.arange(1, config.width_epochs + 1)
    for ax, s in zip(np.atleast_1d(axes), chosen):
        train_err, val_err = _error_curves(s.history)
        for curves, color, label in (
            (train_err, TRAIN_COLOR, "training (running)"),
            (val_err, VAL_COLOR, "validation"),
        ):
            ax.plot(epochs, curves.T, color=color, lw=0.6, alpha=0.4)
            ax.plot(epochs, curves.mean(axis=0), color=color, lw=2, label=label)
        ax.set_title(f"width {s.width}: test error {np.mean(s.test_error):.1f} %", fontsize=9)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("error (%)")
    fig.suptitle(
        f"One hidden layer of w units, {config.width_train_size:,} training images: error "
        f"per epoch (thin: seeds, thick: mean of {config.seeds})",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_overfitting_curves(path: Path, settings: Sequence[Setting], config: Config) -> None:
    """Without dropout: training and validation loss and error per epoch with early
    stopping's best and stopping epochs marked; then the validation loss per dropout
    rate."""
    dropout = _part(settings, "dropout")
    stopped = {(s.dropout, s.monitor): s for s in _part(settings, "early_stopping")}
    plain = dropout[0]
    epochs = np.arange(1, config.overfit_epochs + 1)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    train_err, val_err = _error_curves(plain.history)
    panels = (
        (axes[0], plain.history["loss"], plain.history["val_loss"], "loss", "val_loss"),
        (axes[1], train_err, val_err, "error (%)", "val_accuracy"),
    )
    for ax, train_curve, val_curve, ylabel, monitor in panels:
        for curves, color, label in (
            (train_curve, TRAIN_COLOR, "training (running)"),
            (val_curve, VAL_COLOR, "validation"),
        ):
            ax.plot(epochs, curves.T, color=color, lw=0.6, alpha=0.4)
            ax.plot(epochs, curves.mean(axis=0), color=color, lw=2, label=label)
        if (plain.dropout, monitor) in stopped:
            es = stopped[plain.dropout, monitor]
            ax.axvline(
                np.mean(es.best_epoch),
                color="k",
                ls=":",
                lw=1.2,
                label=f"{monitor}: best epoch {np.mean(es.best_epoch):.1f} (restored)",
            )
            ax.axvline(
                np.mean(es.epochs),
                color="k",
                ls="--",
                lw=1.2,
                label=f"early stopping on {monitor} stops, epoch {np.mean(es.epochs):.1f}",
            )
        ax.set_yscale("log" if ylabel == "loss" else "linear")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_title(f"dropout {plain.dropout:g}: loss (log scale)", fontsize=9)
    axes[1].set_title(f"dropout {plain.dropout:g}: error", fontsize=9)
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(dropout)))
    for s, color in zip(dropout, colors):
        axes[2].plot(
            epochs,
            s.history["val_loss"].mean(axis=0),
            color=color,
            lw=2,
            label=f"dropout {s.dropout:g}: validation",
        )
        axes[2].plot(
            epochs,
            s.history["loss"].mean(axis=0),
            color=color,
            lw=1,
            ls="--",
            label=f"dropout {s.dropout:g}: training",
        )
    axes[2].set_yscale("log")
    axes[2].set_title("loss per dropout rate (mean over seeds)", fontsize=9)
    axes[2].set_xlabel("epoch")
    axes[2].grid(alpha=0.3)
    axes[2].legend(fontsize=7)
    fig.suptitle(
        f"The overfitting setting: hidden layers {_hidden(config)}, "
        f"{config.overfit_train_size:,} training images, validation on "
        f"{config.validation_size:,} held-out images (thin: seeds)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --- command line ----------------------------------------------------------------------


def _config(args: argparse.Namespace) -> Config:
    config = QUICK if args.quick else DEFAULT
    overrides = {
        "seeds": args.seeds,
        "widths": tuple(args.widths) if args.widths else None,
        "train_sizes": tuple(args.train_sizes) if args.train_sizes else None,
        "dropouts": tuple(args.dropouts) if args.dropouts else None,
        "stopping_dropouts": tuple(args.dropouts) if args.dropouts else None,
        "patience": args.patience,
    }
    return dataclasses.replace(
        config, **{name: value for name, value in overrides.items() if value is not None}
    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the MNIST IDX files (default: $JAXDL_DATA_DIR, "
        "then the cache, downloading if needed)",
    )
    parser.add_argument(
        "--seeds", type=_positive, default=None, help=f"seeds per setting (default {DEFAULT.seeds})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test on scikit-learn's digits (offline), seconds",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: results/ beside this file)"
    )
    parser.add_argument(
        "--widths",
        type=_positive,
        nargs="+",
        default=None,
        help=f"part 1's hidden widths (default {DEFAULT.widths})",
    )
    parser.add_argument(
        "--train-sizes",
        type=_positive,
        nargs="+",
        default=None,
        help=f"part 2's training-set sizes (default {DEFAULT.train_sizes})",
    )
    parser.add_argument(
        "--dropouts",
        type=_rate,
        nargs="+",
        default=None,
        help=f"part 3's dropout rates (default {DEFAULT.dropouts}); the "
        "first is the one plotted with early stopping",
    )
    parser.add_argument(
        "--patience",
        type=_positive,
        default=None,
        help=f"early stopping's patience (default {DEFAULT.patience})",
    )
    args = parser.parse_args(argv)
    config = QUICK if args.quick else DEFAULT
    smallest = min(args.train_sizes or config.train_sizes)
    if smallest < config.batch_size:
        parser.error(f"--train-sizes must be ≥ the batch size {config.batch_size}, got {smallest}")
    return args


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())

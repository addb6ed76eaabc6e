"""Batch normalization and input standardization in a deep MLP: does batch norm let a deep
network train at learning rates where the plain one diverges or stalls, and what does
standardizing the inputs change, with and without it?

The course's claims (docs/concepts.md §8): standardizing each input feature with the
training set's mean and standard deviation speeds up gradient descent; batch
normalization standardizes every layer's inputs over the batch, which (Ioffe & Szegedy,
2015) allows much higher learning rates and makes training less sensitive to the scale
of the weights and inputs.

Method: a deep MLP ``Flatten → [Dense(width) → (BatchNorm) → ReLU] × depth → Dense(10)``
(He-uniform initialization; the Dense layers before a batch norm have no bias, its shift
takes their place) is trained with plain SGD (no momentum) at each learning rate of a grid
on a fixed random subset of MNIST, with three input scalings: the raw pixel values
(0 … 255), pixels divided by 255 (0 … 1) and standardized pixels
(``data.standardize``: per pixel, the training subset's mean and standard deviation).
Several seeds; every learning rate × seed of one network and input scaling is one
``train.fit_sweep``, and the three scalings share its compiled program. A run *diverged*
when its training loss became NaN or infinite; it *stalled* when it stayed finite but the
final network classifies its training images no better than 20 %. Numbers are those of
the final networks in inference mode (batch norm's running statistics).

Usage::

    python experiments/batch_norm/run.py                    # MNIST, about 3 min on 2 cores
    python experiments/batch_norm/run.py --data-dir DIR --seeds 5
    python experiments/batch_norm/run.py --quick --out DIR   # digits, offline, seconds

Writes ``table.md``, ``table.csv``, ``runs.csv``, ``training_curves.png`` and
``accuracy_vs_lr.png`` to ``--out`` (default ``results/`` beside this file) and prints the
table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import math
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

from jaxdl import activations, data, initializers, losses, nn, optim, train

HERE = Path(__file__).resolve().parent
SUBSET_SEED = 2015  # which training images form the subset
INPUTS = ("raw", "unit", "standardized")
INPUT_LABELS = {
    "raw": "raw pixels (0 … {raw})",
    "unit": "pixels / {raw} (0 … 1)",
    "standardized": "standardized per pixel",
}
RAW_SCALE = {"mnist": 255, "digits": 16}  # the stored integer pixel range
STALLED_ACCURACY = 0.2  # a finite run that classifies ≤ 20 % of its training images
TABLE_COLUMNS = [
    "batch_norm",
    "learning_rate",
    "inputs",
    "train_loss",
    "train_loss_std",
    "test_accuracy_percent",
    "test_accuracy_std",
    "diverged",
    "stalled",
    "seeds",
]
RUN_COLUMNS = [
    "batch_norm",
    "learning_rate",
    "inputs",
    "seed",
    "diverged",
    "stalled",
    "train_loss",
    "train_accuracy_percent",
    "test_accuracy_percent",
]


@dataclasses.dataclass(frozen=True)
class Config:
    """What every network is built and trained with."""

    depth: int  # hidden Dense layers (depth + 1 Dense layers in all)
    width: int
    epochs: int
    batch_size: int
    train_size: int | None  # None: the whole training set
    seeds: int
    learning_rates: tuple[float, ...]  # plain SGD
    inputs: tuple[str, ...] = INPUTS
    bn_momentum: float = 0.99  # BatchNorm's running-average weight (the library default)


DEFAULT = Config(
    depth=8,
    width=64,
    epochs=10,
    batch_size=128,
    train_size=10_000,
    seeds=5,
    learning_rates=(0.01, 0.1, 0.5, 1.0, 2.0),
)
QUICK = Config(
    depth=6,
    width=32,
    epochs=6,
    batch_size=32,
    train_size=None,
    seeds=2,
    learning_rates=(0.03, 1.0),
    bn_momentum=0.9,
)


@dataclasses.dataclass
class Result:
    """One network (batch norm or not) on one input scaling: every learning rate's and
    seed's final numbers and training curves."""

    batch_norm: bool
    inputs: str
    learning_rates: tuple[float, ...]
    train_loss: np.ndarray  # (rates, seeds), inference mode, NaN where diverged
    train_accuracy: np.ndarray  # (rates, seeds) %, NaN where diverged
    test_accuracy: np.ndarray  # (rates, seeds) %, NaN where diverged
    diverged: np.ndarray  # (rates, seeds) bool
    curves: np.ndarray  # (rates, seeds, epochs): training loss per epoch (training mode)
    seconds: float

    @property
    def stalled(self) -> np.ndarray:
        """(rates, seeds): finite runs that classify ≤ 20 % of their training images."""
        return ~self.diverged & (self.train_accuracy <= 100 * STALLED_ACCURACY)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = _config(args)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    dataset = "digits" if args.quick else "mnist"
    train_data, test_data = _load(dataset, args.data_dir, config)
    raw = RAW_SCALE[dataset]
    description = (
        f"{'MNIST' if dataset == 'mnist' else 'digits (quick)'}: {len(train_data[0]):,} "
        f"training / {len(test_data[0]):,} test images; {config.depth + 1} Dense layers "
        f"(width {config.width}), plain SGD, batch {config.batch_size}, {config.epochs} "
        f"epochs; {_seeds(config.seeds)}"
    )
    print(description, flush=True)

    start = time.perf_counter()
    results = []
    for batch_norm in (False, True):
        for inputs in config.inputs:
            x_train, x_test = scale_inputs(inputs, train_data[0], test_data[0], raw)
            result = _train(
                batch_norm, inputs, config, (x_train, train_data[1]), (x_test, test_data[1])
            )
            results.append(result)
            _report(result)
    seconds = time.perf_counter() - start

    table = _markdown(results, config, description, raw)
    (out / "table.md").write_text(table)
    _write_table_csv(out / "table.csv", results, config)
    _write_runs_csv(out / "runs.csv", results)
    _plot_curves(out / "training_curves.png", results, config, raw)
    _plot_accuracy(out / "accuracy_vs_lr.png", results, config, raw)
    print(table)
    print(f"trained in {seconds:.0f} s; results in {out}")
    return 0


def _load(dataset: str, data_dir: str | None, config: Config):
    """Flattened images in [0, 1]: a fixed random subset of the training set (the same
    for every run) and the whole test set."""
    if dataset == "digits":
        ds = data.digits(flatten=True)
    else:
        ds = data.load(dataset, data_dir=data_dir, flatten=True)
    order = np.random.default_rng(SUBSET_SEED).permutation(len(ds.x_train))
    if config.train_size is not None:
        order = order[: config.train_size]
    return (ds.x_train[order], ds.y_train[order]), ds.test


def scale_inputs(
    inputs: str, x_train: np.ndarray, x_test: np.ndarray, raw: float
) -> tuple[np.ndarray, np.ndarray]:
    """The training and test inputs, given in [0, 1], in one of the three scalings:
    ``"raw"`` (times ``raw``, the stored pixel range), ``"unit"`` (as given) or
    ``"standardized"`` (``data.standardize``: per feature, the training mean and
    standard deviation).

    >>> x = np.array([[0.0, 1.0], [1.0, 1.0]], np.float32)
    >>> scale_inputs("raw", x, x, 255)[0].tolist()
    [[0.0, 255.0], [255.0, 255.0]]
    >>> scale_inputs("standardized", x, x, 255)[1].tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    if inputs == "raw":
        return x_train * np.float32(raw), x_test * np.float32(raw)
    if inputs == "unit":
        return x_train, x_test
    if inputs == "standardized":
        x_train, x_test, _ = data.standardize(x_train, x_test)
        return x_train, x_test
    raise ValueError(f"scale_inputs: inputs must be one of {INPUTS}, got {inputs!r}.")


def deep_mlp(depth: int, width: int, batch_norm: bool, bn_momentum: float = 0.99) -> nn.Sequential:
    """``Flatten → [Dense(width) → (BatchNorm) → ReLU] × depth → Dense(10)``, He-uniform
    kernels; a Dense layer followed by batch norm has no bias (its shift replaces it).

    >>> len(deep_mlp(3, 16, batch_norm=True).layers), len(deep_mlp(3, 16, False).layers)
    (11, 8)
    """
    layers: list = [nn.Flatten()]
    for _ in range(depth):
        layers.append(
            nn.Dense(width, use_bias=not batch_norm, kernel_init=initializers.he_uniform())
        )
        if batch_norm:
            layers.append(nn.BatchNorm(momentum=bn_momentum))
        layers.append(activations.relu)
    layers.append(nn.Dense(10))
    return nn.Sequential(layers)


def _train(batch_norm: bool, inputs: str, config: Config, train_data, test_data) -> Result:
    """Every learning rate × seed of one network on one input scaling as one
    ``fit_sweep``; the final networks measured on the training and test images."""
    start = time.perf_counter()
    model = deep_mlp(config.depth, config.width, batch_norm, config.bn_momentum)
    rates, seeds = len(config.learning_rates), config.seeds
    # Run (rate i, seed s) is fit(..., key=jax.random.key(s)) at rate i: every rate, every
    # scaling and both networks of a seed see the same batches; the two networks of a seed
    # start from the same kernels (batch norm adds parameters but takes no random draws).
    keys = jnp.stack([jax.random.key(seed) for seed in range(seeds)] * rates)
    final, history = train.fit_sweep(
        model,
        optim.sgd,
        train_data,
        loss=losses.softmax_cross_entropy,
        epochs=config.epochs,
        batch_size=config.batch_size,
        keys=keys,
        hyperparameters={"learning_rate": np.repeat(config.learning_rates, seeds)},
        eval_batch_size=1000,
        progress=False,
    )
    evaluate = evaluator(model)
    on_train = jax.device_get(evaluate(final, *train_data))
    on_test = jax.device_get(evaluate(final, *test_data))

    def grid(values) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        return values.reshape(rates, seeds, *values.shape[1:])

    curves = grid(history["loss"])
    diverged = diverged_runs(curves, grid(on_train["loss"]))

    def finite(values) -> np.ndarray:
        return np.where(diverged, np.nan, values)

    return Result(
        batch_norm=batch_norm,
        inputs=inputs,
        learning_rates=config.learning_rates,
        train_loss=finite(grid(on_train["loss"])),
        # A diverged run has no meaningful accuracy: NaN, never a number.
        train_accuracy=finite(100 * grid(on_train["accuracy"])),
        test_accuracy=finite(100 * grid(on_test["accuracy"])),
        diverged=diverged,
        curves=curves,
        seconds=time.perf_counter() - start,
    )


@functools.cache
def evaluator(model: nn.Layer):
    """``evaluate(stacked_state, x, y)``: loss and accuracy of every run of a sweep's
    stacked state, in inference mode, jitted once per model (models compare by their
    layers, so equal models share it and its compiled programs)."""
    step = train.make_eval_step(model, losses.softmax_cross_entropy)
    return jax.jit(jax.vmap(train.make_evaluate(step, 1000), in_axes=(0, None, None)))


def diverged_runs(curves: np.ndarray, final_loss: np.ndarray) -> np.ndarray:
    """Runs whose training loss per epoch (``(..., epochs)``) or final loss (``(...)``) is
    NaN or infinite somewhere.

    >>> diverged_runs(np.array([[0.5, 0.3], [2.0, np.nan]]), np.array([0.3, 2.3])).tolist()
    [False, True]
    """
    return ~np.isfinite(curves).all(axis=-1) | ~np.isfinite(final_loss)


# --- reporting -------------------------------------------------------------------------


def _seeds(seeds: int) -> str:
    return "1 seed (0)" if seeds == 1 else f"{seeds} seeds (0 … {seeds - 1})"


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and std over the finite values (NaN, NaN when there are none)."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values))


def _spread(values: np.ndarray, digits: int) -> str:
    mean, std = _mean_std(values)
    return "—" if math.isnan(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _label(result: Result, raw: float) -> str:
    network = "batch norm" if result.batch_norm else "plain"
    return f"{network}, {INPUT_LABELS[result.inputs].format(raw=raw)}"


def _report(r: Result) -> None:
    for i, rate in enumerate(r.learning_rates):
        print(
            f"{'BN' if r.batch_norm else 'plain':5s} {r.inputs:12s} lr {rate:<5g}: train "
            f"loss {_spread(r.train_loss[i], 4)}, test accuracy "
            f"{_spread(r.test_accuracy[i], 2)} %, diverged {int(r.diverged[i].sum())}, "
            f"stalled {int(r.stalled[i].sum())}",
            flush=True,
        )


def _markdown(results: Sequence[Result], config: Config, description: str, raw: float) -> str:
    lines = [
        f"# Batch norm and input standardization in a deep MLP — {description}",
        "",
        "Final networks in inference mode, mean ± std over the seeds that did not diverge "
        "(— : all diverged). *train loss*: the cross-entropy on the training images; "
        "*diverged*: seeds whose training loss became NaN or infinite; *stalled*: finite "
        f"seeds that classify ≤ {STALLED_ACCURACY:.0%} of their training images. Inputs: "
        + "; ".join(f"`{name}` = {INPUT_LABELS[name].format(raw=raw)}" for name in INPUTS)
        + ".",
        "",
        "| batch norm | lr | inputs | train loss | test accuracy (%) | diverged | stalled |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for i, rate in enumerate(config.learning_rates):
        for r in results:
            lines.append(
                f"| {'yes' if r.batch_norm else 'no'} | {rate:g} | {r.inputs} "
                f"| {_spread(r.train_loss[i], 4)} | {_spread(r.test_accuracy[i], 2)} "
                f"| {int(r.diverged[i].sum())}/{config.seeds} "
                f"| {int(r.stalled[i].sum())}/{config.seeds} |"
            )
    lines += [
        "",
        "Test accuracy (%) at every learning rate, mean over the seeds that did not "
        "diverge (a count of diverged seeds in brackets):",
        "",
        "| network | inputs | "
        + " | ".join(f"lr {rate:g}" for rate in config.learning_rates)
        + " |",
        "|---|---|" + "---:|" * len(config.learning_rates),
    ]
    for r in results:
        cells = []
        for i in range(len(r.learning_rates)):
            mean, _ = _mean_std(r.test_accuracy[i])
            diverged = int(r.diverged[i].sum())
            cell = "—" if math.isnan(mean) else f"{mean:.2f}"
            cells.append(cell + (f" ({diverged} div.)" if diverged and cell != "—" else ""))
        network = "batch norm" if r.batch_norm else "plain"
        lines.append(f"| {network} | {r.inputs} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt(value: float, digits: int) -> str:
    return "nan" if math.isnan(value) else f"{value:.{digits}f}"


def _write_table_csv(path: Path, results: Sequence[Result], config: Config) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(TABLE_COLUMNS)
        for i, rate in enumerate(config.learning_rates):
            for r in results:
                loss, loss_std = _mean_std(r.train_loss[i])
                accuracy, accuracy_std = _mean_std(r.test_accuracy[i])
                writer.writerow(
                    [
                        int(r.batch_norm),
                        f"{rate:g}",
                        r.inputs,
                        _fmt(loss, 5),
                        _fmt(loss_std, 5),
                        _fmt(accuracy, 3),
                        _fmt(accuracy_std, 3),
                        int(r.diverged[i].sum()),
                        int(r.stalled[i].sum()),
                        config.seeds,
                    ]
                )


def _write_runs_csv(path: Path, results: Sequence[Result]) -> None:
    """Every run's final numbers: one row per network × scaling × learning rate × seed."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(RUN_COLUMNS)
        for r in results:
            for i, rate in enumerate(r.learning_rates):
                for seed in range(r.diverged.shape[1]):
                    writer.writerow(
                        [
                            int(r.batch_norm),
                            f"{rate:g}",
                            r.inputs,
                            seed,
                            int(r.diverged[i, seed]),
                            int(r.stalled[i, seed]),
                            _fmt(r.train_loss[i, seed], 5),
                            _fmt(r.train_accuracy[i, seed], 3),
                            _fmt(r.test_accuracy[i, seed], 3),
                        ]
                    )


# --- plots -----------------------------------------------------------------------------

INPUT_COLORS = {"raw": "#c44e52", "unit": "#4c72b0", "standardized": "#55a868"}


def _plot_curves(path: Path, results: Sequence[Result], config: Config, raw: float) -> None:
    """Training loss per epoch (training mode, the mean over the epoch's batches): plain
    networks above, batch norm below, one column per learning rate, one colour per input
    scaling; a diverged run's curve ends where its loss stopped being finite."""
    rates = config.learning_rates
    fig, axes = plt.subplots(
        2, len(rates), figsize=(3.3 * len(rates), 5.6), sharex=True, sharey=True, squeeze=False
    )
    epochs = np.arange(1, config.epochs + 1)
    for row, batch_norm in enumerate((False, True)):
        for col, rate in enumerate(rates):
            ax = axes[row, col]
            for r in results:
                if r.batch_norm != batch_norm:
                    continue
                curves = np.where(np.isfinite(r.curves[col]), r.curves[col], np.nan)
                color = INPUT_COLORS[r.inputs]
                ax.plot(epochs, curves.T, color=color, lw=1, alpha=0.6)
                ax.plot(
                    [],
                    [],
                    color=color,
                    label=INPUT_LABELS[r.inputs].format(raw=raw)
                    + f" ({int(r.diverged[col].sum())} div.)",
                )
            ax.axhline(np.log(10), color="#999999", ls=":", lw=1)
            ax.set_yscale("log")
            ax.set_title(f"{'batch norm' if batch_norm else 'plain'}, lr {rate:g}", fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
            if row == 1:
                ax.set_xlabel("epoch")
        axes[row, 0].set_ylabel("training loss")
    fig.suptitle(
        f"{config.depth + 1} Dense layers, plain SGD: training loss per epoch, "
        f"{config.seeds} seeds each (dotted: ln 10, chance)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=85)
    plt.close(fig)


def _plot_accuracy(path: Path, results: Sequence[Result], config: Config, raw: float) -> None:
    """Final test accuracy against the learning rate, plain networks left, batch norm
    right: mean ± std over the seeds that did not diverge (each seed a dot); the number
    of diverged seeds written along the bottom, one line per input scaling."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    rates = np.array(config.learning_rates)
    for ax, batch_norm in zip(axes, (False, True)):
        mine = [r for r in results if r.batch_norm == batch_norm]
        for row, r in enumerate(mine):
            color = INPUT_COLORS[r.inputs]
            stats = [_mean_std(r.test_accuracy[i]) for i in range(len(rates))]
            ax.errorbar(
                rates,
                [m for m, _ in stats],
                yerr=[s for _, s in stats],
                marker="o",
                capsize=3,
                color=color,
                label=INPUT_LABELS[r.inputs].format(raw=raw),
            )
            for i, rate in enumerate(rates):
                ax.scatter(
                    np.full(r.test_accuracy.shape[1], rate),
                    r.test_accuracy[i],
                    s=8,
                    color=color,
                    alpha=0.5,
                )
                count = int(r.diverged[i].sum())
                ax.text(
                    rate,
                    2 + 5 * row,
                    f"{count} div." if count else "·",
                    color=color,
                    ha="center",
                    fontsize=7,
                )
        ax.set_xscale("log")
        ax.set_xticks(rates, [f"{rate:g}" for rate in rates])
        ax.minorticks_off()
        ax.set_xlabel("learning rate (plain SGD)")
        ax.set_ylim(0, 100)
        ax.axhline(10, color="#999999", ls=":", lw=1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left")
        ax.set_title("batch norm" if batch_norm else "plain", fontsize=10)
    axes[0].set_ylabel("test accuracy (%)")
    fig.suptitle(
        f"{config.depth + 1} Dense layers: final test accuracy, mean ± std over the seeds "
        f"that did not diverge (of {config.seeds}; dots: seeds; dotted: chance)",
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
        "depth": args.depth,
        "width": args.width,
        "epochs": args.epochs,
        "train_size": args.train_size,
        "learning_rates": tuple(args.learning_rates) if args.learning_rates else None,
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
        "--seeds",
        type=_positive,
        default=None,
        help=f"seeds per network, scaling and learning rate (default {DEFAULT.seeds})",
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
        "--depth",
        type=_positive,
        default=None,
        help=f"hidden Dense layers (default {DEFAULT.depth})",
    )
    parser.add_argument(
        "--width", type=_positive, default=None, help=f"hidden units (default {DEFAULT.width})"
    )
    parser.add_argument(
        "--epochs", type=_positive, default=None, help=f"epochs (default {DEFAULT.epochs})"
    )
    parser.add_argument(
        "--train-size",
        type=_positive,
        default=None,
        help=f"training images (default {DEFAULT.train_size:,})",
    )
    parser.add_argument(
        "--learning-rates",
        type=_positive_float,
        nargs="+",
        default=None,
        help=f"the SGD learning rates (default {DEFAULT.learning_rates})",
    )
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())

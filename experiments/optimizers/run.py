"""The optimizer study: nine optimizers × a learning-rate grid × seeds on digits or MNIST,
plus each optimizer's path on two classic 2-D landscapes.

Each optimizer's whole grid (learning rates × seeds) trains as one ``jaxdl.train.fit_sweep``
call: one vmapped, compiled program per epoch. The learning rate is chosen on a validation
split of the training set (mean final validation accuracy over seeds); the test set is
used only to report the chosen rate's accuracy.

Usage::

    python experiments/optimizers/run.py                       # digits, ~1 min on 2 cores
    python experiments/optimizers/run.py --dataset mnist --data-dir DIR   # ~5 min
    python experiments/optimizers/run.py --quick --out /tmp/study   # a smoke test, < 1 min

Writes ``curves.png``, ``lr_sensitivity.png``, ``landscapes.png``, ``table.md``,
``table.csv`` and ``grid.csv`` to ``--out`` (default ``results/<dataset>/`` beside this
file) and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import _landscapes
import _plots
import jax
import numpy as np

from jaxdl import data, losses, models, nn, optim, train

HERE = Path(__file__).resolve().parent

# Each optimizer with the ends of its learning-rate grid: the values 1·10^k and 3·10^k
# in between (log-spaced, about half a decade apart), seven per optimizer. Wide enough that
# every best rate lies inside its grid on digits and on MNIST.
OPTIMIZERS: dict[str, tuple[Callable[..., optim.GradientTransformation], float, float]] = {
    "sgd": (optim.sgd, 1e-2, 10.0),
    "momentum": (optim.momentum, 1e-3, 1.0),
    "nesterov": (optim.nesterov, 1e-3, 1.0),
    "adagrad": (optim.adagrad, 3e-3, 3.0),
    "adadelta": (optim.adadelta, 3e-2, 30.0),
    "rmsprop": (optim.rmsprop, 3e-5, 3e-2),
    "adam": (optim.adam, 1e-4, 1e-1),
    "nadam": (optim.nadam, 1e-4, 1e-1),
    "adamw": (optim.adamw, 1e-4, 1e-1),
}

# How curves.png groups them, one column each.
FAMILIES = {
    "gradient descent and momentum": ("sgd", "momentum", "nesterov"),
    "per-parameter adaptive rates": ("adagrad", "adadelta", "rmsprop"),
    "Adam and its variants": ("adam", "nadam", "adamw"),
}


@dataclasses.dataclass(frozen=True)
class Setup:
    """What one data set is trained with."""

    hidden: tuple[int, ...]
    epochs: int
    batch_size: int
    seeds: int
    validation: float  # share of the training set held out for choosing the rate
    target: float  # validation accuracy for "steps to target"


SETUPS = {
    "digits": Setup(hidden=(64,), epochs=30, batch_size=32, seeds=3, validation=0.2, target=0.95),
    "mnist": Setup(hidden=(128,), epochs=5, batch_size=128, seeds=2, validation=1 / 6, target=0.97),
}
QUICK_TRAIN_SAMPLES = 2000


@dataclasses.dataclass
class Sweep:
    """One optimizer's sweep: its grid, per-epoch metrics, the chosen rate and its test
    accuracy."""

    name: str
    learning_rates: np.ndarray  # (rates,)
    history: dict[str, np.ndarray]  # metric -> (rates, seeds, epochs)
    best: int  # index of the chosen learning rate
    test_accuracy: np.ndarray  # (seeds,) at the chosen rate
    steps_to_target: int | None
    seconds: float

    @property
    def best_rate(self) -> float:
        return float(self.learning_rates[self.best])

    @property
    def at_grid_edge(self) -> bool:
        return self.best in (0, len(self.learning_rates) - 1)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    setup = dataclasses.replace(
        SETUPS[args.dataset],
        **{
            name: value
            for name, value in (("epochs", args.epochs), ("seeds", args.seeds))
            if value is not None
        },
    )
    if args.quick:
        setup = dataclasses.replace(setup, epochs=min(setup.epochs, 2), seeds=1)
    out = Path(args.out or HERE / "results" / args.dataset)
    out.mkdir(parents=True, exist_ok=True)

    train_split, validation, test = _load(args, setup)
    model = models.mlp(10, setup.hidden)
    layer_sizes = (np.prod(train_split[0].shape[1:]), *setup.hidden, 10)
    steps_per_epoch = len(train_split[0]) // setup.batch_size
    description = (
        f"{args.dataset}: MLP {'-'.join(map(str, layer_sizes))}, {len(train_split[0])} "
        f"train / {len(validation[0])} val / {len(test[0])} test, batch {setup.batch_size}, "
        f"{setup.epochs} epochs, {setup.seeds} seeds"
    )
    print(description, flush=True)

    sweeps = []
    for name, (make_optimizer, lowest, highest) in OPTIMIZERS.items():
        rates = learning_rate_grid(lowest, highest)
        if args.quick:
            rates = rates[len(rates) // 2 - 1 : len(rates) // 2 + 1]
        sweeps.append(
            _sweep(
                name,
                make_optimizer,
                rates,
                model,
                train_split,
                validation,
                test,
                setup,
                steps_per_epoch,
            )
        )

    colors = _plots.colors_for(list(OPTIMIZERS))
    _plots.plot_curves(
        str(out / "curves.png"),
        sweeps,
        title=description,
        target=setup.target,
        steps_per_epoch=steps_per_epoch,
        families=FAMILIES,
        colors=colors,
    )
    _plots.plot_lr_sensitivity(
        str(out / "lr_sensitivity.png"),
        sweeps,
        title=f"Final validation accuracy vs learning rate (mean, "
        f"bars: min–max over seeds; ★ chosen)\n{description}",
        colors=colors,
    )
    _landscapes.plot_landscapes(str(out / "landscapes.png"), colors)
    table = _markdown_table(sweeps, setup, description)
    (out / "table.md").write_text(table)
    _write_table_csv(out / "table.csv", sweeps)
    _write_grid_csv(out / "grid.csv", sweeps)
    print(table)
    for sweep in sweeps:
        if sweep.at_grid_edge and not args.quick:
            print(
                f"note: {sweep.name}'s best learning rate {sweep.best_rate:.3g} is at the "
                "edge of its grid; widen the grid."
            )
    print(f"results in {out}")
    return 0


def learning_rate_grid(lowest: float, highest: float) -> np.ndarray:
    """The values ``1·10^k`` and ``3·10^k`` from ``lowest`` to ``highest``, ascending.

    >>> learning_rate_grid(0.03, 1.0).tolist()
    [0.03, 0.1, 0.3, 1.0]
    """
    exponents = np.arange(np.floor(np.log10(lowest)), np.ceil(np.log10(highest)) + 1)
    values = np.round(np.outer(10.0**exponents, [1.0, 3.0]).ravel(), 12)
    return values[(values >= lowest * (1 - 1e-9)) & (values <= highest * (1 + 1e-9))]


def _sweep(
    name: str,
    make_optimizer: Callable[..., optim.GradientTransformation],
    rates: np.ndarray,
    model: nn.Layer,
    train_split: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    setup: Setup,
    steps_per_epoch: int,
) -> Sweep:
    """Train the grid ``rates × seeds`` as one ``fit_sweep``, choose the rate on the
    validation split, then measure the chosen runs on the test set."""
    start = time.perf_counter()
    # Run (rate i, seed s) uses seed key s: every rate and every optimizer starts from
    # the same initialisations and sees the same batches.
    seed_keys = jax.random.split(jax.random.key(0), setup.seeds)
    keys = seed_keys[np.tile(np.arange(setup.seeds), len(rates))]
    final_state, history = train.fit_sweep(
        model,
        make_optimizer,
        train_split,
        loss=losses.softmax_cross_entropy,
        epochs=setup.epochs,
        batch_size=setup.batch_size,
        keys=keys,
        hyperparameters={"learning_rate": np.repeat(rates, setup.seeds)},
        validation_data=validation,
        progress=f"{name:>8}",
    )
    history = {
        metric: values.reshape(len(rates), setup.seeds, -1) for metric, values in history.items()
    }
    best = _choose(history)
    chosen = slice(best * setup.seeds, (best + 1) * setup.seeds)
    chosen_state = jax.tree_util.tree_map(lambda leaf: leaf[chosen], final_state)
    test_accuracy = np.asarray(_evaluate_runs(model, chosen_state, test)["accuracy"])
    reached = np.flatnonzero(history["val_accuracy"][best].mean(axis=0) >= setup.target)
    steps = int(reached[0] + 1) * steps_per_epoch if reached.size else None
    return Sweep(name, rates, history, best, test_accuracy, steps, time.perf_counter() - start)


def _choose(history: dict[str, np.ndarray]) -> int:
    """The learning rate with the highest mean final validation accuracy over seeds; ties
    go to the lower mean final validation loss. Diverged runs (NaN) rank last."""
    accuracy = np.nan_to_num(history["val_accuracy"][..., -1], nan=0.0).mean(axis=1)
    loss = np.nan_to_num(history["val_loss"][..., -1], nan=np.inf).mean(axis=1)
    return int(np.lexsort((loss, -accuracy))[0])


def _evaluate_runs(
    model: nn.Layer, stacked_state: train.TrainState, split: tuple[np.ndarray, np.ndarray]
) -> dict[str, jax.Array]:
    """Test metrics of every run in a stacked state, vmapped over the runs."""
    evaluate = train.make_evaluate(
        train.make_eval_step(model, losses.softmax_cross_entropy), batch_size=1000
    )
    return jax.vmap(evaluate, in_axes=(0, None, None))(stacked_state, *split)


def _load(args: argparse.Namespace, setup: Setup) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """``(train, validation, test)`` pairs: the validation split is drawn from the
    training set with a fixed key; ``--quick`` keeps a small part of each."""
    dataset = data.digits() if args.dataset == "digits" else data.mnist(args.data_dir)
    train_split, validation = data.train_val_split(
        dataset.x_train,
        dataset.y_train,
        key=jax.random.key(2024),
        fraction=setup.validation,
    )
    test = dataset.test
    if args.quick:
        n = QUICK_TRAIN_SAMPLES
        train_split, validation, test = ((x[:n], y[:n]) for x, y in (train_split, validation, test))
    return train_split, validation, test


def _markdown_table(sweeps: Sequence[Sweep], setup: Setup, description: str) -> str:
    target = f"{setup.target:.0%}"
    lines = [
        f"# Optimizer study — {description}",
        "",
        "Learning rate chosen by mean final validation accuracy over seeds; test accuracy "
        "of the chosen rate, mean ± std over seeds; steps until the mean validation "
        f"accuracy first reaches {target} (checked once per epoch); wall time of the whole "
        "sweep (all rates × seeds, compilation included).",
        "",
        f"| optimizer | learning-rate grid | best lr | val accuracy | test accuracy "
        f"| steps to {target} val | sweep time (s) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for sweep in sweeps:
        grid = f"{sweep.learning_rates[0]:.2g} … {sweep.learning_rates[-1]:.2g}"
        edge = " (edge)" if sweep.at_grid_edge else ""
        val = np.nanmean(sweep.history["val_accuracy"][sweep.best, :, -1])
        steps = "—" if sweep.steps_to_target is None else str(sweep.steps_to_target)
        lines.append(
            f"| {sweep.name} | {grid} | {sweep.best_rate:.2g}{edge} | {val:.4f} "
            f"| {sweep.test_accuracy.mean():.4f} ± {sweep.test_accuracy.std():.4f} "
            f"| {steps} | {sweep.seconds:.1f} |"
        )
    return "\n".join(lines) + "\n"


def _write_table_csv(path: Path, sweeps: Sequence[Sweep]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "optimizer",
                "best_learning_rate",
                "val_accuracy_mean",
                "test_accuracy_mean",
                "test_accuracy_std",
                "steps_to_target",
                "sweep_seconds",
            ]
        )
        for sweep in sweeps:
            writer.writerow(
                [
                    sweep.name,
                    f"{sweep.best_rate:.6g}",
                    f"{np.nanmean(sweep.history['val_accuracy'][sweep.best, :, -1]):.6f}",
                    f"{sweep.test_accuracy.mean():.6f}",
                    f"{sweep.test_accuracy.std():.6f}",
                    "" if sweep.steps_to_target is None else sweep.steps_to_target,
                    f"{sweep.seconds:.2f}",
                ]
            )


def _write_grid_csv(path: Path, sweeps: Sequence[Sweep]) -> None:
    """Every run's final metrics: one row per optimizer × learning rate × seed."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["optimizer", "learning_rate", "seed", "train_loss", "val_loss", "val_accuracy"]
        )
        for sweep in sweeps:
            for i, rate in enumerate(sweep.learning_rates):
                for seed in range(sweep.history["loss"].shape[1]):
                    writer.writerow(
                        [sweep.name, f"{rate:.6g}", seed]
                        + [
                            f"{sweep.history[metric][i, seed, -1]:.6g}"
                            for metric in ("loss", "val_loss", "val_accuracy")
                        ]
                    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(SETUPS), default="digits")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the MNIST IDX files (default: $JAXDL_DATA_DIR, "
        "then the cache, downloading if needed)",
    )
    parser.add_argument(
        "--epochs",
        type=_positive,
        default=None,
        help="epochs per run (default: 30 on digits, 5 on MNIST)",
    )
    parser.add_argument(
        "--seeds",
        type=_positive,
        default=None,
        help="seeds per learning rate (default: 3 on digits, 2 on MNIST)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: 2 learning rates, 1 seed, at most 2 epochs, "
        f"at most {QUICK_TRAIN_SAMPLES} samples per split",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: results/<dataset>/ beside this file)"
    )
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())

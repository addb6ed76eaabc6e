"""Weight initialisation: a deep network trains only if its initial weights keep the signal's
scale from layer to layer — zeros never break the symmetry between units, a small
uniform init makes the activations collapse, a large one makes them explode (or
saturate), and Glorot (for tanh) and He (for ReLU) preserve them; matched to its activation
each trains, mismatched it may train worse.

Deep MLPs (8 Dense layers of width 128 by default) on a fixed subset of MNIST (the 8×8
digits in ``--quick``), each hidden layer followed by sigmoid, tanh or ReLU, every kernel
drawn from one initializer of ``jaxdl.initializers`` (passed to ``nn.Dense`` as
``kernel_init``; biases zero):

- ``zeros``: ``initializers.zeros``;
- ``uniform``: small uniform, ``initializers.uniform(0.05)``, U(−0.05, 0.05);
- ``glorot``: ``initializers.glorot_uniform()``, variance 2/(n_in + n_out);
- ``he``: ``initializers.he_normal()``, variance 2/n_in;
- ``large``: ``initializers.normal(1.0)``, N(0, 1).

Every (init, activation) trains with SGD + momentum, for several seeds, each seed one
``train.fit`` (the compiled epoch is reused across seeds). Measured: the standard deviation
of every hidden layer's activations at initialisation on a fixed batch of training images,
the training curves, the final training and test accuracy, and — for the symmetry
problem — the rank of every hidden kernel after training and the largest difference
between two units' incoming weights.

Usage::

    python experiments/initialization/run.py              # MNIST, 3 seeds, a few minutes
    python experiments/initialization/run.py --data-dir DIR --seeds 5
    python experiments/initialization/run.py --quick --out DIR   # digits, offline, seconds

Writes ``table.md``, ``table.csv`` (one row per init × activation), ``runs.csv`` (one per
seed), ``activation_std.csv`` (every layer's activation std at init),
``training_curves.png`` and ``activation_std.png`` to ``--out`` (default ``results/``
beside this file) and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import activations, data, initializers, losses, nn, optim, train

HERE = Path(__file__).resolve().parent
SUBSET_SEED = 2010  # which training images form the subset (Glorot & Bengio's year)
MOMENTUM = 0.9

INITS: dict[str, tuple[str, Callable]] = {
    "zeros": ("zeros", initializers.zeros),
    "uniform": ("U(−0.05, 0.05)", initializers.uniform(0.05)),
    "glorot": ("Glorot uniform", initializers.glorot_uniform()),
    "he": ("He normal", initializers.he_normal()),
    "large": ("N(0, 1)", initializers.normal(1.0)),
}
ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": activations.sigmoid,
    "tanh": activations.tanh,
    "relu": activations.relu,
}
MATCHED = {("glorot", "tanh"), ("he", "relu")}
COLORS = {
    "zeros": "#8c8c8c",
    "uniform": "#dd8452",
    "glorot": "#4c72b0",
    "he": "#55a868",
    "large": "#c44e52",
}


@dataclasses.dataclass(frozen=True)
class Config:
    """What every network is built and trained with."""

    inits: tuple[str, ...]  # keys of INITS
    activations: tuple[str, ...]  # keys of ACTIVATIONS
    depth: int  # Dense layers (depth − 1 hidden)
    width: int
    epochs: int
    batch_size: int
    learning_rate: float  # SGD + momentum
    train_size: int | None  # None: the whole training set
    eval_size: int  # the fixed batch the activation statistics are measured on
    seeds: int


DEFAULT = Config(
    inits=tuple(INITS),
    activations=tuple(ACTIVATIONS),
    depth=8,
    width=128,
    epochs=10,
    batch_size=128,
    learning_rate=0.01,
    train_size=10_000,
    eval_size=1000,
    seeds=3,
)
QUICK = Config(
    inits=tuple(INITS),
    activations=("tanh", "relu"),
    depth=6,
    width=32,
    epochs=3,
    batch_size=64,
    learning_rate=0.01,
    train_size=None,
    eval_size=256,
    seeds=2,
)


@dataclasses.dataclass
class Result:
    """One (init, activation) over all seeds."""

    init: str
    activation: str
    activation_std: np.ndarray  # (seeds, hidden layers) at initialisation
    loss: np.ndarray  # (seeds, epochs): training loss, mean over each epoch's batches
    train_accuracy: np.ndarray  # (seeds,) final, on the training images; NaN if diverged
    test_accuracy: np.ndarray  # (seeds,) final, on the test set; NaN if diverged
    train_loss: np.ndarray  # (seeds,) final, on the training images
    diverged: np.ndarray  # (seeds,) bool: the training loss became NaN or inf
    rank: np.ndarray  # (seeds,) the largest rank of a hidden kernel after training
    unit_spread: np.ndarray  # (seeds,) the largest |W[:, j] − W[:, 0]| of a hidden kernel
    full_rank: int  # the largest rank a hidden kernel can have

    @property
    def matched(self) -> str:
        if self.init in ("glorot", "he"):
            return "yes" if (self.init, self.activation) in MATCHED else "no"
        return "—"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = _config(args)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    train_data, test_data, name = _load(args.quick, args.data_dir, config)
    description = (
        f"{name}: {len(train_data[0]):,} training / {len(test_data[0]):,} test images; "
        f"{config.depth} Dense layers of width {config.width}; SGD lr "
        f"{config.learning_rate:g} + momentum {MOMENTUM}, batch {config.batch_size}, "
        f"{config.epochs} epochs; {_seeds(config.seeds)}"
    )
    print(description, flush=True)

    start = time.perf_counter()
    results = []
    for activation in config.activations:
        for init in config.inits:
            r = _train(init, activation, config, train_data, test_data)
            results.append(r)
            print(
                f"{activation:8s} {init:8s}: activation std at init "
                f"{_spread(r.activation_std[:, 0], 3)} (first hidden) → "
                f"{_spread(r.activation_std[:, -1], 3)} (last); test "
                f"accuracy {_spread(100 * r.test_accuracy, 2)} %; hidden rank "
                f"{np.mean(r.rank):g}",
                flush=True,
            )
    seconds = time.perf_counter() - start

    table = _markdown(results, config, description)
    (out / "table.md").write_text(table)
    _write_table_csv(out / "table.csv", results, config)
    _write_runs_csv(out / "runs.csv", results)
    _write_std_csv(out / "activation_std.csv", results)
    _plot_curves(out / "training_curves.png", results, config, description)
    _plot_std(out / "activation_std.png", results, config)
    print(table)
    print(f"trained in {seconds:.0f} s; results in {out}")
    return 0


def _config(args: argparse.Namespace) -> Config:
    config = QUICK if args.quick else DEFAULT
    overrides = {
        "inits": tuple(args.inits) if args.inits else None,
        "activations": tuple(args.activations) if args.activations else None,
        "depth": args.depth,
        "width": args.width,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "seeds": args.seeds,
        "train_size": args.train_size,
    }
    return dataclasses.replace(
        config, **{name: value for name, value in overrides.items() if value is not None}
    )


def _load(quick: bool, data_dir: str | None, config: Config):
    """Flattened images in [0, 1]: a fixed random subset of the training set (the same for
    every network and seed) and the whole test set."""
    if quick:
        ds, name = data.load("digits", flatten=True), "digits (quick)"
    else:
        ds, name = data.load("mnist", data_dir=data_dir, flatten=True), "MNIST"
    order = np.random.default_rng(SUBSET_SEED).permutation(len(ds.x_train))
    if config.train_size is not None:
        order = order[: config.train_size]
    return (ds.x_train[order], ds.y_train[order]), ds.test, name


def mlp(
    depth: int,
    width: int,
    activation: Callable,
    kernel_init: Callable | None = None,
    num_classes: int = 10,
) -> nn.Sequential:
    """``depth`` Dense layers: ``depth − 1`` hidden ones of ``width`` units, each followed by
    ``activation``, then the output layer, all with ``kernel_init`` (default: ``nn.Dense``'s,
    Glorot uniform) and zero biases."""
    options = {} if kernel_init is None else {"kernel_init": kernel_init}
    layers: list = []
    for _ in range(depth - 1):
        layers += [nn.Dense(width, **options), activation]
    layers.append(nn.Dense(num_classes, **options))
    return nn.Sequential(layers)


def activation_stds(model: nn.Sequential, params: dict, state: dict, x: jax.Array) -> jax.Array:
    """(hidden layers,): the standard deviation of each hidden activation's outputs on
    ``x`` (over the batch and the units), in inference mode; the model is run one bound
    layer (``model.bind(params, state)[i]``) at a time."""
    bound = model.bind(params, state)
    stds = []
    for i, layer in enumerate(model.layers):
        part = bound[i]
        x, _ = part.model.apply(part.params, part.state, x)
        if not isinstance(layer, nn.Dense):
            stds.append(jnp.std(x))
    return jnp.stack(stds)


def unit_spread(kernel: np.ndarray) -> float:
    """The largest difference between two units' incoming weights: ``max |W[:, j] −
    W[:, 0]|`` over inputs and units ``j`` of a kernel ``(in, units)``; 0 when every unit
    has the same weights (the symmetry zeros never break).

    >>> unit_spread(np.array([[1.0, 1.0], [2.0, 2.5]]))
    0.5
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    return float(np.max(np.abs(kernel - kernel[:, :1])))


def kernel_rank(kernel: np.ndarray) -> float:
    """The numerical rank of a kernel (``np.linalg.matrix_rank``), NaN if it is not finite.

    >>> kernel_rank(np.ones((3, 4))), kernel_rank(np.zeros((3, 4)))
    (1.0, 0.0)
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if not np.isfinite(kernel).all():
        return float("nan")
    return float(np.linalg.matrix_rank(kernel))


def _hidden_kernels(model: nn.Sequential, params: dict) -> list[np.ndarray]:
    """The kernels of the hidden Dense layers (all but the output layer)."""
    dense = [name for name, layer in zip(model.names, model.layers) if isinstance(layer, nn.Dense)]
    return [np.asarray(params[name]["w"]) for name in dense[:-1]]


# fit's and evaluate's compiled programs are cached per model, and a Dense layer's
# kernel_init is part of the model although only its init reads it. So each network is
# initialised by a model with its own kernel_init and then trained and measured through one
# architecture per activation, mlp(depth, width, activation), which computes the same
# function of the params: the five inits of an activation share their compiled programs.


@functools.cache
def _stds_fn(model: nn.Sequential) -> Callable:
    return jax.jit(functools.partial(activation_stds, model))


def _train(init: str, activation: str, config: Config, train_data, test_data) -> Result:
    """Train one (init, activation) once per seed with ``fit``, from the initial params
    ``mlp(..., kernel_init).init(jax.random.key(seed), x)``; measure the activation spread
    at initialisation and the accuracies, rank and unit spread at the end."""
    initial = mlp(config.depth, config.width, ACTIVATIONS[activation], INITS[init][1])
    model = mlp(config.depth, config.width, ACTIVATIONS[activation])
    optimizer = optim.momentum(config.learning_rate, MOMENTUM)
    x_eval = train_data[0][: config.eval_size]
    stds, curves, final = [], [], []
    for seed in range(config.seeds):
        params, state = initial.init(jax.random.key(seed), x_eval[:1])
        stds.append(np.asarray(_stds_fn(model)(params, state, x_eval)))
        start = train.TrainState.create(params=params, state=state, optimizer=optimizer)
        with warnings.catch_warnings():
            # A diverging run is expected (N(0, 1) weights); the table counts it.
            warnings.filterwarnings("ignore", "fit: training diverged")
            final_state, history = train.fit(
                model,
                optimizer,
                train_data,
                loss=losses.softmax_cross_entropy,
                epochs=config.epochs,
                batch_size=config.batch_size,
                key=jax.random.key(seed),
                train_state=start,
                progress=False,
            )
        curve = _padded(history.history.get("loss", []), config.epochs)
        curves.append(curve)
        on_train = train.evaluate(
            model, final_state, train_data, loss=losses.softmax_cross_entropy, batch_size=1000
        )
        on_test = train.evaluate(
            model, final_state, test_data, loss=losses.softmax_cross_entropy, batch_size=1000
        )
        kernels = _hidden_kernels(model, final_state.params)
        diverged = not (np.isfinite(curve).all() and np.isfinite(on_train["loss"]))
        final.append(
            (
                on_train["accuracy"],
                on_test["accuracy"],
                on_train["loss"],
                max(kernel_rank(k) for k in kernels),
                max(unit_spread(k) for k in kernels),
                diverged,
            )
        )
    train_accuracy, test_accuracy, train_loss, rank, spread, diverged = np.asarray(final).T
    diverged = diverged.astype(bool)
    # A diverged run's numbers mean nothing (fit stops before the first non-finite epoch
    # and keeps the state before it; jaxdl's accuracy counts NaN logits as correct).
    full_rank = min(len(train_data[0][0]), config.width)
    return Result(
        init=init,
        activation=activation,
        activation_std=np.asarray(stds, dtype=np.float64),
        loss=np.asarray(curves, dtype=np.float64),
        train_accuracy=np.where(diverged, np.nan, train_accuracy),
        test_accuracy=np.where(diverged, np.nan, test_accuracy),
        train_loss=np.where(diverged, np.nan, train_loss),
        diverged=diverged,
        rank=np.where(diverged, np.nan, rank),
        unit_spread=np.where(diverged, np.nan, spread),
        full_rank=full_rank,
    )


def _padded(values: Sequence[float], epochs: int) -> np.ndarray:
    """A loss curve of ``epochs`` values; a run that stopped early (``fit`` stops before
    an epoch whose loss is not finite) is padded with NaN.

    >>> _padded([2.0, 1.0], 3)
    array([ 2.,  1., nan])
    """
    curve = np.full(epochs, np.nan)
    curve[: len(values)] = values
    return curve


def _spread(values: np.ndarray, digits: int = 2) -> str:
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).all():
        return "—"
    return f"{np.nanmean(values):.{digits}f} ± {np.nanstd(values):.{digits}f}"


def _std_cell(values: np.ndarray) -> str:
    mean = float(np.mean(values))
    return f"{mean:.3g}" if mean < 1e3 else f"{mean:.2e}"


def _seeds(seeds: int) -> str:
    return "1 seed (0)" if seeds == 1 else f"{seeds} seeds (0 … {seeds - 1})"


def _markdown(results: Sequence[Result], config: Config, description: str) -> str:
    lines = [
        f"# Weight initialisation × activation — {description}",
        "",
        "Accuracy in %, mean ± std over seeds, of the final networks (— : every seed "
        "diverged; a diverged seed is left out of the mean and counted). Activation std: "
        "the standard deviation of a hidden layer's outputs on a fixed batch of training "
        "images at initialisation (mean over seeds), first and last hidden layer. Rank: "
        "the largest rank of a hidden kernel after training (mean over seeds; full rank "
        f"is {results[0].full_rank if results else '—'}); unit spread: the largest "
        "difference between two hidden units' incoming weights after training (0: every "
        "unit of a layer identical).",
        "",
        "| init | activation | matched | train accuracy (%) | test accuracy (%) | final "
        "train loss | activation std, first hidden | activation std, last hidden | rank "
        "| unit spread | diverged |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.init} | {r.activation} | {r.matched} | {_spread(100 * r.train_accuracy)} "
            f"| {_spread(100 * r.test_accuracy)} | {_loss_cell(r.train_loss)} "
            f"| {_std_cell(r.activation_std[:, 0])} | {_std_cell(r.activation_std[:, -1])} "
            f"| {_rank_cell(r.rank)} | {_spread_cell(r.unit_spread)} "
            f"| {int(r.diverged.sum())}/{len(r.diverged)} |"
        )
    return "\n".join(lines) + "\n"


def _loss_cell(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    return f"{np.mean(finite):.4f}" if len(finite) else "—"


def _rank_cell(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    return f"{np.mean(finite):g}" if len(finite) else "—"


def _spread_cell(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    return f"{np.mean(finite):.3g}" if len(finite) else "—"


def _write_table_csv(path: Path, results: Sequence[Result], config: Config) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "init",
                "activation",
                "matched",
                "train_accuracy_percent",
                "train_accuracy_std",
                "test_accuracy_percent",
                "test_accuracy_std",
                "train_loss",
                "std_first_hidden",
                "std_last_hidden",
                "hidden_rank",
                "full_rank",
                "unit_spread",
                "diverged",
                "seeds",
            ]
        )
        for r in results:
            writer.writerow(
                [
                    r.init,
                    r.activation,
                    r.matched,
                    f"{np.nanmean(100 * r.train_accuracy):.3f}" if not r.diverged.all() else "nan",
                    f"{np.nanstd(100 * r.train_accuracy):.3f}" if not r.diverged.all() else "nan",
                    f"{np.nanmean(100 * r.test_accuracy):.3f}" if not r.diverged.all() else "nan",
                    f"{np.nanstd(100 * r.test_accuracy):.3f}" if not r.diverged.all() else "nan",
                    _loss_cell(r.train_loss).replace("—", "nan"),
                    f"{np.mean(r.activation_std[:, 0]):.6g}",
                    f"{np.mean(r.activation_std[:, -1]):.6g}",
                    _rank_cell(r.rank).replace("—", "nan"),
                    r.full_rank,
                    f"{np.mean(r.unit_spread[np.isfinite(r.unit_spread)]):.6g}"
                    if np.isfinite(r.unit_spread).any()
                    else "nan",
                    int(r.diverged.sum()),
                    config.seeds,
                ]
            )


def _write_runs_csv(path: Path, results: Sequence[Result]) -> None:
    """Every run's final numbers: one row per init × activation × seed."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "init",
                "activation",
                "seed",
                "train_accuracy_percent",
                "test_accuracy_percent",
                "train_loss",
                "std_first_hidden",
                "std_last_hidden",
                "hidden_rank",
                "unit_spread",
                "diverged",
            ]
        )
        for r in results:
            for seed in range(len(r.train_loss)):
                writer.writerow(
                    [
                        r.init,
                        r.activation,
                        seed,
                        f"{100 * r.train_accuracy[seed]:.3f}",
                        f"{100 * r.test_accuracy[seed]:.3f}",
                        f"{r.train_loss[seed]:.5f}",
                        f"{r.activation_std[seed, 0]:.6g}",
                        f"{r.activation_std[seed, -1]:.6g}",
                        f"{r.rank[seed]:g}",
                        f"{r.unit_spread[seed]:.6g}",
                        int(r.diverged[seed]),
                    ]
                )


def _write_std_csv(path: Path, results: Sequence[Result]) -> None:
    """The activation std of every hidden layer at initialisation, per run."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["init", "activation", "seed", "layer", "std"])
        for r in results:
            for seed, stds in enumerate(r.activation_std):
                for layer, value in enumerate(stds, start=1):
                    writer.writerow([r.init, r.activation, seed, layer, f"{value:.6g}"])


def _plot_curves(path: Path, results: Sequence[Result], config: Config, description: str) -> None:
    """Training loss per epoch, one panel per activation, one line per init."""
    fig, axes = plt.subplots(
        1, len(config.activations), figsize=(3.6 * len(config.activations), 3.6), sharey=True
    )
    epochs = np.arange(1, config.epochs + 1)
    for ax, activation in zip(np.atleast_1d(axes), config.activations):
        for r in (r for r in results if r.activation == activation):
            label = INITS[r.init][0] + (" (matched)" if r.matched == "yes" else "")
            if r.diverged.all():
                label += " — diverged"
            mean = np.nanmean(r.loss, axis=0) if np.isfinite(r.loss).any() else r.loss[0]
            std = np.nanstd(r.loss, axis=0) if np.isfinite(r.loss).any() else r.loss[0]
            ax.plot(
                epochs,
                mean,
                color=COLORS[r.init],
                marker="o",
                ms=3,
                label=label,
                lw=2.2 if r.matched == "yes" else 1.4,
            )
            ax.fill_between(epochs, mean - std, mean + std, color=COLORS[r.init], alpha=0.2)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(activation, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    np.atleast_1d(axes)[0].set_ylabel("training loss (mean over the epoch)")
    fig.suptitle(f"Training loss, mean ± std over {config.seeds} seeds\n{description}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_std(path: Path, results: Sequence[Result], config: Config) -> None:
    """Activation std per hidden layer at initialisation (log scale)."""
    fig, axes = plt.subplots(
        1, len(config.activations), figsize=(3.6 * len(config.activations), 3.6), sharey=True
    )
    layers = np.arange(1, config.depth)
    for ax, activation in zip(np.atleast_1d(axes), config.activations):
        for r in (r for r in results if r.activation == activation):
            stds = r.activation_std
            label = INITS[r.init][0]
            if not (stds > 0).any():
                label += " (std 0: not drawn)"
                ax.plot([], [], color=COLORS[r.init], label=label)
                continue
            for seed_stds in stds:
                ax.plot(
                    layers,
                    np.where(seed_stds > 0, seed_stds, np.nan),
                    color=COLORS[r.init],
                    lw=0.6,
                    alpha=0.35,
                )
            mean = np.exp(np.mean(np.log(np.where(stds > 0, stds, np.nan)), axis=0))
            ax.plot(
                layers,
                mean,
                color=COLORS[r.init],
                marker="o",
                ms=3,
                label=label,
                lw=2.2 if r.matched == "yes" else 1.4,
            )
        ax.set_yscale("log")
        ax.set_xticks(layers)
        ax.set_xlabel("hidden layer (1 = input side)")
        ax.set_title(activation, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    np.atleast_1d(axes)[0].set_ylabel("std of the layer's activations at init")
    fig.suptitle(
        f"Spread of the activations at initialisation, {config.depth} Dense layers of "
        f"width {config.width}: geometric mean over {config.seeds} seeds (thin: "
        "seeds)",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


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
        help=f"seeds per init and activation (default {DEFAULT.seeds})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test on scikit-learn's digits (offline): activations "
        f"{QUICK.activations}, {QUICK.depth} layers of width "
        f"{QUICK.width}, {QUICK.epochs} epochs, {QUICK.seeds} seeds",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: results/ beside this file)"
    )
    parser.add_argument(
        "--inits",
        nargs="+",
        choices=list(INITS),
        default=None,
        help=f"initializers (default: all, {list(INITS)})",
    )
    parser.add_argument(
        "--activations",
        nargs="+",
        choices=list(ACTIVATIONS),
        default=None,
        help=f"hidden activations (default: all, {list(ACTIVATIONS)})",
    )
    parser.add_argument(
        "--depth", type=_at_least_two, default=None, help=f"Dense layers (default {DEFAULT.depth})"
    )
    parser.add_argument(
        "--width", type=_positive, default=None, help=f"hidden units (default {DEFAULT.width})"
    )
    parser.add_argument(
        "--epochs", type=_positive, default=None, help=f"epochs (default {DEFAULT.epochs})"
    )
    parser.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=None,
        help=f"SGD learning rate (default {DEFAULT.learning_rate})",
    )
    parser.add_argument(
        "--train-size",
        type=_positive,
        default=None,
        help=f"training images (default {DEFAULT.train_size:,})",
    )
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _at_least_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be ≥ 2, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())

"""Capacity: one hidden layer can approximate a function as closely as we like when it
is wide enough (the universal approximation theorem), and, at an equal number of
parameters, are deep-and-thin networks better than shallow-and-fat ones?

Two parts:

(a) *Universal approximation.* Networks ``1 → w → 1`` with one hidden layer of ``w``
    tanh or ReLU units are fit to ``f(x) = sin(3x) + 0.3 x²`` on 256 evenly spaced points
    of ``[-π, π]`` by full-batch Adam (cosine decay), several seeds; the approximation
    error is the mean squared error on a dense grid of 2,001 points. The hidden biases
    start uniform in ``[-3, 3]`` (``jaxdl.initializers.uniform``), so the units' centres
    and kinks ``-b/w`` spread over the interval instead of all sitting at ``x = 0``
    (zero biases, ``Dense``'s default). Each network's seeds train together in one
    compiled ``lax.scan`` of ``jaxdl.train.make_train_step``, ``vmap``-ed over seeds.
(b) *Deep and thin against shallow and fat.* ReLU MLPs (``jaxdl.models.mlp``) with 1, 2,
    4 and 8 hidden layers of equal width, each width chosen so that the parameter count
    is as close as possible to a target (100,000 on MNIST; within 2 %, counted by
    ``jaxdl.nn.count_params``), trained with the same optimizer, batch size and epochs,
    each depth's seeds in one ``jaxdl.train.fit_sweep``.

Usage::

    python experiments/capacity/run.py                     # MNIST, ~1–2 min on 2 cores
    python experiments/capacity/run.py --data-dir DIR --seeds 5
    python experiments/capacity/run.py --quick --out DIR    # digits, offline, ~20 s

Writes ``table.md``, ``table.csv`` (one row per network and metric: mean and std over
seeds), ``runs.csv`` (one row per network, seed and metric), ``fits.png``,
``error_vs_width.png`` and ``equal_params.png`` to ``--out`` (default ``results/`` beside
this file) and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
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

from jaxdl import activations, data, initializers, losses, models, nn, optim, train

HERE = Path(__file__).resolve().parent
ACTIVATIONS = {
    "tanh": (activations.tanh, initializers.glorot_uniform()),
    "relu": (activations.relu, initializers.he_uniform()),
}
COLORS = {"tanh": "#4c72b0", "relu": "#c44e52"}
DEPTH_COLORS = ("#555555", "#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974")
TARGET_TEXT = "sin(3x) + 0.3x²"


def target(x: np.ndarray) -> np.ndarray:
    """The function of part (a): ``sin(3x) + 0.3 x²``.

    >>> float(target(np.array(0.0)))
    0.0
    """
    return np.sin(3 * x) + 0.3 * x**2


@dataclasses.dataclass(frozen=True)
class Config:
    """What every network is built and trained with."""

    seeds: int
    # (a) universal approximation
    widths: tuple[int, ...]
    activations: tuple[str, ...]
    train_points: int
    grid_points: int
    steps: int  # full-batch Adam steps
    fit_learning_rate: float  # peak of the cosine decay (to 1 % of it)
    bias_range: float  # hidden biases start uniform in [-bias_range, bias_range]
    # (b) equal parameter counts
    target_params: int
    depths: tuple[int, ...]  # hidden layers
    epochs: int
    batch_size: int
    learning_rate: float  # Adam, constant
    tolerance: float = 0.02  # largest relative distance of a count from target_params


DEFAULT = Config(
    seeds=3,
    widths=(1, 2, 4, 8, 16, 64, 256),
    activations=("tanh", "relu"),
    train_points=256,
    grid_points=2001,
    steps=3000,
    fit_learning_rate=1e-2,
    bias_range=3.0,
    target_params=100_000,
    depths=(1, 2, 4, 8),
    epochs=5,
    batch_size=128,
    learning_rate=1e-3,
)
QUICK = Config(
    seeds=2,
    widths=(2, 16),
    activations=("tanh", "relu"),
    train_points=128,
    grid_points=501,
    steps=600,
    fit_learning_rate=1e-2,
    bias_range=3.0,
    target_params=5_000,
    depths=(1, 2),
    epochs=3,
    batch_size=64,
    learning_rate=1e-3,
)


def mlp_params(hidden_layers: int, width: int, inputs: int, classes: int) -> int:
    """Weights and biases of an MLP ``inputs → width (× hidden_layers) → classes``:
    ``(inputs + 1)·w + (L − 1)(w + 1)·w + (w + 1)·classes``.

    >>> mlp_params(2, 512, 784, 10) == (785 * 512 + 513 * 512 + 513 * 10)
    True
    """
    return (inputs + 1) * width + (hidden_layers - 1) * (width + 1) * width + (width + 1) * classes


def matched_width(hidden_layers: int, target_params: int, inputs: int, classes: int) -> int:
    """The width whose MLP (:func:`mlp_params`) has the parameter count closest to
    ``target_params`` (the smaller width on a tie).

    >>> matched_width(1, 100_000, 784, 10), matched_width(4, 100_000, 784, 10)
    (126, 93)
    """
    width = 1
    while mlp_params(hidden_layers, width + 1, inputs, classes) <= target_params:
        width += 1
    above = width + 1
    gap = abs(mlp_params(hidden_layers, width, inputs, classes) - target_params)
    gap_above = abs(mlp_params(hidden_layers, above, inputs, classes) - target_params)
    return above if gap_above < gap else width


def loglog_slope(widths: Sequence[int], errors: Sequence[float]) -> float:
    """The least-squares slope of ``log error`` against ``log width``: the ``k`` of
    ``error ∝ width^k``.

    >>> round(loglog_slope([1, 2, 4, 8], [1.0, 0.25, 0.0625, 0.015625]), 6)
    -2.0
    """
    return float(np.polyfit(np.log(widths), np.log(errors), 1)[0])


@dataclasses.dataclass
class Fit:
    """Part (a): one activation × width, every seed."""

    activation: str
    width: int
    params: int
    grid_mse: np.ndarray  # (seeds,)
    prediction: np.ndarray  # (seeds, grid_points) on the dense grid
    loss_curve: np.ndarray  # (seeds, steps) training MSE before each step


@dataclasses.dataclass
class Network:
    """Part (b): one depth, every seed."""

    hidden_layers: int
    width: int
    weights: int
    biases: int
    train_accuracy: np.ndarray  # (seeds,)
    test_accuracy: np.ndarray  # (seeds,)
    train_loss: np.ndarray  # (seeds,)
    history: dict[str, np.ndarray]  # fit_sweep's metric -> (seeds, epochs)

    @property
    def params(self) -> int:
        return self.weights + self.biases


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = QUICK if args.quick else DEFAULT
    if args.seeds is not None:
        config = dataclasses.replace(config, seeds=args.seeds)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    grid = np.linspace(-np.pi, np.pi, config.grid_points, dtype=np.float32)
    fits = [
        _fit(name, width, config, grid) for name in config.activations for width in config.widths
    ]
    for fit in fits:
        print(
            f"(a) {fit.activation:4s} width {fit.width:4d}: grid MSE {_spread(fit.grid_mse, 'e')}",
            flush=True,
        )
    print(f"(a) {time.perf_counter() - start:.0f} s", flush=True)

    if args.quick:
        ds, name = data.load("digits", flatten=True), "digits (quick)"
    else:
        ds, name = data.load("mnist", data_dir=args.data_dir, flatten=True), "MNIST"
    description = (
        f"{name}: {len(ds.x_train):,} training / {len(ds.x_test):,} test images; ReLU MLPs "
        f"of ≈{config.target_params:,} parameters; Adam {config.learning_rate:g}, batch "
        f"{config.batch_size}, {config.epochs} epochs; {_seeds(config.seeds)}"
    )
    print(description, flush=True)
    networks = []
    for depth in config.depths:
        network = _train_network(depth, config, ds)
        networks.append(network)
        print(
            f"(b) {depth} × {network.width}: {network.params:,} parameters, test accuracy "
            f"{_spread(network.test_accuracy, 'f')}",
            flush=True,
        )
    seconds = time.perf_counter() - start

    table = _markdown(fits, networks, config, description)
    (out / "table.md").write_text(table)
    _write_csvs(out, fits, networks)
    _plot_fits(out / "fits.png", fits, config, grid)
    _plot_error_vs_width(out / "error_vs_width.png", fits, config)
    _plot_equal_params(out / "equal_params.png", networks, config, description)
    print(table)
    print(f"trained in {seconds:.0f} s; results in {out}")
    return 0


def _fit(name: str, width: int, config: Config, grid: np.ndarray) -> Fit:
    """Part (a): every seed of one network, full-batch Adam for ``config.steps`` steps in
    one compiled scan; the MSE of the final networks on the dense grid."""
    activation, kernel_init = ACTIVATIONS[name]
    model = nn.Sequential(
        [
            nn.Dense(
                width, kernel_init=kernel_init, bias_init=initializers.uniform(config.bias_range)
            ),
            activation,
            nn.Dense(1),
        ]
    )
    x = np.linspace(-np.pi, np.pi, config.train_points, dtype=np.float32)[:, None]
    y = target(x).astype(np.float32)
    optimizer = optim.adam(
        optim.cosine_decay_schedule(config.fit_learning_rate, config.steps, alpha=0.01)
    )
    step = train.make_train_step(model, losses.mse, optimizer)

    def run(key: jax.Array):
        params, state = model.init(key, x[:1])
        train_state = train.TrainState.create(params=params, state=state, optimizer=optimizer)

        def body(train_state, _):
            train_state, metrics = step(train_state, (x, y), key)
            return train_state, metrics["loss"]

        train_state, curve = jax.lax.scan(body, train_state, None, length=config.steps)
        prediction, _ = model.apply(train_state.params, train_state.state, grid[:, None])
        return train_state.params, prediction[:, 0], curve

    keys = jnp.stack([jax.random.key(seed) for seed in range(config.seeds)])
    params, prediction, curve = jax.device_get(jax.jit(jax.vmap(run))(keys))
    prediction = np.asarray(prediction, dtype=np.float64)
    grid_mse = np.mean((prediction - target(grid.astype(np.float64))) ** 2, axis=1)
    first = jax.tree_util.tree_map(lambda leaf: leaf[0], params)
    return Fit(
        activation=name,
        width=width,
        params=sum(nn.count_params(first)),
        grid_mse=grid_mse,
        prediction=prediction,
        loss_curve=np.asarray(curve, dtype=np.float64),
    )


def _train_network(depth: int, config: Config, ds) -> Network:
    """Part (b): every seed of one depth in one ``fit_sweep``; the final networks on the
    training and test sets (inference mode)."""
    inputs = ds.x_train.shape[1]
    width = matched_width(depth, config.target_params, inputs, ds.num_classes)
    model = models.mlp(ds.num_classes, hidden=(width,) * depth)
    keys = jnp.stack([jax.random.key(seed) for seed in range(config.seeds)])
    final_state, history = train.fit_sweep(
        model,
        lambda: optim.adam(config.learning_rate),
        ds.train,
        loss=losses.softmax_cross_entropy,
        epochs=config.epochs,
        batch_size=config.batch_size,
        keys=keys,
        validation_data=ds.test,
        eval_batch_size=2000,
        progress=False,
    )
    evaluate = jax.vmap(
        train.make_evaluate(
            train.make_eval_step(model, losses.softmax_cross_entropy), batch_size=2000
        ),
        in_axes=(0, None, None),
    )
    on_train = jax.device_get(evaluate(final_state, *ds.train))
    first = jax.tree_util.tree_map(lambda leaf: leaf[0], final_state.params)
    weights, biases = nn.count_params(first)
    expected = mlp_params(depth, width, inputs, ds.num_classes)
    if weights + biases != expected:
        raise RuntimeError(
            f"{depth} × {width}: nn.count_params gives {weights + biases:,}, "
            f"the formula {expected:,}"
        )
    if abs(expected - config.target_params) > config.tolerance * config.target_params:
        raise ValueError(
            f"{depth} hidden layers: no width gives {config.target_params:,} parameters "
            f"within {config.tolerance:.0%}; the closest, {width}, gives {expected:,}"
        )
    return Network(
        hidden_layers=depth,
        width=width,
        weights=weights,
        biases=biases,
        train_accuracy=np.asarray(on_train["accuracy"], dtype=np.float64),
        test_accuracy=np.asarray(history["val_accuracy"][:, -1], dtype=np.float64),
        train_loss=np.asarray(on_train["loss"], dtype=np.float64),
        history={name: np.asarray(values) for name, values in history.items()},
    )


def _seeds(seeds: int) -> str:
    return "1 seed (0)" if seeds == 1 else f"{seeds} seeds (0 … {seeds - 1})"


def _spread(values: np.ndarray, style: str) -> str:
    if style == "e":
        return f"{np.mean(values):.2e} ± {np.std(values):.1e}"
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def _markdown(
    fits: Sequence[Fit], networks: Sequence[Network], config: Config, description: str
) -> str:
    lines = [
        "# Capacity",
        "",
        f"## (a) One hidden layer of growing width fit to f(x) = {TARGET_TEXT} on [-π, π]",
        "",
        f"{config.train_points} evenly spaced training points; full-batch Adam, "
        f"{config.steps} steps, cosine decay from {config.fit_learning_rate:g} to 1 % of it; "
        f"hidden biases uniform in [-{config.bias_range:g}, {config.bias_range:g}]; "
        f"{_seeds(config.seeds)}. Grid MSE: the mean squared error of the final network on "
        f"{config.grid_points:,} evenly spaced points of [-π, π], mean ± std over seeds "
        "(and the best seed).",
        "",
        "| activation | width | params | grid MSE | best seed |",
        "|---|---:|---:|---:|---:|",
    ]
    for fit in fits:
        lines.append(
            f"| {fit.activation} | {fit.width} | {fit.params:,} "
            f"| {_spread(fit.grid_mse, 'e')} | {np.min(fit.grid_mse):.2e} |"
        )
    lines += [
        "",
        "Least-squares slope of log (mean grid MSE) against log width, all widths: "
        + ", ".join(f"{name} {_slope(fits, name):.2f}" for name in config.activations)
        + ".",
        "",
    ]
    lines += [
        "## (b) Deep and thin against shallow and fat at an equal parameter count",
        "",
        f"{description}. Params: weights + biases of the whole network "
        "(`nn.count_params`); train accuracy: the final network on all the training images; "
        "test accuracy: on the test set; mean ± std over seeds.",
        "",
        "| hidden layers | width | params | vs target | train accuracy | test accuracy "
        "| train loss |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for net in networks:
        offset = (net.params - config.target_params) / config.target_params
        lines.append(
            f"| {net.hidden_layers} | {net.width} | {net.weights:,} + {net.biases:,} = "
            f"{net.params:,} | {offset:+.2%} | {_spread(net.train_accuracy, 'f')} "
            f"| {_spread(net.test_accuracy, 'f')} | {np.mean(net.train_loss):.4f} |"
        )
    return "\n".join(lines) + "\n"


def _slope(fits: Sequence[Fit], activation: str) -> float:
    mine = [fit for fit in fits if fit.activation == activation]
    return loglog_slope([fit.width for fit in mine], [np.mean(fit.grid_mse) for fit in mine])


TABLE_COLUMNS = [
    "part",
    "activation",
    "hidden_layers",
    "width",
    "params",
    "seeds",
    "metric",
    "mean",
    "std",
]
RUN_COLUMNS = ["part", "activation", "hidden_layers", "width", "params", "seed", "metric", "value"]


def _rows(fits: Sequence[Fit], networks: Sequence[Network]):
    """``(part, activation, hidden_layers, width, params, metric, values over seeds)``."""
    for fit in fits:
        yield ("approximation", fit.activation, 1, fit.width, fit.params, "grid_mse", fit.grid_mse)
    for net in networks:
        for metric in ("train_accuracy", "test_accuracy", "train_loss"):
            yield (
                "equal_params",
                "relu",
                net.hidden_layers,
                net.width,
                net.params,
                metric,
                getattr(net, metric),
            )


def _number(value: float, metric: str) -> str:
    return f"{value:.6e}" if metric == "grid_mse" else f"{value:.6f}"


def _write_csvs(out: Path, fits: Sequence[Fit], networks: Sequence[Network]) -> None:
    with (
        (out / "table.csv").open("w", newline="") as table,
        (out / "runs.csv").open("w", newline="") as runs,
    ):
        table_writer, runs_writer = csv.writer(table), csv.writer(runs)
        table_writer.writerow(TABLE_COLUMNS)
        runs_writer.writerow(RUN_COLUMNS)
        for *head, metric, values in _rows(fits, networks):
            table_writer.writerow(
                [
                    *head,
                    len(values),
                    metric,
                    _number(np.mean(values), metric),
                    _number(np.std(values), metric),
                ]
            )
            for seed, value in enumerate(values):
                runs_writer.writerow([*head, seed, metric, _number(value, metric)])


def _plot_fits(path: Path, fits: Sequence[Fit], config: Config, grid: np.ndarray) -> None:
    """Part (a): the target and every seed's final network, one panel per network."""
    rows, cols = len(config.activations), len(config.widths)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(1.9 * cols + 0.6, 1.9 * rows + 0.6),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    truth = target(grid.astype(np.float64))
    for fit in fits:
        ax = axes[config.activations.index(fit.activation), config.widths.index(fit.width)]
        ax.plot(grid, truth, color="black", lw=2.2, alpha=0.35)
        for seed, prediction in enumerate(fit.prediction):
            ax.plot(grid, prediction, color=COLORS[fit.activation], lw=0.9, alpha=0.9 - 0.2 * seed)
        ax.set_title(
            f"{fit.activation}, width {fit.width}\nMSE {np.mean(fit.grid_mse):.1e}", fontsize=8
        )
        ax.tick_params(labelsize=7)
    fig.suptitle(
        f"f(x) = {TARGET_TEXT} (grey) and the fits of {config.seeds} seeds, "
        f"one hidden layer, full-batch Adam, {config.steps} steps",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_error_vs_width(path: Path, fits: Sequence[Fit], config: Config) -> None:
    """Part (a): grid MSE against width, log–log; dots: seeds."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for name in config.activations:
        mine = [fit for fit in fits if fit.activation == name]
        widths = [fit.width for fit in mine]
        axes[0].plot(
            widths,
            [np.mean(fit.grid_mse) for fit in mine],
            marker="o",
            color=COLORS[name],
            label=f"{name} (slope {_slope(fits, name):.2f})",
        )
        for fit in mine:
            axes[0].scatter(
                np.full(len(fit.grid_mse), fit.width),
                fit.grid_mse,
                s=9,
                color=COLORS[name],
                alpha=0.5,
            )
        for fit in (mine[0], mine[len(mine) // 2], mine[-1]):
            axes[1].plot(
                np.arange(1, config.steps + 1),
                fit.loss_curve.mean(axis=0),
                color=COLORS[name],
                lw=0.6 + 1.2 * mine.index(fit) / len(mine),
                label=f"{name}, width {fit.width}",
            )
    axes[0].set_xscale("log", base=2)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("hidden units (width)")
    axes[0].set_ylabel("MSE on the dense grid")
    axes[0].set_title("approximation error (mean over seeds; dots: seeds)", fontsize=9)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("Adam step")
    axes[1].set_ylabel("training MSE (mean over seeds)")
    axes[1].set_title("training curves", fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_equal_params(
    path: Path, networks: Sequence[Network], config: Config, description: str
) -> None:
    """Part (b): test accuracy per epoch and the final train/test accuracy per depth."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = np.arange(1, config.epochs + 1)
    for net, color in zip(networks, DEPTH_COLORS):
        label = f"{net.hidden_layers} × {net.width} ({net.params:,})"
        values = net.history["val_accuracy"]
        axes[0].plot(epochs, values.mean(axis=0), marker="o", ms=3, color=color, label=label)
        axes[0].fill_between(
            epochs, values.min(axis=0), values.max(axis=0), color=color, alpha=0.15
        )
    positions = np.arange(len(networks))
    for offset, (field, label) in (
        (-0.2, ("train_accuracy", "train")),
        (0.2, ("test_accuracy", "test")),
    ):
        means = [np.mean(getattr(net, field)) for net in networks]
        stds = [np.std(getattr(net, field)) for net in networks]
        axes[1].bar(
            positions + offset,
            means,
            width=0.4,
            yerr=stds,
            capsize=3,
            label=label,
            color="#4c72b0" if label == "train" else "#c44e52",
            alpha=0.8,
        )
    low = min(min(np.min(net.test_accuracy), np.min(net.train_accuracy)) for net in networks)
    axes[1].set_ylim(max(0.0, low - 0.02), 1.0)
    axes[1].set_xticks(positions, [f"{net.hidden_layers} × {net.width}" for net in networks])
    axes[1].set_xlabel("hidden layers × width")
    axes[1].set_ylabel("final accuracy")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("test accuracy (band: min–max over seeds)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(description, fontsize=8)
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
        "--seeds", type=_positive, default=None, help=f"seeds per network (default {DEFAULT.seeds})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: small widths and steps, digits for part (b)",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: results/ beside this file)"
    )
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())

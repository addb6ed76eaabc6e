"""What a convolution buys: a small CNN against MLPs on the same MNIST images.

The claim, as a course states it: a convolutional layer shares one small filter over
every position of the image, so a CNN needs far fewer parameters than a fully connected
network to reach the same (or a better) accuracy, and its first-layer filters learn local
detectors (strokes, edges) whose responses — the feature maps — can be looked at.

Method: a fixed random subset of the MNIST training images (the same for every model and
seed), the whole test set. Three models, each trained with the same optimizer (Adam),
batch size and number of epochs, with several seeds:

- ``cnn``: ``Conv2D(8, 5×5) → ReLU → MaxPool(2) → Conv2D(16, 5×5) → ReLU → MaxPool(2) →
  Dense(10)`` (SAME padding; 11,274 parameters on 28×28 images);
- ``mlp``: the course's MNIST network 784-512-256-10 (``models.mlp()``, 535,818
  parameters);
- ``mlp_matched``: a one-hidden-layer MLP whose width is chosen so that it has about the
  CNN's number of parameters (784-14-10: 11,140).

Test accuracy (mean ± std over seeds) and parameter counts go into a table; the CNN's
first-layer filters (at initialisation and after training, seed 0) and one test digit's
feature maps after the first and the second convolution are plotted.

Usage::

    python experiments/cnn/run.py                      # MNIST, about 1.5–2 min on 2 cores
    python experiments/cnn/run.py --data-dir DIR       # the IDX files in DIR
    python experiments/cnn/run.py --quick --out DIR    # 8×8 digits, offline, seconds

Writes ``table.md``, ``table.csv``, ``runs.csv``, ``filters.png``, ``feature_maps.png``
and ``accuracy.png`` to ``--out`` (default ``results/`` beside this file) and prints the
table.
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
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import activations, data, initializers, losses, models, nn, optim, train

HERE = Path(__file__).resolve().parent
MODELS = ("cnn", "mlp", "mlp_matched")
COLORS = {"cnn": "#4c72b0", "mlp": "#c44e52", "mlp_matched": "#dd8452"}
SUBSET_SEED = 1998  # which training images form the subset (LeCun et al., 1998)
NUM_CLASSES = 10
CONV1, CONV2 = "0", "3"  # the convolution layers' names in the CNN


@dataclasses.dataclass(frozen=True)
class Config:
    """What every model is built and trained with."""

    filters: tuple[int, int]  # channels of the two convolutions
    kernel_size: int
    mlp_hidden: tuple[int, ...]  # the large MLP's hidden layers
    epochs: int
    batch_size: int
    learning_rate: float  # Adam
    train_size: int | None  # None: the whole training set
    seeds: int


DEFAULT = Config(
    filters=(8, 16),
    kernel_size=5,
    mlp_hidden=(512, 256),
    epochs=10,
    batch_size=128,
    learning_rate=1e-3,
    train_size=10_000,
    seeds=3,
)
QUICK = Config(
    filters=(4, 8),
    kernel_size=3,
    mlp_hidden=(64,),
    epochs=15,
    batch_size=32,
    learning_rate=3e-3,
    train_size=None,
    seeds=2,
)


@dataclasses.dataclass
class Result:
    """One model: its description, parameter count and every seed's numbers."""

    name: str
    architecture: str
    params: int
    test_accuracy: np.ndarray  # (seeds,) fractions
    train_loss: np.ndarray  # (seeds, epochs) running mean over each epoch's batches
    train_accuracy: np.ndarray  # (seeds, epochs)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = _config(args)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    name = "digits" if args.quick else "mnist"
    train_data, test_data = _load(name, args.data_dir, config)
    image_shape = train_data[0].shape[1:]
    description = (
        f"{'8×8 digits (quick)' if args.quick else 'MNIST'}: {len(train_data[0]):,} "
        f"training / {len(test_data[0]):,} test images; Adam {config.learning_rate:g}, "
        f"batch {config.batch_size}, {config.epochs} epochs; {_seeds(config.seeds)}"
    )
    print(description, flush=True)

    cnn = build_cnn(config)
    cnn_params = sum(nn.count_params(cnn.init(jax.random.key(0), train_data[0][:1])[0]))
    pixels = int(np.prod(image_shape))
    width = matched_width(cnn_params, pixels, NUM_CLASSES)
    networks = {
        "cnn": (cnn, _cnn_architecture(config, image_shape)),
        "mlp": (
            models.mlp(NUM_CLASSES, config.mlp_hidden),
            "-".join(str(n) for n in (pixels, *config.mlp_hidden, NUM_CLASSES)),
        ),
        "mlp_matched": (models.mlp(NUM_CLASSES, (width,)), f"{pixels}-{width}-{NUM_CLASSES}"),
    }

    start = time.perf_counter()
    results, cnn_states = [], None
    for model_name, (model, architecture) in networks.items():
        result, states = _train(
            model_name,
            model,
            architecture,
            config,
            train_data,
            test_data,
            keep_initial=model_name == "cnn",
        )
        results.append(result)
        if model_name == "cnn":
            cnn_states = states
        print(
            f"{model_name:12s} {architecture:40s} {result.params:>9,} params: test accuracy "
            f"{_spread(result.test_accuracy)} % ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    seconds = time.perf_counter() - start

    initial, trained = cnn_states
    change = filter_change(initial.params[CONV1]["w"], trained.params[CONV1]["w"])
    table = _markdown(results, description, change)
    (out / "table.md").write_text(table)
    _write_table_csv(out / "table.csv", results, config)
    _write_runs_csv(out / "runs.csv", results)
    _plot_filters(out / "filters.png", initial.params[CONV1]["w"], trained.params[CONV1]["w"])
    digit = test_data[0][:1]
    conv1_maps, conv2_maps = feature_maps(cnn, trained, digit)
    _plot_feature_maps(
        out / "feature_maps.png", digit[0, ..., 0], conv1_maps, conv2_maps, int(test_data[1][0])
    )
    _plot_accuracy(out / "accuracy.png", results, config, description)
    print(table)
    print(f"trained in {seconds:.0f} s; results in {out}")
    return 0


def build_cnn(config: Config) -> nn.Sequential:
    """``conv → ReLU → pool → conv → ReLU → pool → dense``: two SAME convolutions with He
    initialisation, 2×2 max pooling, and one Dense layer to the logits."""
    he = initializers.he_normal()  # as models.cnn initialises convolutions before a ReLU
    first, second = config.filters
    return nn.Sequential(
        [
            nn.Conv2D(first, config.kernel_size, kernel_init=he),
            activations.relu,
            nn.MaxPool2D(2),
            nn.Conv2D(second, config.kernel_size, kernel_init=he),
            activations.relu,
            nn.MaxPool2D(2),
            nn.Flatten(),
            nn.Dense(NUM_CLASSES),
        ]
    )


def matched_width(params: int, inputs: int, classes: int) -> int:
    """The hidden width ``h`` of an ``inputs-h-classes`` MLP whose parameter count
    ``(inputs + 1)·h + (h + 1)·classes`` is closest to ``params``.

    >>> matched_width(11_274, 784, 10)   # 784-14-10 has 11,140 parameters
    14
    """
    if params < classes:
        raise ValueError(f"matched_width: params must be ≥ classes ({classes}), got {params}.")
    return max(1, round((params - classes) / (inputs + 1 + classes)))


def feature_maps(
    model: nn.Sequential, trained: train.TrainState, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The CNN's activations for images ``x`` after the first convolution and its ReLU
    (``(n, H, W, c1)``) and after the second (``(n, H/2, W/2, c2)``), from the trained
    model sliced with its parameters."""
    bound = model.bind(trained.params, trained.state)
    return np.asarray(bound[:2](x)), np.asarray(bound[:5](x))


def _config(args: argparse.Namespace) -> Config:
    config = QUICK if args.quick else DEFAULT
    overrides = {"epochs": args.epochs, "seeds": args.seeds, "train_size": args.train_size}
    return dataclasses.replace(
        config, **{name: value for name, value in overrides.items() if value is not None}
    )


def _load(
    name: str, data_dir: str | None, config: Config
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Images ``(n, H, W, 1)`` in [0, 1]: a fixed random subset of the training set (the
    same for every model and seed) and the whole test set."""
    ds = data.digits() if name == "digits" else data.load(name, data_dir=data_dir)
    order = np.random.default_rng(SUBSET_SEED).permutation(len(ds.x_train))
    if config.train_size is not None:
        order = order[: config.train_size]
    return (ds.x_train[order], ds.y_train[order]), ds.test


def _train(
    name: str,
    model: nn.Layer,
    architecture: str,
    config: Config,
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray],
    *,
    keep_initial: bool = False,
) -> tuple[Result, tuple[train.TrainState | None, train.TrainState]]:
    """Train ``model`` once per seed (``fit`` compiles once and reuses the program);
    return its result and seed 0's initial (if ``keep_initial``) and final states."""
    optimizer = optim.adam(config.learning_rate)
    fit_args = dict(loss=losses.softmax_cross_entropy, batch_size=config.batch_size, progress=False)
    accuracies, curves, initial = [], [], None
    for seed in range(config.seeds):
        key = jax.random.key(seed)
        final, history = train.fit(
            model, optimizer, train_data, epochs=config.epochs, key=key, **fit_args
        )
        test = train.evaluate(
            model, final, test_data, loss=losses.softmax_cross_entropy, batch_size=1000
        )
        accuracies.append(test["accuracy"])
        curves.append((history["loss"], history["accuracy"]))
        if seed == 0 and keep_initial:
            # epochs=0 returns the state fit starts from: the exact initial weights.
            initial, _ = train.fit(model, optimizer, train_data, epochs=0, key=key, **fit_args)
        if seed == 0:
            first = final
    curves = np.asarray(curves, dtype=np.float64)
    return Result(
        name=name,
        architecture=architecture,
        params=sum(nn.count_params(first.params)),
        test_accuracy=np.asarray(accuracies, dtype=np.float64),
        train_loss=curves[:, 0],
        train_accuracy=curves[:, 1],
    ), (initial, first)


def _cnn_architecture(config: Config, image_shape: tuple[int, ...]) -> str:
    first, second = config.filters
    k = config.kernel_size
    side = image_shape[0] // 4
    return (
        f"conv{k}×{k}({first})-pool-conv{k}×{k}({second})-pool-"
        f"dense({side}·{side}·{second}→{NUM_CLASSES})"
    )


def _spread(fractions: np.ndarray) -> str:
    return f"{100 * np.mean(fractions):.2f} ± {100 * np.std(fractions):.2f}"


def _seeds(seeds: int) -> str:
    return "1 seed (0)" if seeds == 1 else f"{seeds} seeds (0 … {seeds - 1})"


def _markdown(results: Sequence[Result], description: str, change: float) -> str:
    cnn = next(r for r in results if r.name == "cnn")
    lines = [
        f"# A small CNN against MLPs — {description}",
        "",
        "Test accuracy in %, mean ± std over seeds, of the final networks (no early "
        "stopping); params counts weights and biases; `× cnn` is the parameter count "
        "relative to the CNN's; final train loss: the running mean over the last epoch.",
        "",
        "| model | architecture | params | × cnn | test accuracy (%) | final train loss |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.architecture} | {r.params:,} | {r.params / cnn.params:.2f} "
            f"| {_spread(r.test_accuracy)} | {np.mean(r.train_loss[:, -1]):.4f} |"
        )
    lines += [
        "",
        "Training moved the CNN's first-layer kernels (seed 0) by "
        f"‖learned − initial‖ / ‖initial‖ = {change:.3f}.",
    ]
    return "\n".join(lines) + "\n"


def _write_table_csv(path: Path, results: Sequence[Result], config: Config) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "model",
                "architecture",
                "params",
                "test_accuracy_percent",
                "test_accuracy_std",
                "final_train_loss",
                "seeds",
            ]
        )
        for r in results:
            writer.writerow(
                [
                    r.name,
                    r.architecture,
                    r.params,
                    f"{100 * np.mean(r.test_accuracy):.3f}",
                    f"{100 * np.std(r.test_accuracy):.3f}",
                    f"{np.mean(r.train_loss[:, -1]):.5f}",
                    config.seeds,
                ]
            )


def _write_runs_csv(path: Path, results: Sequence[Result]) -> None:
    """Every run's final numbers: one row per model × seed."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "model",
                "seed",
                "test_accuracy_percent",
                "final_train_loss",
                "final_train_accuracy_percent",
            ]
        )
        for r in results:
            for seed, accuracy in enumerate(r.test_accuracy):
                writer.writerow(
                    [
                        r.name,
                        seed,
                        f"{100 * accuracy:.3f}",
                        f"{r.train_loss[seed, -1]:.5f}",
                        f"{100 * r.train_accuracy[seed, -1]:.3f}",
                    ]
                )


def _kernel_grid(axes_row: Sequence, kernels: np.ndarray) -> None:
    """Draw kernels ``(K, K, 1, c)`` one per axis, each on its own symmetric colour scale
    (red positive, blue negative)."""
    for i, ax in enumerate(axes_row):
        kernel = kernels[:, :, 0, i]
        limit = float(np.abs(kernel).max()) or 1.0
        ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])


def _plot_filters(path: Path, initial: np.ndarray, learned: np.ndarray) -> None:
    """The first convolution's kernels at initialisation, after training, and the change
    that training made (learned − initial), each kernel on its own colour scale."""
    initial, learned = np.asarray(initial), np.asarray(learned)
    count = learned.shape[-1]
    fig, axes = plt.subplots(3, count, figsize=(1.2 * count + 0.6, 4.2), squeeze=False)
    rows = (("initial", initial), ("learned", learned), ("change", learned - initial))
    for row, (label, kernels) in zip(axes, rows):
        _kernel_grid(row, kernels)
        row[0].set_ylabel(label, fontsize=9)
    for i in range(count):
        axes[0, i].set_title(f"filter {i}", fontsize=8)
    k = learned.shape[0]
    change = filter_change(initial, learned)
    fig.suptitle(
        f"First-layer {k}×{k} filters of the CNN (seed 0): ‖learned − initial‖ / "
        f"‖initial‖ = {change:.2f}; each kernel on its own scale, red > 0 > blue",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def filter_change(initial: np.ndarray, learned: np.ndarray) -> float:
    """How far training moved the kernels: ``‖learned − initial‖ / ‖initial‖`` (Frobenius
    norms over all kernels).

    >>> filter_change(np.ones((2, 2)), np.full((2, 2), 1.5))
    0.5
    """
    initial, learned = np.asarray(initial, np.float64), np.asarray(learned, np.float64)
    return float(np.linalg.norm(learned - initial) / np.linalg.norm(initial))


def _plot_feature_maps(
    path: Path, image: np.ndarray, conv1: np.ndarray, conv2: np.ndarray, label: int
) -> None:
    """A test digit (top left), its feature maps after conv1 + ReLU (top row) and after
    conv2 + ReLU (the two rows below); each layer's maps share one colour scale."""
    first, second = conv1.shape[-1], conv2.shape[-1]
    half = -(-second // 2)
    columns = max(first, half) + 1
    fig, axes = plt.subplots(3, columns, figsize=(1.1 * columns, 4.3), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(image, cmap="gray_r")
    axes[0, 0].set_title(f"input ({label})", fontsize=8)
    panels = [(0, 1 + c, "conv1", conv1[0], c) for c in range(first)]
    panels += [(1 + c // half, 1 + c % half, "conv2", conv2[0], c) for c in range(second)]
    for row, column, layer, maps, channel in panels:
        ax = axes[row, column]
        ax.imshow(maps[..., channel], cmap="magma", vmin=0.0, vmax=float(maps.max()) or 1.0)
        ax.set_title(f"{layer} #{channel}", fontsize=7)
    fig.suptitle(
        f"One test digit's feature maps (seed 0): after conv1 + ReLU "
        f"({conv1.shape[1]}×{conv1.shape[2]}, top row)\nand after conv2 + ReLU "
        f"({conv2.shape[1]}×{conv2.shape[2]}, below); black = 0",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_accuracy(path: Path, results: Sequence[Result], config: Config, description: str) -> None:
    """Left: test accuracy against the parameter count (mean ± std, seeds as dots);
    right: the training loss per epoch, mean over seeds."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in results:
        accuracy = 100 * r.test_accuracy
        left.errorbar(
            [r.params],
            [accuracy.mean()],
            yerr=[accuracy.std()],
            marker="o",
            capsize=3,
            color=COLORS[r.name],
            label=f"{r.name} ({r.architecture})",
        )
        left.scatter(
            np.full(len(accuracy), r.params), accuracy, s=10, color=COLORS[r.name], alpha=0.5
        )
        epochs = np.arange(1, r.train_loss.shape[1] + 1)
        right.plot(
            epochs, r.train_loss.mean(axis=0), marker=".", color=COLORS[r.name], label=r.name
        )
    left.set_xscale("log")
    left.set_xlabel("parameters")
    left.set_ylabel("test accuracy (%)")
    left.set_title(f"test accuracy, mean ± std over {config.seeds} seeds", fontsize=9)
    left.legend(fontsize=7)
    right.set_yscale("log")
    right.set_xlabel("epoch")
    right.set_ylabel("training loss (running mean)")
    right.set_title("training cross-entropy per epoch, mean over seeds", fontsize=9)
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(description, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the MNIST IDX files (default: $JAXDL_DATA_DIR, then "
        "the cache, downloading if needed)",
    )
    parser.add_argument(
        "--seeds", type=_positive, default=None, help=f"seeds per model (default {DEFAULT.seeds})"
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
        "--quick",
        action="store_true",
        help="a smoke test on scikit-learn's 8×8 digits (offline): filters "
        f"{QUICK.filters}, {QUICK.kernel_size}×{QUICK.kernel_size} "
        f"kernels, {QUICK.epochs} epochs, {QUICK.seeds} seeds",
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

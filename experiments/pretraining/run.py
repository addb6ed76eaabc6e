"""Greedy layer-wise pre-training on MNIST, after Bengio, Lamblin, Popovici and Larochelle
(2006), "Greedy Layer-Wise Training of Deep Networks".

Four ways to train, each ending with supervised training of the whole network:

- ``no_pretraining``: the deep network trained from its random initialisation;
- ``supervised_greedy``: each hidden layer trained in turn with a temporary output layer,
  the layers below frozen, then fine-tuning;
- ``autoencoder_greedy``: each hidden layer trained in turn as an autoencoder of the codes
  below it, then fine-tuning;
- ``shallow``: a one-hidden-layer network.

They run in two settings: the paper's (sigmoid units, plain SGD, small uniform initial
weights) and a modern one (ReLU, He initialisation, Adam). All through
``jaxdl.train.greedy_pretrain`` and ``jaxdl.train.fit``.

Usage::

    python experiments/pretraining/run.py                 # MNIST, 3 seeds, a few minutes
    python experiments/pretraining/run.py --quick --out /tmp/pretraining   # digits, seconds

Writes ``table.csv`` (the paper's setting), ``table_relu_adam.csv`` (not in ``--quick``
mode, which runs the paper's setting only), ``table.md``, ``error_by_method.png`` and
``stage_curves.png`` to ``--out`` (default ``results/``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import activations, data, initializers, losses, nn, optim, train

HERE = Path(__file__).resolve().parent
METHODS = ("no_pretraining", "supervised_greedy", "autoencoder_greedy", "shallow")
# Table 1 of Bengio et al. (2006): MNIST test classification error (%), for comparison.
PAPER = {
    "no_pretraining": 2.40,
    "supervised_greedy": 2.04,
    "autoencoder_greedy": 1.40,
    "shallow": 1.86,
}


@dataclasses.dataclass(frozen=True)
class Setting:
    """One way of building and training the networks."""

    name: str
    title: str
    activation: Callable
    kernel_init: Callable
    optimizer: optim.GradientTransformation
    """Plain training, fine-tuning and the supervised pre-training stages."""
    autoencoder_optimizer: optim.GradientTransformation
    """The autoencoder stages."""
    decoder: Callable[[int], nn.Layer]
    reconstruction_loss: Callable


def _linear(width: int) -> nn.Layer:
    return nn.Dense(width)


# Sigmoid codes lie in (0, 1), so each autoencoder reconstructs them through a sigmoid
# with the cross-entropy, as the paper's auto-associators do; ReLU codes are unbounded,
# so the modern setting reconstructs linearly with the squared error. The SGD rates were
# picked on seed 0 by the training objectives, not the test set: 0.5 trains the
# classifiers fastest of 0.1/0.5, and 5.0 gives the lowest reconstruction error of
# 0.5/2/5 after an autoencoder stage (sigmoid units with small weights learn slowly).
SETTINGS = {
    "sigmoid_sgd": Setting(
        "sigmoid_sgd",
        "sigmoid + SGD (the paper's setting)",
        activations.sigmoid,
        initializers.variance_scaling(1 / 3, "fan_in", "uniform"),  # U(±1/√fan_in)
        optim.sgd(0.5),
        optim.sgd(5.0),
        _linear,
        losses.binary_cross_entropy_with_logits,
    ),
    "relu_adam": Setting(
        "relu_adam",
        "ReLU + He init + Adam",
        activations.relu,
        initializers.he_normal(),
        optim.adam(1e-3),
        optim.adam(1e-3),
        _linear,
        losses.mse,
    ),
}


@dataclasses.dataclass(frozen=True)
class Config:
    depth: int
    width: int
    shallow_width: int
    epochs: int
    pretrain_epochs: int
    batch_size: int
    train_size: int
    seeds: int


DEFAULT = Config(
    depth=3,
    width=256,
    shallow_width=420,
    epochs=20,
    pretrain_epochs=10,
    batch_size=32,
    train_size=10_000,
    seeds=3,
)
QUICK = Config(
    depth=2,
    width=32,
    shallow_width=64,
    epochs=8,
    pretrain_epochs=2,
    batch_size=16,
    train_size=1_000,
    seeds=1,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = QUICK if args.quick else DEFAULT
    if args.seeds:
        config = dataclasses.replace(config, seeds=args.seeds)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = _load(args, config)
    print(
        f"{len(x_train)} training and {len(x_test)} test images of {x_train.shape[1]} "
        f"pixels; {config.depth} hidden layers of {config.width}; {config.seeds} seeds"
    )

    results: dict[str, dict[str, list[float]]] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    start = time.perf_counter()
    # --quick runs the paper's setting only: the other runs the same code.
    settings = [SETTINGS["sigmoid_sgd"]] if args.quick else list(SETTINGS.values())
    for setting in settings:
        results[setting.name] = {method: [] for method in METHODS}
        for seed in range(config.seeds):
            for method in METHODS:
                error, histories = _run(
                    method, setting, config, seed, (x_train, y_train), (x_test, y_test)
                )
                results[setting.name][method].append(error)
                if seed == 0:
                    curves[f"{setting.name}/{method}"] = histories
                print(f"{setting.name:12s} seed {seed} {method:19s} test error {error:.2f} %")
    seconds = time.perf_counter() - start

    _write_csv(out / "table.csv", results["sigmoid_sgd"], config.seeds)
    if "relu_adam" in results:
        _write_csv(out / "table_relu_adam.csv", results["relu_adam"], config.seeds)
    table = _markdown(results, config, quick=args.quick)
    (out / "table.md").write_text(table)
    _plot_errors(out / "error_by_method.png", results, config)
    _plot_stages(out / "stage_curves.png", curves)
    print(table)
    print(f"{seconds / 60:.1f} min in all")
    return 0


def _run(
    method: str,
    setting: Setting,
    config: Config,
    seed: int,
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray],
) -> tuple[float, dict[str, list[float]]]:
    """Train one network; return its test error (%) and its loss curve per stage."""
    key = jax.random.key(seed)

    def dense(width):
        return nn.Dense(width, activation=setting.activation, kernel_init=setting.kernel_init)

    head = nn.Dense(10, kernel_init=setting.kernel_init)
    common = dict(
        loss=losses.softmax_cross_entropy, batch_size=config.batch_size, key=key, progress=False
    )
    if method in ("no_pretraining", "shallow"):
        hidden = (
            [dense(config.shallow_width)]
            if method == "shallow"
            else [dense(config.width) for _ in range(config.depth)]
        )
        model = nn.Sequential([*hidden, head])
        state, history = train.fit(
            model, setting.optimizer, train_data, epochs=config.epochs, **common
        )
        histories = {"train": history["loss"]}
    else:
        kind = "supervised" if method == "supervised_greedy" else "autoencoder"
        result = train.greedy_pretrain(
            [dense(config.width) for _ in range(config.depth)],
            head,
            train_data,
            optimizer=setting.optimizer,
            pretrain_epochs=config.pretrain_epochs,
            epochs=config.epochs,
            method=kind,
            pretrain_optimizer=(
                setting.autoencoder_optimizer if kind == "autoencoder" else setting.optimizer
            ),
            decoder=setting.decoder,
            reconstruction_loss=setting.reconstruction_loss,
            **common,
        )
        model, state = result.model, result.train_state
        histories = {name: h["loss"] for name, h in result.histories.items()}
    scores = train.evaluate(model, state, test_data, loss=losses.softmax_cross_entropy)
    return 100.0 * (1.0 - scores["accuracy"]), histories


def _load(args: argparse.Namespace, config: Config) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Flattened images in [0, 1]: a fixed random subset of the training set, and the
    whole test set (``--quick``: scikit-learn's digits)."""
    if args.quick:
        dataset = data.digits(flatten=True)
    else:
        dataset = data.mnist(args.data_dir, flatten=True)
    order = np.random.default_rng(2006).permutation(len(dataset.x_train))[: config.train_size]
    return (dataset.x_train[order], dataset.y_train[order]), (dataset.x_test, dataset.y_test)


def _write_csv(path: Path, errors: dict[str, list[float]], seeds: int) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["method", "test_error_percent", "std", "seeds"])
        for method in METHODS:
            values = np.asarray(errors[method])
            writer.writerow([method, f"{values.mean():.3f}", f"{values.std():.3f}", seeds])


def _markdown(results: dict[str, dict[str, list[float]]], config: Config, *, quick: bool) -> str:
    data_name = "digits (quick mode)" if quick else "MNIST"
    lines = [
        f"# Greedy layer-wise pre-training — {data_name}",
        "",
        f"{config.depth} hidden layers of {config.width} units (shallow: one of "
        f"{config.shallow_width}), {config.train_size:,} training images, the full test "
        f"set. Fine-tuning (and plain training) {config.epochs} epochs; each pre-training "
        f"stage {config.pretrain_epochs} epochs; batch {config.batch_size}. Test error in "
        f"%, mean ± std over {config.seeds} seeds (0 … {config.seeds - 1}).",
        "",
        "| method | "
        + " | ".join(SETTINGS[name].title for name in results)
        + " | Bengio et al. (2006), Table 1 |",
        "|---|" + "---:|" * (len(results) + 1),
    ]
    for method in METHODS:
        cells = [
            f"{np.mean(results[name][method]):.2f} ± {np.std(results[name][method]):.2f}"
            for name in results
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {PAPER[method]:.2f} |")
    return "\n".join(lines) + "\n"


def _plot_errors(path: Path, results: dict[str, dict[str, list[float]]], config: Config) -> None:
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), sharey=False)
    for ax, (name, errors) in zip(np.atleast_1d(axes), results.items()):
        means = [np.mean(errors[m]) for m in METHODS]
        spreads = [np.std(errors[m]) for m in METHODS]
        ax.bar(
            range(len(METHODS)),
            means,
            yerr=spreads,
            capsize=4,
            color=["#888888", "#4c72b0", "#55a868", "#c44e52"],
        )
        for i, method in enumerate(METHODS):
            ax.scatter([i] * len(errors[method]), errors[method], color="black", s=8, zorder=3)
        ax.set_xticks(range(len(METHODS)), [m.replace("_", "\n") for m in METHODS], fontsize=8)
        ax.set_title(SETTINGS[name].title, fontsize=10)
        ax.set_ylabel("test error (%)")
    fig.suptitle(
        f"Test error by method, mean ± std over {config.seeds} seeds (dots: seeds)", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_stages(path: Path, curves: dict[str, dict[str, list[float]]]) -> None:
    """Training loss per epoch, stage after stage, for the pre-trained runs (seed 0)."""
    runs = [name for name in curves if "greedy" in name]
    fig, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 3.2))
    for ax, name in zip(np.atleast_1d(axes), runs):
        offset = 0
        for stage, losses_ in curves[name].items():
            epochs = np.arange(offset + 1, offset + len(losses_) + 1)
            ax.plot(epochs, losses_, marker=".", label=stage)
            offset += len(losses_)
        ax.set_yscale("log")
        ax.set_title(name.replace("/", "\n"), fontsize=9)
        ax.set_xlabel("epoch (stages in turn)")
        ax.set_ylabel("training loss")
        ax.legend(fontsize=7)
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
        "--seeds", type=_positive, default=None, help=f"seeds per method (default {DEFAULT.seeds})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test on scikit-learn's digits: 2 small layers, 1 seed",
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

"""Which model families handle sequences? MNIST-1D, after Greydanus (2020), "Scaling
down deep learning".

The claim, as the paper states it: on MNIST-1D — 40-sample 1-D "digits", shifted,
scaled, sheared and noised so that where a pattern sits varies — the model families
separate far more clearly than on MNIST: a linear classifier reaches about 32 % test
accuracy, an MLP 68 %, while models with a spatial or temporal prior (a 1-D CNN 94 %, a
GRU 91 %) approach the human 96 %.

Method: ``jaxdl.data.mnist1d()`` (the ``mnist1d`` package's default arguments: 4,000
training and 1,000 test sequences ``(40, 1)``). Five models, each trained with the same
optimizer (Adam, learning rate 1e-2), batch size 100 and number of epochs, several seeds,
all seeds of a model as one ``train.fit_sweep``:

- ``logistic``: ``Flatten → Dense(10)`` (logistic regression on the 40 samples);
- ``mlp``: ``40-100-100-10``, ReLU (``models.mlp(10, (100, 100))``);
- ``cnn``: three ``Conv1D`` layers of 25 channels (kernel 5 stride 2, then kernel 3
  stride 2 twice, padding 1, ReLU), ``Flatten → Dense(10)``;
- ``gru`` / ``lstm``: ``GRU(64)`` / ``LSTM(64)`` over the 40 steps, every step's hidden
  state flattened into ``Dense(10)``.

The test set is evaluated after every epoch (for the curves); the reported figure is the
final network's test accuracy — nothing is chosen on the test set. The table puts each
model's mean ± std over seeds beside the paper's figure.

Usage::

    python experiments/mnist1d/run.py                    # about 2.5 min on 2 cores
    python experiments/mnist1d/run.py --epochs 150       # the paper's 6,000 steps
    python experiments/mnist1d/run.py --quick --out DIR  # a smoke test, seconds

Writes ``table.md``, ``table.csv`` (columns ``model, test_accuracy, std, paper``, in
percent), ``runs.csv``, ``curves.csv``, ``accuracy.png`` and ``curves.png`` to ``--out``
(default ``results/`` beside this file) and prints the table.
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

from jaxdl import activations, data, losses, models, nn, optim, train

HERE = Path(__file__).resolve().parent
MODELS = ("logistic", "mlp", "cnn", "gru", "lstm")
# Test accuracy (%) reported by Greydanus (2020) for MNIST-1D; no LSTM figure.
PAPER = {"logistic": 32.0, "mlp": 68.0, "cnn": 94.0, "gru": 91.0, "lstm": None}
COLORS = {
    "logistic": "#8c8c8c",
    "mlp": "#dd8452",
    "cnn": "#4c72b0",
    "gru": "#55a868",
    "lstm": "#c44e52",
}
SUBSET_SEED = 2020  # which training sequences form a --train-size subset
NUM_CLASSES = 10


@dataclasses.dataclass(frozen=True)
class Config:
    """What every model is built and trained with."""

    mlp_hidden: tuple[int, ...]
    cnn_channels: int
    rnn_hidden: int  # GRU and LSTM state size
    epochs: int
    batch_size: int
    learning_rate: float  # Adam
    train_size: int | None  # None: all 4,000 training sequences
    seeds: int


DEFAULT = Config(
    mlp_hidden=(100, 100),
    cnn_channels=25,
    rnn_hidden=64,
    epochs=60,
    batch_size=100,
    learning_rate=1e-2,
    train_size=None,
    seeds=3,
)
QUICK = Config(
    mlp_hidden=(32, 32),
    cnn_channels=8,
    rnn_hidden=8,
    epochs=15,
    batch_size=100,
    learning_rate=1e-2,
    train_size=None,
    seeds=2,
)


@dataclasses.dataclass
class Result:
    """One model: its parameter count, every seed's curves and final numbers."""

    name: str
    params: int
    history: dict[str, np.ndarray]  # fit_sweep's metric -> (seeds, epochs)
    seconds: float

    @property
    def test_accuracy(self) -> np.ndarray:
        """(seeds,) the final networks' test accuracy, in %."""
        return 100.0 * self.history["val_accuracy"][:, -1]

    @property
    def train_accuracy(self) -> np.ndarray:
        """(seeds,) the last epoch's running training accuracy, in %."""
        return 100.0 * self.history["accuracy"][:, -1]


def build(name: str, config: Config) -> nn.Sequential:
    """The model called ``name`` (one of ``MODELS``) for sequences ``(batch, 40, 1)``."""
    relu = activations.relu
    if name == "logistic":
        return nn.Sequential([nn.Flatten(), nn.Dense(NUM_CLASSES)])
    if name == "mlp":
        return models.mlp(NUM_CLASSES, config.mlp_hidden)
    if name == "cnn":
        c = config.cnn_channels
        return nn.Sequential(
            [
                nn.Conv1D(c, 5, strides=2, padding=1),
                relu,
                nn.Conv1D(c, 3, strides=2, padding=1),
                relu,
                nn.Conv1D(c, 3, strides=2, padding=1),
                relu,
                nn.Flatten(),
                nn.Dense(NUM_CLASSES),
            ]
        )
    if name in ("gru", "lstm"):
        cell = nn.GRU if name == "gru" else nn.LSTM
        return nn.Sequential(
            [cell(config.rnn_hidden, return_sequences=True), nn.Flatten(), nn.Dense(NUM_CLASSES)]
        )
    raise ValueError(f"build: unknown model {name!r}; the models are {list(MODELS)}.")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = _config(args)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    train_data, test_data = _load(config)
    steps = config.epochs * (len(train_data[0]) // config.batch_size)
    description = (
        f"MNIST-1D{' (quick)' if args.quick else ''}: {len(train_data[0]):,} training / "
        f"{len(test_data[0]):,} test sequences of 40; Adam {config.learning_rate:g}, batch "
        f"{config.batch_size}, {config.epochs} epochs ({steps:,} steps); "
        f"{_seeds(config.seeds)}"
    )
    print(description, flush=True)

    start = time.perf_counter()
    results = []
    for name in MODELS:
        result = _train(name, config, train_data, test_data)
        results.append(result)
        print(
            f"{name:9s} {result.params:>7,} params: test accuracy "
            f"{_spread(result.test_accuracy)} % (paper: {_paper(name) or '—'}) "
            f"({result.seconds:.0f} s)",
            flush=True,
        )
    seconds = time.perf_counter() - start

    table = _markdown(results, config, description)
    (out / "table.md").write_text(table)
    _write_table_csv(out / "table.csv", results)
    _write_runs_csv(out / "runs.csv", results)
    _write_curves_csv(out / "curves.csv", results)
    _plot_accuracy(out / "accuracy.png", results, config, description)
    _plot_curves(out / "curves.png", results, config)
    print(table)
    print(f"trained in {seconds:.0f} s; results in {out}")
    return 0


def _config(args: argparse.Namespace) -> Config:
    config = QUICK if args.quick else DEFAULT
    overrides = {
        "epochs": args.epochs,
        "seeds": args.seeds,
        "rnn_hidden": args.rnn_hidden,
        "train_size": args.train_size,
    }
    return dataclasses.replace(
        config, **{name: value for name, value in overrides.items() if value is not None}
    )


def _load(config: Config) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST-1D sequences ``(n, 40, 1)``: the training set (or a fixed random subset of
    it, the same for every model and seed) and the whole test set."""
    ds = data.mnist1d()
    order = np.arange(len(ds.x_train))
    if config.train_size is not None:
        order = np.random.default_rng(SUBSET_SEED).permutation(order)[: config.train_size]
    return (ds.x_train[order], ds.y_train[order]), ds.test


def _train(
    name: str,
    config: Config,
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray],
) -> Result:
    """Every seed of one model as one ``fit_sweep``: run ``s`` is ``fit(...,
    key=jax.random.key(s))``."""
    start = time.perf_counter()
    model = build(name, config)
    keys = jax.numpy.stack([jax.random.key(seed) for seed in range(config.seeds)])
    final_state, history = train.fit_sweep(
        model,
        lambda: optim.adam(config.learning_rate),
        train_data,
        loss=losses.softmax_cross_entropy,
        epochs=config.epochs,
        batch_size=config.batch_size,
        keys=keys,
        validation_data=test_data,
        eval_batch_size=1000,
        progress=False,
    )
    first_run = jax.tree_util.tree_map(lambda leaf: leaf[0], final_state.params)
    return Result(
        name=name,
        params=sum(nn.count_params(first_run)),
        history={key: np.asarray(value, dtype=np.float64) for key, value in history.items()},
        seconds=time.perf_counter() - start,
    )


def paper_gap(measured: float, paper: float | None) -> float | None:
    """``measured − paper`` in percentage points, or None where the paper has no figure.

    >>> paper_gap(93.5, 94.0)
    -0.5
    >>> paper_gap(80.0, None) is None
    True
    """
    return None if paper is None else round(measured - paper, 10)


def _paper(name: str) -> str:
    value = PAPER[name]
    return "" if value is None else f"{value:.1f}"


def _spread(values: np.ndarray) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values):.2f}"


def _seeds(seeds: int) -> str:
    return "1 seed (0)" if seeds == 1 else f"{seeds} seeds (0 … {seeds - 1})"


def _markdown(results: Sequence[Result], config: Config, description: str) -> str:
    lines = [
        f"# MNIST-1D: five model families — {description}",
        "",
        "Test accuracy in %, mean ± std over seeds, of the final networks (no early "
        "stopping); paper: Greydanus (2020)'s test accuracy (no LSTM figure); gap: "
        "measured − paper in points; best epoch: the highest mean test accuracy over the "
        "epochs (shown for the curves' shape, not used to report); train: the last "
        "epoch's running training accuracy.",
        "",
        "| model | params | test accuracy (%) | paper (%) | gap | best epoch (%) | train (%) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        gap = paper_gap(float(np.mean(r.test_accuracy)), PAPER[r.name])
        curve = 100.0 * r.history["val_accuracy"].mean(axis=0)
        lines.append(
            f"| {r.name} | {r.params:,} | {_spread(r.test_accuracy)} | {_paper(r.name) or '—'} "
            f"| {'—' if gap is None else f'{gap:+.1f}'} "
            f"| {curve.max():.2f} (epoch {int(curve.argmax()) + 1}) "
            f"| {_spread(r.train_accuracy)} |"
        )
    return "\n".join(lines) + "\n"


def _write_table_csv(path: Path, results: Sequence[Result]) -> None:
    """The pinned table: ``model, test_accuracy, std, paper``, all in percent; ``paper``
    is empty where the paper gives no figure."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["model", "test_accuracy", "std", "paper"])
        for r in results:
            writer.writerow(
                [
                    r.name,
                    f"{np.mean(r.test_accuracy):.2f}",
                    f"{np.std(r.test_accuracy):.2f}",
                    _paper(r.name),
                ]
            )


def _write_runs_csv(path: Path, results: Sequence[Result]) -> None:
    """Every run's final numbers: one row per model × seed, in percent."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["model", "seed", "params", "test_accuracy", "train_accuracy", "final_train_loss"]
        )
        for r in results:
            for seed in range(len(r.test_accuracy)):
                writer.writerow(
                    [
                        r.name,
                        seed,
                        r.params,
                        f"{r.test_accuracy[seed]:.2f}",
                        f"{r.train_accuracy[seed]:.2f}",
                        f"{r.history['loss'][seed, -1]:.5f}",
                    ]
                )


def _write_curves_csv(path: Path, results: Sequence[Result]) -> None:
    """Per model, seed and epoch: training loss and accuracy, test loss and accuracy."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["model", "seed", "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy"]
        )
        for r in results:
            h = r.history
            for seed in range(h["loss"].shape[0]):
                for epoch in range(h["loss"].shape[1]):
                    writer.writerow(
                        [
                            r.name,
                            seed,
                            epoch + 1,
                            f"{h['loss'][seed, epoch]:.5f}",
                            f"{100 * h['accuracy'][seed, epoch]:.2f}",
                            f"{h['val_loss'][seed, epoch]:.5f}",
                            f"{100 * h['val_accuracy'][seed, epoch]:.2f}",
                        ]
                    )


def _plot_accuracy(path: Path, results: Sequence[Result], config: Config, description: str) -> None:
    """Test accuracy per model: mean ± std over seeds (seeds as dots), the paper's figure
    as a black bar."""
    fig, ax = plt.subplots(figsize=(7, 4))
    positions = np.arange(len(results))
    for i, r in enumerate(results):
        accuracy = r.test_accuracy
        ax.bar(
            i,
            accuracy.mean(),
            yerr=accuracy.std(),
            capsize=4,
            color=COLORS[r.name],
            alpha=0.8,
            label="jaxdl, mean ± std" if i == 0 else None,
        )
        ax.scatter(
            np.full(len(accuracy), i),
            accuracy,
            s=10,
            color="black",
            alpha=0.6,
            zorder=3,
            label="jaxdl, one seed" if i == 0 else None,
        )
        ax.text(i, 1.5, f"{accuracy.mean():.1f}", ha="center", fontsize=8, color="white")
    paper = [(i, PAPER[r.name]) for i, r in enumerate(results) if PAPER[r.name] is not None]
    ax.scatter(
        [i for i, _ in paper],
        [v for _, v in paper],
        marker="_",
        s=900,
        color="black",
        linewidths=2.5,
        zorder=4,
        label="Greydanus (2020)",
    )
    ax.axhline(10, color="#777777", lw=0.8, ls=":", label="chance")
    ax.set_xticks(positions, [r.name for r in results])
    ax.set_ylim(0, 100)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"MNIST-1D test accuracy of the final networks, {config.seeds} seeds", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.text(0.5, 0.005, description, ha="center", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_curves(path: Path, results: Sequence[Result], config: Config) -> None:
    """Per epoch, mean over seeds (band: ± std): test accuracy (left), training loss
    (right)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in results:
        epochs = np.arange(1, r.history["loss"].shape[1] + 1)
        test = 100.0 * r.history["val_accuracy"]
        mean, std = test.mean(axis=0), test.std(axis=0)
        left.plot(epochs, mean, color=COLORS[r.name], label=r.name)
        left.fill_between(epochs, mean - std, mean + std, color=COLORS[r.name], alpha=0.2)
        if PAPER[r.name] is not None:
            left.axhline(PAPER[r.name], color=COLORS[r.name], lw=0.8, ls="--")
        right.plot(epochs, r.history["loss"].mean(axis=0), color=COLORS[r.name], label=r.name)
    left.set_ylim(0, 100)
    left.set_ylabel("test accuracy (%)")
    left.set_title("test accuracy per epoch (dashed: the paper's figures)", fontsize=9)
    right.set_yscale("log")
    right.set_ylabel("training loss (running mean)")
    right.set_title("training cross-entropy per epoch", fontsize=9)
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"MNIST-1D, mean over {config.seeds} seeds", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds", type=_positive, default=None, help=f"seeds per model (default {DEFAULT.seeds})"
    )
    parser.add_argument(
        "--epochs",
        type=_positive,
        default=None,
        help=f"epochs (default {DEFAULT.epochs}; the paper's 6,000 steps of 100 are 150)",
    )
    parser.add_argument(
        "--rnn-hidden",
        type=_positive,
        default=None,
        help=f"GRU and LSTM state size (default {DEFAULT.rnn_hidden})",
    )
    parser.add_argument(
        "--train-size", type=_positive, default=None, help="training sequences (default: all 4,000)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke test: small models (MLP {QUICK.mlp_hidden}, CNN "
        f"{QUICK.cnn_channels} channels, recurrent state "
        f"{QUICK.rnn_hidden}), "
        f"{QUICK.epochs} epochs, {QUICK.seeds} seeds",
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

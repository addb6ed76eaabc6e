"""The degradation problem, after He, Zhang, Ren and Sun (2015), "Deep Residual Learning for
Image Recognition": plain networks reach a *higher training error* as they get deeper,
residual networks of the same depth much less so.

Plain and residual MLPs (``jaxdl.models.residual_mlp``: dense basic blocks with batch
norm, ``2·blocks + 2`` Dense layers) of growing depth are trained on a fixed subset of
Fashion-MNIST (or MNIST) with the same optimizer, schedule and budget. A plain network and
its residual twin have exactly the same parameters, so with the same seed they start from
the same weights and see the same batches: the shortcut is the only difference.

Every network trains at each learning rate of a small grid with several seeds, all of them
in one ``jaxdl.train.fit_sweep`` (vmapped into one compiled program per epoch). Each
network is reported at its own best learning rate, the one with the lowest mean final
training loss — the quantity the degradation problem is about — so a plain network is not
judged at a rate that only suits its residual twin. The test set is never used to choose.

Usage::

    python experiments/residual/run.py                    # Fashion-MNIST, 3.5–5.5 min on 2 cores
    python experiments/residual/run.py --dataset mnist --data-dir DIR
    python experiments/residual/run.py --quick --out DIR   # digits, offline, < 1 min

Writes ``table.md``, ``table.csv``, ``runs.csv``, ``error_vs_depth.png``,
``lr_sensitivity.png`` and ``training_curves.png`` to ``--out`` (default ``results/``
beside this file) and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import data, losses, models, nn, optim, train

HERE = Path(__file__).resolve().parent
VARIANTS = ("plain", "residual")
COLORS = {"plain": "#c44e52", "residual": "#4c72b0"}
DATASETS = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST", "digits": "digits (quick)"}
SUBSET_SEED = 2015  # which training images form the subset
MOMENTUM = 0.9


@dataclasses.dataclass(frozen=True)
class Config:
    """What every network is built and trained with."""

    depths: tuple[int, ...]  # residual_mlp blocks; 2·blocks + 2 Dense layers
    width: int
    epochs: int
    batch_size: int
    train_size: int | None  # None: the whole training set
    seeds: int
    learning_rates: tuple[float, ...]  # peaks of the cosine schedule, SGD + momentum
    batch_norm: bool = True


DEFAULT = Config(
    depths=(1, 2, 4, 8, 16),
    width=64,
    epochs=10,
    batch_size=128,
    train_size=10_000,
    seeds=3,
    learning_rates=(0.01, 0.03, 0.1),
)
QUICK = Config(
    depths=(1, 2),
    width=16,
    epochs=2,
    batch_size=64,
    train_size=None,
    seeds=2,
    learning_rates=(0.03, 0.1),
)


@dataclasses.dataclass
class Result:
    """One network (blocks × variant): every learning rate's and seed's final numbers
    and per-epoch curves, and the chosen learning rate."""

    depth: int
    variant: str
    params: int
    learning_rates: tuple[float, ...]
    train_error: np.ndarray  # (rates, seeds) % on the training images, inference mode
    test_error: np.ndarray  # (rates, seeds) % on the test set
    train_loss: np.ndarray  # (rates, seeds) on the training images, inference mode
    running_train_error: np.ndarray  # (rates, seeds) % over the last epoch, training mode
    history: dict[str, np.ndarray]  # fit_sweep's metric -> (rates, seeds, epochs)
    best: int  # index of the chosen learning rate
    seconds: float

    @property
    def layers(self) -> int:
        return 2 * self.depth + 2

    @property
    def best_rate(self) -> float:
        return self.learning_rates[self.best]

    def at_best(self, field: str) -> np.ndarray:
        """``field``'s values over seeds at the chosen learning rate."""
        return getattr(self, field)[self.best]

    @property
    def diverged(self) -> np.ndarray:
        """(rates, seeds): runs whose final training loss is not finite."""
        return ~np.isfinite(self.train_loss)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = _config(args)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    dataset = "digits" if args.quick else args.dataset
    train_data, test_data = _load(dataset, args.data_dir, config)
    description = (
        f"{DATASETS[dataset]}: {len(train_data[0]):,} training / {len(test_data[0]):,} test "
        f"images; MLPs of width {config.width}, {'with' if config.batch_norm else 'without'}"
        f" batch norm; SGD + momentum {MOMENTUM}, cosine decay from the best of "
        f"{_rates(config.learning_rates)}; batch {config.batch_size}, {config.epochs} "
        f"epochs; {_seeds(config.seeds)}"
    )
    print(description, flush=True)

    start = time.perf_counter()
    results = []
    for depth in config.depths:
        for variant in VARIANTS:
            result = _train(depth, variant, config, train_data, test_data)
            results.append(result)
            print(
                f"{result.layers:3d} layers {variant:8s}: best lr {result.best_rate:g}, "
                f"train error {_spread(result.at_best('train_error'))} %, test error "
                f"{_spread(result.at_best('test_error'))} % ({result.seconds:.0f} s)",
                flush=True,
            )
    seconds = time.perf_counter() - start

    table = _markdown(results, config, description)
    (out / "table.md").write_text(table)
    _write_table_csv(out / "table.csv", results, config)
    _write_runs_csv(out / "runs.csv", results)
    _plot_error_vs_depth(out / "error_vs_depth.png", results, config, description)
    _plot_lr_sensitivity(out / "lr_sensitivity.png", results, config)
    _plot_curves(out / "training_curves.png", results, config)
    print(table)
    print(f"trained in {seconds:.0f} s; results in {out}")
    return 0


def _config(args: argparse.Namespace) -> Config:
    config = QUICK if args.quick else DEFAULT
    overrides = {
        "depths": tuple(args.depths) if args.depths else None,
        "width": args.width,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "learning_rates": tuple(args.learning_rates) if args.learning_rates else None,
        "train_size": args.train_size,
        "batch_norm": False if args.no_batch_norm else None,
    }
    return dataclasses.replace(
        config, **{name: value for name, value in overrides.items() if value is not None}
    )


def _load(
    dataset: str, data_dir: str | None, config: Config
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Flattened images in [0, 1]: a fixed random subset of the training set (the same
    for every network and seed) and the whole test set."""
    if dataset == "digits":
        ds = data.digits(flatten=True)
    else:
        ds = data.load(dataset, data_dir=data_dir, flatten=True)
    order = np.random.default_rng(SUBSET_SEED).permutation(len(ds.x_train))
    if config.train_size is not None:
        order = order[: config.train_size]
    return (ds.x_train[order], ds.y_train[order]), ds.test


def _train(
    depth: int,
    variant: str,
    config: Config,
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray],
) -> Result:
    """Train every learning rate × seed of one network as one ``fit_sweep``; measure the
    final networks on the training images and the test set in inference mode."""
    start = time.perf_counter()
    model = models.residual_mlp(
        10,
        width=config.width,
        depth=depth,
        residual=variant == "residual",
        batch_norm=config.batch_norm,
    )
    steps = config.epochs * (len(train_data[0]) // config.batch_size)

    def make_optimizer(learning_rate) -> optim.GradientTransformation:
        return optim.momentum(optim.cosine_decay_schedule(learning_rate, steps), MOMENTUM)

    # Run (rate i, seed s) is fit(..., key=jax.random.key(s)) at rate i: every rate starts
    # from the same weights, and since a plain network and its residual twin have the same
    # parameter shapes, they start from the same weights and see the same batches too.
    rates, seeds = len(config.learning_rates), config.seeds
    keys = jnp.stack([jax.random.key(seed) for seed in range(seeds)] * rates)
    final_state, history = train.fit_sweep(
        model,
        make_optimizer,
        train_data,
        loss=losses.softmax_cross_entropy,
        epochs=config.epochs,
        batch_size=config.batch_size,
        keys=keys,
        hyperparameters={"learning_rate": np.repeat(config.learning_rates, seeds)},
        validation_data=test_data,
        eval_batch_size=1000,
        progress=False,
    )
    # The last epoch's validation pass gives the final networks' test error; the training
    # error is measured the same way (inference mode) on the training images.
    evaluate = jax.vmap(
        train.make_evaluate(
            train.make_eval_step(model, losses.softmax_cross_entropy), batch_size=1000
        ),
        in_axes=(0, None, None),
    )
    on_train = jax.device_get(evaluate(final_state, *train_data))

    def grid(values) -> np.ndarray:
        return np.asarray(values, dtype=np.float64).reshape(rates, seeds, *np.shape(values)[1:])

    train_loss = grid(on_train["loss"])
    # jaxdl's accuracy counts a NaN row of logits as correct, so a diverged run would
    # show 0 % error: report its errors as NaN instead, in the curves too.
    diverged = ~np.isfinite(train_loss)
    history = {name: grid(values) for name, values in history.items()}
    for name in ("accuracy", "val_accuracy"):
        loss_name = name.replace("accuracy", "loss")
        history[name] = np.where(np.isfinite(history[loss_name]), history[name], np.nan)

    def error(accuracy) -> np.ndarray:
        return np.where(diverged, np.nan, 100.0 * (1.0 - np.reshape(accuracy, diverged.shape)))

    first_run = jax.tree_util.tree_map(lambda leaf: leaf[0], final_state.params)
    return Result(
        depth=depth,
        variant=variant,
        params=sum(nn.count_params(first_run)),
        learning_rates=config.learning_rates,
        train_error=error(on_train["accuracy"]),
        test_error=error(history["val_accuracy"][..., -1]),
        train_loss=train_loss,
        running_train_error=error(history["accuracy"][..., -1]),
        history=history,
        best=choose(train_loss),
        seconds=time.perf_counter() - start,
    )


def choose(train_loss: np.ndarray) -> int:
    """The learning rate (row of ``(rates, seeds)``) with the lowest mean final training
    loss over seeds; a rate with a diverged seed ranks last.

    >>> choose(np.array([[0.5, 0.7], [0.2, np.nan], [0.3, 0.4]]))
    2
    """
    means = np.where(np.isfinite(train_loss), train_loss, np.inf).mean(axis=1)
    return int(np.argmin(means))


def _spread(values: np.ndarray) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values):.2f}"


def _seeds(seeds: int) -> str:
    return "1 seed (0)" if seeds == 1 else f"{seeds} seeds (0 … {seeds - 1})"


def _rates(rates: Sequence[float]) -> str:
    return "{" + ", ".join(f"{rate:g}" for rate in rates) + "}"


def _markdown(results: Sequence[Result], config: Config, description: str) -> str:
    lines = [
        f"# Plain vs residual networks of growing depth — {description}",
        "",
        "Each network at its own learning rate (lowest mean final training loss over "
        "seeds). Errors in %, mean ± std over seeds, of the final networks in inference "
        "mode (batch norm's running statistics): training error on the training images "
        "above, test error on the test set; train loss: the cross-entropy on the training "
        "images, inference mode; last-epoch running error: the mean over the last epoch's "
        "batches in training mode (batch statistics), as training curves report it. "
        "`layers` counts the Dense layers (2·blocks + 2); a plain network and its residual "
        "twin have the same parameters.",
        "",
        "| blocks | layers | variant | params | lr | train error (%) | test error (%) "
        "| train loss | last-epoch running train error (%) |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        diverged = int(r.diverged[r.best].sum())
        note = f" ({diverged} diverged)" if diverged else ""
        lines.append(
            f"| {r.depth} | {r.layers} | {r.variant} | {r.params:,} | {r.best_rate:g} "
            f"| {_spread(r.at_best('train_error'))}{note} | {_spread(r.at_best('test_error'))} "
            f"| {np.mean(r.at_best('train_loss')):.4f} "
            f"| {_spread(r.at_best('running_train_error'))} |"
        )
    lines += [
        "",
        "Training error (%) at every learning rate, mean over seeds (— : a seed diverged):",
        "",
        "| layers | variant | "
        + " | ".join(f"lr {rate:g}" for rate in config.learning_rates)
        + " |",
        "|---:|---|" + "---:|" * len(config.learning_rates),
    ]
    for r in results:
        cells = [
            "—" if r.diverged[i].any() else f"{np.mean(r.train_error[i]):.2f}"
            for i in range(len(r.learning_rates))
        ]
        cells[r.best] = f"**{cells[r.best]}**"
        lines.append(f"| {r.layers} | {r.variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _write_table_csv(path: Path, results: Sequence[Result], config: Config) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "depth",
                "layers",
                "variant",
                "params",
                "learning_rate",
                "train_error_percent",
                "train_error_std",
                "test_error_percent",
                "test_error_std",
                "train_loss",
                "running_train_error_percent",
                "diverged",
                "seeds",
            ]
        )
        for r in results:
            writer.writerow(
                [
                    r.depth,
                    r.layers,
                    r.variant,
                    r.params,
                    f"{r.best_rate:g}",
                    f"{np.mean(r.at_best('train_error')):.3f}",
                    f"{np.std(r.at_best('train_error')):.3f}",
                    f"{np.mean(r.at_best('test_error')):.3f}",
                    f"{np.std(r.at_best('test_error')):.3f}",
                    f"{np.mean(r.at_best('train_loss')):.5f}",
                    f"{np.mean(r.at_best('running_train_error')):.3f}",
                    int(r.diverged[r.best].sum()),
                    config.seeds,
                ]
            )


def _write_runs_csv(path: Path, results: Sequence[Result]) -> None:
    """Every run's final numbers: one row per network × learning rate × seed."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "depth",
                "layers",
                "variant",
                "learning_rate",
                "chosen",
                "seed",
                "train_error_percent",
                "test_error_percent",
                "train_loss",
                "running_train_error_percent",
            ]
        )
        for r in results:
            for i, rate in enumerate(r.learning_rates):
                for seed in range(r.train_loss.shape[1]):
                    writer.writerow(
                        [
                            r.depth,
                            r.layers,
                            r.variant,
                            f"{rate:g}",
                            int(i == r.best),
                            seed,
                            f"{r.train_error[i, seed]:.3f}",
                            f"{r.test_error[i, seed]:.3f}",
                            f"{r.train_loss[i, seed]:.5f}",
                            f"{r.running_train_error[i, seed]:.3f}",
                        ]
                    )


def _depth_axis(ax, layers: Sequence[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(layers, [str(n) for n in layers])
    ax.minorticks_off()
    ax.set_xlabel("Dense layers")
    ax.grid(alpha=0.3)


def _plot_error_vs_depth(
    path: Path, results: Sequence[Result], config: Config, description: str
) -> None:
    """Final training and test error against depth, each network at its chosen rate."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    layers = sorted({r.layers for r in results})
    for ax, (field, title) in zip(
        axes, (("train_error", "training error"), ("test_error", "test error"))
    ):
        for variant in VARIANTS:
            rows = [r for r in results if r.variant == variant]
            values = [r.at_best(field) for r in rows]
            ax.errorbar(
                [r.layers for r in rows],
                [np.mean(v) for v in values],
                yerr=[np.std(v) for v in values],
                marker="o",
                capsize=3,
                color=COLORS[variant],
                label=variant,
            )
            for r, v in zip(rows, values):
                ax.scatter(np.full(len(v), r.layers), v, s=8, color=COLORS[variant], alpha=0.5)
        _depth_axis(ax, layers)
        ax.set_ylabel(f"{title} (%)")
        ax.set_title(f"final {title}", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"Each network at its best learning rate; mean ± std over {config.seeds} "
        f"seeds (dots: seeds)\n" + textwrap.fill(description, 130),
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plot_lr_sensitivity(path: Path, results: Sequence[Result], config: Config) -> None:
    """Final training error against depth at every learning rate of the grid."""
    rates = config.learning_rates
    fig, axes = plt.subplots(1, len(rates), figsize=(3.6 * len(rates), 3.4), sharey=True)
    layers = sorted({r.layers for r in results})
    for i, (ax, rate) in enumerate(zip(np.atleast_1d(axes), rates)):
        for variant in VARIANTS:
            rows = [r for r in results if r.variant == variant]
            ax.plot(
                [r.layers for r in rows],
                [np.mean(r.train_error[i]) for r in rows],
                marker="o",
                color=COLORS[variant],
                label=variant,
            )
        _depth_axis(ax, layers)
        ax.set_title(f"learning rate {rate:g}", fontsize=10)
        ax.legend(fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("final training error (%)")
    fig.suptitle(
        f"Training error at every learning rate, mean over {config.seeds} seeds "
        "(a diverged seed leaves a gap)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plot_curves(path: Path, results: Sequence[Result], config: Config) -> None:
    """Error per epoch of the shallowest and the deepest pair at their chosen rates, as in
    He et al.'s Fig. 1: training error (solid; the running mean over the epoch's batches,
    in training mode) and test error (dashed), mean over seeds."""
    shallow, deep = min(config.depths), max(config.depths)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    epochs = np.arange(1, config.epochs + 1)
    for ax, variant in zip(axes, VARIANTS):
        for depth, width in ((shallow, 1.0), (deep, 2.2)):
            (r,) = [r for r in results if r.variant == variant and r.depth == depth]
            curves = {name: values[r.best] for name, values in r.history.items()}
            train_error = 100 * (1 - curves["accuracy"].mean(axis=0))
            test_error = 100 * (1 - curves["val_accuracy"].mean(axis=0))
            color = COLORS[variant] if depth == deep else "#777777"
            label = f"{r.layers} layers (lr {r.best_rate:g})"
            ax.plot(epochs, train_error, color=color, lw=width, label=f"{label}, training")
            ax.plot(epochs, test_error, color=color, lw=width, ls="--", label=f"{label}, test")
        ax.set_title(f"{variant} networks", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("error (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"Error per epoch, mean over {config.seeds} seeds: the shallowest and the "
        "deepest pair, each at its best learning rate",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["fashion_mnist", "mnist"], default="fashion_mnist")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the IDX files (default: $JAXDL_DATA_DIR, then the "
        "cache, downloading if needed)",
    )
    parser.add_argument(
        "--seeds",
        type=_positive,
        default=None,
        help=f"seeds per network and learning rate (default {DEFAULT.seeds})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test on scikit-learn's digits (offline): blocks "
        f"{QUICK.depths}, width {QUICK.width}, {QUICK.epochs} epochs, "
        f"{QUICK.seeds} seeds, learning rates {QUICK.learning_rates}",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: results/ beside this file)"
    )
    parser.add_argument(
        "--depths",
        type=_positive,
        nargs="+",
        default=None,
        help=f"residual_mlp blocks per network (default {DEFAULT.depths})",
    )
    parser.add_argument(
        "--width", type=_positive, default=None, help=f"hidden units (default {DEFAULT.width})"
    )
    parser.add_argument(
        "--epochs", type=_positive, default=None, help=f"epochs (default {DEFAULT.epochs})"
    )
    parser.add_argument(
        "--learning-rates",
        type=_positive_float,
        nargs="+",
        default=None,
        help=f"the learning-rate grid (default {DEFAULT.learning_rates})",
    )
    parser.add_argument(
        "--train-size",
        type=_positive,
        default=None,
        help=f"training images (default {DEFAULT.train_size:,})",
    )
    parser.add_argument(
        "--no-batch-norm", action="store_true", help="build the networks without batch norm"
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

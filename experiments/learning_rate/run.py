"""The learning rate of plain SGD: too small is slow, too large oscillates and diverges;
does decaying it over the run beat a constant rate at the same peak?

Two parts, on an MLP 784-100-10 (ReLU, He initialisation) trained with plain SGD
(``jaxdl.optim.sgd``, no momentum) and softmax cross-entropy on a fixed random subset of
MNIST, several seeds each:

1. *Sweep and curves*: a log grid of rates (quarter decades), every rate × seed trained
   for the same number of steps, all together in one compiled ``lax.scan`` of
   ``jaxdl.train.make_train_step``, ``vmap``-ed over runs; the loss of every step's batch
   (before its update) is kept, so slow progress, oscillation and divergence show step by
   step for a few rates of the grid (too small, good, large, too large), and the final
   training loss and test accuracy against the rate give the U-curve.
   (``jaxdl.train.fit_sweep`` would train the same grid but records per-epoch means only.)
2. *Schedules*: step, exponential and cosine decay (``jaxdl.optim`` schedules, passed to
   ``optim.sgd`` as its ``learning_rate``) against a constant rate, all four starting at
   the same peak, at two peaks: the sweep's best constant rate and 3 times it. One
   ``fit_sweep`` trains every peak × schedule × seed: run ``r``'s rate is
   ``peak_r · Σ_k onehot_rk · schedule_k(t)``, with the schedules ``schedule_k`` starting
   at 1, which is its own schedule's rate.

A run *diverged* when a loss became NaN/inf, or when its final training loss is no lower
than ``ln 10``, the loss of a uniform guess (with ReLU and jaxdl's stable cross-entropy
an exploding run usually ends there: its loss jumps by orders of magnitude, the ReLUs
die and the network predicts a constant). Diverged runs stay in every table and plot,
marked as such; their accuracies are NaN when their loss is not finite.

Usage::

    python experiments/learning_rate/run.py                    # MNIST, ~1 min on 2 cores
    python experiments/learning_rate/run.py --data-dir DIR --seeds 5
    python experiments/learning_rate/run.py --quick --out DIR   # digits, offline, ~20 s

Writes ``table.md``, ``table.csv`` (one row per part and setting), ``runs.csv`` (one row
per run), ``curves.png``, ``lr_sweep.png`` and ``schedules.png`` to ``--out`` (default
``results/`` beside this file) and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
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

from jaxdl import data, losses, models, optim, train

HERE = Path(__file__).resolve().parent
SUBSET_SEED = 1951  # which training images form the subset (Robbins & Monro, 1951)
SCHEDULES = ("constant", "step", "exponential", "cosine")
COLORS = {"constant": "#555555", "step": "#c44e52", "exponential": "#55a868", "cosine": "#4c72b0"}
CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess over 10 classes
LOSS = losses.softmax_cross_entropy


@dataclasses.dataclass(frozen=True)
class Config:
    """What every run is built and trained with."""

    hidden: tuple[int, ...]  # hidden layer sizes of the MLP
    train_size: int | None  # training images (None: the whole training set)
    batch_size: int
    seeds: int
    sweep_rates: tuple[float, ...]  # part 1
    curve_rates: tuple[float, ...]  # the rates of sweep_rates whose curves are drawn
    sweep_epochs: int
    schedule_epochs: int  # part 2
    peak_factors: tuple[float, ...] = (1.0, 1.5)  # part 2's peaks: × the sweep's best rate

    def __post_init__(self) -> None:
        missing = sorted(set(self.curve_rates) - set(self.sweep_rates))
        if missing:
            raise ValueError(f"curve_rates {missing} are not in sweep_rates {self.sweep_rates}")


DEFAULT = Config(
    hidden=(100,),
    train_size=10_000,
    batch_size=100,
    seeds=3,
    sweep_rates=tuple(float(f"{10.0 ** (k / 4):.3g}") for k in range(-12, 7)),
    curve_rates=(0.01, 0.316, 1.78, 3.16, 31.6),
    sweep_epochs=10,
    schedule_epochs=10,
    peak_factors=(1.0, 3.0),
)
QUICK = Config(
    hidden=(32,),
    train_size=None,
    batch_size=32,
    seeds=2,
    sweep_rates=(0.01, 0.1, 1.0, 10.0, 100.0),
    curve_rates=(0.01, 0.1, 100.0),
    sweep_epochs=3,
    schedule_epochs=3,
)


@dataclasses.dataclass
class Runs:
    """One part's runs: settings × seeds, with their final numbers and curves."""

    part: str
    settings: tuple[str, ...]  # one label per row of the arrays below
    rates: tuple[float, ...]  # the (peak) learning rate of each setting
    epochs: int
    train_loss: np.ndarray  # (settings, seeds): final network on the training images
    test_accuracy: np.ndarray  # (settings, seeds): final network on the test set
    curve: np.ndarray  # (settings, seeds, points): per-step or per-epoch training loss
    peak_loss: np.ndarray  # (settings, seeds): the largest loss of the curve
    val_accuracy: np.ndarray | None = None  # (settings, seeds, epochs) where recorded

    @property
    def status(self) -> np.ndarray:
        """(settings, seeds) of ``"ok"``, ``"diverged"`` or ``"NaN/inf"``."""
        return np.vectorize(status)(self.train_loss, self.peak_loss)


def status(final_loss: float, peak_loss: float, chance: float = CHANCE_LOSS) -> str:
    """``"NaN/inf"`` if the run's loss became non-finite, ``"diverged"`` if its final
    training loss is no lower than ``chance`` (a uniform guess), else ``"ok"``.

    >>> status(0.2, 2.4), status(2.31, 1e4), status(2.0, float("nan"))
    ('ok', 'diverged', 'NaN/inf')
    """
    if not (math.isfinite(final_loss) and math.isfinite(peak_loss)):
        return "NaN/inf"
    return "diverged" if final_loss >= chance else "ok"


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each ``window`` consecutive values along the last axis (``window - 1``
    fewer points); a window holding a NaN or inf gives NaN.

    >>> moving_average(np.array([1.0, 2.0, 3.0, 5.0]), 2)
    array([1.5, 2.5, 4. ])
    """
    values = np.where(np.isfinite(values), values, np.nan)
    kernel = np.ones(window) / window
    return np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), -1, values)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = _config(args)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    train_data, test_data, name = _load(args.quick, args.data_dir, config)
    description = (
        f"{name}: {len(train_data[0]):,} training / {len(test_data[0]):,} test images; "
        f"MLP {train_data[0].shape[1]}-{'-'.join(map(str, config.hidden))}-10 (ReLU), "
        f"plain SGD, batch {config.batch_size}; {_seeds(config.seeds)}"
    )
    print(description, flush=True)
    model = models.mlp(10, hidden=config.hidden)

    start = time.perf_counter()
    sweep = _train_sweep(model, config, train_data, test_data)
    print(f"sweep: {time.perf_counter() - start:.0f} s", flush=True)
    peaks = tuple(
        float(f"{best_rate(sweep.rates, sweep.train_loss) * factor:.3g}")
        for factor in config.peak_factors
    )
    steps = config.schedule_epochs * (len(train_data[0]) // config.batch_size)
    schedules = _train_schedules(model, config, peaks, steps, train_data, test_data)
    seconds = time.perf_counter() - start

    parts = (sweep, schedules)
    table = _markdown(parts, config, description, steps)
    (out / "table.md").write_text(table)
    _write_table_csv(out / "table.csv", parts)
    _write_runs_csv(out / "runs.csv", parts)
    _plot_curves(out / "curves.png", sweep, config, len(train_data[0]))
    _plot_sweep(out / "lr_sweep.png", sweep, config)
    _plot_schedules(out / "schedules.png", schedules, peaks, steps, config)
    print(table)
    print(f"trained in {seconds:.0f} s; results in {out}")
    return 0


def _config(args: argparse.Namespace) -> Config:
    config = QUICK if args.quick else DEFAULT
    if args.seeds is not None:
        config = dataclasses.replace(config, seeds=args.seeds)
    return config


def _load(quick: bool, data_dir: str | None, config: Config):
    """Flattened images in [0, 1]: a fixed random subset of the training set (the same
    for every run) and the whole test set."""
    if quick:
        ds, name = data.load("digits", flatten=True), "digits (quick)"
    else:
        ds, name = data.load("mnist", data_dir=data_dir, flatten=True), "MNIST"
    order = np.random.default_rng(SUBSET_SEED).permutation(len(ds.x_train))
    if config.train_size is not None:
        order = order[: config.train_size]
    return (ds.x_train[order], ds.y_train[order]), ds.test, name


def _keys(settings: int, seeds: int) -> jax.Array:
    """Run (setting i, seed s) gets ``jax.random.key(s)``: every setting starts from the
    same weights for a given seed."""
    return jnp.stack([jax.random.key(seed) for seed in range(seeds)] * settings)


def _evaluate(model, final_state, x, y) -> dict[str, np.ndarray]:
    """Every run's final network on ``(x, y)``, inference mode, in one batch; accuracy
    NaN where the loss is not finite (jaxdl's accuracy counts a row of NaN logits as
    correct)."""
    evaluate = jax.vmap(
        train.make_evaluate(train.make_eval_step(model, LOSS), batch_size=len(x)),
        in_axes=(0, None, None),
    )
    metrics = jax.device_get(evaluate(final_state, x, y))
    loss = np.asarray(metrics["loss"], dtype=np.float64)
    accuracy = np.where(np.isfinite(loss), metrics["accuracy"], np.nan)
    return {"loss": loss, "accuracy": accuracy}


def _train_sweep(model, config: Config, train_data, test_data) -> Runs:
    """Part 1: every sweep rate × seed for ``sweep_epochs`` epochs of plain SGD in one
    compiled scan, keeping every step's batch loss."""
    x, y = jnp.asarray(train_data[0]), jnp.asarray(train_data[1])
    per_epoch = len(x) // config.batch_size
    epochs = config.sweep_epochs

    def run(key: jax.Array, learning_rate: jax.Array):
        init_key, data_key = jax.random.split(key)
        params, state = model.init(init_key, x[:1])
        optimizer = optim.sgd(learning_rate)
        train_state = train.TrainState.create(params=params, state=state, optimizer=optimizer)
        step = train.make_train_step(model, LOSS, optimizer)
        # A new permutation each epoch; the remainder of each is skipped.
        order = jax.vmap(
            lambda epoch: jax.random.permutation(jax.random.fold_in(data_key, epoch), len(x))[
                : per_epoch * config.batch_size
            ]
        )(jnp.arange(epochs))

        def body(train_state, indices):
            train_state, metrics = step(train_state, (x[indices], y[indices]), data_key)
            return train_state, metrics["loss"]

        return jax.lax.scan(body, train_state, order.reshape(epochs * per_epoch, config.batch_size))

    rates, seeds = len(config.sweep_rates), config.seeds
    learning_rates = jnp.asarray(np.repeat(config.sweep_rates, seeds), dtype=jnp.float32)
    final_state, batch_loss = jax.jit(jax.vmap(run))(_keys(rates, seeds), learning_rates)
    curve = np.asarray(batch_loss, dtype=np.float64).reshape(rates, seeds, -1)
    return _runs(
        "sweep",
        tuple(f"lr {rate:g}" for rate in config.sweep_rates),
        config.sweep_rates,
        epochs,
        model,
        final_state,
        curve,
        train_data,
        test_data,
    )


def schedule_functions(peak: float, steps: int) -> dict[str, optim.Schedule]:
    """The four schedules of part 3, each starting at ``peak`` and run for ``steps``:
    constant; step (×0.1 at 50 % and again at 75 % of the steps); exponential (a smooth
    decay to 1 % of the peak at the last step); cosine (to 0).

    >>> s = schedule_functions(1.0, 100)
    >>> [round(float(s[name](75)), 4) for name in ("constant", "step", "exponential", "cosine")]
    [1.0, 0.01, 0.0316, 0.1464]
    """
    return {
        "constant": optim.constant_schedule(peak),
        "step": optim.piecewise_constant_schedule(peak, {steps // 2: 0.1, 3 * steps // 4: 0.1}),
        "exponential": optim.exponential_decay(peak, transition_steps=steps, decay_rate=0.01),
        "cosine": optim.cosine_decay_schedule(peak, decay_steps=steps),
    }


def schedule_rows(peaks: Sequence[float], seeds: int) -> dict[str, np.ndarray]:
    """Part 3's hyperparameter rows, peak × schedule × seed: ``peak`` and one one-hot
    column per schedule.

    >>> rows = schedule_rows([1.0, 2.0], seeds=1)
    >>> rows["peak"].tolist(), rows["step"].tolist()
    ([1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0], [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    """
    one_hot = np.tile(np.repeat(np.eye(len(SCHEDULES)), seeds, axis=1), len(peaks))
    rows = {name: one_hot[i].astype(np.float32) for i, name in enumerate(SCHEDULES)}
    rows["peak"] = np.repeat(np.asarray(peaks, dtype=np.float32), len(SCHEDULES) * seeds)
    return rows


def _train_schedules(
    model, config: Config, peaks: Sequence[float], steps: int, train_data, test_data
) -> Runs:
    """Part 3: every peak × schedule × seed in one ``fit_sweep``. A run's optimizer is SGD
    with the rate ``peak · Σ_k w_k · schedule_k(t)``, where the schedules start at 1 and
    ``w`` is the one-hot row of the run's schedule (traced hyperparameters)."""
    functions = schedule_functions(1.0, steps)

    def make_optimizer(peak, **weights) -> optim.GradientTransformation:
        def rate(count):
            return peak * sum(weights[name] * functions[name](count) for name in SCHEDULES)

        return optim.sgd(rate)

    seeds, settings = config.seeds, len(peaks) * len(SCHEDULES)
    final_state, history = train.fit_sweep(
        model,
        make_optimizer,
        train_data,
        loss=LOSS,
        epochs=config.schedule_epochs,
        batch_size=config.batch_size,
        keys=_keys(settings, seeds),
        hyperparameters=schedule_rows(peaks, seeds),
        validation_data=test_data,
        eval_batch_size=len(test_data[0]),
        progress=False,
    )
    curve = np.asarray(history["loss"], dtype=np.float64).reshape(settings, seeds, -1)
    runs = _runs(
        "schedules",
        SCHEDULES * len(peaks),
        np.repeat(peaks, len(SCHEDULES)),
        config.schedule_epochs,
        model,
        final_state,
        curve,
        train_data,
        test_data,
    )
    accuracy = np.asarray(history["val_accuracy"], dtype=np.float64)
    finite = np.isfinite(np.asarray(history["val_loss"]))
    runs.val_accuracy = np.where(finite, accuracy, np.nan).reshape(settings, seeds, -1)
    return runs


def _runs(part, settings, rates, epochs, model, final_state, curve, train_data, test_data) -> Runs:
    shape = curve.shape[:2]
    on_train = _evaluate(model, final_state, *train_data)
    on_test = _evaluate(model, final_state, *test_data)
    peak = np.where(np.isfinite(curve), curve, np.inf).max(axis=-1)
    return Runs(
        part=part,
        settings=tuple(settings),
        rates=tuple(float(r) for r in rates),
        epochs=epochs,
        train_loss=on_train["loss"].reshape(shape),
        test_accuracy=on_test["accuracy"].reshape(shape),
        curve=curve,
        peak_loss=peak,
    )


def best_rate(rates: Sequence[float], train_loss: np.ndarray) -> float:
    """The rate (row of ``(rates, seeds)``) with the lowest mean final training loss;
    a rate with a non-finite loss on any seed ranks last.

    >>> best_rate([0.1, 1.0, 10.0], np.array([[0.5, 0.7], [0.2, 0.3], [np.nan, 0.1]]))
    1.0
    """
    means = np.where(np.isfinite(train_loss), train_loss, np.inf).mean(axis=1)
    return float(rates[int(np.argmin(means))])


def _seeds(seeds: int) -> str:
    return "1 seed (0)" if seeds == 1 else f"{seeds} seeds (0 … {seeds - 1})"


def _mean_std(values: np.ndarray, digits: int) -> str:
    if not np.isfinite(values).all():
        return "NaN"
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def _largest(values: np.ndarray) -> str:
    return "NaN" if not np.isfinite(values).all() else f"{np.max(values):.4g}"


def _diverged_note(statuses: np.ndarray) -> str:
    counts = {label: int((statuses == label).sum()) for label in ("diverged", "NaN/inf")}
    return ", ".join(f"{count} {label}" for label, count in counts.items() if count) or "—"


def _markdown(parts: Sequence[Runs], config: Config, description: str, steps: int) -> str:
    sweep, schedules = parts
    per_epoch = sweep.curve.shape[-1] // sweep.epochs
    late = sweep.curve[..., per_epoch:]
    late_peak = np.where(np.isfinite(late), late, np.inf).max(axis=-1)
    best = best_rate(sweep.rates, sweep.train_loss)
    lines = [
        f"# Learning rates of plain SGD — {description}",
        "",
        "Final training loss: the final network's cross-entropy on all the training images; "
        "test accuracy: the final network on the test set; mean ± std over seeds. A run "
        f"*diverged* when its final training loss is ≥ ln 10 = {CHANCE_LOSS:.3f} (no better "
        "than a uniform guess) or a loss became NaN/inf (shown as NaN).",
        "",
        f"## 1. Constant rates on a log grid ({config.sweep_epochs} epochs, "
        f"{sweep.curve.shape[-1]} steps)",
        "",
        "Largest batch loss: the largest loss of a training batch over the whole run, and "
        "after the first epoch; the largest over seeds (the loss oscillates or explodes when "
        "the rate is too large).",
        "",
        "| learning rate | final train loss | test accuracy | largest batch loss "
        "| … after epoch 1 | diverged |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for i, rate in enumerate(sweep.rates):
        mark = "**" if rate == best else ""
        lines.append(
            f"| {mark}{rate:g}{mark} | {_mean_std(sweep.train_loss[i], 4)} "
            f"| {_mean_std(sweep.test_accuracy[i], 4)} | {_largest(sweep.peak_loss[i])} "
            f"| {_largest(late_peak[i])} | {_diverged_note(sweep.status[i])} |"
        )
    lines += [
        "",
        f"Best constant rate (lowest mean final training loss, bold): {best:g}.",
        "",
        f"## 2. Schedules against a constant rate at the same peak "
        f"({config.schedule_epochs} epochs, {steps} steps)",
        "",
        "Peaks: the best constant rate of the sweep times "
        + ", ".join(f"{factor:g}" for factor in config.peak_factors)
        + "; step: ×0.1 at 50 % and at 75 % of the steps; exponential: to 1 % of the peak "
        "at the end; cosine: to 0.",
        "",
        "| peak | schedule | final train loss | test accuracy | diverged |",
        "|---:|---|---:|---:|---|",
    ]
    for i, name in enumerate(schedules.settings):
        lines.append(
            f"| {schedules.rates[i]:g} | {name} | {_mean_std(schedules.train_loss[i], 4)} "
            f"| {_mean_std(schedules.test_accuracy[i], 4)} "
            f"| {_diverged_note(schedules.status[i])} |"
        )
    return "\n".join(lines) + "\n"


TABLE_COLUMNS = [
    "part",
    "setting",
    "learning_rate",
    "epochs",
    "seeds",
    "train_loss_mean",
    "train_loss_std",
    "test_accuracy_mean",
    "test_accuracy_std",
    "diverged",
]
RUN_COLUMNS = [
    "part",
    "setting",
    "learning_rate",
    "seed",
    "train_loss",
    "test_accuracy",
    "peak_loss",
    "status",
]


def _write_table_csv(path: Path, parts: Sequence[Runs]) -> None:
    """One row per part and setting; ``diverged`` counts the runs marked diverged or
    NaN/inf; the means are NaN where a seed's value is."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(TABLE_COLUMNS)
        for runs in parts:
            for i, setting in enumerate(runs.settings):
                writer.writerow(
                    [
                        runs.part,
                        setting,
                        f"{runs.rates[i]:g}",
                        runs.epochs,
                        runs.train_loss.shape[1],
                        f"{np.mean(runs.train_loss[i]):.5f}",
                        f"{np.std(runs.train_loss[i]):.5f}",
                        f"{np.mean(runs.test_accuracy[i]):.5f}",
                        f"{np.std(runs.test_accuracy[i]):.5f}",
                        int((runs.status[i] != "ok").sum()),
                    ]
                )


def _write_runs_csv(path: Path, parts: Sequence[Runs]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(RUN_COLUMNS)
        for runs in parts:
            for i, setting in enumerate(runs.settings):
                for seed in range(runs.train_loss.shape[1]):
                    writer.writerow(
                        [
                            runs.part,
                            setting,
                            f"{runs.rates[i]:g}",
                            seed,
                            f"{runs.train_loss[i, seed]:.5f}",
                            f"{runs.test_accuracy[i, seed]:.5f}",
                            f"{runs.peak_loss[i, seed]:.5g}",
                            runs.status[i, seed],
                        ]
                    )


def _plot_curves(path: Path, sweep: Runs, config: Config, n: int) -> None:
    """Part 1, the curve rates: every step's batch loss (faint: every seed; bold: a moving
    average over a fifth of an epoch, seed by seed), log scales; non-finite losses
    marked."""
    count = len(config.curve_rates)
    fig, axes = plt.subplots(1, count, figsize=(3.1 * count, 3.4), sharey=True)
    axes = np.atleast_1d(axes)
    per_epoch = n // config.batch_size
    window = max(1, per_epoch // 5)
    steps = np.arange(1, sweep.curve.shape[-1] + 1)
    colors = plt.cm.viridis(np.linspace(0, 0.85, sweep.curve.shape[1]))
    for ax, rate in zip(axes, config.curve_rates):
        i = sweep.rates.index(rate)
        curves = sweep
        for seed, color in enumerate(colors):
            values = curves.curve[i, seed]
            finite = np.isfinite(values)
            ax.plot(steps[finite], values[finite], color=color, lw=0.4, alpha=0.35)
            smooth = moving_average(values, window)
            ax.plot(
                steps[window - 1 :],
                smooth,
                color=color,
                lw=1.4,
                label=f"seed {seed}: {curves.status[i, seed]}",
            )
            if not finite.all():
                first = int(np.argmin(finite))
                ax.axvline(steps[first], color="red", ls=":", lw=1)
                ax.annotate(
                    f"NaN/inf from step {steps[first]}",
                    (steps[first], 1.0),
                    xycoords=("data", "axes fraction"),
                    color="red",
                    fontsize=7,
                    va="top",
                    rotation=90,
                )
        ax.axhline(CHANCE_LOSS, color="black", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("step (log)")
        ax.set_title(f"lr {curves.rates[i]:g}", fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("batch training loss (log)")
    fig.suptitle(
        f"Plain SGD, {config.sweep_epochs} epochs of batch {config.batch_size}: "
        "every step's batch loss (faint) and its moving average over "
        f"{window} steps (bold); dashed: ln 10, a uniform guess",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_sweep(path: Path, sweep: Runs, config: Config) -> None:
    """Part 2: final training loss and test accuracy against the rate (log x), seeds as
    dots, diverged runs as red crosses; non-finite values drawn at the top edge."""
    rates = np.asarray(sweep.rates)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, values, label, log in (
        (axes[0], sweep.train_loss, "final training loss", True),
        (axes[1], sweep.test_accuracy, "test accuracy", False),
    ):
        finite = np.isfinite(values)
        means = np.where(finite.all(axis=1), np.where(finite, values, 0).mean(axis=1), np.nan)
        ax.plot(rates, means, color="#4c72b0", marker="o", label="mean over seeds")
        ok = sweep.status == "ok"
        seed_rates = np.broadcast_to(rates[:, None], values.shape)
        ax.scatter(seed_rates[ok], values[ok], s=10, color="#4c72b0", alpha=0.5, label="a seed")
        bad = ~ok & finite
        ax.scatter(
            seed_rates[bad], values[bad], s=40, marker="x", color="#c44e52", label="a diverged seed"
        )
        if (~finite).any():
            top = ax.get_ylim()[1]
            ax.scatter(
                seed_rates[~finite],
                np.full((~finite).sum(), top),
                s=40,
                marker="^",
                color="#c44e52",
                label="NaN/inf",
            )
        if log:
            ax.set_yscale("log")
            ax.axhline(CHANCE_LOSS, color="black", ls="--", lw=0.8, label="ln 10")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(
        f"Plain SGD after {config.sweep_epochs} epochs at each rate of a log grid "
        f"({config.seeds} seeds)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_schedules(
    path: Path, schedules: Runs, peaks: Sequence[float], steps: int, config: Config
) -> None:
    """Part 3, one row per peak: the schedules, the per-epoch training loss and the test
    accuracy (mean over seeds, band: min–max)."""
    fig, axes = plt.subplots(len(peaks), 3, figsize=(13, 3.2 * len(peaks)), squeeze=False)
    t = np.arange(steps)
    epochs = np.arange(1, config.schedule_epochs + 1)
    for row, peak in enumerate(peaks):
        functions = schedule_functions(peak, steps)
        for i, name in enumerate(SCHEDULES):
            k = row * len(SCHEDULES) + i
            color = COLORS[name]
            axes[row, 0].plot(
                t,
                np.asarray(functions[name](t), dtype=float) * np.ones(steps),
                color=color,
                label=name,
            )
            for ax, values in (
                (axes[row, 1], schedules.curve[k]),
                (axes[row, 2], schedules.val_accuracy[k]),
            ):
                ax.plot(epochs, values.mean(axis=0), color=color, marker="o", ms=3, label=name)
                ax.fill_between(
                    epochs, values.min(axis=0), values.max(axis=0), color=color, alpha=0.15
                )
        axes[row, 0].set_ylabel(f"learning rate (peak {peak:g})")
        axes[row, 1].set_yscale("log")
        axes[row, 1].set_ylabel("training loss (epoch mean, log)")
        axes[row, 2].set_ylabel("test accuracy")
    axes[-1, 0].set_xlabel("step")
    for ax in axes[-1, 1:]:
        ax.set_xlabel("epoch")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    factors = " and ".join(f"{factor:g}×" for factor in config.peak_factors)
    fig.suptitle(
        f"Schedules against a constant rate at the same peak ({factors} the sweep's "
        f"best constant rate); plain SGD, mean over {config.seeds} seeds "
        "(band: min–max)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
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
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())

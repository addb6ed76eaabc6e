"""The study's figures: training curves at the best learning rate, and the final
validation accuracy across each optimizer's learning-rate grid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import ticker

__all__ = ["colors_for", "plot_curves", "plot_lr_sensitivity"]


class SweepResult(Protocol):
    """What the plots read of one optimizer's sweep (``run.Sweep``)."""

    name: str
    learning_rates: np.ndarray
    history: dict[str, np.ndarray]  # (learning rates, seeds, epochs)
    best: int


def colors_for(names: Sequence[str]) -> dict[str, str]:
    """One fixed colour per optimizer, shared by every figure."""
    palette = plt.get_cmap("tab10").colors
    return {name: mcolors.to_hex(palette[i % 10]) for i, name in enumerate(names)}


def plot_curves(
    path: str,
    sweeps: Sequence[SweepResult],
    *,
    title: str,
    target: float,
    steps_per_epoch: int,
    families: dict[str, Sequence[str]],
    colors: dict[str, str],
) -> None:
    """Training loss (log scale, top row) and validation accuracy (bottom row) per epoch,
    one column per family of optimizers, each optimizer at its best learning rate: the
    mean over seeds as a line, min–max over seeds as a band. Axes are shared, so columns
    compare directly."""
    by_name = {sweep.name: sweep for sweep in sweeps}
    figure, axes = plt.subplots(
        2, len(families), figsize=(15, 8), sharex=True, sharey="row", squeeze=False
    )
    lowest_accuracy = target
    for column, (family, names) in enumerate(families.items()):
        loss_axis, accuracy_axis = axes[:, column]
        for sweep in (by_name[name] for name in names):
            for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "val_accuracy")):
                runs = sweep.history[metric][sweep.best]  # (seeds, epochs)
                epochs = np.arange(1, runs.shape[1] + 1)
                axis.plot(
                    epochs,
                    runs.mean(axis=0),
                    color=colors[sweep.name],
                    lw=1.6,
                    label=f"{sweep.name} (η={sweep.learning_rates[sweep.best]:.2g})",
                )
                axis.fill_between(
                    epochs,
                    runs.min(axis=0),
                    runs.max(axis=0),
                    color=colors[sweep.name],
                    alpha=0.2,
                    lw=0,
                )
            late = sweep.history["val_accuracy"][sweep.best].mean(axis=0)[len(epochs) // 4 :]
            lowest_accuracy = min(lowest_accuracy, float(np.nanmin(late)))
        loss_axis.set(yscale="log", title=family)
        accuracy_axis.axhline(target, color="black", ls="--", lw=0.8)
        accuracy_axis.set(xlabel="epoch")
        accuracy_axis.legend(loc="lower right", fontsize=9)
        _steps_axis(loss_axis, steps_per_epoch)
    axes[0, 0].set_ylabel("training loss (cross-entropy)")
    axes[1, 0].set_ylabel(f"validation accuracy (dashed: target {target:.0%})")
    axes[1, 0].set_ylim(max(0.0, lowest_accuracy - 0.02), 1.0)
    for axis in axes.flat:
        axis.grid(alpha=0.3)
        axis.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    figure.suptitle(
        f"{title}\neach optimizer at its best learning rate: mean over seeds, band min–max"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def plot_lr_sensitivity(
    path: str, sweeps: Sequence[SweepResult], *, title: str, colors: dict[str, str]
) -> None:
    """Final validation accuracy against the learning rate, one panel per optimizer:
    mean over seeds with a min–max bar; the chosen rate starred."""
    columns = 3
    rows = -(-len(sweeps) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(12, 3.2 * rows), sharey=True, squeeze=False)
    for axis, sweep in zip(axes.flat, sweeps):
        final = np.nan_to_num(sweep.history["val_accuracy"][..., -1], nan=0.0)  # (rates, seeds)
        mean = final.mean(axis=1)
        # Clipped at 0: the mean of equal values can differ from them in the last bit.
        spread = np.maximum(0.0, (mean - final.min(axis=1), final.max(axis=1) - mean))
        axis.errorbar(
            sweep.learning_rates,
            mean,
            yerr=spread,
            color=colors[sweep.name],
            marker="o",
            ms=4,
            capsize=3,
            lw=1.4,
        )
        axis.plot(
            sweep.learning_rates[sweep.best],
            mean[sweep.best],
            "*",
            ms=14,
            color="gold",
            mec="black",
            mew=0.8,
        )
        axis.set(xscale="log", title=sweep.name, xlabel="learning rate η")
        axis.grid(alpha=0.3)
    for axis in axes[:, 0]:
        axis.set_ylabel("final val. accuracy")
    for axis in list(axes.flat)[len(sweeps) :]:
        axis.set_visible(False)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _steps_axis(axis, steps_per_epoch: int) -> None:
    """A second x axis on top counting optimizer steps."""
    top = axis.secondary_xaxis(
        "top", functions=(lambda e: e * steps_per_epoch, lambda s: s / steps_per_epoch)
    )
    top.set_xlabel("steps", fontsize=8)
    top.tick_params(labelsize=8)

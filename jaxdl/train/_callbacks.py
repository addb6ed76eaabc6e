"""Callbacks: code that runs at the end of each epoch of :func:`jaxdl.train.fit`."""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import jax

from jaxdl import checkpoint
from jaxdl._checks import check_int
from jaxdl.train._divergence import is_loss_name, state_is_finite
from jaxdl.train._history import History
from jaxdl.train._state import TrainState

__all__ = ["Callback", "EarlyStopping", "FitContext", "LearningRateLogger", "ModelCheckpoint"]


@dataclasses.dataclass
class FitContext:
    """What a callback sees and may change during :func:`fit`.

    Fields: ``train_state`` (replace it to change what training continues from or
    returns), ``history``, ``key`` (the data key of the run), ``epoch`` (0-based, the
    epoch that just ended), ``stop_training`` (set True to stop after this epoch).
    """

    train_state: TrainState
    history: History
    key: jax.Array
    epoch: int = -1
    stop_training: bool = False


class Callback:
    """Base class; override any of the three hooks."""

    def on_train_begin(self, context: FitContext) -> None:
        """Before the first epoch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float], context: FitContext) -> None:
        """After each epoch; ``logs`` holds its metrics and may be extended in place."""

    def on_train_end(self, context: FitContext) -> None:
        """After the last epoch (or the one where training stopped)."""


class EarlyStopping(Callback):
    """Stop when a monitored metric has stopped improving (Keras' names and meanings).

    Arguments:
        monitor: the metric to watch (default ``"val_loss"``).
        min_delta: the smallest change that counts as an improvement (default 0).
        patience: epochs without improvement before stopping (default 0).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (default: ``"max"`` for names containing
            ``acc``, ``"min"`` otherwise).
        restore_best_weights: at the end of training, return the train state of the best
            epoch instead of the last one (default False).
        baseline: a value the metric must beat for the patience counter to reset.
        start_from_epoch: epochs to wait before monitoring starts (default 0).

    After training, ``stopped_epoch`` is the epoch training stopped at (0 if it ran to the
    end), ``best`` the best value and ``best_epoch`` its epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        baseline: float | None = None,
        start_from_epoch: int = 0,
    ) -> None:
        check_int("EarlyStopping", "patience", patience, minimum=0)
        check_int("EarlyStopping", "start_from_epoch", start_from_epoch, minimum=0)
        self._monitor = _Monitor("EarlyStopping", monitor, mode, min_delta)
        self.monitor = monitor
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.baseline = baseline
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, context: FitContext) -> None:
        self._monitor.reset()
        self.wait = 0
        self.stopped_epoch = 0
        self.best_train_state: TrainState | None = None

    @property
    def best(self) -> float:
        return self._monitor.best

    @property
    def best_epoch(self) -> int:
        return self._monitor.best_epoch

    def on_epoch_end(self, epoch: int, logs: dict[str, float], context: FitContext) -> None:
        if epoch < self.start_from_epoch:
            return
        current = self._monitor.value(logs)
        self.wait += 1
        if self._monitor.update(current, epoch):
            if self.restore_best_weights:
                self.best_train_state = context.train_state
            if self.baseline is None or self._monitor.improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            context.stop_training = True

    def on_train_end(self, context: FitContext) -> None:
        if self.restore_best_weights and self.best_train_state is not None:
            context.train_state = self.best_train_state


class ModelCheckpoint(Callback):
    """Save the whole train state (and the run's key) after each epoch with orbax.

    Arguments:
        directory: the checkpoint folder; checkpoint ``k`` holds the state after epoch
            ``k`` (1-based: the number of epochs done), with ``{"epoch": k}`` as metadata.
        monitor, mode: as for :class:`EarlyStopping`; used with ``save_best_only``.
        save_best_only: save only when ``monitor`` improves (default False).
        max_to_keep: how many recent checkpoints to keep (default 3; None keeps all).

    A state that is not finite is never saved: when an epoch's losses (``loss``,
    ``val_loss``, any ``*_loss``) or the train state hold a NaN or inf, that epoch is
    skipped with a ``RuntimeWarning``, so the finite checkpoints already written are not
    rotated out by ``max_to_keep`` in favour of diverged ones. (With ``fit``'s default
    ``on_divergence="stop"`` the callbacks never see a diverged epoch; this matters with
    ``on_divergence="ignore"`` and when the callback is driven by hand.) Checking the
    state costs one reduction over it per saved epoch.

    Resume with ``jaxdl.checkpoint.restore(directory, like=train_state)`` and
    ``fit(..., train_state=restored.tree, initial_epoch=restored.metadata["epoch"])``.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = False,
        max_to_keep: int | None = 3,
    ) -> None:
        if max_to_keep is not None:
            check_int("ModelCheckpoint", "max_to_keep", max_to_keep, minimum=1)
        self.directory = directory
        self.save_best_only = save_best_only
        self.max_to_keep = max_to_keep
        self._monitor = _Monitor("ModelCheckpoint", monitor, mode)

    def on_train_begin(self, context: FitContext) -> None:
        self._monitor.reset()
        self._checkpointer = checkpoint.Checkpointer(self.directory, max_to_keep=self.max_to_keep)

    def on_epoch_end(self, epoch: int, logs: dict[str, float], context: FitContext) -> None:
        problem = _non_finite(logs, context.train_state)
        if problem:
            warnings.warn(
                f"ModelCheckpoint: epoch {epoch} not saved to {self.directory}: {problem}; "
                f"the checkpoints already there (latest: {self._checkpointer.latest_step()}) "
                "are kept.",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        if self.save_best_only and not self._monitor.update(self._monitor.value(logs), epoch):
            return
        self._checkpointer.save(
            epoch + 1, context.train_state, key=context.key, metadata={"epoch": epoch + 1}
        )

    def on_train_end(self, context: FitContext) -> None:
        self._checkpointer.close()


def _non_finite(logs: dict[str, float], train_state: Any) -> str | None:
    """What is not finite about an epoch, in words (None when all is finite): its losses
    first (already on the host), then the state (:func:`state_is_finite`)."""
    bad = sorted(
        name for name, value in logs.items() if is_loss_name(name) and not math.isfinite(value)
    )
    if bad:
        return f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not finite"
    if not bool(state_is_finite(train_state)):
        return "the train state holds NaN or inf values"
    return None


class LearningRateLogger(Callback):
    """Add the learning rate of the next step to each epoch's logs.

    Arguments:
        schedule: the schedule given to the optimizer (a function of the step count), or a
            constant.
        name: the log key (default ``"learning_rate"``).
    """

    def __init__(self, schedule: Callable[[Any], Any] | float, name: str = "learning_rate"):
        self.schedule = schedule
        self.name = name

    def on_epoch_end(self, epoch: int, logs: dict[str, float], context: FitContext) -> None:
        rate = self.schedule(context.train_state.step) if callable(self.schedule) else self.schedule
        logs[self.name] = float(rate)


class _Monitor:
    """Tracks the best value of one metric: Keras' ``mode`` and ``min_delta`` rules."""

    def __init__(self, owner: str, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}.")
        self.owner = owner
        self.monitor = monitor
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.min_delta = abs(min_delta)
        self.reset()

    def reset(self) -> None:
        self.best = -math.inf if self.mode == "max" else math.inf
        self.best_epoch = 0

    def value(self, logs: dict[str, float]) -> float:
        if self.monitor not in logs:
            raise ValueError(
                f"{self.owner} monitors {self.monitor!r}, but the epoch logs only have "
                f"{sorted(logs)}; pass validation_data to fit or monitor another metric."
            )
        return logs[self.monitor]

    def improves(self, value: float, reference: float) -> bool:
        if self.mode == "max":
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def update(self, value: float, epoch: int) -> bool:
        """Record ``value``; True when it is a new best."""
        if not self.improves(value, self.best):
            return False
        self.best, self.best_epoch = value, epoch
        return True

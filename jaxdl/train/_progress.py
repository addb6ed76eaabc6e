"""The progress bar of ``fit``, ``fit_gan`` and ``fit_sweep`` (one tick per epoch, metrics
alongside), and the epoch loop that ``fit`` and ``fit_gan`` share."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
from tqdm.auto import tqdm

from jaxdl.train._callbacks import Callback, FitContext
from jaxdl.train._divergence import DivergenceError, EpochHealth, healthy, locate
from jaxdl.train._history import History


def progress_bar(epochs: Iterable[int], *, enabled: bool, label: str) -> Any:
    """A tqdm bar over ``epochs`` (a no-op iterator when not ``enabled``)."""
    return tqdm(epochs, disable=not enabled, unit="epoch", desc=label, dynamic_ncols=True)


def run_epochs(
    run_epoch: Callable[..., tuple[Any, dict[str, Any], EpochHealth]],
    train_state: Any,
    data: tuple[Any, Any],
    data_key: jax.Array,
    *,
    epochs: int,
    initial_epoch: int,
    callbacks: Sequence[Callback],
    progress: bool | str,
    label: str,
    validate: Callable[[Any], dict[str, Any]] | None = None,
    on_divergence: str = "stop",
) -> tuple[Any, History]:
    """Epochs ``initial_epoch … epochs - 1`` of ``run_epoch(state, x, y, data_key, epoch)
    -> (state, metrics, health)``, with the callbacks, the history and the progress bar
    (``progress`` a label or a bool, ``label`` the default one and the name in messages);
    ``validate(state)`` adds ``val_*`` metrics.

    Divergence (see :mod:`jaxdl.train._divergence`): after each epoch, with its metrics
    and in the same transfer, the flag saying whether the new state is finite is fetched;
    when it is not, or a training loss is not, ``on_divergence`` decides: ``"stop"``
    warns, ``"raise"`` raises :class:`DivergenceError`, both with the state before the
    epoch as the result (the epoch is neither recorded nor shown to the callbacks);
    ``"ignore"`` carries on.

    Whatever happens — an epoch, a callback or the divergence check raising, or a
    ``KeyboardInterrupt`` — the progress bar is closed and every callback whose
    ``on_train_begin`` ran gets its ``on_train_end`` (so :class:`ModelCheckpoint` closes
    its checkpoint manager); the original exception then propagates.
    """
    history = History()
    context = FitContext(train_state=train_state, history=history, key=data_key)
    shown = progress if isinstance(progress, str) else label
    bar = progress_bar(range(initial_epoch, epochs), enabled=bool(progress), label=shown)
    begun: list[Callback] = []
    try:
        for callback in callbacks:
            callback.on_train_begin(context)
            begun.append(callback)
        history.stop_reason = "completed"
        for epoch in bar:
            context.epoch = epoch
            before = context.train_state
            context.train_state, epoch_metrics, health = run_epoch(before, *data, data_key, epoch)
            train_names = list(epoch_metrics)
            if validate is not None:
                epoch_metrics = {
                    **epoch_metrics,
                    **{
                        f"val_{name}": value
                        for name, value in validate(context.train_state).items()
                    },
                }
            # One transfer for all the epoch's numbers rather than one wait per metric.
            values, state_finite = jax.device_get((epoch_metrics, health.state_finite))
            logs = {name: float(value) for name, value in values.items()}
            if on_divergence != "ignore" and not healthy(logs, train_names, state_finite):
                context.train_state = before
                _diverged(
                    label,
                    on_divergence,
                    epoch,
                    initial_epoch,
                    health,
                    logs,
                    bool(state_finite),
                    context,
                )
                break
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs, context)
            history.append(epoch, logs)
            if progress:
                bar.set_postfix({name: f"{value:.4g}" for name, value in logs.items()})
            if context.stop_training:
                history.stop_reason = "stopped"
                break
    except BaseException as error:
        bar.close()
        _end_quietly(begun, context, error)
        raise
    bar.close()
    for callback in begun:
        callback.on_train_end(context)
    return context.train_state, history


def _diverged(
    label: str,
    on_divergence: str,
    epoch: int,
    initial_epoch: int,
    health: EpochHealth,
    logs: dict[str, float],
    state_finite: bool,
    context: FitContext,
) -> None:
    """Record a divergence in the history, then warn or raise (``context.train_state``
    already holds the last finite state)."""
    divergence = locate(
        epoch, health, logs, state_finite, getattr(context.train_state, "step", None)
    )
    history = context.history
    history.divergence = divergence
    history.stop_reason = "diverged"
    context.stop_training = True
    done = "the initial state" if epoch == initial_epoch else f"the state after epoch {epoch - 1}"
    message = (
        f"{label}: training diverged: {divergence.describe()}. Training stopped; {done} "
        "(the last finite one) is the result. Lower the learning rate, clip the gradients "
        "(optim.clip_by_global_norm) or check the loss for log(0) or division by zero."
    )
    if on_divergence == "raise":
        raise DivergenceError(message, divergence, context.train_state, history)
    warnings.warn(message, RuntimeWarning, stacklevel=4)


def _end_quietly(callbacks: Sequence[Callback], context: FitContext, error: BaseException):
    """``on_train_end`` of each callback while ``error`` propagates: a callback failing
    here does not stop the others from ending, nor hide ``error``."""
    for callback in callbacks:
        try:
            callback.on_train_end(context)
        except Exception as secondary:  # reported on the original error, which goes on
            note = (
                f"{type(callback).__name__}.on_train_end also failed: "
                f"{type(secondary).__name__}: {secondary}"
            )
            if hasattr(error, "add_note"):
                error.add_note(note)

"""The progress bar of ``fit``, ``fit_gan`` and ``fit_sweep`` (one tick per epoch, metrics
alongside), and the epoch loop that ``fit`` and ``fit_gan`` share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
from tqdm.auto import tqdm

from jaxdl.train._callbacks import Callback, FitContext
from jaxdl.train._history import History


def progress_bar(epochs: Iterable[int], *, enabled: bool, label: str) -> Any:
    """A tqdm bar over ``epochs`` (a no-op iterator when not ``enabled``)."""
    return tqdm(epochs, disable=not enabled, unit="epoch", desc=label, dynamic_ncols=True)


def run_epochs(
    run_epoch: Callable[..., tuple[Any, dict[str, Any]]],
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
) -> tuple[Any, History]:
    """Epochs ``initial_epoch … epochs - 1`` of ``run_epoch(state, x, y, data_key, epoch)``,
    with the callbacks, the history and the progress bar (``progress`` a label or a bool,
    ``label`` the default one); ``validate(state)`` adds ``val_*`` metrics."""
    history = History()
    context = FitContext(train_state=train_state, history=history, key=data_key)
    for callback in callbacks:
        callback.on_train_begin(context)
    shown = progress if isinstance(progress, str) else label
    bar = progress_bar(range(initial_epoch, epochs), enabled=bool(progress), label=shown)
    for epoch in bar:
        context.epoch = epoch
        context.train_state, epoch_metrics = run_epoch(context.train_state, *data, data_key,
                                                       epoch)
        if validate is not None:
            epoch_metrics = {**epoch_metrics, **{
                f"val_{name}": value for name, value in validate(context.train_state).items()
            }}
        # One transfer for all the epoch's numbers rather than one wait per metric.
        logs = {name: float(value) for name, value in jax.device_get(epoch_metrics).items()}
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs, context)
        history.append(epoch, logs)
        if progress:
            bar.set_postfix({name: f"{value:.4g}" for name, value in logs.items()})
        if context.stop_training:
            break
    bar.close()
    for callback in callbacks:
        callback.on_train_end(context)
    return context.train_state, history

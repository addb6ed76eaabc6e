"""Pure, jittable training and evaluation steps."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

import jax

from jaxdl import nn, optim
from jaxdl.train._metrics import accuracy, is_classification, top_k_accuracy
from jaxdl.train._state import TrainState

__all__ = ["Metric", "make_eval_step", "make_train_step"]

Batch = tuple[Any, Any]
LossFn = Callable[[jax.Array, jax.Array], jax.Array]
MetricFn = Callable[[jax.Array, jax.Array], jax.Array]
Metric = str | MetricFn
"""A metric: ``"accuracy"``, ``"top_k_accuracy"`` with an integer k (``"top_5_accuracy"``),
or a function ``(predictions, targets) -> scalar`` reported under its ``__name__``."""


def make_train_step(
    model: nn.Layer,
    loss_fn: LossFn,
    optimizer: optim.GradientTransformation,
    *,
    metrics: Sequence[Metric] | None = None,
) -> Callable[[TrainState, Batch, jax.Array | None], tuple[TrainState, dict[str, jax.Array]]]:
    """Build ``step(train_state, (x, y), key) -> (train_state, metrics)``.

    One step runs the model in training mode (batch statistics, dropout with ``key``),
    differentiates ``loss_fn(predictions, y)`` with ``jax.grad``, applies one optimizer
    update and returns the updated model state. The step is a pure function: wrap it in
    ``jax.jit`` (the model, loss and optimizer are closed over, the data is an argument).

    Arguments:
        model: a layer (usually :class:`jaxdl.nn.Sequential`).
        loss_fn: ``loss_fn(predictions, targets) -> scalar``, e.g.
            ``jaxdl.losses.softmax_cross_entropy``.
        optimizer: a :class:`jaxdl.optim.GradientTransformation` (or an optax one).
        metrics: extra metrics besides ``loss``; default: ``accuracy`` when the batch looks
            like classification (integer labels, or one-hot targets), none otherwise.

    Returns:
        ``step``; its ``metrics`` dict holds ``loss`` and one entry per metric, computed on
        the training batch before the update.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxdl import losses, nn, optim
        >>> from jaxdl.train import TrainState, make_train_step
        >>> model, opt = nn.Dense(3), optim.sgd(0.1)
        >>> x, y = jnp.ones((4, 2)), jnp.array([0, 1, 2, 0])
        >>> params, state = model.init(jax.random.key(0), x)
        >>> ts = TrainState.create(params=params, state=state, optimizer=opt)
        >>> step = jax.jit(make_train_step(model, losses.softmax_cross_entropy, opt))
        >>> ts, m = step(ts, (x, y), jax.random.key(1))
        >>> sorted(m), int(ts.step)
        (['accuracy', 'loss'], 1)
    """
    metric_fns = resolve_metrics(metrics)

    def step(
        train_state: TrainState, batch: Batch, key: jax.Array | None = None
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        x, y = batch

        def objective(params):
            predictions, new_state = model.apply(
                params, train_state.state, x, key=key, train=True
            )
            return loss_fn(predictions, y), (predictions, new_state)

        (loss, (predictions, new_state)), grads = jax.value_and_grad(objective, has_aux=True)(
            train_state.params
        )
        train_state = train_state.apply_gradients(grads, optimizer, state=new_state)
        return train_state, {"loss": loss, **compute_metrics(metric_fns, predictions, y)}

    return step


def make_eval_step(
    model: nn.Layer, loss_fn: LossFn, *, metrics: Sequence[Metric] | None = None
) -> Callable[[TrainState, Batch], dict[str, jax.Array]]:
    """Build ``eval_step(train_state, (x, y)) -> metrics``: inference mode (running
    batch-norm statistics, no dropout), the batch means of ``loss`` and each metric.

    Arguments are as for :func:`make_train_step`.
    """
    metric_fns = resolve_metrics(metrics)

    def eval_step(train_state: TrainState, batch: Batch) -> dict[str, jax.Array]:
        x, y = batch
        predictions, _ = model.apply(train_state.params, train_state.state, x, train=False)
        return {"loss": loss_fn(predictions, y), **compute_metrics(metric_fns, predictions, y)}

    return eval_step


def resolve_metrics(metrics: Sequence[Metric] | None) -> dict[str, MetricFn] | None:
    """Metric functions by name (``None`` stays None: decided per batch, see below)."""
    if metrics is None:
        return None
    return {_metric_name(m): _metric_fn(m) for m in metrics}


def compute_metrics(
    metric_fns: dict[str, MetricFn] | None, predictions: jax.Array, targets: jax.Array
) -> dict[str, jax.Array]:
    """Evaluate metrics on one batch; with ``None``, accuracy for classification batches
    (decided from the static shapes and dtypes) and nothing otherwise."""
    if metric_fns is None:
        metric_fns = {"accuracy": accuracy} if is_classification(predictions, targets) else {}
    return {name: fn(predictions, targets) for name, fn in metric_fns.items()}


def _metric_name(metric: Metric) -> str:
    return metric if isinstance(metric, str) else metric.__name__


def _metric_fn(metric: Metric) -> MetricFn:
    if callable(metric):
        return metric
    if metric == "accuracy":
        return accuracy
    match = re.fullmatch(r"top_(\d+)_accuracy", metric)
    if match:
        return functools.partial(top_k_accuracy, k=int(match.group(1)))
    raise ValueError(
        f"unknown metric {metric!r}: use 'accuracy', 'top_K_accuracy' (e.g. 'top_5_accuracy') "
        "or a function (predictions, targets) -> scalar."
    )

"""Pure, jittable training and evaluation steps."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.typing import DTypeLike

from jaxdl import nn, optim, parallel
from jaxdl.train._inputs import check_model, check_optimizer, describe
from jaxdl.train._metrics import accuracy, is_classification, top_k_accuracy
from jaxdl.train._state import TrainState

__all__ = ["EvalStep", "Metric", "TrainStep", "make_eval_step", "make_train_step"]

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
    compute_dtype: DTypeLike | None = None,
    mesh: Mesh | None = None,
) -> TrainStep:
    """Build ``step(train_state, (x, y), key) -> (train_state, metrics)``.

    One step runs the model in training mode (batch statistics, dropout with ``key``),
    differentiates ``loss_fn(predictions, y)`` with ``jax.grad``, applies one optimizer
    update and returns the updated model state. The step is a pure function: wrap it in
    ``jax.jit`` (the model, loss and optimizer are closed over, the data is an argument).

    With ``compute_dtype`` (mixed precision, e.g. ``jnp.bfloat16``) the forward and
    backward passes run in that dtype: the floating params and inputs are cast to it on
    the way in, the predictions back to the params' dtype before the loss. The params,
    their gradients, the optimizer state, the model state (batch-norm statistics) and the
    loss keep their own dtype (float32), so the update is computed in full precision.

    Arguments:
        model: a layer (usually :class:`jaxdl.nn.Sequential`).
        loss_fn: ``loss_fn(predictions, targets) -> scalar``, e.g.
            ``jaxdl.losses.softmax_cross_entropy``.
        optimizer: a :class:`jaxdl.optim.GradientTransformation` (or an optax one).
        metrics: extra metrics besides ``loss``; default: ``accuracy`` when the batch looks
            like classification (integer labels, or one-hot targets), none otherwise.
        compute_dtype: the floating dtype of the forward and backward pass (default
            ``None``: the params' own dtype).
        mesh: data parallelism: split each batch over this mesh's ``"data"`` axis
            (:func:`jaxdl.parallel.data_mesh`); the train state should be replicated on
            it (``parallel.put(train_state, parallel.replicated(mesh))``). XLA sums the
            gradients across devices. Default ``None``: no constraint.

    Returns:
        ``step``; its ``metrics`` dict holds ``loss`` and one entry per metric, computed on
        the training batch before the update. Steps built from equal arguments compare and
        hash equal (:class:`TrainStep`), which is what lets :func:`jaxdl.train.fit` reuse
        its compiled programs from one call to the next.

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
    check_model("make_train_step", model)
    check_optimizer("make_train_step", optimizer)
    _check_loss_fn("make_train_step", loss_fn)
    return TrainStep(
        model,
        loss_fn,
        optimizer,
        _metrics_tuple(metrics),
        _compute_dtype(compute_dtype),
        _checked_mesh(mesh),
    )


def make_eval_step(
    model: nn.Layer,
    loss_fn: LossFn,
    *,
    metrics: Sequence[Metric] | None = None,
    compute_dtype: DTypeLike | None = None,
    mesh: Mesh | None = None,
) -> EvalStep:
    """Build ``eval_step(train_state, (x, y)) -> metrics``: inference mode (running
    batch-norm statistics, no dropout), the batch means of ``loss`` and each metric.

    Arguments are as for :func:`make_train_step`; steps built from equal arguments
    compare and hash equal (:class:`EvalStep`).
    """
    check_model("make_eval_step", model)
    _check_loss_fn("make_eval_step", loss_fn)
    return EvalStep(
        model, loss_fn, _metrics_tuple(metrics), _compute_dtype(compute_dtype), _checked_mesh(mesh)
    )


def _check_loss_fn(name: str, loss_fn: Any) -> None:
    if not callable(loss_fn):
        raise TypeError(
            f"{name}: loss must be a function (predictions, targets) -> scalar, e.g. "
            f"losses.softmax_cross_entropy, got {describe(loss_fn)}."
        )


@dataclasses.dataclass(frozen=True)
class TrainStep:
    """The training step of :func:`make_train_step`: a callable holding what it closes over.

    Two steps with equal fields (the same model hyperparameters, the same loss function
    and optimizer objects, metrics and compute dtype) compare and hash equal, so compiled
    programs built from one can be reused for the other.
    """

    model: nn.Layer
    loss_fn: LossFn
    optimizer: optim.GradientTransformation
    metrics: tuple[Metric, ...] | None = None
    compute_dtype: np.dtype | None = None
    mesh: Mesh | None = None

    def __call__(
        self, train_state: TrainState, batch: Batch, key: jax.Array | None = None
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        x, y = _split_over(self.mesh, batch)
        metric_fns = resolve_metrics(self.metrics)

        def objective(params):
            predictions, new_state = _forward(
                self.model, params, train_state.state, x, key, True, self.compute_dtype
            )
            return _scalar_loss(self.loss_fn, predictions, y), (predictions, new_state)

        (loss, (predictions, new_state)), grads = jax.value_and_grad(objective, has_aux=True)(
            train_state.params
        )
        train_state = train_state.apply_gradients(grads, self.optimizer, state=new_state)
        return train_state, {"loss": loss, **compute_metrics(metric_fns, predictions, y)}


@dataclasses.dataclass(frozen=True)
class EvalStep:
    """The evaluation step of :func:`make_eval_step`; equal fields compare and hash equal."""

    model: nn.Layer
    loss_fn: LossFn
    metrics: tuple[Metric, ...] | None = None
    compute_dtype: np.dtype | None = None
    mesh: Mesh | None = None

    def __call__(self, train_state: TrainState, batch: Batch) -> dict[str, jax.Array]:
        x, y = _split_over(self.mesh, batch)
        predictions, _ = _forward(
            self.model, train_state.params, train_state.state, x, None, False, self.compute_dtype
        )
        metric_fns = resolve_metrics(self.metrics)
        return {
            "loss": _scalar_loss(self.loss_fn, predictions, y),
            **compute_metrics(metric_fns, predictions, y),
        }


def _scalar_loss(loss_fn: LossFn, predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """``loss_fn(predictions, targets)``, which must be one number (raised at trace time,
    so before anything compiles)."""
    loss = loss_fn(predictions, targets)
    if np.shape(loss) != ():
        name = getattr(loss_fn, "__name__", type(loss_fn).__name__)
        raise ValueError(
            f"the loss {name} must return a scalar (the batch mean), got shape "
            f"{np.shape(loss)} for predictions of shape {np.shape(predictions)}; reduce it "
            "(jnp.mean) or use the loss's reduction='mean'."
        )
    return loss


def _split_over(mesh: Mesh | None, batch: Batch) -> Batch:
    """The batch, constrained to be split over the mesh's ``"data"`` axis (a batch whose
    size the devices do not divide, such as an evaluation remainder, stays replicated)."""
    if mesh is None:
        return batch
    x, y = jnp.asarray(batch[0]), jnp.asarray(batch[1])
    divides = x.shape[0] % parallel.shard_count(mesh) == 0
    sharding = parallel.batch_sharding(mesh) if divides else parallel.replicated(mesh)
    return jax.lax.with_sharding_constraint((x, y), sharding)


def _checked_mesh(mesh: Any) -> Mesh | None:
    return None if mesh is None else parallel.check_mesh(mesh, "make_train_step")


def _forward(model, params, state, x, key, train, compute_dtype):
    """``model.apply``, in ``compute_dtype`` when one is given: floating params and inputs
    are cast to it, the predictions are cast back to the params' dtype and the new model
    state to the old state's dtypes (batch-norm statistics stay in full precision)."""
    if compute_dtype is None:
        return model.apply(params, state, x, key=key, train=train)
    output_dtype = _floating_dtype_of(params)
    predictions, new_state = model.apply(
        _cast_floating(params, compute_dtype),
        state,
        _cast_floating(x, compute_dtype),
        key=key,
        train=train,
    )
    new_state = jax.tree_util.tree_map(lambda new, old: new.astype(old.dtype), new_state, state)
    return predictions.astype(output_dtype), new_state


def _cast_floating(tree: Any, dtype: np.dtype) -> Any:
    def cast(leaf):
        leaf = jnp.asarray(leaf)
        return leaf.astype(dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf

    return jax.tree_util.tree_map(cast, tree)


def _floating_dtype_of(params: Any) -> np.dtype:
    """The widest floating dtype among the params (float32 when there are none)."""
    dtypes = [jnp.asarray(leaf).dtype for leaf in jax.tree_util.tree_leaves(params)]
    floating = [d for d in dtypes if jnp.issubdtype(d, jnp.floating)]
    return np.dtype(jnp.result_type(*floating)) if floating else np.dtype(jnp.float32)


def _metrics_tuple(metrics: Sequence[Metric] | None) -> tuple[Metric, ...] | None:
    if metrics is None:
        return None
    if isinstance(metrics, str) or not isinstance(metrics, Sequence):
        raise TypeError(
            "metrics must be a list of metrics ('accuracy', 'top_5_accuracy' or functions), "
            f"got {type(metrics).__name__}."
        )
    resolve_metrics(metrics)  # unknown names fail here, before anything is traced
    return tuple(metrics)


def _compute_dtype(dtype: DTypeLike | None) -> np.dtype | None:
    if dtype is None:
        return None
    try:
        dtype = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"compute_dtype must be a floating dtype, got {dtype!r}.") from error
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"compute_dtype must be a floating dtype, got {dtype}.")
    return dtype


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

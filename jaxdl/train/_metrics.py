"""Classification metrics computed from logits (or probabilities) and labels."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl._checks import check_int

__all__ = ["accuracy", "is_classification", "labels_of", "top_k_accuracy"]


def accuracy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    r"""Fraction of samples whose largest logit is the label: :math:`\frac1n\sum [\arg\max z = y]`.

    Arguments:
        logits: ``(..., classes)`` scores (logits or probabilities).
        labels: integer labels ``(...)`` or one-hot/probability targets ``(..., classes)``
            (their argmax is the label).

    >>> accuracy(jnp.array([[2.0, 1.0], [0.0, 3.0]]), jnp.array([0, 0]))
    Array(0.5, dtype=float32)
    """
    return top_k_accuracy(logits, labels, k=1)


def top_k_accuracy(logits: ArrayLike, labels: ArrayLike, k: int = 5) -> jax.Array:
    r"""Fraction of samples whose label is among the ``k`` largest logits.

    Ties count in the label's favour: the label's rank is the number of classes scoring
    strictly higher, and it is a hit when that rank is below ``k``. A row with a NaN
    score anywhere counts as a miss (NaN compares false with everything, so it would
    otherwise rank first, and a diverged network would score 100 %).

    >>> top_k_accuracy(jnp.array([[3.0, 2.0, 1.0]]), jnp.array([1]), k=2)
    Array(1., dtype=float32)
    >>> top_k_accuracy(jnp.array([[jnp.nan, 0.0], [0.0, 1.0]]), jnp.array([0, 1]), k=1)
    Array(0.5, dtype=float32)
    """
    logits = jnp.asarray(logits)
    check_int("top_k_accuracy", "k", k, minimum=1)
    labels = labels_of(logits, labels)
    label_score = jnp.take_along_axis(logits, labels[..., None], axis=-1)
    rank = jnp.sum(logits > label_score, axis=-1)
    hit = (rank < k) & ~jnp.any(jnp.isnan(logits), axis=-1)
    return jnp.mean(hit.astype(jnp.float32))


def is_classification(predictions: jax.ShapeDtypeStruct, targets: jax.ShapeDtypeStruct) -> bool:
    """Whether ``(predictions, targets)`` look like classification: integer labels of the
    predictions' shape without the class axis, or several-class targets of equal shape."""
    pred_shape, target_shape = tuple(predictions.shape), tuple(targets.shape)
    if jnp.issubdtype(targets.dtype, jnp.integer):
        return len(pred_shape) >= 1 and target_shape == pred_shape[:-1]
    return target_shape == pred_shape and len(pred_shape) >= 2 and pred_shape[-1] > 1


def labels_of(logits: jax.Array, labels: ArrayLike) -> jax.Array:
    """Integer labels from integer labels or one-hot/probability targets."""
    labels = jnp.asarray(labels)
    if jnp.issubdtype(labels.dtype, jnp.integer):
        if labels.shape != logits.shape[:-1]:
            raise ValueError(
                f"integer labels must have shape {logits.shape[:-1]} for logits "
                f"{logits.shape}, got {labels.shape}."
            )
        return labels
    if labels.shape != logits.shape:
        raise ValueError(
            f"one-hot targets must have the logits' shape {logits.shape}, got {labels.shape}."
        )
    return jnp.argmax(labels, axis=-1)

r"""Losses and information measures (docs/concepts.md §5).

Every loss takes ``(predictions, targets)`` in that order, like optax, and a keyword
``reduction``:

- element-wise losses (``sae``, ``mae``, ``sse``, ``mse``, ``half_sse``, ``huber``,
  ``binary_cross_entropy``…) compute one value per element; ``"mean"`` averages over every
  element, ``"sum"`` adds them, ``"none"`` returns them with the input's shape;
- distribution losses (``cross_entropy``, ``softmax_cross_entropy``, ``entropy``,
  ``kl_divergence``) sum over the last (class) axis first, then reduce the per-sample
  values over the remaining axes.

``predictions`` and ``targets`` of different shapes raise a ``ValueError`` naming both —
``(n, 1)`` against ``(n,)`` included: no silent broadcasting. Losses "from logits" never
take the logarithm of a probability that may round to 0, so they stay finite for logits of
±1e4 in float32.

Inputs outside a loss's domain raise instead of returning NaN:

- empty arrays raise a ``ValueError`` (their mean would be NaN), and complex inputs a
  ``TypeError`` (``DTypeError``, also a ``ValueError``) — both static facts, checked
  under ``jit`` too;
- probabilities (the inputs of ``cross_entropy``, ``binary_cross_entropy``, ``entropy``,
  ``kl_divergence``, and the targets of every cross-entropy) outside :math:`[0, 1]`, NaN
  included, raise a ``ValueError`` **when the values are concrete**. Under ``jit``,
  ``grad`` or ``vmap`` a traced argument's values are not known when the check runs, so it
  is not checked (a concrete argument next to a traced one still is);
- a ``base`` that is not a positive real number other than 1 raises (``TypeError`` for a
  non-number, ``ValueError`` for a bad value).

Example:
    >>> import jax.numpy as jnp
    >>> from jaxdl import losses
    >>> losses.mse(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0]))
    Array(2., dtype=float32)
    >>> losses.softmax_cross_entropy(jnp.array([[2.0, 0.0]]), jnp.array([0]))  # integer labels
    Array(0.12692805, dtype=float32)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlog1py, xlogy
from jax.typing import ArrayLike

from jaxdl._checks import (
    ArgumentTypeError,
    DTypeError,
    check_reduction,
    check_same_shape,
    dtype_of,
    is_concrete,
    reduce,
    shape_of,
)
from jaxdl._numerics import as_float as _float
from jaxdl._numerics import log_softmax as _log_softmax

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "entropy",
    "half_sse",
    "huber",
    "kl_divergence",
    "mae",
    "mse",
    "rmse",
    "sae",
    "softmax_cross_entropy",
    "sse",
]


# --- regression losses (element-wise) ------------------------------------------------------


def sae(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "sum") -> jax.Array:
    r"""Sum of absolute errors :math:`\sum_i |y_i - t_i|` (``reduction="sum"`` by default)."""
    return _elementwise("sae", jnp.abs, predictions, targets, reduction)


def mae(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> jax.Array:
    r"""Mean absolute error :math:`\frac1k \sum_i |y_i - t_i|`."""
    return _elementwise("mae", jnp.abs, predictions, targets, reduction)


def sse(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "sum") -> jax.Array:
    r"""Sum of squared errors :math:`\sum_i (y_i - t_i)^2` (``reduction="sum"`` by default)."""
    return _elementwise("sse", jnp.square, predictions, targets, reduction)


def mse(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> jax.Array:
    r"""Mean squared error :math:`\frac1k \sum_i (y_i - t_i)^2`.

    Arguments:
        predictions, targets: arrays of the same shape.
        reduction: ``"mean"`` (default) over every element, ``"sum"``, or ``"none"``.
    """
    return _elementwise("mse", jnp.square, predictions, targets, reduction)


def half_sse(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "sum") -> jax.Array:
    r"""Half the sum of squares :math:`\tfrac12 \sum_i (t_i - o_i)^2`, whose gradient is
    :math:`o - t` (the classic backpropagation loss)."""
    return _elementwise("half_sse", lambda e: 0.5 * jnp.square(e), predictions, targets, reduction)


def huber(
    predictions: ArrayLike, targets: ArrayLike, delta: float = 1.0, *, reduction: str = "mean"
) -> jax.Array:
    r"""Huber loss: quadratic for small errors, linear for large ones (optax's ``huber_loss``).

    .. math:: L_\delta(e) = \begin{cases} \tfrac12 e^2 & |e| \le \delta \\
              \delta\,(|e| - \tfrac12 \delta) & |e| > \delta \end{cases}, \qquad
              e = y - t

    Its gradient is the error clipped to :math:`[-\delta, \delta]`, so one large error
    cannot dominate an update (DQN's TD errors, docs/concepts.md §10).

    Arguments:
        predictions, targets: arrays of the same shape.
        delta: :math:`\delta > 0`, where the loss turns from quadratic to linear.
        reduction: ``"mean"`` (default) over every element, ``"sum"``, or ``"none"``.

    >>> huber(jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0]), reduction="none")
    Array([0.125, 2.5  ], dtype=float32)
    """
    delta = _positive_number("huber", "delta", delta)

    def loss(e: jax.Array) -> jax.Array:
        # optax's form: the quadratic part is capped at delta, the rest is linear.
        quadratic = jnp.minimum(jnp.abs(e), delta)
        return 0.5 * jnp.square(quadratic) + delta * (jnp.abs(e) - quadratic)

    return _elementwise("huber", loss, predictions, targets, reduction)


def rmse(predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "mean") -> jax.Array:
    r"""Root mean squared error :math:`\sqrt{\frac1k \sum_i (y_i - t_i)^2}`.

    Arguments:
        reduction: ``"mean"`` (default): the RMSE over every element; ``"none"``: one RMSE
            per sample (over all axes but the first; ``|y - t|`` for 1-D inputs);
            ``"sum"``: the sum of the per-sample values.
    """
    check_reduction("rmse", reduction)
    p, t = _pair("rmse", predictions, targets)
    squared = jnp.square(p - t)
    if reduction == "mean":
        return jnp.sqrt(jnp.mean(squared))
    per_sample = squared.reshape(squared.shape[0], -1) if squared.ndim else squared.reshape(1, 1)
    return reduce(jnp.sqrt(jnp.mean(per_sample, axis=-1)), reduction)


# --- classification losses ----------------------------------------------------------------


def cross_entropy(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    base: float | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Cross-entropy :math:`H(t, y) = -\sum_j t_j \log_b y_j` of predicted probabilities.

    Arguments:
        predictions: probabilities ``y``, shape ``(..., classes)``.
        targets: target distribution ``t`` (one-hot or soft), the same shape.
        base: logarithm base ``b`` (default ``None``: natural log, nats; ``2``: bits).
        reduction: over the per-sample values (the class axis is always summed).

    Terms with :math:`t_j = 0` contribute 0 even where :math:`y_j = 0`. A probability that
    rounded to 0 under a positive target gives ``inf``: when you have logits, use
    :func:`softmax_cross_entropy`, which never forms the probability.

    Checks: empty or complex inputs raise; values of ``predictions`` or ``targets``
    outside :math:`[0, 1]` raise a ``ValueError`` when concrete (a traced argument, under
    ``jit``/``grad``/``vmap``, is not checked).

    >>> cross_entropy(jnp.array([0.25, 0.75]), jnp.array([0.0, 1.0]), base=2)
    Array(0.4150375, dtype=float32)
    """
    check_reduction("cross_entropy", reduction)
    _check_base("cross_entropy", base)
    p, t = _pair("cross_entropy", predictions, targets)
    _check_probabilities("cross_entropy", "predictions", predictions)
    _check_probabilities("cross_entropy", "targets", targets)
    per_sample = -jnp.sum(xlogy(t, p), axis=-1)
    return reduce(_in_base(per_sample, base), reduction)


def softmax_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    base: float | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Softmax cross-entropy from logits (the multiclass negative log-likelihood).

    .. math:: L = -\sum_j t_j \log \sigma(z)_j
               = -\sum_j t_j \Big(z_j - \max z - \log \sum_k e^{z_k - \max z}\Big)

    Arguments:
        logits: ``z``, shape ``(..., classes)``.
        labels: integer class indices of shape ``(...)`` (the logits' shape without the
            class axis), or one-hot/probability targets of the logits' shape.
        base: logarithm base (default natural).
        reduction: over the per-sample values.

    Integer labels must lie in ``[0, classes)``; with concrete values an out-of-range label
    raises ``ValueError`` (under ``jit`` it cannot be checked and selects nothing). Float
    labels of the shape of integer ones raise a ``DTypeError`` (a ``TypeError`` and a
    ``ValueError``) asking for integer labels or one-hot targets; one-hot/probability
    targets outside :math:`[0, 1]` raise a ``ValueError`` when concrete (not when traced).
    Empty or complex logits raise.

    >>> softmax_cross_entropy(jnp.array([[2.0, 0.0]]), jnp.array([0]))
    Array(0.12692805, dtype=float32)
    """
    check_reduction("softmax_cross_entropy", reduction)
    _check_base("softmax_cross_entropy", base)
    _check_real("softmax_cross_entropy", "logits", logits)
    _check_real("softmax_cross_entropy", "labels", labels)
    logits_shape, labels_shape = shape_of(logits), shape_of(labels)
    if len(logits_shape) == 0:
        raise ValueError("softmax_cross_entropy: logits need a class axis, got a scalar.")
    _check_not_empty("softmax_cross_entropy", "logits", logits)
    integer_labels = jnp.issubdtype(dtype_of(labels), jnp.integer)
    if not integer_labels and labels_shape != logits_shape:
        looks_like_indices = labels_shape == logits_shape[:-1]
        error = DTypeError if looks_like_indices else ValueError
        raise error(
            f"softmax_cross_entropy: for logits of shape {logits_shape}, labels must be "
            f"integer class indices of shape {logits_shape[:-1]} or one-hot/probability "
            f"targets of shape {logits_shape}; got {dtype_of(labels)} labels of shape "
            f"{labels_shape}"
            + (
                " — class indices need an integer dtype (labels.astype(int))."
                if looks_like_indices
                else "."
            )
        )
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    log_probs = _log_softmax(logits)
    if integer_labels:
        if labels.shape != logits.shape[:-1]:
            raise ValueError(
                "softmax_cross_entropy: integer labels must have the logits' shape without "
                f"the class axis, {logits.shape[:-1]}; got labels {labels.shape} for logits "
                f"{logits.shape}."
            )
        _check_label_range(labels, logits.shape[-1])
        per_sample = -jnp.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]
    else:
        _check_probabilities("softmax_cross_entropy", "labels", labels)
        per_sample = -jnp.sum(labels * log_probs, axis=-1)
    return reduce(_in_base(per_sample, base), reduction)


def binary_cross_entropy(
    predictions: ArrayLike, targets: ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    r"""Binary cross-entropy :math:`-[t \log y + (1-t)\log(1-y)]` of probabilities ``y``.

    Terms whose target weight is 0 contribute 0, so ``y = t ∈ {0, 1}`` gives exactly 0.
    Prefer :func:`binary_cross_entropy_with_logits` when you have logits. Values of
    ``predictions`` or ``targets`` outside :math:`[0, 1]` raise a ``ValueError`` when
    concrete (not when traced); empty or complex inputs raise.

    >>> binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]))
    Array(0.6931472, dtype=float32)
    """
    check_reduction("binary_cross_entropy", reduction)
    p, t = _pair("binary_cross_entropy", predictions, targets)
    _check_probabilities("binary_cross_entropy", "predictions", predictions)
    _check_probabilities("binary_cross_entropy", "targets", targets)
    return reduce(-(xlogy(t, p) + xlog1py(1 - t, -p)), reduction)


def binary_cross_entropy_with_logits(
    logits: ArrayLike, targets: ArrayLike, *, reduction: str = "mean"
) -> jax.Array:
    r"""Binary cross-entropy of :math:`y = \sigma(z)`, from the logit ``z``.

    .. math:: L = \max(z, 0) - z t + \log(1 + e^{-|z|})

    equal to :math:`-[t \log\sigma(z) + (1-t)\log(1-\sigma(z))]` but finite for any ``z``.
    ``targets`` outside :math:`[0, 1]` raise a ``ValueError`` when concrete (not when
    traced); empty or complex inputs raise.
    """
    check_reduction("binary_cross_entropy_with_logits", reduction)
    z, t = _pair("binary_cross_entropy_with_logits", logits, targets)
    _check_probabilities("binary_cross_entropy_with_logits", "targets", targets)
    return reduce(jnp.maximum(z, 0) - z * t + jnp.log1p(jnp.exp(-jnp.abs(z))), reduction)


# --- information theory -------------------------------------------------------------------


def entropy(
    probabilities: ArrayLike, *, base: float | None = None, reduction: str = "mean"
) -> jax.Array:
    r"""Shannon entropy :math:`H(t) = -\sum_j t_j \log_b t_j` over the last axis
    (:math:`0 \log 0 = 0`).

    Probabilities outside :math:`[0, 1]` raise a ``ValueError`` when concrete (not when
    traced); empty or complex inputs raise.

    >>> entropy(jnp.array([0.5, 0.5]), base=2)
    Array(1., dtype=float32)
    """
    check_reduction("entropy", reduction)
    _check_base("entropy", base)
    _check_real("entropy", "probabilities", probabilities)
    _check_not_empty("entropy", "probabilities", probabilities)
    _check_probabilities("entropy", "probabilities", probabilities)
    t = _float(probabilities)
    return reduce(_in_base(-jnp.sum(xlogy(t, t), axis=-1), base), reduction)


def kl_divergence(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    base: float | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Kullback–Leibler divergence :math:`KL(t \| q) = \sum_j t_j \log_b (t_j / q_j)`.

    ``predictions`` are ``q``, ``targets`` are ``t`` (optax's order). It satisfies
    :math:`H(t, q) = H(t) + KL(t \| q)` with :func:`cross_entropy` and :func:`entropy`.
    Values outside :math:`[0, 1]` raise a ``ValueError`` when concrete (not when traced);
    empty or complex inputs raise.
    """
    check_reduction("kl_divergence", reduction)
    _check_base("kl_divergence", base)
    q, t = _pair("kl_divergence", predictions, targets)
    _check_probabilities("kl_divergence", "predictions", predictions)
    _check_probabilities("kl_divergence", "targets", targets)
    per_sample = jnp.sum(xlogy(t, t) - xlogy(t, q), axis=-1)
    return reduce(_in_base(per_sample, base), reduction)


# --- helpers ------------------------------------------------------------------------------


def _elementwise(name, fn, predictions, targets, reduction) -> jax.Array:
    check_reduction(name, reduction)
    p, t = _pair(name, predictions, targets)
    return reduce(fn(p - t), reduction)


def _pair(name: str, predictions: ArrayLike, targets: ArrayLike) -> tuple[jax.Array, jax.Array]:
    _check_real(name, "predictions", predictions)
    _check_real(name, "targets", targets)
    check_same_shape(name, predictions, targets)
    _check_not_empty(name, "predictions", predictions)
    p = _float(predictions)
    return p, jnp.asarray(targets, dtype=p.dtype)


def _check_real(name: str, argument: str, x: ArrayLike) -> None:
    """A ``DTypeError`` (a ``TypeError`` and a ``ValueError``) for complex inputs, which
    no loss here is defined for (their imaginary part would be dropped or compared)."""
    dtype = dtype_of(x)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise DTypeError(
            f"{name}: {argument} must be real-valued, got dtype {dtype}; pass the real part "
            "or the magnitude explicitly."
        )


def _check_not_empty(name: str, argument: str, x: ArrayLike) -> None:
    """A ``ValueError`` for an array with no elements (its mean would be NaN)."""
    shape = shape_of(x)
    if math.prod(shape) == 0:
        raise ValueError(
            f"{name}: {argument} is empty (shape {shape}); a loss needs at least one element "
            "(the mean of none is NaN)."
        )


def _check_probabilities(name: str, argument: str, x: ArrayLike) -> None:
    """A ``ValueError`` when concrete ``x`` holds a value outside [0, 1] (NaN included);
    traced values are not known at trace time and pass unchecked."""
    if not is_concrete(x):
        return
    values = np.asarray(x)
    if values.dtype == bool:
        return
    inside = (values >= 0) & (values <= 1)
    if not np.all(inside):
        bad = values[~inside].astype(np.float64)
        hint = (
            "; for logits use softmax_cross_entropy or binary_cross_entropy_with_logits"
            if argument == "predictions"
            else ""
        )
        raise ValueError(
            f"{name}: {argument} must lie in [0, 1] (probabilities), got {bad.size} value(s) "
            f"outside it (e.g. {bad.flat[0]:g}; min {np.min(bad):g}, max {np.max(bad):g})"
            f"{hint}."
        )


def _positive_number(name: str, argument: str, value: object) -> float:
    """``value`` as a float, or a ``ValueError`` unless it is a positive finite number."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.number, np.ndarray, jax.Array))
        or np.ndim(value) != 0
    ):
        raise ValueError(f"{name}: {argument} must be a positive number, got {value!r}.")
    if not is_concrete(value):
        return value  # a traced value cannot be checked
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name}: {argument} must be a positive finite number, got {number}.")
    return number


def _check_base(name: str, base: object) -> None:
    """A logarithm base: ``None`` or a positive real number other than 1."""
    if base is None:
        return
    if isinstance(base, (bool, np.bool_)) or not isinstance(base, (int, float, np.number)):
        raise ArgumentTypeError(
            f"{name}: base must be None (natural log) or a positive real number other than 1, "
            f"got {base!r} ({type(base).__name__})."
        )
    if not (math.isfinite(base) and base > 0 and base != 1):
        raise ValueError(
            f"{name}: logarithm base must be a positive finite number other than 1, got {base!r}."
        )


def _in_base(nats: jax.Array, base: float | None) -> jax.Array:
    if base is None:
        return nats
    return nats / math.log(base)


def _check_label_range(labels: jax.Array, classes: int) -> None:
    if is_concrete(labels) and labels.size:
        # NumPy, not jnp: inside a jit trace, jnp.min of a closed-over concrete array is
        # traced and could not be read.
        values = np.asarray(labels)
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= classes:
            raise ValueError(
                f"softmax_cross_entropy: integer labels must lie in [0, {classes}) for "
                f"{classes} classes, got values from {low} to {high}."
            )

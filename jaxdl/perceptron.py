r"""The perceptron (docs/concepts.md §1): a threshold logic unit and its learning rule.

The threshold logic unit (TLU) fires when the weighted sum of its inputs reaches a fixed
threshold :math:`\theta`:

.. math:: y = f(w \cdot x) = \begin{cases} 1 & w \cdot x \ge \theta \\ 0 & \text{else} \end{cases}

It splits input space with the hyperplane :math:`w \cdot x = \theta`, so it is a linear
classifier and cannot represent XOR. To learn the threshold as well, append a constant
input of 1 (a bias input) to every sample; the threshold itself stays fixed.

The perceptron learning rule uses no gradients (the step function has none). Sample by
sample it compares the output :math:`y_j` with the desired output :math:`d_j` and moves
the weights towards the samples it got wrong:

.. math:: w_i \leftarrow w_i + \eta (d_j - y_j) x_{j,i}

After each pass over the ``s`` samples it records the error
:math:`\tfrac1s \sum_j |d_j - y_j|` (the fraction of samples misclassified during the
pass) and stops once a pass's error is at most ``tolerance`` (0: every sample right), or
when ``max_passes`` passes have run.

Example (Boolean AND, docs/concepts.md §1):
    >>> import jax.numpy as jnp
    >>> from jaxdl import perceptron
    >>> x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> result = perceptron.train(x, jnp.array([0, 0, 0, 1]), threshold=1.5)
    >>> result.weights, result.errors, result.converged
    (Array([1., 1.], dtype=float32), Array([0.25, 0.  ], dtype=float32), True)
    >>> perceptron.predict(result.weights, x, threshold=1.5)
    Array([0., 0., 0., 1.], dtype=float32)
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxdl._checks import check_int, floating_dtype, is_concrete, shape_of

__all__ = ["TrainResult", "predict", "train"]


class TrainResult(NamedTuple):
    """What :func:`train` returns (a pytree, so it can leave ``jit`` and ``vmap``).

    Attributes:
        weights: the learned weights, shape ``(n_features,)``.
        errors: the error of each pass run, :math:`\\tfrac1s \\sum_j |d_j - y_j|`, shape
            ``(passes,)``. Under a ``jit``/``vmap`` trace the number of passes is not known
            when the program is built, so ``errors`` then has shape ``(max_passes,)`` and
            holds NaN after the last pass run; ``errors[:passes]`` are the real ones.
        converged: whether the last pass's error is at most ``tolerance`` (a Python bool,
            or a boolean array under a trace).
        passes: the number of passes run, ``1 ≤ passes ≤ max_passes`` (an int, or an int32
            array under a trace).
    """

    weights: jax.Array
    errors: jax.Array
    converged: bool | jax.Array
    passes: int | jax.Array


def predict(weights: ArrayLike, x: ArrayLike, *, threshold: ArrayLike) -> jax.Array:
    r"""The threshold logic unit's output :math:`y = 1` if :math:`w \cdot x \ge \theta`, else 0.

    Arguments:
        weights: :math:`w`, shape ``(n_features,)``.
        x: one sample ``(n_features,)`` or a batch ``(..., n_features)``; booleans and
            integers are accepted.
        threshold: :math:`\theta`, a scalar.

    Returns:
        0.0 or 1.0 for each sample, shape ``x.shape[:-1]``, in the floating dtype of
        :math:`w \cdot x`.

    Example:
        >>> predict(jnp.array([1.0, 1.0]), jnp.array([[1, 0], [1, 1]]), threshold=1.5)
        Array([0., 1.], dtype=float32)
    """
    weights = _as_weights("predict", weights)
    _check_scalar("predict", "threshold", threshold)
    x_shape = shape_of(x)
    if x_shape[-1:] != weights.shape:
        raise ValueError(
            f"predict: x must have shape (..., n_features) with n_features = "
            f"{weights.shape[0]} (the length of weights), got {x_shape}."
        )
    x = jnp.asarray(x)
    return _fire(weights, x.astype(jnp.result_type(floating_dtype(x), weights)), threshold)


def train(
    x: ArrayLike,
    d: ArrayLike,
    *,
    threshold: ArrayLike,
    learning_rate: ArrayLike = 1.0,
    initial_weights: ArrayLike | None = None,
    max_passes: int = 100,
    tolerance: ArrayLike = 0.0,
) -> TrainResult:
    r"""Learn the weights of a threshold logic unit by the perceptron learning rule.

    For each pass over the samples, in order, and each sample :math:`j`:

    .. math::
        y_j = 1 \text{ if } w \cdot x_j \ge \theta \text{ else } 0, \qquad
        w_i \leftarrow w_i + \eta\,(d_j - y_j)\,x_{j,i}

    then the pass's error :math:`\tfrac1s \sum_j |d_j - y_j|` is recorded, with :math:`y_j`
    the outputs seen during the pass. Training stops after the first pass whose error is at
    most ``tolerance``, or after ``max_passes`` passes (XOR never stops early). The whole
    run is one compiled program (``lax.scan`` over samples inside ``lax.while_loop`` over
    passes), so it also runs under ``jit`` and ``vmap`` (e.g. over learning rates).

    Arguments:
        x: samples, shape ``(s, n_features)``; booleans and integers become floats.
        d: desired outputs, 0 or 1, shape ``(s,)``.
        threshold: :math:`\theta`, fixed during training.
        learning_rate: :math:`\eta` (default 1.0, the rule without a learning rate).
        initial_weights: the starting :math:`w`, shape ``(n_features,)`` (default zeros).
        max_passes: the pass budget, at least 1 (default 100).
        tolerance: the error bound that ends training (default 0.0: every sample right).

    Returns:
        A :class:`TrainResult` with ``weights`` ``(n_features,)``, ``errors`` (one per pass
        run), ``converged`` and ``passes``.

    Example (Boolean OR, docs/concepts.md §1):
        >>> x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]])
        >>> result = train(x, jnp.array([0, 1, 1, 1]), threshold=1.0)
        >>> result.weights, result.errors.tolist(), result.passes
        (Array([1., 1.], dtype=float32), [0.5, 0.0], 2)
    """
    _check_arguments(x, d, threshold, learning_rate, tolerance, max_passes)
    x_shape = shape_of(x)
    # NumPy float64 data without x64 enabled computes in float32, like any jnp.asarray.
    dtype = floating_dtype(x)
    if initial_weights is None:
        weights = jnp.zeros(x_shape[1:], dtype)
    else:
        weights = _as_weights("train", initial_weights, n_features=x_shape[1])
        dtype = jnp.result_type(dtype, weights)
    weights, errors, passes, converged = _learn(
        jnp.asarray(x).astype(dtype),
        jnp.asarray(d).astype(dtype),
        weights.astype(dtype),
        *(jnp.asarray(v, dtype) for v in (threshold, learning_rate, tolerance)),
        max_passes=max_passes,
    )
    if is_concrete(passes):
        # Called eagerly: hand back exactly the passes that ran.
        passes = int(passes)
        return TrainResult(weights, errors[:passes], bool(converged), passes)
    return TrainResult(weights, errors, converged, passes)


# --- helpers --------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames="max_passes")
def _learn(
    x: jax.Array,
    d: jax.Array,
    weights: jax.Array,
    threshold: jax.Array,
    learning_rate: jax.Array,
    tolerance: jax.Array,
    *,
    max_passes: int,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """``(weights, errors padded with NaN to (max_passes,), passes run, converged)``."""

    def one_sample(w: jax.Array, sample: tuple[jax.Array, jax.Array]):
        x_j, d_j = sample
        miss = d_j - _fire(w, x_j, threshold)
        return w + learning_rate * miss * x_j, jnp.abs(miss)

    def one_pass(carry):
        w, errors, passes = carry
        w, misses = jax.lax.scan(one_sample, w, (x, d))
        return w, errors.at[passes].set(jnp.mean(misses)), passes + 1

    def keep_going(carry):
        _, errors, passes = carry
        # Before the first pass errors[0] is NaN, and NaN <= tolerance is False.
        last_error = errors[jnp.maximum(passes - 1, 0)]
        return (passes < max_passes) & ~(last_error <= tolerance)

    errors = jnp.full((max_passes,), jnp.nan, weights.dtype)
    weights, errors, passes = jax.lax.while_loop(
        keep_going, one_pass, (weights, errors, jnp.int32(0))
    )
    return weights, errors, passes, errors[passes - 1] <= tolerance


def _check_arguments(
    x: ArrayLike,
    d: ArrayLike,
    threshold: ArrayLike,
    learning_rate: ArrayLike,
    tolerance: ArrayLike,
    max_passes: int,
) -> None:
    check_int("train", "max_passes", max_passes, minimum=1)
    x_shape, d_shape = shape_of(x), shape_of(d)
    if len(x_shape) != 2 or 0 in x_shape:
        raise ValueError(
            f"train: x must have shape (samples, n_features) with at least one of each, "
            f"got {x_shape}."
        )
    if d_shape != x_shape[:1]:
        raise ValueError(
            f"train: d must have shape (samples,) = {x_shape[:1]} to match x {x_shape}, "
            f"got {d_shape}."
        )
    if is_concrete(d) and not np.isin(np.asarray(d), (0, 1)).all():
        raise ValueError(f"train: d must hold desired outputs 0 or 1, got {np.unique(d)}.")
    for name, value in (
        ("threshold", threshold),
        ("learning_rate", learning_rate),
        ("tolerance", tolerance),
    ):
        _check_scalar("train", name, value)
    if is_concrete(learning_rate) and not np.asarray(learning_rate) > 0:
        raise ValueError(f"train: learning_rate must be positive, got {learning_rate!r}.")
    if is_concrete(tolerance) and not np.asarray(tolerance) >= 0:
        raise ValueError(f"train: tolerance must be ≥ 0, got {tolerance!r}.")


def _fire(weights: jax.Array, x: jax.Array, threshold: ArrayLike) -> jax.Array:
    # Compare w·x with θ directly rather than taking step(w·x − θ): with denormals flushed
    # to zero, the difference of two unequal tiny numbers can round to 0 and fire wrongly.
    activation = x @ weights
    return (activation >= threshold).astype(activation.dtype)


def _as_weights(name: str, weights: ArrayLike, n_features: int | None = None) -> jax.Array:
    shape = shape_of(weights)
    if len(shape) != 1 or (n_features is not None and shape != (n_features,)):
        wanted = "(n_features,)" if n_features is None else f"({n_features},) to match x"
        raise ValueError(f"{name}: weights must have shape {wanted}, got {shape}.")
    weights = jnp.asarray(weights)
    return weights.astype(jax.dtypes.canonicalize_dtype(floating_dtype(weights)))


def _check_scalar(name: str, argument: str, value: Any) -> None:
    dtype = getattr(value, "dtype", None)
    dtype = np.asarray(value).dtype if dtype is None else dtype
    if shape_of(value) != () or not np.issubdtype(dtype, np.number):
        raise ValueError(f"{name}: {argument} must be a real number, got {value!r}.")

"""Label encoding and input standardization."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from jaxdl._checks import check_int, dtype_of, floating_dtype, is_concrete, shape_of

__all__ = ["Standardization", "one_hot", "standardize"]


def one_hot(labels: ArrayLike, num_classes: int, dtype: DTypeLike = jnp.float32) -> jax.Array:
    r"""One-hot encode integer class labels: :math:`t_{\dots j} = [\,\text{labels}_\dots = j\,]`.

    Arguments:
        labels: integer class indices in ``[0, num_classes)``, any shape ``(...)``.
        num_classes: the number of classes ``C``, a Python int ``>= 1``.
        dtype: of the result (default ``float32``).

    Returns:
        An array of shape ``(..., C)`` with a single 1 per label.

    Raises:
        ValueError: for non-integer labels (already one-hot?), ``num_classes < 1``, or —
            when the labels are concrete, not traced under ``jit`` — a label outside
            ``[0, num_classes)``, which would otherwise encode as all zeros.

    Example:
        >>> one_hot(jnp.array([0, 2]), 3)
        Array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    num_classes = check_int("one_hot", "num_classes", num_classes, minimum=1)
    if not jnp.issubdtype(dtype_of(labels), jnp.integer):
        raise ValueError(
            f"one_hot: labels must be integer class indices, got dtype {dtype_of(labels)} "
            "(are they one-hot already?)."
        )
    labels = jnp.asarray(labels)
    if is_concrete(labels) and labels.size:
        values = np.asarray(labels)  # not jnp.min: traced inside jit even for a constant
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"one_hot: labels must lie in [0, {num_classes}) for num_classes="
                f"{num_classes}, got values from {low} to {high}."
            )
    return jax.nn.one_hot(labels, num_classes, dtype=dtype)


class Standardization(NamedTuple):
    r"""Statistics fitted by :func:`standardize`: apply them to more data with
    :meth:`apply`, undo them with :meth:`invert`.

    Attributes:
        mean: :math:`\mu`, the training mean, with the data's rank (reduced axes kept with
            size 1), so it broadcasts against the data.
        std: :math:`\sigma`, the training standard deviation, where it is below ``eps``
            replaced by 1 (see :func:`standardize`).

    A ``NamedTuple``, hence a pytree: it passes through ``jit`` and saves with the other
    training state.
    """

    mean: Any
    std: Any

    def apply(self, x: ArrayLike) -> Any:
        r""":math:`(x - \mu) / \sigma` for ``x`` of the training data's shape but for the
        averaged axes (a ``ValueError`` otherwise, rather than silent broadcasting)."""
        fitted, given = shape_of(self.mean), shape_of(x)
        if len(given) != len(fitted) or any(f not in (1, g) for f, g in zip(fitted, given)):
            raise ValueError(
                f"Standardization.apply: statistics of shape {fitted} (1 where averaged) do "
                f"not fit an array of shape {given}; it must have the training data's shape "
                "but for the averaged axes."
            )
        return (x - self.mean) / self.std

    def invert(self, z: ArrayLike) -> Any:
        r""":math:`z \sigma + \mu`, the inverse of :meth:`apply`."""
        return z * self.std + self.mean


def standardize(
    x_train: ArrayLike,
    *others: ArrayLike,
    axis: int | tuple[int, ...] | None = 0,
    eps: float = 1e-7,
) -> tuple[Any, ...]:
    r"""Standardize inputs with statistics fitted on the training data only.

    .. math:: \hat x = \frac{x - \mu}{\sigma}, \qquad
              \mu = \operatorname{mean}(x_\text{train}), \quad
              \sigma = \operatorname{std}(x_\text{train})

    over ``axis``. Where :math:`\sigma < \text{eps}` — a pixel that is constant in the
    training set, like MNIST's corners — :math:`\sigma` is replaced by 1, as scikit-learn's
    ``StandardScaler`` does: the feature is centred but not scaled, so it neither divides
    by zero nor blows up a test value that differs from the constant by ``1 / eps``.

    Arguments:
        x_train: the training inputs the statistics are fitted on, shape ``(n, ...)``.
        *others: more arrays (validation, test) standardized with the same statistics.
        axis: the axes to average over (default ``0``: one mean and std per feature or
            pixel; ``None``: one scalar mean and std for everything).
        eps: the smallest standard deviation used as it is (default ``1e-7``).

    Returns:
        ``(x_train_std, *others_std, stats)``: the standardized arrays in the order given,
        in their floating dtype (float32 for integer inputs), then the
        :class:`Standardization` to reuse with ``stats.apply(x)``. NumPy inputs give
        NumPy outputs; JAX inputs JAX outputs (jittable).

    Example:
        >>> import numpy as np
        >>> x_train, x_test = np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 6.0]])
        >>> x_train_std, x_test_std, stats = standardize(x_train, x_test)
        >>> x_train_std.tolist(), x_test_std.tolist()  # second feature constant: std -> 1
        ([[-1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0]])
        >>> stats.mean.tolist(), stats.std.tolist()
        ([[2.0, 5.0]], [[1.0, 1.0]])
    """
    if not eps >= 0:
        raise ValueError(f"standardize: eps must be >= 0, got {eps!r}.")
    arrays = (x_train, *others)
    xp = np if all(isinstance(array, np.ndarray) for array in arrays) else jnp
    arrays = tuple(xp.asarray(array, dtype=floating_dtype(array)) for array in arrays)
    if arrays[0].size == 0:
        raise ValueError(f"standardize: x_train is empty, shape {arrays[0].shape}.")
    mean = xp.mean(arrays[0], axis=axis, keepdims=True)
    std = xp.std(arrays[0], axis=axis, keepdims=True)
    stats = Standardization(mean, xp.where(std < eps, xp.ones_like(std), std))
    return (*(stats.apply(array) for array in arrays), stats)

"""Shuffling, splitting and mini-batching of ``(x, y)`` arrays, on the host or the device.

Two paths through an epoch:

- **streaming** (:func:`batches`): a Python iterator of ``(x_batch, y_batch)`` slices of
  the arrays where they live, NumPy arrays staying on the host; for data that does not fit
  on the device, or a Python training loop;
- **compiled** (:func:`epoch_batches`): the whole epoch reshaped on the device to
  ``(num_batches, batch_size, ...)``, ready for a ``lax.scan`` over batches inside one
  ``jit``.

Both draw the order from ``jax.random.permutation(key, n)``, so the same key gives the
same batches on either path. Every function checks its arguments before doing any work and
raises a ``ValueError`` that names the argument and what came.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxdl._checks import check_int, is_concrete, shape_of

__all__ = ["batches", "epoch_batches", "num_batches", "shuffle", "train_val_split"]


def shuffle(key: jax.Array, *arrays: ArrayLike) -> tuple[Any, ...]:
    """Shuffle arrays along their first axis, all with the same permutation.

    Arguments:
        key: a JAX PRNG key (``jax.random.key`` or ``jax.random.PRNGKey``); the same key
            gives the same order, ``jax.random.permutation(key, n)``.
        *arrays: one or more arrays with the same leading length ``n``.

    Returns:
        A tuple of the shuffled arrays, one per argument (a 1-tuple for one array), each of
        its input's type: NumPy arrays stay NumPy arrays on the host unless the key is
        traced, as under ``jit``, where all come back as JAX arrays.

    Example:
        >>> import jax, numpy as np
        >>> x, y = np.arange(5) * 10, np.arange(5)
        >>> xs, ys = shuffle(jax.random.key(0), x, y)
        >>> bool((xs == ys * 10).all())  # pairs stay together
        True
        >>> sorted(ys.tolist())
        [0, 1, 2, 3, 4]
    """
    if not arrays:
        raise ValueError("shuffle: give at least one array after the key.")
    named = {f"arrays[{i}]": _as_array(array) for i, array in enumerate(arrays)}
    order = jax.random.permutation(key, _common_length("shuffle", named))
    return tuple(_take(array, order) for array in named.values())


def train_val_split(
    x: ArrayLike,
    y: ArrayLike,
    *,
    key: jax.Array,
    fraction: float | None = None,
    size: int | None = None,
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Split ``(x, y)`` at random into a training and a validation part.

    Arguments:
        x, y: arrays with the same leading length ``n``.
        key: a JAX PRNG key; the split is ``jax.random.permutation(key, n)``, whose first
            ``size`` indices form the validation part, so the same key gives the same split.
        fraction: the validation share of the samples, in ``(0, 1)``; ``size`` is then
            ``round(n * fraction)``.
        size: the number of validation samples. Give exactly one of ``fraction`` and
            ``size``; both parts must end up non-empty.

    Returns:
        ``((x_train, y_train), (x_val, y_val))``, arrays of the inputs' types, in the
        shuffled order; the pair shapes ``fit(..., train, validation_data=val)`` takes.

    Example:
        >>> import jax, numpy as np
        >>> x, y = np.zeros((10, 3)), np.arange(10)
        >>> (x_train, y_train), (x_val, y_val) = train_val_split(
        ...     x, y, key=jax.random.key(0), fraction=0.2)
        >>> x_train.shape, x_val.shape
        ((8, 3), (2, 3))
        >>> sorted(y_train.tolist() + y_val.tolist()) == list(range(10))
        True
    """
    x, y = _as_array(x), _as_array(y)
    n = _common_length("train_val_split", {"x": x, "y": y})
    size = _validation_size(n, fraction, size)
    order = jax.random.permutation(key, n)
    train, validation = order[size:], order[:size]
    return (_take(x, train), _take(y, train)), (_take(x, validation), _take(y, validation))


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """The number of batches an epoch of ``n`` samples gives: ``ceil(n / batch_size)``, or
    ``n // batch_size`` with ``drop_last=True``.

    Example:
        >>> num_batches(10, 4), num_batches(10, 4, drop_last=True)
        (3, 2)
    """
    _check_batch_size("num_batches", batch_size)
    n = check_int("num_batches", "n", n, minimum=0)
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def batches(
    x: ArrayLike,
    y: ArrayLike,
    batch_size: int,
    *,
    key: jax.Array | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[Any, Any]]:
    """Iterate over one epoch of ``(x_batch, y_batch)`` mini-batches (the streaming path).

    Arguments:
        x, y: arrays with the same leading length ``n`` (NumPy arrays stay on the host:
            only the batches you use need to reach the device).
        batch_size: samples per batch, ``>= 1``.
        key: a JAX PRNG key to shuffle with (the order is ``jax.random.permutation(key,
            n)``, as in :func:`shuffle` and :func:`epoch_batches`); ``None`` (default)
            keeps the order of the data.
        drop_last: drop the last, smaller batch when ``batch_size`` does not divide ``n``
            (default ``False``: keep it).

    Returns:
        An iterator of :func:`num_batches` ``(x_batch, y_batch)`` pairs of the inputs'
        types; every sample appears exactly once per epoch (but for the dropped remainder).
        The arguments are checked when ``batches`` is called, not at the first ``next``.

    Example:
        >>> import numpy as np
        >>> x, y = np.arange(10).reshape(5, 2), np.arange(5)
        >>> [yb.tolist() for _, yb in batches(x, y, 2)]
        [[0, 1], [2, 3], [4]]
    """
    x, y = _as_array(x), _as_array(y)
    n = _common_length("batches", {"x": x, "y": y})
    count = _batch_count("batches", n, batch_size, drop_last)
    order = None if key is None else np.asarray(jax.random.permutation(key, n))
    return _iterate(x, y, batch_size, count, order)


def epoch_batches(
    key: jax.Array, x: ArrayLike, y: ArrayLike, batch_size: int
) -> tuple[jax.Array, jax.Array]:
    """Shuffle one epoch on the device and cut it into equal batches (the compiled path).

    The order is ``jax.random.permutation(key, n)``; the last ``n % batch_size`` samples
    of that order are **dropped**, so that every batch has the same shape and a
    ``lax.scan`` over them compiles once. A different key each epoch drops different
    samples, so over epochs every sample is used.

    Arguments:
        key: a JAX PRNG key.
        x, y: arrays with the same leading length ``n >= batch_size``.
        batch_size: samples per batch, a Python int (static under ``jit``).

    Returns:
        ``(x_batches, y_batches)``, JAX arrays of shapes ``(n // batch_size, batch_size,
        *x.shape[1:])`` and ``(n // batch_size, batch_size, *y.shape[1:])``.

    Jittable with ``batch_size`` static, e.g. ``jax.jit(epoch_batches, static_argnums=3)``;
    pass the data as arguments rather than closing over it, so that it is not baked into
    the program as a constant.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> x, y = jnp.ones((10, 3)), jnp.arange(10)
        >>> xb, yb = epoch_batches(jax.random.key(0), x, y, 4)
        >>> xb.shape, yb.shape  # 2 batches of 4; 2 samples dropped this epoch
        ((2, 4, 3), (2, 4))
    """
    x, y = _as_array(x), _as_array(y)
    n = _common_length("epoch_batches", {"x": x, "y": y})
    count = _batch_count("epoch_batches", n, batch_size, drop_last=True)
    order = jax.random.permutation(key, n)[: count * batch_size]
    return tuple(
        jnp.take(jnp.asarray(array), order, axis=0).reshape(count, batch_size, *array.shape[1:])
        for array in (x, y)
    )


# --- helpers ------------------------------------------------------------------------------


def _iterate(x, y, batch_size, count, order) -> Iterator[tuple[Any, Any]]:
    for start in range(0, count * batch_size, batch_size):
        if order is None:
            rows = slice(start, start + batch_size)
            yield x[rows], y[rows]
        else:
            rows = order[start : start + batch_size]
            yield _take(x, rows), _take(y, rows)


def _as_array(array: Any) -> Any:
    """Arrays (NumPy, JAX, tracers) as they are; lists and scalars as NumPy arrays."""
    return array if hasattr(array, "shape") and hasattr(array, "dtype") else np.asarray(array)


def _take(array: Any, indices: Any) -> Any:
    """``array[indices]`` along the first axis, keeping a NumPy array on the host when the
    indices are concrete."""
    if isinstance(array, np.ndarray) and is_concrete(indices):
        return array[np.asarray(indices)]
    return jnp.take(jnp.asarray(array), indices, axis=0)


def _common_length(name: str, arrays: dict[str, Any]) -> int:
    """The shared leading length of ``arrays`` (by argument name); at least one sample."""
    shapes = {label: shape_of(array) for label, array in arrays.items()}
    for label, shape in shapes.items():
        if not shape:
            raise ValueError(f"{name}: {label} needs a leading sample axis, got a scalar.")
    if len({shape[0] for shape in shapes.values()}) > 1:
        described = ", ".join(f"{label} {shape}" for label, shape in shapes.items())
        raise ValueError(
            f"{name}: the arrays must have the same number of samples (first axis), got "
            f"{described}."
        )
    n = next(iter(shapes.values()))[0]
    if n == 0:
        raise ValueError(
            f"{name}: no samples: the arrays are empty, shapes {list(shapes.values())}."
        )
    return n


def _check_batch_size(name: str, batch_size: Any) -> None:
    check_int(name, "batch_size", batch_size, minimum=1)


def _batch_count(name: str, n: int, batch_size: int, drop_last: bool) -> int:
    """:func:`num_batches`, refusing an epoch that would give no batch at all."""
    _check_batch_size(name, batch_size)
    count = num_batches(n, batch_size, drop_last)
    if count == 0:
        raise ValueError(
            f"{name}: {n} samples make no full batch of batch_size={batch_size}, and the "
            "remainder is dropped; use a batch_size of at most the number of samples."
        )
    return count


def _validation_size(n: int, fraction: float | None, size: int | None) -> int:
    if (fraction is None) == (size is None):
        raise ValueError(
            f"train_val_split: give exactly one of fraction= and size=, got fraction={fraction!r}"
            f" and size={size!r}."
        )
    if fraction is not None:
        if not 0 < fraction < 1:
            raise ValueError(f"train_val_split: fraction must lie in (0, 1), got {fraction!r}.")
        size = round(n * fraction)
    size = check_int("train_val_split", "size", size)
    if not 0 < size < n:
        raise ValueError(
            f"train_val_split: the validation size must be an integer in [1, {n - 1}] for "
            f"{n} samples, so that neither part is empty; got {size!r}."
        )
    return int(size)

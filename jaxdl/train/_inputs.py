"""Checks of ``fit``'s and ``fit_sweep``'s inputs, run before anything compiles."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import nn, parallel


def unpack(name: str, data: Any, split: str = "train") -> tuple[Any, Any]:
    if hasattr(data, f"x_{split}") and hasattr(data, f"y_{split}"):
        data = (getattr(data, f"x_{split}"), getattr(data, f"y_{split}"))
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(
            f"{name} must be a pair (x, y) of arrays or a dataset with x_{split}/y_{split}, "
            f"got {type(data).__name__}."
        )
    x, y = data
    as_array = (lambda a: a) if isinstance(x, jax.Array) else np.asarray
    return as_array(x), (y if isinstance(y, jax.Array) else np.asarray(y))


def checked_data(
    model: nn.Layer, train_data: Any, validation_data: Any
) -> tuple[Any, Any, tuple[Any, Any] | None]:
    """``(x, y, validation)`` unpacked from ``train_data``/``validation_data`` and checked
    against each other and the model's output (see :func:`check_arrays`)."""
    x, y = unpack("train_data", train_data)
    output = output_spec(model, x)
    check_arrays("train_data", x, y, output)
    validation = None
    if validation_data is not None:
        validation = unpack("validation_data", validation_data)
        check_arrays("validation_data", *validation, output, like=(x, y))
    return x, y, validation


def check_run(epochs: Any, batch_size: Any, initial_epoch: Any, eval_batch_size: Any) -> None:
    for name, value, low in [("epochs", epochs, 0), ("batch_size", batch_size, 1),
                             ("initial_epoch", initial_epoch, 0)]:
        if not is_int(value) or value < low:
            raise ValueError(f"{name} must be an int ≥ {low}, got {value!r}.")
    if eval_batch_size is not None and (not is_int(eval_batch_size) or eval_batch_size < 1):
        raise ValueError(f"eval_batch_size must be an int ≥ 1, got {eval_batch_size!r}.")


def check_key(key: Any) -> None:
    is_key = isinstance(key, jax.Array) and (
        jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) or key.dtype == jnp.uint32
    )
    if not is_key:
        raise TypeError(
            f"key must be a JAX random key (jax.random.key(seed)), got {type(key).__name__}."
        )


def output_spec(model: nn.Layer, x: Any) -> jax.ShapeDtypeStruct:
    """The model's output shape for one sample of ``x``, by shape inference (no compile;
    remembered per model and sample shape, as the compiled programs are)."""
    sample_shape, dtype = tuple(np.shape(x)[1:]), np.dtype(x.dtype)
    try:
        hash(model)
    except TypeError:  # a model that cannot be hashed is inferred every time
        return _output_spec.__wrapped__(model, sample_shape, dtype)
    return _output_spec(model, sample_shape, dtype)


@functools.lru_cache(maxsize=128)
def _output_spec(model: nn.Layer, sample_shape: tuple, dtype: np.dtype) -> jax.ShapeDtypeStruct:
    spec = jax.ShapeDtypeStruct((1, *sample_shape), dtype)
    forward = lambda k, v: model.apply(*model.init(k, v), v)[0]  # noqa: E731
    return jax.eval_shape(forward, jax.random.key(0), spec)


def check_arrays(
    name: str,
    x: Any,
    y: Any,
    output: jax.ShapeDtypeStruct,
    like: tuple[Any, Any] | None = None,
) -> None:
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        raise ValueError(f"{name}: x and y need a leading sample axis, got shapes "
                         f"{np.shape(x)} and {np.shape(y)}.")
    if len(x) != len(y):
        raise ValueError(f"{name}: x has {len(x)} samples but y has {len(y)}.")
    if len(x) == 0:
        raise ValueError(f"{name} is empty (0 samples).")
    if like is not None:
        for what, a, b in (("x", x, like[0]), ("y", y, like[1])):
            if np.shape(a)[1:] != np.shape(b)[1:]:
                raise ValueError(
                    f"{name}: {what} has per-sample shape {np.shape(a)[1:]}, but the training "
                    f"{what} has {np.shape(b)[1:]}."
                )
    for what, a in (("x", x), ("y", y)):
        if jnp.issubdtype(a.dtype, jnp.inexact) and not bool(_xp(a).isfinite(a).all()):
            raise ValueError(f"{name}: {what} contains NaN or inf values.")
    # Integer labels index the model's last output axis: check them against its size.
    if jnp.issubdtype(y.dtype, jnp.integer) and np.shape(y)[1:] == output.shape[1:-1]:
        classes = output.shape[-1]
        low, high = int(_xp(y).min(y)), int(_xp(y).max(y))
        if low < 0 or high >= classes:
            raise ValueError(
                f"{name}: labels must lie in [0, {classes}) for a model with {classes} "
                f"outputs, got values from {low} to {high}."
            )


def check_parallel(mesh: Any, size: int, name: str, what: str = "batch_size") -> int | None:
    """The number of devices of ``mesh`` (None without one), after checking that it is a
    mesh with a ``"data"`` axis whose devices divide ``size`` (the batch, or the runs)."""
    if mesh is None:
        return None
    devices = parallel.shard_count(parallel.check_mesh(mesh, name))
    if size % devices:
        raise ValueError(
            f"{name}: {what} {size} is not a multiple of the mesh's {devices} devices; "
            f"use a {what} divisible by {devices}."
        )
    return devices


def _xp(a: Any) -> Any:
    return jnp if isinstance(a, jax.Array) else np


def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

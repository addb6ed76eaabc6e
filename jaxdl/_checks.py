"""Private helpers for argument checks shared by the leaf modules.

Shapes and dtypes are static under ``jit``, so every check here runs at trace time and
raises a plain Python ``ValueError``/``TypeError`` instead of an XLA error.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

REDUCTIONS = ("mean", "sum", "none")


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of an array-like, a ``jax.ShapeDtypeStruct`` or a Python scalar."""
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else np.shape(x)


def dtype_of(x: Any) -> np.dtype:
    """The dtype of an array-like or a ``jax.ShapeDtypeStruct``."""
    dtype = getattr(x, "dtype", None)
    return np.dtype(dtype) if dtype is not None else jnp.asarray(x).dtype


class DTypeError(ValueError, TypeError):
    """An input of the wrong dtype. It is a ``ValueError`` as the layer contract says, and a
    ``TypeError`` as Python's convention for a wrong type says, so either ``except`` works."""


def floating_dtype(x: Any) -> np.dtype:
    """``x``'s floating dtype as JAX will hold it (float64 becomes float32 unless x64 is
    enabled), or JAX's default float for integer inputs."""
    dtype = dtype_of(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = np.dtype(float)
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def check_same_shape(name: str, predictions: Any, targets: Any) -> None:
    """Raise a ``ValueError`` naming both shapes unless they are equal (no broadcasting)."""
    p, t = shape_of(predictions), shape_of(targets)
    if p != t:
        raise ValueError(
            f"{name}: predictions and targets must have the same shape, got predictions "
            f"{p} and targets {t}; reshape one of them (no silent broadcasting)."
        )


def check_reduction(name: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}.")


def reduce(values: jax.Array, reduction: str) -> jax.Array:
    """Reduce per-element (or per-sample) values by ``"mean"``, ``"sum"`` or ``"none"``."""
    if reduction == "mean":
        return jnp.mean(values)
    if reduction == "sum":
        return jnp.sum(values)
    return values


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds values (not a tracer inside ``jit``/``grad``/``vmap``)."""
    return not isinstance(x, jax.core.Tracer)


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type. It is a ``TypeError`` as Python's convention says, and
    a ``ValueError`` as the older checks of this package raised, so either ``except`` works."""


def is_int(value: Any) -> bool:
    """True for Python and NumPy integers (``3``, ``np.int64(3)``); False for bools, floats,
    0-d arrays and everything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_int(name: str, argument: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` as a Python ``int``.

    Accepts Python and NumPy integers; raises :class:`ArgumentTypeError` (a ``TypeError``
    and a ``ValueError``) for bools, floats, strings and everything else, and a
    ``ValueError`` when ``value < minimum``. ``name`` is the function or layer, ``argument``
    the parameter, so the message reads ``"Dense: features must be an int ≥ 1, got 2.5."``.
    """
    bound = "" if minimum is None else f" ≥ {minimum}"
    if not is_int(value):
        raise ArgumentTypeError(
            f"{name}: {argument} must be an int{bound}, got {value!r} ({type(value).__name__})."
        )
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: {argument} must be an int{bound}, got {value!r}.")
    return int(value)

"""Private argument checks of the ``jaxdl.rl`` functions.

Each runs in Python at trace time on static values (ints, floats, shapes) and raises a
``ValueError``/``TypeError`` that names the function, the argument, what was expected and
what came. A traced value (inside ``jit``) cannot be checked and passes through.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import check_int, is_concrete


def check_positive_int(name: str, argument: str, value: Any) -> int:
    """``value`` as an int: :func:`jaxdl._checks.check_int` with ``minimum=1`` (an
    ``ArgumentTypeError``, both a ``TypeError`` and a ``ValueError``, for a non-integer; a
    ``ValueError`` below 1)."""
    return check_int(name, argument, value, minimum=1)


def check_unit_interval(name: str, argument: str, value: Any) -> Any:
    """``value`` unchanged, or a ``ValueError`` unless every element lies in [0, 1] (and
    it is a number or an array of numbers); traced values pass unchecked."""
    if isinstance(value, bool) or isinstance(value, (str, bytes)) or value is None:
        raise ValueError(f"{name}: {argument} must be a number in [0, 1], got {value!r}.")
    if not is_concrete(value):
        return value
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {argument} must be a number in [0, 1], got {value!r}.") from None
    if array.size and not (np.all(array >= 0.0) and np.all(array <= 1.0)):
        shown = float(array) if array.ndim == 0 else f"values from {array.min()} to {array.max()}"
        raise ValueError(f"{name}: {argument} must lie in [0, 1], got {shown}.")
    return value


def check_key(name: str, key: Any) -> None:
    """A ``TypeError`` unless ``key`` is a JAX random key (new-style or raw uint32)."""
    is_key = isinstance(key, jax.Array) and (
        jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) or key.dtype == jnp.uint32
    )
    if not is_key:
        raise TypeError(
            f"{name}: key must be a JAX random key (jax.random.key(seed)), got "
            f"{type(key).__name__}."
        )

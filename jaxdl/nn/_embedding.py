"""Embedding: a trainable lookup table from integer ids to vectors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from jaxdl import initializers
from jaxdl._checks import DTypeError, check_int, dtype_of, is_concrete, shape_of
from jaxdl.nn._base import (
    Layer,
    Params,
    State,
    check_input,
    check_variable_names,
    check_variable_shapes,
    param_dtype,
)

__all__ = ["Embedding"]


@dataclasses.dataclass(frozen=True, repr=False)
class Embedding(Layer):
    r"""Look up a learned vector for each integer id: :math:`y_{\dots} = W_{x_{\dots}}`.

    .. math:: y_{n, \dots, f} = W_{x_{n, \dots},\, f}

    equivalent to multiplying the one-hot encoding of ``x`` by :math:`W`, without building it.

    Arguments:
        num_embeddings: the number of ids ``V``; valid ids are ``0 ≤ x < V``.
        features: the vector size ``F``.
        embedding_init: initializer of ``w`` (default :math:`\mathcal N(0, 1)`, as PyTorch).
        dtype: dtype of ``w`` (default: the default float, float32 unless x64).

    Params: ``{"w": (V, F)}`` (a weight in :func:`summary`). Input integer ids of any shape
    ``(batch, ...)``; output ``(batch, ..., F)``. A float input raises a
    ``DTypeError`` (both a ``ValueError`` and a ``TypeError``).

    Out-of-range ids: when ``x`` holds concrete values (outside ``jit``), an id outside
    ``[0, V)`` raises a ``ValueError``. Under ``jit``/``vmap``/``grad`` the values are not
    known when the check would run; there every out-of-range id — negative ones included —
    gives a row of NaN (``jnp.take(..., mode="fill")``, negatives mapped out of range
    first), so the mistake surfaces in the loss. ``jnp.take``'s ``mode="clip"`` would
    instead clamp to the nearest valid row (and NumPy-style indexing wraps negatives),
    silently reading a wrong embedding.

    Example:
        >>> import jax
        >>> layer = Embedding(num_embeddings=1000, features=16)
        >>> ids = jax.numpy.array([[4, 8, 15], [16, 23, 42]])
        >>> params, state = layer.init(jax.random.key(0), ids)
        >>> y, _ = layer.apply(params, state, ids)
        >>> y.shape, bool((y[0, 1] == params["w"][8]).all())
        ((2, 3, 16), True)
    """

    num_embeddings: int
    features: int
    embedding_init: Callable[..., jax.Array] = initializers.normal(1.0)
    dtype: DTypeLike | None = None

    def __post_init__(self) -> None:
        for name in ("num_embeddings", "features"):
            value = check_int("Embedding", name, getattr(self, name), minimum=1)
            object.__setattr__(self, name, value)

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        self._check(x)
        shape = (self.num_embeddings, self.features)
        return {"w": self.embedding_init(key, shape, param_dtype(self, x))}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        self._check(x)
        expected = check_variable_names(self, params, state, x)
        check_variable_shapes(self, params, state, x, expected)
        w = jnp.asarray(params["w"])
        if is_concrete(x):
            self._check_range(np.asarray(x))
        ids = jnp.asarray(x)
        if ids.dtype.itemsize < 4:  # so that num_embeddings fits in the ids' dtype
            ids = ids.astype(jnp.int32)
        ids = jnp.where(ids < 0, self.num_embeddings, ids)
        return jnp.take(w, ids, axis=0, mode="fill"), state

    def _check(self, x: Any) -> None:
        dtype = dtype_of(x)
        if not jnp.issubdtype(dtype, jnp.integer):
            raise DTypeError(f"{self!r}: expected integer ids, got dtype {dtype}.")
        if shape_of(x) == ():
            check_input(self, x, ["batch"])

    def _check_range(self, ids: np.ndarray) -> None:
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            bad = ids[(ids < 0) | (ids >= self.num_embeddings)]
            raise ValueError(
                f"{self!r}: ids must lie in [0, {self.num_embeddings}), got {bad.size} outside "
                f"it (e.g. {bad.flat[0]}; min {ids.min()}, max {ids.max()})."
            )

"""Fully connected layer."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from jaxdl import initializers
from jaxdl._checks import check_int
from jaxdl.nn._base import (
    Layer,
    Params,
    State,
    check_floating,
    check_input,
    check_variable_names,
    check_variable_shapes,
    param_dtype,
)

__all__ = ["Dense"]


@dataclasses.dataclass(frozen=True, repr=False)
class Dense(Layer):
    r"""Fully connected layer :math:`y = f(x W + b)`.

    Arguments:
        features: output size ``out``.
        use_bias: add ``b`` (default True).
        kernel_init: initializer of ``w`` (default Glorot uniform, as Keras).
        bias_init: initializer of ``b`` (default zeros).
        activation: ``f``, applied after the affine map (default None: identity).
        dtype: dtype of the params (default: the input's floating dtype).

    Params: ``{"w": (in, out), "b": (out,)}``. Input ``(batch, ..., in)``, output
    ``(batch, ..., out)``: the map acts on the last axis.

    Example:
        >>> import jax
        >>> layer = Dense(10)
        >>> params, state = layer.init(jax.random.key(0), jax.numpy.ones((2, 784)))
        >>> params["w"].shape, params["b"].shape
        ((784, 10), (10,))
    """

    features: int
    use_bias: bool = True
    kernel_init: Callable[..., jax.Array] = initializers.glorot_uniform()
    bias_init: Callable[..., jax.Array] = initializers.zeros
    activation: Callable[[jax.Array], jax.Array] | None = None
    dtype: DTypeLike | None = None

    def __post_init__(self) -> None:
        features = check_int("Dense", "features", self.features, minimum=1)
        object.__setattr__(self, "features", features)

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        self._check(x)
        dtype = param_dtype(self, x)
        w_key, b_key = jax.random.split(key)
        params = {"w": self.kernel_init(w_key, (x.shape[-1], self.features), dtype)}
        if self.use_bias:
            params["b"] = self.bias_init(b_key, (self.features,), dtype)
        return params, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        expected = check_variable_names(self, params, state, x)
        w = jnp.asarray(params["w"])
        self._check(x, w.shape[0])
        check_variable_shapes(self, params, state, x, expected)
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(w.dtype)
        y = x @ w
        if self.use_bias:
            y = y + jnp.asarray(params["b"])
        if self.activation is not None:
            y = self.activation(y)
        return y, state

    def _check(self, x: Any, in_features: int | None = None) -> None:
        check_floating(self, x)
        ndim = len(x.shape)
        if ndim < 2 or (in_features is not None and x.shape[-1] != in_features):
            expected = ["batch"] + [None] * max(ndim - 2, 0) + [in_features]
            check_input(self, x, expected)

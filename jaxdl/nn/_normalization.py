"""Normalization layers (docs/concepts.md §8): standardise activations, then scale and
shift them."""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import DTypeLike

from jaxdl._checks import check_int, floating_dtype, shape_of
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

__all__ = ["BatchNorm", "LayerNorm"]


@dataclasses.dataclass(frozen=True, repr=False)
class BatchNorm(Layer):
    r"""Batch normalization (Ioffe & Szegedy, 2015): standardise each feature over the batch.

    .. math::
        y = \frac{x - \mathrm E[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}}\, \gamma + \beta

    per feature, the expectation and (biased) variance taken over every axis but the
    feature axis — over the batch for ``(batch, features)``, over batch, height and width
    for NHWC images.

    - ``train=True``: the batch statistics :math:`\mu_B, \sigma_B^2` normalise, and the
      returned state holds the updated running averages
      :math:`\text{running} = \text{momentum} \cdot \text{running} +
      (1 - \text{momentum}) \cdot \text{batch}` of both (the running variance averages the
      biased batch variance, the one used to normalise).
    - ``train=False`` (inference): the running statistics normalise; the state is returned
      unchanged.

    Arguments:
        momentum: weight of the old running statistics (default 0.99, Keras' and Flax's
            sense; PyTorch's ``momentum=0.1`` is ``momentum=0.9`` here).
        eps: :math:`\epsilon`, added to the variance (default 1e-5).
        use_scale: learn :math:`\gamma` (default True; else :math:`\gamma = 1`).
        use_bias: learn :math:`\beta` (default True; else :math:`\beta = 0`).
        axis: the feature axis (default -1: channels-last); never the batch axis 0.
        dtype: dtype of params and state (default: the input's floating dtype).

    Params: ``{"scale": (features,), "bias": (features,)}`` (ones and zeros). State:
    ``{"mean": (features,), "var": (features,)}`` (zeros and ones). Statistics are
    computed in at least float32, and the output has the dtype of the input and params.

    Example:
        >>> import jax
        >>> layer = BatchNorm()
        >>> x = jax.random.normal(jax.random.key(0), (32, 8, 8, 3))
        >>> params, state = layer.init(jax.random.key(1), x)
        >>> y, state = layer.apply(params, state, x, train=True)  # thread the new state on
        >>> state["mean"].shape
        (3,)
    """

    momentum: float = 0.99
    eps: float = 1e-5
    use_scale: bool = True
    use_bias: bool = True
    axis: int = -1
    dtype: DTypeLike | None = None

    def __post_init__(self) -> None:
        if not _is_real(self.momentum) or not 0 <= self.momentum <= 1:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {self.momentum!r}.")
        _check_eps("BatchNorm", self.eps)
        object.__setattr__(self, "axis", check_int("BatchNorm", "axis", self.axis))

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        del key
        axis = self._feature_axis(x)
        features, dtype = shape_of(x)[axis], param_dtype(self, x)
        state = {"mean": jnp.zeros((features,), dtype), "var": jnp.ones((features,), dtype)}
        return _affine_params(self, features, dtype), state

    def apply(self, params, state, x, *, key=None, train=False):
        del key
        expected = check_variable_names(self, params, state, x)
        running_mean, running_var = jnp.asarray(state["mean"]), jnp.asarray(state["var"])
        axis = self._feature_axis(x, running_mean.shape[0])
        check_variable_shapes(self, params, state, x, expected)
        x = jnp.asarray(x)
        # Statistics broadcast against x: size `features` on the feature axis, 1 elsewhere.
        shape = tuple(n if i == axis else 1 for i, n in enumerate(x.shape))
        if train:
            others = tuple(i for i in range(x.ndim) if i != axis)
            mean, var = _moments(x, others)
            m = self.momentum
            new_state = {
                "mean": (m * running_mean + (1 - m) * mean.reshape(-1)).astype(running_mean.dtype),
                "var": (m * running_var + (1 - m) * var.reshape(-1)).astype(running_var.dtype),
            }
        else:
            mean, var = running_mean.reshape(shape), running_var.reshape(shape)
            new_state = state
        return _normalize(self, params, x, mean, var, shape), new_state

    def _feature_axis(self, x: Any, features: int | None = None) -> int:
        """Check ``x``; return the feature axis as a non-negative index."""
        check_floating(self, x)
        shape = shape_of(x)
        axis = self.axis + len(shape) if self.axis < 0 else self.axis
        if not 1 <= axis < len(shape):
            raise ValueError(
                f"{self!r}: expected input of shape (batch, ..., features) with the features "
                f"on axis {self.axis} (not the batch axis), got {shape}."
            )
        if features is not None and shape[axis] != features:
            expected: list[int | str | None] = ["batch", *[None] * (len(shape) - 1)]
            expected[axis] = features
            check_input(self, x, expected)
        return axis


@dataclasses.dataclass(frozen=True, repr=False)
class LayerNorm(Layer):
    r"""Layer normalization (Ba et al., 2016): standardise each sample over its features.

    .. math::
        y = \frac{x - \mathrm E[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}}\, \gamma + \beta

    with the expectation and (biased) variance over the last axis, separately for every
    sample (and time step): no batch statistics, so training and inference agree.

    Arguments:
        eps: :math:`\epsilon`, added to the variance (default 1e-5, as PyTorch).
        use_scale: learn :math:`\gamma` (default True; else :math:`\gamma = 1`).
        use_bias: learn :math:`\beta` (default True; else :math:`\beta = 0`).
        dtype: dtype of the params (default: the input's floating dtype).

    Params: ``{"scale": (features,), "bias": (features,)}`` (ones and zeros). Input
    ``(batch, ..., features)``, output the same shape.

    Example:
        >>> import jax
        >>> layer = LayerNorm()
        >>> x = jax.numpy.array([[1.0, 2.0, 3.0]])
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> y, _ = layer.apply(params, state, x)
        >>> [round(v, 3) for v in y[0].tolist()]
        [-1.225, 0.0, 1.225]
    """

    eps: float = 1e-5
    use_scale: bool = True
    use_bias: bool = True
    dtype: DTypeLike | None = None

    def __post_init__(self) -> None:
        _check_eps("LayerNorm", self.eps)

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        del key
        self._check(x)
        return _affine_params(self, shape_of(x)[-1], param_dtype(self, x)), {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        expected = check_variable_names(self, params, state, x)
        affine = list(params.values())  # scale and/or bias, each (features,)
        self._check(x, jnp.shape(affine[0])[0] if affine else None)
        check_variable_shapes(self, params, state, x, expected)
        x = jnp.asarray(x)
        mean, var = _moments(x, (x.ndim - 1,))
        return _normalize(self, params, x, mean, var, (x.shape[-1],)), state

    def _check(self, x: Any, features: int | None = None) -> None:
        check_floating(self, x)
        shape = shape_of(x)
        ndim = len(shape)
        if ndim < 2 or (features is not None and shape[-1] != features):
            check_input(self, x, ["batch", *[None] * max(ndim - 2, 0), features or "features"])


# --- shared by both layers -----------------------------------------------------------------


def _moments(x: jax.Array, axes: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """Mean and biased variance over ``axes`` (kept as size-1 axes), in at least float32.

    The variance is the mean squared deviation (two passes), which unlike
    :math:`E[x^2] - E[x]^2` cannot cancel catastrophically or turn negative.
    """
    x = x.astype(jnp.promote_types(floating_dtype(x), jnp.float32))
    mean = jnp.mean(x, axes, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axes, keepdims=True)
    return mean, var


def _normalize(
    layer: BatchNorm | LayerNorm,
    params: Params,
    x: jax.Array,
    mean: jax.Array,
    var: jax.Array,
    shape: tuple[int, ...],
) -> jax.Array:
    r""":math:`(x - \mu) / \sqrt{\sigma^2 + \epsilon} \cdot \gamma + \beta`, with
    :math:`\gamma, \beta` reshaped to ``shape`` to broadcast against ``x``; the result in
    the dtype of ``x`` and the params."""
    affine = [jnp.asarray(params[name]) for name in ("scale", "bias") if name in params]
    out_dtype = jnp.result_type(floating_dtype(x), *affine)
    factor = lax.rsqrt(var + layer.eps)
    if layer.use_scale:
        factor = factor * jnp.asarray(params["scale"]).reshape(shape)
    y = (x - mean) * factor
    if layer.use_bias:
        y = y + jnp.asarray(params["bias"]).reshape(shape)
    return y.astype(out_dtype)


def _affine_params(layer: BatchNorm | LayerNorm, features: int, dtype: Any) -> Params:
    params = {}
    if layer.use_scale:
        params["scale"] = jnp.ones((features,), dtype)
    if layer.use_bias:
        params["bias"] = jnp.zeros((features,), dtype)
    return params


def _check_eps(owner: str, eps: Any) -> None:
    if not _is_real(eps) or not eps > 0:
        raise ValueError(f"{owner}: eps must be a positive number, got {eps!r}.")


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)

"""Residual connections (docs/concepts.md §10): add a block's input to its output."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxdl._checks import shape_of
from jaxdl.nn._base import (
    Lambda,
    Layer,
    Params,
    Sequential,
    State,
    VariablesMismatchError,
    as_spec,
    output_spec,
)
from jaxdl.nn._conv import Conv1D, Conv2D
from jaxdl.nn._dense import Dense

__all__ = ["Residual"]


@dataclasses.dataclass(frozen=True, repr=False)
class Residual(Layer):
    r"""A residual block (He et al., 2015): the input added to a layer's output.

    .. math:: y = x + F(x) \qquad\text{or, with a projection,}\qquad y = P(x) + F(x)

    where :math:`F` is ``inner``. The shortcut is the identity when :math:`F(x)` has the
    shape of :math:`x`. Otherwise a projection :math:`P` maps :math:`x` to that shape:
    ``projection`` when given (it is then always used, whatever the shapes), else a
    linear map without bias chosen from the shapes,

    - ``(batch, in) → (batch, out)``: ``Dense(out, use_bias=False)``;
    - ``(batch, *spatial, in) → (batch, *spatial', out)`` (1-D or 2-D, channels last):
      a 1×1 ``Conv1D``/``Conv2D(out, 1, strides=s, use_bias=False)``, where along each
      axis :math:`s = \lceil n / n' \rceil` must give :math:`\lceil n / s \rceil = n'`
      (the size a ``"SAME"`` convolution of stride :math:`s` leaves, so a downsampling
      ``inner`` of stride 2 gets a stride-2 projection).

    Other shape pairs (a grown spatial size, a different rank or batch) raise a
    ``ValueError`` naming the layer and both shapes; pass ``projection=`` then. No
    activation follows the sum: the basic block of a ResNet is
    ``Sequential([Residual(Sequential([conv, bn, relu, conv, bn])), relu])``.

    Arguments:
        inner: the residual branch :math:`F`, a layer (a function of one array becomes a
            :class:`Lambda`, a list of layers a :class:`Sequential`).
        projection: the shortcut :math:`P`, any layer mapping ``x`` to ``F(x)``'s shape
            (default None: identity, or the default projection above).

    Params: ``{"inner": ..., "projection": ...}``, and state likewise; the
    ``"projection"`` entry is there only when a projection is used. With ``key=``, the
    branch and the projection each receive their own subkey; ``train`` reaches both
    (dropout and batch norm inside work as in :class:`Sequential`). :attr:`layers` lists
    ``inner`` and a given ``projection`` (not the default one, which depends on the
    input shape). Output: the shape of ``F(x)``.

    Example:
        >>> import jax
        >>> from jaxdl import activations, nn
        >>> block = nn.Residual(nn.Sequential([nn.Dense(16), activations.relu, nn.Dense(16)]))
        >>> x = jax.numpy.ones((4, 16))
        >>> params, state = block.init(jax.random.key(0), x)
        >>> y, state = block.apply(params, state, x)
        >>> sorted(params), y.shape
        (['inner'], (4, 16))
        >>> wider = nn.Residual(nn.Dense(32))  # 16 -> 32: a Dense(32, use_bias=False) shortcut
        >>> params, state = wider.init(jax.random.key(0), x)
        >>> params["projection"]["w"].shape, wider.apply(params, state, x)[0].shape
        ((16, 32), (4, 32))
    """

    inner: Layer
    projection: Layer | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "inner", _as_layer("inner", self.inner))
        if self.projection is not None:
            object.__setattr__(self, "projection", _as_layer("projection", self.projection))

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The sublayers: ``(inner,)``, or ``(inner, projection)`` when one is given."""
        return (self.inner,) if self.projection is None else (self.inner, self.projection)

    @property
    def is_random(self) -> bool:  # type: ignore[override]
        return any(layer.is_random for layer in self.layers)

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        spec = as_spec(x)
        inner_key, projection_key = jax.random.split(key)
        params, state = {}, {}
        params["inner"], state["inner"] = self.inner.init(inner_key, spec)
        y = output_spec(self.inner, params["inner"], state["inner"], spec)
        shortcut = self._shortcut(spec, y)
        if shortcut is not None:
            params["projection"], state["projection"] = shortcut.init(projection_key, spec)
            p = output_spec(shortcut, params["projection"], state["projection"], spec)
            self._check_projection(spec, p, y)
        return params, state

    def apply(self, params, state, x, *, key=None, train=False):
        _check_entries(self, params, "params", ("inner",))
        _check_entries(self, state, "state", ("inner",))
        keys = jax.random.split(key) if key is not None else (None, None)
        try:
            y, inner_state = self.inner.apply(
                params["inner"], state["inner"], x, key=keys[0], train=train
            )
        except VariablesMismatchError as error:
            raise error.within("inner") from None
        new_state = {"inner": inner_state}
        shortcut = self._shortcut(x, y)
        if shortcut is None:
            _check_entries(self, params, "params", ("inner",), exact=True)
            _check_entries(self, state, "state", ("inner",), exact=True)
            return jnp.asarray(x) + y, new_state
        _check_entries(self, params, "params", ("inner", "projection"), exact=True)
        _check_entries(self, state, "state", ("inner", "projection"), exact=True)
        try:
            p, new_state["projection"] = shortcut.apply(
                params["projection"], state["projection"], x, key=keys[1], train=train
            )
        except VariablesMismatchError as error:
            raise error.within("projection") from None
        self._check_projection(x, p, y)
        return p + y, new_state

    def _shortcut(self, x: Any, y: Any) -> Layer | None:
        """The projection for input ``x`` and branch output ``y``; None for the identity."""
        if self.projection is not None:
            return self.projection
        xs, ys = shape_of(x), shape_of(y)
        if xs == ys:
            return None
        if len(xs) != len(ys) or len(xs) not in (2, 3, 4) or xs[0] != ys[0]:
            self._mismatch(xs, ys, "no default projection maps one to the other")
        if len(xs) == 2:
            return Dense(ys[-1], use_bias=False)
        strides = []
        for n, m in zip(xs[1:-1], ys[1:-1]):
            s = -(-n // m)
            if m > n or -(-n // s) != m:
                self._mismatch(xs, ys, "the spatial size did not shrink by an integer stride")
            strides.append(s)
        conv = Conv1D if len(xs) == 3 else Conv2D
        return conv(ys[-1], 1, strides=tuple(strides), use_bias=False)

    def _check_projection(self, x: Any, p: Any, y: Any) -> None:
        if shape_of(p) != shape_of(y):
            raise ValueError(
                f"{self!r}: the projection maps the input of shape {shape_of(x)} to "
                f"{shape_of(p)}, but the inner output has shape {shape_of(y)}; they must be "
                "equal to be added."
            )

    def _mismatch(self, xs: tuple[int, ...], ys: tuple[int, ...], reason: str) -> None:
        raise ValueError(
            f"{self!r}: cannot add the input of shape {xs} to the inner output of shape "
            f"{ys}: {reason}; pass projection= a layer mapping {xs} to {ys}."
        )


def _as_layer(name: str, value: Any) -> Layer:
    if isinstance(value, Layer):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str):
        return Sequential(value)
    if callable(value):
        return Lambda(value)
    raise TypeError(
        f"Residual: {name} must be a layer, a list of layers or a function of one array, got "
        f"{type(value).__name__}."
    )


def _check_entries(
    layer: Residual, tree: Any, what: str, names: tuple[str, ...], exact: bool = False
) -> None:
    ok = isinstance(tree, Mapping) and (
        set(tree.keys()) == set(names) if exact else set(names) <= set(tree.keys())
    )
    if not ok:
        got = sorted(tree.keys()) if isinstance(tree, Mapping) else type(tree).__name__
        raise ValueError(
            f"{layer!r}: {what} must have the entries {list(names)}, got {got}; create them "
            "with this layer's init."
        )

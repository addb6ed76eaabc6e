"""Dropout (docs/concepts.md §8): randomly zero units while training, a regulariser."""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from jaxdl import _rng
from jaxdl._checks import floating_dtype, shape_of
from jaxdl.nn._base import Layer, Params, State, check_floating, check_input, require_key

__all__ = ["Dropout"]


@dataclasses.dataclass(frozen=True, repr=False)
class Dropout(Layer):
    r"""Inverted dropout: while training, zero each element with probability ``rate`` and
    scale the survivors so that the expected value is unchanged.

    .. math::
        y = \frac{m \odot x}{1 - \text{rate}}, \qquad
        m_i \sim \operatorname{Bernoulli}(1 - \text{rate}) \text{ i.i.d.}

    so :math:`\mathbb E[y] = x`. At inference (``train=False``) and when ``rate == 0``,
    :math:`y = x`: nothing is drawn and no key is needed.

    Arguments:
        rate: the probability of *dropping* a unit, in ``[0, 1)``: ``0.2`` keeps 80 %
            (SPEC: 20–50 %, 20 % a good start). Unlike ``stax.Dropout``, whose argument is
            the keep probability; like Keras and PyTorch.

    ``apply`` needs ``key=`` when ``train=True`` (a ``ValueError`` says so otherwise); the
    same key gives the same mask. Input any shape ``(batch, ...)``; integer inputs give
    float outputs. No params, no state.

    Example:
        >>> import jax
        >>> layer = Dropout(0.5)
        >>> x = jax.numpy.ones((2, 4))
        >>> y, _ = layer.apply({}, {}, x, key=jax.random.key(0), train=True)
        >>> bool(((y == 0) | (y == 2)).all())  # dropped, or kept and scaled by 1/(1 - 0.5)
        True
        >>> bool((layer.apply({}, {}, x)[0] == x).all())  # inference: identity
        True
    """

    rate: float

    is_random: ClassVar[bool] = True

    def __post_init__(self) -> None:
        rate = self.rate
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}.")

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        del key
        self._check(x)
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params
        self._check(x)
        x = jnp.asarray(x)
        x = x.astype(floating_dtype(x))
        if not train or self.rate == 0:
            return x, state
        keep = 1.0 - self.rate
        mask = _rng.bernoulli(require_key(self, key), keep, x.shape)
        # where, not a product: a dropped inf or nan gives 0, as a dropped unit should.
        return jnp.where(mask, x / jnp.asarray(keep, x.dtype), jnp.zeros((), x.dtype)), state

    def _check(self, x: Any) -> None:
        check_floating(self, x)
        if shape_of(x) == ():
            check_input(self, x, ["batch"])

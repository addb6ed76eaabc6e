"""Dropout (docs/concepts.md §8): randomly zero units while training, a regulariser; and
masking noise, the corruption of denoising autoencoders."""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from jaxdl import _rng
from jaxdl._checks import floating_dtype, shape_of
from jaxdl.nn._base import Layer, Params, State, check_floating, check_input, require_key

__all__ = ["Dropout", "MaskingNoise"]


@dataclasses.dataclass(frozen=True, repr=False)
class _RandomMask(Layer):
    """Zero each element with probability ``rate`` while training; see Dropout and
    MaskingNoise, which differ only in whether the survivors are rescaled."""

    rate: float

    is_random: ClassVar[bool] = True
    rescale: ClassVar[bool]

    def __post_init__(self) -> None:
        rate = self.rate
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(
                f"{type(self).__name__}: rate must be a number in [0, 1), got {rate!r}."
            )

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
        kept = x / jnp.asarray(keep, x.dtype) if self.rescale else x
        # where, not a product: a dropped inf or nan gives 0, as a dropped unit should.
        return jnp.where(mask, kept, jnp.zeros((), x.dtype)), state

    def _check(self, x: Any) -> None:
        check_floating(self, x)
        if shape_of(x) == ():
            check_input(self, x, ["batch"])


@dataclasses.dataclass(frozen=True, repr=False)
class Dropout(_RandomMask):
    r"""Inverted dropout: while training, zero each element with probability ``rate`` and
    scale the survivors so that the expected value is unchanged.

    .. math::
        y = \frac{m \odot x}{1 - \text{rate}}, \qquad
        m_i \sim \operatorname{Bernoulli}(1 - \text{rate}) \text{ i.i.d.}

    so :math:`\mathbb E[y] = x`. At inference (``train=False``) and when ``rate == 0``,
    :math:`y = x`: nothing is drawn and no key is needed.

    Arguments:
        rate: the probability of *dropping* a unit, in ``[0, 1)``: ``0.2`` keeps 80 %
            (20–50 % is usual, 20 % a good start). Unlike ``stax.Dropout``, whose argument is
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

    rescale: ClassVar[bool] = True


@dataclasses.dataclass(frozen=True, repr=False)
class MaskingNoise(_RandomMask):
    r"""Masking noise: while training, set each element to zero with probability ``rate``,
    without rescaling the others (Vincent et al., 2008, the corruption of a denoising
    autoencoder).

    .. math::
        \tilde x = m \odot x, \qquad m_i \sim \operatorname{Bernoulli}(1 - \text{rate})
        \text{ i.i.d.}

    A denoising autoencoder reconstructs the clean :math:`x` from :math:`\tilde x`.
    Unlike :class:`Dropout`, the survivors are not scaled by :math:`1/(1-\text{rate})`:
    the corrupted input keeps the clean input's scale where it is kept. At inference
    (``train=False``) and when ``rate == 0``, :math:`\tilde x = x`.

    Arguments:
        rate: the probability of zeroing an element (the corruption level), in ``[0, 1)``.

    ``apply`` needs ``key=`` when ``train=True``. Input any shape ``(batch, ...)``. No
    params, no state.

    Example:
        >>> import jax
        >>> layer = MaskingNoise(0.25)
        >>> x = jax.numpy.full((2, 4), 3.0)
        >>> y, _ = layer.apply({}, {}, x, key=jax.random.key(0), train=True)
        >>> bool(((y == 0) | (y == 3)).all())
        True
    """

    rescale: ClassVar[bool] = False

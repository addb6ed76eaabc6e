"""Activation functions: plain, element-wise functions of arrays (docs/concepts.md §3 and §4).

Every function here is pure, works under ``jit``, ``grad`` and ``vmap``, and stays
finite — value and gradient — for inputs up to ``|z| = 1e4`` in float32. Where a naive
formula would overflow (``e^z`` for large ``z``), the docstring states the formula and the
code evaluates an algebraically equal, stable form.

Example:
    >>> import jax.numpy as jnp
    >>> from jaxdl import activations
    >>> activations.relu(jnp.array([-2.0, 0.5]))
    Array([0. , 0.5], dtype=float32)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl import _numerics
from jaxdl._checks import check_int
from jaxdl._numerics import as_float as _float

__all__ = [
    "elu",
    "gelu",
    "identity",
    "leaky_relu",
    "log_softmax",
    "maxout",
    "rbf",
    "relu",
    "selu",
    "sigmoid",
    "softmax",
    "softplus",
    "softsign",
    "step",
    "swish",
    "tanh",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def step(z: ArrayLike) -> jax.Array:
    r"""Heaviside step, the threshold logic unit's activation.

    .. math:: f(z) = 1 \text{ if } z \ge 0 \text{ else } 0

    The output has ``z``'s dtype (float32 for integer input); its gradient is 0 everywhere,
    which is why the perceptron learns by its own rule rather than by gradient descent.

    >>> step(jnp.array([-1.0, 0.0, 2.0]))
    Array([0., 1., 1.], dtype=float32)
    """
    z = _float(z)
    return jnp.where(z >= 0, jnp.ones_like(z), jnp.zeros_like(z))


def identity(z: ArrayLike) -> jax.Array:
    r"""Identity, the output activation for regression: :math:`f(z) = z`."""
    return jnp.asarray(z)


def sigmoid(z: ArrayLike) -> jax.Array:
    r"""Logistic sigmoid :math:`\sigma(z) = 1 / (1 + e^{-z})`, derivative :math:`y(1-y)`.

    Computed by ``lax.logistic``, which never overflows: ``sigmoid(-1e4) == 0`` and
    ``sigmoid(1e4) == 1`` with finite gradients.

    >>> sigmoid(jnp.array([0.0]))
    Array([0.5], dtype=float32)
    """
    return jax.lax.logistic(_float(z))


def tanh(z: ArrayLike) -> jax.Array:
    r"""Hyperbolic tangent :math:`\tanh z = 2 / (1 + e^{-2z}) - 1`, derivative :math:`1-y^2`."""
    return jnp.tanh(_float(z))


def relu(z: ArrayLike) -> jax.Array:
    r"""Rectified linear unit :math:`\max(0, z)`; the gradient at 0 is taken as 0 (as
    PyTorch and ``jax.nn.relu`` do; ``jnp.maximum`` would split a tie and give 0.5)."""
    z = _float(z)
    return jnp.where(z > 0, z, jnp.zeros_like(z))


def leaky_relu(z: ArrayLike, negative_slope: float = 0.01) -> jax.Array:
    r"""Leaky ReLU :math:`\max(\varepsilon z, z)` for :math:`0 \le \varepsilon < 1`.

    Arguments:
        z: any shape.
        negative_slope: :math:`\varepsilon`, the slope for ``z < 0`` (default 0.01).
    """
    z = _float(z)
    return jnp.where(z >= 0, z, negative_slope * z)


def elu(z: ArrayLike, alpha: float = 1.0) -> jax.Array:
    r"""Exponential linear unit: :math:`z` for :math:`z > 0`, else :math:`\alpha(e^z - 1)`.

    The exponential sees ``z`` clipped to ``z ≤ 0`` only, so a large positive ``z`` in the
    branch that ``where`` discards cannot turn the gradient into ``inf * 0 = nan``. The
    gradient at 0 is the left one, :math:`\alpha` (1 for the default, where ELU is smooth).
    """
    z = _float(z)
    return jnp.where(z > 0, z, alpha * jnp.expm1(jnp.where(z > 0, 0.0, z)))


def selu(z: ArrayLike) -> jax.Array:
    r"""Scaled ELU :math:`\lambda \cdot \mathrm{elu}(z, \alpha)` with
    :math:`\alpha \approx 1.6733`, :math:`\lambda \approx 1.0507` (Klambauer et al., 2017)."""
    return _SELU_SCALE * elu(z, _SELU_ALPHA)


def softplus(z: ArrayLike) -> jax.Array:
    r"""Softplus :math:`\log(1 + e^z)`, computed as ``logaddexp(z, 0)`` (no overflow);
    its derivative is the sigmoid."""
    return jnp.logaddexp(_float(z), 0.0)


def softsign(z: ArrayLike) -> jax.Array:
    r"""Softsign :math:`z / (1 + |z|)`, a tanh-like curve with polynomial tails."""
    z = _float(z)
    return z / (1 + jnp.abs(z))


def gelu(z: ArrayLike, approximate: bool = False) -> jax.Array:
    r"""Gaussian error linear unit :math:`z \Phi(z) = \tfrac{z}{2}(1 + \mathrm{erf}(z/\sqrt2))`.

    Arguments:
        approximate: use the tanh approximation
            :math:`\tfrac{z}{2}(1 + \tanh(\sqrt{2/\pi}(z + 0.044715 z^3)))` (default False:
            the exact form, as PyTorch's default).
    """
    z = _float(z)
    if approximate:
        inner = math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)
        return 0.5 * z * (1 + jnp.tanh(inner))
    # 1 + erf(u) = erfc(-u), without the cancellation of 1 + erf(u) for u << 0.
    return 0.5 * z * jax.lax.erfc(-z / math.sqrt(2))


def swish(z: ArrayLike, beta: float = 1.0) -> jax.Array:
    r"""Swish / SiLU :math:`z \cdot \sigma(\beta z)`."""
    z = _float(z)
    return z * jax.lax.logistic(beta * z)


def rbf(z: ArrayLike, gamma: float = 1.0) -> jax.Array:
    r"""Gaussian radial basis function :math:`e^{-\gamma z^2}` of a distance ``z``."""
    z = _float(z)
    return jnp.exp(-gamma * z**2)


def softmax(z: ArrayLike, axis: int = -1) -> jax.Array:
    r"""Softmax :math:`\sigma(z)_j = e^{z_j} / \sum_k e^{z_k}` along ``axis``.

    Computed as :math:`e^{z - \max z} / \sum_k e^{z_k - \max z}`: the same value, and no
    exponential ever exceeds 1, so logits of ±1e4 give exact 0/1 probabilities, not NaN.

    >>> softmax(jnp.array([1e4, 0.0]))
    Array([1., 0.], dtype=float32)
    """
    exp = jnp.exp(_numerics.shift_by_max(_float(z), axis))
    return exp / jnp.sum(exp, axis=axis, keepdims=True)


def log_softmax(z: ArrayLike, axis: int = -1) -> jax.Array:
    r"""Log-softmax :math:`z_j - \log \sum_k e^{z_k}` along ``axis``, via the same max shift
    as :func:`softmax`; finite wherever the probability is representable."""
    return _numerics.log_softmax(z, axis)


def maxout(z: ArrayLike, num_pieces: int, axis: int = -1) -> jax.Array:
    r"""Maxout (Goodfellow et al., 2013): the maximum over groups of ``num_pieces`` units.

    .. math:: h_i = \max_{j < k} z_{i k + j}

    Arguments:
        z: any shape; ``z.shape[axis]`` must be a multiple of ``num_pieces``.
        num_pieces: ``k``, units per group.
        axis: the feature axis (default last).

    Returns:
        ``z`` with ``shape[axis]`` divided by ``num_pieces``.

    >>> maxout(jnp.array([[1.0, 3.0, -1.0, -2.0]]), num_pieces=2)
    Array([[ 3., -1.]], dtype=float32)
    """
    z = _float(z)
    num_pieces = check_int("maxout", "num_pieces", num_pieces, minimum=1)
    axis = check_int("maxout", "axis", axis)
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(f"maxout: axis {axis} is out of range for input of shape {z.shape}.")
    axis = axis % z.ndim
    size = z.shape[axis]
    if size % num_pieces:
        raise ValueError(
            f"maxout: the size of axis {axis} ({size}) must be a multiple of num_pieces "
            f"({num_pieces}); got input shape {z.shape}."
        )
    grouped = (*z.shape[:axis], size // num_pieces, num_pieces, *z.shape[axis + 1 :])
    return jnp.max(z.reshape(grouped), axis=axis + 1)

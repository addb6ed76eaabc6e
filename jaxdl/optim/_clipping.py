"""Gradient clipping by the global norm of the whole update pytree."""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl.optim._base import (
    GradientTransformation,
    OptState,
    Params,
    Updates,
    init_empty_state,
    memoized,
)
from jaxdl.optim._validation import check_hyperparameters

__all__ = ["clip_by_global_norm", "global_norm"]


def global_norm(tree: Updates) -> jax.Array:
    """The Euclidean norm of all the elements of a pytree taken together.

    .. math:: \\lVert g \\rVert = \\sqrt{\\textstyle\\sum_{\\text{leaves } \\ell}
              \\sum_i g_{\\ell,i}^2}

    **Arguments:**

    - ``tree``: a pytree of real arrays.

    **Returns:** a scalar array (optax: ``optax.global_norm``).

    >>> import jax.numpy as jnp
    >>> global_norm({"a": jnp.array([3.0]), "b": jnp.array([[4.0]])})
    Array(5., dtype=float32)
    """
    sums = jax.tree.map(lambda x: jnp.sum(jnp.square(x)), tree)
    return jnp.sqrt(jax.tree.reduce(operator.add, sums, initializer=0))


@memoized
def clip_by_global_norm(max_norm: ArrayLike) -> GradientTransformation:
    """Scale the updates down so that their global norm is at most ``max_norm``.

    .. math::

        u \\leftarrow \\begin{cases} u & \\lVert u \\rVert < c \\\\
        \\dfrac{u}{\\lVert u \\rVert}\\, c & \\text{otherwise}\\end{cases}

    (Pascanu et al., 2013). Chain it *before* the optimizer to clip gradients.

    **Arguments:**

    - ``max_norm``: the threshold :math:`c > 0`.

    **Returns:** a stateless :class:`GradientTransformation`
    (optax: ``optax.clip_by_global_norm``; PyTorch: ``torch.nn.utils.clip_grad_norm_``,
    which scales by :math:`c / (\\lVert u \\rVert + 10^{-6})` instead).

    >>> import jax.numpy as jnp
    >>> opt = clip_by_global_norm(1.0)
    >>> updates, _ = opt.update({"w": jnp.array([3.0, 4.0])}, opt.init(None))
    >>> updates["w"]
    Array([0.6, 0.8], dtype=float32)
    """
    check_hyperparameters("clip_by_global_norm", max_norm=max_norm)

    def update(
        updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, OptState]:
        del params
        norm = global_norm(updates)
        keep = norm < max_norm
        updates = jax.tree.map(
            lambda t: jax.lax.select(keep, t, (t / norm.astype(t.dtype)) * max_norm), updates
        )
        return updates, state

    return GradientTransformation(init_empty_state, update)

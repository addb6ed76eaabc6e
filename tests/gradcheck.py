"""Gradient checks against central finite differences, shared by the layer tests.

Run them in float64 (the ``x64`` fixture): central differences with ``eps=1e-6`` have a
truncation error of order ``eps²`` and a rounding error of order ``1e-16/eps``, both far
below the tolerances here, so a wrong gradient cannot hide behind float32 noise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def assert_grad_matches_finite_differences(
    f: Callable[..., jax.Array],
    *args: Any,
    argnums: int | tuple[int, ...] = 0,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    directions: int = 4,
    seed: int = 0,
) -> None:
    """Assert ``jax.grad(f)`` equals central differences of the scalar ``f``.

    For each argument in ``argnums`` (any pytree of float64 arrays) and each of several
    random directions ``v`` (one per leaf, normalised jointly), compares the directional
    derivative ``<grad f, v>`` with ``(f(x + eps v) - f(x - eps v)) / (2 eps)``. When an
    argument has at most 64 scalars, every coordinate is also checked on its own.
    """
    argnums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    grads = jax.grad(f, argnums=argnums)(*args)
    rng = np.random.default_rng(seed)
    for position, grad in zip(argnums, grads):
        leaves, treedef = jax.tree_util.tree_flatten(args[position])
        for leaf in leaves:
            if jnp.asarray(leaf).dtype != jnp.float64:
                raise AssertionError("gradient checks need float64 inputs (use the x64 fixture)")
        grad_leaves = treedef.flatten_up_to(grad)
        sizes = [int(np.size(leaf)) for leaf in leaves]
        probes = [_random_direction(rng, leaves) for _ in range(directions)]
        if sum(sizes) <= 64:
            probes += _unit_directions(leaves)
        for probe in probes:
            numeric = (
                _shifted(f, args, position, treedef, leaves, probe, eps)
                - _shifted(f, args, position, treedef, leaves, probe, -eps)
            ) / (2 * eps)
            analytic = sum(jnp.vdot(g, d) for g, d in zip(grad_leaves, probe))
            np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)


def _shifted(f, args, position, treedef, leaves, probe, step) -> jax.Array:
    """``f`` with argument ``position`` moved by ``step * probe``."""
    moved = [leaf + step * d for leaf, d in zip(leaves, probe)]
    new_args = list(args)
    new_args[position] = jax.tree_util.tree_unflatten(treedef, moved)
    return f(*new_args)


def _random_direction(rng: np.random.Generator, leaves: list) -> list[np.ndarray]:
    draws = [rng.standard_normal(np.shape(leaf)) for leaf in leaves]
    norm = np.sqrt(sum(float(np.sum(d**2)) for d in draws)) or 1.0
    return [d / norm for d in draws]


def _unit_directions(leaves: list) -> list[list[np.ndarray]]:
    units = []
    for i, leaf in enumerate(leaves):
        for j in range(int(np.size(leaf))):
            probe = [np.zeros(np.shape(other)) for other in leaves]
            probe[i].reshape(-1)[j] = 1.0
            units.append(probe)
    return units

"""Test problems for the optimizer tests and a compiled trajectory runner.

Three problems, each a pure loss of a params pytree, built in any float dtype:
(a) a convex quadratic, (b) the Rosenbrock function, (c) a small tanh MLP on fixed
random data. ``trajectory`` runs an optimizer for a number of steps as one ``lax.scan``
inside ``jax.jit`` (compiled once) and returns the parameters after every step;
``trajectories`` does the same for several optimizers in one compiled program.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import optim

Params = Any


class Problem(NamedTuple):
    name: str
    data: Callable[[], dict[str, Any]]
    """Fixed float64 NumPy data: the initial params (key ``params``) and constants."""
    loss: Callable[[Params, dict[str, Any], Any], Any]
    """loss(params, constants, xp): one formula for ``xp`` = ``jax.numpy`` or ``torch``."""
    learning_rates: dict[str, float]
    """A learning rate per optimizer name that descends this problem stably."""

    def make(self, dtype: Any) -> tuple[Params, Callable[[Params], jax.Array]]:
        """The initial params and the loss function, in ``dtype``."""
        data = jax.tree.map(lambda x: jnp.asarray(x, dtype), self.data())
        params = data.pop("params")
        return params, functools.partial(_bind, self.loss, data)


def _bind(loss: Callable[..., jax.Array], data: dict[str, Any], params: Params) -> jax.Array:
    return loss(params, data, jnp)


def _quadratic_data() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    a = q @ np.diag(np.linspace(1.0, 10.0, 8)) @ q.T
    b = rng.normal(size=8)
    return {"a": a, "b": b, "params": {"x": rng.normal(size=8) * 10.0}}


def _quadratic(p: Params, data: dict[str, Any], xp: Any) -> Any:
    """:math:`\\tfrac12 x^T A x - b^T x`, eigenvalues of A from 1 to 10."""
    del xp
    x = p["x"]
    return 0.5 * x @ data["a"] @ x - data["b"] @ x


def _rosenbrock_data() -> dict[str, Any]:
    return {"params": {"x": np.float64(-1.2), "y": np.float64(1.0)}}


def _rosenbrock(p: Params, data: dict[str, Any], xp: Any) -> Any:
    """:math:`(1 - x)^2 + 100 (y - x^2)^2` from the classic start (-1.2, 1)."""
    del data, xp
    return (1 - p["x"]) ** 2 + 100.0 * (p["y"] - p["x"] ** 2) ** 2


def _mlp_data() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(32, 4))
    targets = np.sin(rng.normal(size=(32, 2)))
    params = {
        "hidden": {"w": rng.normal(size=(4, 16)) / 2.0, "b": rng.normal(size=16) * 0.1},
        "out": {"w": rng.normal(size=(16, 2)) / 4.0, "b": np.zeros(2)},
    }
    return {"inputs": inputs, "targets": targets, "params": params}


def _mlp(p: Params, data: dict[str, Any], xp: Any) -> Any:
    """Mean squared error of a 4-16-2 tanh MLP on 32 fixed random samples."""
    h = xp.tanh(data["inputs"] @ p["hidden"]["w"] + p["hidden"]["b"])
    return xp.mean((h @ p["out"]["w"] + p["out"]["b"] - data["targets"]) ** 2)


_SGD_LIKE = ("sgd", "momentum", "nesterov")
_ADAM_LIKE = ("rmsprop", "adam", "nadam", "adamw")


def _rates(sgd: float, adagrad: float, adaptive: float) -> dict[str, float]:
    rates = {name: sgd for name in _SGD_LIKE} | {name: adaptive for name in _ADAM_LIKE}
    return rates | {"adagrad": adagrad, "adadelta": 1.0}


QUADRATIC = Problem(
    "quadratic", _quadratic_data, _quadratic, _rates(sgd=0.02, adagrad=0.5, adaptive=0.01)
)
ROSENBROCK = Problem(
    "rosenbrock", _rosenbrock_data, _rosenbrock, _rates(sgd=2e-4, adagrad=0.05, adaptive=2e-3)
)
MLP = Problem("mlp", _mlp_data, _mlp, _rates(sgd=0.05, adagrad=0.05, adaptive=3e-3))
PROBLEMS = (QUADRATIC, ROSENBROCK, MLP)


def trajectory(
    optimizer: Any, params: Params, loss: Callable[[Params], jax.Array], steps: int
) -> Params:
    """The params after each of ``steps`` updates (leading axis = step), one compiled scan.

    ``optimizer`` may be a jaxdl or an optax transformation.
    """
    return jax.jit(functools.partial(_scan, optimizer, loss, steps))(params)


def trajectories(
    optimizers: tuple[Any, ...],
    params: Params,
    loss: Callable[[Params], jax.Array],
    steps: int,
) -> tuple[Params, ...]:
    """``trajectory`` for several optimizers compiled as one program (one compile, not n).

    Each optimizer's scan gets its own argument copy of ``params``, so XLA cannot merge
    the loops even when their bodies are identical: each result is its own computation.
    """

    def run(*starts: Params) -> tuple[Params, ...]:
        return tuple(
            _scan(optimizer, loss, steps, start)
            for optimizer, start in zip(optimizers, starts, strict=True)
        )

    return jax.jit(run)(*([params] * len(optimizers)))


def _scan(
    optimizer: Any, loss: Callable[[Params], jax.Array], steps: int, params: Params
) -> Params:
    def step(carry: tuple[Params, Any], _: None) -> tuple[tuple[Params, Any], Params]:
        p, state = carry
        updates, state = optimizer.update(jax.grad(loss)(p), state, p)
        p = optim.apply_updates(p, updates)
        return (p, state), p

    _, path = jax.lax.scan(step, (params, optimizer.init(params)), None, length=steps)
    return path


def final(path: Params) -> Params:
    """The last parameters of a trajectory."""
    return jax.tree.map(lambda x: x[-1], path)


def assert_trees_equal(actual: Params, expected: Params) -> None:
    """Every leaf identical, bit for bit (NaNs would have to match too: check finiteness)."""
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        assert a.dtype == e.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(e))


def max_relative_difference(actual: Params, expected: Params) -> float:
    """``max |a - e| / max |e|`` over all leaves taken together."""
    diff = max(float(jnp.max(jnp.abs(a - e))) for a, e in _pairs(actual, expected))
    scale = max(float(jnp.max(jnp.abs(e))) for e in jax.tree.leaves(expected))
    return diff / scale


def all_finite(tree: Params) -> bool:
    return all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(tree))


def _pairs(a: Params, b: Params) -> list[tuple[jax.Array, jax.Array]]:
    assert jax.tree.structure(a) == jax.tree.structure(b)
    return list(zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))

"""``jaxdl.optim.torch`` against ``torch.optim``: same problem, each side its own gradients.

Each optimizer × hyperparameter set × problem runs 1,000 steps in JAX (``jax.grad``, one
compiled scan) and in PyTorch (autograd, ``torch.optim.<Class>``) from the same float64
data. The bars (docs/conventions.md, the PyTorch-compatible variants): max|θ_ours − θ_torch| ≤
1e-6·max|θ| after one step and ≤ 3e-5·max|θ| after 1,000 float32 steps; 1e-10 in float64.

The hyperparameters are chosen where the dynamics are not chaotic. In a chaotic regime
(RMSProp with a constant step circling the optimum of a quadratic, Adam-type methods at the
edge of stability on the MLP) a 1e-16 difference grows to 1e-3 within a few hundred steps
*between two float64 runs of the same algorithm*, so no implementation could meet a bar
there; the float64 test would catch such a choice.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from optim_problems import MLP, QUADRATIC, Problem, trajectory

from jaxdl import optim
from jaxdl.optim import torch as torch_style

torch = pytest.importorskip("torch")

STEPS = 1000
CLASSES = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
    "nadam": "NAdam",
}

# name -> {set name: keyword arguments, identical for torch.optim.<Class> and ours}.
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "sgd": {
        "default": {},
        "momentum-dampening-decay": {
            "lr": 0.02,
            "momentum": 0.9,
            "dampening": 0.1,
            "weight_decay": 1e-2,
        },
        "nesterov": {"lr": 0.02, "momentum": 0.8, "nesterov": True, "weight_decay": 1e-3},
    },
    "adagrad": {
        "default": {},
        "custom": {
            "lr": 0.1,
            "lr_decay": 1e-3,
            "weight_decay": 1e-2,
            "initial_accumulator_value": 0.1,
            "eps": 1e-8,
        },
    },
    "rmsprop": {
        "default": {},
        "centered-momentum": {
            "lr": 3e-4,
            "eps": 1e-2,
            "weight_decay": 1e-2,
            "momentum": 0.5,
            "centered": True,
        },
    },
    "adam": {
        "default": {},
        "amsgrad": {
            "lr": 1e-2,
            "betas": (0.8, 0.99),
            "eps": 1e-6,
            "weight_decay": 1e-2,
            "amsgrad": True,
        },
    },
    "adamw": {
        "default": {},
        "amsgrad": {"lr": 1e-2, "betas": (0.85, 0.995), "weight_decay": 0.1, "amsgrad": True},
    },
    "nadam": {
        "default": {},
        "custom": {
            "lr": 1e-3,
            "betas": (0.85, 0.995),
            "eps": 1e-4,
            "weight_decay": 1e-2,
            "momentum_decay": 1e-2,
        },
        "decoupled": {"lr": 1e-3, "weight_decay": 0.1, "decoupled_weight_decay": True},
    },
}

PROBLEMS = (QUADRATIC, MLP)
CASES = [
    pytest.param(name, set_name, problem, id=f"{name}-{set_name}-{problem.name}")
    for name, sets in SETTINGS.items()
    for set_name in sets
    for problem in PROBLEMS
]


@pytest.fixture(autouse=True, scope="module")
def torch_one_thread() -> Iterator[None]:
    """One PyTorch thread for these tiny problems: with two, each 1,000-step run took 8–25 s
    on a loaded 2-core machine (its threads wait for a core), with one 0.4–0.5 s."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@pytest.fixture
def torch_float64() -> Iterator[None]:
    """PyTorch's default dtype float64 for one test (its NAdam keeps a scalar in it)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _torch_snapshots(
    name: str, kwargs: dict[str, Any], problem: Problem, dtype: Any, steps: tuple[int, ...]
) -> dict[int, Any]:
    """The parameters after each step in ``steps``, optimized by ``torch.optim``."""
    torch_dtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    data = jax.tree.map(lambda x: torch.tensor(np.asarray(x), dtype=torch_dtype), problem.data())
    params = jax.tree.map(lambda t: t.requires_grad_(True), data.pop("params"))
    optimizer = getattr(torch.optim, CLASSES[name])(jax.tree.leaves(params), **kwargs)
    snapshots = {}
    for step in range(1, max(steps) + 1):
        optimizer.zero_grad()
        problem.loss(params, data, torch).backward()
        optimizer.step()
        if step in steps:
            snapshots[step] = jax.tree.map(lambda t: t.detach().numpy().copy(), params)
    return snapshots


def _relative_differences(
    name: str, set_name: str, problem: Problem, dtype: Any, steps: tuple[int, ...]
) -> dict[int, float]:
    kwargs = SETTINGS[name][set_name]
    params, loss = problem.make(dtype)
    path = trajectory(getattr(torch_style, name)(**kwargs), params, loss, max(steps))
    expected = _torch_snapshots(name, kwargs, problem, dtype, steps)
    differences = {}
    for step, theirs in expected.items():
        ours = jax.tree.map(lambda x, s=step: np.asarray(x[s - 1]), path)
        assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(ours))
        assert jax.tree.structure(ours) == jax.tree.structure(theirs)
        diff = max(np.max(np.abs(a - b)) for a, b in _leaf_pairs(ours, theirs))
        scale = max(np.max(np.abs(b)) for b in jax.tree.leaves(theirs))
        differences[step] = float(diff / scale)
    return differences


def _leaf_pairs(a: Any, b: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


@pytest.mark.parametrize(("name", "set_name", "problem"), CASES)
def test_float32_matches_torch(name: str, set_name: str, problem: Problem) -> None:
    differences = _relative_differences(name, set_name, problem, np.float32, (1, STEPS))
    assert differences[1] <= 1e-6
    assert differences[STEPS] <= 3e-5


def _float64_case(param: Any) -> Any:
    """Float64 on the quadratic by default; on the MLP under ``slow`` (run time)."""
    marks = (pytest.mark.slow,) if param.values[2] is MLP else ()
    return pytest.param(*param.values, id=param.id, marks=marks)


@pytest.mark.parametrize(("name", "set_name", "problem"), [_float64_case(c) for c in CASES])
def test_float64_matches_torch(
    x64: None, torch_float64: None, name: str, set_name: str, problem: Problem
) -> None:
    differences = _relative_differences(name, set_name, problem, np.float64, (1, STEPS))
    assert max(differences.values()) <= 1e-10


@pytest.mark.parametrize("name", list(CLASSES))
def test_argument_names_and_defaults_are_torch(name: str) -> None:
    ours = inspect.signature(getattr(torch_style, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, CLASSES[name]).__init__).parameters
    for argument, parameter in ours.items():
        assert argument in theirs, f"{name}: torch has no argument {argument!r}"
        assert parameter.default == theirs[argument].default, argument
    assert {"lr", "weight_decay", "maximize"} <= set(ours)
    assert set(theirs) - set(ours) <= {
        "self",
        "params",
        "foreach",
        "capturable",
        "differentiable",
        "fused",
        "decoupled_weight_decay",  # adamw is the decoupled one; adam and nadam take it
    }


@pytest.mark.parametrize(
    ("name", "kwargs", "fragment"),
    [
        ("sgd", {"lr": -0.1}, "torch.sgd: lr must be in [0, inf)"),
        ("sgd", {"nesterov": True}, "Nesterov momentum requires a momentum > 0"),
        ("sgd", {"momentum": 0.9, "dampening": 0.5, "nesterov": True}, "zero dampening"),
        ("adagrad", {"lr_decay": -1.0}, "torch.adagrad: lr_decay"),
        ("rmsprop", {"alpha": 1.5}, "torch.rmsprop: alpha must be in [0, 1)"),
        ("adam", {"betas": (1.0, 0.999)}, "torch.adam: betas[0] must be in [0, 1)"),
        ("adamw", {"betas": (0.9, -0.1)}, "torch.adamw: betas[1]"),
        ("nadam", {"momentum_decay": -1e-3}, "torch.nadam: momentum_decay"),
    ],
)
def test_bad_arguments_raise(name: str, kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        getattr(torch_style, name)(**kwargs)


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", "nadam"])
def test_weight_decay_needs_params(name: str) -> None:
    opt = getattr(torch_style, name)(weight_decay=0.1)
    params = {"w": jnp.ones(3)}
    with pytest.raises(ValueError, match="needs the parameters"):
        opt.update(params, opt.init(params))


@pytest.mark.parametrize("name", list(CLASSES))
def test_maximize_ascends(name: str) -> None:
    """``maximize=True`` on a loss equals the default on its negation (PyTorch's meaning)."""
    params = {"w": jnp.array([1.0, -2.0, 3.0])}
    grads = {"w": jnp.array([0.5, -1.0, 2.0])}
    up = getattr(torch_style, name)(maximize=True)
    down = getattr(torch_style, name)()
    ascent, _ = up.update(grads, up.init(params), params)
    descent, _ = down.update(jax.tree.map(jnp.negative, grads), down.init(params), params)
    np.testing.assert_array_equal(ascent["w"], descent["w"])
    assert bool(jnp.all(jnp.sign(ascent["w"]) == jnp.sign(grads["w"])))


def test_learning_rate_schedule_is_evaluated_at_the_step_count() -> None:
    opt = torch_style.sgd(lr=lambda count: 0.1 * (count + 1))
    params = {"w": jnp.zeros(2)}
    grads = {"w": jnp.array([1.0, -2.0])}
    state = opt.init(params)
    first, state = opt.update(grads, state, params)
    second, state = opt.update(grads, state, params)
    np.testing.assert_allclose(first["w"], [-0.1, 0.2], rtol=1e-6)
    np.testing.assert_allclose(second["w"], [-0.2, 0.4], rtol=1e-6)
    assert state.count.dtype == jnp.int32 and int(state.count) == 2


@pytest.mark.parametrize(
    ("name", "optax_style"),
    [
        ("adagrad", optim.adagrad(1e-2)),
        ("rmsprop", optim.rmsprop(1e-2, decay=0.99)),
        ("nadam", optim.nadam(2e-3)),
    ],
)
def test_conventions_differ_from_the_optax_style(name: str, optax_style: Any) -> None:
    """Same learning rate and decay, different convention: different steps, by design.

    Adagrad: accumulator 0 vs 0.1; RMSProp: with 4 small gradients ε outside vs inside
    the root; NAdam: momentum schedule vs constant β₁.
    """
    opt = getattr(torch_style, name)()
    params = {"w": jnp.array([1.0, 1.0])}
    grads = {"w": jnp.array([1e-4, 1.0])}
    ours_state, theirs_state = opt.init(params), optax_style.init(params)
    for _ in range(4):
        ours, ours_state = opt.update(grads, ours_state, params)
        theirs, theirs_state = optax_style.update(grads, theirs_state, params)
    assert float(jnp.max(jnp.abs(ours["w"] - theirs["w"]) / jnp.abs(theirs["w"]))) > 1e-3


def test_centered_variance_is_clamped_where_torch_gives_nan() -> None:
    """A state whose mean² exceeds its mean square (float32 rounding can produce one)."""
    opt = torch_style.rmsprop(lr=0.1, centered=True, eps=1e-2)
    params = {"w": jnp.array([0.0])}
    state = opt.init(params)._replace(
        square_avg={"w": jnp.array([1.0])}, grad_avg={"w": jnp.array([1.01])}
    )
    updates, _ = opt.update({"w": jnp.array([1.01])}, state, params)
    np.testing.assert_allclose(updates["w"], [-0.1 * 1.01 / 1e-2], rtol=1e-6)

    tensor = torch.zeros(1, requires_grad=True)
    reference = torch.optim.RMSprop([tensor], lr=0.1, centered=True, eps=1e-2)
    tensor.grad = torch.tensor([1.01])
    reference.step()  # builds the state, then overwrite it like ours
    reference.state[tensor]["square_avg"].fill_(1.0)
    reference.state[tensor]["grad_avg"].fill_(1.01)
    reference.step()
    assert torch.isnan(tensor).all()

"""The optimizer protocol: optax interoperability, chaining, states as pytrees, counters."""

from __future__ import annotations

import inspect
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optim_problems import MLP, QUADRATIC, assert_trees_equal, trajectories

from jaxdl import optim

ALL_OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.1),
    "momentum": lambda: optim.momentum(0.1),
    "nesterov": lambda: optim.nesterov(0.1),
    "adagrad": lambda: optim.adagrad(0.1),
    "adadelta": lambda: optim.adadelta(),
    "rmsprop": lambda: optim.rmsprop(0.01, centered=True, momentum=0.9),
    "adam": lambda: optim.adam(0.01),
    "nadam": lambda: optim.nadam(0.01),
    "adamw": lambda: optim.adamw(0.01),
}


def test_the_protocol_is_optax_gradient_transformation() -> None:
    opt = optim.adam(1e-3)
    assert isinstance(opt, tuple)
    assert optim.GradientTransformation._fields == optax.GradientTransformation._fields
    init, update = opt
    assert init is opt.init and update is opt.update


# Each pair: a chain mixing jaxdl and optax pieces, and the all-optax equivalent.
MIXED_CHAINS = {
    "optax-clip-in-jaxdl-chain": (
        lambda: optim.chain(optax.clip_by_global_norm(0.1), optim.adam(3e-3)),
        lambda: optax.chain(optax.clip_by_global_norm(0.1), optax.adam(3e-3)),
    ),
    "optax-decay-between-jaxdl-transforms": (
        lambda: optim.chain(
            optim.scale_by_adam(),
            optax.add_decayed_weights(1e-2),
            optim.scale_by_learning_rate(3e-3),
        ),
        lambda: optax.adamw(3e-3, weight_decay=1e-2),
    ),
    "jaxdl-in-optax-chain": (
        lambda: optax.chain(optim.clip_by_global_norm(0.1), optax.sgd(0.05, momentum=0.9)),
        lambda: optax.chain(optax.clip_by_global_norm(0.1), optax.sgd(0.05, momentum=0.9)),
    ),
    "optax-statistic-jaxdl-learning-rate": (
        lambda: optim.chain(optax.scale_by_rms(), optim.scale_by_learning_rate(1e-3)),
        lambda: optax.rmsprop(1e-3),
    ),
}


@pytest.mark.parametrize("key", list(MIXED_CHAINS))
def test_chain_mixes_optax_and_jaxdl_transforms(key: str) -> None:
    ours, theirs = MIXED_CHAINS[key]
    params, loss = MLP.make(np.float32)
    path, expected = trajectories((ours(), theirs()), params, loss, 200)
    assert_trees_equal(path, expected)
    assert float(loss(jax.tree.map(lambda x: x[-1], path))) < float(loss(params))


def test_optax_utilities_accept_jaxdl_updates() -> None:
    params, loss = QUADRATIC.make(np.float32)
    opt = optim.adam(0.1)
    updates, _ = opt.update(jax.grad(loss)(params), opt.init(params), params)
    assert_trees_equal(optax.apply_updates(params, updates), optim.apply_updates(params, updates))


def test_chain_forwards_extra_arguments_to_transforms_that_take_them() -> None:
    """optax's ``reduce_on_plateau`` reads ``value=``; our chain passes it through."""
    opt = optim.chain(optim.sgd(1.0), optax.contrib.reduce_on_plateau(factor=0.5, patience=2))
    params = {"w": jnp.ones(2)}
    state = opt.init(params)
    scales = []
    for _ in range(6):
        updates, state = opt.update(params, state, params, value=jnp.asarray(1.0))
        scales.append(float(updates["w"][0]))
    assert scales[0] == -1.0
    assert scales[-1] < -0.0 and scales[-1] > -1.0  # halved once the loss plateaued


def test_chain_rejects_a_state_of_another_chain() -> None:
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.sgd(0.1))
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="chain: got a state for 1 transformations"):
        opt.update(params, (optim.EmptyState(),), params)


def test_apply_updates_keeps_each_dtype_and_none_leaves() -> None:
    params = {"half": jnp.ones(2, jnp.bfloat16), "none": None, "full": jnp.ones(2)}
    updates = {"half": jnp.full(2, 0.5), "none": None, "full": jnp.full(2, 0.25)}
    new = optim.apply_updates(params, updates)
    assert new["half"].dtype == jnp.bfloat16 and new["none"] is None
    np.testing.assert_array_equal(new["full"], [1.25, 1.25])
    np.testing.assert_array_equal(np.asarray(new["half"], np.float32), [1.5, 1.5])


@pytest.mark.parametrize("name", list(ALL_OPTIMIZERS))
def test_state_is_a_pytree_that_works_under_jit(name: str) -> None:
    opt = ALL_OPTIMIZERS[name]()
    params, loss = MLP.make(np.float32)
    state = opt.init(params)
    leaves, treedef = jax.tree.flatten(state)
    assert all(isinstance(leaf, jax.Array) for leaf in leaves)
    assert_trees_equal(jax.tree.unflatten(treedef, leaves), state)

    @jax.jit
    def step(p: Any, s: Any) -> tuple[Any, Any]:
        updates, s = opt.update(jax.grad(loss)(p), s, p)
        return optim.apply_updates(p, updates), s

    jitted_params, jitted_state = step(params, state)
    updates, eager_state = opt.update(jax.grad(loss)(params), state, params)
    eager_params = optim.apply_updates(params, updates)
    assert jax.tree.structure(jitted_state) == jax.tree.structure(eager_state) == treedef
    for a, b in zip(jax.tree.leaves(jitted_params), jax.tree.leaves(eager_params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert float(loss(jitted_params)) < float(loss(params))


TORCH_STYLE = {
    "torch.sgd": lambda: optim.torch.sgd(lr=0.1, momentum=0.9),
    "torch.adagrad": lambda: optim.torch.adagrad(),
    "torch.rmsprop": lambda: optim.torch.rmsprop(momentum=0.5, centered=True),
    "torch.adam": lambda: optim.torch.adam(amsgrad=True),
    "torch.adamw": lambda: optim.torch.adamw(),
    "torch.nadam": lambda: optim.torch.nadam(),
}


@pytest.mark.parametrize("name", list(ALL_OPTIMIZERS) + list(TORCH_STYLE))
def test_params_and_state_can_be_donated(name: str) -> None:
    """A training step donates params and state: no two state leaves may share a buffer."""
    opt = {**ALL_OPTIMIZERS, **TORCH_STYLE}[name]()
    params, loss = QUADRATIC.make(np.float32)
    params = jax.tree.map(jnp.copy, params)

    def step(p: Any, s: Any) -> tuple[Any, Any]:
        updates, s = opt.update(jax.grad(loss)(p), s, p)
        return optim.apply_updates(p, updates), s

    donating = jax.jit(step, donate_argnums=(0, 1))
    carry = (params, opt.init(params))
    start = float(loss(params))
    for _ in range(3):
        carry = donating(*carry)
    assert float(loss(carry[0])) < start


def _descend(opt_factory: Any, learning_rate: Any, params: Any, loss: Any, steps: int) -> Any:
    opt = opt_factory(learning_rate)

    def step(carry: Any, _: None) -> tuple[Any, None]:
        p, s = carry
        updates, s = opt.update(jax.grad(loss)(p), s, p)
        return (optim.apply_updates(p, updates), s), None

    (p, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return p


@pytest.mark.parametrize("name", ["momentum", "adam", "rmsprop"])
def test_vmap_over_a_batch_of_learning_rates(name: str) -> None:
    """A learning-rate sweep is one vmapped program: init and update traced per lane."""
    factory = getattr(optim, name)
    params, loss = QUADRATIC.make(np.float32)
    rates = jnp.array([0.003, 0.01, 0.03])
    swept = jax.jit(jax.vmap(lambda lr: _descend(factory, lr, params, loss, 100)))(rates)
    for i, rate in enumerate([0.003, 0.01, 0.03]):
        single = jax.jit(lambda p, r=rate: _descend(factory, r, p, loss, 100))(params)
        np.testing.assert_allclose(swept["x"][i], single["x"], rtol=2e-5, atol=1e-5)
    losses = jax.vmap(loss)(swept)
    assert len(set(np.asarray(losses).tolist())) == 3  # the lanes really differ


def test_vmap_over_a_batch_of_parameters() -> None:
    opt = optim.adam(0.05)
    _, loss = QUADRATIC.make(np.float32)
    batch = {"x": jax.random.normal(jax.random.PRNGKey(1), (4, 8)) * 3}
    states = jax.vmap(opt.init)(batch)
    assert states[0].count.shape == (4,) and states[0].mu["x"].shape == (4, 8)
    grads = jax.vmap(jax.grad(loss))(batch)
    updates, states = jax.vmap(opt.update)(grads, states, batch)
    for i in range(4):
        single = {"x": batch["x"][i]}
        expected, _ = opt.update(jax.grad(loss)(single), opt.init(single), single)
        np.testing.assert_allclose(updates["x"][i], expected["x"], rtol=1e-6)


def test_step_counters_are_int32_incremented_before_use_and_saturate() -> None:
    opt = optim.scale_by_adam()
    params = {"w": jnp.array([1.0])}
    state = opt.init(params)
    assert state.count.dtype == jnp.int32 and int(state.count) == 0
    first, state = opt.update(params, state)
    assert int(state.count) == 1
    np.testing.assert_allclose(first["w"], [1.0], rtol=1e-5)  # bias-corrected with t = 1

    top = jnp.iinfo(jnp.int32).max
    saturated = state._replace(count=jnp.asarray(top - 1, jnp.int32))
    for _ in range(3):
        updates, saturated = opt.update(params, saturated)
        assert saturated.count.dtype == jnp.int32 and int(saturated.count) == top
        assert bool(jnp.all(jnp.isfinite(updates["w"])))

    schedule = optim.scale_by_schedule(lambda count: count.astype(jnp.float32))
    schedule_state = optim.ScaleByScheduleState(count=jnp.asarray(top, jnp.int32))
    _, schedule_state = schedule.update(params, schedule_state)
    assert int(schedule_state.count) == top


def test_optimizer_built_inside_jit_from_a_traced_learning_rate() -> None:
    params, loss = QUADRATIC.make(np.float32)

    @jax.jit
    def step(learning_rate: jax.Array, p: Any) -> Any:
        opt = optim.adam(learning_rate)
        updates, _ = opt.update(jax.grad(loss)(p), opt.init(p), p)
        return optim.apply_updates(p, updates)

    opt = optim.adam(0.1)
    updates, _ = opt.update(jax.grad(loss)(params), opt.init(params), params)
    expected = optim.apply_updates(params, updates)
    np.testing.assert_allclose(step(jnp.asarray(0.1), params)["x"], expected["x"], rtol=1e-6)


def test_identity_and_scale() -> None:
    params = {"w": jnp.array([2.0, -4.0])}
    updates, state = optim.identity().update(params, optim.identity().init(params))
    assert updates is params and state == optim.EmptyState()
    scaled, _ = optim.scale(-0.5).update(params, optim.EmptyState())
    np.testing.assert_array_equal(scaled["w"], [-1.0, 2.0])


def test_every_public_name_is_documented() -> None:
    public = [(optim, name) for name in optim.__all__] + [
        (optim.torch, name) for name in optim.torch.__all__
    ]
    checked = 0
    for module, name in public:
        obj = getattr(module, name)
        if inspect.isfunction(obj) or (inspect.isclass(obj) and obj.__module__ != "typing"):
            assert obj.__doc__ and obj.__doc__.strip(), f"{module.__name__}.{name}: no docstring"
            checked += 1
    assert checked > 40

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl import optim
from jaxdl.train import TrainState


def _state(optimizer=None):
    optimizer = optimizer or optim.adam(1e-2)
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    return TrainState.create(params=params, optimizer=optimizer), optimizer


def test_train_state_fields_are_all_pytree_children():
    ts, _ = _state()
    leaves = jax.tree_util.tree_leaves(ts)
    assert ts.step.dtype == jnp.int32 and ts.step.shape == ()
    assert leaves[0] is ts.step
    assert len(leaves) == 1 + 2 + len(jax.tree_util.tree_leaves(ts.opt_state))


def test_train_state_builds_by_keyword_and_position():
    ts, _ = _state()
    assert TrainState(ts.step, ts.params, ts.state, ts.opt_state) == TrainState(
        step=ts.step, params=ts.params, state=ts.state, opt_state=ts.opt_state
    )


def test_apply_gradients_matches_manual_update():
    ts, opt = _state()
    grads = {"w": jnp.full((2, 3), 0.5), "b": jnp.arange(3.0)}
    updates, opt_state = opt.update(grads, ts.opt_state, ts.params)
    expected = optim.apply_updates(ts.params, updates)
    new = ts.apply_gradients(grads, opt)
    assert int(new.step) == 1
    jax.tree_util.tree_map(np.testing.assert_array_equal, new.params, expected)
    jax.tree_util.tree_map(np.testing.assert_array_equal, new.opt_state, opt_state)


def test_train_state_works_with_an_optax_optimizer():
    ts, opt = _state(optax.sgd(0.1))
    new = ts.apply_gradients({"w": jnp.ones((2, 3)), "b": jnp.ones(3)}, opt)
    np.testing.assert_allclose(new.params["w"], 0.9)


def test_jitted_update_compiles_once_across_steps():
    ts, opt = _state()
    traces = []

    @jax.jit
    def update(ts, grads):
        traces.append(1)
        return ts.apply_gradients(grads, opt)

    grads = {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}
    for _ in range(3):
        ts = update(ts, grads)
    assert len(traces) == 1 and int(ts.step) == 3

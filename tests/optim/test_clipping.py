"""Global-norm clipping and weight decay against optax and against their formulas."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optim_problems import MLP, assert_trees_equal, trajectories

from jaxdl import optim


def _tree(scale: float) -> dict:
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    return {
        "dense": {
            "w": scale * jax.random.normal(keys[0], (5, 7)),
            "b": scale * jax.random.normal(keys[1], (7,)),
        },
        "scalar": scale * jax.random.normal(keys[2], ()),
    }


def test_global_norm_is_the_norm_of_all_elements() -> None:
    tree = _tree(1.0)
    flat = np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)]).astype(np.float64)
    np.testing.assert_allclose(optim.global_norm(tree), np.linalg.norm(flat), rtol=1e-6)
    np.testing.assert_array_equal(optim.global_norm(tree), optax.tree.norm(tree))
    assert optim.global_norm({"a": jnp.array([3.0]), "b": jnp.array([[4.0]])}) == 5.0


@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_clip_by_global_norm(scale: float) -> None:
    max_norm = 2.0
    grads = _tree(scale)
    norm = float(optim.global_norm(grads))
    opt = optim.clip_by_global_norm(max_norm)
    clipped, state = opt.update(grads, opt.init(grads))
    expected, _ = optax.clip_by_global_norm(max_norm).update(grads, optax.EmptyState())
    assert_trees_equal(clipped, expected)
    if norm < max_norm:
        assert_trees_equal(clipped, grads)
    else:
        np.testing.assert_allclose(optim.global_norm(clipped), max_norm, rtol=1e-6)
        for c, g in zip(jax.tree.leaves(clipped), jax.tree.leaves(grads), strict=True):
            np.testing.assert_allclose(c, g * (max_norm / norm), rtol=1e-6)
    assert state == optim.EmptyState()


def test_clipped_adam_trajectory_is_bitwise_optax() -> None:
    params, loss = MLP.make(np.float32)
    path, expected = trajectories(
        (
            optim.chain(optim.clip_by_global_norm(0.1), optim.adam(3e-3)),
            optax.chain(optax.clip_by_global_norm(0.1), optax.adam(3e-3)),
        ),
        params,
        loss,
        300,
    )
    assert_trees_equal(path, expected)


def test_max_norm_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"clip_by_global_norm: max_norm must be in \(0, inf\)"):
        optim.clip_by_global_norm(0.0)


@pytest.mark.parametrize(
    "mask",
    [
        None,
        {"w": True, "b": False},
        lambda p: jax.tree.map(lambda x: x.ndim > 1, p),
    ],
    ids=["none", "tree", "callable"],
)
def test_add_decayed_weights(mask: object) -> None:
    params = {"w": jnp.array([[1.0, -2.0]]), "b": jnp.array([4.0])}
    grads = {"w": jnp.array([[0.5, 0.5]]), "b": jnp.array([0.5])}
    opt = optim.add_decayed_weights(0.1, mask)
    updates, _ = opt.update(grads, opt.init(params), params)
    np.testing.assert_allclose(updates["w"], [[0.6, 0.3]], rtol=1e-6)
    np.testing.assert_allclose(updates["b"], [0.9] if mask is None else [0.5], rtol=1e-6)
    expected, _ = optax.add_decayed_weights(0.1, mask).update(
        grads, optax.add_decayed_weights(0.1, mask).init(params), params
    )
    assert_trees_equal(updates, expected)


def test_mask_may_be_a_prefix_of_the_params() -> None:
    params = {"encoder": {"w": jnp.ones(2), "b": jnp.ones(2)}, "head": jnp.ones(3)}
    opt = optim.add_decayed_weights(1.0, mask={"encoder": False, "head": True})
    zeros = jax.tree.map(jnp.zeros_like, params)
    updates, _ = opt.update(zeros, opt.init(params), params)
    assert float(jnp.sum(jnp.abs(updates["encoder"]["w"]) + updates["encoder"]["b"])) == 0.0
    np.testing.assert_array_equal(updates["head"], jnp.ones(3))


def test_weight_decay_needs_params_and_zero_decay_does_not() -> None:
    grads = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="add_decayed_weights: update needs the parameters"):
        opt = optim.add_decayed_weights(0.1)
        opt.update(grads, opt.init(grads))
    opt = optim.add_decayed_weights(0.0)
    updates, _ = opt.update(grads, opt.init(grads))  # decay 0: params not needed
    assert updates is grads

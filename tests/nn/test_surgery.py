"""Model surgery: Sequential indexing, Bound, graft and Frozen."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, nn

X = jnp.ones((4, 3))
MODEL = nn.Sequential([nn.Dense(8), activations.relu, nn.Dense(2)])


@pytest.fixture(scope="module")
def trained():
    return MODEL.bind(*MODEL.init(jax.random.key(0), X))


def test_indexing_a_sequential_by_position_and_name():
    named = nn.Sequential({"encoder": nn.Dense(4), "head": nn.Dense(2)})
    assert MODEL[0] == nn.Dense(8) and MODEL[-1] == nn.Dense(2)
    assert named["head"] == nn.Dense(2) and len(named) == 2


def test_a_slice_keeps_the_layer_names():
    part = MODEL[1:]
    assert isinstance(part, nn.Sequential) and part.names == ("1", "2")
    assert MODEL[:2] == nn.Sequential([nn.Dense(8), activations.relu])


@pytest.mark.parametrize(
    "index, error", [(3, IndexError), ("head", KeyError), (1.0, TypeError), (True, TypeError)]
)
def test_bad_indices_raise(index, error):
    with pytest.raises(error):
        MODEL[index]


def test_a_bound_slice_carries_the_matching_params(trained):
    part = trained[:2]
    assert set(part.params) == {"0", "1"}
    np.testing.assert_array_equal(part.params["0"]["w"], trained.params["0"]["w"])
    hidden = jax.nn.relu(X @ trained.params["0"]["w"] + trained.params["0"]["b"])
    np.testing.assert_allclose(part(X), hidden, rtol=1e-6)


def test_a_bound_layer_unpacks(trained):
    model, params, state = trained[-1]
    assert model == nn.Dense(2) and params["w"].shape == (8, 2) and state == {}


def test_graft_by_names_transplants_a_prefix(trained):
    new = nn.Sequential({"0": nn.Dense(8), "1": activations.relu, "head": nn.Dense(5)})
    fresh = new.bind(*new.init(jax.random.key(1), X))
    grafted = nn.graft(fresh, trained[:2])
    np.testing.assert_array_equal(grafted.params["0"]["w"], trained.params["0"]["w"])
    np.testing.assert_array_equal(grafted.params["head"]["w"], fresh.params["head"]["w"])
    assert grafted.model is new


def test_graft_at_a_named_entry(trained):
    new = nn.Sequential({"encoder": MODEL[:2], "head": nn.Dense(5)})
    fresh = new.bind(*new.init(jax.random.key(1), X))
    grafted = nn.graft(fresh, trained[:2], at="encoder")
    y, _ = new.apply(grafted.params, grafted.state, X)
    assert y.shape == (4, 5)
    np.testing.assert_array_equal(grafted.params["encoder"]["0"]["b"], trained.params["0"]["b"])


def test_graft_does_not_modify_its_inputs(trained):
    new = nn.Sequential({"0": nn.Dense(8), "1": activations.relu, "head": nn.Dense(5)})
    fresh = new.bind(*new.init(jax.random.key(1), X))
    before = np.asarray(fresh.params["0"]["w"]).copy()
    nn.graft(fresh, trained[:2])
    np.testing.assert_array_equal(fresh.params["0"]["w"], before)


def test_a_mismatched_graft_names_both_sides(trained):
    new = nn.Sequential([nn.Dense(16), activations.relu, nn.Dense(2)])
    fresh = new.bind(*new.init(jax.random.key(1), X))
    with pytest.raises(ValueError, match=r"entry '0'.*float32\[3,16\].*float32\[3,8\]"):
        nn.graft(fresh, trained[:1])


def test_a_graft_with_unknown_names_raises(trained):
    new = nn.Sequential({"encoder": nn.Dense(8), "head": nn.Dense(2)})
    fresh = new.bind(*new.init(jax.random.key(1), X))
    with pytest.raises(ValueError, match="no namesake"):
        nn.graft(fresh, trained[:1])


@pytest.mark.parametrize(
    "build, error",
    [
        (lambda t: nn.graft(t.params, t), TypeError),
        (lambda t: nn.graft(t, t[0]), ValueError),
        (lambda t: nn.Bound(MODEL, {"0": {}}, {}), ValueError),
        (lambda t: nn.Bound("model", {}, {}), TypeError),
        (lambda t: t[0][0], TypeError),
    ],
    ids=[
        "target_not_bound",
        "single_layer_without_at",
        "params_entries",
        "not_a_layer",
        "index_a_layer",
    ],
)
def test_bad_surgery_raises(trained, build, error):
    with pytest.raises(error):
        build(trained)


def test_frozen_params_get_no_gradient_but_the_input_does():
    frozen = nn.Frozen(nn.Dense(2))
    params, state = frozen.init(jax.random.key(0), X)
    grads = jax.grad(lambda p, x: frozen.apply(p, state, x)[0].sum(), argnums=(0, 1))
    param_grads, input_grads = grads(params, X)
    assert all(not np.any(g) for g in jax.tree.leaves(param_grads))
    np.testing.assert_allclose(
        input_grads, np.broadcast_to(params["w"].sum(axis=1), X.shape), rtol=1e-6
    )


def test_frozen_batch_norm_keeps_its_running_statistics():
    frozen = nn.Frozen(nn.BatchNorm())
    x = jax.random.normal(jax.random.key(0), (16, 3)) * 5 + 2
    params, state = frozen.init(jax.random.key(1), x)
    y, new_state = frozen.apply(params, state, x, train=True)
    assert _same(new_state, state)
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-5), rtol=1e-5)  # running mean 0, var 1


def test_frozen_with_inference_off_follows_train():
    frozen = nn.Frozen(nn.BatchNorm(), inference=False)
    x = jax.random.normal(jax.random.key(0), (16, 3)) * 5 + 2
    params, state = frozen.init(jax.random.key(1), x)
    _, new_state = frozen.apply(params, state, x, train=True)
    assert not _same(new_state, state)


def test_frozen_dropout_is_not_random():
    assert not nn.Frozen(nn.Dropout(0.5)).is_random
    assert nn.Frozen(nn.Dropout(0.5), inference=False).is_random


def test_frozen_is_hashable_and_equal_for_equal_layers():
    assert nn.Frozen(nn.Dense(2)) == nn.Frozen(nn.Dense(2))
    assert hash(nn.Frozen(nn.Dense(2))) == hash(nn.Frozen(nn.Dense(2)))
    assert nn.Frozen(nn.Dense(2)) != nn.Frozen(nn.Dense(3))


@pytest.mark.parametrize("kwargs", [{"layer": "dense"}, {"layer": nn.Dense(2), "inference": 1}])
def test_frozen_rejects_bad_arguments(kwargs):
    with pytest.raises(TypeError):
        nn.Frozen(**kwargs)


def _same(a, b):
    return all(
        np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )

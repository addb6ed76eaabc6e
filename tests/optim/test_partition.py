"""Partial training: masked, set_to_zero, multi_transform, freeze, selective_transform."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optim_problems import MLP, all_finite, assert_trees_equal, final, trajectories

from jaxdl import nn, optim, train
from jaxdl.losses import softmax_cross_entropy

STEPS = 200
MASK = {"hidden": True, "out": False}
LEAF_MASK = {"hidden": {"w": True, "b": False}, "out": {"w": False, "b": True}}
LABELS = {"hidden": "adam", "out": "sgd"}


def _ndim_mask(params):
    return jax.tree.map(lambda x: x.ndim == 2, params)


def _inverse(mask):
    return jax.tree.map(lambda m: not m, mask)


# (ours, optax's) for each case. ``masked`` passes the unmasked gradients through as
# they are, so each masked case also transforms the rest, to descend.
CASES = {
    "masked_adam": (
        lambda: optim.chain(
            optim.masked(optim.adam(3e-3), MASK), optim.masked(optim.sgd(0.05), _inverse(MASK))
        ),
        lambda: optax.chain(
            optax.masked(optax.adam(3e-3), MASK), optax.masked(optax.sgd(0.05), _inverse(MASK))
        ),
    ),
    "masked_leaves": (
        lambda: optim.chain(
            optim.masked(optim.rmsprop(3e-3), LEAF_MASK),
            optim.masked(optim.adagrad(0.05), _inverse(LEAF_MASK)),
        ),
        lambda: optax.chain(
            optax.masked(optax.rmsprop(3e-3), LEAF_MASK),
            optax.masked(optax.adagrad(0.05), _inverse(LEAF_MASK)),
        ),
    ),
    "masked_function": (
        lambda: optim.chain(
            optim.masked(optim.add_decayed_weights(1e-2), _ndim_mask), optim.sgd(0.05, momentum=0.9)
        ),
        lambda: optax.chain(
            optax.masked(optax.add_decayed_weights(1e-2), _ndim_mask), optax.sgd(0.05, momentum=0.9)
        ),
    ),
    "set_to_zero_in_chain": (
        lambda: optim.chain(optim.adam(3e-3), optim.masked(optim.set_to_zero(), MASK)),
        lambda: optax.chain(optax.adam(3e-3), optax.masked(optax.set_to_zero(), MASK)),
    ),
    "multi_transform": (
        lambda: optim.multi_transform({"adam": optim.adam(3e-3), "sgd": optim.sgd(0.05)}, LABELS),
        lambda: optax.multi_transform({"adam": optax.adam(3e-3), "sgd": optax.sgd(0.05)}, LABELS),
    ),
    "freeze": (
        lambda: optim.chain(optim.freeze(MASK), optim.nadam(3e-3)),
        lambda: optax.chain(optax.freeze(MASK), optax.nadam(3e-3)),
    ),
    "selective_transform": (
        lambda: optim.selective_transform(optim.adamw(3e-3), freeze_mask=MASK),
        lambda: optax.selective_transform(optax.adamw(3e-3), freeze_mask=MASK),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_float32_trajectory_is_bitwise_optax(case):
    ours, theirs = CASES[case]
    params, loss = MLP.make(np.float32)
    path, expected = trajectories((ours(), theirs()), params, loss, STEPS)
    assert all_finite(path)
    assert float(loss(final(path))) < float(loss(params))
    assert_trees_equal(path, expected)


@pytest.mark.parametrize("case", sorted(CASES))
def test_eager_updates_are_bitwise_optax(case):
    ours, theirs = (build() for build in CASES[case])
    params, loss = MLP.make(np.float32)
    mine, reference = params, params
    state, reference_state = ours.init(params), theirs.init(params)
    for _ in range(3):
        updates, state = ours.update(jax.grad(loss)(mine), state, mine)
        mine = optim.apply_updates(mine, updates)
        updates, reference_state = theirs.update(
            jax.grad(loss)(reference), reference_state, reference
        )
        reference = optax.apply_updates(reference, updates)
    assert_trees_equal(mine, reference)


def test_selective_transform_keeps_frozen_params_exactly():
    params, loss = MLP.make(np.float32)
    opt = optim.selective_transform(optim.adam(3e-3), freeze_mask=MASK)
    (path,) = trajectories((opt,), params, loss, 20)
    assert_trees_equal(final(path)["hidden"], params["hidden"])
    assert not np.array_equal(final(path)["out"]["w"], params["out"]["w"])


def test_frozen_leaves_have_no_optimizer_state():
    params, _ = MLP.make(np.float32)
    state = optim.selective_transform(optim.adam(3e-3), freeze_mask=MASK).init(params)
    adam_state = state.inner_states["train"].inner_state[0]  # chain(scale_by_adam, lr)
    assert adam_state.mu["hidden"] == optim.MaskedNode()
    assert adam_state.mu["out"]["w"].shape == params["out"]["w"].shape
    assert jax.tree.leaves(state.inner_states["freeze"]) == []


def test_set_to_zero_zeroes_every_update_and_keeps_no_state():
    tree = {"a": jnp.arange(3.0), "b": {"c": jnp.ones((2, 2))}}
    transform = optim.set_to_zero()
    updates, state = transform.update(tree, transform.init(tree))
    assert all(not np.any(np.asarray(u)) for u in jax.tree.leaves(updates))
    assert jax.tree.leaves(state) == []


def test_masked_passes_unmasked_updates_through_unchanged():
    grads = {"a": jnp.array([2.0]), "b": jnp.array([3.0])}
    transform = optim.masked(optim.sgd(0.5), {"a": True, "b": False})
    updates, _ = transform.update(grads, transform.init(grads))
    assert float(updates["a"][0]) == -1.0 and float(updates["b"][0]) == 3.0


def test_a_scalar_freeze_mask_freezes_everything():
    params, loss = MLP.make(np.float32)
    (path,) = trajectories((optim.chain(optim.freeze(True), optim.adam(1e-2)),), params, loss, 5)
    assert_trees_equal(final(path), params)


def test_equal_masks_give_the_same_transformation():
    adam = optim.adam(1e-3)
    first = optim.selective_transform(adam, freeze_mask={"a": True, "b": False})
    assert first is optim.selective_transform(adam, freeze_mask={"a": True, "b": False})
    assert first is not optim.selective_transform(adam, freeze_mask={"a": False, "b": False})


def test_later_edits_of_the_mask_do_not_change_the_transformation():
    mask = {"a": True, "b": False}
    transform = optim.masked(optim.sgd(1.0), mask)
    mask["b"] = True
    grads = {"a": jnp.ones(1), "b": jnp.ones(1)}
    updates, _ = transform.update(grads, transform.init(grads))
    assert float(updates["b"][0]) == 1.0


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: optim.masked(optim.sgd(0.1), {"hidden": True}), ValueError, "prefix of it"),
        (lambda: optim.masked(optim.sgd(0.1), {"hidden": 1, "out": 0}), TypeError, "Python bools"),
        (lambda: optim.masked(optim.sgd, MASK), TypeError, "GradientTransformation"),
        (
            lambda: optim.multi_transform({"adam": optim.adam(0.1)}, LABELS),
            ValueError,
            "'sgd' has no transformation",
        ),
        (lambda: optim.multi_transform([optim.adam(0.1)], LABELS), TypeError, "non-empty dict"),
        (lambda: optim.multi_transform({"a": 3}, LABELS), TypeError, r"transforms\['a'\]"),
        (
            lambda: optim.selective_transform(optim.adam(0.1), freeze_mask={"hidden": "yes"}),
            TypeError,
            "Python bools",
        ),
    ],
    ids=[
        "mask_structure",
        "mask_ints",
        "inner_factory",
        "missing_label",
        "transforms_list",
        "transform_int",
        "freeze_mask_str",
    ],
)
def test_bad_arguments_raise_clear_errors(build, error, match):
    params, _ = MLP.make(np.float32)
    with pytest.raises(error, match=match):
        build().init(params)


def test_fit_trains_only_the_unfrozen_layers():
    x = jax.random.normal(jax.random.key(0), (64, 6))
    y = (x[:, 0] > 0).astype(jnp.int32)
    model = nn.Sequential({"body": nn.Dense(8), "head": nn.Dense(2)})
    params, state = model.init(jax.random.key(1), x)
    opt = optim.selective_transform(optim.adam(1e-2), freeze_mask={"body": True, "head": False})
    start = train.TrainState.create(params=params, state=state, optimizer=opt)
    trained, history = train.fit(
        model,
        opt,
        (x, y),
        loss=softmax_cross_entropy,
        epochs=3,
        batch_size=16,
        key=jax.random.key(2),
        progress=False,
        train_state=start,
    )
    assert_trees_equal(trained.params["body"], params["body"])
    assert not np.array_equal(trained.params["head"]["w"], params["head"]["w"])
    assert history["loss"][-1] < history["loss"][0]

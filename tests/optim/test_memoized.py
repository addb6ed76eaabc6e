"""Optimizer factories return the same object for equal arguments."""

import jax.numpy as jnp
import pytest

from jaxdl import optim


@pytest.mark.parametrize(
    "factory, args",
    [
        (optim.adam, (1e-3,)),
        (optim.sgd, (0.1, 0.9)),
        (optim.adadelta, ()),
        (optim.torch.adam, (1e-3,)),
        (optim.clip_by_global_norm, (1.0,)),
        (optim.cosine_decay_schedule, (0.1, 100)),
    ],
    ids=["adam", "sgd", "adadelta", "torch.adam", "clip", "cosine"],
)
def test_equal_arguments_give_the_same_object(factory, args):
    assert factory(*args) is factory(*args)


def test_different_values_and_types_give_different_objects():
    assert optim.adam(1e-3) is not optim.adam(1e-2)
    assert optim.sgd(1) is not optim.sgd(1.0)
    assert optim.sgd(0.1, momentum=0.9) is not optim.sgd(0.1, momentum=0.8)


def test_a_chain_of_equal_transforms_is_the_same_chain():
    build = lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.adam(1e-3))  # noqa: E731
    assert build() is build()


def test_array_arguments_build_a_new_object_each_time():
    rate = jnp.float32(0.1)
    assert optim.sgd(rate) is not optim.sgd(rate)


def test_bad_arguments_raise_on_every_call():
    for _ in range(2):
        with pytest.raises(ValueError):
            optim.adam(-1.0)


def test_the_factory_keeps_its_name_signature_and_docstring():
    import inspect

    assert optim.adam.__name__ == "adam"
    assert "learning_rate" in inspect.signature(optim.adam).parameters
    assert "Adam" in optim.adam.__doc__


def test_equal_containers_of_hashable_leaves_give_the_same_object():
    mask = {"a": True, "b": {"c": False}}
    assert optim.freeze(mask) is optim.freeze({"a": True, "b": {"c": False}})
    assert optim.freeze(mask) is not optim.freeze({"a": True, "b": {"c": True}})


def test_containers_compare_leaf_types():
    from jaxdl.optim._base import memoized

    build = memoized(lambda tree: object())
    assert build({"a": [1, 2]}) is build({"a": [1, 2]})
    assert build({"a": [1, 2]}) is not build({"a": [1.0, 2]})
    assert build({"a": jnp.ones(2)}) is not build({"a": jnp.ones(2)})  # arrays: never

"""`all_finite`, the state check of fit's divergence detection, on mixed-dtype trees."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.train._divergence import all_finite, jit_all_finite


def _tree(**overrides):
    tree = {
        "w": jnp.ones((3, 4), jnp.float32),
        "h": jnp.ones((5,), jnp.bfloat16),
        "z": jnp.ones((2,), jnp.complex64),
        "count": jnp.array(7, jnp.int32),
        "scalar": jnp.array(2.0, jnp.float32),
    }
    tree.update(overrides)
    return tree


def test_finite_mixed_dtype_tree_is_finite():
    assert bool(all_finite(_tree())) is True


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("w", jnp.ones((3, 4), jnp.float32).at[2, 3].set(jnp.nan)),
        ("h", jnp.ones((5,), jnp.bfloat16).at[0].set(jnp.inf)),
        ("z", jnp.array([1.0, complex(0.0, np.inf)], jnp.complex64)),
        ("scalar", jnp.array(-jnp.inf, jnp.float32)),
    ],
)
def test_one_non_finite_value_in_any_floating_leaf_is_found(name, bad):
    assert bool(all_finite(_tree(**{name: bad}))) is False
    assert bool(jit_all_finite(_tree(**{name: bad}))) is False


def test_integer_leaves_and_empty_trees_count_as_finite():
    assert bool(all_finite({"count": jnp.array(3), "steps": np.arange(4)})) is True
    assert bool(all_finite({})) is True


def test_largest_finite_float32_is_finite():
    big = jnp.full((4,), jnp.finfo(jnp.float32).max)
    assert bool(all_finite({"a": big, "b": big})) is True

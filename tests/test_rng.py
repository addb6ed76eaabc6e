"""Flat draws reshaped equal shaped draws bit for bit (jaxdl/_rng.py)."""

import jax
import numpy as np
import pytest

from jaxdl import _rng

SHAPES = [(3,), (256, 10), (784, 512), (5, 5, 1, 32), (2, 0, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(
    "ours, theirs",
    [
        (
            lambda k, s: _rng.uniform(k, s, "float32", -0.3, 0.7),
            lambda k, s: jax.random.uniform(k, s, "float32", -0.3, 0.7),
        ),
        (
            lambda k, s: _rng.normal(k, s, "float32"),
            lambda k, s: jax.random.normal(k, s, "float32"),
        ),
        (
            lambda k, s: _rng.truncated_normal(k, -2.0, 2.0, s, "float32"),
            lambda k, s: jax.random.truncated_normal(k, -2.0, 2.0, s, "float32"),
        ),
        (lambda k, s: _rng.bernoulli(k, 0.3, s), lambda k, s: jax.random.bernoulli(k, 0.3, s)),
    ],
    ids=["uniform", "normal", "truncated_normal", "bernoulli"],
)
def test_a_flat_draw_reshaped_equals_the_shaped_draw(ours, theirs, shape):
    key = jax.random.key(11)
    ours_value, theirs_value = ours(key, shape), theirs(key, shape)
    assert ours_value.shape == shape
    np.testing.assert_array_equal(ours_value, theirs_value)

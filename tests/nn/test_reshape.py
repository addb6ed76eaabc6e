import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import nn


def test_flatten_keeps_batch_and_reads_each_sample_in_row_major_order():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    y, state = nn.Flatten().apply({}, {}, x)
    assert y.shape == (2, 60)
    np.testing.assert_array_equal(y[1], x[1].ravel())  # NHWC: channels innermost
    assert state == {}


def test_flatten_gives_a_feature_axis_to_a_batch_of_scalars():
    y, _ = nn.Flatten().apply({}, {}, np.arange(3.0))
    np.testing.assert_array_equal(y, [[0.0], [1.0], [2.0]])


def test_flatten_keeps_the_dtype():
    y, _ = nn.Flatten().apply({}, {}, np.ones((2, 2, 2), np.int8))
    assert y.dtype == jnp.int8


def test_flatten_init_from_shape_dtype_struct_has_no_params_or_state():
    spec = jax.ShapeDtypeStruct((4, 5, 5, 16), jnp.float32)
    assert nn.Flatten().init(jax.random.key(0), spec) == ({}, {})


def test_flatten_without_batch_axis_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Flatten\(\): expected .* \(batch\), got \(\)"):
        nn.Flatten().apply({}, {}, np.float32(1.0))


def test_flatten_instances_are_equal_and_hash_equal():
    assert nn.Flatten() == nn.Flatten() and hash(nn.Flatten()) == hash(nn.Flatten())


def test_flatten_gradient_matches_finite_differences(x64):
    x = np.random.default_rng(0).standard_normal((2, 3, 2, 2))
    weights = np.random.default_rng(1).standard_normal((2, 12))

    @jax.jit
    def loss(v):
        return jnp.sum(jnp.sin(nn.Flatten().apply({}, {}, v)[0]) * weights)

    assert_grad_matches_finite_differences(loss, x)


def test_flatten_jit_and_vmap_match_eager():
    xs = np.random.default_rng(0).standard_normal((3, 2, 4, 5)).astype(np.float32)
    flat = jax.jit(jax.vmap(lambda x: nn.Flatten().apply({}, {}, x)[0]))(xs)
    np.testing.assert_array_equal(flat, xs.reshape(3, 2, 20))


def test_reshape_reshapes_each_sample_row_major():
    x = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3, 1)
    y, state = nn.Reshape((4, 3)).apply({}, {}, x)
    np.testing.assert_array_equal(y, x.reshape(2, 4, 3))
    assert state == {}


def test_reshape_infers_one_axis():
    y, _ = nn.Reshape((-1, 2)).apply({}, {}, np.zeros((5, 3, 4)))
    assert y.shape == (5, 6, 2)


def test_reshape_rejects_incompatible_size_naming_shapes():
    with pytest.raises(ValueError, match=r"Reshape\(shape=\(5, 5\)\).*\(28, 28\)"):
        nn.Reshape((5, 5)).init(jax.random.key(0), np.zeros((1, 28, 28)))


def test_reshape_rejects_bad_shapes_and_compares_by_shape():
    with pytest.raises(ValueError, match="at most one -1"):
        nn.Reshape((-1, -1))
    assert nn.Reshape([2, 3]) == nn.Reshape((2, 3)) != nn.Reshape((3, 2))
    assert hash(nn.Reshape([2, 3])) == hash(nn.Reshape((2, 3)))

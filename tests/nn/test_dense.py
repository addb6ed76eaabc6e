import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import activations, initializers, nn


def test_dense_computes_affine_map():
    layer = nn.Dense(3)
    x = jnp.arange(8.0).reshape(4, 2)
    params = {"w": jnp.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]]), "b": jnp.array([0.5, 0, 1])}
    y, state = layer.apply(params, {}, x)
    np.testing.assert_allclose(y, np.asarray(x) @ params["w"] + params["b"])
    assert state == {}


def test_dense_params_have_documented_shapes_and_input_dtype():
    params, state = nn.Dense(7).init(jax.random.key(0), jnp.zeros((2, 5), jnp.float16))
    assert params["w"].shape == (5, 7) and params["b"].shape == (7,)
    assert params["w"].dtype == jnp.float16
    assert state == {}


def test_dense_integer_input_gets_float32_params():
    params, _ = nn.Dense(2).init(jax.random.key(0), jnp.zeros((1, 3), jnp.int32))
    assert params["w"].dtype == jnp.float32


def test_dense_accepts_numpy_params_and_shape_dtype_struct():
    layer = nn.Dense(2)
    params, _ = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 3), jnp.float32))
    numpy_params = jax.tree_util.tree_map(np.asarray, params)
    y, _ = layer.apply(numpy_params, {}, np.ones((4, 3), np.float32))
    assert isinstance(y, jax.Array) and y.shape == (4, 2)


def test_dense_wrong_input_size_names_layer_and_shapes():
    layer = nn.Dense(4)
    params, _ = layer.init(jax.random.key(0), jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"Dense\(features=4\).*\(batch, 3\).*\(2, 5\)"):
        layer.apply(params, {}, jnp.zeros((2, 5)))


def test_dense_rejects_bad_features():
    with pytest.raises(ValueError, match="features must be an int ≥ 1"):
        nn.Dense(0)


def test_dense_hashes_by_hyperparameters():
    assert nn.Dense(3) == nn.Dense(3) and hash(nn.Dense(3)) == hash(nn.Dense(3))
    assert nn.Dense(3) != nn.Dense(3, activation=activations.relu)
    assert nn.Dense(3) != nn.Dense(3, kernel_init=initializers.he_normal())


def test_dense_gradient_matches_finite_differences(x64):
    layer = nn.Dense(3, activation=activations.tanh)
    x = jax.random.normal(jax.random.key(1), (4, 5), jnp.float64)
    params, _ = layer.init(jax.random.key(0), x)
    weights = jax.random.normal(jax.random.key(2), (4, 3), jnp.float64)

    def loss(p, v):
        return jnp.sum(layer.apply(p, {}, v)[0] * weights)

    assert_grad_matches_finite_differences(loss, params, x, argnums=(0, 1))

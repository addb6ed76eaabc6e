import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import nn


def random_input(shape, dtype=np.float32, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def reference_upsampling(x, factors):
    for axis, r in enumerate(factors, start=1):
        x = np.repeat(x, r, axis=axis)
    return x


@pytest.mark.parametrize(
    ("layer", "shape", "factors"),
    [
        (nn.UpSampling1D(3), (2, 5, 3), (3,)),
        (nn.UpSampling1D((1,)), (2, 5, 3), (1,)),
        (nn.UpSampling2D(2), (2, 3, 4, 3), (2, 2)),
        (nn.UpSampling2D((3, 1)), (1, 3, 2, 2), (3, 1)),
        (nn.UpSampling2D((2, 3)), (2, 2, 3, 1), (2, 3)),
    ],
)
def test_upsampling_repeats_each_element_along_the_spatial_axes(layer, shape, factors):
    x = random_input(shape)
    y, state = layer.apply({}, {}, x)
    np.testing.assert_array_equal(y, reference_upsampling(x, factors))
    assert state == {}


def test_upsampling_default_size_is_two_as_keras():
    assert nn.UpSampling2D() == nn.UpSampling2D((2, 2))
    y, _ = nn.UpSampling2D().apply({}, {}, jnp.zeros((4, 7, 5, 3)))
    assert y.shape == (4, 14, 10, 3)


def test_upsampling_has_no_params_and_keeps_integer_dtypes():
    x = np.arange(6, dtype=np.int32).reshape(1, 3, 2)
    params, state = nn.UpSampling1D(2).init(jax.random.key(0), x)
    y, _ = nn.UpSampling1D(2).apply(params, state, x)
    assert params == {} and state == {}
    assert y.dtype == jnp.int32
    np.testing.assert_array_equal(y, np.repeat(x, 2, axis=1))


@pytest.mark.parametrize(
    ("layer", "shape"), [(nn.UpSampling1D(3), (2, 4, 2)), (nn.UpSampling2D((2, 3)), (1, 3, 2, 2))]
)
def test_upsampling_gradient_matches_finite_differences(x64, layer, shape):
    x = random_input(shape, np.float64)
    out_shape = jax.eval_shape(lambda v: layer.apply({}, {}, v)[0], x).shape
    weights = random_input(out_shape, np.float64, seed=2)

    def loss(v):
        return jnp.sum(layer.apply({}, {}, v)[0] * weights)

    assert_grad_matches_finite_differences(loss, x)


def test_upsampling_gradient_sums_over_each_block():
    x = random_input((1, 2, 3, 1))
    grads = jax.grad(lambda v: jnp.sum(nn.UpSampling2D((2, 3)).apply({}, {}, v)[0]))(x)
    np.testing.assert_array_equal(grads, np.full(x.shape, 6.0))


@pytest.mark.parametrize(
    ("layer", "shape", "pattern"),
    [
        (
            nn.UpSampling2D(2),
            (4, 4, 3),
            r"UpSampling2D\(\).*\(batch, height, width, channels\).*\(4, 4, 3\)",
        ),
        (
            nn.UpSampling1D(3),
            (2, 4, 4, 3),
            r"UpSampling1D\(size=3\).*\(batch, length, channels\).*\(2, 4, 4, 3\)",
        ),
    ],
)
def test_upsampling_wrong_rank_names_layer_and_shapes(layer, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        layer.apply({}, {}, jnp.zeros(shape))


@pytest.mark.parametrize("dtype", [jnp.complex64, jnp.bool_])
def test_upsampling_rejects_non_real_input(dtype):
    with pytest.raises(TypeError, match=r"UpSampling2D\(size=3\)"):
        nn.UpSampling2D(3).apply({}, {}, jnp.zeros((1, 2, 2, 1), dtype))


@pytest.mark.parametrize("size", [0, -1, 1.5, (2, 2, 2), (2, 0), "2", True])
def test_upsampling_rejects_bad_sizes(size):
    with pytest.raises(ValueError, match="UpSampling2D: size"):
        nn.UpSampling2D(size)


def test_upsampling_equal_sizes_in_any_spelling_are_equal():
    spellings = [nn.UpSampling2D(3), nn.UpSampling2D((3, 3)), nn.UpSampling2D(size=[3, 3])]
    assert all(s == spellings[0] and hash(s) == hash(spellings[0]) for s in spellings)
    assert nn.UpSampling2D((2, 3)) != nn.UpSampling2D((3, 2))
    assert nn.UpSampling1D(2) != nn.UpSampling2D(2)
    assert repr(nn.UpSampling2D((2, 3))) == "UpSampling2D(size=(2, 3))"


def test_upsampling_jit_matches_eager():
    layer = nn.UpSampling2D((2, 3))
    x = random_input((2, 3, 4, 2))
    np.testing.assert_array_equal(jax.jit(layer.apply)({}, {}, x)[0], layer.apply({}, {}, x)[0])

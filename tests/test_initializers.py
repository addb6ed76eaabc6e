import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import initializers as I

SHAPE = (300, 500)  # 150,000 draws: the sample variance is within ~0.4 % of the truth (1σ)
FAN_IN, FAN_OUT = 300, 500

VARIANCES = {
    "glorot_uniform": (I.glorot_uniform(), 2 / (FAN_IN + FAN_OUT)),
    "glorot_normal": (I.glorot_normal(), 2 / (FAN_IN + FAN_OUT)),
    "he_uniform": (I.he_uniform(), 2 / FAN_IN),
    "he_normal": (I.he_normal(), 2 / FAN_IN),
    "lecun_uniform": (I.lecun_uniform(), 1 / FAN_IN),
    "lecun_normal": (I.lecun_normal(), 1 / FAN_IN),
    "uniform": (I.uniform(0.1), 0.1**2 / 3),
    "normal": (I.normal(0.2), 0.2**2),
    "orthogonal": (I.orthogonal(), 1 / FAN_OUT),  # 300 orthonormal rows of length 500
}


@pytest.mark.parametrize("name", VARIANCES)
def test_initializer_has_its_variance(name):
    init, variance = VARIANCES[name]
    w = np.asarray(init(jax.random.key(0), SHAPE), np.float64)
    assert abs(w.mean()) < 4 * np.sqrt(variance / w.size)
    assert w.var() == pytest.approx(variance, rel=0.02)


@pytest.mark.parametrize(
    "init, limit",
    [
        (I.glorot_uniform(), np.sqrt(6 / 800)),
        (I.he_uniform(), np.sqrt(6 / 300)),
        (I.lecun_uniform(), np.sqrt(3 / 300)),
        (I.uniform(0.1), 0.1),
    ],
)
def test_uniform_initializers_respect_their_limit(init, limit):
    w = init(jax.random.key(1), SHAPE)
    assert float(jnp.max(jnp.abs(w))) <= limit
    assert float(jnp.max(jnp.abs(w))) > 0.99 * limit


def test_truncated_normal_is_cut_at_two_standard_deviations():
    w = I.he_normal()(jax.random.key(2), SHAPE)
    std = np.sqrt(2 / FAN_IN) / 0.87962566103423978
    assert float(jnp.max(jnp.abs(w))) <= 2 * std * (1 + 1e-6)


def test_conv_kernel_fans_include_the_receptive_field():
    assert I.compute_fans((3, 3, 16, 32)) == (144.0, 288.0)
    w = I.he_normal()(jax.random.key(3), (5, 5, 64, 128))
    assert float(jnp.var(w)) == pytest.approx(2 / (5 * 5 * 64), rel=0.03)


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (3, 3, 8, 16)])
def test_orthogonal_has_orthonormal_columns_or_rows(shape):
    w = np.asarray(I.orthogonal(scale=2.0)(jax.random.key(4), shape), np.float64)
    flat = w.reshape(-1, shape[-1])
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-4)


def test_constant_zeros_ones():
    key = jax.random.key(0)
    np.testing.assert_array_equal(I.constant(0.3)(key, (2, 2)), np.full((2, 2), 0.3, np.float32))
    np.testing.assert_array_equal(I.zeros(key, (3,)), np.zeros(3))
    np.testing.assert_array_equal(I.ones(key, (3,), jnp.float16), np.ones(3))
    assert I.ones(key, (3,), jnp.float16).dtype == jnp.float16


@pytest.mark.parametrize("name", VARIANCES)
def test_initializer_is_deterministic_and_keeps_dtype(name):
    init, _ = VARIANCES[name]
    a = init(jax.random.key(7), (8, 4), jnp.float16)
    b = init(jax.random.key(7), (8, 4), jnp.float16)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == jnp.float16
    assert not np.array_equal(a, init(jax.random.key(8), (8, 4), jnp.float16))


def test_initializers_compare_and_hash_by_value():
    assert I.glorot_uniform() == I.glorot_uniform()
    assert hash(I.he_normal()) == hash(I.he_normal())
    assert I.glorot_uniform() != I.glorot_normal()
    assert I.constant(1.0) != I.constant(2.0)


def test_variance_scaling_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        I.variance_scaling(1.0, "fan_sideways", "uniform")


def test_initializer_works_with_legacy_keys_and_under_jit():
    legacy = I.glorot_uniform()(jax.random.PRNGKey(0), (4, 3))
    jitted = jax.jit(lambda k: I.glorot_uniform()(k, (4, 3)))(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(legacy, jitted)


def test_presets_print_by_name():
    assert repr(I.he_uniform()) == "he_uniform()"
    assert repr(I.glorot_normal(in_axis=0, out_axis=1)) == "glorot_normal(0, 1)"
    assert repr(I.variance_scaling(0.5, "fan_out", "normal")) == (
        "VarianceScaling(0.5, 'fan_out', 'normal', -2, -1)"
    )

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import nn

N = 1_000_000  # elements in the statistical tests: a standard error of at most 5e-4


def dropped(rate, x, key=0):
    y, _ = nn.Dropout(rate).apply({}, {}, x, key=jax.random.key(key), train=True)
    return np.asarray(y)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.9])
def test_dropout_keeps_each_unit_with_probability_one_minus_rate(rate):
    y = dropped(rate, np.ones((1000, N // 1000), np.float32))
    kept = np.mean(y != 0)
    standard_error = np.sqrt(rate * (1 - rate) / N)
    assert abs(kept - (1 - rate)) < 5 * standard_error


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.9])
def test_dropout_scales_kept_units_by_one_over_keep_probability(rate):
    x = np.random.default_rng(0).uniform(1, 2, (100, 100)).astype(np.float32)
    y = dropped(rate, x)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-6)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.9])
def test_dropout_preserves_the_mean(rate):
    y = dropped(rate, np.full((1000, N // 1000), 2.0, np.float32))
    # Var[y_i] = 4 rate / (1 - rate) for x_i = 2.
    standard_error = np.sqrt(4 * rate / (1 - rate) / N)
    assert abs(y.mean() - 2.0) < 5 * standard_error


def test_dropout_is_identity_at_inference_without_a_key():
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    y, state = nn.Dropout(0.5).apply({}, {}, x)
    np.testing.assert_array_equal(y, x)
    assert state == {}


def test_dropout_with_rate_zero_is_identity_when_training_and_needs_no_key():
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    y, _ = nn.Dropout(0.0).apply({}, {}, x, train=True)
    np.testing.assert_array_equal(y, x)


def test_dropout_same_key_gives_same_mask_and_different_keys_different_masks():
    x = np.ones((64, 64), np.float32)
    np.testing.assert_array_equal(dropped(0.5, x, key=3), dropped(0.5, x, key=3))
    assert np.mean(dropped(0.5, x, key=3) != dropped(0.5, x, key=4)) > 0.4


def test_dropout_accepts_raw_and_typed_keys():
    layer, x = nn.Dropout(0.5), np.ones((16, 16), np.float32)
    raw, _ = layer.apply({}, {}, x, key=jax.random.PRNGKey(7), train=True)
    typed, _ = layer.apply({}, {}, x, key=jax.random.key(7), train=True)
    np.testing.assert_array_equal(raw, typed)  # the same threefry key, in two spellings


def test_dropout_training_without_key_names_layer_and_says_pass_key():
    with pytest.raises(ValueError, match=r"Dropout\(rate=0\.5\).*pass key="):
        nn.Dropout(0.5).apply({}, {}, np.ones((2, 3), np.float32), train=True)


def test_dropout_drops_infinite_units_to_zero_not_nan():
    y = dropped(0.5, np.full((32, 32), np.inf, np.float32))
    assert not np.isnan(y).any() and (y == 0).any() and np.isinf(y).any()


def test_dropout_of_integers_is_float():
    y, _ = nn.Dropout(0.5).apply({}, {}, np.ones((2, 3), np.int32))
    assert y.dtype == jnp.float32


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, True, "0.5", None])
def test_dropout_rejects_rates_outside_zero_to_one(rate):
    with pytest.raises(ValueError, match=r"Dropout: rate must be a number in \[0, 1\)"):
        nn.Dropout(rate)


def test_dropout_hashes_by_rate():
    assert nn.Dropout(0.5) == nn.Dropout(0.5) and hash(nn.Dropout(0.5)) == hash(nn.Dropout(0.5))
    assert nn.Dropout(0.5) != nn.Dropout(0.2)


def test_dropout_gradient_matches_finite_differences(x64):
    x = np.random.default_rng(0).standard_normal((4, 6))
    weights = np.random.default_rng(1).standard_normal((4, 6))
    key = jax.random.key(0)

    @jax.jit
    def loss(v):
        return jnp.sum(nn.Dropout(0.3).apply({}, {}, v, key=key, train=True)[0] * weights)

    assert_grad_matches_finite_differences(loss, x)


def test_dropout_jit_matches_eager():
    layer, x, key = nn.Dropout(0.5), np.ones((8, 8), np.float32), jax.random.key(1)
    jitted, _ = jax.jit(layer.apply, static_argnames="train")({}, {}, x, key=key, train=True)
    np.testing.assert_array_equal(jitted, layer.apply({}, {}, x, key=key, train=True)[0])


def test_dropout_vmaps_over_keys():
    layer, x = nn.Dropout(0.5), np.ones((8, 8), np.float32)
    keys = jax.random.split(jax.random.key(0), 3)
    ys = jax.vmap(lambda k: layer.apply({}, {}, x, key=k, train=True)[0])(keys)
    for y, key in zip(ys, keys):
        np.testing.assert_array_equal(y, layer.apply({}, {}, x, key=key, train=True)[0])
    assert not np.array_equal(ys[0], ys[1])


def test_masking_noise_zeroes_at_the_rate_without_rescaling():
    layer = nn.MaskingNoise(0.3)
    x = jnp.full((200, 100), 2.0)
    y, _ = layer.apply({}, {}, x, key=jax.random.key(0), train=True)
    assert set(np.unique(np.asarray(y))) == {0.0, 2.0}
    assert abs(float(jnp.mean(y == 0)) - 0.3) < 0.01


def test_masking_noise_is_the_identity_at_inference():
    x = jnp.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(nn.MaskingNoise(0.5).apply({}, {}, x)[0], x)


def test_masking_noise_needs_a_key_when_training():
    with pytest.raises(ValueError, match="key="):
        nn.MaskingNoise(0.5).apply({}, {}, jnp.ones((2, 3)), train=True)


@pytest.mark.parametrize("rate", [1.0, -0.1, True, "0.2"])
def test_masking_noise_rejects_bad_rates(rate):
    with pytest.raises(ValueError, match="MaskingNoise: rate"):
        nn.MaskingNoise(rate)

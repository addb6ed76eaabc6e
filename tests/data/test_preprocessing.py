"""one_hot and standardize: values, dtypes, jit, and the errors they raise."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data import Standardization, one_hot, standardize

# --- one_hot ------------------------------------------------------------------------------


def test_one_hot_values():
    np.testing.assert_array_equal(
        one_hot(jnp.array([2, 0, 1]), 3), [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    )


def test_one_hot_adds_a_trailing_class_axis():
    encoded = one_hot(np.array([[0, 1, 2], [3, 3, 3]]), 4)
    assert encoded.shape == (2, 3, 4)
    np.testing.assert_array_equal(jnp.argmax(encoded, axis=-1), [[0, 1, 2], [3, 3, 3]])


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.int32])
def test_one_hot_dtype(dtype):
    assert one_hot(jnp.array([1]), 2, dtype=dtype).dtype == dtype


def test_one_hot_under_jit():
    encoded = jax.jit(one_hot, static_argnums=1)(jnp.array([1, 0]), 2)
    np.testing.assert_array_equal(encoded, [[0, 1], [1, 0]])


@pytest.mark.parametrize(
    ("labels", "num_classes", "message"),
    [
        (np.array([0, 3]), 3, r"in \[0, 3\).*from 0 to 3"),
        (np.array([-1, 2]), 3, r"from -1 to 2"),
        (np.array([0.0, 1.0]), 2, "integer class indices, got dtype float64"),
        (np.array([0, 1]), 0, "num_classes must be an int ≥ 1, got 0"),
        (np.array([0, 1]), 2.0, "num_classes must be an int ≥ 1, got 2.0"),
    ],
    ids=["too-high", "negative", "float-labels", "zero-classes", "float-classes"],
)
def test_one_hot_rejects(labels, num_classes, message):
    with pytest.raises(ValueError, match=message):
        one_hot(labels, num_classes)


# --- standardize --------------------------------------------------------------------------

X_TRAIN = np.array([[1.0, 10.0, 7.0], [3.0, 20.0, 7.0], [5.0, 60.0, 7.0]], dtype=np.float32)
X_TEST = np.array([[7.0, 30.0, 8.0]], dtype=np.float32)


def test_standardize_gives_each_training_feature_mean_0_std_1():
    x_train, _ = standardize(X_TRAIN[:, :2])
    np.testing.assert_allclose(x_train.mean(axis=0), [0, 0], atol=1e-6)
    np.testing.assert_allclose(x_train.std(axis=0), [1, 1], rtol=1e-6)


def test_standardize_applies_the_training_statistics_to_other_arrays():
    _, x_test, stats = standardize(X_TRAIN, X_TEST)
    # feature 0: mean 3, std sqrt(8/3); feature 1: mean 30, std sqrt(1400/3)
    np.testing.assert_allclose(stats.mean, [[3.0, 30.0, 7.0]])
    np.testing.assert_allclose(x_test[0, :2], [4 / np.sqrt(8 / 3), 0.0], rtol=1e-6)


def test_standardize_centres_but_does_not_scale_constant_features():
    x_train, x_test, stats = standardize(X_TRAIN, X_TEST)
    assert stats.std[0, 2] == 1.0
    np.testing.assert_array_equal(x_train[:, 2], [0, 0, 0])
    assert x_test[0, 2] == 1.0  # 8 - 7, not (8 - 7) / eps


def test_standardize_over_all_axes_gives_scalar_statistics():
    x_train, stats = standardize(X_TRAIN, axis=None)
    assert stats.mean.shape == (1, 1)
    assert float(stats.mean[0, 0]) == pytest.approx(X_TRAIN.mean())
    assert float(x_train.std()) == pytest.approx(1.0, rel=1e-6)


def test_standardize_per_pixel_of_images():
    images = np.random.default_rng(0).uniform(size=(50, 4, 4, 1)).astype(np.float32)
    x_train, stats = standardize(images)
    assert stats.mean.shape == (1, 4, 4, 1)
    np.testing.assert_allclose(x_train.mean(axis=0), 0, atol=1e-6)


def test_standardize_stats_reapply_and_invert():
    x_train, stats = standardize(X_TRAIN)
    np.testing.assert_allclose(stats.apply(X_TRAIN), x_train)
    np.testing.assert_allclose(stats.invert(x_train), X_TRAIN, rtol=1e-6)


def test_standardize_keeps_numpy_numpy_and_jax_jax():
    numpy_out, _ = standardize(X_TRAIN)
    jax_out, jax_stats = standardize(jnp.asarray(X_TRAIN))
    assert isinstance(numpy_out, np.ndarray) and isinstance(jax_out, jax.Array)
    assert isinstance(jax_stats, Standardization)
    np.testing.assert_allclose(jax_out, numpy_out, rtol=1e-6)


def test_standardize_under_jit():
    x_train, _ = jax.jit(standardize)(jnp.asarray(X_TRAIN))
    np.testing.assert_allclose(x_train, standardize(X_TRAIN)[0], rtol=1e-5, atol=1e-6)


def test_standardize_turns_integers_into_float32():
    x_train, _ = standardize(np.array([[0], [255]], dtype=np.uint8))
    assert x_train.dtype == np.float32
    np.testing.assert_array_equal(x_train, [[-1.0], [1.0]])


def test_standardization_rejects_an_array_of_another_feature_shape():
    _, stats = standardize(X_TRAIN)
    with pytest.raises(ValueError, match=r"statistics of shape \(1, 3\).*array of shape \(2, 2\)"):
        stats.apply(np.zeros((2, 2)))


def test_standardize_rejects_an_empty_training_set():
    with pytest.raises(ValueError, match="x_train is empty"):
        standardize(np.zeros((0, 3)))

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import perceptron

# The Boolean functions of docs/concepts.md §1, samples T0=(0,0), T1=(0,1), T2=(1,0),
# T3=(1,1) in order.
T = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
AND = np.array([0, 0, 0, 1])
OR = np.array([0, 1, 1, 1])
XOR = np.array([0, 1, 1, 0])


def reference_train(x, d, *, threshold, learning_rate, weights, max_passes, tolerance=0.0):
    """The perceptron learning rule as plain Python loops, straight from docs/concepts.md §1."""
    w = [float(v) for v in weights]
    errors = []
    for _ in range(max_passes):
        misses = 0.0
        for x_j, d_j in zip(x.tolist(), d.tolist()):
            y_j = 1 if sum(w_i * x_i for w_i, x_i in zip(w, x_j)) >= threshold else 0
            w = [w_i + learning_rate * (d_j - y_j) * x_i for w_i, x_i in zip(w, x_j)]
            misses += abs(d_j - y_j)
        errors.append(misses / len(x))
        if errors[-1] <= tolerance:
            break
    return w, errors


# --- the worked traces of docs/concepts.md §1 --------------------------------------------------


def test_and_from_zero_weights_ends_at_one_one():
    result = perceptron.train(T, AND, threshold=1.5)
    np.testing.assert_array_equal(result.weights, [1.0, 1.0])
    assert result.converged is True


def test_and_trace_matches_hand_computation():
    # θ = 1.5, η = 1, w = (0, 0):
    # pass 1: T0 w·x=0 → y=0 ✓; T1 0 → 0 ✓; T2 0 → 0 ✓; T3 0 → 0, d=1 ✗ → w = (1, 1).
    #         error 1/4
    # pass 2: T0 0 → 0 ✓; T1 1 → 0 ✓; T2 1 → 0 ✓; T3 2 → 1 ✓. error 0: stop.
    result = perceptron.train(T, AND, threshold=1.5)
    np.testing.assert_array_equal(result.errors, [0.25, 0.0])
    assert result.passes == 2


def test_or_trace_matches_hand_computation():
    # θ = 1, η = 1, w = (0, 0):
    # pass 1: T0 0 → 0 ✓; T1 0 → 0, d=1 ✗ → w = (0, 1); T2 0 → 0, d=1 ✗ → w = (1, 1);
    #         T3 2 → 1 ✓. error 2/4
    # pass 2: T0 0 → 0 ✓; T1 1 → 1 ✓; T2 1 → 1 ✓; T3 2 → 1 ✓. error 0: stop.
    result = perceptron.train(T, OR, threshold=1.0)
    np.testing.assert_array_equal(result.weights, [1.0, 1.0])
    np.testing.assert_array_equal(result.errors, [0.5, 0.0])
    assert result.converged is True and result.passes == 2


def test_learning_rate_scales_each_update():
    # η = 0.5 on AND: pass 1 misses T3 → w = (0.5, 0.5); pass 2: T3 gives w·x = 1 < 1.5, a
    # miss → w = (1, 1); pass 3 is clean. Errors 1/4, 1/4, 0.
    result = perceptron.train(T, AND, threshold=1.5, learning_rate=0.5)
    np.testing.assert_array_equal(result.weights, [1.0, 1.0])
    np.testing.assert_array_equal(result.errors, [0.25, 0.25, 0.0])


def test_xor_does_not_converge():
    # θ = 0.5: every pass misses T1, T2 (w·x < θ) and then T3 (w = (1, 1) fires), which
    # brings w back to (0, 0): the same 3/4 error for ever.
    result = perceptron.train(T, XOR, threshold=0.5, max_passes=25)
    assert result.converged is False and result.passes == 25
    np.testing.assert_array_equal(result.errors, np.full(25, 0.75))
    np.testing.assert_array_equal(result.weights, [0.0, 0.0])


def test_tolerance_stops_at_first_pass_within_bound():
    result = perceptron.train(T, XOR, threshold=0.5, tolerance=0.75)
    assert result.converged is True and result.passes == 1
    np.testing.assert_array_equal(result.errors, [0.75])


def test_initial_weights_are_the_starting_point():
    result = perceptron.train(T, AND, threshold=1.5, initial_weights=jnp.array([1.0, 1.0]))
    np.testing.assert_array_equal(result.weights, [1.0, 1.0])
    np.testing.assert_array_equal(result.errors, [0.0])


def test_matches_reference_rule_on_random_problem(x64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((13, 3))
    d = rng.integers(0, 2, size=13)
    initial = rng.standard_normal(3) * 0.1
    kwargs = dict(threshold=0.3, learning_rate=0.7, max_passes=9)
    result = perceptron.train(x, d, initial_weights=initial, **kwargs)
    weights, errors = reference_train(x, d, weights=initial, **kwargs)
    np.testing.assert_allclose(result.weights, weights, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.errors, errors, rtol=1e-12)


def test_separable_problem_converges_and_predict_separates():
    # Labels from the line 2·x0 − x1 = 0.5, points within 0.3 of it dropped: a margin of
    # 0.3 with |x|² ≤ 2 guarantees convergence for η < 2·0.3/2 (Novikoff's argument).
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(400, 2))
    activation = x @ np.array([2.0, -1.0])
    x = x[np.abs(activation - 0.5) >= 0.3]
    d = (x @ np.array([2.0, -1.0]) >= 0.5).astype(int)
    result = perceptron.train(x, d, threshold=0.5, learning_rate=0.1, max_passes=500)
    assert result.converged is True and result.errors[-1] == 0
    np.testing.assert_array_equal(perceptron.predict(result.weights, x, threshold=0.5), d)


def test_integer_and_boolean_inputs_give_float32_weights():
    result = perceptron.train(T.astype(bool), AND.astype(bool), threshold=1.5)
    assert result.weights.dtype == jnp.float32 and result.errors.dtype == jnp.float32


# --- transformations ------------------------------------------------------------------------


def test_train_under_jit_pads_errors_with_nan():
    train = jax.jit(perceptron.train, static_argnames="max_passes")
    result = train(T, AND, threshold=1.5, max_passes=5)
    assert int(result.passes) == 2 and bool(result.converged)
    np.testing.assert_array_equal(result.errors[:2], [0.25, 0.0])
    assert np.isnan(result.errors[2:]).all() and result.errors.shape == (5,)


def test_train_vmaps_over_learning_rates():
    sweep = jax.vmap(lambda rate: perceptron.train(T, AND, threshold=1.5, learning_rate=rate))
    result = sweep(jnp.array([1.0, 0.5]))
    np.testing.assert_array_equal(result.passes, [2, 3])
    np.testing.assert_array_equal(result.weights, [[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(result.errors[0, :2], [0.25, 0.0])
    np.testing.assert_array_equal(result.errors[1, :3], [0.25, 0.25, 0.0])


# --- predict --------------------------------------------------------------------------------


def test_predict_fires_when_weighted_sum_reaches_threshold():
    x = jnp.array([[1.0, 0.5], [1.0, 0.49], [0.0, 0.0], [2.0, -0.5]])
    y = perceptron.predict(jnp.array([1.0, 1.0]), x, threshold=1.5)
    np.testing.assert_array_equal(y, [1.0, 0.0, 0.0, 1.0])


def test_predict_keeps_leading_axes():
    y = perceptron.predict(jnp.array([1.0, 1.0]), jnp.ones((3, 4, 2)), threshold=1.5)
    assert y.shape == (3, 4)


def test_predict_under_jit_matches_eager():
    weights = jnp.array([0.3, -0.2, 0.5])
    x = jax.random.normal(jax.random.key(0), (10, 3))
    jitted = jax.jit(perceptron.predict)(weights, x, threshold=0.1)
    np.testing.assert_array_equal(jitted, perceptron.predict(weights, x, threshold=0.1))


# --- argument checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "d", "kwargs", "message"),
    [
        (T[0], AND, {}, r"x must have shape \(samples, n_features\).*got \(2,\)"),
        (np.zeros((0, 2)), np.zeros(0), {}, r"at least one of each, got \(0, 2\)"),
        (T, AND[:3], {}, r"d must have shape \(samples,\) = \(4,\).*got \(3,\)"),
        (T, AND[:, None], {}, r"d must have shape .* got \(4, 1\)"),
        (T, np.array([0, 2, 0, 1]), {}, r"d must hold desired outputs 0 or 1"),
        (T, AND, {"max_passes": 0}, r"max_passes must be an int ≥ 1, got 0"),
        (T, AND, {"max_passes": 2.0}, r"max_passes must be an int ≥ 1"),
        (T, AND, {"initial_weights": np.zeros(3)}, r"weights must have shape \(2,\).*\(3,\)"),
        (T, AND, {"learning_rate": 0.0}, r"learning_rate must be positive"),
        (T, AND, {"tolerance": -0.1}, r"tolerance must be ≥ 0"),
        (T, AND, {"threshold": np.ones(2)}, r"threshold must be a real number"),
    ],
)
def test_train_rejects_bad_arguments(x, d, kwargs, message):
    kwargs = {"threshold": 1.5, **kwargs}
    with pytest.raises(ValueError, match=message):
        perceptron.train(x, d, **kwargs)


def test_predict_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"n_features = 2 .* got \(4, 3\)"):
        perceptron.predict(jnp.ones(2), jnp.ones((4, 3)), threshold=1.0)


def test_predict_rejects_non_vector_weights():
    with pytest.raises(ValueError, match=r"weights must have shape \(n_features,\)"):
        perceptron.predict(jnp.ones((2, 1)), jnp.ones((4, 2)), threshold=1.0)

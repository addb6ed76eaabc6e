import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdl import losses as L

P = np.array([[0.5, -1.0, 2.0], [3.0, 0.0, -0.5]])
T = np.array([[1.0, -1.5, 0.0], [2.0, 1.0, 0.5]])
E = P - T

ELEMENTWISE = {
    "sae": (L.sae, np.abs(E).sum()),
    "mae": (L.mae, np.abs(E).mean()),
    "sse": (L.sse, (E**2).sum()),
    "mse": (L.mse, (E**2).mean()),
    "half_sse": (L.half_sse, 0.5 * (E**2).sum()),
    "rmse": (L.rmse, np.sqrt((E**2).mean())),
}
ALL_PAIRED = [
    L.sae,
    L.mae,
    L.sse,
    L.mse,
    L.half_sse,
    L.rmse,
    L.cross_entropy,
    L.binary_cross_entropy,
    L.binary_cross_entropy_with_logits,
    L.kl_divergence,
    L.softmax_cross_entropy,
]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_regression_loss_matches_formula(name):
    fn, expected = ELEMENTWISE[name]
    assert float(fn(P, T)) == pytest.approx(expected, rel=1e-6)


def test_mse_worked_example():
    assert float(L.mse(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0]))) == 2.0


@pytest.mark.parametrize("fn", [L.sae, L.mae, L.sse, L.mse, L.half_sse])
def test_elementwise_reductions_agree(fn):
    none = fn(P, T, reduction="none")
    assert none.shape == P.shape
    assert float(fn(P, T, reduction="sum")) == pytest.approx(float(jnp.sum(none)), rel=1e-6)
    assert float(fn(P, T, reduction="mean")) == pytest.approx(float(jnp.mean(none)), rel=1e-6)


def test_rmse_per_sample_reduction():
    per_sample = L.rmse(P, T, reduction="none")
    np.testing.assert_allclose(per_sample, np.sqrt((E**2).mean(axis=1)), rtol=1e-6)
    assert float(L.rmse(P, T, reduction="sum")) == pytest.approx(float(per_sample.sum()), rel=1e-6)


@pytest.mark.parametrize("fn", ALL_PAIRED)
def test_mismatched_shapes_raise_naming_both(fn):
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        fn(jnp.ones((4, 1)), jnp.ones((4,)))


@pytest.mark.parametrize("fn", ALL_PAIRED)
def test_unknown_reduction_raises(fn):
    with pytest.raises(ValueError, match="reduction"):
        fn(jnp.ones((2, 3)) / 3, jnp.ones((2, 3)) / 3, reduction="average")


def test_cross_entropy_in_bits():
    # t = (1, 0, 0), y = (1/2, 1/4, 1/4): -log2(1/2) = 1 bit.
    loss = L.cross_entropy(jnp.array([0.5, 0.25, 0.25]), jnp.array([1.0, 0.0, 0.0]), base=2)
    assert float(loss) == pytest.approx(1.0)


def test_cross_entropy_base_changes_units_only():
    y = jnp.array([[0.2, 0.3, 0.5]])
    t = jnp.array([[0.1, 0.6, 0.3]])
    nats = float(L.cross_entropy(y, t))
    assert float(L.cross_entropy(y, t, base=2)) == pytest.approx(nats / np.log(2), rel=1e-6)
    assert nats == pytest.approx(-(0.1 * np.log(0.2) + 0.6 * np.log(0.3) + 0.3 * np.log(0.5)))


def test_cross_entropy_sums_classes_and_averages_samples():
    y = np.array([[0.2, 0.8], [0.6, 0.4]])
    t = np.array([[0.0, 1.0], [1.0, 0.0]])
    per_sample = -np.log([0.8, 0.6])
    np.testing.assert_allclose(L.cross_entropy(y, t, reduction="none"), per_sample, rtol=1e-6)
    assert float(L.cross_entropy(y, t)) == pytest.approx(per_sample.mean(), rel=1e-6)


def test_cross_entropy_ignores_zero_targets_on_zero_probabilities():
    loss = L.cross_entropy(jnp.array([0.0, 1.0]), jnp.array([0.0, 1.0]))
    assert float(loss) == 0.0


def test_invalid_base_raises():
    with pytest.raises(ValueError, match="base"):
        L.cross_entropy(jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0]), base=1)


def test_binary_cross_entropy_matches_formula():
    y = np.array([0.9, 0.2, 0.6])
    t = np.array([1.0, 0.0, 1.0])
    expected = -(t * np.log(y) + (1 - t) * np.log(1 - y))
    np.testing.assert_allclose(L.binary_cross_entropy(y, t, reduction="none"), expected, rtol=1e-6)


def test_binary_cross_entropy_is_zero_for_exact_predictions():
    assert float(L.binary_cross_entropy(jnp.array([0.0, 1.0]), jnp.array([0.0, 1.0]))) == 0.0


def test_binary_cross_entropy_with_logits_equals_probability_form():
    z = jnp.linspace(-5.0, 5.0, 21)
    t = (jnp.arange(21) % 3 == 0).astype(jnp.float32)
    np.testing.assert_allclose(
        L.binary_cross_entropy_with_logits(z, t, reduction="none"),
        L.binary_cross_entropy(jax.nn.sigmoid(z), t, reduction="none"),
        rtol=1e-5,
        atol=1e-6,
    )


def test_binary_cross_entropy_with_logits_is_exact_for_huge_logits():
    z = jnp.array([1e4, -1e4, 1e4, -1e4])
    t = jnp.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(
        L.binary_cross_entropy_with_logits(z, t, reduction="none"), [0.0, 0.0, 1e4, 1e4]
    )
    grad = jax.grad(lambda v: L.binary_cross_entropy_with_logits(v, t, reduction="sum"))(z)
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1.0, -1.0])


def test_softmax_cross_entropy_integer_and_one_hot_agree():
    logits = jax.random.normal(jax.random.key(0), (5, 4))
    labels = jnp.array([0, 3, 1, 1, 2])
    one_hot = jax.nn.one_hot(labels, 4)
    np.testing.assert_allclose(
        L.softmax_cross_entropy(logits, labels),
        L.softmax_cross_entropy(logits, one_hot),
        rtol=1e-6,
    )


def test_softmax_cross_entropy_matches_optax():
    logits = jax.random.normal(jax.random.key(1), (6, 3, 10)) * 4
    labels = jax.random.randint(jax.random.key(2), (6, 3), 0, 10)
    ours = L.softmax_cross_entropy(logits, labels, reduction="none")
    theirs = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_softmax_cross_entropy_equals_cross_entropy_of_softmax():
    logits = jnp.array([[2.0, 0.5, -1.0]])
    target = jnp.array([[0.2, 0.7, 0.1]])
    np.testing.assert_allclose(
        L.softmax_cross_entropy(logits, target, base=2),
        L.cross_entropy(jax.nn.softmax(logits), target, base=2),
        rtol=1e-6,
    )


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    logits = jnp.array([[1e4, -1e4], [1e4, -1e4]])
    labels = jnp.array([0, 1])
    np.testing.assert_array_equal(
        L.softmax_cross_entropy(logits, labels, reduction="none"), [0.0, 2e4]
    )
    grad = jax.grad(lambda z: L.softmax_cross_entropy(z, labels, reduction="sum"))(logits)
    np.testing.assert_array_equal(grad, [[0.0, 0.0], [1.0, -1.0]])


def test_softmax_cross_entropy_gradient_is_softmax_minus_target():
    logits = jnp.array([1.0, 2.0, 0.5])
    grad = jax.grad(lambda z: L.softmax_cross_entropy(z, jnp.array(1)))(logits)
    np.testing.assert_allclose(grad, jax.nn.softmax(logits) - jnp.array([0.0, 1.0, 0.0]), rtol=1e-6)


def test_softmax_cross_entropy_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match=r"\[0, 3\).*from 0 to 3"):
        L.softmax_cross_entropy(jnp.zeros((2, 3)), jnp.array([0, 3]))


def test_softmax_cross_entropy_rejects_label_shape():
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 1\)"):
        L.softmax_cross_entropy(jnp.zeros((4, 3)), jnp.zeros((4, 1), jnp.int32))


def test_entropy_of_uniform_is_log_of_classes():
    assert float(L.entropy(jnp.full(8, 1 / 8), base=2)) == pytest.approx(3.0)
    assert float(L.entropy(jnp.array([1.0, 0.0]))) == 0.0


def test_cross_entropy_is_entropy_plus_kl():
    t = jnp.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]])
    q = jnp.array([[0.3, 0.3, 0.4], [0.2, 0.2, 0.6]])
    for base in (None, 2):
        np.testing.assert_allclose(
            L.cross_entropy(q, t, base=base, reduction="none"),
            L.entropy(t, base=base, reduction="none")
            + L.kl_divergence(q, t, base=base, reduction="none"),
            rtol=1e-6,
        )


def test_kl_divergence_is_zero_for_equal_distributions_and_matches_formula():
    t = jnp.array([0.25, 0.25, 0.5])
    assert float(L.kl_divergence(t, t)) == pytest.approx(0.0, abs=1e-7)
    q = jnp.array([0.5, 0.25, 0.25])
    expected = 0.25 * np.log(0.5) + 0.5 * np.log(2)
    assert float(L.kl_divergence(q, t)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("fn", [L.mse, L.cross_entropy, L.softmax_cross_entropy, L.kl_divergence])
def test_loss_works_under_jit_grad_vmap(fn):
    y = jax.nn.softmax(jax.random.normal(jax.random.key(3), (4, 5)))
    t = jax.nn.softmax(jax.random.normal(jax.random.key(4), (4, 5)))
    np.testing.assert_allclose(jax.jit(fn)(y, t), fn(y, t), rtol=1e-6)
    per_sample = jax.vmap(lambda a, b: fn(a[None], b[None]))(y, t)
    np.testing.assert_allclose(jnp.mean(per_sample), fn(y, t), rtol=1e-5)
    assert jnp.all(jnp.isfinite(jax.grad(fn)(y, t)))


# --- huber ----------------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_matches_optax_mean(delta):
    p = jax.random.normal(jax.random.key(5), (16, 3)) * 3.0
    t = jax.random.normal(jax.random.key(6), (16, 3))
    expected = jnp.mean(optax.losses.huber_loss(p, t, delta=delta))
    np.testing.assert_allclose(L.huber(p, t, delta), expected, rtol=1e-6)
    np.testing.assert_allclose(
        L.huber(p, t, delta, reduction="none"),
        optax.losses.huber_loss(p, t, delta=delta),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        L.huber(p, t, delta, reduction="sum"),
        jnp.sum(optax.losses.huber_loss(p, t, delta=delta)),
        rtol=1e-5,
    )


def test_huber_is_quadratic_inside_delta_and_linear_outside():
    errors = np.array([-3.0, -0.5, 0.0, 0.25, 2.0], np.float32)
    expected = [2 * (3 - 1), 0.5 * 0.25, 0.0, 0.5 * 0.0625, 2 * (2 - 1)]  # delta = 2
    np.testing.assert_allclose(L.huber(errors, np.zeros(5), 2.0, reduction="none"), expected)


def test_huber_gradient_is_the_error_clipped_to_delta():
    errors = jnp.array([-10.0, -1.5, -0.3, 0.0, 0.7, 1.5, 50.0])
    for delta in (1.0, 0.5):
        grad = jax.grad(lambda e, d=delta: L.huber(e, jnp.zeros_like(e), d, reduction="sum"))(
            errors
        )
        np.testing.assert_allclose(grad, jnp.clip(errors, -delta, delta), rtol=1e-6)


def test_huber_reductions_and_shape_check():
    none = L.huber(P, T, reduction="none")
    assert none.shape == P.shape
    assert float(L.huber(P, T)) == pytest.approx(float(jnp.mean(none)), rel=1e-6)
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        L.huber(jnp.ones((4, 1)), jnp.ones((4,)))
    with pytest.raises(ValueError, match="reduction"):
        L.huber(P, T, reduction="average")


@pytest.mark.parametrize("delta", [0.0, -1.0, float("nan"), float("inf"), "1", None, True, [1.0]])
def test_huber_rejects_bad_delta(delta):
    with pytest.raises(ValueError, match="huber: delta must be a positive"):
        L.huber(P, T, delta)

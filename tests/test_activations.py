import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erf

from jaxdl import activations as A

Z = np.linspace(-6.0, 6.0, 97)

# Each activation next to its textbook formula, evaluated in float64 NumPy.
REFERENCES = {
    "step": (A.step, lambda z: (z >= 0).astype(float)),
    "identity": (A.identity, lambda z: z),
    "sigmoid": (A.sigmoid, lambda z: 1 / (1 + np.exp(-z))),
    "tanh": (A.tanh, lambda z: 2 / (1 + np.exp(-2 * z)) - 1),
    "relu": (A.relu, lambda z: np.maximum(0, z)),
    "leaky_relu": (A.leaky_relu, lambda z: np.maximum(0.01 * z, z)),
    "elu": (A.elu, lambda z: np.where(z > 0, z, np.exp(z) - 1)),
    "selu": (
        A.selu,
        lambda z: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * (np.exp(z) - 1)),
    ),
    "softplus": (A.softplus, lambda z: np.log(1 + np.exp(z))),
    "softsign": (A.softsign, lambda z: z / (1 + np.abs(z))),
    "gelu": (A.gelu, lambda z: 0.5 * z * (1 + erf(z / math.sqrt(2)))),
    "swish": (A.swish, lambda z: z / (1 + np.exp(-z))),
    "rbf": (A.rbf, lambda z: np.exp(-(z**2))),
}
ELEMENTWISE = [fn for fn, _ in REFERENCES.values()]
ALL = [*ELEMENTWISE, A.softmax, A.log_softmax, lambda z: A.maxout(z, num_pieces=1)]


@pytest.mark.parametrize("name", REFERENCES)
def test_activation_matches_formula(name):
    fn, reference = REFERENCES[name]
    np.testing.assert_allclose(fn(jnp.asarray(Z, jnp.float32)), reference(Z), rtol=2e-6, atol=2e-7)


@pytest.mark.parametrize("fn", ALL)
def test_activation_is_finite_for_large_inputs(fn):
    z = jnp.array([-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4], jnp.float32)
    assert jnp.all(jnp.isfinite(fn(z)))


@pytest.mark.parametrize("fn", ALL)
def test_activation_gradient_is_finite_for_large_inputs(fn):
    z = jnp.array([-1e4, -100.0, 0.5, 100.0, 1e4], jnp.float32)
    grad = jax.grad(lambda v: jnp.sum(fn(v)))(z)
    assert jnp.all(jnp.isfinite(grad))


@pytest.mark.parametrize("fn", ALL)
def test_activation_works_under_jit_and_vmap(fn):
    z = jax.random.normal(jax.random.key(0), (3, 4))
    np.testing.assert_allclose(jax.jit(fn)(z), fn(z), rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(fn)(z), fn(z), rtol=1e-6)


def test_sigmoid_derivative_is_y_times_one_minus_y():
    z = jnp.linspace(-5.0, 5.0, 11)
    y = A.sigmoid(z)
    np.testing.assert_allclose(jax.vmap(jax.grad(A.sigmoid))(z), y * (1 - y), rtol=1e-6)


def test_sigmoid_derivative_never_exceeds_a_quarter():
    z = jnp.linspace(-10.0, 10.0, 2001)
    slopes = jax.vmap(jax.grad(A.sigmoid))(z)
    assert float(jnp.max(slopes)) == pytest.approx(0.25)


def test_tanh_derivative_is_one_minus_y_squared():
    z = jnp.linspace(-3.0, 3.0, 13)
    np.testing.assert_allclose(
        jax.vmap(jax.grad(A.tanh))(z), 1 - A.tanh(z) ** 2, rtol=1e-5, atol=1e-7
    )


def test_step_fires_at_zero_and_has_zero_gradient():
    assert A.step(jnp.array(0.0)) == 1.0
    assert jax.grad(A.step)(jnp.array(0.3)) == 0.0


def test_large_input_limits_are_exact():
    z = jnp.array([-1e4, 1e4])
    np.testing.assert_array_equal(A.sigmoid(z), [0.0, 1.0])
    np.testing.assert_array_equal(A.softplus(z), [0.0, 1e4])
    np.testing.assert_allclose(
        A.selu(z), [-1.0507009873554805 * 1.6732632423543772, 1.0507e4], rtol=1e-6
    )


def test_leaky_relu_uses_its_slope():
    np.testing.assert_allclose(A.leaky_relu(jnp.array([-2.0, 3.0]), negative_slope=0.2), [-0.4, 3])


def test_gelu_approximation_is_close_to_exact_form():
    z = jnp.linspace(-4.0, 4.0, 81)
    np.testing.assert_allclose(A.gelu(z, approximate=True), A.gelu(z), atol=1e-3)
    np.testing.assert_allclose(
        A.gelu(z, approximate=True), jax.nn.gelu(z, approximate=True), rtol=1e-6, atol=1e-7
    )


def test_softmax_sums_to_one_and_matches_formula():
    z = jnp.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 5.0]])
    probs = A.softmax(z)
    np.testing.assert_allclose(jnp.sum(probs, axis=-1), [1.0, 1.0], rtol=1e-6)
    expected = np.exp(np.asarray(z)) / np.exp(np.asarray(z)).sum(-1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-6)


def test_softmax_is_exact_for_huge_logits():
    np.testing.assert_array_equal(A.softmax(jnp.array([1e4, -1e4, 0.0])), [1.0, 0.0, 0.0])


def test_softmax_is_invariant_to_a_shift():
    z = jnp.array([0.25, -1.5, 2.0])  # z + 1000 is exact in float32
    np.testing.assert_allclose(A.softmax(z + 1000.0), A.softmax(z), rtol=1e-6)


def test_softmax_along_another_axis():
    z = jax.random.normal(jax.random.key(1), (4, 3))
    np.testing.assert_allclose(A.softmax(z, axis=0), A.softmax(z.T).T, rtol=1e-6)


def test_log_softmax_equals_log_of_softmax_and_stays_finite():
    z = jnp.array([2.0, -1.0, 0.5])
    np.testing.assert_allclose(A.log_softmax(z), jnp.log(A.softmax(z)), rtol=1e-6)
    np.testing.assert_allclose(A.log_softmax(jnp.array([1e4, -1e4])), [0.0, -2e4])


def test_maxout_takes_maximum_per_group():
    z = jnp.array([[1.0, 5.0, -3.0, -2.0, 0.0, 0.5]])
    np.testing.assert_array_equal(A.maxout(z, num_pieces=2), [[5.0, -2.0, 0.5]])
    np.testing.assert_array_equal(A.maxout(z, num_pieces=3), [[5.0, 0.5]])


def test_maxout_rejects_sizes_that_do_not_divide():
    with pytest.raises(ValueError, match=r"multiple of num_pieces \(4\)"):
        A.maxout(jnp.ones((2, 6)), num_pieces=4)


def test_integer_input_gives_float_output():
    assert A.relu(jnp.array([1, -2])).dtype == jnp.float32
    assert A.sigmoid(jnp.array([0])).dtype == jnp.float32


@pytest.mark.parametrize(
    ("fn", "expected"),
    [(A.relu, 0.0), (A.elu, 1.0), (A.selu, 1.6732632423543772 * 1.0507009873554805)],
)
def test_gradient_at_zero_is_the_left_slope(fn, expected):
    # jnp.maximum/minimum split a tie and would give half of it (0.5 for ReLU and ELU).
    assert float(jax.grad(fn)(0.0)) == pytest.approx(expected, rel=1e-6)

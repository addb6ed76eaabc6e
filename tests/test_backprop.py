"""docs/concepts.md §6: the worked backpropagation examples, derived by hand and checked against
``jax.grad``. Backpropagation is the chain rule applied module by module: each module
multiplies the gradient arriving from above by its local derivative."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, nn

# --- f(x, y, z) = (x + y) · z ---------------------------------------------------------------


def sum_times(x, y, z):
    return (x + y) * z


def test_sum_times_product_hand_gradients_at_worked_point(x64):
    # Forward: q = x + y = 3, f = q·z = −12.
    # Backward: ∂f/∂z = q = 3; ∂f/∂q = z = −4, and the sum passes it on unchanged, so
    # ∂f/∂x = ∂f/∂y = −4.
    x, y, z = -2.0, 5.0, -4.0
    assert sum_times(x, y, z) == -12.0
    grads = jax.grad(sum_times, argnums=(0, 1, 2))(x, y, z)
    np.testing.assert_array_equal(grads, (-4.0, -4.0, 3.0))


def test_sum_times_product_hand_gradients_at_random_points(x64):
    for x, y, z in np.random.default_rng(0).standard_normal((5, 3)):
        hand = (z, z, x + y)
        np.testing.assert_allclose(
            jax.grad(sum_times, argnums=(0, 1, 2))(x, y, z), hand, rtol=1e-15
        )


# --- J = cos(sin(x²) + 3x²) -----------------------------------------------------------------


def cos_of_sum(x):
    return jnp.cos(jnp.sin(x**2) + 3 * x**2)


def cos_of_sum_derivative(x):
    """The closed form: J' = −sin(sin(x²) + 3x²) · (2x cos(x²) + 6x)."""
    return -np.sin(np.sin(x**2) + 3 * x**2) * (2 * x * np.cos(x**2) + 6 * x)


@pytest.mark.parametrize("x", [-1.7, -0.4, 0.0, 0.3, 1.1, 2.5])
def test_cos_of_sum_hand_derivative_matches_jax_grad(x, x64):
    np.testing.assert_allclose(jax.grad(cos_of_sum)(x), cos_of_sum_derivative(x), rtol=1e-13)


def test_cos_of_sum_module_by_module_backward_equals_closed_form(x64):
    # Modules: a = x², b = sin a, c = 3a, s = b + c, J = cos s. Backward from J:
    # ∂J/∂s = −sin s; ∂J/∂a = ∂J/∂s · (cos a + 3) (two paths into s); ∂J/∂x = ∂J/∂a · 2x.
    x = np.linspace(-2.0, 2.0, 9)
    a = x**2
    s = np.sin(a) + 3 * a
    grad_s = -np.sin(s)
    grad_a = grad_s * (np.cos(a) + 3)
    grad_x = grad_a * 2 * x
    np.testing.assert_allclose(grad_x, cos_of_sum_derivative(x), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(jax.vmap(jax.grad(cos_of_sum))(x), grad_x, rtol=1e-13, atol=1e-14)


# --- a one-hidden-layer sigmoid network ------------------------------------------------------
# x_i → a_j = Σ_i α_ji x_i → z_j = σ(a_j) → b = Σ_j β_j z_j → y = σ(b) → L = ½(y − t)²


def sigmoid_network():
    """The network built with jaxdl: Dense's w is (in, out), so w = αᵀ and w = β[:, None]."""
    return nn.Sequential(
        [
            nn.Dense(4, use_bias=False),
            activations.sigmoid,
            nn.Dense(1, use_bias=False),
            activations.sigmoid,
        ]
    )


def network_problem():
    """α, β, x, t and the same weights as the jaxdl network's params and state."""
    rng = np.random.default_rng(7)
    alpha = rng.standard_normal((4, 3))  # α_ji: hidden unit j, input i
    beta = rng.standard_normal(4)  # β_j
    x = rng.standard_normal(3)
    t = 0.8
    params, state = sigmoid_network().init(jax.random.key(0), x[None, :])
    params["0"]["w"], params["2"]["w"] = jnp.asarray(alpha.T), jnp.asarray(beta[:, None])
    return alpha, beta, x, t, params, state


def hand_table(alpha, beta, x, t):
    """Forward and backward by hand, one row of the table per quantity."""

    def sigma(v):
        return 1 / (1 + np.exp(-v))

    a = alpha @ x  # a_j = Σ_i α_ji x_i
    z = sigma(a)  # z_j = σ(a_j)
    b = beta @ z  # b = Σ_j β_j z_j
    y = sigma(b)  # y = σ(b)
    loss = 0.5 * (y - t) ** 2
    delta_y = (y - t) * y * (1 - y)  # ∂L/∂b
    grad_beta = delta_y * z  # ∂L/∂β_j = δ_y z_j
    delta = delta_y * beta * z * (1 - z)  # δ_j = ∂L/∂a_j = δ_y β_j z_j (1 − z_j)
    grad_alpha = np.outer(delta, x)  # ∂L/∂α_ji = δ_j x_i
    grad_x = alpha.T @ delta  # ∂L/∂x_i = Σ_j δ_j α_ji
    return dict(y=y, loss=loss, grad_alpha=grad_alpha, grad_beta=grad_beta, grad_x=grad_x)


def network_loss(params, state, x, t):
    y, _ = sigmoid_network().apply(params, state, x[None, :])
    return 0.5 * (y[0, 0] - t) ** 2


def test_sigmoid_network_forward_matches_hand_table(x64):
    alpha, beta, x, t, params, state = network_problem()
    y, _ = sigmoid_network().apply(params, state, x[None, :])
    table = hand_table(alpha, beta, x, t)
    np.testing.assert_allclose(y[0, 0], table["y"], rtol=1e-14)
    np.testing.assert_allclose(network_loss(params, state, x, t), table["loss"], rtol=1e-14)


def test_sigmoid_network_weight_gradients_match_hand_table(x64):
    alpha, beta, x, t, params, state = network_problem()
    grads = jax.grad(network_loss)(params, state, x, t)
    table = hand_table(alpha, beta, x, t)
    # Dense stores αᵀ and β as a column, so its gradients are the table's transposed.
    np.testing.assert_allclose(grads["0"]["w"].T, table["grad_alpha"], rtol=1e-13)
    np.testing.assert_allclose(grads["2"]["w"][:, 0], table["grad_beta"], rtol=1e-13)


def test_sigmoid_network_input_gradient_matches_hand_table(x64):
    alpha, beta, x, t, params, state = network_problem()
    grad_x = jax.grad(network_loss, argnums=2)(params, state, x, t)
    np.testing.assert_allclose(grad_x, hand_table(alpha, beta, x, t)["grad_x"], rtol=1e-13)

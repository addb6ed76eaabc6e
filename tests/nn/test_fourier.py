"""The Fourier convolution: the direct convolution's values, gradients and tangents, and
when ``Conv2D`` takes it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import nn
from jaxdl.nn import _fourier

DIMENSIONS = ("NHWC", "HWIO", "NHWC")
# (input shape, kernel shape, ((low_h, high_h), (low_w, high_w)))
GEOMETRIES = [
    ((3, 14, 14, 4), (5, 5, 4, 6), ((2, 2), (2, 2))),  # "SAME", LeNet's second convolution
    ((2, 9, 7, 3), (3, 3, 3, 5), ((0, 0), (0, 0))),  # "VALID", odd sizes
    ((2, 8, 11, 2), (5, 3, 2, 4), ((1, 3), (2, 0))),  # uneven padding, non-square kernel
    ((1, 6, 6, 3), (3, 3, 3, 2), ((4, 1), (0, 5))),  # padding wider than the kernel
    ((2, 5, 5, 1), (5, 5, 1, 3), ((0, 0), (0, 0))),  # the kernel covers the whole input
]


def direct(x, w, pads):
    return jax.lax.conv_general_dilated(x, w, (1, 1), pads, dimension_numbers=DIMENSIONS)


def operands(x_shape, w_shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=x_shape).astype(dtype), rng.normal(size=w_shape).astype(dtype)


@pytest.mark.parametrize(("x_shape", "w_shape", "pads"), GEOMETRIES)
def test_correlate_equals_the_direct_convolution_in_float32(x_shape, w_shape, pads):
    x, w = operands(x_shape, w_shape)
    expected = direct(x, w, pads)
    y = _fourier.correlate(jnp.asarray(x), jnp.asarray(w), pads)
    assert y.shape == expected.shape and y.dtype == jnp.float32
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5 * float(jnp.abs(expected).max()))


@pytest.mark.parametrize(("x_shape", "w_shape", "pads"), GEOMETRIES)
def test_correlate_equals_the_direct_convolution_in_float64(x64, x_shape, w_shape, pads):
    x, w = operands(x_shape, w_shape, np.float64)
    np.testing.assert_allclose(
        _fourier.correlate(jnp.asarray(x), jnp.asarray(w), pads),
        direct(x, w, pads),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize(("x_shape", "w_shape", "pads"), GEOMETRIES[:3])
def test_correlate_gradients_equal_the_direct_convolutions(x64, x_shape, w_shape, pads):
    x, w = operands(x_shape, w_shape, np.float64)
    out = direct(x, w, pads)
    cotangent = np.random.default_rng(1).normal(size=out.shape)
    grads = {}
    for name, f in (("direct", direct), ("fourier", _fourier.correlate)):
        _, vjp = jax.vjp(lambda a, b, f=f: f(a, b, pads), jnp.asarray(x), jnp.asarray(w))
        grads[name] = vjp(cotangent)
    for ours, theirs in zip(grads["fourier"], grads["direct"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-11)


def test_correlate_gradient_matches_finite_differences(x64):
    x, w = operands((2, 6, 5, 2), (3, 3, 2, 3), np.float64)
    pads = ((1, 1), (2, 0))
    weights = np.random.default_rng(2).normal(size=direct(x, w, pads).shape)

    def loss(a, b):
        return jnp.sum(_fourier.correlate(a, b, pads) * weights)

    assert_grad_matches_finite_differences(loss, jnp.asarray(x), jnp.asarray(w), argnums=(0, 1))


def test_correlate_forward_mode_equals_the_direct_convolutions(x64):
    x, w = operands((2, 7, 6, 3), (3, 5, 3, 2), np.float64)
    x_dot, w_dot = operands((2, 7, 6, 3), (3, 5, 3, 2), np.float64, seed=3)
    pads = ((1, 1), (2, 2))
    _, ours = jax.jvp(lambda a, b: _fourier.correlate(a, b, pads), (x, w), (x_dot, w_dot))
    _, theirs = jax.jvp(lambda a, b: direct(a, b, pads), (x, w), (x_dot, w_dot))
    np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-11)


def test_correlate_vmaps_over_stacked_kernels():
    x, _ = operands((2, 8, 8, 3), (3, 3, 3, 4))
    kernels = np.random.default_rng(4).normal(size=(3, 3, 3, 3, 4)).astype(np.float32)
    pads = ((1, 1), (1, 1))
    ys = jax.vmap(lambda k: _fourier.correlate(jnp.asarray(x), k, pads))(kernels)
    for y, k in zip(ys, kernels):
        np.testing.assert_allclose(y, direct(x, k, pads), rtol=1e-5, atol=1e-4)


def test_fourier_needs_a_quarter_of_the_work_for_lenets_second_convolution():
    work_direct, work_fourier = _fourier.multiply_adds(
        (128, 14, 14, 32), (5, 5, 32, 64), ((2, 2), (2, 2))
    )
    assert work_direct == 14 * 14 * 25 * 32 * 64
    assert 0.24 < work_fourier / work_direct < 0.27


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "dtype", "strides", "expected"),
    [
        ((128, 14, 14, 32), (5, 5, 32, 64), jnp.float32, (1, 1), True),  # LeNet's second
        ((128, 28, 28, 1), (5, 5, 1, 32), jnp.float32, (1, 1), False),  # LeNet's first
        ((128, 28, 28, 32), (3, 3, 32, 32), jnp.float32, (1, 1), False),  # 3×3: no saving
        ((128, 14, 14, 32), (5, 5, 32, 64), jnp.bfloat16, (1, 1), False),
        ((128, 14, 14, 32), (5, 5, 32, 64), jnp.float32, (2, 2), False),
    ],
)
def test_prefers_fourier_only_where_it_saves_work(x_shape, w_shape, dtype, strides, expected):
    pads = ((2, 2), (2, 2)) if w_shape[0] == 5 else ((1, 1), (1, 1))
    assert _fourier.prefers_fourier(x_shape, w_shape, dtype, strides, (1, 1), pads) is expected


# --- Conv2D's algorithm -----------------------------------------------------------------


def lenet_second_convolution(algorithm):
    layer = nn.Conv2D(64, 5, algorithm=algorithm)
    x = np.random.default_rng(0).normal(size=(2, 14, 14, 32)).astype(np.float32)
    params, _ = layer.init(jax.random.key(0), x)
    return layer, params, x


def test_conv2d_auto_uses_the_fourier_method_on_the_cpu():
    layer, params, x = lenet_second_convolution("auto")
    assert jax.default_backend() == "cpu"
    program = jax.jit(lambda p: layer.apply(p, {}, x)[0]).lower(params).compile().as_text()
    assert " convolution(" not in program and " dot(" in program
    conv1_params, _ = nn.Conv2D(64, 5).init(jax.random.key(0), x[..., :1])
    direct_program = jax.jit(lambda p: nn.Conv2D(64, 5).apply(p, {}, x[..., :1])[0])
    assert " convolution(" in direct_program.lower(conv1_params).compile().as_text()


@pytest.mark.parametrize("algorithm", ["auto", "fourier"])
def test_conv2d_algorithms_give_the_same_outputs_and_gradients(algorithm):
    layer, params, x = lenet_second_convolution(algorithm)
    reference = nn.Conv2D(64, 5, algorithm="direct")

    def loss(layer, p):
        return jnp.sum(jnp.sin(layer.apply(p, {}, x)[0]))

    np.testing.assert_allclose(
        layer.apply(params, {}, x)[0], reference.apply(params, {}, x)[0], rtol=1e-5, atol=1e-4
    )
    ours, theirs = jax.grad(loss, 1)(layer, params), jax.grad(loss, 1)(reference, params)
    for name in ("w", "b"):
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-4, atol=1e-3)


def test_conv2d_fourier_keeps_a_bfloat16_input_dtype():
    layer, params, x = lenet_second_convolution("fourier")
    low = jax.tree_util.tree_map(lambda p: p.astype(jnp.bfloat16), params)
    y, _ = layer.apply(low, {}, x.astype(jnp.bfloat16))
    expected, _ = nn.Conv2D(64, 5, algorithm="direct").apply(params, {}, x)
    assert y.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(y, np.float32), expected, rtol=0.05, atol=0.1)


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: nn.Conv2D(4, 3, algorithm="fft"), "algorithm must be one of 'auto', 'direct'"),
        (lambda: nn.Conv2D(4, 3, algorithm=None), "algorithm must be one of"),
        (lambda: nn.Conv1D(4, 3, algorithm="fourier"), r"one of 'auto', 'direct', got 'fourier'"),
        (lambda: nn.ConvTranspose2D(4, 3, algorithm="fourier"), r"'direct', got 'fourier'"),
        (lambda: nn.Conv2D(4, 3, strides=2, algorithm="fourier"), "needs strides=1"),
        (lambda: nn.Conv2D(4, 3, dilation=(1, 2), algorithm="fourier"), "and dilation=1"),
    ],
)
def test_conv_rejects_an_unknown_or_impossible_algorithm(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_conv2d_algorithm_is_part_of_the_layers_identity():
    assert nn.Conv2D(4, 3) == nn.Conv2D(4, 3, algorithm="auto")
    assert nn.Conv2D(4, 3) != nn.Conv2D(4, 3, algorithm="direct")

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import activations, initializers, nn


def reference_conv(x, w, b, strides, padding, dilation):
    """Cross-correlation by its definition: for every output position, the sum of the
    elementwise products of the kernel with the (dilated) window of the zero-padded input."""
    spatial = x.ndim - 2
    window = w.shape[:spatial]
    pads = reference_pads(x.shape[1:-1], window, strides, padding, dilation)
    padded = np.pad(x, [(0, 0), *pads, (0, 0)])
    extents = [d * (k - 1) + 1 for k, d in zip(window, dilation)]
    out_sizes = [(padded.shape[1 + i] - extents[i]) // strides[i] + 1 for i in range(spatial)]
    y = np.zeros((x.shape[0], *out_sizes, w.shape[-1]))
    for position in np.ndindex(*out_sizes):
        taps = tuple(
            slice(p * s, p * s + e, d) for p, s, e, d in zip(position, strides, extents, dilation)
        )
        patch = padded[(slice(None), *taps, slice(None))]  # (batch, *window, in)
        products = patch[..., None] * w[None]  # (batch, *window, in, out)
        y[(slice(None), *position, slice(None))] = products.sum(axis=tuple(range(1, spatial + 2)))
    return y + b


def reference_pads(sizes, window, strides, padding, dilation):
    if padding == "VALID":
        return [(0, 0)] * len(sizes)
    if padding == "SAME":
        pads = []
        for n, k, s, d in zip(sizes, window, strides, dilation):
            total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
            pads.append((total // 2, total - total // 2))
        return pads
    if isinstance(padding, int):
        return [(padding, padding)] * len(sizes)
    return list(padding)


# (layer class, input shape, kernel, strides, padding, dilation), sizes per spatial axis.
WINDOW_CASES = [
    (nn.Conv2D, (2, 7, 6, 3), (3, 3), (1, 1), "SAME", (1, 1)),
    (nn.Conv2D, (2, 7, 6, 3), (3, 2), (2, 1), "VALID", (1, 1)),
    (nn.Conv2D, (1, 8, 9, 2), (3, 3), (2, 2), "SAME", (2, 2)),
    (nn.Conv2D, (1, 6, 7, 2), (2, 4), (1, 3), "SAME", (1, 1)),
    (nn.Conv2D, (2, 5, 6, 2), (2, 2), (1, 2), ((1, 0), (2, 1)), (2, 1)),
    (nn.Conv2D, (1, 7, 7, 1), (3, 3), (3, 3), 1, (1, 1)),
    (nn.Conv1D, (2, 9, 3), (3,), (1,), "SAME", (1,)),
    (nn.Conv1D, (2, 11, 2), (4,), (2,), "VALID", (2,)),
    (nn.Conv1D, (1, 10, 2), (2,), (3,), ((2, 1),), (1,)),
]


def random_params(layer, x, seed=0):
    """Params shaped as ``layer.init`` makes them for ``x``, drawn by NumPy (cheaper than
    compiling ``init``'s random draws for every shape)."""
    specs = jax.eval_shape(layer.init, jax.random.key(0), x)[0]
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(lambda s: rng.standard_normal(s.shape).astype(s.dtype), specs)


def random_input(shape, dtype=np.float32, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize(("cls", "shape", "kernel", "strides", "padding", "dilation"), WINDOW_CASES)
def test_conv_equals_sum_of_products_over_each_window(
    cls, shape, kernel, strides, padding, dilation
):
    layer = cls(4, kernel, strides=strides, padding=padding, dilation=dilation)
    x = random_input(shape)
    params = random_params(layer, x)
    y, state = layer.apply(params, {}, x)
    expected = reference_conv(x, params["w"], params["b"], strides, padding, dilation)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert state == {}


@pytest.mark.parametrize(
    ("cls", "kernel", "strides", "padding", "dilation", "torch_padding"),
    [
        (nn.Conv2D, 3, 2, 1, 1, 1),
        (nn.Conv2D, (3, 5), 1, (1, 2), 1, (1, 2)),
        (nn.Conv2D, 3, (1, 2), "VALID", 2, 0),
        (nn.Conv2D, 3, 1, "SAME", 1, 1),
        (nn.Conv1D, 5, 2, 2, 1, 2),
        (nn.Conv1D, 3, 1, "VALID", 3, 0),
    ],
)
def test_conv_matches_torch(cls, kernel, strides, padding, dilation, torch_padding):
    torch = pytest.importorskip("torch")
    layer = cls(5, kernel, strides=strides, padding=padding, dilation=dilation)
    spatial = cls.spatial_dims
    x = random_input((2, *(11,) * spatial, 3))
    params = random_params(layer, x)
    y, _ = layer.apply(params, {}, x)

    conv = torch.nn.functional.conv2d if spatial == 2 else torch.nn.functional.conv1d
    channels_first = (0, spatial + 1, *range(1, spatial + 1))  # NHWC -> NCHW, NWC -> NCW
    kernel_oi = (spatial + 1, spatial, *range(spatial))  # HWIO -> OIHW, WIO -> OIW
    expected = conv(
        torch.from_numpy(x.transpose(channels_first)),
        torch.from_numpy(params["w"].transpose(kernel_oi)),
        torch.from_numpy(params["b"]),
        stride=strides,
        padding=torch_padding,
        dilation=dilation,
    ).numpy()
    channels_last = (0, *range(2, spatial + 2), 1)
    np.testing.assert_allclose(y, expected.transpose(channels_last), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("size", "strides", "dilation"), [(7, 1, 1), (7, 2, 1), (8, 3, 1), (9, 2, 3), (5, 4, 2)]
)
def test_conv_same_padding_gives_ceil_of_size_over_stride(size, strides, dilation):
    layer = nn.Conv2D(2, 3, strides=strides, dilation=dilation)
    x = jax.ShapeDtypeStruct((1, size, size + 1, 1), jnp.float32)
    params = jax.eval_shape(layer.init, jax.random.key(0), x)[0]
    y = jax.eval_shape(lambda p, v: layer.apply(p, {}, v)[0], params, x)
    assert y.shape == (1, -(-size // strides), -(-(size + 1) // strides), 2)


@pytest.mark.parametrize(
    ("layer", "shape", "w_shape"),
    [
        (nn.Conv1D(8, 5), (2, 20, 3), (5, 3, 8)),
        (nn.Conv2D(8, (3, 5)), (2, 10, 10, 3), (3, 5, 3, 8)),
    ],
)
def test_conv_params_have_documented_shapes_and_input_dtype(layer, shape, w_shape):
    x = jax.ShapeDtypeStruct(shape, jnp.float16)
    params, state = jax.eval_shape(layer.init, jax.random.key(0), x)
    assert params["w"].shape == w_shape and params["b"].shape == (8,)
    assert params["w"].dtype == params["b"].dtype == jnp.float16
    assert state == {}


def test_conv_default_kernel_init_is_glorot_uniform_over_the_window():
    # fan_in = 3*3*32 = 288 and fan_out = 3*3*64 = 576: limit sqrt(6 / 864).
    params, _ = nn.Conv2D(64, 3).init(jax.random.key(0), jnp.zeros((1, 8, 8, 32)))
    w = np.asarray(params["w"])
    limit = math.sqrt(6 / (288 + 576))
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    np.testing.assert_allclose(w.std(), limit / math.sqrt(3), rtol=0.02)
    np.testing.assert_array_equal(params["b"], 0)


def test_conv_integer_input_gets_float32_params_and_output():
    layer = nn.Conv2D(2, 3)
    x = np.ones((1, 4, 4, 1), np.int32)
    params = random_params(layer, x)
    y, _ = layer.apply(params, {}, x)
    assert params["w"].dtype == y.dtype == np.float32
    expected = params["w"].sum(axis=(0, 1, 2)) + params["b"]  # an interior window of ones
    np.testing.assert_allclose(y[0, 1, 1], expected, rtol=1e-6)


def test_conv_without_bias_applies_activation_to_the_correlation():
    layer = nn.Conv1D(1, 2, padding="VALID", use_bias=False, activation=activations.relu)
    params = {"w": np.array([[[1.0]], [[-1.0]]])}
    y, _ = layer.apply(params, {}, np.array([[[1.0], [3.0], [2.0], [5.0]]]))
    np.testing.assert_array_equal(y[0, :, 0], [0.0, 1.0, 0.0])  # relu(1-3, 3-2, 2-5)


def test_conv_accepts_numpy_params_and_shape_dtype_struct():
    layer = nn.Conv2D(3, 2)
    params, _ = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 5, 5, 2), jnp.float32))
    numpy_params = jax.tree_util.tree_map(np.asarray, params)
    y, _ = layer.apply(numpy_params, {}, np.ones((4, 5, 5, 2), np.float32))
    assert isinstance(y, jax.Array) and y.shape == (4, 5, 5, 3)


@pytest.mark.parametrize(
    ("layer", "good", "bad", "pattern"),
    [
        (
            nn.Conv2D(4, 3),
            (2, 8, 8, 3),
            (2, 8, 8, 5),
            r"Conv2D\(features=4, kernel_size=3\).*\(batch, height, width, 3\).*\(2, 8, 8, 5\)",
        ),
        (
            nn.Conv2D(4, 3),
            (2, 8, 8, 3),
            (8, 8, 3),
            r"Conv2D\(features=4, kernel_size=3\).*\(batch, height, width, 3\).*\(8, 8, 3\)",
        ),
        (
            nn.Conv1D(4, 3),
            (2, 8, 3),
            (2, 8, 8, 3),
            r"Conv1D\(features=4, kernel_size=3\).*\(batch, length, 3\).*\(2, 8, 8, 3\)",
        ),
        (
            nn.Conv2D(4, 5, padding="VALID"),
            (2, 8, 8, 3),
            (2, 8, 4, 3),
            r"Conv2D\(.*padding='VALID'\).*\(2, 8, 4, 3\).*too small",
        ),
    ],
)
def test_conv_wrong_input_shape_names_layer_and_shapes(layer, good, bad, pattern):
    params = random_params(layer, np.zeros(good, np.float32))
    with pytest.raises(ValueError, match=pattern):
        layer.apply(params, {}, jnp.zeros(bad))


def test_conv_rejects_complex_input():
    with pytest.raises(TypeError, match=r"Conv2D\(features=2, kernel_size=3\)"):
        nn.Conv2D(2, 3).init(jax.random.key(0), jnp.zeros((1, 4, 4, 1), jnp.complex64))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"features": 0, "kernel_size": 3},
        {"features": 2, "kernel_size": 0},
        {"features": 2, "kernel_size": (3, 3, 3)},
        {"features": 2, "kernel_size": 3, "strides": 1.5},
        {"features": 2, "kernel_size": 3, "dilation": (1, 0)},
        {"features": 2, "kernel_size": 3, "padding": "FULL"},
        {"features": 2, "kernel_size": 3, "padding": -1},
        {"features": 2, "kernel_size": 3, "padding": ((1, 2, 3), (0, 0))},
    ],
)
def test_conv_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError, match="Conv2D"):
        nn.Conv2D(**kwargs)


def test_conv_equal_hyperparameters_in_any_spelling_are_equal():
    spellings = [
        nn.Conv2D(4, 3),
        nn.Conv2D(4, (3, 3), strides=(1, 1), padding="same", dilation=[1, 1]),
        nn.Conv2D(features=4, kernel_size=[3, 3]),
    ]
    assert all(s == spellings[0] and hash(s) == hash(spellings[0]) for s in spellings)
    assert nn.Conv2D(4, 3, padding=((1, 1), (1, 1))) == nn.Conv2D(4, 3, padding=1)
    assert repr(spellings[1]) == "Conv2D(features=4, kernel_size=3)"


@pytest.mark.parametrize(
    "other",
    [
        nn.Conv2D(5, 3),
        nn.Conv2D(4, (3, 2)),
        nn.Conv2D(4, 3, strides=2),
        nn.Conv2D(4, 3, padding="VALID"),
        nn.Conv2D(4, 3, padding=1),
        nn.Conv2D(4, 3, dilation=2),
        nn.Conv2D(4, 3, use_bias=False),
        nn.Conv2D(4, 3, kernel_init=initializers.he_normal()),
        nn.Conv2D(4, 3, bias_init=initializers.ones),
        nn.Conv2D(4, 3, activation=activations.relu),
        nn.Conv2D(4, 3, dtype=jnp.float16),
        nn.Conv1D(4, 3),
    ],
)
def test_conv_differing_hyperparameters_are_unequal(other):
    assert nn.Conv2D(4, 3) != other


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.Conv1D(3, 3, strides=2, dilation=2, activation=activations.tanh), (2, 9, 2)),
        (
            nn.Conv2D(2, (2, 3), strides=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2)),
            (1, 5, 4, 2),
        ),
    ],
)
def test_conv_gradient_matches_finite_differences(x64, layer, shape):
    x = random_input(shape, np.float64)
    params = random_params(layer, x)
    out_shape = jax.eval_shape(lambda p: layer.apply(p, {}, x)[0], params).shape
    weights = random_input(out_shape, np.float64, seed=2)

    @jax.jit
    def loss(p, v):
        return jnp.sum(layer.apply(p, {}, v)[0] * weights)

    assert_grad_matches_finite_differences(loss, params, x, argnums=(0, 1))


@pytest.mark.parametrize(
    ("layer", "shape"), [(nn.Conv1D(4, 3, strides=2), (3, 9, 2)), (nn.Conv2D(4, 3), (3, 6, 5, 2))]
)
def test_conv_jit_matches_eager(layer, shape):
    x = random_input(shape)
    params, state = random_params(layer, x), {}
    eager, _ = layer.apply(params, state, x)
    jitted, _ = jax.jit(layer.apply)(params, state, x)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("layer", "shape"), [(nn.Conv1D(4, 3), (2, 7, 2)), (nn.Conv2D(4, 3, strides=2), (2, 6, 5, 2))]
)
def test_conv_vmaps_over_stacked_params(layer, shape):
    x = random_input(shape)
    members = [random_params(layer, x, seed=i) for i in range(3)]
    stacked = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *members)
    ys = jax.vmap(lambda p: layer.apply(p, {}, x)[0])(stacked)
    for y, params in zip(ys, members):
        np.testing.assert_allclose(y, layer.apply(params, {}, x)[0], rtol=1e-5, atol=1e-5)


# --- the bias: broadcast one axis at a time, so that its gradient sums one axis at a time --


@pytest.mark.parametrize(
    ("layer", "shape"),
    [(nn.Conv2D(3, 3), (2, 5, 4, 2)), (nn.Conv1D(3, 3, strides=2), (2, 7, 2))],
)
def test_conv_bias_gradient_is_the_sum_over_batch_and_positions(layer, shape):
    x = random_input(shape)
    params = random_params(layer, x)
    out_shape = jax.eval_shape(lambda p: layer.apply(p, {}, x)[0], params).shape
    weights = random_input(out_shape, seed=2)
    grads = jax.grad(lambda p: jnp.sum(layer.apply(p, {}, x)[0] * weights))(params)
    expected = weights.astype(np.float64).sum(axis=tuple(range(len(shape) - 1)))
    np.testing.assert_allclose(grads["b"], expected, rtol=1e-5, atol=1e-5)


def test_conv_bias_gradient_reduces_one_axis_at_a_time():
    # XLA:CPU turns one sum over (batch, height, width) into a slow reduce-window; the
    # layer broadcasts its bias in steps so that the gradient sums one axis per step.
    layer = nn.Conv2D(4, 3)
    x = random_input((2, 6, 5, 2))
    params = random_params(layer, x)
    jaxpr = jax.make_jaxpr(jax.grad(lambda p: jnp.sum(layer.apply(p, {}, x)[0] ** 2)))(params)
    sums = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "reduce_sum"]
    gradient_sums = [e for e in sums if e.outvars[0].aval.shape != ()]  # not the loss
    assert len(gradient_sums) == 3  # height, width, batch
    assert all(len(e.params["axes"]) == 1 for e in gradient_sums)


def test_conv_forward_mode_matches_finite_differences(x64):
    layer = nn.Conv2D(3, 3, strides=(1, 2))
    x = random_input((2, 5, 6, 2), np.float64)
    params = random_params(layer, x)
    tangent = jax.tree_util.tree_map(lambda p: np.ones_like(p) * 0.5, params)
    f = lambda p: layer.apply(p, {}, x)[0]  # noqa: E731
    _, y_dot = jax.jvp(f, (params,), (tangent,))
    shifted = jax.tree_util.tree_map(lambda p, t: p + 1e-6 * t, params, tangent)
    back = jax.tree_util.tree_map(lambda p, t: p - 1e-6 * t, params, tangent)
    np.testing.assert_allclose(y_dot, (f(shifted) - f(back)) / 2e-6, rtol=1e-6, atol=1e-8)

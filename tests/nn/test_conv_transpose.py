import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import activations, initializers, nn
from jaxdl.train._loops import convolutions_on_cpu


def reference_sizes(sizes, window, strides, padding, dilation):
    """Output sizes and leading paddings along each axis, by the docstring's formulas."""
    out, lows = [], []
    for n, k, s, d in zip(sizes, window, strides, dilation):
        e = d * (k - 1) + 1
        if padding == "SAME":
            out.append(n * s)
            lows.append(e - 1 if s > e - 1 else -(-(e + s - 2) // 2))
        else:
            out.append((n - 1) * s + max(e, s))
            lows.append(e - 1)
    return out, lows


def reference_conv_transpose(x, w, b, strides, padding, dilation):
    """The transposed convolution as a scatter: every input element ``x[u]`` adds
    ``x[u] @ w[k]`` to the output at ``s u + p_lo - d k``, for every kernel tap ``k``."""
    spatial = x.ndim - 2
    window = w.shape[:spatial]
    out_sizes, lows = reference_sizes(x.shape[1:-1], window, strides, padding, dilation)
    y = np.zeros((x.shape[0], *out_sizes, w.shape[-1]))
    for u in np.ndindex(*x.shape[1:-1]):
        for k in np.ndindex(*window):
            t = [s * ui + lo - d * ki for ui, ki, s, lo, d in zip(u, k, strides, lows, dilation)]
            if all(0 <= ti < n for ti, n in zip(t, out_sizes)):
                y[(slice(None), *t, slice(None))] += x[(slice(None), *u, slice(None))] @ w[k]
    return y + b


# (layer class, input shape, kernel, strides, padding, dilation), sizes per spatial axis.
WINDOW_CASES = [
    (nn.ConvTranspose2D, (2, 4, 5, 3), (3, 3), (1, 1), "SAME", (1, 1)),
    (nn.ConvTranspose2D, (2, 4, 5, 3), (3, 3), (2, 2), "SAME", (1, 1)),
    (nn.ConvTranspose2D, (1, 3, 4, 2), (4, 2), (2, 3), "SAME", (1, 1)),
    (nn.ConvTranspose2D, (2, 4, 3, 2), (3, 2), (2, 1), "VALID", (1, 1)),
    (nn.ConvTranspose2D, (1, 3, 3, 2), (2, 2), (3, 3), "VALID", (1, 1)),  # K < s
    (nn.ConvTranspose2D, (1, 4, 4, 2), (3, 2), (2, 2), "SAME", (2, 1)),
    (nn.ConvTranspose1D, (2, 5, 3), (3,), (3,), "SAME", (1,)),
    (nn.ConvTranspose1D, (2, 5, 2), (4,), (2,), "SAME", (1,)),
    (nn.ConvTranspose1D, (2, 6, 2), (5,), (3,), "VALID", (1,)),
    (nn.ConvTranspose1D, (1, 5, 2), (3,), (2,), "VALID", (2,)),
]

CASE_NAMES = ("cls", "shape", "kernel", "strides", "padding", "dilation")


def random_params(layer, x, seed=0):
    """Params shaped as ``layer.init`` makes them for ``x``, drawn by NumPy."""
    specs = jax.eval_shape(layer.init, jax.random.key(0), x)[0]
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(lambda s: rng.standard_normal(s.shape).astype(s.dtype), specs)


def random_input(shape, dtype=np.float32, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def output_shape(layer, shape, dtype=jnp.float32):
    x = jax.ShapeDtypeStruct(shape, dtype)
    params = jax.eval_shape(layer.init, jax.random.key(0), x)[0]
    return jax.eval_shape(lambda p, v: layer.apply(p, {}, v)[0], params, x).shape


@pytest.mark.parametrize("strides", [1, 2, 3])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4])
def test_conv_transpose_same_padding_multiplies_the_size_by_the_stride(kernel, strides):
    layer = nn.ConvTranspose2D(2, kernel, strides=strides)
    assert output_shape(layer, (1, 5, 6, 3)) == (1, 5 * strides, 6 * strides, 2)


@pytest.mark.parametrize("strides", [1, 2, 3])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4])
def test_conv_transpose_valid_padding_gives_the_full_size(kernel, strides):
    layer = nn.ConvTranspose1D(2, kernel, strides=strides, padding="VALID")
    # (n - 1) s + K, or n s when the kernel is shorter than the stride (as Keras and Flax).
    assert output_shape(layer, (1, 5, 3)) == (1, 4 * strides + max(kernel, strides), 2)


def test_conv_transpose_dilation_widens_the_valid_output():
    layer = nn.ConvTranspose2D(2, 3, strides=2, padding="VALID", dilation=(2, 1))
    # Dilated extents 5 and 3: (4 - 1) * 2 + 5 and (4 - 1) * 2 + 3.
    assert output_shape(layer, (1, 4, 4, 1)) == (1, 11, 9, 2)


@pytest.mark.parametrize(CASE_NAMES, WINDOW_CASES)
def test_conv_transpose_equals_scatter_of_kernel_copies(
    cls, shape, kernel, strides, padding, dilation
):
    layer = cls(4, kernel, strides=strides, padding=padding, dilation=dilation)
    x = random_input(shape)
    params = random_params(layer, x)
    y, state = layer.apply(params, {}, x)
    expected = reference_conv_transpose(x, params["w"], params["b"], strides, padding, dilation)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert state == {}


@pytest.mark.parametrize(CASE_NAMES, WINDOW_CASES)
def test_conv_transpose_matches_flax(cls, shape, kernel, strides, padding, dilation):
    flax_nn = pytest.importorskip("flax.linen")
    layer = cls(4, kernel, strides=strides, padding=padding, dilation=dilation)
    x = random_input(shape)
    params = random_params(layer, x)
    y, _ = layer.apply(params, {}, x)
    reference = flax_nn.ConvTranspose(
        4, kernel, strides=strides, padding=padding, kernel_dilation=dilation
    )
    expected = reference.apply({"params": {"kernel": params["w"], "bias": params["b"]}}, x)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("cls", "conv", "shape", "kernel", "strides", "padding", "dilation"),
    [
        (nn.ConvTranspose2D, nn.Conv2D, (2, 3, 4, 3), (3, 2), (2, 3), "SAME", (1, 1)),
        (nn.ConvTranspose2D, nn.Conv2D, (1, 3, 3, 2), (3, 3), (2, 2), "VALID", (1, 2)),
        (nn.ConvTranspose1D, nn.Conv1D, (2, 5, 2), (4,), (2,), "SAME", (1,)),
        (nn.ConvTranspose1D, nn.Conv1D, (2, 4, 2), (2,), (3,), "VALID", (1,)),
    ],
)
def test_conv_transpose_is_the_input_gradient_of_conv_with_the_flipped_kernel(
    cls, conv, shape, kernel, strides, padding, dilation
):
    layer = cls(3, kernel, strides=strides, padding=padding, dilation=dilation, use_bias=False)
    x = random_input(shape)
    params = random_params(layer, x)
    y, _ = layer.apply(params, {}, x)
    spatial = len(kernel)
    # The forward conv maps outputs back to inputs: kernel flipped, in/out swapped.
    flipped = np.flip(params["w"], axis=tuple(range(spatial))).swapaxes(-1, -2)
    forward = conv(
        shape[-1], kernel, strides=strides, padding=padding, dilation=dilation, use_bias=False
    )
    z = jnp.zeros(y.shape)
    out, vjp = jax.vjp(lambda v: forward.apply({"w": flipped}, {}, v)[0], z)
    assert out.shape == x.shape
    np.testing.assert_allclose(y, vjp(x)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("layer", "shape", "w_shape"),
    [
        (nn.ConvTranspose1D(8, 5), (2, 20, 3), (5, 3, 8)),
        (nn.ConvTranspose2D(8, (3, 4)), (2, 10, 10, 3), (3, 4, 3, 8)),
    ],
)
def test_conv_transpose_params_have_documented_shapes_and_input_dtype(layer, shape, w_shape):
    x = jax.ShapeDtypeStruct(shape, jnp.float16)
    params, state = jax.eval_shape(layer.init, jax.random.key(0), x)
    assert params["w"].shape == w_shape and params["b"].shape == (8,)
    assert params["w"].dtype == params["b"].dtype == jnp.float16
    assert state == {}


def test_conv_transpose_integer_input_gets_float32_params_and_output():
    layer = nn.ConvTranspose2D(2, 3, strides=2)
    x = np.ones((1, 3, 3, 1), np.int32)
    params = random_params(layer, x)
    y, _ = layer.apply(params, {}, x)
    assert params["w"].dtype == y.dtype == np.float32
    expected = reference_conv_transpose(x, params["w"], params["b"], (2, 2), "SAME", (1, 1))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_conv_transpose_without_bias_applies_activation():
    layer = nn.ConvTranspose1D(
        1, 2, strides=2, padding="VALID", use_bias=False, activation=activations.relu
    )
    params = {"w": np.array([[[1.0]], [[-1.0]]])}
    y, _ = layer.apply(params, {}, np.array([[[1.0], [-3.0]]]))
    # x_u w_k lands on output 2u + 1 - k: [x_0 w_1, x_0 w_0, x_1 w_1, x_1 w_0] = [-1, 1, 3, -3].
    np.testing.assert_array_equal(y[0, :, 0], [0.0, 1.0, 3.0, 0.0])


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.ConvTranspose1D(3, 3, strides=2, dilation=2, activation=activations.tanh), (2, 4, 2)),
        (nn.ConvTranspose2D(2, (2, 3), strides=(2, 1), padding="VALID"), (1, 3, 3, 2)),
    ],
)
def test_conv_transpose_gradient_matches_finite_differences(x64, layer, shape):
    x = random_input(shape, np.float64)
    params = random_params(layer, x)
    out_shape = jax.eval_shape(lambda p: layer.apply(p, {}, x)[0], params).shape
    weights = random_input(out_shape, np.float64, seed=2)

    @jax.jit
    def loss(p, v):
        return jnp.sum(layer.apply(p, {}, v)[0] * weights)

    assert_grad_matches_finite_differences(loss, params, x, argnums=(0, 1))


def test_conv_transpose_jit_matches_eager():
    layer = nn.ConvTranspose2D(4, 3, strides=2)
    x = random_input((2, 4, 3, 2))
    params = random_params(layer, x)
    eager, _ = layer.apply(params, {}, x)
    jitted, _ = jax.jit(layer.apply)(params, {}, x)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("layer", "good", "bad", "pattern"),
    [
        (
            nn.ConvTranspose2D(4, 3),
            (2, 5, 5, 3),
            (2, 5, 5, 2),
            r"ConvTranspose2D\(features=4, kernel_size=3\).*\(batch, height, width, 3\)"
            r".*\(2, 5, 5, 2\)",
        ),
        (
            nn.ConvTranspose2D(4, 3),
            (2, 5, 5, 3),
            (5, 5, 3),
            r"ConvTranspose2D\(features=4, kernel_size=3\).*\(batch, height, width, 3\)"
            r".*\(5, 5, 3\)",
        ),
        (
            nn.ConvTranspose1D(4, 3),
            (2, 5, 3),
            (2, 5, 5, 3),
            r"ConvTranspose1D\(features=4, kernel_size=3\).*\(batch, length, 3\).*\(2, 5, 5, 3\)",
        ),
        (
            nn.ConvTranspose1D(4, 3),
            (2, 5, 3),
            (2, 0, 3),
            r"ConvTranspose1D\(features=4, kernel_size=3\).*non-empty.*\(2, 0, 3\)",
        ),
    ],
)
def test_conv_transpose_wrong_input_shape_names_layer_and_shapes(layer, good, bad, pattern):
    params = random_params(layer, np.zeros(good, np.float32))
    with pytest.raises(ValueError, match=pattern):
        layer.apply(params, {}, jnp.zeros(bad))


@pytest.mark.parametrize("dtype", [jnp.complex64, jnp.bool_])
def test_conv_transpose_rejects_non_real_input(dtype):
    with pytest.raises(TypeError, match=r"ConvTranspose2D\(features=2, kernel_size=3\)"):
        nn.ConvTranspose2D(2, 3).init(jax.random.key(0), jnp.zeros((1, 4, 4, 1), dtype))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"features": 0, "kernel_size": 3},
        {"features": 2.0, "kernel_size": 3},
        {"features": 2, "kernel_size": 0},
        {"features": 2, "kernel_size": (3, 3, 3)},
        {"features": 2, "kernel_size": 3, "strides": 1.5},
        {"features": 2, "kernel_size": 3, "strides": 0},
        {"features": 2, "kernel_size": 3, "dilation": (1, 0)},
        {"features": 2, "kernel_size": 3, "padding": "FULL"},
        {"features": 2, "kernel_size": 3, "padding": 1},
        {"features": 2, "kernel_size": 3, "padding": ((1, 1), (0, 0))},
    ],
)
def test_conv_transpose_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError, match="ConvTranspose2D"):
        nn.ConvTranspose2D(**kwargs)


def test_conv_transpose_equal_hyperparameters_in_any_spelling_are_equal():
    spellings = [
        nn.ConvTranspose2D(4, 3, strides=2),
        nn.ConvTranspose2D(4, (3, 3), strides=(2, 2), padding="same", dilation=[1, 1]),
        nn.ConvTranspose2D(features=4, kernel_size=[3, 3], strides=[2, 2]),
    ]
    assert all(s == spellings[0] and hash(s) == hash(spellings[0]) for s in spellings)
    assert repr(spellings[1]) == "ConvTranspose2D(features=4, kernel_size=3, strides=2)"


@pytest.mark.parametrize(
    "other",
    [
        nn.ConvTranspose2D(5, 3),
        nn.ConvTranspose2D(4, (3, 2)),
        nn.ConvTranspose2D(4, 3, strides=2),
        nn.ConvTranspose2D(4, 3, padding="VALID"),
        nn.ConvTranspose2D(4, 3, dilation=2),
        nn.ConvTranspose2D(4, 3, use_bias=False),
        nn.ConvTranspose2D(4, 3, kernel_init=initializers.he_normal()),
        nn.ConvTranspose2D(4, 3, activation=activations.relu),
        nn.ConvTranspose2D(4, 3, dtype=jnp.float16),
        nn.ConvTranspose1D(4, 3),
        nn.Conv2D(4, 3),
    ],
)
def test_conv_transpose_differing_hyperparameters_are_unequal(other):
    assert nn.ConvTranspose2D(4, 3) != other


@pytest.mark.parametrize("layer", [nn.ConvTranspose1D(2, 3), nn.ConvTranspose2D(2, 3)])
def test_conv_transpose_counts_as_a_convolution_for_training_on_cpu(monkeypatch, layer):
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    assert convolutions_on_cpu(nn.Sequential([layer, nn.Flatten(), nn.Dense(2)]))

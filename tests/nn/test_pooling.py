import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import nn

POOLS = [nn.MaxPool1D, nn.MaxPool2D, nn.AvgPool1D, nn.AvgPool2D]


def reference_pool(x, reduce, window, strides, padding):
    """Pool by its definition: reduce each window of the input, padding excluded (padded
    positions hold NaN and the reductions are NaN-ignoring)."""
    spatial = x.ndim - 2
    pads = reference_pads(x.shape[1:-1], window, strides, padding)
    padded = np.pad(x.astype(np.float64), [(0, 0), *pads, (0, 0)], constant_values=np.nan)
    out_sizes = [(padded.shape[1 + i] - window[i]) // strides[i] + 1 for i in range(spatial)]
    y = np.zeros((x.shape[0], *out_sizes, x.shape[-1]))
    for position in np.ndindex(*out_sizes):
        taps = tuple(slice(p * s, p * s + k) for p, s, k in zip(position, strides, window))
        patch = padded[(slice(None), *taps, slice(None))]
        y[(slice(None), *position, slice(None))] = reduce(patch, axis=tuple(range(1, spatial + 1)))
    return y


def reference_pads(sizes, window, strides, padding):
    if padding == "VALID":
        return [(0, 0)] * len(sizes)
    if padding == "SAME":
        totals = [
            max((math.ceil(n / s) - 1) * s + k - n, 0) for n, k, s in zip(sizes, window, strides)
        ]
        return [(t // 2, t - t // 2) for t in totals]
    if isinstance(padding, int):
        return [(padding, padding)] * len(sizes)
    return list(padding)


def random_input(shape, dtype=np.float32, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# (input shape, window, strides or None, padding), sizes per spatial axis.
WINDOW_CASES = [
    ((2, 6, 6, 3), (2, 2), None, "VALID"),
    ((2, 7, 5, 2), (3, 2), (2, 1), "VALID"),
    ((1, 7, 7, 2), (2, 2), None, "SAME"),
    ((1, 8, 7, 1), (3, 3), (2, 2), "SAME"),
    ((1, 5, 6, 2), (3, 2), (1, 2), ((1, 1), (0, 1))),
    ((2, 9, 2), (3,), None, "VALID"),
    ((2, 9, 2), (2,), (2,), "SAME"),
    ((1, 8, 3), (4,), (3,), 2),
]


@pytest.mark.parametrize(("shape", "window", "strides", "padding"), WINDOW_CASES)
@pytest.mark.parametrize(
    ("classes", "reduce"),
    [((nn.MaxPool1D, nn.MaxPool2D), np.nanmax), ((nn.AvgPool1D, nn.AvgPool2D), np.nanmean)],
    ids=["max", "avg"],
)
def test_pool_equals_reduction_over_each_window(classes, reduce, shape, window, strides, padding):
    layer = classes[len(shape) - 3](window, strides=strides, padding=padding)
    x = random_input(shape)
    y, state = layer.apply({}, {}, x)
    expected = reference_pool(x, reduce, window, strides or window, padding)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    assert state == {}


def test_avg_pool_same_padding_averages_only_the_input_elements():
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)  # padded with one row and column after
    y, _ = nn.AvgPool2D(2, padding="SAME").apply({}, {}, x)
    np.testing.assert_array_equal(y[0, :, :, 0], [[3.0, 4.5], [7.5, 9.0]])


def test_max_pool_padding_never_wins_over_negative_inputs():
    x = -np.arange(1.0, 10.0).reshape(1, 9, 1)
    y, _ = nn.MaxPool1D(2, padding="SAME").apply({}, {}, x)
    np.testing.assert_array_equal(y[0, :, 0], [-1.0, -3.0, -5.0, -7.0, -9.0])


def test_pool_aliases_are_the_2d_layers():
    assert nn.MaxPool is nn.MaxPool2D and nn.AvgPool is nn.AvgPool2D


def test_max_pool_keeps_integer_dtype():
    x = np.array([[[1], [5], [-3], [2]]], np.int32)
    y, _ = nn.MaxPool1D(2).apply({}, {}, x)
    assert y.dtype == jnp.int32
    np.testing.assert_array_equal(y[0, :, 0], [5, 2])


def test_avg_pool_of_integers_is_float():
    x = np.array([[[1], [2], [3], [6]]], np.int32)
    y, _ = nn.AvgPool1D(2).apply({}, {}, x)
    assert y.dtype == jnp.float32
    np.testing.assert_array_equal(y[0, :, 0], [1.5, 4.5])


@pytest.mark.parametrize("cls", POOLS)
def test_pool_init_has_no_params_or_state(cls):
    shape = (2, 6, 3) if cls.spatial_dims == 1 else (2, 6, 6, 3)
    assert cls(2).init(jax.random.key(0), jax.ShapeDtypeStruct(shape, jnp.float32)) == ({}, {})


@pytest.mark.parametrize(
    ("layer", "shape", "pattern"),
    [
        (
            nn.MaxPool2D(2),
            (4, 4, 1),
            r"MaxPool2D\(window=2\).*\(batch, height, width, channels\)"
            r".*\(4, 4, 1\)",
        ),
        (
            nn.AvgPool1D(2),
            (2, 4, 4, 1),
            r"AvgPool1D\(window=2\).*\(batch, length, channels\)"
            r".*\(2, 4, 4, 1\)",
        ),
        (nn.AvgPool2D(3), (2, 2, 5, 1), r"AvgPool2D\(window=3\).*\(2, 2, 5, 1\).*too small"),
    ],
)
def test_pool_wrong_input_shape_names_layer_and_shapes(layer, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        layer.apply({}, {}, np.zeros(shape, np.float32))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 0},
        {"window": (2, 2, 2)},
        {"window": 2, "strides": 0},
        {"window": 2, "padding": "FULL"},
        {"window": 2, "padding": (-1, 0)},
    ],
)
def test_pool_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError, match="MaxPool2D"):
        nn.MaxPool2D(**kwargs)


def test_pool_equal_hyperparameters_in_any_spelling_are_equal():
    spellings = [nn.MaxPool2D(2), nn.MaxPool2D((2, 2), padding="valid"), nn.MaxPool([2, 2])]
    assert all(s == spellings[0] and hash(s) == hash(spellings[0]) for s in spellings)
    assert repr(spellings[1]) == "MaxPool2D(window=2)"


@pytest.mark.parametrize(
    "other",
    [
        nn.MaxPool2D(3),
        nn.MaxPool2D(2, strides=1),
        nn.MaxPool2D(2, padding="SAME"),
        nn.MaxPool1D(2),
        nn.AvgPool2D(2),
    ],
)
def test_pool_differing_hyperparameters_are_unequal(other):
    assert nn.MaxPool2D(2) != other


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.MaxPool1D(3, strides=2, padding="SAME"), (2, 8, 2)),
        (nn.MaxPool2D(2, strides=1), (1, 4, 5, 2)),
        (nn.AvgPool1D(2, padding=((1, 0),)), (2, 7, 2)),
        (nn.AvgPool2D((2, 3), padding="SAME"), (1, 5, 4, 2)),
    ],
)
def test_pool_gradient_matches_finite_differences(x64, layer, shape):
    x = random_input(shape, np.float64)
    out_shape = jax.eval_shape(lambda v: layer.apply({}, {}, v)[0], x).shape
    weights = random_input(out_shape, np.float64, seed=2)

    @jax.jit
    def loss(v):
        return jnp.sum(layer.apply({}, {}, v)[0] * weights)

    assert_grad_matches_finite_differences(loss, x)


@pytest.mark.parametrize("cls", POOLS)
def test_pool_jit_and_vmap_match_eager(cls):
    layer = cls(2, strides=1, padding="SAME")
    shape = (3, 2, 5, 2) if cls.spatial_dims == 1 else (3, 2, 5, 4, 2)
    xs = random_input(shape)  # a stack of 3 batches
    eager = np.stack([layer.apply({}, {}, x)[0] for x in xs])
    jitted = jax.jit(jax.vmap(lambda x: layer.apply({}, {}, x)[0]))(xs)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-6)


# --- the tiled path: windows that tile the input (strides = window, no padding) -----------

# (layer, input shape): each pools by reshaping the input into its windows.
TILED_CASES = [
    (nn.MaxPool2D(2), (2, 6, 8, 3)),
    (nn.MaxPool2D((2, 3), padding="SAME"), (1, 4, 9, 2)),  # sizes divide: no padding
    (nn.MaxPool2D(3), (2, 7, 8, 2)),  # VALID drops the last row and the last two columns
    (nn.MaxPool1D(2), (2, 9, 3)),
    (nn.AvgPool2D(2, strides=2), (2, 6, 6, 3)),
    (nn.AvgPool2D((3, 2)), (1, 8, 5, 2)),
    (nn.AvgPool1D(4), (2, 10, 2)),
]


def reduce_window_pool(layer, x):
    """``layer`` computed with ``lax.reduce_window``, the general path, as a reference."""
    n = layer.spatial_dims
    window = (layer.window,) * n if isinstance(layer.window, int) else layer.window
    dims = (1, *window, 1)
    if isinstance(layer, nn.MaxPool1D | nn.MaxPool2D):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, dims, dims, "VALID")
    sums = jax.lax.reduce_window(x, 0.0, jax.lax.add, dims, dims, "VALID")
    return sums / math.prod(window)


def tied_input(shape, seed=3):
    """Rounded, ReLU-ed normal draws: most windows hold tied maxima (often all zeros)."""
    return np.maximum(np.round(random_input(shape, seed=seed) * 1.5), 0).astype(np.float32)


@pytest.mark.parametrize(("layer", "shape"), TILED_CASES)
def test_tiled_pool_equals_reduce_window(layer, shape):
    x = random_input(shape)
    y, _ = layer.apply({}, {}, x)
    np.testing.assert_allclose(y, reduce_window_pool(layer, x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("layer", "shape"), TILED_CASES)
def test_tiled_pool_gradient_equals_reduce_windows_on_ties(layer, shape):
    # reduce_window's gradient (select_and_scatter) and PyTorch's give all of a window's
    # gradient to its first maximum in row-major order; the tiled path must do the same.
    x = tied_input(shape)
    out_shape = jax.eval_shape(lambda v: layer.apply({}, {}, v)[0], x).shape
    weights = random_input(out_shape, seed=2)
    grad = jax.grad(lambda v: jnp.sum(layer.apply({}, {}, v)[0] * weights))(x)
    expected = jax.grad(lambda v: jnp.sum(reduce_window_pool(layer, v) * weights))(x)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)


def test_tiled_max_pool_gives_the_gradient_to_the_first_maximum_like_torch():
    torch = pytest.importorskip("torch")
    x = tied_input((2, 6, 8, 3))
    weights = random_input((2, 3, 4, 3), seed=2)
    grad = jax.grad(lambda v: jnp.sum(nn.MaxPool2D(2).apply({}, {}, v)[0] * weights))(x)
    x_torch = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    pooled = torch.nn.functional.max_pool2d(x_torch, 2)
    (pooled * torch.from_numpy(weights.transpose(0, 3, 1, 2))).sum().backward()
    np.testing.assert_array_equal(grad, x_torch.grad.numpy().transpose(0, 2, 3, 1))
    assert np.sum(grad != 0) == weights.size  # one winner per window, ties or not


def test_tiled_max_pool_gradient_goes_to_a_nan():
    x = np.array([[[1.0], [np.nan], [3.0], [np.nan]]], np.float32)
    grad = jax.grad(lambda v: jnp.sum(nn.MaxPool1D(2).apply({}, {}, v)[0]))(x)
    np.testing.assert_array_equal(grad[0, :, 0], [0.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize(("layer", "shape"), TILED_CASES)
def test_tiled_pool_gradient_matches_finite_differences(x64, layer, shape):
    x = random_input(shape, np.float64)  # distinct values: max is differentiable there
    out_shape = jax.eval_shape(lambda v: layer.apply({}, {}, v)[0], x).shape
    weights = random_input(out_shape, np.float64, seed=2)

    @jax.jit
    def loss(v):
        return jnp.sum(layer.apply({}, {}, v)[0] * weights)

    assert_grad_matches_finite_differences(loss, x)


@pytest.mark.parametrize(("layer", "shape"), TILED_CASES[:4])
def test_tiled_max_pool_forward_mode_equals_reduce_window(layer, shape):
    x, tangent = tied_input(shape), random_input(shape, seed=4)
    y, y_dot = jax.jvp(lambda v: layer.apply({}, {}, v)[0], (x,), (tangent,))
    expected, expected_dot = jax.jvp(lambda v: reduce_window_pool(layer, v), (x,), (tangent,))
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_allclose(y_dot, expected_dot, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("layer", "tiled"),
    [
        (nn.MaxPool2D(2), True),
        (nn.AvgPool2D(2, padding="SAME"), True),
        (nn.MaxPool2D(2, strides=1), False),  # overlapping windows
        (nn.MaxPool2D(3, padding="SAME"), False),  # 8 is not a multiple of 3: padded
        (nn.AvgPool2D(2, padding=1), False),
    ],
)
def test_only_tiling_windows_avoid_reduce_window(layer, tiled):
    # The tiled path exists for speed: reduce_window's gradient is slow on XLA:CPU.
    x = random_input((1, 8, 8, 2))
    jaxpr = str(jax.make_jaxpr(jax.grad(lambda v: jnp.sum(layer.apply({}, {}, v)[0])))(x))
    assert ("reduce_window" in jaxpr or "select_and" in jaxpr) is not tiled


def test_tiled_max_pool_vmaps_and_keeps_integer_dtype():
    xs = random_input((3, 2, 6, 4, 2))
    ys = jax.jit(jax.vmap(lambda v: nn.MaxPool2D(2).apply({}, {}, v)[0]))(xs)
    np.testing.assert_array_equal(ys, [reduce_window_pool(nn.MaxPool2D(2), x) for x in xs])
    integers = np.arange(24, dtype=np.int32).reshape(1, 4, 6, 1)
    y, _ = nn.MaxPool2D(2).apply({}, {}, integers)
    assert y.dtype == jnp.int32
    np.testing.assert_array_equal(y[0, :, :, 0], [[7, 9, 11], [19, 21, 23]])

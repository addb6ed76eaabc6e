import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import activations, initializers, nn

# Every recurrent layer, built as make(hidden_size, **hyperparameters).
LAYERS = [
    pytest.param(nn.SimpleRNN, id="SimpleRNN"),
    pytest.param(nn.LSTM, id="LSTM"),
    pytest.param(nn.GRU, id="GRU"),
]
# For the numerical checks, also a second SimpleRNN activation.
VARIANTS = [
    *LAYERS,
    pytest.param(functools.partial(nn.SimpleRNN, activation=activations.relu), id="SimpleRNN-relu"),
]
# Gate blocks stacked in w_ih / w_hh, and the bias params.
BLOCKS = {nn.SimpleRNN: 1, nn.LSTM: 4, nn.GRU: 3}
BIASES = {nn.SimpleRNN: ("b",), nn.LSTM: ("b",), nn.GRU: ("b_ih", "b_hh")}


# --- references: plain NumPy loops over time, written from the docstring formulas ----------


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _simple_rnn_step(layer, p, h, x_t):
    f = {activations.tanh: np.tanh, activations.relu: lambda z: np.maximum(z, 0)}
    return f[layer.activation](x_t @ p["w_ih"] + h @ p["w_hh"] + p["b"]), None


def _lstm_step(layer, p, h, c, x_t):
    n = layer.hidden_size
    gate = {name: slice(k * n, (k + 1) * n) for k, name in enumerate("ifgo")}

    def pre(g):
        return x_t @ p["w_ih"][:, gate[g]] + h @ p["w_hh"][:, gate[g]] + p["b"][gate[g]]

    i, f, g, o = _sigmoid(pre("i")), _sigmoid(pre("f")), np.tanh(pre("g")), _sigmoid(pre("o"))
    c = f * c + i * g
    return o * np.tanh(c), c


def _gru_step(layer, p, h, x_t):
    n = layer.hidden_size
    gate = {name: slice(k * n, (k + 1) * n) for k, name in enumerate("rzn")}

    def from_x(g):
        return x_t @ p["w_ih"][:, gate[g]] + p["b_ih"][gate[g]]

    def from_h(g):
        return h @ p["w_hh"][:, gate[g]] + p["b_hh"][gate[g]]

    r = _sigmoid(from_x("r") + from_h("r"))
    z = _sigmoid(from_x("z") + from_h("z"))
    candidate = np.tanh(from_x("n") + r * from_h("n"))
    return (1 - z) * candidate + z * h, None


def reference_sequence(layer, params, x):
    """All hidden states h_1 … h_T, shape (batch, time, hidden), by a Python loop."""
    p = {name: np.asarray(value) for name, value in params.items()}
    x = np.asarray(x)
    h = np.zeros((x.shape[0], layer.hidden_size))
    c = np.zeros_like(h)
    outputs = []
    for t in range(x.shape[1]):
        if isinstance(layer, nn.LSTM):
            h, c = _lstm_step(layer, p, h, c, x[:, t])
        elif isinstance(layer, nn.GRU):
            h, _ = _gru_step(layer, p, h, x[:, t])
        else:
            h, _ = _simple_rnn_step(layer, p, h, x[:, t])
        outputs.append(h)
    return np.stack(outputs, axis=1)


def _random_problem(make, seed, *, batch=3, time=6, features=4, hidden=5, **kwargs):
    """A layer with non-zero biases, its float64 params and a float64 input."""
    layer = make(hidden, bias_init=initializers.normal(0.5), **kwargs)
    x = jax.random.normal(jax.random.key(seed), (batch, time, features), jnp.float64)
    params, _ = layer.init(jax.random.key(seed + 1), x)
    return layer, params, x


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", VARIANTS)
def test_sequence_output_matches_reference_loop(make, x64):
    layer, params, x = _random_problem(make, 0, return_sequences=True)
    y, state = layer.apply(params, {}, x)
    np.testing.assert_allclose(y, reference_sequence(layer, params, x), rtol=1e-12, atol=1e-12)
    assert state == {}


@pytest.mark.parametrize("make", VARIANTS)
def test_matches_torch_with_copied_weights(make, x64):
    torch = pytest.importorskip("torch")
    layer = make(5, return_sequences=True)
    torch.manual_seed(0)
    module = _torch_module(torch, layer, in_features=4)
    x = np.random.default_rng(0).standard_normal((3, 7, 4))
    expected = module(torch.from_numpy(x))[0].detach().numpy()

    y, _ = layer.apply(_params_from_torch(layer, module), {}, x)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make", VARIANTS)
def test_last_output_is_last_element_of_sequence(make, x64):
    layer, params, x = _random_problem(make, 2, return_sequences=True)
    sequence, _ = layer.apply(params, {}, x)
    last, _ = make(layer.hidden_size, bias_init=layer.bias_init).apply(params, {}, x)
    np.testing.assert_allclose(last, sequence[:, -1], rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("make", LAYERS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_output_shape(make, return_sequences):
    layer = make(6, return_sequences=return_sequences)
    x = jnp.ones((2, 9, 3))
    params, _ = layer.init(jax.random.key(0), x)
    y, _ = layer.apply(params, {}, x)
    assert y.shape == ((2, 9, 6) if return_sequences else (2, 6))
    assert y.dtype == jnp.float32


@pytest.mark.parametrize("make", LAYERS)
def test_hidden_state_starts_at_zero(make):
    # With zero inputs and zero biases h stays 0 for ever (tanh(0) = relu(0) = 0, and the
    # LSTM's and GRU's gates keep h and c at 0), whatever the weights are.
    layer = make(4, return_sequences=True)
    x = jnp.zeros((2, 5, 3))
    params, _ = layer.init(jax.random.key(0), x)
    y, _ = layer.apply(params, {}, x)
    np.testing.assert_array_equal(y, np.zeros((2, 5, 4)))


# --- params ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", LAYERS)
def test_params_have_documented_shapes_and_input_dtype(make):
    layer = make(4)
    blocks = BLOCKS[type(layer)]
    params, state = layer.init(jax.random.key(0), jnp.zeros((2, 3, 7), jnp.float16))
    expected = {"w_ih": (7, blocks * 4), "w_hh": (4, blocks * 4)}
    expected |= {name: (blocks * 4,) for name in BIASES[type(layer)]}
    assert {name: value.shape for name, value in params.items()} == expected
    assert all(value.dtype == jnp.float16 for value in params.values())
    assert state == {}


@pytest.mark.parametrize("make", LAYERS)
def test_integer_input_gets_float32_params(make):
    layer = make(3)
    x = jnp.ones((2, 4, 5), jnp.int32)
    params, _ = layer.init(jax.random.key(0), x)
    y, _ = layer.apply(params, {}, x)
    assert params["w_ih"].dtype == jnp.float32 and y.dtype == jnp.float32


@pytest.mark.parametrize("make", LAYERS)
def test_explicit_dtype_sets_param_dtype(make, x64):
    layer = make(3, dtype=jnp.float64)
    params, _ = layer.init(jax.random.key(0), jnp.ones((2, 4, 5), jnp.float32))
    assert all(value.dtype == jnp.float64 for value in params.values())
    assert layer.apply(params, {}, jnp.ones((2, 4, 5), jnp.float32))[0].dtype == jnp.float64


@pytest.mark.parametrize("make", LAYERS)
def test_each_gate_recurrent_block_is_orthogonal(make):
    layer = make(6)
    params, _ = layer.init(jax.random.key(0), jnp.zeros((1, 1, 3)))
    for block in np.split(np.asarray(params["w_hh"]), BLOCKS[type(layer)], axis=1):
        np.testing.assert_allclose(block.T @ block, np.eye(6), atol=1e-5)


def test_lstm_forget_bias_is_added_to_forget_gate_only():
    layer = nn.LSTM(3, forget_bias=1.0, bias_init=initializers.constant(0.25))
    params, _ = layer.init(jax.random.key(0), jnp.zeros((1, 1, 2)))
    np.testing.assert_array_equal(params["b"], [0.25] * 3 + [1.25] * 3 + [0.25] * 6)


@pytest.mark.parametrize("make", LAYERS)
def test_summary_counts_weights_and_biases(make):
    layer = make(5)
    blocks = BLOCKS[type(layer)]
    params, _ = layer.init(jax.random.key(0), jnp.zeros((1, 1, 3)))
    biases = blocks * 5 * len(BIASES[type(layer)])
    assert nn.count_params(params) == (blocks * (3 * 5 + 5 * 5), biases)


@pytest.mark.parametrize("make", LAYERS)
def test_accepts_numpy_params_and_shape_dtype_struct(make):
    layer = make(2)
    params, _ = layer.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 5, 3), jnp.float32))
    numpy_params = jax.tree_util.tree_map(np.asarray, params)
    y, _ = layer.apply(numpy_params, {}, np.ones((4, 5, 3), np.float32))
    assert isinstance(y, jax.Array) and y.shape == (4, 2)


# --- transformations ------------------------------------------------------------------------


def _loss_problem(make):
    """``(loss, params, x)``: a weighted sum of every hidden state, float64."""
    # Shapes drawn at random (fixed seed), so no size is special-cased by accident.
    batch, time, features, hidden = np.random.default_rng(3).integers(1, 5, size=4) + 1
    layer, params, x = _random_problem(
        make,
        4,
        batch=batch,
        time=time,
        features=features,
        hidden=int(hidden),
        return_sequences=True,
    )
    weights = jax.random.normal(jax.random.key(5), (batch, time, hidden), jnp.float64)

    @jax.jit
    def loss(p, v):
        return jnp.sum(layer.apply(p, {}, v)[0] * weights)

    return loss, params, x


def _random_like(tree, seed):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    draws = [jax.random.normal(k, jnp.shape(leaf), jnp.float64) for k, leaf in zip(keys, leaves)]
    return jax.tree_util.tree_unflatten(treedef, draws)


@pytest.mark.parametrize("make", VARIANTS)
def test_gradient_matches_finite_differences(make, x64):
    loss, params, x = _loss_problem(make)
    assert_grad_matches_finite_differences(loss, params, x, argnums=(0, 1))


@pytest.mark.parametrize("argnums", [0, 1], ids=["params", "input"])
@pytest.mark.parametrize("make", VARIANTS)
def test_gradient_of_one_argument_matches_finite_differences(make, argnums, x64):
    # The other argument is not differentiated: its tangent is a symbolic zero, and the
    # step's projection leaves that term of its derivative out.
    loss, params, x = _loss_problem(make)
    assert_grad_matches_finite_differences(loss, params, x, argnums=argnums)


@pytest.mark.parametrize("make", VARIANTS)
def test_forward_mode_matches_finite_differences(make, x64):
    loss, params, x = _loss_problem(make)
    tangents = (_random_like(params, 6), _random_like(x, 7))
    _, derivative = jax.jvp(loss, (params, x), tangents)

    def moved(step):
        return loss(*jax.tree.map(lambda a, t: a + step * t, (params, x), tangents))

    eps = 1e-6
    numeric = (moved(eps) - moved(-eps)) / (2 * eps)
    np.testing.assert_allclose(derivative, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("make", VARIANTS)
def test_hessian_vector_product_matches_finite_differences_of_gradient(make, x64):
    loss, params, x = _loss_problem(make)
    direction = _random_like(params, 8)
    grad = jax.grad(loss)
    _, product = jax.jvp(lambda p: grad(p, x), (params,), (direction,))

    eps = 1e-6
    ahead = grad(jax.tree.map(lambda a, d: a + eps * d, params, direction), x)
    behind = grad(jax.tree.map(lambda a, d: a - eps * d, params, direction), x)
    for name in params:
        numeric = (ahead[name] - behind[name]) / (2 * eps)
        np.testing.assert_allclose(product[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("make", LAYERS)
def test_jit_matches_eager(make):
    layer = make(4)
    x = jax.random.normal(jax.random.key(0), (2, 5, 3))
    params, _ = layer.init(jax.random.key(1), x)
    jitted = jax.jit(layer.apply)(params, {}, x)[0]
    np.testing.assert_allclose(jitted, layer.apply(params, {}, x)[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("make", LAYERS)
def test_layer_is_a_static_jit_argument(make):
    @functools.partial(jax.jit, static_argnums=0)
    def run(layer, params, x):
        return layer.apply(params, {}, x)[0]

    layer = make(4, return_sequences=True)
    x = jnp.ones((2, 3, 2))
    params, _ = layer.init(jax.random.key(0), x)
    assert run(layer, params, x).shape == (2, 3, 4)


@pytest.mark.parametrize("make", LAYERS)
def test_vmap_over_batches_matches_loop(make):
    layer = make(4)
    xs = jax.random.normal(jax.random.key(0), (3, 2, 5, 3))
    params, _ = layer.init(jax.random.key(1), xs[0])
    mapped = jax.vmap(lambda x: layer.apply(params, {}, x)[0])(xs)
    looped = jnp.stack([layer.apply(params, {}, x)[0] for x in xs])
    np.testing.assert_allclose(mapped, looped, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("make", LAYERS)
def test_composes_in_sequential(make):
    model = nn.Sequential([make(8), nn.Dense(2)])
    x = jnp.ones((4, 6, 3))
    params, state = model.init(jax.random.key(0), x)
    y, _ = model.apply(params, state, x)
    assert y.shape == (4, 2) and params["1"]["w"].shape == (8, 2)


# --- hyperparameters and errors -------------------------------------------------------------


def test_layers_hash_and_compare_by_hyperparameters():
    assert nn.LSTM(4) == nn.LSTM(4) and hash(nn.LSTM(4)) == hash(nn.LSTM(4))
    assert nn.GRU(4) == nn.GRU(4) and hash(nn.GRU(4)) == hash(nn.GRU(4))
    assert nn.LSTM(4) != nn.GRU(4)
    assert nn.LSTM(4) != nn.LSTM(5)
    assert nn.LSTM(4) != nn.LSTM(4, return_sequences=True)
    assert nn.LSTM(4) != nn.LSTM(4, forget_bias=1.0)
    assert nn.GRU(4) != nn.GRU(4, recurrent_init=initializers.glorot_uniform())
    assert nn.SimpleRNN(4) != nn.SimpleRNN(4, activation=activations.relu)


@pytest.mark.parametrize("make", LAYERS)
def test_wrong_rank_names_layer_and_shapes(make):
    layer = make(4)
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}\(.*\(batch, time, features\).*\(2, 5\)"):
        layer.init(jax.random.key(0), jnp.zeros((2, 5)))


@pytest.mark.parametrize("make", LAYERS)
def test_wrong_feature_size_names_layer_and_shapes(make):
    layer = make(4)
    params, _ = layer.init(jax.random.key(0), jnp.zeros((1, 2, 3)))
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}\(.*\(batch, time, 3\).*\(2, 7, 5\)"):
        layer.apply(params, {}, jnp.zeros((2, 7, 5)))


@pytest.mark.parametrize("make", LAYERS)
@pytest.mark.parametrize("hidden_size", [0, -1, 2.0, True])
def test_rejects_bad_hidden_size(make, hidden_size):
    with pytest.raises(ValueError, match="hidden_size must be an int ≥ 1"):
        make(hidden_size)


@pytest.mark.parametrize("make", LAYERS)
def test_rejects_non_bool_return_sequences(make):
    with pytest.raises(ValueError, match="return_sequences must be a bool"):
        make(4, return_sequences="yes")


def test_lstm_rejects_non_number_forget_bias():
    with pytest.raises(ValueError, match="forget_bias must be a number"):
        nn.LSTM(4, forget_bias="1")


def test_simple_rnn_rejects_non_callable_activation():
    with pytest.raises(ValueError, match="activation must be callable"):
        nn.SimpleRNN(4, activation="tanh")


# --- torch interop helpers ------------------------------------------------------------------


def _torch_module(torch, layer, in_features):
    kwargs = dict(batch_first=True, dtype=torch.float64)
    if isinstance(layer, nn.LSTM):
        return torch.nn.LSTM(in_features, layer.hidden_size, **kwargs)
    if isinstance(layer, nn.GRU):
        return torch.nn.GRU(in_features, layer.hidden_size, **kwargs)
    nonlinearity = {activations.tanh: "tanh", activations.relu: "relu"}[layer.activation]
    return torch.nn.RNN(in_features, layer.hidden_size, nonlinearity=nonlinearity, **kwargs)


def _params_from_torch(layer, module):
    """torch stores (blocks·h, in) matrices and two biases; jaxdl the transposes."""
    weights = {name: value.detach().numpy() for name, value in module.named_parameters()}
    params = {"w_ih": weights["weight_ih_l0"].T, "w_hh": weights["weight_hh_l0"].T}
    if isinstance(layer, nn.GRU):
        params |= {"b_ih": weights["bias_ih_l0"], "b_hh": weights["bias_hh_l0"]}
    else:
        params["b"] = weights["bias_ih_l0"] + weights["bias_hh_l0"]
    return params

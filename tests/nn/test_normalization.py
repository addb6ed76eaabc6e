import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import nn

EPS = 1e-5


def random_input(shape, dtype=np.float32, seed=0, loc=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (loc + scale * rng.standard_normal(shape)).astype(dtype)


def standardized(x, mean, var, scale=1.0, bias=0.0, eps=EPS):
    return (x - mean) / np.sqrt(var + eps) * scale + bias


def affine_params(features, seed=1, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return {
        "scale": rng.uniform(0.5, 2.0, features).astype(dtype),
        "bias": rng.standard_normal(features).astype(dtype),
    }


# --- BatchNorm -----------------------------------------------------------------------------


def test_batch_norm_init_gives_unit_affine_params_and_zero_one_state():
    params, state = nn.BatchNorm().init(jax.random.key(0), np.zeros((4, 3), np.float32))
    np.testing.assert_array_equal(params["scale"], np.ones(3))
    np.testing.assert_array_equal(params["bias"], np.zeros(3))
    np.testing.assert_array_equal(state["mean"], np.zeros(3))
    np.testing.assert_array_equal(state["var"], np.ones(3))


@pytest.mark.parametrize(("shape", "axes"), [((8, 3), (0,)), ((4, 5, 6, 3), (0, 1, 2))])
def test_batch_norm_training_normalises_with_batch_statistics(shape, axes):
    x = random_input(shape, loc=3.0, scale=2.0)
    params = affine_params(3)
    _, state = nn.BatchNorm().init(jax.random.key(0), x)
    y, _ = nn.BatchNorm().apply(params, state, x, train=True)
    expected = standardized(x, x.mean(axes), x.var(axes), params["scale"], params["bias"])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_batch_norm_training_updates_running_statistics_exactly():
    x = np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)  # batch mean (2, 4), biased var (1, 4)
    state = {"mean": np.array([0.5, -1.0], np.float32), "var": np.array([2.0, 3.0], np.float32)}
    layer = nn.BatchNorm(momentum=0.9)
    params, _ = layer.init(jax.random.key(0), x)
    _, new_state = layer.apply(params, state, x, train=True)
    np.testing.assert_allclose(new_state["mean"], [0.9 * 0.5 + 0.1 * 2, 0.9 * -1 + 0.1 * 4])
    np.testing.assert_allclose(new_state["var"], [0.9 * 2 + 0.1 * 1, 0.9 * 3 + 0.1 * 4])


def test_batch_norm_inference_uses_running_statistics_and_keeps_state():
    x = random_input((5, 3))
    params = affine_params(3)
    state = {"mean": np.float32([0.1, -0.2, 0.3]), "var": np.float32([0.5, 2.0, 4.0])}
    y, new_state = nn.BatchNorm().apply(params, state, x)
    expected = standardized(x, state["mean"], state["var"], params["scale"], params["bias"])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert new_state is state


def test_batch_norm_inference_approaches_training_output_after_many_steps():
    layer = nn.BatchNorm(momentum=0.9)
    x = random_input((16, 4), loc=5.0, scale=3.0)
    params, state = layer.init(jax.random.key(0), x)

    def step(state, _):
        return layer.apply(params, state, x, train=True)[1], None

    state, _ = jax.lax.scan(step, state, length=150)  # running error shrinks as 0.9^150
    trained, _ = layer.apply(params, state, x, train=True)
    inferred, _ = layer.apply(params, state, x)
    np.testing.assert_allclose(inferred, trained, atol=1e-4)


@pytest.mark.parametrize("shape", [(8, 3), (4, 5, 6, 3)], ids=["BatchNorm1d", "BatchNorm2d"])
def test_batch_norm_training_output_and_running_mean_match_torch(shape):
    torch = pytest.importorskip("torch")
    x = random_input(shape, loc=1.0, scale=2.0)
    params = affine_params(3)
    layer = nn.BatchNorm(momentum=0.9)
    _, state = layer.init(jax.random.key(0), x)
    y, new_state = layer.apply(params, state, x, train=True)

    channels_first = (0, 3, 1, 2) if len(shape) == 4 else (0, 1)
    module = (torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d)(
        3, eps=EPS, momentum=0.1
    )
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(params["scale"]))
        module.bias.copy_(torch.from_numpy(params["bias"]))
    expected = module.train()(torch.from_numpy(x.transpose(channels_first))).detach().numpy()
    np.testing.assert_allclose(y, expected.transpose(np.argsort(channels_first)), atol=2e-5)
    np.testing.assert_allclose(new_state["mean"], module.running_mean.numpy(), rtol=1e-5)


@pytest.mark.parametrize("shape", [(8, 3), (4, 5, 6, 3)], ids=["BatchNorm1d", "BatchNorm2d"])
def test_batch_norm_running_variance_averages_biased_variance_unlike_torch(shape):
    torch = pytest.importorskip("torch")
    x = random_input(shape, scale=2.0)
    layer = nn.BatchNorm(momentum=0.9)
    params, state = layer.init(jax.random.key(0), x)
    _, new_state = layer.apply(params, state, x, train=True)
    axes = tuple(range(len(shape) - 1))
    np.testing.assert_allclose(new_state["var"], 0.9 + 0.1 * x.var(axes), rtol=1e-5)

    channels_first = (0, 3, 1, 2) if len(shape) == 4 else (0, 1)
    module = (torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d)(3, momentum=0.1)
    module.train()(torch.from_numpy(x.transpose(channels_first)))
    n = x.size // 3  # torch averages the unbiased variance, n / (n - 1) times ours
    torch_as_biased = 0.9 + (module.running_var.numpy() - 0.9) * (n - 1) / n
    np.testing.assert_allclose(new_state["var"], torch_as_biased, rtol=1e-5)


def test_batch_norm_axis_selects_the_feature_axis():
    x = random_input((4, 3, 5, 6))  # NCHW
    params = affine_params(3)
    channels_first = nn.BatchNorm(axis=1)
    _, state = channels_first.init(jax.random.key(0), x)
    y, new_state = channels_first.apply(params, state, x, train=True)
    y_last, state_last = nn.BatchNorm().apply(params, state, x.transpose(0, 2, 3, 1), train=True)
    np.testing.assert_allclose(y, np.asarray(y_last).transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(new_state["mean"], state_last["mean"], rtol=1e-6)


def test_batch_norm_without_scale_and_bias_has_no_params_and_standardises():
    layer = nn.BatchNorm(use_scale=False, use_bias=False)
    x = random_input((10, 2), loc=2.0)
    params, state = layer.init(jax.random.key(0), x)
    y, _ = layer.apply(params, state, x, train=True)
    assert params == {}
    np.testing.assert_allclose(y, standardized(x, x.mean(0), x.var(0)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("dtype", "x_dtype", "expected"),
    [
        (None, jnp.float16, jnp.float16),
        (None, jnp.int32, jnp.float32),
        (jnp.float32, jnp.float16, jnp.float32),
    ],
)
def test_batch_norm_params_state_and_output_dtype(dtype, x_dtype, expected):
    layer = nn.BatchNorm(dtype=dtype)
    x = np.arange(12).reshape(4, 3).astype(x_dtype)
    params, state = layer.init(jax.random.key(0), x)
    y, new_state = layer.apply(params, state, x, train=True)
    assert params["scale"].dtype == state["var"].dtype == new_state["var"].dtype == expected
    assert y.dtype == expected


@pytest.mark.parametrize(
    ("layer", "shape", "pattern"),
    [
        (nn.BatchNorm(), (2, 5, 4), r"BatchNorm\(\): expected .*\(batch, \?, 3\), got \(2, 5, 4\)"),
        (nn.BatchNorm(), (6,), r"BatchNorm\(\): expected .*\(batch, \.\.\., features\).*\(6,\)"),
        (nn.BatchNorm(axis=0), (6, 3), r"BatchNorm\(axis=0\).*not the batch axis.*\(6, 3\)"),
    ],
)
def test_batch_norm_wrong_input_shape_names_layer_and_shapes(layer, shape, pattern):
    state = {"mean": np.zeros(3, np.float32), "var": np.ones(3, np.float32)}
    params = {"scale": np.ones(3, np.float32), "bias": np.zeros(3, np.float32)}
    with pytest.raises(ValueError, match=pattern):
        layer.apply(params, state, np.zeros(shape, np.float32), train=True)


@pytest.mark.parametrize(
    "kwargs", [{"momentum": 1.5}, {"momentum": -0.1}, {"eps": 0.0}, {"axis": 1.0}, {"axis": None}]
)
def test_batch_norm_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError, match="BatchNorm"):
        nn.BatchNorm(**kwargs)


# --- LayerNorm -----------------------------------------------------------------------------


def test_layer_norm_normalises_each_position_over_features():
    x = random_input((3, 4, 5), loc=-2.0, scale=3.0)  # (batch, time, features)
    params = affine_params(5)
    y, state = nn.LayerNorm().apply(params, {}, x)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    expected = standardized(x, mean, var, params["scale"], params["bias"])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert state == {}


def test_layer_norm_matches_torch():
    torch = pytest.importorskip("torch")
    x = random_input((3, 4, 6), loc=1.0, scale=2.0)
    params = affine_params(6)
    y, _ = nn.LayerNorm().apply(params, {}, x)
    expected = torch.nn.functional.layer_norm(
        torch.from_numpy(x),
        (6,),
        torch.from_numpy(params["scale"]),
        torch.from_numpy(params["bias"]),
        eps=EPS,
    )
    np.testing.assert_allclose(y, expected.numpy(), rtol=1e-5, atol=2e-5)


def test_layer_norm_training_equals_inference():
    x = random_input((4, 6))
    params = affine_params(6)
    trained, _ = nn.LayerNorm().apply(params, {}, x, train=True)
    np.testing.assert_array_equal(trained, nn.LayerNorm().apply(params, {}, x)[0])


def test_layer_norm_init_gives_unit_affine_params_in_input_dtype():
    params, state = nn.LayerNorm().init(jax.random.key(0), np.zeros((2, 4), np.float16))
    np.testing.assert_array_equal(params["scale"], np.ones(4))
    np.testing.assert_array_equal(params["bias"], np.zeros(4))
    assert params["scale"].dtype == jnp.float16 and state == {}


@pytest.mark.parametrize(
    ("shape", "pattern"),
    [
        ((2, 5, 4), r"LayerNorm\(\): expected .*\(batch, \?, 3\), got \(2, 5, 4\)"),
        ((3,), r"LayerNorm\(\): expected .*\(batch, 3\), got \(3,\)"),
    ],
)
def test_layer_norm_wrong_input_shape_names_layer_and_shapes(shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        nn.LayerNorm().apply(affine_params(3), {}, np.zeros(shape, np.float32))


@pytest.mark.parametrize("eps", [0.0, -1e-5, "1e-5"])
def test_layer_norm_rejects_non_positive_eps(eps):
    with pytest.raises(ValueError, match="LayerNorm: eps"):
        nn.LayerNorm(eps=eps)


# --- both ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("default", "others"),
    [
        (
            nn.BatchNorm(),
            [
                nn.BatchNorm(momentum=0.9),
                nn.BatchNorm(eps=1e-3),
                nn.BatchNorm(use_scale=False),
                nn.BatchNorm(use_bias=False),
                nn.BatchNorm(axis=1),
                nn.BatchNorm(dtype=jnp.float32),
                nn.LayerNorm(),
            ],
        ),
        (
            nn.LayerNorm(),
            [
                nn.LayerNorm(eps=1e-6),
                nn.LayerNorm(use_scale=False),
                nn.LayerNorm(use_bias=False),
                nn.LayerNorm(dtype=jnp.float32),
            ],
        ),
    ],
)
def test_norm_hashes_by_hyperparameters(default, others):
    same = type(default)()
    assert default == same and hash(default) == hash(same)
    assert all(default != other for other in others)


@pytest.mark.parametrize(
    ("layer", "shape", "train"),
    [
        (nn.BatchNorm(), (6, 3), True),
        (nn.BatchNorm(), (2, 3, 2, 2), True),
        (nn.BatchNorm(), (6, 3), False),
        (nn.LayerNorm(), (2, 3, 4), False),
    ],
)
def test_norm_gradient_matches_finite_differences(x64, layer, shape, train):
    x = random_input(shape, np.float64, loc=1.0, scale=2.0)
    params = affine_params(shape[-1], dtype=np.float64)
    features = shape[-1]
    state = {"mean": np.linspace(-1, 1, features), "var": np.linspace(0.5, 2, features)}
    state = state if isinstance(layer, nn.BatchNorm) else {}
    weights = random_input(shape, np.float64, seed=2)

    @jax.jit
    def loss(p, v):
        return jnp.sum(jnp.tanh(layer.apply(p, state, v, train=train)[0]) * weights)

    assert_grad_matches_finite_differences(loss, params, x, argnums=(0, 1))


@pytest.mark.parametrize("layer", [nn.BatchNorm(), nn.LayerNorm()])
def test_norm_jit_matches_eager_in_training(layer):
    x = random_input((6, 3), loc=1.0)
    params, state = layer.init(jax.random.key(0), x)
    eager = layer.apply(params, state, x, train=True)
    jitted = jax.jit(layer.apply, static_argnames="train")(params, state, x, train=True)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), jitted, eager
    )


@pytest.mark.parametrize("layer", [nn.BatchNorm(), nn.LayerNorm()])
def test_norm_vmaps_over_stacked_params(layer):
    x = random_input((6, 3), loc=1.0)
    _, state = layer.init(jax.random.key(0), x)
    members = [affine_params(3, seed=i) for i in range(3)]
    stacked = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *members)
    ys = jax.vmap(lambda p: layer.apply(p, state, x, train=True)[0])(stacked)
    for y, params in zip(ys, members):
        expected, _ = layer.apply(params, state, x, train=True)
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)

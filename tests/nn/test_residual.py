import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import activations, initializers, nn
from jaxdl.train._loops import convolutions_on_cpu


def random_input(shape, dtype=np.float32, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def init(layer, x, seed=0):
    return layer.init(jax.random.key(seed), x)


MLP_BLOCK = nn.Sequential([nn.Dense(5), activations.tanh, nn.Dense(5)])


def test_residual_is_identity_when_inner_outputs_zeros():
    zero = nn.Dense(4, kernel_init=initializers.zeros)
    x = random_input((3, 4))
    params, state = init(nn.Residual(zero), x)
    y, _ = nn.Residual(zero).apply(params, state, x)
    np.testing.assert_array_equal(y, x)


def test_residual_adds_the_input_to_the_inner_output():
    layer = nn.Residual(MLP_BLOCK)
    x = random_input((3, 5))
    params, state = init(layer, x)
    y, new_state = layer.apply(params, state, x)
    inner, _ = MLP_BLOCK.apply(params["inner"], state["inner"], x)
    np.testing.assert_allclose(y, x + inner, rtol=1e-6)
    assert list(params) == ["inner"] and new_state == {"inner": state["inner"]}


def test_residual_default_projection_of_features_is_a_dense_without_bias():
    layer = nn.Residual(nn.Dense(6))
    x = random_input((3, 4))
    params, state = init(layer, x)
    assert set(params["projection"]) == {"w"} and params["projection"]["w"].shape == (4, 6)
    y, _ = layer.apply(params, state, x)
    inner = x @ params["inner"]["w"] + params["inner"]["b"]
    np.testing.assert_allclose(y, x @ params["projection"]["w"] + inner, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("inner", "shape", "taps"),
    [
        (nn.Conv2D(6, 3, strides=2), (2, 7, 8, 3), (slice(None, None, 2), slice(None, None, 2))),
        (nn.Conv2D(6, 3, strides=(1, 3)), (1, 5, 7, 2), (slice(None), slice(None, None, 3))),
        (nn.Conv2D(6, 3), (1, 4, 4, 2), (slice(None), slice(None))),
        (nn.Conv1D(4, 3, strides=2), (2, 9, 3), (slice(None, None, 2),)),
    ],
)
def test_residual_default_projection_of_images_is_a_strided_one_by_one_conv(inner, shape, taps):
    layer = nn.Residual(inner)
    x = random_input(shape)
    params, state = init(layer, x)
    w = params["projection"]["w"]
    assert set(params["projection"]) == {"w"} and w.shape[:-2] == (1,) * (len(shape) - 2)
    y, _ = layer.apply(params, state, x)
    branch, _ = inner.apply(params["inner"], {}, x)
    shortcut = x[(slice(None), *taps, slice(None))] @ w.reshape(w.shape[-2:])
    assert y.shape == branch.shape
    np.testing.assert_allclose(y, shortcut + branch, rtol=1e-5, atol=1e-5)


def test_residual_uses_a_given_projection_even_when_shapes_match():
    layer = nn.Residual(nn.Dense(4), projection=nn.Dense(4, kernel_init=initializers.zeros))
    x = random_input((3, 4))
    params, state = init(layer, x)
    y, _ = layer.apply(params, state, x)
    inner, _ = nn.Dense(4).apply(params["inner"], {}, x)
    np.testing.assert_allclose(y, inner, rtol=1e-6)  # P(x) = 0: no identity added
    assert layer.layers == (nn.Dense(4), nn.Dense(4, kernel_init=initializers.zeros))


@pytest.mark.parametrize(
    ("layer", "shape", "pattern"),
    [
        (nn.Residual(nn.UpSampling2D(2)), (1, 3, 3, 2), r"\(1, 3, 3, 2\).*\(1, 6, 6, 2\)"),
        (nn.Residual(nn.Conv1D(2, 3, padding="VALID")), (1, 9, 2), r"\(1, 9, 2\).*\(1, 7, 2\)"),
        (nn.Residual(nn.Flatten()), (2, 3, 4), r"\(2, 3, 4\).*\(2, 12\)"),
        (nn.Residual(nn.Dense(3), projection=nn.Dense(4)), (2, 5), r"\(2, 4\).*\(2, 3\)"),
    ],
)
def test_residual_irreconcilable_shapes_name_layer_and_both_shapes(layer, shape, pattern):
    with pytest.raises(ValueError, match=r"Residual\(inner=.*" + pattern):
        init(layer, jnp.zeros(shape))


@pytest.mark.parametrize(
    ("params", "state"),
    [
        ({}, {"inner": {}}),
        ({"inner": {"w": np.ones((3, 3))}, "projection": {}}, {"inner": {}}),
        ({"inner": {"w": np.ones((3, 3))}}, {"inner": {}, "projection": {}}),
    ],
)
def test_residual_rejects_params_or_state_of_another_layout(params, state):
    layer = nn.Residual(nn.Dense(3, use_bias=False))
    with pytest.raises(ValueError, match=r"Residual\(.*must have the entries"):
        layer.apply(params, state, np.ones((2, 3), np.float32))


@pytest.mark.parametrize("value", [3, None, "relu"])
def test_residual_rejects_an_inner_that_is_not_a_layer(value):
    with pytest.raises(TypeError, match="Residual: inner must be a layer"):
        nn.Residual(value)


@pytest.mark.parametrize(
    "layer",
    [
        nn.Residual(nn.Sequential([nn.Dense(3), activations.tanh, nn.Dense(3)])),
        nn.Residual(nn.Dense(4, activation=activations.tanh)),
    ],
)
def test_residual_gradient_matches_finite_differences(x64, layer):
    x = random_input((2, 3), np.float64)
    params, state = init(layer, x)
    params = jax.tree_util.tree_map(lambda p: random_input(p.shape, np.float64), params)
    weights = random_input(
        jax.eval_shape(lambda: layer.apply(params, state, x)[0]).shape, np.float64, seed=2
    )

    @jax.jit
    def loss(p, v):
        return jnp.sum(layer.apply(p, state, v)[0] * weights)

    assert_grad_matches_finite_differences(loss, params, x, argnums=(0, 1))


def test_residual_equal_blocks_are_equal_and_hash_equal():
    a = nn.Residual(nn.Sequential([nn.Dense(4), activations.relu]))
    b = nn.Residual([nn.Dense(4), activations.relu])
    assert a == b and hash(a) == hash(b)
    assert nn.Residual(activations.relu) == nn.Residual(nn.Lambda(activations.relu))
    assert repr(nn.Residual(nn.Dense(4))) == "Residual(inner=Dense(features=4))"


@pytest.mark.parametrize(
    "other",
    [
        nn.Residual(nn.Dense(5)),
        nn.Residual(nn.Dense(4), projection=nn.Dense(4)),
        nn.Sequential([nn.Dense(4)]),
    ],
)
def test_residual_differing_blocks_are_unequal(other):
    assert nn.Residual(nn.Dense(4)) != other


def test_residual_passes_a_key_and_train_to_an_inner_dropout():
    layer = nn.Residual(nn.Dropout(0.5))
    x = np.full((64, 64), 2.0, np.float32)
    assert layer.is_random and not nn.Residual(nn.Dense(2)).is_random
    y, _ = layer.apply({"inner": {}}, {"inner": {}}, x, key=jax.random.key(0), train=True)
    branch = np.asarray(y) - x
    assert set(np.unique(branch)) == {0.0, 4.0}  # dropped, or kept and scaled by 2
    again, _ = layer.apply({"inner": {}}, {"inner": {}}, x, key=jax.random.key(0), train=True)
    other, _ = layer.apply({"inner": {}}, {"inner": {}}, x, key=jax.random.key(1), train=True)
    np.testing.assert_array_equal(again, y)
    assert np.mean(np.asarray(other) != np.asarray(y)) > 0.3
    np.testing.assert_array_equal(layer.apply({"inner": {}}, {"inner": {}}, x)[0], 2 * x)


def test_residual_inner_dropout_without_key_asks_for_one():
    layer = nn.Residual(nn.Dropout(0.5))
    with pytest.raises(ValueError, match="pass key="):
        layer.apply({"inner": {}}, {"inner": {}}, np.ones((2, 2), np.float32), train=True)


def test_residual_threads_batch_norm_state_through_inner_and_projection():
    layer = nn.Residual(
        nn.Sequential([nn.Dense(3), nn.BatchNorm()]),
        projection=nn.Sequential([nn.Dense(3), nn.BatchNorm(momentum=0.5)]),
    )
    x = random_input((16, 2)) + 3.0
    params, state = init(layer, x)
    _, trained = layer.apply(params, state, x, train=True)
    for path, momentum in [(("inner", "1"), 0.99), (("projection", "1"), 0.5)]:
        dense = params[path[0]]["0"]
        batch_mean = (x @ dense["w"] + dense["b"]).mean(axis=0)
        got = trained[path[0]][path[1]]["mean"]
        np.testing.assert_allclose(got, (1 - momentum) * batch_mean, rtol=1e-4, atol=1e-6)
    _, inferred = layer.apply(params, trained, x)
    assert jax.tree_util.tree_all(
        jax.tree_util.tree_map(lambda a, b: bool((a == b).all()), inferred, trained)
    )


def test_residual_lists_its_sublayers_for_code_that_walks_layers(monkeypatch):
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    inner = nn.Sequential([nn.Conv2D(2, 3), activations.relu])
    model = nn.Sequential([nn.Residual(inner), nn.Flatten(), nn.Dense(2)])
    assert model.layers[0].layers == (inner,)
    assert convolutions_on_cpu(model)
    assert not convolutions_on_cpu(nn.Sequential([nn.Residual(nn.Dense(2)), nn.Dense(2)]))


def test_residual_summary_counts_nested_params():
    model = nn.Sequential(
        [
            nn.Dense(4),
            nn.Residual(nn.Sequential([nn.Dense(4), activations.relu, nn.Dense(4)])),
            nn.Residual(nn.Dense(6)),  # 4 -> 6: a Dense(6, use_bias=False) shortcut
            nn.Dense(2),
        ]
    )
    params, _ = init(model, jnp.zeros((1, 3)))
    rows = nn.summary(model, params, jnp.zeros((1, 3)), print_fn=None).splitlines()
    # Weights 3·4 + (4·4 + 4·4) + (4·6 + 4·6) + 6·2 = 104; biases 4 + 8 + 6 + 2 = 20.
    assert rows[-1].split()[-3:] == ["104", "20", "124"]
    assert "(None, 6)" in rows[4] and rows[4].split()[-3:] == ["48", "6", "54"]


def test_residual_jit_matches_eager():
    layer = nn.Residual(nn.Conv2D(4, 3, strides=2))
    x = random_input((2, 5, 6, 3))
    params, state = init(layer, x)
    eager, _ = layer.apply(params, state, x)
    jitted, _ = jax.jit(layer.apply, static_argnames="train")(params, state, x)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-6)

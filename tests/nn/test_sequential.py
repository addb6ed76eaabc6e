import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import activations, nn

MNIST = jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)


def lenet() -> nn.Sequential:
    """LeNet-5 on 28×28 inputs, with batch norm after the first convolution and dropout
    before the classifier."""
    return nn.Sequential(
        [
            nn.Conv2D(6, 5),  # SAME: 28×28×6
            nn.BatchNorm(),
            activations.relu,
            nn.MaxPool(2),  # 14×14×6
            nn.Conv2D(16, 5, padding="VALID"),  # 10×10×16
            activations.relu,
            nn.MaxPool(2),  # 5×5×16
            nn.Flatten(),  # 400
            nn.Dense(120, activation=activations.relu),
            nn.Dense(84, activation=activations.relu),
            nn.Dropout(0.5),
            nn.Dense(10),
        ]
    )


def random_input(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def random_init(model, x, seed=0):
    """``model.init``'s params and state with the params drawn by NumPy (cheaper than
    compiling ``init``'s random draws for every shape)."""
    params, state = jax.eval_shape(model.init, jax.random.key(0), x)
    rng = np.random.default_rng(seed)
    params = jax.tree_util.tree_map(lambda s: rng.normal(0, 0.3, s.shape).astype(s.dtype), params)
    state = jax.tree_util.tree_map(lambda s: np.ones(s.shape, s.dtype), state)
    return params, state


def test_sequential_init_from_shape_dtype_struct_keys_params_by_position():
    params, state = jax.eval_shape(lenet().init, jax.random.key(0), MNIST)
    assert set(params) == {str(i) for i in range(12)} == set(state)
    assert params["0"]["w"].shape == (5, 5, 1, 6)
    assert params["4"]["w"].shape == (5, 5, 6, 16)
    assert params["8"]["w"].shape == (400, 120)
    assert state["1"]["mean"].shape == (6,)
    assert params["3"] == params["7"] == params["10"] == {}


def test_sequential_init_computes_the_output_shape():
    model = lenet()
    params, state = jax.eval_shape(model.init, jax.random.key(0), MNIST)
    x = jax.ShapeDtypeStruct((32, 28, 28, 1), jnp.float32)
    y, _ = jax.eval_shape(functools.partial(model.apply, train=False), params, state, x)
    assert y.shape == (32, 10) and y.dtype == jnp.float32


def test_sequential_from_dict_keys_params_and_state_by_name():
    layers = {"conv": nn.Conv2D(4, 3), "norm": nn.BatchNorm(), "pool": nn.MaxPool(2)}
    params, state = jax.eval_shape(nn.Sequential(layers).init, jax.random.key(0), MNIST)
    assert set(params) == set(state) == {"conv", "norm", "pool"}
    assert params["conv"]["w"].shape == (3, 3, 1, 4)
    assert set(state["norm"]) == {"mean", "var"}


def test_sequential_threads_batch_norm_state_when_training():
    model = nn.Sequential([nn.Dense(3), nn.BatchNorm(momentum=0.9), activations.relu])
    x = random_input((8, 5))
    params, state = model.init(jax.random.key(0), x)
    _, new_state = model.apply(params, state, x, train=True)
    hidden = x @ np.asarray(params["0"]["w"]) + np.asarray(params["0"]["b"])
    np.testing.assert_allclose(new_state["1"]["mean"], 0.1 * hidden.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(new_state["1"]["var"], 0.9 + 0.1 * hidden.var(0), rtol=1e-5)
    assert new_state["0"] == new_state["2"] == {}


def test_sequential_inference_uses_and_keeps_the_threaded_state():
    model = nn.Sequential([nn.Dense(3), nn.BatchNorm(momentum=0.9)])
    x = random_input((8, 5))
    params, state = model.init(jax.random.key(0), x)
    _, trained_state = model.apply(params, state, x, train=True)
    y, kept_state = model.apply(params, trained_state, x)
    hidden = x @ np.asarray(params["0"]["w"]) + np.asarray(params["0"]["b"])
    running = trained_state["1"]
    expected = (hidden - running["mean"]) / np.sqrt(running["var"] + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    jax.tree_util.tree_map(np.testing.assert_array_equal, kept_state, trained_state)


def test_sequential_gives_each_dropout_layer_its_own_subkey():
    model = nn.Sequential([nn.Dropout(0.5), nn.Dropout(0.5)])
    y, _ = model.apply(
        {"0": {}, "1": {}},
        {"0": {}, "1": {}},
        np.ones((200, 100), np.float32),
        key=jax.random.key(0),
        train=True,
    )
    # Independent masks keep 1/4 of the units (as 4.0); one shared mask would keep 1/2 (as 4.0).
    kept = np.asarray(y != 0)
    assert abs(kept.mean() - 0.25) < 0.02
    assert set(np.unique(y).tolist()) == {0.0, 4.0}


def test_sequential_training_without_key_names_the_dropout_layer():
    model = nn.Sequential([nn.Dense(3), nn.Dropout(0.3)])
    params, state = model.init(jax.random.key(0), np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"Dropout\(rate=0\.3\).*pass key="):
        model.apply(params, state, np.zeros((2, 4), np.float32), train=True)


def test_sequential_inference_ignores_dropout():
    with_dropout = nn.Sequential([nn.Dense(3), nn.Dropout(0.5), nn.Dense(2)])
    without = nn.Sequential([nn.Dense(3), nn.Dense(2)])
    x = random_input((4, 5))
    params, state = with_dropout.init(jax.random.key(0), x)
    y, _ = with_dropout.apply(params, state, x, key=jax.random.key(1))
    plain = {"0": params["0"], "1": params["2"]}
    np.testing.assert_array_equal(y, without.apply(plain, {"0": {}, "1": {}}, x)[0])


def test_sequential_is_random_when_any_layer_is():
    assert lenet().is_random and not nn.Sequential([nn.Conv2D(2, 3), nn.Flatten()]).is_random


def test_summary_of_lenet_lists_output_shapes_and_counts():
    model = lenet()
    params, _ = jax.eval_shape(model.init, jax.random.key(0), MNIST)
    table = nn.summary(model, params, MNIST, print_fn=None)
    rows = [re.split(r"\s{2,}", line) for line in table.splitlines()[2:-2]]
    shapes = [row[1] for row in rows]
    assert shapes == [
        "(None, 28, 28, 6)", "(None, 28, 28, 6)", "(None, 28, 28, 6)", "(None, 14, 14, 6)",
        "(None, 10, 10, 16)", "(None, 10, 10, 16)", "(None, 5, 5, 16)", "(None, 400)",
        "(None, 120)", "(None, 84)", "(None, 84)", "(None, 10)",
    ]  # fmt: skip
    counts = [tuple(row[2:]) for row in rows]
    assert counts[0] == ("150", "6", "156")  # 5·5·1·6 weights
    assert counts[1] == ("6", "6", "12")  # batch-norm scale and bias
    assert counts[4] == ("2,400", "16", "2,416")  # 5·5·6·16
    assert counts[8] == ("48,000", "120", "48,120")  # 400·120
    # LeNet-5's 61,706 parameters plus batch norm's 12.
    assert re.split(r"\s{2,}", table.splitlines()[-1]) == ["Total", "61,476", "242", "61,718"]
    assert nn.count_params(params) == (61_476, 242)


def test_sequential_compiles_once_for_equal_models_as_static_argument():
    traces = []

    @functools.partial(jax.jit, static_argnums=0)
    def forward(model, params, state, x):
        traces.append(model)
        return model.apply(params, state, x)[0]

    first, second = lenet(), lenet()
    assert first is not second and first == second and hash(first) == hash(second)
    params, state = random_init(first, MNIST)
    x = random_input((2, 28, 28, 1))
    y_first, y_second = forward(first, params, state, x), forward(second, params, state, x)
    np.testing.assert_array_equal(y_first, y_second)
    assert len(traces) == 1


def test_sequential_cnn_gradient_matches_finite_differences_in_training(x64):
    model = nn.Sequential(
        [
            nn.Conv2D(2, 3),
            nn.BatchNorm(),
            activations.relu,
            nn.MaxPool(2),
            nn.Flatten(),
            nn.Dropout(0.25),
            nn.Dense(3),
        ]
    )
    x = random_input((2, 4, 4, 1), dtype=np.float64)
    params, state = random_init(model, x)
    key = jax.random.key(1)

    @jax.jit
    def loss(p, v):
        y, _ = model.apply(p, state, v, key=key, train=True)
        return jnp.sum(jnp.tanh(y) * jnp.arange(1.0, 4.0))

    assert_grad_matches_finite_differences(loss, params, x, argnums=(0, 1))

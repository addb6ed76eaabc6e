import jax
import jax.numpy as jnp
import pytest

from jaxdl import activations, nn


def _totals(table: str) -> list[str]:
    return table.splitlines()[-1].split()[-3:]


def test_summary_counts_the_spec_network():
    # docs/concepts.md §2: 3 inputs, layers of 5, 4, 5, 2 neurons -> 65 weights, 16 biases,
    # 81 in all.
    model = nn.Sequential([nn.Dense(5), nn.Dense(4), nn.Dense(5), nn.Dense(2)])
    params, _ = model.init(jax.random.key(0), jnp.zeros((1, 3)))
    assert _totals(nn.summary(model, params, print_fn=None)) == ["65", "16", "81"]


def test_summary_counts_the_mnist_mlp():
    model = nn.Sequential(
        [nn.Dense(512), activations.relu, nn.Dense(256), activations.relu, nn.Dense(10)]
    )
    params, _ = model.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 784), jnp.float32))
    table = nn.summary(model, params, print_fn=None)
    assert _totals(table) == ["535,040", "778", "535,818"]
    assert "(None, 256)" in table.splitlines()[4]


def test_summary_rows_list_each_layer_and_its_counts():
    model = nn.Sequential({"hidden": nn.Dense(4), "act": activations.tanh, "out": nn.Dense(2)})
    params, _ = model.init(jax.random.key(0), jnp.zeros((1, 3)))
    rows = nn.summary(model, params, print_fn=None).splitlines()
    assert rows[2].split() == ["hidden", "Dense(features=4)", "(None,", "4)", "12", "4", "16"]
    assert rows[3].split()[:2] == ["act", "Lambda(fn=tanh)"]
    assert rows[4].split()[-3:] == ["8", "2", "10"]


def test_summary_prints_and_returns_the_same_table(capsys):
    model = nn.Dense(3)
    params, _ = model.init(jax.random.key(0), jnp.zeros((1, 2)))
    table = nn.summary(model, params)
    assert capsys.readouterr().out == table + "\n"
    assert _totals(table) == ["6", "3", "9"]


def test_summary_without_input_shape_shows_unknown_shapes():
    model = nn.Sequential([activations.relu, nn.Dense(2)])
    params, _ = model.init(jax.random.key(0), jnp.zeros((1, 3)))
    table = nn.summary(model, params, print_fn=None)
    assert "?" in table.splitlines()[2]
    assert _totals(table) == ["6", "2", "8"]


@pytest.mark.parametrize(
    "tree, expected",
    [
        ({"w": jnp.zeros((3, 4)), "b": jnp.zeros(4)}, (12, 4)),
        ({"scale": jnp.zeros(5), "bias": jnp.zeros(5)}, (5, 5)),
        ({"w_ih": jnp.zeros((2, 8)), "w_hh": jnp.zeros((2, 8)), "b_ih": jnp.zeros(8)}, (32, 8)),
    ],
)
def test_count_params_splits_weights_and_biases(tree, expected):
    assert nn.count_params(tree) == expected

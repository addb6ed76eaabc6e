import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradcheck import assert_grad_matches_finite_differences

from jaxdl import initializers, nn


def table(num_embeddings=10, features=4, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return {"w": rng.standard_normal((num_embeddings, features)).astype(dtype)}


@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 2, 3)])
def test_embedding_looks_up_one_row_per_id(shape):
    params = table()
    ids = np.random.default_rng(1).integers(0, 10, shape)
    y, state = nn.Embedding(10, 4).apply(params, {}, ids)
    assert y.shape == (*shape, 4)
    np.testing.assert_array_equal(y, params["w"][ids])
    assert state == {}


def test_embedding_equals_one_hot_times_table():
    params = table()
    ids = np.array([[3, 0, 9], [3, 3, 1]])
    y, _ = nn.Embedding(10, 4).apply(params, {}, ids)
    np.testing.assert_allclose(y, np.eye(10)[ids] @ params["w"], rtol=1e-6)


def test_embedding_init_draws_a_standard_normal_table_in_float32():
    params, state = nn.Embedding(1000, 16).init(jax.random.key(0), np.zeros((2, 3), np.int32))
    w = np.asarray(params["w"])
    assert w.shape == (1000, 16) and w.dtype == np.float32 and state == {}
    assert abs(w.mean()) < 0.02  # 16,000 draws: standard error 0.008
    np.testing.assert_allclose(w.std(), 1.0, rtol=0.03)


def test_embedding_dtype_sets_the_table_dtype():
    spec = jax.ShapeDtypeStruct((2, 3), jnp.int32)
    params, _ = jax.eval_shape(nn.Embedding(10, 4, dtype=jnp.float16).init, jax.random.key(0), spec)
    assert params["w"].dtype == jnp.float16


def test_embedding_float_input_raises_naming_layer():
    with pytest.raises(TypeError, match=r"Embedding\(num_embeddings=10, features=4\).*integer"):
        nn.Embedding(10, 4).apply(table(), {}, np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("bad_id", [10, -1])
def test_embedding_out_of_range_concrete_ids_raise(bad_id):
    ids = np.array([[1, 2], [bad_id, 3]])
    with pytest.raises(ValueError, match=rf"Embedding\(.*\): ids must lie in \[0, 10\).*{bad_id}"):
        nn.Embedding(10, 4).apply(table(), {}, ids)


@pytest.mark.parametrize(
    ("num_embeddings", "ids"),
    [
        (10, np.array([[1, -1], [10, 9]], np.int32)),
        # int8 ids cannot hold 300: negatives must still map outside the table.
        (300, np.array([[1, -1], [-128, 127]], np.int8)),
    ],
)
def test_embedding_out_of_range_ids_under_jit_give_nan_rows(num_embeddings, ids):
    layer, params = nn.Embedding(num_embeddings, 4), table(num_embeddings)
    y = jax.jit(lambda p, i: layer.apply(p, {}, i)[0])(params, ids)
    assert np.isnan(y[0, 1]).all()  # -1 does not wrap around to the last row
    assert np.isnan(y[1, 0]).all()
    np.testing.assert_array_equal(y[0, 0], params["w"][1])
    np.testing.assert_array_equal(y[1, 1], params["w"][ids[1, 1]])


def test_embedding_without_batch_axis_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Embedding\(.*\): expected .*\(batch\), got \(\)"):
        nn.Embedding(10, 4).apply(table(), {}, np.int32(3))


def test_embedding_wrong_table_shape_raises():
    with pytest.raises(ValueError, match=r"params\['w'\] has shape \(12, 4\), expected \(10, 4\)"):
        nn.Embedding(10, 4).apply(table(12), {}, np.array([1, 2]))


def test_embedding_params_count_as_weights_in_summary():
    model = nn.Sequential([nn.Embedding(100, 8), nn.Flatten(), nn.Dense(2)])
    ids = jax.ShapeDtypeStruct((1, 5), jnp.int32)
    params, _ = jax.eval_shape(model.init, jax.random.key(0), ids)  # shapes suffice
    assert nn.count_params(params["0"]) == (800, 0)
    table_text = nn.summary(model, params, ids, print_fn=None)
    # 800 + 40*2 weights, 2 biases.
    assert table_text.splitlines()[-1].split()[-3:] == ["880", "2", "882"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_embeddings": 0, "features": 4},
        {"num_embeddings": 10, "features": -1},
        {"num_embeddings": True, "features": 4},
        {"num_embeddings": 10, "features": 2.5},
    ],
)
def test_embedding_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError, match=r"Embedding: .* must be an int ≥ 1"):
        nn.Embedding(**kwargs)


def test_embedding_hashes_by_hyperparameters():
    layer = nn.Embedding(10, 4)
    assert layer == nn.Embedding(10, 4) and hash(layer) == hash(nn.Embedding(10, 4))
    others = [
        nn.Embedding(11, 4),
        nn.Embedding(10, 5),
        nn.Embedding(10, 4, embedding_init=initializers.uniform()),
        nn.Embedding(10, 4, dtype=jnp.float16),
    ]
    assert all(layer != other for other in others)


def test_embedding_gradient_counts_each_row_use():
    ids = np.array([[1, 1, 4], [4, 1, 0]])
    grad = jax.grad(lambda p: nn.Embedding(6, 3).apply(p, {}, ids)[0].sum())(table(6, 3))
    np.testing.assert_array_equal(grad["w"][:, 0], [1, 3, 0, 0, 2, 0])


def test_embedding_gradient_matches_finite_differences(x64):
    layer = nn.Embedding(6, 3)
    ids = np.array([[1, 5, 1], [0, 3, 1]])
    weights = np.random.default_rng(1).standard_normal((2, 3, 3))

    @jax.jit
    def loss(p):
        return jnp.sum(jnp.tanh(layer.apply(p, {}, ids)[0]) * weights)

    assert_grad_matches_finite_differences(loss, table(6, 3, np.float64))


def test_embedding_jit_matches_eager():
    layer, params, ids = nn.Embedding(10, 4), table(), np.array([[3, 1], [0, 9]])
    jitted, _ = jax.jit(layer.apply)(params, {}, ids)
    np.testing.assert_array_equal(jitted, layer.apply(params, {}, ids)[0])


def test_embedding_vmaps_over_stacked_tables():
    layer, ids = nn.Embedding(10, 4), np.array([[3, 1], [0, 9]])
    members = [table(seed=i) for i in range(3)]
    stacked = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *members)
    ys = jax.vmap(lambda p: layer.apply(p, {}, ids)[0])(stacked)
    for y, params in zip(ys, members):
        np.testing.assert_array_equal(y, params["w"][ids])

"""Flat draws reshaped equal shaped draws bit for bit, and merged draws equal separate
ones (jaxdl/_rng.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import _rng, models

SHAPES = [(3,), (256, 10), (784, 512), (5, 5, 1, 32), (2, 0, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(
    "ours, theirs",
    [
        (
            lambda k, s: _rng.uniform(k, s, "float32", -0.3, 0.7),
            lambda k, s: jax.random.uniform(k, s, "float32", -0.3, 0.7),
        ),
        (
            lambda k, s: _rng.normal(k, s, "float32"),
            lambda k, s: jax.random.normal(k, s, "float32"),
        ),
        (
            lambda k, s: _rng.truncated_normal(k, -2.0, 2.0, s, "float32"),
            lambda k, s: jax.random.truncated_normal(k, -2.0, 2.0, s, "float32"),
        ),
        (lambda k, s: _rng.bernoulli(k, 0.3, s), lambda k, s: jax.random.bernoulli(k, 0.3, s)),
    ],
    ids=["uniform", "normal", "truncated_normal", "bernoulli"],
)
def test_a_flat_draw_reshaped_equals_the_shaped_draw(ours, theirs, shape):
    key = jax.random.key(11)
    ours_value, theirs_value = ours(key, shape), theirs(key, shape)
    assert ours_value.shape == shape
    np.testing.assert_array_equal(ours_value, theirs_value)


def _draws(key):
    """Draws of several kinds and shapes, two levels of splits deep. ``truncated`` passes
    its bits through ``erf_inv``, whose float32 result XLA may round differently in a
    differently fused program (as it may between a jitted and an eager call); the others
    are integer or exactly rounded float operations."""
    a, b, c = jax.random.split(key, 3)
    a1, a2 = jax.random.split(a)
    return {
        "normal": jax.random.normal(a1, (4, 3)),
        "uniform": jax.random.uniform(a2, (7,), minval=-2.0, maxval=3.0),
        "truncated": jax.random.truncated_normal(b, -1.5, 2.0, (2, 5)),
        "bernoulli": jax.random.bernoulli(c, 0.3, (9,)),
        "bits8": jax.random.bits(c, (5,), jnp.uint8),
        "keys": jax.random.key_data(jax.random.split(a, (2, 3))),
    }


def _random_equations(fn, *args):
    """Counts of the random primitives in ``fn``'s jaxpr, jitted calls included."""
    counts = {}

    def visit(jaxpr):
        for eqn in jaxpr.eqns:
            counts[eqn.primitive.name] = counts.get(eqn.primitive.name, 0) + 1
            for inner in jax.extend.core.jaxprs_in_params(eqn.params):
                visit(inner)

    visit(jax.make_jaxpr(fn)(*args).jaxpr)
    return {name: counts.get(name, 0) for name in ("random_bits", "random_split", "threefry2x32")}


def _assert_trees_equal(a, b):
    """Equal bit for bit, except the entry ``truncated`` of :func:`_draws`: within float32
    rounding (see there)."""
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)

    def check(path, x, y):
        if jax.tree_util.keystr(path) == "['truncated']":
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)
        else:
            np.testing.assert_array_equal(x, y)

    jax.tree_util.tree_map_with_path(check, a, b)


def test_merged_draws_equal_the_separate_draws():
    key = jax.random.key(3)
    _assert_trees_equal(jax.jit(_rng.merge_draws(_draws))(key), jax.jit(_draws)(key))


def test_merged_draws_equal_the_separate_draws_for_a_batch_of_keys():
    keys = jax.random.split(jax.random.key(5), 4)
    batched = jax.vmap(_draws)
    _assert_trees_equal(jax.jit(_rng.merge_draws(batched))(keys), jax.jit(batched)(keys))


def test_merged_draws_equal_the_separate_draws_for_raw_uint32_keys():
    key = jax.random.PRNGKey(6)
    _assert_trees_equal(jax.jit(_rng.merge_draws(_draws))(key), jax.jit(_draws)(key))


def test_merged_64_bit_draws_equal_the_separate_draws(x64):
    def draws(key):
        a, b = jax.random.split(key)
        return jax.random.bits(a, (5,), jnp.uint64), jax.random.normal(b, (3,), jnp.float64)

    key = jax.random.key(7)
    _assert_trees_equal(jax.jit(_rng.merge_draws(draws))(key), jax.jit(draws)(key))


def test_a_networks_initialisation_draws_in_one_threefry_call_per_level():
    # A split of the key, one split per layer, then each layer's weights: three levels,
    # the first of one split only (left as it is).
    model = models.mlp(10, (32, 16))
    spec = jax.ShapeDtypeStruct((1, 8), jnp.float32)

    def init(key):
        return model.init(key, spec)

    key = jax.random.key(0)
    assert _random_equations(init, key) == {"random_bits": 3, "random_split": 4, "threefry2x32": 0}
    merged = _rng.merge_draws(init)
    assert _random_equations(merged, key) == {
        "random_bits": 0,
        "random_split": 1,
        "threefry2x32": 2,
    }
    _assert_trees_equal(jax.jit(merged)(key), jax.jit(init)(key))


def test_keys_of_another_generator_are_left_unmerged():
    key = jax.random.key(8, impl="rbg")
    counts = _random_equations(_rng.merge_draws(_draws), key)
    assert counts["threefry2x32"] == 0 and counts["random_bits"] > 0
    _assert_trees_equal(jax.jit(_rng.merge_draws(_draws))(key), jax.jit(_draws)(key))


@pytest.fixture
def original_threefry():
    """The non-partitionable threefry layout for one test, then the previous setting."""
    previous = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", False)
    try:
        yield
    finally:
        jax.config.update("jax_threefry_partitionable", previous)


def test_the_non_partitionable_threefry_is_left_unmerged(original_threefry):
    key = jax.random.key(9)
    counts = _random_equations(_rng.merge_draws(_draws), key)
    assert counts["random_bits"] > 0 and counts["random_split"] > 0
    _assert_trees_equal(jax.jit(_rng.merge_draws(_draws))(key), jax.jit(_draws)(key))


def test_a_function_with_side_effects_runs_unchanged():
    seen = []

    def draws(key):
        a, b = jax.random.split(key)
        x = jax.random.normal(a, (3,))
        jax.debug.callback(seen.append, x)
        return x, jax.random.normal(b, (2,))

    key = jax.random.key(10)
    assert _random_equations(_rng.merge_draws(draws), key)["threefry2x32"] == 0
    merged = jax.jit(_rng.merge_draws(draws))(key)
    jax.effects_barrier()
    _assert_trees_equal(merged, jax.jit(draws)(key))
    np.testing.assert_array_equal(seen[0], merged[0])


def test_outputs_that_are_arguments_or_constants_pass_through():
    def fn(key, x):
        return x, jnp.arange(3.0), jax.random.normal(key, (2,))

    key, x = jax.random.key(11), jnp.ones(4)
    _assert_trees_equal(jax.jit(_rng.merge_draws(fn))(key, x), jax.jit(fn)(key, x))


def test_draws_inside_a_loop_are_left_to_the_loop():
    def draws(key):
        a, b, c = jax.random.split(key, 3)
        _, inside = jax.lax.scan(lambda k, _: (k, jax.random.uniform(k, (2,))), a, None, length=3)
        return inside, jax.random.uniform(b, (4,)), jax.random.normal(c, (3,))

    key = jax.random.key(12)
    counts = _random_equations(_rng.merge_draws(draws), key)
    # The loop keeps its own draw; b's and c's become one threefry call.
    assert counts["random_bits"] == 1 and counts["threefry2x32"] == 1
    _assert_trees_equal(jax.jit(_rng.merge_draws(draws))(key), jax.jit(draws)(key))

"""The replay buffer (jaxdl/rl/_buffer.py): ring order, uniform sampling, checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxdl import rl


def _example():
    return rl.Transition(
        jnp.zeros(3), jnp.zeros((), jnp.int32), jnp.zeros(()), jnp.zeros(3), jnp.zeros((), bool)
    )


def _transition(i):
    return rl.Transition(
        jnp.full(3, i, jnp.float32),
        jnp.array(i, jnp.int32),
        jnp.array(float(i)),
        jnp.full(3, i + 0.5),
        jnp.array(i % 2 == 0),
    )


def test_new_buffer_is_empty_with_storage_of_capacity_slots():
    buffer = rl.replay_buffer(5, _example())
    assert buffer.capacity == 5
    assert int(buffer.index) == 0 and int(buffer.size) == 0
    assert buffer.storage.observation.shape == (5, 3)
    assert buffer.storage.action.dtype == jnp.int32
    assert buffer.storage.terminated.dtype == jnp.bool_
    assert buffer.storage.reward.dtype == jnp.float32


def test_ring_overwrites_the_oldest_transition_first():
    buffer = rl.replay_buffer(4, _example())
    add = jax.jit(rl.add)
    seen = []
    for i in range(10):
        buffer = add(buffer, _transition(i))
        seen.append(i)
        # Slot j holds the newest transition written there: the last 4 in ring order.
        expected = {k % 4: k for k in seen[-4:]}
        np.testing.assert_array_equal(
            buffer.storage.action[: len(expected)], [expected[j] for j in range(len(expected))]
        )
        assert int(buffer.size) == min(i + 1, 4)
        assert int(buffer.index) == (i + 1) % 4
    np.testing.assert_array_equal(buffer.storage.action, [8, 9, 6, 7])
    np.testing.assert_array_equal(buffer.storage.observation[:, 0], [8, 9, 6, 7])
    np.testing.assert_array_equal(buffer.storage.terminated, [True, False, True, False])


def test_add_batch_equals_repeated_add():
    one_by_one = rl.replay_buffer(5, _example())
    batched = rl.replay_buffer(5, _example())
    for start in (0, 3, 6):
        rows = [_transition(i) for i in range(start, start + 3)]
        for row in rows:
            one_by_one = rl.add(one_by_one, row)
        batched = rl.add_batch(batched, jax.tree_util.tree_map(lambda *x: jnp.stack(x), *rows))
    for a, b in zip(jax.tree_util.tree_leaves(one_by_one), jax.tree_util.tree_leaves(batched)):
        np.testing.assert_array_equal(a, b)
    assert int(batched.size) == 5 and int(batched.index) == 9 % 5


def test_sample_is_uniform_over_the_filled_slots_and_never_an_empty_one():
    capacity, filled, draws = 16, 10, 200_000
    buffer = rl.replay_buffer(capacity, jnp.zeros((), jnp.int32))
    for i in range(filled):
        buffer = rl.add(buffer, jnp.array(i + 1, jnp.int32))  # empty slots hold 0
    batch = jax.jit(rl.sample, static_argnums=2)(buffer, jax.random.key(0), draws)
    assert batch.shape == (draws,)
    assert int(jnp.min(batch)) >= 1  # no empty slot
    counts = np.bincount(np.asarray(batch), minlength=filled + 1)[1:]
    assert counts.sum() == draws
    _, p_value = stats.chisquare(counts)  # uniform expectation draws / filled each
    assert p_value > 1e-3, counts


def test_sample_after_wrapping_covers_every_slot_uniformly():
    buffer = rl.replay_buffer(8, jnp.zeros((), jnp.int32))
    for i in range(13):
        buffer = rl.add(buffer, jnp.array(i, jnp.int32))
    batch = np.asarray(rl.sample(buffer, jax.random.key(1), 80_000))
    assert set(np.unique(batch)) == set(range(5, 13))  # the 8 newest
    _, p_value = stats.chisquare(np.bincount(batch)[5:])
    assert p_value > 1e-3


def test_a_non_uniform_sampler_would_fail_the_frequency_test():
    # The chi-square test above can fail: draws from only the first half of the slots.
    counts = np.bincount(np.random.default_rng(0).integers(0, 5, 20_000), minlength=10)
    assert stats.chisquare(counts).pvalue < 1e-6


def test_sample_works_under_vmap_and_keys_differ():
    buffer = rl.add_batch(rl.replay_buffer(32, jnp.zeros(())), jnp.arange(20.0))
    keys = jax.random.split(jax.random.key(2), 3)
    batches = jax.vmap(lambda k: rl.sample(buffer, k, 64))(keys)
    assert batches.shape == (3, 64)
    assert not np.array_equal(batches[0], batches[1])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: rl.replay_buffer(0, jnp.zeros(2)),
            ValueError,
            r"replay_buffer: capacity must be an int ≥ 1, got 0",
        ),
        (lambda: rl.replay_buffer(2.5, jnp.zeros(2)), ValueError, r"capacity must be an int"),
        (lambda: rl.replay_buffer(True, jnp.zeros(2)), ValueError, r"capacity must be an int"),
        (lambda: rl.replay_buffer(3, {}), ValueError, r"no array leaves"),
        (
            lambda: rl.sample(
                rl.add(rl.replay_buffer(3, jnp.zeros(2)), jnp.ones(2)), jax.random.key(0), 0
            ),
            ValueError,
            r"sample: batch_size must be an int ≥ 1, got 0",
        ),
        (
            lambda: rl.sample(rl.replay_buffer(3, jnp.zeros(2)), jax.random.key(0), 4),
            ValueError,
            r"buffer is empty",
        ),
        (
            lambda: rl.sample(rl.replay_buffer(3, jnp.zeros(2)), 0, 4),
            TypeError,
            r"key must be a JAX random key",
        ),
        (
            lambda: rl.add(rl.replay_buffer(3, jnp.zeros(2)), jnp.zeros(3)),
            ValueError,
            r"add: the transition must have shape \(2,\), got \(3,\)",
        ),
        (
            lambda: rl.add(
                rl.replay_buffer(3, _example()), _example()._replace(observation=jnp.zeros(4))
            ),
            ValueError,
            r"add: \.observation must have shape \(3,\), got \(4,\)",
        ),
        (
            lambda: rl.add(rl.replay_buffer(3, {"a": jnp.zeros(2)}), {"b": jnp.zeros(2)}),
            ValueError,
            r"structure",
        ),
        (
            lambda: rl.add_batch(rl.replay_buffer(3, jnp.zeros(2)), jnp.zeros((4, 2))),
            ValueError,
            r"a batch of 4 transitions does not fit a buffer of capacity 3",
        ),
        (
            lambda: rl.add_batch(rl.replay_buffer(3, jnp.zeros(2)), jnp.zeros(2)),
            ValueError,
            r"add_batch: the transition must have shape \(k, \*\(2,\)\)",
        ),
        (
            lambda: rl.add_batch(
                rl.replay_buffer(3, (jnp.zeros(()), jnp.zeros(()))), (jnp.zeros(2), jnp.zeros(3))
            ),
            ValueError,
            r"same leading batch length, got \[2, 3\]",
        ),
        (lambda: rl.add((jnp.zeros(2),), jnp.zeros(2)), TypeError, r"expected a ReplayBuffer"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()

"""shuffle, train_val_split, num_batches, batches (streaming) and epoch_batches (compiled)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.data import batches, epoch_batches, num_batches, shuffle, train_val_split

N = 10
X = np.arange(N * 2, dtype=np.float32).reshape(N, 2)  # row i is (2i, 2i + 1)
Y = np.arange(N)  # the label of row i is i: it tells which sample a row is


def sample_ids(x_rows):
    """Recover each row's sample index from ``X``'s construction."""
    return (np.asarray(x_rows)[..., 0] // 2).astype(int)


# --- shuffle ------------------------------------------------------------------------------


def test_shuffle_applies_one_permutation_to_every_array():
    xs, ys = shuffle(jax.random.key(0), X, Y)
    np.testing.assert_array_equal(sample_ids(xs), ys)
    assert sorted(ys.tolist()) == list(range(N))
    assert ys.tolist() != list(range(N))


def test_shuffle_is_jax_random_permutation_of_the_key():
    (ys,) = shuffle(jax.random.key(3), Y)
    np.testing.assert_array_equal(ys, np.asarray(jax.random.permutation(jax.random.key(3), N)))


def test_shuffle_is_deterministic_per_key():
    np.testing.assert_array_equal(
        shuffle(jax.random.key(1), Y)[0], shuffle(jax.random.key(1), Y)[0]
    )


def test_shuffle_differs_across_keys():
    assert not np.array_equal(shuffle(jax.random.key(1), Y)[0], shuffle(jax.random.key(2), Y)[0])


def test_shuffle_keeps_numpy_arrays_on_the_host():
    xs, ys = shuffle(jax.random.key(0), X, jnp.asarray(Y))
    assert isinstance(xs, np.ndarray) and isinstance(ys, jax.Array)


def test_shuffle_works_under_jit():
    shuffled = jax.jit(shuffle)(jax.random.key(0), X, Y)
    np.testing.assert_array_equal(shuffled[1], shuffle(jax.random.key(0), X, Y)[1])


def test_shuffle_accepts_old_style_uint32_keys():
    (ys,) = shuffle(jax.random.PRNGKey(0), Y)
    assert sorted(ys.tolist()) == list(range(N))


def test_shuffle_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError, match=r"arrays\[0\] \(10, 2\), arrays\[1\] \(9,\)"):
        shuffle(jax.random.key(0), X, Y[:9])


def test_shuffle_needs_an_array():
    with pytest.raises(ValueError, match="at least one array"):
        shuffle(jax.random.key(0))


# --- train_val_split ----------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "validation"), [({"fraction": 0.3}, 3), ({"size": 4}, 4)])
def test_train_val_split_sizes(kwargs, validation):
    (x_train, y_train), (x_val, y_val) = train_val_split(X, Y, key=jax.random.key(0), **kwargs)
    assert (len(x_train), len(y_train), len(x_val), len(y_val)) == (
        N - validation,
        N - validation,
        validation,
        validation,
    )


def test_train_val_split_partitions_the_samples_keeping_pairs():
    (x_train, y_train), (x_val, y_val) = train_val_split(X, Y, key=jax.random.key(0), size=3)
    np.testing.assert_array_equal(sample_ids(x_train), y_train)
    np.testing.assert_array_equal(sample_ids(x_val), y_val)
    assert sorted([*y_train.tolist(), *y_val.tolist()]) == list(range(N))


def test_train_val_split_takes_validation_from_the_front_of_the_permutation():
    order = np.asarray(jax.random.permutation(jax.random.key(5), N))
    (_, y_train), (_, y_val) = train_val_split(X, Y, key=jax.random.key(5), size=3)
    assert y_val.tolist() == order[:3].tolist() and y_train.tolist() == order[3:].tolist()


def test_train_val_split_differs_across_keys():
    split = [train_val_split(X, Y, key=jax.random.key(k), size=3)[1][1] for k in (0, 1)]
    assert split[0].tolist() != split[1].tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of fraction= and size="),
        ({"fraction": 0.2, "size": 2}, "exactly one of fraction= and size="),
        ({"fraction": 1.0}, r"fraction must lie in \(0, 1\)"),
        ({"fraction": 0.01}, r"integer in \[1, 9\].*got 0"),
        ({"size": N}, r"integer in \[1, 9\].*got 10"),
        ({"size": 2.5}, r"size must be an int, got 2.5 \(float\)"),
    ],
)
def test_train_val_split_rejects_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_val_split(X, Y, key=jax.random.key(0), **kwargs)


# --- num_batches and batches --------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "batch_size", "drop_last", "expected"),
    [
        (10, 3, False, 4),
        (10, 3, True, 3),
        (9, 3, False, 3),
        (9, 3, True, 3),
        (2, 3, False, 1),
        (2, 3, True, 0),
        (0, 3, False, 0),
    ],
)
def test_num_batches(n, batch_size, drop_last, expected):
    assert num_batches(n, batch_size, drop_last) == expected


@pytest.mark.parametrize("key", [None, jax.random.key(0)], ids=["ordered", "shuffled"])
def test_batches_cover_every_sample_exactly_once(key):
    epoch = list(batches(X, Y, 3, key=key))
    assert [len(y) for _, y in epoch] == [3, 3, 3, 1]
    ids = np.concatenate([y for _, y in epoch])
    assert sorted(ids.tolist()) == list(range(N))
    for x, y in epoch:
        np.testing.assert_array_equal(sample_ids(x), y)


def test_batches_keep_the_data_order_without_a_key():
    assert [y.tolist() for _, y in batches(X, Y, 4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_batches_drop_last_drops_the_short_batch():
    assert [y.tolist() for _, y in batches(X, Y, 4, drop_last=True)] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_batches_are_deterministic_per_key():
    first, second = ([y.tolist() for _, y in batches(X, Y, 3, key=jax.random.key(2))] for _ in "ab")
    assert first == second


def test_batches_differ_across_keys():
    orders = [
        np.concatenate([y for _, y in batches(X, Y, 3, key=jax.random.key(k))]) for k in (1, 2)
    ]
    assert orders[0].tolist() != orders[1].tolist()


def test_batches_keep_numpy_arrays_numpy():
    x_batch, y_batch = next(batches(X, Y, 3, key=jax.random.key(0)))
    assert isinstance(x_batch, np.ndarray) and isinstance(y_batch, np.ndarray)


def test_batches_match_epoch_batches_for_the_same_key():
    key = jax.random.key(4)
    streamed = [y.tolist() for _, y in batches(X, Y, 3, key=key, drop_last=True)]
    _, y_batches = epoch_batches(key, X, Y, 3)
    assert streamed == np.asarray(y_batches).tolist()


@pytest.mark.parametrize(
    ("x", "y", "batch_size", "kwargs", "message"),
    [
        (X, Y, 0, {}, "batch_size must be an int ≥ 1, got 0"),
        (X, Y, 2.0, {}, "batch_size must be an int ≥ 1, got 2.0"),
        (X, Y[:9], 2, {}, r"x \(10, 2\), y \(9,\)"),
        (X[:0], Y[:0], 2, {}, "no samples"),
        (np.float32(1.0), Y, 2, {}, "x needs a leading sample axis"),
        (X, Y, 11, {"drop_last": True}, "10 samples make no full batch of batch_size=11"),
    ],
    ids=["zero-batch", "float-batch", "lengths", "empty", "scalar", "no-full-batch"],
)
def test_batches_check_arguments_when_called(x, y, batch_size, kwargs, message):
    with pytest.raises(ValueError, match=message):
        batches(x, y, batch_size, **kwargs)  # no next(): the check is eager


# --- epoch_batches ------------------------------------------------------------------------


def test_epoch_batches_shapes_drop_the_remainder():
    x_batches, y_batches = epoch_batches(jax.random.key(0), X, Y, 3)
    assert x_batches.shape == (3, 3, 2) and y_batches.shape == (3, 3)


def test_epoch_batches_use_distinct_samples_keeping_pairs():
    x_batches, y_batches = epoch_batches(jax.random.key(0), X, Y, 3)
    ids = np.asarray(y_batches).ravel()
    assert len(set(ids.tolist())) == 9
    np.testing.assert_array_equal(sample_ids(x_batches).ravel(), ids)


def test_epoch_batches_under_jit_equal_eager():
    compiled = jax.jit(epoch_batches, static_argnums=3)
    for eager, jitted in zip(
        epoch_batches(jax.random.key(7), X, Y, 5), compiled(jax.random.key(7), X, Y, 5)
    ):
        np.testing.assert_array_equal(eager, jitted)


def test_epoch_batches_feed_a_scan_over_batches():
    @jax.jit
    def epoch_sum(key, x, y):
        x_batches, y_batches = epoch_batches(key, x, y, 2)
        total, _ = jax.lax.scan(
            lambda carry, batch: (carry + batch[1].sum(), None), 0, (x_batches, y_batches)
        )
        return total

    assert int(epoch_sum(jax.random.key(0), jnp.asarray(X), jnp.asarray(Y))) == sum(range(N))


def test_epoch_batches_reject_fewer_samples_than_a_batch():
    with pytest.raises(ValueError, match="epoch_batches: 10 samples make no full batch"):
        epoch_batches(jax.random.key(0), X, Y, 11)

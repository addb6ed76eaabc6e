import gc

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import losses, nn, optim
from jaxdl.train import (
    TrainState,
    fit,
    make_epoch,
    make_eval_step,
    make_evaluate,
    make_streaming_epoch,
    make_train_step,
)
from jaxdl.train._loops import collector_paused

N = 50
X = np.random.default_rng(0).normal(size=(N, 4)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(np.int32)
MODEL = nn.Dense(2)
OPT = optim.momentum(0.05)


def _initial():
    params, state = MODEL.init(jax.random.key(0), X)
    return TrainState.create(params=params, state=state, optimizer=OPT)


@pytest.mark.parametrize("make", [make_epoch, make_streaming_epoch])
def test_epoch_visits_each_sample_at_most_once_and_skips_the_remainder(make):
    def counting_step(counts, batch, key):
        ids = batch[0][:, 0]
        return counts.at[ids].add(1), {"loss": jnp.float32(0)}

    ids = np.arange(N, dtype=np.int32)[:, None]
    counts, _ = make(counting_step, batch_size=8)(
        jnp.zeros(N, jnp.int32), ids, Y, jax.random.key(3)
    )
    assert set(np.asarray(counts).tolist()) == {0, 1}
    assert int(counts.sum()) == (N // 8) * 8


def test_compiled_and_streaming_epochs_compute_the_same_run():
    step = make_train_step(MODEL, losses.softmax_cross_entropy, OPT)
    compiled, metrics_c = make_epoch(step, 8)(
        _initial(), jnp.asarray(X), jnp.asarray(Y), jax.random.key(1)
    )
    streamed, metrics_s = make_streaming_epoch(step, 8)(_initial(), X, Y, jax.random.key(1))
    assert int(compiled.step) == int(streamed.step) == N // 8
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        compiled.params,
        streamed.params,
    )
    assert float(metrics_c["loss"]) == pytest.approx(float(metrics_s["loss"]), rel=1e-5)


def test_compiled_epoch_shuffles_differently_per_key():
    step = make_train_step(MODEL, losses.softmax_cross_entropy, OPT)
    epoch = make_epoch(step, 8)
    a, _ = epoch(_initial(), X, Y, jax.random.key(1))
    b, _ = epoch(_initial(), X, Y, jax.random.key(1))
    c, _ = epoch(_initial(), X, Y, jax.random.key(2))
    np.testing.assert_array_equal(a.params["w"], b.params["w"])
    assert not np.array_equal(a.params["w"], c.params["w"])


@pytest.mark.parametrize("batch_size", [7, 10, 64])
def test_evaluate_is_the_exact_mean_over_all_samples(batch_size):
    ts = _initial()
    evaluate = make_evaluate(make_eval_step(MODEL, losses.softmax_cross_entropy), batch_size)
    metrics = evaluate(ts, X, Y)
    logits, _ = MODEL.apply(ts.params, ts.state, X)
    assert float(metrics["loss"]) == pytest.approx(
        float(losses.softmax_cross_entropy(logits, Y)), rel=1e-5
    )
    expected_acc = float(np.mean(np.argmax(logits, -1) == Y))
    assert float(metrics["accuracy"]) == pytest.approx(expected_acc, abs=1e-6)


@pytest.mark.parametrize("on_device", [False, True], ids=["host", "device"])
def test_streaming_epoch_leaves_the_given_state_intact(on_device):
    step = make_train_step(MODEL, losses.softmax_cross_entropy, OPT)
    start = _initial()
    before = jax.tree_util.tree_map(np.asarray, start)
    data = (jnp.asarray(X), jnp.asarray(Y)) if on_device else (X, Y)
    trained, _ = make_streaming_epoch(step, 8)(start, *data, jax.random.key(1))
    jax.tree_util.tree_map(np.testing.assert_array_equal, start, before)
    assert int(trained.step) == N // 8


def test_streaming_epoch_on_device_data_equals_host_data():
    step = make_train_step(MODEL, losses.softmax_cross_entropy, OPT)
    epoch = make_streaming_epoch(step, 8)
    host, _ = epoch(_initial(), X, Y, jax.random.key(1))
    device, _ = epoch(_initial(), jnp.asarray(X), jnp.asarray(Y), jax.random.key(1))
    jax.tree_util.tree_map(np.testing.assert_array_equal, host.params, device.params)


@pytest.mark.parametrize("running", [True, False])
def test_collector_paused_restores_the_collector_even_after_an_error(running):
    was = gc.isenabled()
    (gc.enable if running else gc.disable)()
    try:
        with pytest.raises(RuntimeError), collector_paused():
            assert not gc.isenabled()
            raise RuntimeError("inside")
        assert gc.isenabled() is running
    finally:
        (gc.enable if was else gc.disable)()


def test_fit_leaves_the_collector_running():
    assert gc.isenabled()
    fit(
        MODEL,
        OPT,
        (X, Y),
        loss=losses.softmax_cross_entropy,
        epochs=2,
        batch_size=16,
        key=jax.random.key(0),
        progress=False,
    )
    assert gc.isenabled()

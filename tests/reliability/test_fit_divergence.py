"""``fit`` and ``fit_gan`` when the training loss turns NaN: detection, the state returned,
the history, and the three ``on_divergence`` policies."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, losses, nn, optim, train
from jaxdl.train import _progress

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 4)).astype(np.float32)
Y = (X[:, 0] - X[:, 2] > 0).astype(np.int32)
MODEL = nn.Sequential([nn.Dense(8), activations.relu, nn.Dense(2)])
BATCH = 16
STEPS = len(X) // BATCH  # 6 updates per epoch


def nan_after(updates):
    """An SGD whose learning rate is 0.1 for the first ``updates`` updates, then NaN: the
    update with index ``updates`` makes every parameter NaN."""
    return optim.sgd(lambda count: jnp.where(count < updates, 0.1, jnp.nan))


OPT = nan_after(2 * STEPS)  # epochs 0 and 1 are finite; epoch 2's first update is not


def _fit(epochs=5, optimizer=OPT, **kwargs):
    args = dict(
        loss=losses.softmax_cross_entropy,
        epochs=epochs,
        batch_size=BATCH,
        key=jax.random.key(0),
        progress=False,
    )
    args.update(kwargs)
    return train.fit(MODEL, optimizer, (X, Y), **args)


def _assert_trees_equal(a, b):
    jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)


@pytest.mark.parametrize("streaming", [False, True], ids=["compiled", "stepped"])
def test_stop_returns_the_last_finite_state_and_names_epoch_and_batch(streaming):
    with pytest.warns(RuntimeWarning, match=r"epoch 2 at batch 1 \(0-based\) of 6") as caught:
        ts, history = _fit(streaming=streaming)
    assert "the state after epoch 1" in str(caught[0].message)
    # Two finite epochs ran; the state is the one after them, bit for bit.
    two_epochs, _ = _fit(epochs=2, streaming=streaming)
    _assert_trees_equal(ts, two_epochs)
    assert history.epoch == [0, 1] and np.isfinite(history["loss"]).all()
    assert history.stop_reason == "diverged"
    d = history.divergence
    # Batch 0 of epoch 2 is computed from finite params; its update makes them NaN.
    assert (d.epoch, d.batch, d.batches, d.metric, d.step) == (2, 1, STEPS, "loss", 13)
    assert np.isnan(d.value) and np.isnan(d.logs["loss"])


def test_raise_gives_the_error_with_the_last_finite_state():
    with pytest.raises(train.DivergenceError, match="epoch 2 at batch 1") as caught:
        _fit(on_divergence="raise")
    two_epochs, _ = _fit(epochs=2)
    _assert_trees_equal(caught.value.train_state, two_epochs)
    assert caught.value.divergence.epoch == 2 and caught.value.history.epoch == [0, 1]
    assert isinstance(caught.value, FloatingPointError)


def test_ignore_trains_on_with_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divergence warning
        ts, history = _fit(on_divergence="ignore")
    assert history.epoch == [0, 1, 2, 3, 4] and history.stop_reason == "completed"
    assert np.isnan(history["loss"][2:]).all() and np.isnan(ts.params["0"]["w"]).all()
    assert history.divergence is None


@pytest.mark.parametrize("streaming", [False, True], ids=["compiled", "stepped"])
def test_a_nan_made_by_an_epochs_last_update_is_caught_by_the_state_check(streaming):
    # Every loss of epoch 1 is computed before its last update, so all are finite; only
    # the state after epoch 1 is NaN. The state after epoch 0 is the result.
    with pytest.warns(RuntimeWarning, match="train state after it holds NaN"):
        ts, history = _fit(optimizer=nan_after(2 * STEPS - 1), streaming=streaming)
    assert history.epoch == [0] and history.divergence.batch is None
    assert history.divergence.epoch == 1 and np.isfinite(history.divergence.logs["loss"])
    one_epoch, _ = _fit(epochs=1, optimizer=nan_after(2 * STEPS - 1), streaming=streaming)
    _assert_trees_equal(ts, one_epoch)


def test_divergence_in_the_first_epoch_returns_the_initial_state():
    with pytest.warns(RuntimeWarning, match="the initial state"):
        ts, history = _fit(optimizer=nan_after(1))
    initial, _ = _fit(epochs=0, optimizer=nan_after(1))
    _assert_trees_equal(ts, initial)
    assert len(history) == 0 and history.divergence.batch == 2


class Recorder(train.Callback):
    def on_train_begin(self, context):
        self.epochs, self.end_state = [], None

    def on_epoch_end(self, epoch, logs, context):
        self.epochs.append(epoch)

    def on_train_end(self, context):
        self.end_state = context.train_state


def test_callbacks_never_see_the_diverged_epoch():
    recorder = Recorder()
    with pytest.warns(RuntimeWarning):
        ts, _ = _fit(callbacks=[recorder])
    assert recorder.epochs == [0, 1]
    _assert_trees_equal(recorder.end_state, ts)


def test_healthy_epochs_fetch_no_per_batch_values(monkeypatch):
    # The per-batch losses are fetched only for an epoch that failed the check.
    calls = []
    original = _progress.locate
    monkeypatch.setattr(_progress, "locate", lambda *a: calls.append(1) or original(*a))
    _, history = _fit(optimizer=optim.sgd(0.1))
    assert calls == [] and history.stop_reason == "completed"
    with pytest.warns(RuntimeWarning):
        _fit()
    assert calls == [1]


def test_early_stopping_sets_the_stop_reason():
    stopper = train.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    _, history = _fit(optimizer=optim.sgd(0.1), callbacks=[stopper])
    assert history.stop_reason == "stopped" and len(history) == 2


def test_fit_gan_stops_when_its_losses_turn_nan():
    x = (3 + 0.5 * RNG.normal(size=(128, 1))).astype(np.float32)
    gen = nn.Sequential([nn.Dense(8), activations.relu, nn.Dense(1)])
    disc = nn.Sequential([nn.Dense(8), activations.relu, nn.Dense(1)])
    steps = 128 // 32
    g_opt = optim.adam(lambda count: jnp.where(count < 3 * steps, 1e-2, jnp.nan))
    d_opt = optim.adam(1e-2)
    common = dict(latent_dim=2, batch_size=32, key=jax.random.key(1), progress=False)
    # The generator's first NaN update is the first of epoch 3: that epoch fails the
    # check (a NaN loss from batch 1 on, or at the latest the NaN state after it).
    with pytest.warns(RuntimeWarning, match=r"fit_gan: training diverged: .*epoch 3"):
        gs, history = train.fit_gan(gen, disc, g_opt, d_opt, x, epochs=6, **common)
    three, _ = train.fit_gan(gen, disc, g_opt, d_opt, x, epochs=3, **common)
    _assert_trees_equal(gs, three)
    assert history.epoch == [0, 1, 2] and history.stop_reason == "diverged"
    assert history.divergence.epoch == 3

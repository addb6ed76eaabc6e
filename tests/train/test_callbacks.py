import jax
import numpy as np
import pytest

from jaxdl import checkpoint, losses, nn, optim, train
from jaxdl.train import EarlyStopping, FitContext, History, LearningRateLogger, ModelCheckpoint


def _run(callback, values, monitor="val_loss"):
    """Feed a scripted metric sequence through a callback; returns the epochs run."""
    context = FitContext(train_state=None, history=History(), key=jax.random.key(0))
    callback.on_train_begin(context)
    ran = []
    for epoch, value in enumerate(values):
        context.train_state = f"state{epoch}"
        callback.on_epoch_end(epoch, {monitor: value}, context)
        ran.append(epoch)
        if context.stop_training:
            break
    callback.on_train_end(context)
    return ran, context


def test_early_stopping_waits_patience_epochs_after_the_best():
    ran, _ = _run(EarlyStopping(patience=2), [1.0, 0.8, 0.9, 0.85, 0.7])
    assert ran == [0, 1, 2, 3]


def test_early_stopping_min_delta_ignores_small_improvements():
    ran, _ = _run(EarlyStopping(patience=1, min_delta=0.1), [1.0, 0.95, 0.92])
    assert ran == [0, 1]


def test_early_stopping_auto_mode_maximises_accuracy():
    stopper = EarlyStopping(monitor="val_accuracy", patience=1)
    ran, _ = _run(stopper, [0.5, 0.7, 0.6, 0.9], monitor="val_accuracy")
    assert ran == [0, 1, 2] and stopper.best == 0.7 and stopper.best_epoch == 1


def test_early_stopping_restores_best_weights():
    stopper = EarlyStopping(patience=1, restore_best_weights=True)
    _, context = _run(stopper, [1.0, 0.5, 0.6, 0.7])
    assert context.train_state == "state1" and stopper.stopped_epoch == 2


def test_early_stopping_baseline_must_be_beaten_to_reset_patience():
    # As in Keras: an epoch that is a new best but misses the baseline does not reset the
    # patience counter, so training stops one epoch sooner than without a baseline.
    values = [0.9, 0.95, 0.97, 0.99]
    assert _run(EarlyStopping(patience=2), values)[0] == [0, 1, 2]
    assert _run(EarlyStopping(patience=2, baseline=0.5), values)[0] == [0, 1]


def test_early_stopping_names_missing_metric():
    with pytest.raises(ValueError, match=r"'val_loss'.*validation_data"):
        _run(EarlyStopping(), [1.0], monitor="loss")


def test_early_stopping_stops_fit():
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    stopper = EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    _, history = train.fit(
        nn.Dense(2),
        optim.sgd(0.1),
        (x, y),
        epochs=10,
        batch_size=16,
        loss=losses.softmax_cross_entropy,
        key=jax.random.key(0),
        callbacks=[stopper],
        progress=False,
    )
    assert len(history) == 2


def test_learning_rate_logger_adds_the_schedule_value():
    schedule = optim.exponential_decay(0.1, transition_steps=1, decay_rate=0.5)
    x = np.ones((8, 2), np.float32)
    y = np.zeros(8, np.int32)
    _, history = train.fit(
        nn.Dense(2),
        optim.sgd(schedule),
        (x, y),
        epochs=2,
        batch_size=4,
        loss=losses.softmax_cross_entropy,
        key=jax.random.key(0),
        callbacks=[LearningRateLogger(schedule)],
        progress=False,
    )
    assert history["learning_rate"] == pytest.approx([0.1 * 0.5**2, 0.1 * 0.5**4])


def test_model_checkpoint_resume_equals_uninterrupted_run(tmp_path):
    x = np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 1] > 0).astype(np.int32)
    model = nn.Sequential([nn.Dense(6), nn.Dropout(0.2), nn.Dense(2)])
    opt = optim.adam(1e-2)
    common = dict(
        loss=losses.softmax_cross_entropy, batch_size=8, key=jax.random.key(3), progress=False
    )

    full, _ = train.fit(model, opt, (x, y), epochs=4, **common)
    train.fit(model, opt, (x, y), epochs=2, callbacks=[ModelCheckpoint(tmp_path)], **common)
    restored = checkpoint.restore(tmp_path, like=full)
    assert restored.step == 2 and restored.metadata == {"epoch": 2}
    resumed, history = train.fit(
        model,
        opt,
        (x, y),
        epochs=4,
        train_state=restored.tree,
        initial_epoch=restored.metadata["epoch"],
        **common,
    )
    assert history.epoch == [2, 3]
    jax.tree_util.tree_map(np.testing.assert_array_equal, resumed, full)


def test_model_checkpoint_save_best_only(tmp_path):
    saver = ModelCheckpoint(tmp_path, monitor="val_loss", save_best_only=True)
    context = FitContext(
        train_state={"w": np.zeros(2, np.float32)}, history=History(), key=jax.random.key(0)
    )
    saver.on_train_begin(context)
    for epoch, value in enumerate([1.0, 0.5, 0.7, 0.4]):
        saver.on_epoch_end(epoch, {"val_loss": value}, context)
    saver.on_train_end(context)
    # epochs 1, 2 and 4 set a new best (1.0, 0.5, 0.4); epoch 3 (0.7) does not
    assert sorted(int(p.name) for p in tmp_path.iterdir() if p.name.isdigit()) == [1, 2, 4]

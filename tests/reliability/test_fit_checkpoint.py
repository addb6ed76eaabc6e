"""``ModelCheckpoint`` never trades a finite checkpoint for a diverged one."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, checkpoint, losses, nn, optim, train

RNG = np.random.default_rng(1)
X = RNG.normal(size=(64, 3)).astype(np.float32)
Y = (X[:, 1] > 0).astype(np.int32)
MODEL = nn.Sequential([nn.Dense(6), activations.relu, nn.Dense(2)])
STEPS = len(X) // 16
# Finite for epochs 0 and 1; the first update of epoch 2 makes every parameter NaN.
OPT = optim.sgd(lambda count: jnp.where(count < 2 * STEPS, 0.1, jnp.nan))
COMMON = dict(
    loss=losses.softmax_cross_entropy, batch_size=16, key=jax.random.key(3), progress=False
)


def _saved(folder):
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def test_a_run_diverging_after_epoch_2_keeps_its_finite_checkpoints(tmp_path):
    # on_divergence="ignore" lets the NaN epochs reach the callback: with max_to_keep=3,
    # saving them would rotate checkpoints 1 and 2 out.
    saver = train.ModelCheckpoint(tmp_path, monitor="loss", max_to_keep=3)
    with pytest.warns(RuntimeWarning, match=r"epoch [2-5] not saved.*loss is not finite"):
        _, history = train.fit(
            MODEL, OPT, (X, Y), epochs=6, callbacks=[saver], on_divergence="ignore", **COMMON
        )
    assert np.isnan(history["loss"][2:]).all()
    assert _saved(tmp_path) == [1, 2]
    two_epochs, _ = train.fit(MODEL, OPT, (X, Y), epochs=2, **COMMON)
    restored = checkpoint.restore(tmp_path, like=two_epochs)
    assert restored.step == 2
    jax.tree_util.tree_map(np.testing.assert_array_equal, restored.tree, two_epochs)


def test_with_the_default_stop_the_checkpoints_end_at_the_last_finite_epoch(tmp_path):
    saver = train.ModelCheckpoint(tmp_path, monitor="loss", max_to_keep=3)
    with pytest.warns(RuntimeWarning, match="training diverged"):
        train.fit(MODEL, OPT, (X, Y), epochs=6, callbacks=[saver], **COMMON)
    assert _saved(tmp_path) == [1, 2]


def test_a_non_finite_state_with_finite_logs_is_not_saved(tmp_path):
    saver = train.ModelCheckpoint(tmp_path, monitor="loss")
    context = train.FitContext(
        train_state={"w": np.zeros(2, np.float32)}, history=train.History(), key=jax.random.key(0)
    )
    saver.on_train_begin(context)
    saver.on_epoch_end(0, {"loss": 1.0}, context)
    context.train_state = {"w": np.array([0.0, np.inf], np.float32)}
    with pytest.warns(RuntimeWarning, match="train state holds NaN or inf"):
        saver.on_epoch_end(1, {"loss": 0.5}, context)
    saver.on_train_end(context)
    assert _saved(tmp_path) == [1]


@pytest.mark.parametrize("max_to_keep", [0, 1.5, "3"])
def test_max_to_keep_must_be_a_positive_int_or_none(tmp_path, max_to_keep):
    with pytest.raises(ValueError, match="max_to_keep must be an int ≥ 1"):
        train.ModelCheckpoint(tmp_path, max_to_keep=max_to_keep)

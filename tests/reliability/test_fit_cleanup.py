"""``fit``'s epoch loop ends its callbacks and closes its progress bar whatever happens."""

import jax
import numpy as np
import pytest

from jaxdl import checkpoint, losses, nn, optim, train
from jaxdl.train import _progress

X = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)


class Ender(train.Callback):
    def on_train_begin(self, context):
        self.ended = False

    def on_train_end(self, context):
        self.ended = True


class Raiser(train.Callback):
    def __init__(self, error, at_epoch=1, where="on_epoch_end"):
        self.error, self.at_epoch, self.where = error, at_epoch, where

    def on_epoch_end(self, epoch, logs, context):
        if self.where == "on_epoch_end" and epoch == self.at_epoch:
            raise self.error

    def on_train_end(self, context):
        if self.where == "on_train_end":
            raise self.error


@pytest.fixture
def bars(monkeypatch):
    """Every progress bar run_epochs opens, to check it was closed."""
    opened = []
    original = _progress.progress_bar

    def spy(*args, **kwargs):
        bar = original(*args, **kwargs)
        assert not bar.disable  # shown: closing it is what disables it
        opened.append(bar)
        return bar

    monkeypatch.setattr(_progress, "progress_bar", spy)
    return opened


def _fit(callbacks, epochs=4):
    return train.fit(
        nn.Dense(2),
        optim.sgd(0.1),
        (X, Y),
        loss=losses.softmax_cross_entropy,
        epochs=epochs,
        batch_size=8,
        key=jax.random.key(0),
        progress=True,
        callbacks=callbacks,
    )


@pytest.mark.parametrize(
    "error", [RuntimeError("boom"), KeyboardInterrupt()], ids=["error", "interrupt"]
)
def test_an_epoch_that_raises_still_ends_the_callbacks_and_closes_the_bar(bars, tmp_path, error):
    before, after = Ender(), Ender()
    saver = train.ModelCheckpoint(tmp_path, monitor="loss")
    with pytest.raises(type(error)):
        _fit([before, saver, Raiser(error), after])
    assert before.ended and after.ended
    assert len(bars) == 1 and _closed(bars[0])
    # The checkpoint manager was closed: epochs 0 and 1 were saved and can be read.
    assert checkpoint.latest_step(tmp_path) == 2


def test_a_failing_on_train_end_does_not_hide_the_original_error(bars):
    ender = Ender()
    with pytest.raises(RuntimeError, match="first") as caught:
        _fit(
            [
                Raiser(RuntimeError("first")),
                Raiser(ValueError("second"), where="on_train_end"),
                ender,
            ]
        )
    assert ender.ended and _closed(bars[0])
    notes = getattr(caught.value, "__notes__", None)
    if notes is not None:  # Python ≥ 3.11
        assert any("Raiser.on_train_end also failed: ValueError: second" in n for n in notes)


def test_callbacks_that_never_began_are_not_ended(bars):
    class BadBegin(train.Callback):
        def on_train_begin(self, context):
            raise RuntimeError("cannot start")

    first, last = Ender(), Ender()
    last.ended = "untouched"
    with pytest.raises(RuntimeError, match="cannot start"):
        _fit([first, BadBegin(), last])
    assert first.ended is True and last.ended == "untouched" and _closed(bars[0])


def _closed(bar):
    # tqdm disables a bar when it closes it (and drops it from its instances).
    return bar.disable and bar not in getattr(type(bar), "_instances", set())

"""Greedy layer-wise pre-training: stages, freezing, fine-tuning, arguments."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxdl import activations, losses, nn, optim, train

RNG = np.random.default_rng(0)
X = RNG.normal(size=(256, 8)).astype("float32")
Y = (X[:, :2].sum(axis=1) > 0).astype("int32")
HEAD = nn.Dense(2)


def _hidden(depth, batch_norm=False):
    def layer():
        if batch_norm:
            return nn.Sequential([nn.Dense(12), nn.BatchNorm(), activations.tanh])
        return nn.Dense(12, activation=activations.tanh)

    return [layer() for _ in range(depth)]


def _run(depth, method="supervised", *, epochs=0, batch_norm=False, **kwargs):
    return train.greedy_pretrain(
        _hidden(depth, batch_norm),
        HEAD,
        (X, Y),
        loss=losses.softmax_cross_entropy,
        optimizer=optim.sgd(0.1),
        pretrain_epochs=3,
        epochs=epochs,
        batch_size=32,
        key=jax.random.key(0),
        method=method,
        progress=False,
        **kwargs,
    )


def _equal(a, b):
    return all(
        np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


@pytest.mark.parametrize("method", ["supervised", "autoencoder"])
def test_a_later_stage_leaves_the_layers_below_it_unchanged(method):
    # Stage 1 is the same run at depth 1 and 2; stage 2 must not touch layer 0.
    shallow, deep = _run(1, method), _run(2, method)
    assert _equal(shallow.train_state.params["0"], deep.train_state.params["0"])
    assert not _equal(deep.train_state.params["0"], deep.train_state.params["1"])


def test_frozen_batch_norm_keeps_its_statistics_when_asked():
    shallow, deep = _run(1, batch_norm=True), _run(2, batch_norm=True)
    assert _equal(shallow.train_state.state["0"], deep.train_state.state["0"])


def test_frozen_batch_norm_updates_its_statistics_otherwise():
    shallow = _run(1, batch_norm=True, keep_statistics=False)
    deep = _run(2, batch_norm=True, keep_statistics=False)
    assert _equal(shallow.train_state.params["0"], deep.train_state.params["0"])
    assert not _equal(shallow.train_state.state["0"], deep.train_state.state["0"])


def test_fine_tuning_trains_every_layer():
    start, tuned = _run(2), _run(2, epochs=2)
    for name in ("0", "1", "head"):
        assert not _equal(start.train_state.params[name], tuned.train_state.params[name])
    assert tuned.histories["finetune"]["loss"][-1] < start.histories["stage_2"]["loss"][-1]


def test_every_stage_has_a_history():
    result = _run(3, "autoencoder", epochs=2, corruption=0.3)
    assert list(result.histories) == ["stage_1", "stage_2", "stage_3", "finetune"]
    assert [len(h["loss"]) for h in result.histories.values()] == [3, 3, 3, 2]
    assert result.model.names == ("0", "1", "2", "head")


def test_an_autoencoder_stage_reduces_its_reconstruction_error():
    result = _run(1, "autoencoder")
    loss = result.histories["stage_1"]["loss"]
    assert loss[-1] < loss[0]
    assert "accuracy" not in result.histories["stage_1"].history


def test_the_decoder_maps_codes_back_to_the_width_below():
    widths = []

    def decoder(width):
        widths.append(width)
        return nn.Dense(width, activation=activations.sigmoid)

    _run(2, "autoencoder", decoder=decoder)
    assert widths == [8, 12]


def test_pretraining_then_fine_tuning_learns_the_task():
    result = _run(2, "autoencoder", epochs=10)
    scores = train.evaluate(
        result.model, result.train_state, (X, Y), loss=losses.softmax_cross_entropy
    )
    assert scores["accuracy"] > 0.9


def test_progress_names_the_stage(capsys):
    train.greedy_pretrain(
        _hidden(2),
        HEAD,
        (X, Y),
        loss=losses.softmax_cross_entropy,
        optimizer=optim.sgd(0.1),
        pretrain_epochs=1,
        epochs=1,
        batch_size=32,
        key=jax.random.key(0),
    )
    err = capsys.readouterr().err
    assert "stage 1/2" in err and "stage 2/2" in err and "finetune" in err


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"hidden": []}, TypeError, "non-empty list"),
        ({"hidden": nn.Dense(3)}, TypeError, "non-empty list"),
        ({"hidden": [nn.Dense(3), 4]}, TypeError, r"hidden\[1\]"),
        ({"head": "dense"}, TypeError, "head must be a layer"),
        ({"method": "rbm"}, ValueError, "method must be one of"),
        ({"pretrain_epochs": -1}, ValueError, "pretrain_epochs"),
        ({"epochs": 1.5}, ValueError, "epochs"),
        ({"corruption": 1.0}, ValueError, "corruption"),
        ({"corruption": 0.2}, ValueError, "autoencoder"),
        ({"decoder": 3, "method": "autoencoder"}, TypeError, "decoder"),
        ({"keep_statistics": "yes"}, TypeError, "keep_statistics"),
        ({"optimizer": optim.adam}, TypeError, "optimizer"),
    ],
    ids=[
        "empty",
        "single_layer",
        "not_a_layer",
        "head",
        "method",
        "pretrain_epochs",
        "epochs",
        "corruption_range",
        "corruption_supervised",
        "decoder",
        "keep_statistics",
        "optimizer_factory",
    ],
)
def test_bad_arguments_raise_before_training(kwargs, error, match):
    arguments = {
        "hidden": _hidden(1),
        "head": HEAD,
        "loss": losses.softmax_cross_entropy,
        "optimizer": optim.sgd(0.1),
        "pretrain_epochs": 1,
        "epochs": 1,
        "batch_size": 32,
        "key": jax.random.key(0),
        "progress": False,
    } | kwargs
    hidden, head = arguments.pop("hidden"), arguments.pop("head")
    with pytest.raises(error, match=match):
        train.greedy_pretrain(hidden, head, (X, Y), **arguments)

"""One integer check everywhere: every int argument of a layer, model, schedule or function
accepts NumPy integers (with the same result as the Python int) and rejects bools, floats
and strings with a ``TypeError`` naming the argument."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, data, initializers, models, nn, optim, perceptron, rl


class Case(NamedTuple):
    call: Callable[[Any], Any]  # builds or computes with the argument set to the value
    good: int  # a valid value of the argument
    argument: str  # the name the error message must contain


KEY = jax.random.key(0)
X = np.arange(20, dtype=np.float32).reshape(10, 2)
Y = np.arange(10)
AND = np.array([0, 0, 0, 1])
INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])

LAYERS: dict[str, Case] = {
    "Dense.features": Case(lambda v: nn.Dense(v), 3, "features"),
    "Conv1D.features": Case(lambda v: nn.Conv1D(v, 3), 4, "features"),
    "Conv1D.kernel_size": Case(lambda v: nn.Conv1D(4, v), 3, "kernel_size"),
    "Conv1D.strides": Case(lambda v: nn.Conv1D(4, 3, strides=v), 2, "strides"),
    "Conv1D.dilation": Case(lambda v: nn.Conv1D(4, 3, dilation=v), 2, "dilation"),
    "Conv2D.features": Case(lambda v: nn.Conv2D(v, 3), 4, "features"),
    "Conv2D.kernel_size": Case(lambda v: nn.Conv2D(4, v), 3, "kernel_size"),
    "Conv2D.kernel_size[1]": Case(lambda v: nn.Conv2D(4, (3, v)), 5, "kernel_size"),
    "Conv2D.strides": Case(lambda v: nn.Conv2D(4, 3, strides=v), 2, "strides"),
    "Conv2D.padding": Case(lambda v: nn.Conv2D(4, 3, padding=v), 1, "padding"),
    "ConvTranspose1D.features": Case(lambda v: nn.ConvTranspose1D(v, 3), 4, "features"),
    "ConvTranspose2D.kernel_size": Case(lambda v: nn.ConvTranspose2D(4, v), 3, "kernel_size"),
    "ConvTranspose2D.strides": Case(lambda v: nn.ConvTranspose2D(4, 3, strides=v), 2, "strides"),
    "Embedding.num_embeddings": Case(lambda v: nn.Embedding(v, 4), 10, "num_embeddings"),
    "Embedding.features": Case(lambda v: nn.Embedding(10, v), 4, "features"),
    "SimpleRNN.hidden_size": Case(lambda v: nn.SimpleRNN(v), 8, "hidden_size"),
    "LSTM.hidden_size": Case(lambda v: nn.LSTM(v), 8, "hidden_size"),
    "GRU.hidden_size": Case(lambda v: nn.GRU(v), 8, "hidden_size"),
    "BatchNorm.axis": Case(lambda v: nn.BatchNorm(axis=v), -1, "axis"),
    "MaxPool1D.window": Case(lambda v: nn.MaxPool1D(v), 2, "window"),
    "MaxPool2D.window": Case(lambda v: nn.MaxPool2D(v), 2, "window"),
    "MaxPool2D.strides": Case(lambda v: nn.MaxPool2D(2, strides=v), 1, "strides"),
    "AvgPool1D.window": Case(lambda v: nn.AvgPool1D(v), 2, "window"),
    "AvgPool2D.window": Case(lambda v: nn.AvgPool2D(v), 2, "window"),
    "UpSampling1D.size": Case(lambda v: nn.UpSampling1D(v), 2, "size"),
    "UpSampling2D.size": Case(lambda v: nn.UpSampling2D(v), 3, "size"),
    "Reshape.shape": Case(lambda v: nn.Reshape((v, 4)), 7, "shape"),
    "VarianceScaling.in_axis": Case(
        lambda v: initializers.glorot_uniform(in_axis=v), -2, "in_axis"
    ),
    "VarianceScaling.out_axis": Case(lambda v: initializers.he_normal(out_axis=v), -1, "out_axis"),
}

MODELS: dict[str, Case] = {
    "mlp.num_classes": Case(lambda v: models.mlp(v, hidden=(8,)), 10, "num_classes"),
    "mlp.hidden": Case(lambda v: models.mlp(10, hidden=(v, 4)), 8, "hidden[0]"),
    "cnn.num_classes": Case(lambda v: models.cnn((8, 8, 1), v, channels=(4,)), 10, "num_classes"),
    "cnn.channels": Case(lambda v: models.cnn((8, 8, 1), 10, channels=(v,)), 4, "channels[0]"),
    "cnn.dense": Case(lambda v: models.cnn((8, 8, 1), 10, channels=(4,), dense=v), 16, "dense"),
    "cnn.input_shape": Case(lambda v: models.cnn((v, 8, 1), 10, channels=(4,)), 8, "input_shape"),
    "resnet.blocks": Case(
        lambda v: models.resnet((8, 8, 1), 10, blocks=(v,), channels=(4,)), 1, "blocks[0]"
    ),
    "resnet.channels": Case(
        lambda v: models.resnet((8, 8, 1), 10, blocks=(1,), channels=(v,)), 4, "channels[0]"
    ),
    "residual_mlp.width": Case(lambda v: models.residual_mlp(10, width=v, depth=1), 8, "width"),
    "residual_mlp.depth": Case(lambda v: models.residual_mlp(10, width=8, depth=v), 2, "depth"),
    "lstm_classifier.hidden_size": Case(
        lambda v: models.lstm_classifier((4, 3), 10, hidden_size=v), 8, "hidden_size"
    ),
    "lstm_classifier.num_classes": Case(
        lambda v: models.lstm_classifier((4, 3), v, hidden_size=8), 5, "num_classes"
    ),
    "autoencoder.input_dim": Case(lambda v: models.autoencoder(v, hidden=(4,)), 16, "input_dim"),
    "autoencoder.hidden": Case(lambda v: models.autoencoder(16, hidden=(8, v)), 4, "hidden[1]"),
}

STEPS = jnp.arange(12)

SCHEDULES: dict[str, Case] = {
    "polynomial_schedule.transition_steps": Case(
        lambda v: optim.polynomial_schedule(1.0, 0.0, 2, transition_steps=v), 8, "transition_steps"
    ),
    "polynomial_schedule.transition_begin": Case(
        lambda v: optim.polynomial_schedule(1.0, 0.0, 2, 8, transition_begin=v),
        2,
        "transition_begin",
    ),
    "linear_schedule.transition_steps": Case(
        lambda v: optim.linear_schedule(0.0, 1.0, transition_steps=v), 8, "transition_steps"
    ),
    "exponential_decay.transition_steps": Case(
        lambda v: optim.exponential_decay(1.0, transition_steps=v, decay_rate=0.5),
        4,
        "transition_steps",
    ),
    "exponential_decay.transition_begin": Case(
        lambda v: optim.exponential_decay(1.0, 4, 0.5, transition_begin=v), 2, "transition_begin"
    ),
    "cosine_decay_schedule.decay_steps": Case(
        lambda v: optim.cosine_decay_schedule(1.0, decay_steps=v), 10, "decay_steps"
    ),
    "warmup_cosine_decay_schedule.warmup_steps": Case(
        lambda v: optim.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=v, decay_steps=10),
        3,
        "warmup_steps",
    ),
    "warmup_cosine_decay_schedule.decay_steps": Case(
        lambda v: optim.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=3, decay_steps=v),
        10,
        "decay_steps",
    ),
    "join_schedules.boundaries": Case(
        lambda v: optim.join_schedules(
            [optim.constant_schedule(1.0), optim.constant_schedule(0.5)], [v]
        ),
        4,
        "boundaries[0]",
    ),
    "piecewise_constant_schedule.boundaries": Case(
        lambda v: optim.piecewise_constant_schedule(1.0, {v: 0.5}), 4, "boundary"
    ),
}

FUNCTIONS: dict[str, Case] = {
    "maxout.num_pieces": Case(lambda v: activations.maxout(X, num_pieces=v), 2, "num_pieces"),
    "maxout.axis": Case(lambda v: activations.maxout(X, 2, axis=v), -1, "axis"),
    "perceptron.train.max_passes": Case(
        lambda v: perceptron.train(INPUTS, AND, threshold=1.5, max_passes=v).weights,
        20,
        "max_passes",
    ),
    "num_batches.n": Case(lambda v: data.num_batches(v, 4), 10, "n"),
    "num_batches.batch_size": Case(lambda v: data.num_batches(10, v), 4, "batch_size"),
    "batches.batch_size": Case(lambda v: [b[1] for b in data.batches(X, Y, v)], 4, "batch_size"),
    "epoch_batches.batch_size": Case(
        lambda v: data.epoch_batches(KEY, X, Y, v)[1], 4, "batch_size"
    ),
    "train_val_split.size": Case(
        lambda v: data.train_val_split(X, Y, key=KEY, size=v)[1][1], 3, "size"
    ),
    "one_hot.num_classes": Case(lambda v: data.one_hot(jnp.array([0, 2]), v), 3, "num_classes"),
    "replay_buffer.capacity": Case(
        lambda v: rl.replay_buffer(v, {"x": jnp.zeros(2)}).storage["x"].shape, 8, "capacity"
    ),
    "periodic_update.period": Case(
        lambda v: rl.periodic_update(jnp.zeros(2), jnp.ones(2), jnp.asarray(6), v), 3, "period"
    ),
}

ALL = {**LAYERS, **MODELS, **SCHEDULES, **FUNCTIONS}
BAD_VALUES = {
    "bool": lambda good: True,
    "float": lambda good: float(good),
    "numpy float": lambda good: np.float64(good),
    "string": lambda good: str(good),
}


# Arguments for which a string is a valid type ("SAME"): a wrong string is a ValueError.
STRINGS_ALLOWED = {"Conv2D.padding"}


def _assert_same(got: Any, expected: Any) -> None:
    if isinstance(got, nn.Layer) or isinstance(got, initializers.VarianceScaling):
        assert got == expected and hash(got) == hash(expected)
        assert repr(got) == repr(expected)  # no "np.int64(3)" in it: stored as a Python int
    elif callable(got):  # a schedule
        np.testing.assert_array_equal(jax.vmap(got)(STEPS), jax.vmap(expected)(STEPS))
    else:
        jax.tree.map(np.testing.assert_array_equal, got, expected)


@pytest.mark.parametrize("name", list(ALL))
def test_numpy_integers_are_accepted_and_mean_the_python_int(name: str) -> None:
    case = ALL[name]
    for numpy_type in (np.int64, np.int32):
        _assert_same(case.call(numpy_type(case.good)), case.call(case.good))


@pytest.mark.parametrize("name", list(LAYERS))
def test_layers_store_python_ints(name: str) -> None:
    layer = LAYERS[name].call(np.int64(LAYERS[name].good))
    for value in jax.tree.leaves(vars(layer)):
        assert not isinstance(value, np.integer), f"{name} keeps {value!r}"


@pytest.mark.parametrize("bad", list(BAD_VALUES))
@pytest.mark.parametrize("name", list(ALL))
def test_bools_floats_and_strings_are_rejected_naming_the_argument(name: str, bad: str) -> None:
    case = ALL[name]
    value = BAD_VALUES[bad](case.good)
    error = ValueError if bad == "string" and name in STRINGS_ALLOWED else TypeError
    with pytest.raises(error, match=case.argument.replace("[", r"\[").replace("]", r"\]")):
        case.call(value)


@pytest.mark.parametrize("seed", [True, 1.0, "1"])
@pytest.mark.parametrize("loader", [data.digits, data.mnist1d], ids=["digits", "mnist1d"])
def test_dataset_seeds_reject_non_integers(loader: Callable[..., Any], seed: Any) -> None:
    with pytest.raises(TypeError, match="seed must be an int"):
        loader(seed=seed)


def test_digits_accepts_a_numpy_seed() -> None:
    np.testing.assert_array_equal(data.digits(seed=np.int64(3)).y_test, data.digits(seed=3).y_test)


@pytest.mark.parametrize("index", [np.int64(1), np.int32(-1)])
def test_sequential_indexing_accepts_numpy_integers(index: Any) -> None:
    model = nn.Sequential([nn.Dense(2), nn.Dense(3)])
    assert model[index] == model[int(index)]


@pytest.mark.parametrize("index", [True, 1.0])
def test_sequential_indexing_rejects_bools_and_floats(index: Any) -> None:
    with pytest.raises(TypeError, match="index with an int"):
        nn.Sequential([nn.Dense(2), nn.Dense(3)])[index]


@pytest.mark.parametrize(
    "field",
    [
        "num_envs",
        "buffer_capacity",
        "batch_size",
        "train_every",
        "target_period",
        "learning_starts",
    ],
)
def test_dqn_counts_accept_numpy_integers_and_reject_floats(field: str) -> None:
    pytest.importorskip("gymnax")
    env, _ = rl.make_env("CartPole-v1")
    settings = dict(
        num_envs=4,
        buffer_capacity=64,
        batch_size=8,
        learning_starts=16,
        train_every=2,
        target_period=4,
    )
    build = lambda **changes: rl.DQN(  # noqa: E731
        env, models.mlp(2, hidden=(8,)), optim.adam(1e-3), **{**settings, **changes}
    )
    agent = build(**{field: np.int64(settings[field])})
    assert type(getattr(agent, field)) is int and getattr(agent, field) == settings[field]
    with pytest.raises(TypeError, match=f"DQN: {field} must be an int"):
        build(**{field: float(settings[field])})

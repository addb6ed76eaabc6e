"""``fit``, ``evaluate`` and ``fit_sweep`` reuse their compiled programs across calls."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, losses, models, nn, optim, train

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 4)).astype(np.float32)
Y = (X[:, 0] - X[:, 2] > 0).astype(np.int32)


def _model(width=8):
    return nn.Sequential([nn.Dense(width), activations.relu, nn.Dense(2)])


class CountingLoss:
    """A loss that counts how often it is traced (each trace is a new compilation)."""

    def __init__(self):
        self.traces = 0

    def __call__(self, predictions, targets):
        self.traces += 1
        return losses.softmax_cross_entropy(predictions, targets)


def _fit(loss, model=None, optimizer=None, **kwargs):
    args = dict(epochs=2, batch_size=16, key=jax.random.key(0), progress=False)
    args.update(kwargs)
    return train.fit(model or _model(), optimizer or optim.adam(1e-2), (X, Y), loss=loss, **args)


def test_a_second_fit_call_with_the_same_arguments_does_not_trace_again():
    loss = CountingLoss()
    first, _ = _fit(loss)
    traces = loss.traces
    second, _ = _fit(loss)
    assert traces == 1 and loss.traces == 1
    jax.tree_util.tree_map(np.testing.assert_array_equal, first.params, second.params)


def test_an_equal_model_and_a_rebuilt_optimizer_hit_the_cache():
    loss = CountingLoss()
    _fit(loss, model=_model(), optimizer=optim.adam(1e-2))
    _fit(loss, model=_model(), optimizer=optim.adam(1e-2))
    assert loss.traces == 1


@pytest.mark.parametrize(
    "change",
    [
        dict(batch_size=32),
        dict(model=_model(width=9)),
        dict(optimizer=optim.adam(1e-3)),
        dict(optimizer=optim.sgd(1e-2)),
    ],
    ids=["batch_size", "model", "learning_rate", "optimizer"],
)
def test_a_change_that_matters_compiles_a_new_program(change):
    loss = CountingLoss()
    _fit(loss)
    _fit(loss, **change)
    assert loss.traces == 2


def test_validation_compiles_once_across_fit_and_evaluate_calls():
    loss = CountingLoss()
    ts, _ = _fit(loss, validation_data=(X, Y))
    after_fit = loss.traces
    _fit(loss, validation_data=(X, Y))
    results = [train.evaluate(_model(), ts, (X, Y), loss=loss, batch_size=16) for _ in range(3)]
    assert after_fit == 2  # the training step and the validation step
    assert loss.traces == 2  # evaluate's program is fit's validation program
    assert results[0] == results[1] == results[2]


def test_evaluate_does_not_compile_again_on_a_repeated_call():
    loss = CountingLoss()
    ts, _ = _fit(losses.softmax_cross_entropy)
    first = train.evaluate(_model(), ts, (X, Y), loss=loss)
    second = train.evaluate(_model(), ts, (X, Y), loss=loss)
    assert loss.traces == 1 and first == second


def test_the_cached_run_equals_a_run_built_from_scratch():
    loss = CountingLoss()
    cached_run, cached_history = _fit(loss, epochs=3)
    fresh_loss = CountingLoss()  # a new function: nothing cached for it
    fresh_run, fresh_history = _fit(fresh_loss, epochs=3)
    assert fresh_loss.traces == 1
    jax.tree_util.tree_map(np.testing.assert_array_equal, cached_run.params, fresh_run.params)
    assert cached_history.history == fresh_history.history


def test_a_second_sweep_does_not_trace_again():
    loss = CountingLoss()
    keys = jax.random.split(jax.random.key(0), 2)
    rates = {"learning_rate": np.array([0.01, 0.1])}
    runs = [
        train.fit_sweep(
            _model(),
            optim.sgd,
            (X, Y),
            loss=loss,
            epochs=2,
            batch_size=16,
            keys=keys,
            hyperparameters=rates,
            progress=False,
        )
        for _ in range(2)
    ]
    assert loss.traces == 1
    np.testing.assert_array_equal(runs[0][1]["loss"], runs[1][1]["loss"])


@pytest.mark.parametrize(
    "model",
    [
        _model(),
        models.cnn((6, 6, 1), 2, channels=(2, 3), dense=4),
        nn.Sequential([nn.Dense(5), nn.BatchNorm(), nn.Dropout(0.5), nn.Dense(2)]),
    ],
    ids=["mlp", "cnn", "batchnorm"],
)
def test_the_compiled_initial_state_equals_eager_initialisation(model):
    x = np.zeros((3, 6, 6, 1), np.float32) if "Conv" in repr(model) else X[:3]
    key, opt = jax.random.key(7), optim.adam(1e-3)
    compiled = train.initial_state(model, opt, x, key)
    params, state = model.init(key, jax.ShapeDtypeStruct((1, *x.shape[1:]), x.dtype))
    eager = train.TrainState.create(params=params, state=state, optimizer=opt)
    jax.tree_util.tree_map(np.testing.assert_array_equal, compiled, eager)


def test_steps_built_from_equal_arguments_are_equal():
    a = train.make_train_step(_model(), losses.mse, optim.sgd(0.1), metrics=["accuracy"])
    b = train.make_train_step(_model(), losses.mse, optim.sgd(0.1), metrics=("accuracy",))
    assert a == b and hash(a) == hash(b)
    assert a != train.make_train_step(_model(), losses.mae, optim.sgd(0.1))
    assert train.make_eval_step(_model(), losses.mse) == train.make_eval_step(_model(), losses.mse)


def test_an_unhashable_loss_is_compiled_per_call_and_still_trains():
    class UnhashableLoss(CountingLoss):
        __hash__ = None

    loss = UnhashableLoss()
    first, _ = _fit(loss)
    second, _ = _fit(loss)
    assert loss.traces == 2
    jax.tree_util.tree_map(np.testing.assert_array_equal, first.params, second.params)


def test_a_metrics_string_is_rejected_with_a_type_error():
    with pytest.raises(TypeError, match="list of metrics"):
        train.make_train_step(_model(), losses.mse, optim.sgd(0.1), metrics="accuracy")


def test_array_arguments_are_not_cached():
    ts, _ = _fit(losses.softmax_cross_entropy, optimizer=optim.adam(jnp.float32(1e-2)))
    assert int(ts.step) == 2 * (96 // 16)

"""``fit``'s arguments of the wrong type or shape: a clear error naming the argument,
what was expected and what came, before anything compiles."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, losses, nn, optim, train

RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 4)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)
MODEL = nn.Sequential([nn.Dense(8), activations.relu, nn.Dense(2)])
OTHER_STATE = train.initial_state(nn.Dense(2), optim.adam(1e-2), X, jax.random.key(0))
SGD_STATE = train.initial_state(MODEL, optim.sgd(0.1), X, jax.random.key(0))

_compilations = []
_listening = []


def _listener(name, *args, **kwargs):
    if _listening and name == "/jax/core/compile/backend_compile_duration":
        _compilations.append(name)


jax.monitoring.register_event_duration_secs_listener(_listener)


@contextlib.contextmanager
def no_compilation():
    """Fail if XLA compiles anything inside the block."""
    _compilations.clear()
    _listening.append(True)
    try:
        yield
    finally:
        _listening.clear()
    assert _compilations == [], "something compiled before the error"


def per_sample_loss(predictions, targets):
    return losses.softmax_cross_entropy(predictions, targets, reduction="none")


def on_epoch_end(epoch, logs, context):
    pass


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"callbacks": [on_epoch_end]},
            TypeError,
            r"callbacks\[0\] must be a train.Callback .*got the function on_epoch_end",
        ),
        (
            {"callbacks": on_epoch_end},
            TypeError,
            "callbacks must be a list of train.Callback objects, got the function",
        ),
        (
            {"callbacks": train.EarlyStopping()},
            TypeError,
            r"got a single EarlyStopping; pass callbacks=\[EarlyStopping\(...\)\]",
        ),
        (
            {"optimizer": optim.adam},
            TypeError,
            r"optimizer must be a GradientTransformation .*got the function adam.*adam\(1e-3\)",
        ),
        ({"optimizer": 1e-3}, TypeError, "optimizer must be a GradientTransformation.*float"),
        ({"model": activations.relu}, TypeError, "model must be a layer .*function relu"),
        ({"model": [nn.Dense(2)]}, TypeError, "model must be a layer .*got a list"),
        ({"train_state": {"params": {}}}, TypeError, "train_state must be a TrainState.*dict"),
        (
            {"train_state": OTHER_STATE},
            ValueError,
            r"train_state.params does not match .*missing \['0'\]\['b'\].*unexpected \['b'\]",
        ),
        ({"train_state": SGD_STATE}, ValueError, "train_state.opt_state does not match"),
        (
            {"loss": per_sample_loss},
            ValueError,
            r"per_sample_loss must return a scalar .*got shape \(16,\)",
        ),
        ({"loss": "mse"}, TypeError, "loss must be a function"),
        ({"streaming": "yes"}, TypeError, "streaming must be True, False or None, got 'yes'"),
        ({"streaming": 1}, TypeError, "streaming must be True, False or None, got 1"),
        ({"progress": None}, TypeError, "progress must be True, False or a label"),
        ({"on_divergence": "skip"}, ValueError, "on_divergence must be one of"),
        ({"epochs": 2.0}, TypeError, r"fit: epochs must be an int ≥ 0, got 2.0 \(float\)"),
        ({"batch_size": True}, TypeError, "fit: batch_size must be an int ≥ 1, got True"),
    ],
    ids=[
        "function_callback",
        "function_as_callbacks",
        "single_callback",
        "factory",
        "number_optimizer",
        "function_model",
        "list_model",
        "dict_state",
        "other_model_state",
        "other_optimizer_state",
        "vector_loss",
        "loss_name",
        "streaming_str",
        "streaming_int",
        "progress_none",
        "on_divergence",
        "float_epochs",
        "bool_batch_size",
    ],
)
def test_fit_rejects_bad_arguments_before_compiling(kwargs, error, message):
    args = dict(
        model=MODEL,
        optimizer=optim.adam(1e-2),
        loss=losses.softmax_cross_entropy,
        epochs=2,
        batch_size=16,
        key=jax.random.key(0),
        progress=False,
    )
    args.update(kwargs)
    with no_compilation(), pytest.raises(error, match=message):
        train.fit(args.pop("model"), args.pop("optimizer"), (X, Y), **args)


def test_the_compiled_epoch_is_traced_once_despite_the_early_check():
    # fit traces the epoch on abstract values before compiling; JAX keeps that trace.
    traces = []

    def counting_loss(predictions, targets):
        traces.append(1)
        return losses.softmax_cross_entropy(predictions, targets)

    train.fit(
        MODEL,
        optim.adam(1e-2),
        (X, Y),
        loss=counting_loss,
        epochs=2,
        batch_size=16,
        key=jax.random.key(0),
        progress=False,
        streaming=False,
    )
    assert len(traces) == 1


def test_a_vector_loss_is_rejected_by_make_train_step_at_trace_time():
    params, state = MODEL.init(jax.random.key(0), X)
    opt = optim.sgd(0.1)
    ts = train.TrainState.create(params=params, state=state, optimizer=opt)
    step = train.make_train_step(MODEL, per_sample_loss, opt)
    with pytest.raises(ValueError, match=r"must return a scalar .*shape \(48,\)"):
        jax.eval_shape(step, ts, (jnp.asarray(X), jnp.asarray(Y)), jax.random.key(1))

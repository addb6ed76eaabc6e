import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, losses, nn, optim
from jaxdl.train import TrainState, make_eval_step, make_train_step

X = jax.random.normal(jax.random.key(0), (8, 3))
Y = jnp.array([0, 1, 2, 0, 1, 2, 0, 1])


def _setup(model, optimizer=None):
    optimizer = optimizer or optim.sgd(0.1)
    params, state = model.init(jax.random.key(1), X)
    return TrainState.create(params=params, state=state, optimizer=optimizer), optimizer


def test_train_step_equals_manual_gradient_descent():
    model = nn.Sequential([nn.Dense(4), activations.tanh, nn.Dense(3)])
    ts, opt = _setup(model)
    step = jax.jit(make_train_step(model, losses.softmax_cross_entropy, opt))
    new, metrics = step(ts, (X, Y), None)

    def loss(p):
        return losses.softmax_cross_entropy(model.apply(p, ts.state, X)[0], Y)

    grads = jax.grad(loss)(ts.params)
    expected = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, ts.params, grads)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), new.params, expected
    )
    assert float(metrics["loss"]) == pytest.approx(float(loss(ts.params)), rel=1e-6)
    assert int(new.step) == 1


def test_train_step_reports_accuracy_for_classification_only():
    model = nn.Dense(3)
    ts, opt = _setup(model)
    _, metrics = make_train_step(model, losses.softmax_cross_entropy, opt)(ts, (X, Y), None)
    assert sorted(metrics) == ["accuracy", "loss"]
    ts, opt = _setup(nn.Dense(1))
    _, metrics = make_train_step(nn.Dense(1), losses.mse, opt)(ts, (X, X[:, :1]), None)
    assert sorted(metrics) == ["loss"]


def test_train_step_extra_metrics_by_name_and_function():
    model = nn.Dense(3)
    ts, opt = _setup(model)

    def mean_logit(predictions, targets):
        return jnp.mean(predictions)

    step = make_train_step(
        model, losses.softmax_cross_entropy, opt, metrics=["top_2_accuracy", mean_logit]
    )
    _, metrics = step(ts, (X, Y), None)
    assert sorted(metrics) == ["loss", "mean_logit", "top_2_accuracy"]


def test_unknown_metric_fails_when_the_step_is_built():
    with pytest.raises(ValueError, match="unknown metric 'precision'"):
        make_train_step(nn.Dense(3), losses.mse, optim.sgd(0.1), metrics=["precision"])


def test_train_step_updates_batch_norm_state_and_eval_uses_it():
    model = nn.Sequential([nn.Dense(4), nn.BatchNorm(momentum=0.5), nn.Dense(3)])
    ts, opt = _setup(model)
    new, _ = make_train_step(model, losses.softmax_cross_entropy, opt)(ts, (X, Y), None)
    assert not np.allclose(new.state["1"]["mean"], ts.state["1"]["mean"])
    eval_metrics = make_eval_step(model, losses.softmax_cross_entropy)(new, (X, Y))
    logits, _ = model.apply(new.params, new.state, X, train=False)
    expected = losses.softmax_cross_entropy(logits, Y)
    assert float(eval_metrics["loss"]) == pytest.approx(float(expected), rel=1e-6)


def test_train_step_with_dropout_needs_a_key():
    model = nn.Sequential([nn.Dense(4), nn.Dropout(0.5), nn.Dense(3)])
    ts, opt = _setup(model)
    step = make_train_step(model, losses.softmax_cross_entropy, opt)
    with pytest.raises(ValueError, match="key="):
        step(ts, (X, Y), None)
    a, _ = step(ts, (X, Y), jax.random.key(5))
    b, _ = step(ts, (X, Y), jax.random.key(5))
    c, _ = step(ts, (X, Y), jax.random.key(6))
    np.testing.assert_array_equal(a.params["0"]["w"], b.params["0"]["w"])
    assert not np.array_equal(a.params["0"]["w"], c.params["0"]["w"])

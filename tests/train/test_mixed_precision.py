"""Mixed precision: ``compute_dtype`` runs the passes in bfloat16, keeps the rest float32."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, data, losses, models, nn, optim, train

MODEL = nn.Sequential([nn.Dense(16), nn.BatchNorm(), activations.relu, nn.Dense(3)])
X = np.random.default_rng(0).normal(size=(32, 5)).astype(np.float32)
Y = (np.arange(32) % 3).astype(np.int32)


def _state():
    return train.initial_state(MODEL, optim.adam(1e-2), X, jax.random.key(0))


def _step(compute_dtype):
    return train.make_train_step(
        MODEL, losses.softmax_cross_entropy, optim.adam(1e-2), compute_dtype=compute_dtype
    )


def test_params_optimizer_and_batch_norm_state_stay_float32():
    new, metrics = jax.jit(_step(jnp.bfloat16))(_state(), (X, Y), jax.random.key(1))
    dtypes = {leaf.dtype for leaf in jax.tree_util.tree_leaves(new)}
    assert dtypes == {jnp.dtype("int32"), jnp.dtype("float32")}
    assert metrics["loss"].dtype == jnp.float32


def test_the_matmuls_run_in_bfloat16():
    jaxpr = jax.make_jaxpr(_step(jnp.bfloat16))(_state(), (X, Y), jax.random.key(1))
    dots = [eqn for eqn in _equations(jaxpr.jaxpr) if eqn.primitive.name == "dot_general"]
    assert dots and all(v.aval.dtype == jnp.bfloat16 for eqn in dots for v in eqn.invars)


def test_without_compute_dtype_the_matmuls_run_in_float32():
    jaxpr = jax.make_jaxpr(_step(None))(_state(), (X, Y), jax.random.key(1))
    dots = [eqn for eqn in _equations(jaxpr.jaxpr) if eqn.primitive.name == "dot_general"]
    assert dots and all(v.aval.dtype == jnp.float32 for eqn in dots for v in eqn.invars)


def test_a_bfloat16_step_is_close_to_the_float32_step():
    full, m32 = _step(None)(_state(), (X, Y), jax.random.key(1))
    half, m16 = _step(jnp.bfloat16)(_state(), (X, Y), jax.random.key(1))
    assert float(m16["loss"]) == pytest.approx(float(m32["loss"]), rel=2e-2)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, atol=2e-2), full.params, half.params
    )
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(
            jax.tree_util.tree_leaves(full.params), jax.tree_util.tree_leaves(half.params)
        )
    )


def test_evaluation_in_bfloat16_returns_float32_metrics():
    step = train.make_eval_step(MODEL, losses.softmax_cross_entropy, compute_dtype="bfloat16")
    metrics = step(_state(), (X, Y))
    assert {v.dtype for v in metrics.values()} == {jnp.dtype("float32")}


@pytest.mark.parametrize("bad", ["int32", "not-a-dtype", 3])
def test_a_non_floating_compute_dtype_is_a_type_error(bad):
    with pytest.raises(TypeError, match="compute_dtype"):
        _step(bad)


def test_bfloat16_training_on_digits_is_within_half_a_point_of_float32():
    digits = data.digits()
    model = models.mlp(10, (256, 128))
    accuracies = {}
    for dtype in (None, jnp.bfloat16):
        ts, _ = train.fit(
            model,
            optim.adam(1e-3),
            digits.train,
            loss=losses.softmax_cross_entropy,
            epochs=30,
            batch_size=32,
            key=jax.random.key(0),
            progress=False,
            compute_dtype=dtype,
        )
        accuracies[dtype] = train.evaluate(
            model, ts, digits.test, loss=losses.softmax_cross_entropy
        )["accuracy"]
    assert accuracies[None] > 0.95
    assert abs(accuracies[jnp.bfloat16] - accuracies[None]) <= 0.005 + 1e-9


def _equations(jaxpr):
    """Every equation of ``jaxpr`` and of the jaxprs nested in it (pjit, custom_vjp)."""
    for eqn in jaxpr.eqns:
        yield eqn
        for param in eqn.params.values():
            inner = getattr(param, "jaxpr", None)
            if inner is not None:
                yield from _equations(getattr(inner, "jaxpr", inner))

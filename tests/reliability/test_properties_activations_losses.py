"""Property-based tests of activations and losses over extreme inputs, in float32 and bfloat16.

Inputs mix ordinary values with the extremes the numerics must survive: ±1e4 logits,
probabilities down to 1e-30, all-equal logits and large batches of identical rows. Each
property compares with a float64 NumPy reference computed from the *rounded* inputs (what
the function actually received), within a tolerance scaled by the dtype's epsilon and the
inputs' magnitude. Functions are jitted once at import and shapes are fixed, so each
compiles once per dtype (the numerics checked are those of the compiled programs ``fit``
runs); the examples are few (``max_examples``) so the whole file runs in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaxdl import activations as A
from jaxdl import losses as L

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
EPS = {"float32": float(jnp.finfo(jnp.float32).eps), "bfloat16": float(jnp.finfo(jnp.bfloat16).eps)}
SHAPE = (4, 6)
FEW = settings(max_examples=15, deadline=None, derandomize=True)

EXTREMES = [1e4, -1e4, 0.0, 1e-30, -1e-30, 88.0, -88.0, 1e3, -1e3]
logit = st.one_of(
    st.sampled_from(EXTREMES), st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
)
logits_arrays = hnp.arrays(np.float64, SHAPE, elements=logit)
# Probabilities: rows of positive weights with tiny ones among them, normalized in float64.
weight = st.one_of(st.sampled_from([1e-30, 1e-20, 1e-8, 1.0]), st.floats(1e-30, 1.0))
weight_arrays = hnp.arrays(np.float64, SHAPE, elements=weight)


def _cast(x: np.ndarray, dtype: str) -> tuple[jax.Array, np.ndarray]:
    """``x`` in ``dtype`` and, as float64, the values it holds after rounding."""
    a = jnp.asarray(x, DTYPES[dtype])
    return a, np.asarray(a.astype(jnp.float32), np.float64)


def _tolerance(dtype: str, scale: float) -> float:
    return 8 * EPS[dtype] * (1.0 + scale)


def _log_softmax64(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _f32_sum(fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    return lambda v, *rest: jnp.sum(fn(v, *rest).astype(jnp.float32))


def _finite(x: Any) -> bool:
    return bool(np.all(np.isfinite(np.asarray(jnp.asarray(x, jnp.float32)))))


ELEMENTWISE: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": A.sigmoid,
    "tanh": A.tanh,
    "relu": A.relu,
    "leaky_relu": A.leaky_relu,
    "elu": A.elu,
    "selu": A.selu,
    "softplus": A.softplus,
    "softsign": A.softsign,
    "gelu": A.gelu,
    "gelu_tanh": lambda z: A.gelu(z, approximate=True),
    "swish": A.swish,
}
VALUE = {name: jax.jit(fn) for name, fn in ELEMENTWISE.items()}
GRADIENT = {name: jax.jit(jax.grad(_f32_sum(fn))) for name, fn in ELEMENTWISE.items()}
SOFTMAX, LOG_SOFTMAX, SIGMOID = jax.jit(A.softmax), jax.jit(A.log_softmax), jax.jit(A.sigmoid)
SCE = jax.jit(L.softmax_cross_entropy, static_argnames="reduction")
SCE_GRAD = jax.jit(jax.grad(_f32_sum(L.softmax_cross_entropy)))
CE = jax.jit(L.cross_entropy, static_argnames="reduction")
CE_GRAD = jax.jit(jax.grad(_f32_sum(L.cross_entropy)))
KL = jax.jit(L.kl_divergence, static_argnames="reduction")
BCE = jax.jit(L.binary_cross_entropy)
BCE_LOGITS = jax.jit(L.binary_cross_entropy_with_logits, static_argnames="reduction")
BCE_LOGITS_GRAD = jax.jit(jax.grad(_f32_sum(L.binary_cross_entropy_with_logits)))


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("name", list(ELEMENTWISE))
@FEW
@given(z=logits_arrays)
def test_activations_and_their_gradients_stay_finite(name: str, dtype: str, z: np.ndarray) -> None:
    x, _ = _cast(z, dtype)
    y = VALUE[name](x)
    assert y.dtype == x.dtype
    assert _finite(y)
    assert _finite(GRADIENT[name](x))


@pytest.mark.parametrize("dtype", list(DTYPES))
@FEW
@given(z=logits_arrays)
def test_sigmoid_lies_in_the_unit_interval_and_matches_float64(dtype: str, z: np.ndarray) -> None:
    x, z64 = _cast(z, dtype)
    y = np.asarray(SIGMOID(x).astype(jnp.float32), np.float64)
    assert np.all((y >= 0) & (y <= 1))
    np.testing.assert_allclose(y, 0.5 * (1 + np.tanh(z64 / 2)), atol=_tolerance(dtype, 0.0))


@pytest.mark.parametrize("dtype", list(DTYPES))
@FEW
@given(z=logits_arrays)
def test_softmax_sums_to_one_and_log_softmax_is_not_positive(dtype: str, z: np.ndarray) -> None:
    x, z64 = _cast(z, dtype)
    p = np.asarray(SOFTMAX(x).astype(jnp.float32), np.float64)
    log_p = LOG_SOFTMAX(x)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=SHAPE[-1] * _tolerance(dtype, 0.0))
    assert _finite(log_p) and bool(jnp.all(log_p <= 0))
    scale = float(np.abs(z64).max())
    np.testing.assert_allclose(
        np.asarray(log_p.astype(jnp.float32)), _log_softmax64(z64), atol=_tolerance(dtype, scale)
    )
    np.testing.assert_allclose(p, np.exp(_log_softmax64(z64)), atol=_tolerance(dtype, 0.0))


@pytest.mark.parametrize("dtype", list(DTYPES))
@FEW
@given(value=logit, classes=st.sampled_from([2, 6, 100]))
def test_all_equal_logits_give_the_uniform_distribution(
    dtype: str, value: float, classes: int
) -> None:
    x = jnp.full((3, classes), value, DTYPES[dtype])
    p = np.asarray(SOFTMAX(x).astype(jnp.float32))
    np.testing.assert_allclose(p, 1 / classes, rtol=2 * EPS[dtype])
    loss = SCE(x, jnp.zeros(3, jnp.int32))
    assert float(loss) == pytest.approx(np.log(classes), rel=4 * EPS[dtype])


@pytest.mark.parametrize("dtype", list(DTYPES))
@FEW
@given(z=logits_arrays, labels=hnp.arrays(np.int32, SHAPE[:1], elements=st.integers(0, 5)))
def test_softmax_cross_entropy_is_non_negative_and_matches_float64(
    dtype: str, z: np.ndarray, labels: np.ndarray
) -> None:
    x, z64 = _cast(z, dtype)
    per_sample = SCE(x, jnp.asarray(labels), reduction="none")
    expected = -_log_softmax64(z64)[np.arange(SHAPE[0]), labels]
    got = np.asarray(per_sample.astype(jnp.float32), np.float64)
    assert np.all(got >= 0)
    np.testing.assert_allclose(got, expected, atol=_tolerance(dtype, float(np.abs(z64).max())))
    assert _finite(SCE_GRAD(x, jnp.asarray(labels)))


@pytest.mark.parametrize("dtype", list(DTYPES))
@FEW
@given(w=weight_arrays, target_w=weight_arrays)
def test_cross_entropy_and_kl_of_tiny_probabilities_match_float64(
    dtype: str, w: np.ndarray, target_w: np.ndarray
) -> None:
    y, y64 = _cast(w / w.sum(-1, keepdims=True), dtype)
    t, t64 = _cast(target_w / target_w.sum(-1, keepdims=True), dtype)
    if np.any(y64 == 0) or np.any(y64 > 1) or np.any(t64 > 1):
        return  # a weight rounded to 0 (or a sum above 1): outside these properties
    ce = np.asarray(CE(y, t, reduction="none").astype(jnp.float32), np.float64)
    kl = np.asarray(KL(y, t, reduction="none").astype(jnp.float32), np.float64)
    ce64 = -(t64 * np.log(y64)).sum(-1)
    kl64 = (np.where(t64 > 0, t64 * np.log(np.where(t64 > 0, t64, 1)), 0) - t64 * np.log(y64)).sum(
        -1
    )
    assert np.all(ce >= 0)
    scale = float(np.abs(np.log(y64)).max())
    np.testing.assert_allclose(ce, ce64, atol=_tolerance(dtype, scale))
    np.testing.assert_allclose(kl, kl64, atol=_tolerance(dtype, scale))
    assert _finite(CE_GRAD(y, t))


@pytest.mark.parametrize("dtype", list(DTYPES))
@FEW
@given(z=logits_arrays, t=hnp.arrays(np.float64, SHAPE, elements=st.sampled_from([0.0, 0.3, 1.0])))
def test_binary_cross_entropy_with_logits_matches_float64(
    dtype: str, z: np.ndarray, t: np.ndarray
) -> None:
    x, z64 = _cast(z, dtype)
    targets, t64 = _cast(t, dtype)
    got = BCE_LOGITS(x, targets, reduction="none")
    expected = np.maximum(z64, 0) - z64 * t64 + np.log1p(np.exp(-np.abs(z64)))
    values = np.asarray(got.astype(jnp.float32), np.float64)
    assert np.all(values >= -_tolerance(dtype, 0.0))
    np.testing.assert_allclose(values, expected, atol=_tolerance(dtype, float(np.abs(z64).max())))
    assert _finite(BCE_LOGITS_GRAD(x, targets))


@pytest.mark.parametrize("dtype", list(DTYPES))
@FEW
@given(p=st.sampled_from([1e-30, 1e-8, 0.5, 1 - 1e-7]), t=st.sampled_from([0.0, 1.0, 0.25]))
def test_binary_cross_entropy_of_tiny_probabilities_is_finite_and_exact(
    dtype: str, p: float, t: float
) -> None:
    y, y64 = _cast(np.full(3, p), dtype)
    targets, t64 = _cast(np.full(3, t), dtype)
    if np.any(y64 >= 1):
        return  # 1 - 1e-7 rounds to 1 in bfloat16: log(1 - y) is then -inf by definition
    got = float(BCE(y, targets).astype(jnp.float32))
    expected = float(np.mean(-(t64 * np.log(y64) + (1 - t64) * np.log1p(-y64))))
    assert got >= 0
    assert got == pytest.approx(expected, abs=_tolerance(dtype, abs(expected)))


@pytest.mark.parametrize("dtype", list(DTYPES))
@FEW
@given(row=hnp.arrays(np.float64, (6,), elements=logit), label=st.integers(0, 5))
def test_a_large_batch_of_identical_rows_has_the_loss_of_one_row(
    dtype: str, row: np.ndarray, label: int
) -> None:
    x = jnp.tile(jnp.asarray(row, DTYPES[dtype])[None], (4096, 1))
    labels = jnp.full(4096, label, jnp.int32)
    one = float(SCE(x[:1], labels[:1]).astype(jnp.float32))
    batch = float(SCE(x, labels).astype(jnp.float32))
    # The mean of 4,096 equal values rounds at each addition: up to ~log2(4096) ulp apart.
    assert batch == pytest.approx(one, rel=16 * EPS[dtype], abs=_tolerance(dtype, 0.0))
    p = SOFTMAX(x)
    assert bool(jnp.all(p == p[:1]))

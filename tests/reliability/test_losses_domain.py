"""Losses outside their domain raise clear errors instead of returning NaN or a misleading
message: probabilities outside [0, 1], empty arrays, complex inputs, float class labels, a
bad logarithm base. Traced values (under jit) are documented as unchecked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import data as jaxdl_data
from jaxdl import losses as L

Y = jnp.array([[0.2, 0.8], [0.6, 0.4]])  # valid probabilities
T = jnp.array([[0.0, 1.0], [1.0, 0.0]])

# (loss, argument position) for every argument that holds probabilities
PROBABILITY_ARGUMENTS: dict[str, tuple[Callable[..., Any], int, str]] = {
    "cross_entropy predictions": (L.cross_entropy, 0, "predictions"),
    "cross_entropy targets": (L.cross_entropy, 1, "targets"),
    "binary_cross_entropy predictions": (L.binary_cross_entropy, 0, "predictions"),
    "binary_cross_entropy targets": (L.binary_cross_entropy, 1, "targets"),
    "binary_cross_entropy_with_logits targets": (L.binary_cross_entropy_with_logits, 1, "targets"),
    "kl_divergence predictions": (L.kl_divergence, 0, "predictions"),
    "kl_divergence targets": (L.kl_divergence, 1, "targets"),
    "softmax_cross_entropy soft labels": (L.softmax_cross_entropy, 1, "labels"),
    "entropy": (lambda p, _: L.entropy(p), 0, "probabilities"),
}
BAD_PROBABILITIES = {"-0.2": -0.2, "1.5": 1.5, "nan": float("nan"), "-inf": -float("inf")}


def _with_bad_value(position: int, value: float) -> tuple[jax.Array, jax.Array]:
    args = [Y, T]
    args[position] = args[position].at[1, 0].set(value)
    return args[0], args[1]


@pytest.mark.parametrize("value", list(BAD_PROBABILITIES))
@pytest.mark.parametrize("name", list(PROBABILITY_ARGUMENTS))
def test_probabilities_outside_the_unit_interval_raise(name: str, value: str) -> None:
    loss, position, argument = PROBABILITY_ARGUMENTS[name]
    loss_name = name.split()[0]
    bad = BAD_PROBABILITIES[value]
    with pytest.raises(ValueError, match=rf"^{loss_name}: {argument} must lie in \[0, 1\]"):
        loss(*_with_bad_value(position, bad))


@pytest.mark.parametrize("name", list(PROBABILITY_ARGUMENTS))
def test_the_boundaries_0_and_1_are_valid(name: str) -> None:
    loss, position, _ = PROBABILITY_ARGUMENTS[name]
    for edge in (0.0, 1.0):  # no error; a 0 probability under a positive target gives inf
        assert not np.isnan(float(loss(*_with_bad_value(position, edge))))


def test_traced_probabilities_are_not_checked_as_documented() -> None:
    """Under jit the values are unknown at trace time: the loss computes on them."""
    y = jnp.array([1.5, 0.5])
    t = jnp.array([0.0, 1.0])
    assert float(jax.jit(L.cross_entropy)(y, t)) == pytest.approx(-np.log(0.5))
    with pytest.raises(ValueError):
        L.cross_entropy(y, t)


def test_a_concrete_argument_next_to_a_traced_one_is_still_checked() -> None:
    """jax.grad traces the predictions; the concrete targets are checked."""
    bad_targets = jnp.array([[0.0, 1.5], [1.0, 0.0]])
    with pytest.raises(ValueError, match="targets must lie in"):
        jax.grad(L.cross_entropy)(Y, bad_targets)


ALL_LOSSES: dict[str, Callable[[Any, Any], Any]] = {
    name: getattr(L, name)
    for name in (
        "sae", "mae", "sse", "mse", "half_sse", "rmse", "huber", "cross_entropy",
        "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_divergence",
        "softmax_cross_entropy",
    )
}  # fmt: skip
ALL_LOSSES["entropy"] = lambda p, _: L.entropy(p)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(0,), (0, 3), (4, 0)], ids=str)
@pytest.mark.parametrize("name", list(ALL_LOSSES))
def test_empty_arrays_raise_instead_of_nan(
    name: str, shape: tuple[int, ...], reduction: str
) -> None:
    empty = jnp.zeros(shape)
    loss = ALL_LOSSES[name]
    with pytest.raises(ValueError, match=r"is empty \(shape"):
        if name == "entropy":
            L.entropy(empty, reduction=reduction)
        else:
            loss(empty, empty, reduction=reduction)


def test_empty_arrays_raise_under_jit_too() -> None:
    with pytest.raises(ValueError, match="mse: predictions is empty"):
        jax.jit(L.mse)(jnp.zeros((0, 2)), jnp.zeros((0, 2)))


COMPLEX_CASES = [(name, 0) for name in ALL_LOSSES] + [
    (name, 1)
    for name in ALL_LOSSES
    if name != "entropy"  # entropy has one argument
]


@pytest.mark.parametrize(("name", "position"), COMPLEX_CASES)
def test_complex_inputs_raise_a_type_error(name: str, position: int) -> None:
    args = [jnp.full((2, 2), 0.5), jnp.full((2, 2), 0.5)]
    args[position] = args[position].astype(jnp.complex64)
    with pytest.raises(TypeError, match="must be real-valued, got dtype complex64"):
        ALL_LOSSES[name](*args)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16, jnp.bfloat16])
def test_float_class_labels_get_a_clear_message(dtype: Any) -> None:
    logits = jnp.zeros((4, 3))
    labels = jnp.array([0, 1, 2, 1], dtype)
    with pytest.raises(TypeError, match=r"class indices need an integer dtype \(labels\.astype"):
        L.softmax_cross_entropy(logits, labels)
    with pytest.raises(ValueError, match=r"integer class indices of shape \(4,\) or one-hot"):
        L.softmax_cross_entropy(logits, labels)


def test_float_labels_of_another_shape_say_what_is_expected() -> None:
    with pytest.raises(
        ValueError, match=r"shape \(4,\) or one-hot/probability targets of shape \(4, 3\); got"
    ):
        L.softmax_cross_entropy(jnp.zeros((4, 3)), jnp.zeros((4, 2)))


def test_integer_labels_still_give_the_reference_value() -> None:
    logits = jnp.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = jnp.array([0, 2])
    z = np.asarray(logits, np.float64)
    log_probs = z - np.log(np.exp(z).sum(-1, keepdims=True))
    expected = -log_probs[[0, 1], [0, 2]].mean()
    assert float(L.softmax_cross_entropy(logits, labels)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("base", "error", "match"),
    [
        ("2", TypeError, r"base must be None \(natural log\) or a positive real number"),
        (True, TypeError, r"base must be None"),
        ([2], TypeError, r"base must be None"),
        (1, ValueError, r"logarithm base must be a positive finite number other than 1, got 1"),
        (0.0, ValueError, r"got 0\.0"),
        (-2, ValueError, r"got -2"),
        (float("inf"), ValueError, r"got inf"),
        (float("nan"), ValueError, r"got nan"),
    ],
)
@pytest.mark.parametrize(
    "loss",
    [
        lambda base: L.cross_entropy(Y, T, base=base),
        lambda base: L.softmax_cross_entropy(Y, jnp.array([1, 0]), base=base),
        lambda base: L.entropy(Y, base=base),
        lambda base: L.kl_divergence(Y, T, base=base),
    ],
    ids=["cross_entropy", "softmax_cross_entropy", "entropy", "kl_divergence"],
)
def test_bad_bases_raise(loss: Callable[[Any], Any], base: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        loss(base)


@pytest.mark.parametrize("base", [2, 2.0, np.float32(10.0), np.int64(2)])
def test_numeric_bases_change_units_only(base: Any) -> None:
    nats = float(L.cross_entropy(Y, T))
    assert float(L.cross_entropy(Y, T, base=base)) == pytest.approx(
        nats / np.log(float(base)), rel=1e-6
    )


def test_concrete_labels_closed_over_inside_jit_are_checked_not_crashed() -> None:
    """A label array captured by a jitted function is concrete: its range is checked (with
    NumPy; reading it through jnp inside the trace used to raise a ConcretizationTypeError)."""
    logits = jnp.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    good, bad = jnp.array([0, 2]), jnp.array([0, 3])
    value = jax.jit(lambda z: L.softmax_cross_entropy(z, good))(logits)
    assert float(value) == pytest.approx(float(L.softmax_cross_entropy(logits, good)))
    with pytest.raises(ValueError, match=r"\[0, 3\).*from 0 to 3"):
        jax.jit(lambda z: L.softmax_cross_entropy(z, bad))(logits)
    one_hot = jax.jit(lambda z: z * jaxdl_data.one_hot(good, 3))(jnp.ones((2, 3)))
    np.testing.assert_array_equal(one_hot, [[1, 0, 0], [0, 0, 1]])

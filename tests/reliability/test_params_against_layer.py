"""Params and state are checked against the layer they are given to, at trace time: names
and shapes against ``jax.eval_shape`` of the layer's ``init``, cached, adding nothing to the
compiled program."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, models, nn

KEY = jax.random.key(0)
X = jnp.ones((5, 3))
SEQUENCE = jnp.ones((2, 7, 3))
IMAGES = jnp.ones((2, 8, 8, 3))


def _variables(layer: nn.Layer, x: Any) -> tuple[Any, Any]:
    return layer.init(KEY, x)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_sequential_with_params_of_another_width_names_layer_and_shapes(jit: bool) -> None:
    model = nn.Sequential([nn.Dense(4), nn.Dense(2)])
    params, state = _variables(nn.Sequential([nn.Dense(8), nn.Dense(2)]), X)
    apply = jax.jit(model.apply) if jit else model.apply
    with pytest.raises(nn.VariablesMismatchError) as caught:
        apply(params, state, X)
    message = str(caught.value)
    assert message.startswith("Dense(features=4) (in the model at ['0']): ")
    assert "params['0']['w'] has shape (3, 8), expected (3, 4)" in message
    assert "params['0']['b'] has shape (8,), expected (4,)" in message
    assert isinstance(caught.value, ValueError)


def test_without_the_check_those_params_would_run_silently() -> None:
    """The case the check exists for: Dense(8)'s params through Dense(4) and on to
    Dense(2), whose kernel (8, 2) then fits, compute a (5, 2) output without any error."""
    params, _ = _variables(nn.Sequential([nn.Dense(8), nn.Dense(2)]), X)
    y = X @ params["0"]["w"] + params["0"]["b"]
    y = y @ params["1"]["w"] + params["1"]["b"]
    assert y.shape == (5, 2)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_gru_with_lstm_params_names_the_missing_and_unexpected_names(jit: bool) -> None:
    params, state = _variables(nn.LSTM(8), SEQUENCE)
    apply = jax.jit(nn.GRU(8).apply) if jit else nn.GRU(8).apply
    with pytest.raises(nn.VariablesMismatchError) as caught:
        apply(params, state, SEQUENCE)
    message = str(caught.value)
    assert message.startswith("GRU(hidden_size=8): ")
    for expected in (
        "params['b_hh'] is missing",
        "params['b_ih'] is missing",
        "params['b'] is not a variable of this layer",
    ):
        assert expected in message
    assert not isinstance(caught.value, KeyError)


# (layer, input, params of a look-alike layer, a piece of the expected message)
MISFITS: dict[str, tuple[nn.Layer, Any, Callable[[], Any], str]] = {
    "Dense features": (
        nn.Dense(4),
        X,
        lambda: _variables(nn.Dense(5), X),
        r"params\['w'\] has shape \(3, 5\), expected \(3, 4\)",
    ),
    "Dense without bias": (
        nn.Dense(4, use_bias=False),
        X,
        lambda: _variables(nn.Dense(4), X),
        r"params\['b'\] is not a variable of this layer",
    ),
    "Conv2D features": (
        nn.Conv2D(4, 3),
        IMAGES,
        lambda: _variables(nn.Conv2D(6, 3), IMAGES),
        r"params\['w'\] has shape \(3, 3, 3, 6\), expected \(3, 3, 3, 4\)",
    ),
    "Conv2D kernel size": (
        nn.Conv2D(4, 3),
        IMAGES,
        lambda: _variables(nn.Conv2D(4, 5), IMAGES),
        r"params\['w'\] has shape \(5, 5, 3, 4\), expected \(3, 3, 3, 4\)",
    ),
    "ConvTranspose1D features": (
        nn.ConvTranspose1D(4, 3),
        SEQUENCE,
        lambda: _variables(nn.ConvTranspose1D(2, 3), SEQUENCE),
        r"params\['b'\] has shape \(2,\), expected \(4,\)",
    ),
    "LSTM hidden size": (
        nn.LSTM(8),
        SEQUENCE,
        lambda: _variables(nn.LSTM(6), SEQUENCE),
        r"params\['w_hh'\] has shape \(6, 24\), expected \(8, 32\)",
    ),
    "SimpleRNN with GRU params": (
        nn.SimpleRNN(8),
        SEQUENCE,
        lambda: _variables(nn.GRU(8), SEQUENCE),
        r"params\['b'\] is missing",
    ),
    "Embedding table": (
        nn.Embedding(10, 4),
        jnp.array([1, 2]),
        lambda: _variables(nn.Embedding(12, 4), jnp.array([1, 2])),
        r"params\['w'\] has shape \(12, 4\), expected \(10, 4\)",
    ),
    "BatchNorm scale": (
        nn.BatchNorm(),
        X,
        lambda: (_variables(nn.BatchNorm(), jnp.ones((5, 4)))[0], _variables(nn.BatchNorm(), X)[1]),
        r"params\['bias'\] has shape \(4,\), expected \(3,\)",
    ),
    "LayerNorm without scale": (
        nn.LayerNorm(use_scale=False),
        X,
        lambda: _variables(nn.LayerNorm(), X),
        r"params\['scale'\] is not a variable of this layer",
    ),
}


@pytest.mark.parametrize("name", list(MISFITS))
def test_layers_reject_params_of_a_look_alike(name: str) -> None:
    layer, x, variables, message = MISFITS[name]
    params, state = variables()
    with pytest.raises(nn.VariablesMismatchError, match=rf"^{re.escape(repr(layer))}: .*{message}"):
        jax.jit(layer.apply)(params, state, x)


def test_nested_models_name_the_full_path() -> None:
    model = nn.Sequential(
        [nn.Dense(4), nn.Sequential({"block": nn.Residual(nn.Dense(4)), "out": nn.Dense(2)})]
    )
    params, state = _variables(model, X)
    params["1"]["block"]["inner"]["w"] = jnp.ones((4, 5))
    with pytest.raises(nn.VariablesMismatchError) as caught:
        model.apply(params, state, X)
    message = str(caught.value)
    assert "(in the model at ['1']['block']['inner'])" in message
    assert "params['1']['block']['inner']['w'] has shape (4, 5), expected (4, 4)" in message


def test_a_wrong_input_still_gets_the_input_error() -> None:
    """Params fit, input does not: the error is about the input, as before."""
    layer = nn.Dense(4)
    params, state = _variables(layer, X)
    with pytest.raises(
        ValueError, match=r"Dense\(features=4\): expected input of shape \(batch, 3\)"
    ):
        layer.apply(params, state, jnp.ones((5, 6)))


def test_cast_params_are_not_a_mismatch() -> None:
    """Only names and shapes are compared: bfloat16 params of the right shapes apply."""
    model = models.mlp(3, hidden=(8,))
    params, state = _variables(model, X)
    half = jax.tree.map(lambda p: p.astype(jnp.bfloat16), params)
    y, _ = model.apply(half, state, X)
    np.testing.assert_allclose(
        y.astype(np.float32), model.apply(params, state, X)[0], rtol=0.05, atol=0.05
    )


def test_the_check_adds_nothing_to_the_traced_program(monkeypatch: pytest.MonkeyPatch) -> None:
    model = nn.Sequential(
        [nn.Conv2D(4, 3), nn.BatchNorm(), activations.relu, nn.Flatten(), nn.Dense(2)]
    )
    params, state = _variables(model, IMAGES)

    def traced() -> str:
        return str(jax.make_jaxpr(lambda p: model.apply(p, state, IMAGES, train=True))(params))

    with_check = traced()
    for module in ("_dense", "_conv", "_normalization"):
        monkeypatch.setattr(f"jaxdl.nn.{module}.check_variable_names", lambda *a: None)
        monkeypatch.setattr(f"jaxdl.nn.{module}.check_variable_shapes", lambda *a: None)
    assert traced() == with_check


def test_expected_shapes_are_computed_once_per_layer_and_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layer = nn.Dense(7)  # a layer no other test uses, so the cache starts cold for it
    params, state = _variables(layer, jnp.ones((2, 11)))
    calls = []
    real_init = nn.Dense.init

    def counting_init(self: nn.Dense, key: Any, x: Any) -> Any:
        calls.append(tuple(x.shape))
        return real_init(self, key, x)

    monkeypatch.setattr(nn.Dense, "init", counting_init)
    for batch in (2, 2, 2, 3):
        layer.apply(params, state, jnp.ones((batch, 11)))
    assert calls == [(2, 11), (3, 11)]


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class _UnhashableDense(nn.Dense):
    __hash__ = None  # type: ignore[assignment]


def test_unhashable_layers_are_checked_without_the_cache() -> None:
    layer = _UnhashableDense(4)
    with pytest.raises(TypeError):
        hash(layer)
    params, state = _variables(nn.Dense(5), X)
    with pytest.raises(nn.VariablesMismatchError, match=r"params\['w'\] has shape \(3, 5\)"):
        layer.apply(params, state, X)

"""``summary``: a table of layers, output shapes and parameter counts."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax

from jaxdl.nn._base import Layer, Params, State, as_spec, output_spec
from jaxdl.nn._dense import Dense

__all__ = ["count_params", "summary"]

# Leaves whose key is one of these (or starts with "b_") are biases; the rest are weights.
_BIAS_NAMES = ("b", "bias")


def count_params(params: Any) -> tuple[int, int]:
    """``(weights, biases)``: the numbers of scalar parameters in a params pytree.

    A leaf counts as a bias when its dict key is ``"b"``, ``"bias"`` or starts with
    ``"b_"`` (``Dense``'s ``b``, ``BatchNorm``'s ``bias``, a recurrent layer's ``b``), and as
    a weight otherwise (kernels, embeddings, batch-norm scales).
    """
    weights = biases = 0
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        size = math.prod(getattr(leaf, "shape", ()))
        name = _last_key(path)
        if name in _BIAS_NAMES or name.startswith("b_"):
            biases += size
        else:
            weights += size
    return weights, biases


def summary(
    model: Layer,
    params: Params,
    x: Any = None,
    *,
    state: State | None = None,
    print_fn: Callable[[str], Any] | None = print,
) -> str:
    """Print and return a table: layer, output shape, weights, biases, total.

    Arguments:
        model: a layer, usually a :class:`Sequential` (one row per layer).
        params: its params.
        x: a sample batch or ``jax.ShapeDtypeStruct`` for the output shapes; optional when
            the first layer is a :class:`Dense` (its input size is read from ``w``).
        state: the model's state (needed for output shapes of layers with state; default:
            re-created by ``model.init`` shapes, no computation).
        print_fn: where the table goes (default ``print``; ``None`` to only return it).

    Returns:
        The table as a string; its last row holds the totals of weights, biases and all
        parameters. The batch axis is shown as ``None``.

    Example (docs/concepts.md §2: 3 inputs, layers of 5, 4, 5, 2 → 65 weights + 16 biases = 81):
        >>> import jax
        >>> from jaxdl import nn
        >>> model = nn.Sequential([nn.Dense(5), nn.Dense(4), nn.Dense(5), nn.Dense(2)])
        >>> params, _ = model.init(jax.random.key(0), jax.numpy.zeros((1, 3)))
        >>> table = nn.summary(model, params, print_fn=None)
        >>> table.splitlines()[-1].split()[-3:]
        ['65', '16', '81']
    """
    names, layers, layer_params = _rows(model, params)
    spec = _input_spec(layers, layer_params) if x is None else as_spec(x)
    if state is None and spec is not None:
        state = jax.eval_shape(model.init, jax.random.key(0), spec)[1]
    layer_states = _rows(model, state)[2] if state is not None else [None] * len(layers)

    rows = [("Layer", "Output shape", "Weights", "Biases", "Total")]
    total_w = total_b = 0
    for name, layer, p, s in zip(names, layers, layer_params, layer_states):
        if spec is not None:
            spec = output_spec(layer, p, s, spec)
            shape = str((None, *spec.shape[1:]))
        else:
            shape = "?"
        w, b = count_params(p)
        total_w, total_b = total_w + w, total_b + b
        rows.append((f"{name} {layer!r}".strip(), shape, f"{w:,}", f"{b:,}", f"{w + b:,}"))
    rows.append(("Total", "", f"{total_w:,}", f"{total_b:,}", f"{total_w + total_b:,}"))
    table = _format(rows)
    if print_fn is not None:
        print_fn(table)
    return table


def _rows(model: Layer, tree: Any) -> tuple[list[str], list[Layer], list[Any]]:
    names = getattr(model, "names", None)
    if names is None:
        return [""], [model], [tree]
    return list(names), list(model.layers), [tree[n] for n in names]


def _input_spec(layers: list[Layer], params: list[Any]) -> jax.ShapeDtypeStruct | None:
    first = layers[0] if layers else None
    if isinstance(first, Dense):
        w = params[0]["w"]
        return jax.ShapeDtypeStruct((1, w.shape[0]), w.dtype)
    return None


def _last_key(path: tuple) -> str:
    if not path:
        return ""
    entry = path[-1]
    return str(getattr(entry, "key", getattr(entry, "name", getattr(entry, "idx", ""))))


def _format(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rule = "  ".join("-" * w for w in widths)

    def line(row: tuple[str, ...]) -> str:
        left = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        right = [cell.rjust(width) for cell, width in zip(row[2:], widths[2:])]
        return "  ".join(left + right).rstrip()

    return "\n".join([line(rows[0]), rule, *map(line, rows[1:-1]), rule, line(rows[-1])])

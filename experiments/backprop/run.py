"""Backpropagation is the chain rule applied module by module, and ``jax.grad`` computes it.

The claim (docs/concepts.md §6): each module of a computation multiplies the gradient
arriving from above (the *upstream* gradient) by its *local* derivative and passes the
product down; where a value feeds several modules, the contributions add. ``jax.grad``
gives the same numbers, so jaxdl needs no backpropagation code of its own.

Method: the three worked examples of the course notes, each written out here twice —
by hand, as a forward pass and then a backward pass module by module (plain NumPy in
float64, the chain rule spelled out line by line), and as a JAX function differentiated by
``jax.grad`` in float32:

1. ``f(x, y, z) = (x + y)·z`` at ``(−2, 5, −4)``; the notes give ``q = 3``, ``f = −12``,
   ``∂f/∂x = ∂f/∂y = −4``, ``∂f/∂z = 3``.
2. ``J = cos(sin(x²) + 3x²)``, whose closed form the notes give:
   ``dJ/dx = −sin(s)·(2x cos(x²) + 6x)`` with ``s = sin(x²) + 3x²``; at ``x = 1`` in the
   table and on a grid of points in the figure.
3. A one-hidden-layer sigmoid network ``x → a = αx → z = σ(a) → b = β·z → y = σ(b) →
   L = ½(y − t)²`` with 3 inputs and 4 hidden units, drawn from ``numpy`` seed 7 (the
   numbers of the library's backpropagation test); the notes give the backward formulas
   ``δ_b = (y − t)y(1 − y)``, ``∂L/∂β_j = δ_b z_j``, ``δ_{a_j} = δ_b β_j z_j(1 − z_j)``,
   ``∂L/∂α_ji = δ_{a_j} x_i``. ``jax.grad`` differentiates the network built from
   ``jaxdl.nn.Dense`` and ``jaxdl.activations.sigmoid`` with ``jaxdl.losses.half_sse``.

The gradients of intermediate values (``∂f/∂q``, ``∂J/∂s``, ``∂L/∂z_j`` …) come from
``jax.grad`` too: the JAX function adds a zero "tap" to every intermediate value, and the
gradient with respect to a tap is the gradient with respect to that value.

Usage::

    python experiments/backprop/run.py
    python experiments/backprop/run.py --quick --out DIR   # fewer points on the curve
    python experiments/backprop/run.py --points 2001

Writes ``table.md`` (the module tables and the gradient check), ``table.csv`` (the
gradient check: hand, ``jax.grad`` and the notes' reference), ``modules.csv`` (the
forward/backward module tables), ``graphs.png`` (the computation graphs annotated with
forward values and gradients) and ``gradients.png`` (hand vs ``jax.grad``) to ``--out``
(default ``results/`` beside this file) and prints the tables.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import activations, losses, nn

HERE = Path(__file__).resolve().parent
EXAMPLES = ("sum_times", "cos_of_sum", "sigmoid_network")
TITLES = {
    "sum_times": "f(x, y, z) = (x + y)·z",
    "cos_of_sum": "J = cos(sin(x²) + 3x²)",
    "sigmoid_network": "sigmoid network, L = ½(y − t)²",
}
RTOL, ATOL = 1e-5, 1e-6  # float32 jax.grad against float64 hand values


@dataclasses.dataclass(frozen=True)
class Config:
    """Where the examples are evaluated."""

    sum_times_point: tuple[float, float, float]  # (x, y, z), the notes' point
    cos_of_sum_x: float  # the point of the module table
    curve_points: int  # points of dJ/dx on [-curve_range, curve_range] in the figure
    curve_range: float
    network_seed: int  # numpy seed of α, β, x
    network_shape: tuple[int, int]  # (hidden units, inputs)
    network_target: float  # t


DEFAULT = Config(
    sum_times_point=(-2.0, 5.0, -4.0),
    cos_of_sum_x=1.0,
    curve_points=401,
    curve_range=2.0,
    network_seed=7,
    network_shape=(4, 3),
    network_target=0.8,
)
QUICK = dataclasses.replace(DEFAULT, curve_points=41)


@dataclasses.dataclass
class ModuleRow:
    """One input of one module in the backward pass: ``gradient = local · upstream``
    (a dot product where the input feeds several of the module's outputs)."""

    example: str
    module: str  # e.g. "multiply f = q·z"
    output: str  # the module's output, e.g. "f"
    forward: float | np.ndarray  # its value in the forward pass
    input: str  # e.g. "q"
    local: float | np.ndarray  # ∂output/∂input
    upstream: float | np.ndarray  # ∂(final)/∂output
    gradient: float  # ∂(final)/∂input through this module


@dataclasses.dataclass
class Check:
    """One gradient: by hand, by ``jax.grad`` and as the notes give it (NaN: not given)."""

    example: str
    of: str  # the differentiated value: f, J or L
    wrt: str  # the value it is differentiated with respect to
    hand: float
    jax: float
    reference: float


# --- example 1: f(x, y, z) = (x + y)·z -------------------------------------------------------


def sum_times_hand(x: float, y: float, z: float) -> tuple[float, list[ModuleRow]]:
    """Forward, then backward module by module.

    >>> f, rows = sum_times_hand(-2.0, 5.0, -4.0)
    >>> f, [(row.input, row.gradient) for row in rows]
    (-12.0, [('q', -4.0), ('z', 3.0), ('x', -4.0), ('y', -4.0)])
    """
    # forward
    q = x + y  # add
    f = q * z  # multiply
    # backward: start with ∂f/∂f = 1
    grad_f = 1.0
    grad_q = z * grad_f  # multiply: ∂f/∂q = z
    grad_z = q * grad_f  # multiply: ∂f/∂z = q
    grad_x = 1.0 * grad_q  # add: ∂q/∂x = 1, the sum passes the gradient on unchanged
    grad_y = 1.0 * grad_q  # add: ∂q/∂y = 1
    e = "sum_times"
    rows = [
        ModuleRow(e, "multiply f = q·z", "f", f, "q", z, grad_f, grad_q),
        ModuleRow(e, "multiply f = q·z", "f", f, "z", q, grad_f, grad_z),
        ModuleRow(e, "add q = x + y", "q", q, "x", 1.0, grad_q, grad_x),
        ModuleRow(e, "add q = x + y", "q", q, "y", 1.0, grad_q, grad_y),
    ]
    return f, rows


def sum_times_jax(leaves: dict, taps: dict) -> jax.Array:
    q = leaves["x"] + leaves["y"] + taps["q"]
    return q * leaves["z"]


# --- example 2: J = cos(sin(x²) + 3x²) -------------------------------------------------------


def cos_of_sum_hand(x: float | np.ndarray) -> tuple[float | np.ndarray, list[ModuleRow]]:
    """Forward, then backward module by module; ``x`` may be an array of points.

    >>> J, rows = cos_of_sum_hand(0.0)
    >>> float(J), rows[-1].input, abs(float(rows[-1].gradient))
    (1.0, 'x', 0.0)
    """
    # forward
    a = x**2  # square
    b = np.sin(a)  # sin
    c = 3 * a  # times 3
    s = b + c  # add
    J = np.cos(s)  # cos
    # backward: ∂J/∂J = 1
    grad_J = 1.0
    grad_s = -np.sin(s) * grad_J  # cos: local −sin s
    grad_b = 1.0 * grad_s  # add passes it on to both summands
    grad_c = 1.0 * grad_s
    grad_a_via_b = np.cos(a) * grad_b  # sin: local cos a
    grad_a_via_c = 3.0 * grad_c  # times 3: local 3
    grad_a = grad_a_via_b + grad_a_via_c  # two paths from a into s: they add
    grad_x = 2 * x * grad_a  # square: local 2x
    e = "cos_of_sum"
    rows = [
        ModuleRow(e, "cos J = cos s", "J", J, "s", -np.sin(s), grad_J, grad_s),
        ModuleRow(e, "add s = b + c", "s", s, "b", 1.0, grad_s, grad_b),
        ModuleRow(e, "add s = b + c", "s", s, "c", 1.0, grad_s, grad_c),
        ModuleRow(e, "sin b = sin a", "b", b, "a (path via b)", np.cos(a), grad_b, grad_a_via_b),
        ModuleRow(e, "times 3 c = 3a", "c", c, "a (path via c)", 3.0, grad_c, grad_a_via_c),
        ModuleRow(e, "square a = x²", "a", a, "x", 2 * x, grad_a, grad_x),
    ]
    return J, rows


def cos_of_sum_closed_form(x: float | np.ndarray) -> float | np.ndarray:
    """The notes' closed form ``dJ/dx = −sin(s)·(2x cos(x²) + 6x)``."""
    s = np.sin(x**2) + 3 * x**2
    return -np.sin(s) * (2 * x * np.cos(x**2) + 6 * x)


def cos_of_sum_jax(leaves: dict, taps: dict) -> jax.Array:
    a = leaves["x"] ** 2 + taps["a"]
    b = jnp.sin(a) + taps["b"]
    c = 3 * a + taps["c"]
    s = b + c + taps["s"]
    return jnp.cos(s)


# --- example 3: the one-hidden-layer sigmoid network -----------------------------------------


def network_problem(config: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """α ``(hidden, inputs)``, β ``(hidden,)``, x ``(inputs,)`` drawn from the seed, and t;
    rounded to float32 so that the hand and the JAX computation see the same numbers."""
    rng = np.random.default_rng(config.network_seed)
    hidden, inputs = config.network_shape
    alpha = rng.standard_normal((hidden, inputs))  # α_ji: hidden unit j, input i
    beta = rng.standard_normal(hidden)
    x = rng.standard_normal(inputs)
    as32 = [v.astype(np.float32).astype(np.float64) for v in (alpha, beta, x)]
    return (*as32, float(np.float32(config.network_target)))


def _sigma(v):
    return 1 / (1 + np.exp(-v))


def network_hand(
    alpha: np.ndarray, beta: np.ndarray, x: np.ndarray, t: float
) -> tuple[float, list[ModuleRow]]:
    """Forward, then backward module by module (one row per scalar input of a module)."""
    # forward
    a = alpha @ x  # linear: a_j = Σ_i α_ji x_i
    z = _sigma(a)  # sigmoid: z_j = σ(a_j)
    b = beta @ z  # linear: b = Σ_j β_j z_j
    y = _sigma(b)  # sigmoid: y = σ(b)
    L = 0.5 * (y - t) ** 2  # loss
    # backward: ∂L/∂L = 1
    grad_L = 1.0
    grad_y = (y - t) * grad_L  # loss: local y − t
    grad_b = y * (1 - y) * grad_y  # sigmoid: local σ'(b) = y(1 − y)
    grad_beta = z * grad_b  # linear: ∂b/∂β_j = z_j
    grad_z = beta * grad_b  # linear: ∂b/∂z_j = β_j
    grad_a = z * (1 - z) * grad_z  # sigmoid: local σ'(a_j) = z_j(1 − z_j)
    grad_alpha = np.outer(grad_a, x)  # linear: ∂a_j/∂α_ji = x_i
    grad_x = alpha.T @ grad_a  # linear: ∂a_j/∂x_i = α_ji, summed over the units j
    e = "sigmoid_network"
    rows = [
        ModuleRow(e, "loss L = ½(y − t)²", "L", L, "y", y - t, grad_L, grad_y),
        ModuleRow(e, "sigmoid y = σ(b)", "y", y, "b", y * (1 - y), grad_y, grad_b),
    ]
    hidden, inputs = alpha.shape
    for j in range(hidden):
        rows.append(
            ModuleRow(e, "linear b = Σ_j β_j z_j", "b", b, f"beta[{j}]", z[j], grad_b, grad_beta[j])
        )
    for j in range(hidden):
        rows.append(
            ModuleRow(e, "linear b = Σ_j β_j z_j", "b", b, f"z[{j}]", beta[j], grad_b, grad_z[j])
        )
    for j in range(hidden):
        rows.append(
            ModuleRow(
                e,
                "sigmoid z_j = σ(a_j)",
                f"z[{j}]",
                z[j],
                f"a[{j}]",
                z[j] * (1 - z[j]),
                grad_z[j],
                grad_a[j],
            )
        )
    for j in range(hidden):
        for i in range(inputs):
            rows.append(
                ModuleRow(
                    e,
                    "linear a_j = Σ_i α_ji x_i",
                    f"a[{j}]",
                    a[j],
                    f"alpha[{j},{i}]",
                    x[i],
                    grad_a[j],
                    grad_alpha[j, i],
                )
            )
    for i in range(inputs):
        # x_i feeds every a_j: the local derivatives α_·i and the upstream ∂L/∂a are vectors
        rows.append(
            ModuleRow(
                e, "linear a_j = Σ_i α_ji x_i", "a", a, f"x[{i}]", alpha[:, i], grad_a, grad_x[i]
            )
        )
    return L, rows


def network_notes(alpha: np.ndarray, beta: np.ndarray, x: np.ndarray, t: float) -> dict:
    """The notes' backward formulas, as printed: δ_b, ∂L/∂β, δ_a, ∂L/∂α."""
    z = _sigma(alpha @ x)
    y = _sigma(beta @ z)
    delta_b = (y - t) * y * (1 - y)
    delta_a = delta_b * beta * z * (1 - z)
    return {"b": delta_b, "beta": delta_b * z, "a": delta_a, "alpha": np.outer(delta_a, x)}


def network_jaxdl_grads(
    alpha: np.ndarray, beta: np.ndarray, x: np.ndarray, t: float
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """``L`` and ``jax.grad``'s ``∂L/∂α``, ``∂L/∂β``, ``∂L/∂x`` for the jaxdl network."""
    hidden, _ = alpha.shape
    model = nn.Sequential(
        [
            nn.Dense(hidden, use_bias=False),
            activations.sigmoid,
            nn.Dense(1, use_bias=False),
            activations.sigmoid,
        ]
    )
    x32 = jnp.asarray(x[None, :], jnp.float32)
    params, state = model.init(jax.random.key(0), x32)
    params["0"]["w"] = jnp.asarray(alpha.T, jnp.float32)
    params["2"]["w"] = jnp.asarray(beta[:, None], jnp.float32)

    def loss(params, inputs):
        y, _ = model.apply(params, state, inputs)
        return losses.half_sse(y[:, 0], jnp.asarray([t], jnp.float32))

    value = float(loss(params, x32))
    grad_params, grad_x = jax.grad(loss, argnums=(0, 1))(params, x32)
    return (
        value,
        np.asarray(grad_params["0"]["w"]).T,
        np.asarray(grad_params["2"]["w"])[:, 0],
        np.asarray(grad_x)[0],
    )


def network_jax(leaves: dict, taps: dict) -> jax.Array:
    a = leaves["alpha"] @ leaves["x"] + taps["a"]
    z = activations.sigmoid(a) + taps["z"]
    b = leaves["beta"] @ z + taps["b"]
    y = activations.sigmoid(b) + taps["y"]
    return 0.5 * (y - leaves["t"]) ** 2


# --- checking ------------------------------------------------------------------------------


def jax_gradients(
    function: Callable[[dict, dict], jax.Array], leaves: dict, tap_shapes: dict
) -> tuple[float, dict, dict]:
    """``function``'s value and ``jax.grad`` with respect to its inputs and its taps (the
    intermediate values), in float32."""
    leaves = {name: jnp.asarray(value, jnp.float32) for name, value in leaves.items()}
    taps = {name: jnp.zeros(shape, jnp.float32) for name, shape in tap_shapes.items()}
    value = function(leaves, taps)
    grad_leaves, grad_taps = jax.grad(function, argnums=(0, 1))(leaves, taps)
    return float(value), jax.device_get(grad_leaves), jax.device_get(grad_taps)


def run_examples(config: Config) -> tuple[list[ModuleRow], list[Check], dict]:
    """Every example by hand and by ``jax.grad``: the module rows, the checks, and the
    forward values (hand and JAX) for the record."""
    rows: list[ModuleRow] = []
    checks: list[Check] = []
    values = {}

    # 1. (x + y)·z at the notes' point; the notes' numbers as the reference.
    x, y, z = config.sum_times_point
    f, mine = sum_times_hand(x, y, z)
    value, g, taps = jax_gradients(sum_times_jax, {"x": x, "y": y, "z": z}, {"q": ()})
    notes = (
        {"x": -4.0, "y": -4.0, "z": 3.0, "q": -4.0}
        if config.sum_times_point == (-2.0, 5.0, -4.0)
        else {}
    )
    hand = {row.input: row.gradient for row in mine}
    for name in ("x", "y", "z", "q"):
        checks.append(
            Check(
                "sum_times", "f", name, hand[name], float((g | taps)[name]), notes.get(name, np.nan)
            )
        )
    values["sum_times"] = (f, value, -12.0 if notes else np.nan)
    rows += mine

    # 2. J = cos(sin(x²) + 3x²); the notes' closed form as the reference.
    x = config.cos_of_sum_x
    J, mine = cos_of_sum_hand(x)
    value, g, taps = jax_gradients(cos_of_sum_jax, {"x": x}, dict.fromkeys("abcs", ()))
    by_input = {row.input: row.gradient for row in mine}
    hand = {
        "x": by_input["x"],
        "s": by_input["s"],
        "b": by_input["b"],
        "c": by_input["c"],
        "a": by_input["a (path via b)"] + by_input["a (path via c)"],
    }
    for name in ("x", "a", "b", "c", "s"):
        reference = cos_of_sum_closed_form(x) if name == "x" else np.nan
        checks.append(
            Check(
                "cos_of_sum",
                "J",
                name,
                float(hand[name]),
                float((g | taps)[name]),
                float(reference),
            )
        )
    values["cos_of_sum"] = (float(J), value, np.nan)
    rows += mine

    # 3. The sigmoid network; the notes' δ formulas as the reference; jax.grad twice: on
    # the jaxdl network (weights and input) and on the tapped function (intermediates).
    alpha, beta, x, t = network_problem(config)
    L, mine = network_hand(alpha, beta, x, t)
    hidden, inputs = alpha.shape
    value, g_alpha, g_beta, g_x = network_jaxdl_grads(alpha, beta, x, t)
    _, _, taps = jax_gradients(
        network_jax,
        {"alpha": alpha, "beta": beta, "x": x, "t": t},
        {"a": (hidden,), "z": (hidden,), "b": (), "y": ()},
    )
    notes = network_notes(alpha, beta, x, t)
    hand = {row.input: row.gradient for row in mine}
    e = "sigmoid_network"
    for j in range(hidden):
        for i in range(inputs):
            checks.append(
                Check(
                    e,
                    "L",
                    f"alpha[{j},{i}]",
                    hand[f"alpha[{j},{i}]"],
                    float(g_alpha[j, i]),
                    float(notes["alpha"][j, i]),
                )
            )
    for j in range(hidden):
        checks.append(
            Check(
                e, "L", f"beta[{j}]", hand[f"beta[{j}]"], float(g_beta[j]), float(notes["beta"][j])
            )
        )
    for i in range(inputs):
        checks.append(Check(e, "L", f"x[{i}]", hand[f"x[{i}]"], float(g_x[i]), np.nan))
    for j in range(hidden):
        checks.append(
            Check(e, "L", f"a[{j}]", hand[f"a[{j}]"], float(taps["a"][j]), float(notes["a"][j]))
        )
    for j in range(hidden):
        checks.append(Check(e, "L", f"z[{j}]", hand[f"z[{j}]"], float(taps["z"][j]), np.nan))
    checks.append(Check(e, "L", "b", hand["b"], float(taps["b"]), float(notes["b"])))
    checks.append(Check(e, "L", "y", hand["y"], float(taps["y"]), np.nan))
    values[e] = (float(L), value, np.nan)
    rows += mine
    return rows, checks, values


def curve(config: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``dJ/dx`` on a grid: by hand (vectorised module by module), by
    ``jax.vmap(jax.grad)`` in float32, and by the closed form; and the points."""
    x = np.linspace(-config.curve_range, config.curve_range, config.curve_points)
    x = x.astype(np.float32).astype(np.float64)
    _, rows = cos_of_sum_hand(x)
    hand = rows[-1].gradient

    def J(v):
        return cos_of_sum_jax({"x": v}, dict.fromkeys("abcs", 0.0))

    jax_values = np.asarray(jax.vmap(jax.grad(J))(jnp.asarray(x, jnp.float32)), np.float64)
    return x, hand, jax_values, cos_of_sum_closed_form(x)


def agrees(hand: float, other: float) -> bool:
    """Equal to float32 tolerance: ``|hand − other| ≤ ATOL + RTOL·|hand|``.

    >>> agrees(-4.0, -4.0000001), agrees(1.0, 1.001)
    (True, False)
    """
    return bool(abs(hand - other) <= ATOL + RTOL * abs(hand))


# --- tables ----------------------------------------------------------------------------------


def _number(value) -> str:
    if np.ndim(value):
        return "(" + ", ".join(f"{v:.6g}" for v in np.asarray(value)) + ")"
    return f"{float(value):.6g}"


def _csv_number(value) -> str:
    if np.ndim(value):
        return " ".join(f"{v:.9g}" for v in np.asarray(value))
    return f"{float(value):.9g}"


def _markdown(
    rows: Sequence[ModuleRow],
    checks: Sequence[Check],
    values: dict,
    config: Config,
    curve_error: tuple[float, float],
) -> str:
    lines = ["# Backpropagation by hand vs jax.grad", ""]
    setting = {
        "sum_times": f"at (x, y, z) = {config.sum_times_point}",
        "cos_of_sum": f"at x = {config.cos_of_sum_x:g}",
        "sigmoid_network": (
            f"{config.network_shape[1]} inputs, {config.network_shape[0]} "
            f"hidden units, α, β, x from numpy seed {config.network_seed}, "
            f"t = {config.network_target:g}"
        ),
    }
    for e in EXAMPLES:
        hand, jax_value, reference = values[e]
        ref = "" if np.isnan(reference) else f", the notes: {reference:.6g}"
        lines += [
            f"## {TITLES[e]} — {setting[e]}",
            "",
            f"Forward value: by hand {hand:.7g}, JAX (float32) {jax_value:.7g}{ref}.",
            "",
            "Backward, module by module from the output down: gradient = local derivative × "
            "upstream gradient (a dot product where the input feeds several outputs).",
            "",
            "| module | output | forward value | input | local derivative ∂out/∂in "
            "| upstream ∂/∂out | gradient ∂/∂in |",
            "|---|---|---:|---|---:|---:|---:|",
        ]
        for r in (r for r in rows if r.example == e):
            lines.append(
                f"| {r.module} | {r.output} | {_number(r.forward)} | {r.input} "
                f"| {_number(r.local)} | {_number(r.upstream)} "
                f"| {_number(r.gradient)} |"
            )
        lines.append("")
    lines += [
        "## Gradient check: hand (float64) vs jax.grad (float32) vs the notes",
        "",
        f"Agree: |hand − jax.grad| ≤ {ATOL:g} + {RTOL:g}·|hand|. Notes: the value the course "
        "notes give (example 1), their closed form (example 2) or their backward formulas "
        "(example 3); — where they give none.",
        "",
        "| example | gradient | hand | jax.grad | notes | abs. difference hand − jax.grad "
        "| agree |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for c in checks:
        notes = "—" if np.isnan(c.reference) else f"{c.reference:.7g}"
        lines.append(
            f"| {c.example} | ∂{c.of}/∂{c.wrt} | {c.hand:.7g} | {c.jax:.7g} | {notes} "
            f"| {abs(c.hand - c.jax):.1e} | {'yes' if agrees(c.hand, c.jax) else 'NO'} |"
        )
    max_jax, max_closed = curve_error
    lines += [
        "",
        f"dJ/dx on {config.curve_points} points of [−{config.curve_range:g}, "
        f"{config.curve_range:g}]: max |hand − jax.grad| = {max_jax:.1e}, max |hand − closed "
        f"form| = {max_closed:.1e}.",
    ]
    return "\n".join(lines) + "\n"


def _write_checks_csv(path: Path, checks: Sequence[Check]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["example", "of", "wrt", "hand", "jax_grad", "reference", "abs_diff", "agree"]
        )
        for c in checks:
            writer.writerow(
                [
                    c.example,
                    c.of,
                    c.wrt,
                    f"{c.hand:.9g}",
                    f"{c.jax:.9g}",
                    "" if np.isnan(c.reference) else f"{c.reference:.9g}",
                    f"{abs(c.hand - c.jax):.3g}",
                    int(agrees(c.hand, c.jax)),
                ]
            )


def _write_modules_csv(path: Path, rows: Sequence[ModuleRow]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["example", "module", "output", "forward", "input", "local", "upstream", "gradient"]
        )
        for r in rows:
            writer.writerow(
                [
                    r.example,
                    r.module,
                    r.output,
                    _csv_number(r.forward),
                    r.input,
                    _csv_number(r.local),
                    _csv_number(r.upstream),
                    _csv_number(r.gradient),
                ]
            )


# --- figures ---------------------------------------------------------------------------------


def _node(ax, xy, name, forward, gradient, wrt, offset=0.42):
    ax.annotate(
        f"{name}\n= {_fmt(forward)}",
        xy,
        ha="center",
        va="center",
        fontsize=8,
        bbox=dict(boxstyle="round", fc="#eaf4ea", ec="#3a7d3a"),
        zorder=3,
    )
    ax.annotate(
        f"∂{wrt}/∂{name.split(' ')[0]} = {_fmt(gradient)}",
        (xy[0], xy[1] - offset),
        ha="center",
        va="center",
        fontsize=7,
        color="#b22222",
        zorder=3,
        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9),
    )


def _fmt(value: float) -> str:
    return f"{float(value):.3g}"


def _edges(ax, positions, edges):
    for start, end in edges:
        ax.annotate(
            "",
            positions[end],
            positions[start],
            arrowprops=dict(arrowstyle="->", color="grey", shrinkA=22, shrinkB=22),
        )


def _plot_graphs(
    path: Path, rows: Sequence[ModuleRow], checks: Sequence[Check], values: dict, config: Config
) -> None:
    """The three computation graphs: each node with its forward value (green) and the
    gradient of the output with respect to it (red), from the hand computation."""
    grad = {(c.example, c.wrt): c.hand for c in checks}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1, 1.4, 1.3]})

    ax = axes[0]
    x, y, z = config.sum_times_point
    pos = {"x": (0, 2), "y": (0, 1), "z": (0, 0), "q": (1.2, 1.5), "f": (2.4, 0.75)}
    _edges(ax, pos, [("x", "q"), ("y", "q"), ("q", "f"), ("z", "f")])
    forward = {"x": x, "y": y, "z": z, "q": x + y, "f": values["sum_times"][0]}
    for name, xy in pos.items():
        gradient = 1.0 if name == "f" else grad["sum_times", name]
        label = {"q": "q (x + y)", "f": "f (q·z)"}.get(name, name)
        _node(ax, xy, label, forward[name], gradient, "f")
    ax.set(xlim=(-0.5, 2.9), ylim=(-0.7, 2.5), title=TITLES["sum_times"])

    ax = axes[1]
    x = config.cos_of_sum_x
    a = x**2
    forward = {
        "x": x,
        "a": a,
        "b": np.sin(a),
        "c": 3 * a,
        "s": np.sin(a) + 3 * a,
        "J": values["cos_of_sum"][0],
    }
    pos = {
        "x": (0, 0.5),
        "a": (1, 0.5),
        "b": (2, 1.3),
        "c": (2, -0.3),
        "s": (3, 0.5),
        "J": (4, 0.5),
    }
    labels = {"a": "a (x²)", "b": "b (sin a)", "c": "c (3a)", "s": "s (b + c)", "J": "J (cos s)"}
    _edges(ax, pos, [("x", "a"), ("a", "b"), ("a", "c"), ("b", "s"), ("c", "s"), ("s", "J")])
    for name, xy in pos.items():
        gradient = 1.0 if name == "J" else grad["cos_of_sum", name]
        _node(ax, xy, labels.get(name, name), forward[name], gradient, "J")
    ax.set(xlim=(-0.5, 4.5), ylim=(-1.0, 2.0), title=f"{TITLES['cos_of_sum']} at x = {x:g}")

    ax = axes[2]
    alpha, beta, xv, t = network_problem(config)
    hidden, inputs = alpha.shape
    z = _sigma(alpha @ xv)
    yv = _sigma(beta @ z)
    pos = {f"x{i}": (0, 1.5 * (i - (inputs - 1) / 2) * -1) for i in range(inputs)}
    pos |= {f"z{j}": (1.4, 1.5 * (j - (hidden - 1) / 2) * -1) for j in range(hidden)}
    pos |= {"y": (2.8, 0.0), "L": (4.0, 0.0)}
    edges = [(f"x{i}", f"z{j}") for i in range(inputs) for j in range(hidden)]
    edges += [(f"z{j}", "y") for j in range(hidden)] + [("y", "L")]
    _edges(ax, pos, edges)
    e = "sigmoid_network"
    for i in range(inputs):
        _node(ax, pos[f"x{i}"], f"x{i}", xv[i], grad[e, f"x[{i}]"], "L", offset=0.55)
    for j in range(hidden):
        _node(ax, pos[f"z{j}"], f"z{j} (σ(a{j}))", z[j], grad[e, f"z[{j}]"], "L", offset=0.55)
    _node(ax, pos["y"], "y (σ(b))", yv, grad[e, "y"], "L", offset=0.55)
    _node(ax, pos["L"], "L (½(y − t)²)", values[e][0], 1.0, "L", offset=0.55)
    ax.set(
        xlim=(-0.6, 4.6),
        ylim=(-3.2, 3.0),
        title=f"sigmoid network, t = {t:g} (weights: seed {config.network_seed})",
    )
    for ax in axes:
        ax.axis("off")
    fig.suptitle(
        "Computation graphs: forward value (green box), gradient of the output with "
        "respect to each node (red), by the hand backward pass",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plot_gradients(path: Path, checks: Sequence[Check], points: tuple) -> None:
    """Hand vs jax.grad: bars for examples 1 and 3, the dJ/dx curve for example 2."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), gridspec_kw={"width_ratios": [0.6, 1, 1.8]})
    for ax, e in zip((axes[0], axes[2]), ("sum_times", "sigmoid_network")):
        mine = [c for c in checks if c.example == e]
        at = np.arange(len(mine))
        ax.bar(at - 0.2, [c.hand for c in mine], 0.4, label="by hand", color="#4c72b0")
        ax.bar(at + 0.2, [c.jax for c in mine], 0.4, label="jax.grad", color="#dd8452")
        ax.set_xticks(at, [f"∂{c.of}/∂{c.wrt}" for c in mine], rotation=70, fontsize=7)
        ax.axhline(0, color="black", lw=0.6)
        worst = max(abs(c.hand - c.jax) for c in mine)
        ax.set_title(f"{TITLES[e]}\nmax |hand − jax.grad| = {worst:.1e}", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, axis="y")
    # The weight gradients span 3e-4 … 0.4: a symmetric log axis shows them all.
    axes[2].set_yscale("symlog", linthresh=1e-4)
    axes[2].set_ylabel("gradient (symlog axis, linear within ±1e-4)", fontsize=8)
    ax = axes[1]
    x, hand, jax_values, closed = points
    ax.plot(x, hand, color="#4c72b0", lw=2, label="by hand (module by module)")
    ax.plot(x, closed, color="black", lw=0.8, ls="--", label="notes' closed form")
    every = max(1, len(x) // 40)
    ax.plot(x[::every], jax_values[::every], "o", ms=3, color="#dd8452", label="jax.grad")
    ax.set(xlabel="x", ylabel="dJ/dx")
    ax.set_title(
        f"{TITLES['cos_of_sum']}\nmax |hand − jax.grad| = "
        f"{np.max(np.abs(hand - jax_values)):.1e} over {len(x)} points",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# --- command line ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK.curve_points} points on the dJ/dx curve instead of {DEFAULT.curve_points}",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: results/ beside this file)"
    )
    parser.add_argument(
        "--points",
        type=int,
        default=None,
        help=f"points on the dJ/dx curve, ≥ 2 (default {DEFAULT.curve_points})",
    )
    args = parser.parse_args(argv)
    if args.points is not None and args.points < 2:
        parser.error(f"--points must be ≥ 2, got {args.points}")
    config = QUICK if args.quick else DEFAULT
    if args.points is not None:
        config = dataclasses.replace(config, curve_points=args.points)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)

    rows, checks, values = run_examples(config)
    points = curve(config)
    _, hand, jax_values, closed = points
    curve_error = (float(np.max(np.abs(hand - jax_values))), float(np.max(np.abs(hand - closed))))
    table = _markdown(rows, checks, values, config, curve_error)
    (out / "table.md").write_text(table)
    _write_checks_csv(out / "table.csv", checks)
    _write_modules_csv(out / "modules.csv", rows)
    _plot_graphs(out / "graphs.png", rows, checks, values, config)
    _plot_gradients(out / "gradients.png", checks, points)
    print(table)
    failed = [
        c
        for c in checks
        if not agrees(c.hand, c.jax) or not (np.isnan(c.reference) or agrees(c.hand, c.reference))
    ]
    if failed:
        print(f"{len(failed)} gradients disagree: {failed}", file=sys.stderr)
        return 1
    print(f"all {len(checks)} hand gradients equal jax.grad's and the notes'; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

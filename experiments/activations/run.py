"""Every activation of ``jaxdl.activations`` and its derivative, with its saturation regions.

The claim (docs/concepts.md §3, §6): saturating activations (sigmoid, tanh) pass almost no
gradient once ``|z|`` is large, and the sigmoid's derivative is at most 1/4 — the root of
vanishing gradients; ReLU does not saturate for ``z > 0`` but passes nothing for
``z < 0``; leaky ReLU, ELU and SELU keep a slope there; tanh is zero-centred and the
sigmoid is not.

Method: each function in ``activations.__all__`` is evaluated on a grid of ``[-10, 10]``
in float32 and differentiated by ``jax.vmap(jax.grad(f))``. The three that are not
element-wise are shown along one input:

- ``softmax`` and ``log_softmax``: the first output of the 2-class function of the logits
  ``(z, 0)``, i.e. ``softmax([z, 0])[0] = σ(z)`` (the 2-class softmax is the sigmoid);
  the derivative plotted is the diagonal Jacobian entry ``∂p_0/∂z_0``.
- ``maxout``: the maximum of three fixed affine pieces of ``z``,
  ``maxout([−z/2 − 1/2, 0, z − 1], num_pieces=3)``, a convex piecewise-linear unit (in a
  network the pieces are learned).

Saturation: with ``M = max |f'|`` over the grid, ``f`` is *saturated* at ``z`` where
``|f'(z)| < 0.05·M`` (everywhere if ``M = 0``); the *non-saturated width* is the length of
the rest of ``[-10, 10]``. *Zero-centred*: ``f`` is odd, ``f(−z) = −f(z)`` on the grid;
``E f(Z)`` for ``Z ~ N(0, 1)`` says how far from zero a unit's mean output sits when its
input is standard normal.

Usage::

    python experiments/activations/run.py
    python experiments/activations/run.py --quick --out DIR   # a 10× coarser grid
    python experiments/activations/run.py --points 200001        # a 10× finer grid

Writes ``table.md``, ``table.csv`` and ``activations.png`` (one panel per activation:
``f``, ``f'`` and the saturated regions shaded) to ``--out`` (default ``results/`` beside
this file) and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import activations

HERE = Path(__file__).resolve().parent
SATURATION = 0.05  # saturated where |f'| < SATURATION · max |f'|
MAX_TOLERANCE = 1e-5  # |f'| within this fraction of its maximum counts as the maximum
POINT_WIDTH = 0.05  # a run of maximal points narrower than this is reported as one point


def _maxout_pieces(z: jax.Array) -> jax.Array:
    return activations.maxout(
        jnp.stack([-0.5 * z - 0.5, jnp.zeros_like(z), z - 1]), num_pieces=3, axis=0
    )[0]


# The functions that are not element-wise, as scalar functions of one input: (function,
# how it is plotted).
VECTOR_VIEWS: dict[str, tuple[Callable, str]] = {
    "softmax": (
        lambda z: activations.softmax(jnp.stack([z, jnp.zeros_like(z)]))[0],
        "softmax([z, 0])[0]",
    ),
    "log_softmax": (
        lambda z: activations.log_softmax(jnp.stack([z, jnp.zeros_like(z)]))[0],
        "log_softmax([z, 0])[0]",
    ),
    "maxout": (_maxout_pieces, "maxout([−z/2 − 1/2, 0, z − 1], 3)"),
}

# The range of each function (of the plotted view, for the vector ones), from its formula.
RANGES: dict[str, tuple[str, float, float]] = {
    "elu": ("(−1, ∞)", -1.0, math.inf),
    "gelu": ("[−0.170, ∞)", -0.17, math.inf),
    "identity": ("(−∞, ∞)", -math.inf, math.inf),
    "leaky_relu": ("(−∞, ∞)", -math.inf, math.inf),
    "log_softmax": ("(−∞, 0)", -math.inf, 0.0),
    "maxout": ("[0, ∞)", 0.0, math.inf),
    "rbf": ("(0, 1]", 0.0, 1.0),
    "relu": ("[0, ∞)", 0.0, math.inf),
    "selu": ("(−1.758, ∞)", -1.7581, math.inf),
    "sigmoid": ("(0, 1)", 0.0, 1.0),
    "softmax": ("(0, 1)", 0.0, 1.0),
    "softplus": ("(0, ∞)", 0.0, math.inf),
    "softsign": ("(−1, 1)", -1.0, 1.0),
    "step": ("{0, 1}", 0.0, 1.0),
    "swish": ("[−0.278, ∞)", -0.2785, math.inf),
    "tanh": ("(−1, 1)", -1.0, 1.0),
}


@dataclasses.dataclass(frozen=True)
class Config:
    """The grid the functions are measured on."""

    limit: float  # the grid spans [-limit, limit]
    points: int  # odd, so that z = 0 is the middle point


DEFAULT = Config(limit=10.0, points=20001)  # spacing 0.001
QUICK = Config(limit=10.0, points=2001)  # spacing 0.01


@dataclasses.dataclass
class Profile:
    """One activation on the grid, and the numbers of the table."""

    name: str
    plotted_as: str
    z: np.ndarray
    f: np.ndarray
    df: np.ndarray
    f_at_0: float
    df_at_0: float
    max_df: float
    where_max: str
    saturated: np.ndarray  # bool, per grid point
    width: float  # non-saturated length of the grid's interval
    odd: bool
    normal_mean: float  # E f(Z), Z ~ N(0, 1)

    @property
    def minimum(self) -> float:
        return float(self.f.min())

    @property
    def maximum(self) -> float:
        return float(self.f.max())


def scalar_function(name: str) -> tuple[Callable, str]:
    """``name``'s function of one scalar input, and how it is plotted."""
    if name in VECTOR_VIEWS:
        return VECTOR_VIEWS[name]
    return getattr(activations, name), "f(z)"


def grid(config: Config) -> np.ndarray:
    """The evaluation points, ``config.points`` (odd) evenly spaced over ``[-limit, limit]``,
    symmetric about an exact 0 in the middle.

    >>> grid(Config(limit=1.0, points=5)).tolist()
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    """
    if config.points < 3 or config.points % 2 == 0:
        raise ValueError(f"grid: points must be odd and ≥ 3, got {config.points}.")
    half = np.linspace(0.0, config.limit, (config.points + 1) // 2)
    return np.concatenate([-half[:0:-1], half]).astype(np.float32)


def measure(z: np.ndarray, mask: np.ndarray) -> float:
    """The length of the part of ``[z[0], z[-1]]`` where ``mask`` holds, by the trapezoid
    rule on the evenly spaced grid ``z`` (each point stands for the cell around it, the
    end points for half a cell).

    >>> measure(np.linspace(-1, 1, 5), np.array([False, True, True, True, False]))
    1.5
    >>> measure(np.linspace(-1, 1, 5), np.ones(5, bool))
    2.0
    """
    weights = np.full(len(z), (z[-1] - z[0]) / (len(z) - 1), np.float64)
    weights[[0, -1]] /= 2
    return float(np.sum(weights[mask]))


def saturated(df: np.ndarray) -> np.ndarray:
    """Where ``|f'| < SATURATION · max |f'|``; everywhere if ``f'`` is 0 everywhere.

    >>> saturated(np.array([0.0, 0.01, 0.5, 1.0, -0.04])).tolist()
    [True, True, False, False, True]
    """
    size = np.abs(df)
    top = size.max()
    if top == 0:
        return np.ones(len(df), bool)
    return size < SATURATION * top


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The ``(first, last)`` indices of each run of True in ``mask``.

    >>> runs(np.array([True, False, True, True, False, True]))
    [(0, 0), (2, 3), (5, 5)]
    """
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(int(first), int(last)) for first, last in zip(starts, ends)]


def where_maximum(z: np.ndarray, df: np.ndarray) -> str:
    """Where ``|f'|`` reaches its maximum on the grid: points (a narrow run, by its middle)
    and intervals, "(edge)" where a run touches the end of the grid (the supremum is
    approached beyond it).

    >>> z = np.linspace(-2, 2, 401)
    >>> where_maximum(z, np.where(z > 0, 1.0, 0.5))
    '[0.01, 2] (edge)'
    >>> where_maximum(z, 1 / (1 + z**2))
    'z = 0'
    """
    size = np.abs(df)
    top = size.max()
    if top == 0:
        return "everywhere (f' = 0)"
    parts = []
    for first, last in runs(size >= top * (1 - MAX_TOLERANCE)):
        edge = " (edge)" if first == 0 or last == len(z) - 1 else ""
        if z[last] - z[first] <= POINT_WIDTH and not edge:
            parts.append(f"z = {_g((z[first] + z[last]) / 2)}")
        elif first == 0 and last == len(z) - 1:
            parts.append("everywhere")
        else:
            parts.append(f"[{_g(z[first])}, {_g(z[last])}]{edge}")
    return " and ".join(parts)


def _g(value: float) -> str:
    value = float(value)
    text = f"{value:.3g}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"
    return "0" if text in ("-0", "0.00") else text


def normal_mean(z: np.ndarray, f: np.ndarray) -> float:
    """``E f(Z)`` for ``Z ~ N(0, 1)``: the trapezoid rule over the grid (the Gaussian tail
    beyond ``|z| = 10`` weighs less than 1e-22).

    >>> z = np.linspace(-10, 10, 2001)
    >>> round(normal_mean(z, np.maximum(z, 0)), 4)  # E max(Z, 0) = 1/√(2π)
    0.3989
    """
    density = np.exp(-0.5 * z.astype(np.float64) ** 2) / math.sqrt(2 * math.pi)
    return float(np.trapezoid(f.astype(np.float64) * density, z.astype(np.float64)))


def profile(name: str, config: Config) -> Profile:
    """``name`` on the grid: values, ``jax.grad`` derivative and the table's numbers."""
    function, plotted_as = scalar_function(name)
    z = grid(config)
    values, slopes = jax.jit(jax.vmap(jax.value_and_grad(function)))(jnp.asarray(z))
    f, df = np.asarray(values, np.float64), np.asarray(slopes, np.float64)
    mask = saturated(df)
    middle = len(z) // 2  # z[middle] == 0 exactly
    scale = max(np.abs(f).max(), 1.0)
    return Profile(
        name=name,
        plotted_as=plotted_as,
        z=z,
        f=f,
        df=df,
        f_at_0=float(f[middle]),
        df_at_0=float(df[middle]),
        max_df=float(np.abs(df).max()),
        where_max=where_maximum(z, df),
        saturated=mask,
        width=measure(z, ~mask),
        odd=bool(np.max(np.abs(f + f[::-1])) <= 1e-6 * scale),
        normal_mean=normal_mean(z, f),
    )


# --- tables ----------------------------------------------------------------------------------


COLUMNS = [
    "activation",
    "plotted_as",
    "range",
    "min",
    "max",
    "f_at_0",
    "df_at_0",
    "max_abs_df",
    "where_max_abs_df",
    "non_saturated_width",
    "saturated_width",
    "zero_centred",
    "normal_mean",
]


def _num(value: float, spec: str) -> str:
    """``value`` formatted by ``spec``, without the sign of a value that rounds to zero.

    >>> _num(-1e-9, ".4f"), _num(-0.0, ".4g"), _num(-0.25, ".4g")
    ('0.0000', '0', '-0.25')
    """
    text = f"{value:{spec}}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _row(p: Profile, config: Config) -> list[str]:
    return [
        p.name,
        p.plotted_as,
        RANGES[p.name][0],
        _num(p.minimum, ".6g"),
        _num(p.maximum, ".6g"),
        _num(p.f_at_0, ".6g"),
        _num(p.df_at_0, ".6g"),
        _num(p.max_df, ".6g"),
        p.where_max,
        f"{p.width:.3f}",
        f"{2 * config.limit - p.width:.3f}",
        "yes" if p.odd else "no",
        _num(p.normal_mean, ".4f"),
    ]


def _markdown(profiles: Sequence[Profile], config: Config) -> str:
    spacing = 2 * config.limit / (config.points - 1)
    lines = [
        f"# Activations of jaxdl.activations on [−{config.limit:g}, {config.limit:g}]",
        "",
        f"Float32, {config.points:,} points (spacing {spacing:g}); f' by "
        f"jax.vmap(jax.grad(f)). Saturated: |f'| < {SATURATION:g}·max|f'| (everywhere if "
        "f' = 0). Non-saturated width: the length of the rest of the interval. Zero-centred: "
        "f odd, f(−z) = −f(z). E f(Z): the mean output for a standard normal input. The "
        "range is the formula's, over all z; min and max are on the grid. Softmax and "
        "log-softmax: the first output of the 2-class function of the logits (z, 0); maxout: "
        "three fixed affine pieces.",
        "",
        "| activation | plotted as | range | min, max on grid | f(0) | f'(0) (jax.grad) "
        "| max abs f' | where | non-saturated width | zero-centred | E f(Z), Z ~ N(0,1) |",
        "|---|---|---|---|---:|---:|---:|---|---:|---|---:|",
    ]
    for p in profiles:
        lines.append(
            f"| {p.name} | {p.plotted_as} | {RANGES[p.name][0]} | {p.minimum:.4g}, "
            f"{p.maximum:.4g} | {_num(p.f_at_0, '.4g')} | {_num(p.df_at_0, '.4g')} "
            f"| {p.max_df:.4g} "
            f"| {p.where_max} | {p.width:.2f} | {'yes' if p.odd else 'no'} "
            f"| {_num(p.normal_mean, '.4f')} |"
        )
    return "\n".join(lines) + "\n"


def _write_csv(path: Path, profiles: Sequence[Profile], config: Config) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for p in profiles:
            writer.writerow(_row(p, config))


# --- figure ----------------------------------------------------------------------------------


def _plot(path: Path, profiles: Sequence[Profile], config: Config) -> None:
    """One panel per activation: f (blue, left axis), f' (orange, right axis), the
    saturated regions shaded grey."""
    columns = 4
    rows = math.ceil(len(profiles) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.5 * rows), squeeze=False)
    for ax, p in zip(axes.flat, profiles):
        for first, last in runs(p.saturated):
            ax.axvspan(p.z[first], p.z[last], color="#bbbbbb", alpha=0.45, lw=0)
        ax.plot(p.z, p.f, color="#1f5fa0", lw=1.6)
        ax.axhline(0, color="black", lw=0.4)
        ax.tick_params(axis="y", colors="#1f5fa0", labelsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlim(-config.limit, config.limit)
        slope = ax.twinx()
        slope.plot(p.z, p.df, color="#dd8452", lw=1.2, ls="--")
        slope.tick_params(axis="y", colors="#dd8452", labelsize=7)
        low, high = min(p.df.min(), 0.0), max(p.df.max(), 0.0, 1e-3)
        pad = 0.06 * (high - low) if p.max_df > 0 else 0.1
        slope.set_ylim(low - pad, high + pad)  # keep f' = 0 in view
        title = p.name if p.plotted_as == "f(z)" else f"{p.name}: {p.plotted_as}"
        ax.set_title(
            f"{title}\nnon-saturated width {p.width:.2f}, max|f'| {p.max_df:.3g}", fontsize=8
        )
        ax.grid(alpha=0.25)
    for ax in list(axes.flat)[len(profiles) :]:
        ax.axis("off")
    fig.suptitle(
        f"jaxdl.activations: f (blue, left axis) and f' = jax.grad (orange dashed, "
        f"right axis); grey: saturated, |f'| < {SATURATION:g}·max|f'| on "
        f"[−{config.limit:g}, {config.limit:g}]",
        fontsize=9,
    )
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
        help=f"{QUICK.points:,} grid points instead of {DEFAULT.points:,}",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: results/ beside this file)"
    )
    parser.add_argument(
        "--points",
        type=int,
        default=None,
        help=f"grid points, odd so that z = 0 is one of them (default "
        f"{DEFAULT.points:,}, quick {QUICK.points:,})",
    )
    args = parser.parse_args(argv)
    if args.points is not None and (args.points < 3 or args.points % 2 == 0):
        parser.error(
            f"--points must be odd and ≥ 3 (so that z = 0 is a grid point), got {args.points}"
        )
    config = QUICK if args.quick else DEFAULT
    if args.points is not None:
        config = dataclasses.replace(config, points=args.points)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)

    missing = sorted(set(activations.__all__) - set(RANGES))
    if missing:
        print(f"no range recorded for {missing}: add them to RANGES", file=sys.stderr)
        return 1
    profiles = [profile(name, config) for name in activations.__all__]
    table = _markdown(profiles, config)
    (out / "table.md").write_text(table)
    _write_csv(out / "table.csv", profiles, config)
    _plot(out / "activations.png", profiles, config)
    print(table)
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

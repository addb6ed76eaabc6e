"""The perceptron learns AND and OR but not XOR; one hidden layer solves XOR.

The claim (docs/concepts.md §1–§2): a threshold logic unit is a linear classifier. Trained
by the perceptron learning rule from zero weights, it learns Boolean AND (threshold 1.5)
and OR (threshold 1) in two passes, ending at ``w = (1, 1)`` both times; on XOR, whose two
classes no straight line separates, the rule never converges — it cycles through the same
weights for ever. A multi-layer network with one hidden layer, trained by gradient
descent, represents XOR.

Method:

- The perceptron traces are printed step by step, sample by sample, as in the course
  notes: each step is one call of ``jaxdl.perceptron.train`` on a single sample with
  ``max_passes=1`` from the current weights (so the rule applied is the library's), with
  ``jaxdl.perceptron.predict`` giving the output seen before the update. The traces are
  checked against one full ``perceptron.train`` run (same final weights and per-pass
  errors). XOR is trained with several thresholds and with a bias input (a constant 1
  appended, threshold 0, so the threshold is learned too); the weights after each pass
  are followed until they repeat, which proves the rule is in a cycle.
- The MLP is ``jaxdl.models.mlp(num_classes=2, hidden=(width,))`` with a sigmoid or tanh
  hidden layer, trained full-batch on the four points by Adam on the softmax
  cross-entropy, every seed of one network vmapped into one compiled ``lax.scan`` over
  the steps (a hand loop with ``jaxdl.optim``). A seed *solves* XOR when its final
  network classifies all four points correctly.

Usage::

    python experiments/perceptron/run.py                   # every width and activation
    python experiments/perceptron/run.py --quick --out DIR # fewer networks and seeds
    python experiments/perceptron/run.py --seeds 50 --steps 5000

Writes ``table.md`` (all tables), ``table.csv`` (the perceptron runs), ``traces.csv``
(every step of the AND, OR and XOR traces), ``mlp.csv`` (one row per MLP),
``mlp_runs.csv`` (one row per MLP and seed), ``decision_lines.png``,
``xor_mlp_regions.png`` and ``xor_mlp_loss.png`` to ``--out`` (default ``results/``
beside this file) and prints the tables.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import activations, losses, models, optim, perceptron

HERE = Path(__file__).resolve().parent
# The four samples T0=(0,0), T1=(0,1), T2=(1,0), T3=(1,1) of docs/concepts.md §1.
SAMPLES = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
TARGETS = {
    "AND": np.array([0, 0, 0, 1]),
    "OR": np.array([0, 1, 1, 1]),
    "XOR": np.array([0, 1, 1, 0]),
}
THRESHOLDS = {"AND": 1.5, "OR": 1.0}  # the notes' thresholds
XOR_TRACE_THRESHOLD = 0.5  # the XOR run that is traced step by step
HIDDEN_ACTIVATIONS = {"sigmoid": activations.sigmoid, "tanh": activations.tanh}
REGION_AXIS = np.linspace(-0.25, 1.25, 61, dtype=np.float32)  # the region plots' x1 and x2


@dataclasses.dataclass(frozen=True)
class Config:
    """What the perceptron and the MLPs are run with."""

    max_passes: int  # the perceptron's pass budget
    xor_thresholds: tuple[float, ...]  # XOR runs without a bias input
    xor_trace_passes: int  # passes of the XOR trace printed step by step
    widths: tuple[int, ...]  # hidden units of the XOR MLPs
    activations: tuple[str, ...]  # hidden activations of the XOR MLPs
    seeds: int
    steps: int  # full-batch Adam steps
    learning_rate: float
    region_seeds: int = 6  # seeds drawn per network in xor_mlp_regions.png


DEFAULT = Config(
    max_passes=100,
    xor_thresholds=(0.5, 1.0, 1.5),
    xor_trace_passes=3,
    widths=(2, 3, 4, 8),
    activations=("sigmoid", "tanh"),
    seeds=20,
    steps=2000,
    learning_rate=0.05,
)
QUICK = dataclasses.replace(
    DEFAULT, widths=(2, 4), activations=("sigmoid",), seeds=10, steps=1000, region_seeds=4
)


@dataclasses.dataclass
class Step:
    """One sample of a perceptron trace: the output before the update and the update."""

    pass_: int
    sample: int
    d: int
    w_before: tuple[float, ...]
    activation: float  # w·x
    y: int
    w_after: tuple[float, ...]


@dataclasses.dataclass
class PerceptronRun:
    """One perceptron run: its setting, its per-pass errors and weights, its cycle."""

    problem: str
    threshold: float
    bias_input: bool
    result: perceptron.TrainResult
    pass_weights: list[tuple[float, ...]]  # weights after each pass, from the start
    cycle_start: int | None  # the pass after which the weights first recur, or None
    cycle_period: int | None  # passes per cycle, or None


@dataclasses.dataclass
class MLPResult:
    """Every seed of one XOR network: final loss and accuracy, curves and params."""

    activation: str
    width: int
    final_loss: np.ndarray  # (seeds,)
    final_accuracy: np.ndarray  # (seeds,) fraction of the 4 points right
    loss_curve: np.ndarray  # (seeds, steps) loss before each step
    first_solved: np.ndarray  # (seeds,) first step with all four right, -1 if never
    probability: np.ndarray  # (seeds, len(REGION_AXIS)**2) P(class 1) on region_grid()

    @property
    def solved(self) -> np.ndarray:
        return self.final_accuracy == 1.0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = _config(args)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    traces = {}
    for problem, threshold in (*THRESHOLDS.items(), ("XOR", XOR_TRACE_THRESHOLD)):
        passes = config.xor_trace_passes if problem == "XOR" else config.max_passes
        traces[problem] = trace(SAMPLES, TARGETS[problem], threshold=threshold, max_passes=passes)
        print(_trace_text(problem, threshold, traces[problem]), flush=True)

    runs = [
        perceptron_run(problem, threshold, config.max_passes)
        for problem, threshold in THRESHOLDS.items()
    ]
    runs += [
        perceptron_run("XOR", threshold, config.max_passes) for threshold in config.xor_thresholds
    ]
    runs.append(perceptron_run("XOR", 0.0, config.max_passes, bias_input=True))
    for problem in ("AND", "OR"):
        (run,) = [r for r in runs if r.problem == problem]
        _check_trace_matches(traces[problem], run.result)

    mlps = [
        train_xor_mlps(activation, width, config)
        for activation in config.activations
        for width in config.widths
    ]
    for r in mlps:
        print(
            f"MLP 2-{r.width}-2 {r.activation}: {int(r.solved.sum())}/{config.seeds} seeds "
            f"solve XOR, final loss {_spread(r.final_loss, 4)}",
            flush=True,
        )

    table = _markdown(traces, runs, mlps, config)
    (out / "table.md").write_text(table)
    _write_perceptron_csv(out / "table.csv", runs)
    _write_traces_csv(out / "traces.csv", traces)
    _write_mlp_csv(out / "mlp.csv", mlps, config)
    _write_mlp_runs_csv(out / "mlp_runs.csv", mlps)
    _plot_decision_lines(out / "decision_lines.png", traces, runs)
    _plot_regions(out / "xor_mlp_regions.png", mlps, config)
    _plot_loss(out / "xor_mlp_loss.png", mlps, config)
    print(table)
    print(f"done in {time.perf_counter() - start:.1f} s; results in {out}")
    return 0


# --- the perceptron --------------------------------------------------------------------------


def trace(x: np.ndarray, d: np.ndarray, *, threshold: float, max_passes: int) -> list[Step]:
    """The perceptron learning rule from zero weights, one sample at a time.

    Each step is ``perceptron.train`` on the single sample ``x[j]`` for one pass from the
    current weights; the output ``y`` is ``perceptron.predict`` before the update. Stops
    after the first pass without a miss or after ``max_passes`` passes.

    >>> steps = trace(SAMPLES, TARGETS["AND"], threshold=1.5, max_passes=10)
    >>> [s.w_after for s in steps if s.y != s.d]
    [(1.0, 1.0)]
    """
    w = jnp.zeros(x.shape[1], jnp.float32)
    steps = []
    for pass_ in range(1, max_passes + 1):
        misses = 0
        for j in range(len(x)):
            y = int(perceptron.predict(w, x[j], threshold=threshold))
            after = perceptron.train(
                x[j : j + 1], d[j : j + 1], threshold=threshold, initial_weights=w, max_passes=1
            ).weights
            steps.append(
                Step(
                    pass_, j, int(d[j]), _floats(w), float(x[j] @ np.asarray(w)), y, _floats(after)
                )
            )
            misses += y != d[j]
            w = after
        if misses == 0:
            break
    return steps


def perceptron_run(
    problem: str, threshold: float, max_passes: int, bias_input: bool = False
) -> PerceptronRun:
    """``perceptron.train`` on ``problem`` from zero weights, and the weights after each
    pass (one ``train`` call of one pass each) followed until they recur or the budget
    ends: a recurrence means the rule cycles for ever, since each pass is a function of
    the weights it starts from."""
    x = SAMPLES
    if bias_input:
        x = np.concatenate([x, np.ones((len(x), 1), np.float32)], axis=1)
    d = TARGETS[problem]
    result = perceptron.train(x, d, threshold=threshold, max_passes=max_passes)
    w = jnp.zeros(x.shape[1], jnp.float32)
    pass_weights = [_floats(w)]
    cycle_start = cycle_period = None
    for _ in range(max_passes):
        one = perceptron.train(x, d, threshold=threshold, initial_weights=w, max_passes=1)
        w = one.weights
        if one.converged:
            pass_weights.append(_floats(w))
            break
        if _floats(w) in pass_weights:
            first = pass_weights.index(_floats(w))
            cycle_start, cycle_period = first, len(pass_weights) - first
            pass_weights.append(_floats(w))
            break
        pass_weights.append(_floats(w))
    return PerceptronRun(
        problem, threshold, bias_input, result, pass_weights, cycle_start, cycle_period
    )


def trace_errors(steps: Sequence[Step]) -> list[float]:
    """The error of each pass of a trace, ``(1/s) Σ_j |d_j − y_j|``.

    >>> trace_errors(trace(SAMPLES, TARGETS["OR"], threshold=1.0, max_passes=10))
    [0.5, 0.0]
    """
    passes = sorted({s.pass_ for s in steps})
    return [float(np.mean([abs(s.d - s.y) for s in steps if s.pass_ == p])) for p in passes]


def _check_trace_matches(steps: Sequence[Step], result: perceptron.TrainResult) -> None:
    """The step-by-step trace and one full ``perceptron.train`` run must agree."""
    if steps[-1].w_after != _floats(result.weights) or trace_errors(steps) != [
        float(e) for e in result.errors
    ]:
        raise RuntimeError(
            f"the trace ends at {steps[-1].w_after} with errors {trace_errors(steps)}, but "
            f"perceptron.train gives {_floats(result.weights)} with {result.errors.tolist()}"
        )


def _floats(w) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(w))


# --- the XOR MLP -----------------------------------------------------------------------------


def train_xor_mlps(activation: str, width: int, config: Config) -> MLPResult:
    """Every seed of the 2-``width``-2 network, full-batch Adam on the four XOR points, as
    one jitted program: ``vmap`` over seeds of a ``lax.scan`` over steps."""
    model = models.mlp(num_classes=2, hidden=(width,), activation=HIDDEN_ACTIVATIONS[activation])
    optimizer = optim.adam(config.learning_rate)

    def loss_and_accuracy(params, state, x, y):
        logits, _ = model.apply(params, state, x)
        accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
        return losses.softmax_cross_entropy(logits, y), accuracy

    def run(key, x, y, grid):
        params, state = model.init(key, x)

        def step(carry, _):
            params, opt_state = carry
            (loss, accuracy), grads = jax.value_and_grad(loss_and_accuracy, has_aux=True)(
                params, state, x, y
            )
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optim.apply_updates(params, updates), opt_state), (loss, accuracy)

        (params, _), (curve, accuracy) = jax.lax.scan(
            step, (params, optimizer.init(params)), None, length=config.steps
        )
        final_loss, final_accuracy = loss_and_accuracy(params, state, x, y)
        logits, _ = model.apply(params, state, grid)
        return curve, accuracy, final_loss, final_accuracy, activations.softmax(logits)[:, 1]

    keys = jnp.stack([jax.random.key(seed) for seed in range(config.seeds)])
    curve, accuracy, final_loss, final_accuracy, probability = jax.device_get(
        jax.jit(jax.vmap(run, in_axes=(0, None, None, None)))(
            keys,
            jnp.asarray(SAMPLES),
            jnp.asarray(TARGETS["XOR"], jnp.int32),
            jnp.asarray(region_grid()),
        )
    )
    solved = accuracy == 1.0
    first = np.where(solved.any(axis=1), np.argmax(solved, axis=1), -1)
    return MLPResult(
        activation,
        width,
        np.asarray(final_loss, np.float64),
        np.asarray(final_accuracy, np.float64),
        np.asarray(curve),
        first,
        np.asarray(probability),
    )


def region_grid() -> np.ndarray:
    """The points ``(x1, x2)`` of the region plots, ``(len(REGION_AXIS)**2, 2)``, x1 fastest.

    >>> region_grid().shape
    (3721, 2)
    """
    return np.stack(np.meshgrid(REGION_AXIS, REGION_AXIS), -1).reshape(-1, 2)


# --- tables ----------------------------------------------------------------------------------


def _spread(values: np.ndarray, digits: int) -> str:
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def _w(w: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in w) + ")"


def _errors_text(errors: Sequence[float], limit: int = 6) -> str:
    errors = [f"{e:g}" for e in errors]
    if len(errors) <= limit:
        return ", ".join(errors)
    return ", ".join(errors[:limit]) + f", … ({len(errors)} passes)"


def _cycle_text(run: PerceptronRun) -> str:
    if run.cycle_period is None:
        return "—"
    cycle = run.pass_weights[run.cycle_start : run.cycle_start + run.cycle_period]
    return (
        f"from pass {run.cycle_start + 1}, period {run.cycle_period}: w after each pass "
        + " → ".join(_w(w) for w in cycle)
    )


def _trace_rows(problem: str, threshold: float, steps: Sequence[Step]) -> list[str]:
    lines = [
        f"{problem}, threshold θ = {threshold:g}, η = 1, from w = (0, 0):",
        "",
        "| pass | sample | x | d | w before | w·x | y | d − y | w after |",
        "|---:|---|---|---:|---|---:|---:|---:|---|",
    ]
    for s in steps:
        x = _w(SAMPLES[s.sample])
        lines.append(
            f"| {s.pass_} | T{s.sample} | {x} | {s.d} | {_w(s.w_before)} "
            f"| {s.activation:g} | {s.y} | {s.d - s.y:+d} | {_w(s.w_after)} |"
        )
    errors = ", ".join(f"pass {p}: {e:g}" for p, e in enumerate(trace_errors(steps), 1))
    return [*lines, "", f"Errors per pass: {errors}.", ""]


def _trace_text(problem: str, threshold: float, steps: Sequence[Step]) -> str:
    return "\n".join(_trace_rows(problem, threshold, steps))


def _markdown(
    traces: dict[str, list[Step]],
    runs: Sequence[PerceptronRun],
    mlps: Sequence[MLPResult],
    config: Config,
) -> str:
    lines = [
        "# The perceptron on AND, OR and XOR; an MLP on XOR",
        "",
        "## Perceptron learning rule, step by step",
        "",
    ]
    for problem, threshold in (*THRESHOLDS.items(), ("XOR", XOR_TRACE_THRESHOLD)):
        lines += _trace_rows(problem, threshold, traces[problem])
    lines += [
        f"## Perceptron runs (`perceptron.train`, zero initial weights, η = 1, at most "
        f"{config.max_passes} passes)",
        "",
        "Bias input: a constant 1 appended to every sample, threshold 0, so the last weight "
        "plays −θ. Cycle: the weights at the end of a pass equal those at the start of an "
        "earlier pass (or the initial ones), so from that pass on the rule repeats the same "
        "passes for ever; period: passes per repetition.",
        "",
        "| problem | θ | bias input | passes | converged | errors per pass | final w "
        "| min error | cycle |",
        "|---|---:|---|---:|---|---|---|---:|---|",
    ]
    for r in runs:
        errors = [float(e) for e in r.result.errors]
        lines.append(
            f"| {r.problem} | {r.threshold:g} | {'yes' if r.bias_input else 'no'} "
            f"| {r.result.passes} | {'yes' if r.result.converged else 'no'} "
            f"| {_errors_text(errors)} | {_w(_floats(r.result.weights))} | {min(errors):g} "
            f"| {_cycle_text(r)} |"
        )
    lines += [
        "",
        f"## MLPs on XOR: 2-h-2, full-batch Adam (η = {config.learning_rate:g}), softmax "
        f"cross-entropy, {config.steps} steps, seeds 0 … {config.seeds - 1}",
        "",
        "Solved: all four points classified right by the final network. Steps to solve: the "
        "first step at which all four were right, median over the seeds that solve.",
        "",
        "| hidden activation | hidden units | seeds | solved | final loss (mean ± std) "
        "| final loss, solved seeds (max) | final loss, unsolved seeds (min) "
        "| steps to solve (median) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in mlps:
        row = _mlp_summary(r)
        lines.append(
            f"| {r.activation} | {r.width} | {row['seeds']} | {row['solved']}/{row['seeds']} "
            f"| {row['final_loss_mean']:.4f} ± {row['final_loss_std']:.4f} "
            f"| {_maybe(row['final_loss_solved_max'])} "
            f"| {_maybe(row['final_loss_unsolved_min'])} "
            f"| {_maybe(row['median_steps_to_solve'], '.1f')} |"
        )
    return "\n".join(lines) + "\n"


def _maybe(value: float, spec: str = ".4f") -> str:
    return "—" if np.isnan(value) else f"{value:{spec}}"


def _mlp_summary(r: MLPResult) -> dict:
    solved = r.solved
    return {
        "seeds": len(solved),
        "solved": int(solved.sum()),
        "final_loss_mean": float(np.mean(r.final_loss)),
        "final_loss_std": float(np.std(r.final_loss)),
        "final_loss_solved_max": float(r.final_loss[solved].max()) if solved.any() else np.nan,
        "final_loss_unsolved_min": (
            float(r.final_loss[~solved].min()) if (~solved).any() else np.nan
        ),
        "median_steps_to_solve": (
            float(np.median(r.first_solved[solved])) if solved.any() else np.nan
        ),
    }


def _write_perceptron_csv(path: Path, runs: Sequence[PerceptronRun]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "problem",
                "threshold",
                "bias_input",
                "passes",
                "converged",
                "errors",
                "final_weights",
                "min_error",
                "cycle_start",
                "cycle_period",
            ]
        )
        for r in runs:
            writer.writerow(
                [
                    r.problem,
                    f"{r.threshold:g}",
                    int(r.bias_input),
                    r.result.passes,
                    int(r.result.converged),
                    " ".join(f"{float(e):g}" for e in r.result.errors),
                    " ".join(f"{v:g}" for v in _floats(r.result.weights)),
                    f"{float(np.min(r.result.errors)):g}",
                    "" if r.cycle_start is None else r.cycle_start,
                    "" if r.cycle_period is None else r.cycle_period,
                ]
            )


def _write_traces_csv(path: Path, traces: dict[str, list[Step]]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "problem",
                "threshold",
                "pass",
                "sample",
                "x1",
                "x2",
                "d",
                "w1_before",
                "w2_before",
                "activation",
                "y",
                "update",
                "w1_after",
                "w2_after",
            ]
        )
        for problem, steps in traces.items():
            threshold = THRESHOLDS.get(problem, XOR_TRACE_THRESHOLD)
            for s in steps:
                writer.writerow(
                    [
                        problem,
                        f"{threshold:g}",
                        s.pass_,
                        f"T{s.sample}",
                        *(f"{v:g}" for v in SAMPLES[s.sample]),
                        s.d,
                        *(f"{v:g}" for v in s.w_before),
                        f"{s.activation:g}",
                        s.y,
                        s.d - s.y,
                        *(f"{v:g}" for v in s.w_after),
                    ]
                )


def _write_mlp_csv(path: Path, mlps: Sequence[MLPResult], config: Config) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "activation",
                "hidden",
                "seeds",
                "solved",
                "final_loss_mean",
                "final_loss_std",
                "final_loss_solved_max",
                "final_loss_unsolved_min",
                "median_steps_to_solve",
                "steps",
                "learning_rate",
            ]
        )
        for r in mlps:
            row = _mlp_summary(r)
            writer.writerow(
                [
                    r.activation,
                    r.width,
                    row["seeds"],
                    row["solved"],
                    f"{row['final_loss_mean']:.6f}",
                    f"{row['final_loss_std']:.6f}",
                    _csv_float(row["final_loss_solved_max"]),
                    _csv_float(row["final_loss_unsolved_min"]),
                    _csv_float(row["median_steps_to_solve"], ".1f"),
                    config.steps,
                    f"{config.learning_rate:g}",
                ]
            )


def _csv_float(value: float, spec: str = ".6f") -> str:
    return "" if np.isnan(value) else f"{value:{spec}}"


def _write_mlp_runs_csv(path: Path, mlps: Sequence[MLPResult]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "activation",
                "hidden",
                "seed",
                "final_loss",
                "final_accuracy",
                "solved",
                "first_solved_step",
            ]
        )
        for r in mlps:
            for seed in range(len(r.final_loss)):
                writer.writerow(
                    [
                        r.activation,
                        r.width,
                        seed,
                        f"{r.final_loss[seed]:.6f}",
                        f"{r.final_accuracy[seed]:g}",
                        int(r.solved[seed]),
                        int(r.first_solved[seed]),
                    ]
                )


# --- figures ---------------------------------------------------------------------------------


def _draw_points(ax, d: np.ndarray, wrong: np.ndarray | None = None) -> None:
    for j, (point, target) in enumerate(zip(SAMPLES, d)):
        ax.scatter(
            *point,
            s=110,
            zorder=3,
            edgecolors="black",
            linewidths=1.2,
            c="black" if target else "white",
        )
        label = f"T{j}" + (" ✗" if wrong is not None and wrong[j] else "")
        ax.annotate(label, point, xytext=(7, 7), textcoords="offset points", fontsize=8)


def _line(ax, w: Sequence[float], threshold: float, **style) -> bool:
    """Draw ``w·x = θ`` over the plot; False when it has no points (w = 0)."""
    t = np.linspace(-0.5, 1.5, 2)
    w1, w2 = w
    if w2 != 0:
        ax.plot(t, (threshold - w1 * t) / w2, **style)
    elif w1 != 0:
        ax.plot([threshold / w1] * 2, [-0.5, 1.5], **style)
    else:
        return False
    return True


def _plot_decision_lines(
    path: Path, traces: dict[str, list[Step]], runs: Sequence[PerceptronRun]
) -> None:
    """AND and OR: the final line w·x = θ with the region where the unit fires shaded, and
    the lines of the earlier weights of the trace; XOR: every line the rule visits."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    grid = np.stack(np.meshgrid(np.linspace(-0.5, 1.5, 201), np.linspace(-0.5, 1.5, 201)), -1)
    for ax, problem in zip(axes, ("AND", "OR", "XOR")):
        steps = traces[problem]
        threshold = THRESHOLDS.get(problem, XOR_TRACE_THRESHOLD)
        visited = list(dict.fromkeys(s.w_after for s in steps))
        final = steps[-1].w_after
        fires = np.asarray(perceptron.predict(jnp.asarray(final), grid, threshold=threshold))
        ax.contourf(
            grid[..., 0], grid[..., 1], fires, levels=[-0.5, 0.5, 1.5], colors=["white", "#cfe3f5"]
        )
        if problem == "XOR":
            colors = plt.cm.Reds(np.linspace(0.45, 0.9, len(visited)))
            for w, color in zip(visited, colors):
                if not _line(ax, w, threshold, color=color, lw=1.6, ls="--", label=f"w = {_w(w)}"):
                    ax.plot([], [], " ", label=f"w = {_w(w)}: never fires")
            (run,) = [
                r
                for r in runs
                if r.problem == "XOR" and not r.bias_input and r.threshold == threshold
            ]
            title = (
                f"XOR, θ = {threshold:g}: no line separates;\n{run.result.passes} passes, "
                f"error {float(run.result.errors[-1]):g} every pass (cycle)"
            )
        else:
            for w in visited[:-1]:
                _line(ax, w, threshold, color="grey", lw=1, ls=":", label=f"w = {_w(w)}")
            _line(
                ax,
                final,
                threshold,
                color="#1f5fa0",
                lw=2,
                label=f"final w = {_w(final)}: {_w(final)}·x = {threshold:g}",
            )
            title = f"{problem}, θ = {threshold:g}: converged after {steps[-1].pass_} passes"
        wrong = (
            np.asarray(perceptron.predict(jnp.asarray(final), SAMPLES, threshold=threshold))
            != TARGETS[problem]
        )
        _draw_points(ax, TARGETS[problem], wrong)
        ax.set(xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(
        "Perceptron decision lines $w\\cdot x = \\theta$ (blue: where the final unit "
        "fires; black points: d = 1, white: d = 0; ✗: wrong at the end)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_regions(path: Path, mlps: Sequence[MLPResult], config: Config) -> None:
    """P(XOR = 1) over the unit square for the first seeds of every sigmoid network (of
    the first activation), the 0.5 contour being the decision boundary."""
    rows = [r for r in mlps if r.activation == config.activations[0]]
    columns = min(config.region_seeds, config.seeds)
    fig, axes = plt.subplots(
        len(rows), columns, figsize=(1.9 * columns, 1.9 * len(rows)), squeeze=False
    )
    u = REGION_AXIS
    for r, row_axes in zip(rows, axes):
        for seed, ax in enumerate(row_axes):
            p = r.probability[seed].reshape(len(u), len(u))
            ax.contourf(u, u, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", vmin=0, vmax=1)
            ax.contour(u, u, p, levels=[0.5], colors="black", linewidths=1.2)
            ax.scatter(
                *SAMPLES.T,
                c=["black" if t else "white" for t in TARGETS["XOR"]],
                edgecolors="black",
                s=30,
                zorder=3,
            )
            ax.set_aspect("equal")
            ax.set_xticks([0, 1])
            ax.set_yticks([0, 1])
            ax.tick_params(labelsize=6)
            status = "solved" if r.solved[seed] else f"{r.final_accuracy[seed]:.0%} right"
            ax.set_title(
                f"h={r.width} seed {seed}: {status}\nloss {r.final_loss[seed]:.3g}", fontsize=7
            )
    fig.suptitle(
        f"{config.activations[0]} MLPs 2-h-2 on XOR: P(class 1) (red high, blue "
        f"low), black line P = 0.5; points: black d = 1, white d = 0",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plot_loss(path: Path, mlps: Sequence[MLPResult], config: Config) -> None:
    """Every seed's training loss, one panel per activation; ln(2)/2 marked."""
    fig, axes = plt.subplots(
        1, len(config.activations), figsize=(5.2 * len(config.activations), 3.6), squeeze=False
    )
    colors = dict(zip(config.widths, plt.cm.viridis(np.linspace(0, 0.85, len(config.widths)))))
    for ax, activation in zip(axes[0], config.activations):
        for r in (r for r in mlps if r.activation == activation):
            for seed, curve in enumerate(r.loss_curve):
                ax.plot(
                    curve,
                    color=colors[r.width],
                    lw=0.8,
                    alpha=0.6,
                    label=f"{r.width} hidden ({int(r.solved.sum())}/{config.seeds} solve)"
                    if seed == 0
                    else None,
                )
        ax.axhline(np.log(2) / 2, color="red", lw=0.8, ls="--", label="ln(2)/2")
        ax.set(
            yscale="log",
            xlabel="step",
            ylabel="training loss",
            title=f"{activation} hidden layer, every seed",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# --- command line ----------------------------------------------------------------------------


def _config(args: argparse.Namespace) -> Config:
    config = QUICK if args.quick else DEFAULT
    overrides = {
        "seeds": args.seeds,
        "steps": args.steps,
        "widths": tuple(args.widths) if args.widths else None,
    }
    return dataclasses.replace(
        config, **{name: value for name, value in overrides.items() if value is not None}
    )


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"fewer MLPs: widths {QUICK.widths}, {QUICK.activations} only, "
        f"{QUICK.seeds} seeds, {QUICK.steps} steps",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: results/ beside this file)"
    )
    parser.add_argument(
        "--seeds", type=_positive, default=None, help=f"seeds per MLP (default {DEFAULT.seeds})"
    )
    parser.add_argument(
        "--steps",
        type=_positive,
        default=None,
        help=f"Adam steps per MLP (default {DEFAULT.steps})",
    )
    parser.add_argument(
        "--widths",
        type=_positive,
        nargs="+",
        default=None,
        help=f"hidden units of the MLPs (default {DEFAULT.widths})",
    )
    args = parser.parse_args(argv)
    return args


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())

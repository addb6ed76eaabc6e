"""The perceptron study (experiments/perceptron/run.py) end to end, in its --quick mode."""

import csv
import doctest
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "perceptron"
PNGS = ["decision_lines.png", "xor_mlp_regions.png", "xor_mlp_loss.png"]
TABLES = ["table.md", "table.csv", "traces.csv", "mlp.csv", "mlp_runs.csv"]
TABLE_COLUMNS = [
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
TRACE_COLUMNS = [
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
MLP_COLUMNS = [
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
RUN_COLUMNS = [
    "activation",
    "hidden",
    "seed",
    "final_loss",
    "final_accuracy",
    "solved",
    "first_solved_step",
]


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path, for its QUICK configuration and helpers."""
    spec = importlib.util.spec_from_file_location("perceptron_study_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("perceptron_study")
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out, completed


def _rows(path):
    with path.open() as file:
        return list(csv.DictReader(file))


def _header(path):
    with path.open() as file:
        return next(csv.reader(file))


def test_quick_study_writes_every_output(quick_study):
    out, _ = quick_study
    for name in PNGS + TABLES:
        assert (out / name).stat().st_size > 0, name


def test_figures_are_small_pngs(quick_study):
    out, _ = quick_study
    for name in PNGS:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000, name


def test_tables_have_the_documented_columns(quick_study):
    out, _ = quick_study
    assert _header(out / "table.csv") == TABLE_COLUMNS
    assert _header(out / "traces.csv") == TRACE_COLUMNS
    assert _header(out / "mlp.csv") == MLP_COLUMNS
    assert _header(out / "mlp_runs.csv") == RUN_COLUMNS


def test_perceptron_rows_are_and_or_and_every_xor_setting(quick_study, study_module):
    out, _ = quick_study
    rows = _rows(out / "table.csv")
    expected = [("AND", "1.5", "0"), ("OR", "1", "0")]
    expected += [("XOR", f"{t:g}", "0") for t in study_module.QUICK.xor_thresholds]
    expected += [("XOR", "0", "1")]
    assert [(r["problem"], r["threshold"], r["bias_input"]) for r in rows] == expected


def test_and_and_or_end_at_one_one_after_two_passes_as_in_the_notes(quick_study):
    out, _ = quick_study
    rows = {r["problem"]: r for r in _rows(out / "table.csv") if r["problem"] != "XOR"}
    assert rows["AND"]["errors"] == "0.25 0" and rows["OR"]["errors"] == "0.5 0"
    for row in rows.values():
        assert row["final_weights"] == "1 1" and row["converged"] == "1"
        assert row["passes"] == "2" and row["cycle_period"] == ""


def test_xor_never_converges_and_cycles(quick_study, study_module):
    out, _ = quick_study
    for row in (r for r in _rows(out / "table.csv") if r["problem"] == "XOR"):
        errors = [float(e) for e in row["errors"].split()]
        assert row["converged"] == "0"
        assert int(row["passes"]) == len(errors) == study_module.QUICK.max_passes
        # A linear threshold unit gets at most 3 of the 4 XOR points right.
        assert min(errors) == float(row["min_error"]) >= 0.25
        assert int(row["cycle_period"]) >= 1 and int(row["cycle_start"]) >= 0


def test_traces_apply_the_learning_rule_at_every_step(quick_study):
    out, _ = quick_study
    for row in _rows(out / "traces.csv"):
        x = np.array([float(row["x1"]), float(row["x2"])])
        before = np.array([float(row["w1_before"]), float(row["w2_before"])])
        after = np.array([float(row["w1_after"]), float(row["w2_after"])])
        assert float(row["activation"]) == pytest.approx(before @ x)
        assert int(row["y"]) == int(before @ x >= float(row["threshold"]))
        assert int(row["update"]) == int(row["d"]) - int(row["y"])
        np.testing.assert_allclose(after, before + int(row["update"]) * x)


def test_and_trace_updates_once_and_or_trace_twice(quick_study):
    out, _ = quick_study
    rows = _rows(out / "traces.csv")
    updates = {
        problem: [
            (r["pass"], r["sample"]) for r in rows if r["problem"] == problem and r["update"] != "0"
        ]
        for problem in ("AND", "OR")
    }
    assert updates == {"AND": [("1", "T3")], "OR": [("1", "T1"), ("1", "T2")]}


def test_mlp_rows_are_the_quick_networks(quick_study, study_module):
    out, _ = quick_study
    quick = study_module.QUICK
    rows = _rows(out / "mlp.csv")
    assert [(r["activation"], int(r["hidden"])) for r in rows] == [
        (activation, width) for activation in quick.activations for width in quick.widths
    ]
    for row in rows:
        assert int(row["seeds"]) == quick.seeds and int(row["steps"]) == quick.steps


def test_mlp_summary_matches_its_per_seed_rows(quick_study, study_module):
    out, _ = quick_study
    runs = _rows(out / "mlp_runs.csv")
    for row in _rows(out / "mlp.csv"):
        mine = [
            r for r in runs if (r["activation"], r["hidden"]) == (row["activation"], row["hidden"])
        ]
        assert [int(r["seed"]) for r in mine] == list(range(study_module.QUICK.seeds))
        losses = np.array([float(r["final_loss"]) for r in mine])
        assert losses.mean() == pytest.approx(float(row["final_loss_mean"]), abs=1e-5)
        assert losses.std() == pytest.approx(float(row["final_loss_std"]), abs=1e-5)
        assert sum(int(r["solved"]) for r in mine) == int(row["solved"])
        for r in mine:
            assert (r["final_accuracy"] == "1") == (r["solved"] == "1")
            assert (int(r["first_solved_step"]) >= 0) or r["solved"] == "0"


def test_a_hidden_layer_solves_xor(quick_study, study_module):
    out, _ = quick_study
    rows = {int(r["hidden"]): r for r in _rows(out / "mlp.csv")}
    widest = rows[max(study_module.QUICK.widths)]
    assert int(widest["solved"]) == study_module.QUICK.seeds
    assert float(widest["final_loss_solved_max"]) < 0.05
    # Seeds that fail are stuck on a plateau far above the solved ones.
    for row in rows.values():
        if row["final_loss_unsolved_min"]:
            assert float(row["final_loss_unsolved_min"]) > 0.1


def test_markdown_table_is_printed(quick_study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    assert "| 1 | T3 | (1, 1) | 1 | (0, 0) | 0 | 0 | +1 | (1, 1) |" in table


def test_trace_of_or_matches_the_notes(study_module):
    steps = study_module.trace(
        study_module.SAMPLES, study_module.TARGETS["OR"], threshold=1.0, max_passes=10
    )
    assert [s.w_after for s in steps[:4]] == [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 1.0)]
    assert study_module.trace_errors(steps) == [0.5, 0.0]


def test_xor_run_detects_the_cycle(study_module):
    run = study_module.perceptron_run("XOR", 0.5, 20)
    assert (run.cycle_start, run.cycle_period) == (0, 1)
    assert run.pass_weights == [(0.0, 0.0), (0.0, 0.0)]
    assert run.result.passes == 20 and run.result.converged is False


def test_run_doctests(study_module):
    assert doctest.testmod(study_module).failed == 0


def test_study_rejects_zero_seeds():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--seeds", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "must be ≥ 1" in completed.stderr

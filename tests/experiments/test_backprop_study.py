"""The backpropagation study (experiments/backprop/run.py) end to end, in its --quick mode."""

import csv
import doctest
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "backprop"
PNGS = ["graphs.png", "gradients.png"]
TABLES = ["table.md", "table.csv", "modules.csv"]
CHECK_COLUMNS = ["example", "of", "wrt", "hand", "jax_grad", "reference", "abs_diff", "agree"]
MODULE_COLUMNS = [
    "example",
    "module",
    "output",
    "forward",
    "input",
    "local",
    "upstream",
    "gradient",
]
FLOAT32 = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path, for its QUICK configuration and helpers."""
    spec = importlib.util.spec_from_file_location("backprop_study_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("backprop_study")
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


def _checks(out):
    return {(r["example"], r["wrt"]): r for r in _rows(out / "table.csv")}


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
    with (out / "table.csv").open() as file:
        assert next(csv.reader(file)) == CHECK_COLUMNS
    with (out / "modules.csv").open() as file:
        assert next(csv.reader(file)) == MODULE_COLUMNS


def test_check_rows_cover_every_input_and_intermediate(quick_study, study_module):
    out, _ = quick_study
    hidden, inputs = study_module.QUICK.network_shape
    network = [f"alpha[{j},{i}]" for j in range(hidden) for i in range(inputs)]
    network += [f"beta[{j}]" for j in range(hidden)] + [f"x[{i}]" for i in range(inputs)]
    network += [f"a[{j}]" for j in range(hidden)] + [f"z[{j}]" for j in range(hidden)]
    network += ["b", "y"]
    expected = [("sum_times", "f", wrt) for wrt in ("x", "y", "z", "q")]
    expected += [("cos_of_sum", "J", wrt) for wrt in ("x", "a", "b", "c", "s")]
    expected += [("sigmoid_network", "L", wrt) for wrt in network]
    assert [(r["example"], r["of"], r["wrt"]) for r in _rows(out / "table.csv")] == expected


def test_hand_gradients_equal_jax_grad_to_float32_tolerance(quick_study):
    out, _ = quick_study
    for row in _rows(out / "table.csv"):
        hand, jax_grad = float(row["hand"]), float(row["jax_grad"])
        np.testing.assert_allclose(jax_grad, hand, **FLOAT32, err_msg=str(row))
        assert row["agree"] == "1"
        # abs_diff is computed before rounding hand and jax_grad to 9 digits for the CSV.
        assert float(row["abs_diff"]) <= FLOAT32["atol"] + FLOAT32["rtol"] * abs(hand)


def test_sum_times_gradients_are_the_notes_numbers(quick_study):
    checks = _checks(quick_study[0])
    notes = {"x": -4.0, "y": -4.0, "z": 3.0, "q": -4.0}
    for wrt, value in notes.items():
        row = checks["sum_times", wrt]
        assert float(row["hand"]) == float(row["reference"]) == value
        assert float(row["jax_grad"]) == value  # exact in float32


def test_cos_of_sum_derivative_is_the_closed_form(quick_study, study_module):
    checks = _checks(quick_study[0])
    x = study_module.QUICK.cos_of_sum_x
    s = math.sin(x**2) + 3 * x**2
    closed = -math.sin(s) * (2 * x * math.cos(x**2) + 6 * x)
    row = checks["cos_of_sum", "x"]
    assert float(row["hand"]) == pytest.approx(closed, rel=1e-8)
    assert float(row["reference"]) == pytest.approx(closed, rel=1e-8)
    # The two paths from a = x² into s add: ∂J/∂a = ∂J/∂s · (cos a + 3).
    assert float(checks["cos_of_sum", "a"]["hand"]) == pytest.approx(
        -math.sin(s) * (math.cos(x**2) + 3), rel=1e-8
    )


def test_network_gradients_follow_the_notes_formulas(quick_study):
    for (example, wrt), row in _checks(quick_study[0]).items():
        if example == "sigmoid_network" and row["reference"]:
            np.testing.assert_allclose(
                float(row["hand"]), float(row["reference"]), rtol=1e-8, atol=1e-12, err_msg=wrt
            )


def test_every_module_row_is_local_times_upstream(quick_study):
    for row in _rows(quick_study[0] / "modules.csv"):
        local = np.array(row["local"].split(), float)
        upstream = np.array(row["upstream"].split(), float)
        assert float(row["gradient"]) == pytest.approx(
            float(local @ upstream), rel=1e-7, abs=1e-12
        ), row


def test_module_rows_sum_to_the_checked_gradients(quick_study):
    out, _ = quick_study
    modules = [r for r in _rows(out / "modules.csv") if r["example"] == "cos_of_sum"]
    paths = sum(float(r["gradient"]) for r in modules if r["input"].startswith("a (path"))
    assert paths == pytest.approx(float(_checks(out)["cos_of_sum", "a"]["hand"]), rel=1e-8)


def test_markdown_tables_are_printed(quick_study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    assert "| multiply f = q·z | f | -12 | q | -4 | 1 | -4 |" in table
    assert " NO |" not in table


def test_hand_backward_of_sum_times_at_random_points(study_module):
    for x, y, z in np.random.default_rng(0).standard_normal((5, 3)):
        _, rows = study_module.sum_times_hand(x, y, z)
        grads = {row.input: row.gradient for row in rows}
        np.testing.assert_allclose([grads["x"], grads["y"], grads["z"]], [z, z, x + y])


def test_hand_backward_of_cos_of_sum_is_the_closed_form_everywhere(study_module):
    x = np.linspace(-3, 3, 61)
    _, rows = study_module.cos_of_sum_hand(x)
    np.testing.assert_allclose(
        rows[-1].gradient, study_module.cos_of_sum_closed_form(x), rtol=1e-12, atol=1e-12
    )


def test_curve_agrees_with_jax_grad(study_module):
    x, hand, jax_values, _ = study_module.curve(study_module.QUICK)
    assert len(x) == study_module.QUICK.curve_points
    np.testing.assert_allclose(jax_values, hand, rtol=1e-5, atol=1e-5)


def test_run_doctests(study_module):
    assert doctest.testmod(study_module).failed == 0


def test_study_rejects_too_few_curve_points():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--points", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "--points must be ≥ 2" in completed.stderr

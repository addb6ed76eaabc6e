"""The capacity study (experiments/capacity/run.py) end to end, in its --quick mode, and
its helper functions."""

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "capacity"
PNGS = ["fits.png", "error_vs_width.png", "equal_params.png"]
TABLES = ["table.md", "table.csv", "runs.csv"]
TABLE_COLUMNS = [
    "part",
    "activation",
    "hidden_layers",
    "width",
    "params",
    "seeds",
    "metric",
    "mean",
    "std",
]
RUN_COLUMNS = ["part", "activation", "hidden_layers", "width", "params", "seed", "metric", "value"]
EQUAL_PARAMS_METRICS = ["train_accuracy", "test_accuracy", "train_loss"]


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path, for its QUICK configuration and helpers."""
    spec = importlib.util.spec_from_file_location("capacity_study_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("capacity_study")
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


def _part(rows, part):
    return [row for row in rows if row["part"] == part]


def test_quick_study_writes_small_pngs_and_tables(quick_study):
    out, _ = quick_study
    for name in TABLES:
        assert (out / name).stat().st_size > 0, name
    for name in PNGS:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000, name


def test_tables_have_the_documented_columns(quick_study):
    out, _ = quick_study
    assert _header(out / "table.csv") == TABLE_COLUMNS
    assert _header(out / "runs.csv") == RUN_COLUMNS


def test_table_rows_follow_the_quick_config(quick_study, study_module):
    out, _ = quick_study
    quick = study_module.QUICK
    rows = _rows(out / "table.csv")
    approximation = _part(rows, "approximation")
    assert [(row["activation"], int(row["width"])) for row in approximation] == [
        (name, width) for name in quick.activations for width in quick.widths
    ]
    assert {row["metric"] for row in approximation} == {"grid_mse"}
    equal = _part(rows, "equal_params")
    assert [(int(row["hidden_layers"]), row["metric"]) for row in equal] == [
        (depth, metric) for depth in quick.depths for metric in EQUAL_PARAMS_METRICS
    ]
    assert {int(row["seeds"]) for row in rows} == {quick.seeds}
    assert len(rows) == len(approximation) + len(equal)


def test_approximation_params_are_those_of_one_hidden_layer(quick_study):
    out, _ = quick_study
    for row in _part(_rows(out / "table.csv"), "approximation"):
        width = int(row["width"])
        assert int(row["params"]) == 3 * width + 1  # w·1 + w biases + w·1 + 1 bias


def test_equal_param_networks_match_the_target_within_tolerance(quick_study, study_module):
    out, _ = quick_study
    quick = study_module.QUICK
    for row in _part(_rows(out / "table.csv"), "equal_params"):
        params, depth, width = int(row["params"]), int(row["hidden_layers"]), int(row["width"])
        assert abs(params - quick.target_params) <= quick.tolerance * quick.target_params
        # The digits: 64 inputs, 10 classes.
        assert params == study_module.mlp_params(depth, width, 64, 10)


def test_table_means_and_stds_are_those_of_the_runs(quick_study):
    out, _ = quick_study
    runs = _rows(out / "runs.csv")
    key = ("part", "activation", "hidden_layers", "width", "metric")
    for row in _rows(out / "table.csv"):
        values = [
            float(run["value"]) for run in runs if all(run[name] == row[name] for name in key)
        ]
        assert len(values) == int(row["seeds"])
        assert np.mean(values) == pytest.approx(float(row["mean"]), rel=1e-5, abs=1e-6)
        assert np.std(values) == pytest.approx(float(row["std"]), rel=1e-4, abs=1e-6)


def test_metrics_are_in_range(quick_study):
    out, _ = quick_study
    for run in _rows(out / "runs.csv"):
        value = float(run["value"])
        if run["metric"] in ("train_accuracy", "test_accuracy"):
            assert 0.0 <= value <= 1.0
        else:
            assert 0.0 < value < 10.0, run


def test_a_wider_hidden_layer_approximates_better(quick_study, study_module):
    """The quick run can already show it: width 16 beats width 2 for both activations."""
    out, _ = quick_study
    rows = _part(_rows(out / "table.csv"), "approximation")
    narrow, wide = min(study_module.QUICK.widths), max(study_module.QUICK.widths)
    for name in study_module.QUICK.activations:
        error = {int(row["width"]): float(row["mean"]) for row in rows if row["activation"] == name}
        assert error[wide] < 0.5 * error[narrow], (name, error)


def test_quick_networks_learn_the_digits(quick_study):
    out, _ = quick_study
    for row in _part(_rows(out / "table.csv"), "equal_params"):
        if row["metric"] == "test_accuracy":
            assert float(row["mean"]) > 0.3, row  # chance is 0.1


def test_markdown_table_is_printed(quick_study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    assert "## (a)" in table and "## (b)" in table


def test_parameter_formula_matches_jaxdl_count(study_module):
    import jax
    import jax.numpy as jnp

    from jaxdl import models, nn

    model = models.mlp(7, hidden=(5, 5, 5))
    params, _ = model.init(jax.random.key(0), jnp.zeros((1, 11)))
    assert sum(nn.count_params(params)) == study_module.mlp_params(3, 5, 11, 7)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 8])
def test_matched_width_is_the_closest_count_to_the_target(study_module, depth):
    width = study_module.matched_width(depth, 100_000, 784, 10)

    def gap(w):
        return abs(study_module.mlp_params(depth, w, 784, 10) - 100_000)

    assert gap(width) <= gap(width - 1) and gap(width) <= gap(width + 1)
    assert gap(width) <= 0.02 * 100_000


def test_loglog_slope_recovers_a_power_law(study_module):
    widths = np.array([1, 2, 4, 8, 16, 64])
    assert study_module.loglog_slope(widths, 3.0 * widths**-1.5) == pytest.approx(-1.5)


def test_target_function(study_module):
    x = np.array([-np.pi, 0.5, 2.0])
    np.testing.assert_allclose(study_module.target(x), np.sin(3 * x) + 0.3 * x**2)


def test_study_rejects_zero_seeds():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--seeds", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "must be ≥ 1" in completed.stderr

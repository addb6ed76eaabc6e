"""The learning-rate study (experiments/learning_rate/run.py) end to end, in its --quick
mode, and its helper functions."""

import csv
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "learning_rate"
PNGS = ["curves.png", "lr_sweep.png", "schedules.png"]
TABLES = ["table.md", "table.csv", "runs.csv"]
TABLE_COLUMNS = [
    "part",
    "setting",
    "learning_rate",
    "epochs",
    "seeds",
    "train_loss_mean",
    "train_loss_std",
    "test_accuracy_mean",
    "test_accuracy_std",
    "diverged",
]
RUN_COLUMNS = [
    "part",
    "setting",
    "learning_rate",
    "seed",
    "train_loss",
    "test_accuracy",
    "peak_loss",
    "status",
]
SCHEDULES = ["constant", "step", "exponential", "cosine"]


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path, for its QUICK configuration and helpers."""
    spec = importlib.util.spec_from_file_location("learning_rate_study_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("learning_rate_study")
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
    sweep = [row for row in rows if row["part"] == "sweep"]
    assert [float(row["learning_rate"]) for row in sweep] == list(quick.sweep_rates)
    schedules = [row for row in rows if row["part"] == "schedules"]
    assert [row["setting"] for row in schedules] == SCHEDULES * len(quick.peak_factors)
    assert {row["part"] for row in rows} == {"sweep", "schedules"}
    for row in rows:
        assert int(row["seeds"]) == quick.seeds
    assert {int(row["epochs"]) for row in sweep} == {quick.sweep_epochs}


def test_schedule_peaks_are_the_best_swept_rate_times_the_factors(quick_study, study_module):
    out, _ = quick_study
    rows = _rows(out / "table.csv")
    sweep = [row for row in rows if row["part"] == "sweep" and row["diverged"] == "0"]
    best = min(sweep, key=lambda row: float(row["train_loss_mean"]))["learning_rate"]
    peaks = [float(row["learning_rate"]) for row in rows if row["part"] == "schedules"]
    expected = [float(best) * factor for factor in study_module.QUICK.peak_factors]
    assert peaks == pytest.approx(np.repeat(expected, len(SCHEDULES)).tolist())


def test_table_means_are_the_means_of_the_runs(quick_study):
    out, _ = quick_study
    runs = _rows(out / "runs.csv")
    for row in _rows(out / "table.csv"):
        mine = [
            run
            for run in runs
            if (run["part"], run["setting"], run["learning_rate"])
            == (row["part"], row["setting"], row["learning_rate"])
        ]
        assert len(mine) == int(row["seeds"])
        for column in ("train_loss", "test_accuracy"):
            values = [float(run[column]) for run in mine]
            assert np.mean(values) == pytest.approx(float(row[f"{column}_mean"]), abs=1e-4)
        assert sum(run["status"] != "ok" for run in mine) == int(row["diverged"])


def test_runs_are_marked_diverged_exactly_when_their_loss_says_so(quick_study):
    out, _ = quick_study
    for run in _rows(out / "runs.csv"):
        loss, peak = float(run["train_loss"]), float(run["peak_loss"])
        if not (math.isfinite(loss) and math.isfinite(peak)):
            assert run["status"] == "NaN/inf"
        else:
            assert run["status"] == ("diverged" if loss >= math.log(10) else "ok"), run
            assert 0.0 <= float(run["test_accuracy"]) <= 1.0


def test_quick_sweep_shows_the_u_curve(quick_study):
    """Too small a rate is slow, a middle rate is best, too large a rate diverges."""
    out, _ = quick_study
    sweep = {
        float(row["learning_rate"]): row
        for row in _rows(out / "table.csv")
        if row["part"] == "sweep"
    }
    loss = {rate: float(row["train_loss_mean"]) for rate, row in sweep.items()}
    smallest, largest = min(loss), max(loss)
    best = min(loss, key=loss.get)
    assert smallest < best < largest
    assert loss[best] < 0.5 * loss[smallest]
    assert int(sweep[largest]["diverged"]) == int(sweep[largest]["seeds"])
    assert float(sweep[largest]["test_accuracy_mean"]) < 0.2  # chance is 0.1
    assert int(sweep[smallest]["diverged"]) == 0 and int(sweep[best]["diverged"]) == 0


def test_markdown_table_is_printed(quick_study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    assert "## 1. Constant rates on a log grid" in table and "## 2. Schedules" in table


@pytest.mark.parametrize(
    ("final", "peak", "expected"),
    [
        (0.2, 3.0, "ok"),
        (2.31, 1e4, "diverged"),
        (math.log(10), 2.0, "diverged"),
        (0.5, math.inf, "NaN/inf"),
        (math.nan, 1.0, "NaN/inf"),
    ],
)
def test_status_marks_divergence(study_module, final, peak, expected):
    assert study_module.status(final, peak) == expected


def test_best_rate_ranks_a_rate_with_a_non_finite_seed_last(study_module):
    losses = np.array([[0.5, 0.7], [0.2, 0.3], [np.nan, 0.01]])
    assert study_module.best_rate([0.1, 1.0, 10.0], losses) == 1.0
    losses[1, 0] = np.inf
    assert study_module.best_rate([0.1, 1.0, 10.0], losses) == 0.1


def test_moving_average_is_nan_where_a_window_holds_a_non_finite_value(study_module):
    values = np.array([1.0, 3.0, np.inf, 2.0, 4.0, 6.0])
    np.testing.assert_allclose(
        study_module.moving_average(values, 2), [2.0, np.nan, np.nan, 3.0, 5.0]
    )


def test_schedules_start_at_the_peak_and_decay_as_documented(study_module):
    steps, peak = 200, 0.4
    schedules = study_module.schedule_functions(peak, steps)
    for function in schedules.values():
        assert float(function(0)) == pytest.approx(peak)
    assert float(schedules["constant"](steps)) == pytest.approx(peak)
    assert float(schedules["step"](steps // 2 - 1)) == pytest.approx(peak)
    assert float(schedules["step"](steps // 2)) == pytest.approx(0.1 * peak)
    assert float(schedules["step"](3 * steps // 4)) == pytest.approx(0.01 * peak)
    assert float(schedules["exponential"](steps)) == pytest.approx(0.01 * peak)
    assert float(schedules["cosine"](steps // 2)) == pytest.approx(0.5 * peak)
    assert float(schedules["cosine"](steps)) == pytest.approx(0.0, abs=1e-7)


def test_schedule_rows_select_one_schedule_per_run(study_module):
    rows = study_module.schedule_rows([0.5, 2.0], seeds=3)
    one_hot = np.stack([rows[name] for name in SCHEDULES])
    assert one_hot.shape == (4, 24)
    np.testing.assert_array_equal(one_hot.sum(axis=0), np.ones(24))
    # Run r is (peak, schedule, seed) in that order: schedule index (r // 3) % 4.
    np.testing.assert_array_equal(one_hot.argmax(axis=0), (np.arange(24) // 3) % 4)
    np.testing.assert_array_equal(rows["peak"], np.repeat([0.5, 2.0], 12))


def test_curve_rates_must_be_swept(study_module):
    with pytest.raises(ValueError, match="not in sweep_rates"):
        study_module.Config(
            hidden=(4,),
            train_size=None,
            batch_size=8,
            seeds=1,
            sweep_rates=(0.1, 1.0),
            curve_rates=(0.3,),
            sweep_epochs=1,
            schedule_epochs=1,
        )


def test_study_rejects_zero_seeds():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--seeds", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "must be ≥ 1" in completed.stderr

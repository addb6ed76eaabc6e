"""The residual study (experiments/residual/run.py) end to end, in its --quick mode."""

import csv
import importlib.util
import itertools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "residual"
PNGS = ["error_vs_depth.png", "training_curves.png"]
TABLES = ["table.md", "table.csv", "runs.csv"]
VARIANTS = ["plain", "residual"]
TABLE_COLUMNS = [
    "depth",
    "layers",
    "variant",
    "params",
    "learning_rate",
    "train_error_percent",
    "train_error_std",
    "test_error_percent",
    "test_error_std",
    "train_loss",
    "running_train_error_percent",
    "diverged",
    "seeds",
]


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path, for its QUICK configuration."""
    spec = importlib.util.spec_from_file_location("residual_study_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("residual_study")
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


def test_quick_study_writes_every_output(quick_study):
    out, _ = quick_study
    for name in PNGS + TABLES:
        assert (out / name).stat().st_size > 0, name


def test_figures_are_small_pngs(quick_study):
    out, _ = quick_study
    for name in PNGS:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000, name


def test_table_has_a_row_per_depth_and_variant(quick_study, study_module):
    out, _ = quick_study
    with (out / "table.csv").open() as file:
        assert next(csv.reader(file)) == TABLE_COLUMNS
    rows = _rows(out / "table.csv")
    depths = study_module.QUICK.depths
    assert [(int(row["depth"]), row["variant"]) for row in rows] == [
        (depth, variant) for depth in depths for variant in VARIANTS
    ]
    for row in rows:
        assert int(row["layers"]) == 2 * int(row["depth"]) + 2
        assert int(row["seeds"]) == study_module.QUICK.seeds
        assert float(row["learning_rate"]) in study_module.QUICK.learning_rates
        assert int(row["diverged"]) == 0


def test_errors_are_finite_percentages(quick_study):
    out, _ = quick_study
    for row in _rows(out / "table.csv"):
        for column in ("train_error_percent", "test_error_percent"):
            assert 0.0 <= float(row[column]) <= 100.0, (row, column)
        for column in ("train_error_std", "test_error_std"):
            assert 0.0 <= float(row[column]) <= 50.0, (row, column)
        assert math.isfinite(float(row["train_loss"])) and float(row["train_loss"]) > 0


def test_two_epochs_on_digits_learn_something(quick_study):
    out, _ = quick_study
    # Chance is 90% error; every quick network trains well below it on average.
    for row in _rows(out / "table.csv"):
        assert float(row["train_error_percent"]) < 80.0, row


def test_plain_and_residual_twins_have_equal_parameter_counts(quick_study):
    out, _ = quick_study
    rows = _rows(out / "table.csv")
    params = {(row["depth"], row["variant"]): int(row["params"]) for row in rows}
    for depth in {row["depth"] for row in rows}:
        assert params[depth, "plain"] == params[depth, "residual"] > 0
    # Each extra block adds two width×width Dense layers and their batch norms.
    by_depth = [
        count
        for _, count in sorted(
            (int(depth), count) for (depth, variant), count in params.items() if variant == "plain"
        )
    ]
    assert all(a < b for a, b in itertools.pairwise(by_depth))


def test_runs_csv_has_every_rate_and_seed_of_every_network(quick_study, study_module):
    out, _ = quick_study
    runs = _rows(out / "runs.csv")
    quick = study_module.QUICK
    grid = [(f"{rate:g}", seed) for rate in quick.learning_rates for seed in range(quick.seeds)]
    for row in _rows(out / "table.csv"):
        mine = [
            run for run in runs if (run["depth"], run["variant"]) == (row["depth"], row["variant"])
        ]
        assert [(run["learning_rate"], int(run["seed"])) for run in mine] == grid
        for run in mine:
            for column in ("train_error_percent", "test_error_percent"):
                assert 0.0 <= float(run[column]) <= 100.0
            assert math.isfinite(float(run["train_loss"]))


def test_table_reports_the_chosen_rate_of_runs_csv(quick_study, study_module):
    out, _ = quick_study
    runs = _rows(out / "runs.csv")
    for row in _rows(out / "table.csv"):
        mine = [
            run for run in runs if (run["depth"], run["variant"]) == (row["depth"], row["variant"])
        ]
        chosen = [run for run in mine if run["chosen"] == "1"]
        assert {run["learning_rate"] for run in chosen} == {row["learning_rate"]}
        assert len(chosen) == study_module.QUICK.seeds
        errors = [float(run["train_error_percent"]) for run in chosen]
        assert sum(errors) / len(errors) == pytest.approx(
            float(row["train_error_percent"]), abs=2e-3
        )
        # The chosen rate has the lowest mean final training loss of the grid.
        mean_loss = {}
        for run in mine:
            mean_loss.setdefault(run["learning_rate"], []).append(float(run["train_loss"]))
        best = min(mean_loss, key=lambda rate: sum(mean_loss[rate]))
        assert best == row["learning_rate"]


def test_learning_rate_is_chosen_by_mean_training_loss_and_diverged_rank_last(study_module):
    losses = np.array([[0.5, 0.7], [0.2, np.nan], [0.3, 0.4]])  # (rates, seeds)
    assert study_module.choose(losses) == 2
    losses[2, 1] = np.inf
    assert study_module.choose(losses) == 0


def test_markdown_table_is_printed_with_a_row_per_network(quick_study, study_module):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    for depth in study_module.QUICK.depths:
        for variant in VARIANTS:
            assert f"\n| {depth} | {2 * depth + 2} | {variant} | " in table


def test_study_rejects_zero_seeds():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--seeds", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "must be ≥ 1" in completed.stderr

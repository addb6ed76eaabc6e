"""The pre-training study (experiments/pretraining/run.py) end to end, in its --quick mode."""

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "pretraining"
METHODS = ["no_pretraining", "supervised_greedy", "autoencoder_greedy", "shallow"]


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("pretraining_study")
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out


def _rows(path):
    with path.open() as file:
        return list(csv.DictReader(file))


def test_quick_study_writes_its_plots_and_tables(quick_study):
    for name in ("table.csv", "table.md"):
        assert (quick_study / name).stat().st_size > 0, name
    for name in ("error_by_method.png", "stage_curves.png"):
        content = (quick_study / name).read_bytes()
        assert content.startswith(b"\x89PNG") and len(content) < 300_000, name


def test_table_has_the_documented_columns_and_rows(quick_study):
    rows = _rows(quick_study / "table.csv")
    assert list(rows[0]) == ["method", "test_error_percent", "std", "seeds"]
    assert [row["method"] for row in rows] == METHODS
    assert all(row["seeds"] == "1" for row in rows)


def test_every_method_learns_better_than_chance(quick_study):
    # Ten classes: guessing gives 90 % error; each method trains for real.
    errors = {
        row["method"]: float(row["test_error_percent"]) for row in _rows(quick_study / "table.csv")
    }
    assert all(math.isfinite(e) and 0 <= e < 60 for e in errors.values()), errors
    assert min(errors.values()) < 20, errors


def test_markdown_table_quotes_the_paper(quick_study):
    table = (quick_study / "table.md").read_text()
    assert "Bengio et al. (2006)" in table
    assert all(f"| {method} |" in table for method in METHODS)


def test_committed_table_has_every_method_and_three_seeds():
    rows = _rows(STUDY / "results" / "table.csv")
    assert [row["method"] for row in rows] == METHODS
    assert all(int(row["seeds"]) >= 3 for row in rows)

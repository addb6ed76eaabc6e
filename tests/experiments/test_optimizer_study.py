"""The optimizer study (experiments/optimizers/run.py) end to end, in its --quick mode."""

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "optimizers"
OPTIMIZERS = [
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "adadelta",
    "rmsprop",
    "adam",
    "nadam",
    "adamw",
]
OUTPUTS = [
    "curves.png",
    "lr_sensitivity.png",
    "landscapes.png",
    "table.md",
    "table.csv",
    "grid.csv",
]
# --quick on digits: 1,150 training samples in batches of 32, 2 learning rates, 1 seed.
STEPS_PER_EPOCH = 1150 // 32


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("optimizer_study")
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out, completed


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path (its sibling modules on sys.path)."""
    sys.path.insert(0, str(STUDY))
    try:
        spec = importlib.util.spec_from_file_location("optimizer_study_run", STUDY / "run.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("optimizer_study_run", None)
        sys.path.remove(str(STUDY))


def _rows(path):
    with path.open() as file:
        return list(csv.DictReader(file))


def test_quick_study_writes_every_output(quick_study):
    out, _ = quick_study
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    for name in OUTPUTS[:3]:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG") and len(content) < 300_000, name


def test_table_has_one_row_per_optimizer_with_numbers_in_range(quick_study, study_module):
    out, _ = quick_study
    rows = _rows(out / "table.csv")
    assert [row["optimizer"] for row in rows] == OPTIMIZERS
    for row in rows:
        _, lowest, highest = study_module.OPTIMIZERS[row["optimizer"]]
        assert lowest <= float(row["best_learning_rate"]) <= highest
        # Two epochs on digits reach far above chance (10%) with every optimizer.
        assert 0.5 < float(row["val_accuracy_mean"]) <= 1.0
        assert 0.5 < float(row["test_accuracy_mean"]) <= 1.0
        assert float(row["test_accuracy_std"]) == 0.0  # one seed
        if row["steps_to_target"]:
            assert int(row["steps_to_target"]) in (STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH)
        assert float(row["sweep_seconds"]) > 0


def test_grid_has_every_learning_rate_of_every_optimizer(quick_study):
    out, _ = quick_study
    rows = _rows(out / "grid.csv")
    assert len(rows) == len(OPTIMIZERS) * 2
    best = {row["optimizer"]: row["best_learning_rate"] for row in _rows(out / "table.csv")}
    for name in OPTIMIZERS:
        rates = [row["learning_rate"] for row in rows if row["optimizer"] == name]
        assert best[name] in rates


def test_markdown_table_is_printed_with_a_row_per_optimizer(quick_study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    for name in OPTIMIZERS:
        assert f"\n| {name} | " in table


def test_learning_rate_grid_is_one_and_three_per_decade(study_module):
    np.testing.assert_allclose(
        study_module.learning_rate_grid(3e-5, 3e-2), [3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
    )


def test_rate_is_chosen_by_validation_accuracy_then_validation_loss(study_module):
    # (rates, seeds, epochs): rate 1 and rate 2 tie on accuracy; rate 2 has lower loss.
    history = {
        "val_accuracy": np.array([[[0.5, 0.90]], [[0.5, 0.95]], [[0.5, 0.95]]]),
        "val_loss": np.array([[[1.0, 0.3]], [[1.0, 0.2]], [[1.0, 0.1]]]),
    }
    assert study_module._choose(history) == 2
    history["val_accuracy"][2, 0, -1] = np.nan  # a diverged run ranks last
    assert study_module._choose(history) == 1


def test_study_rejects_zero_epochs():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--epochs", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "must be ≥ 1" in completed.stderr

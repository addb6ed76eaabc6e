"""The over- and underfitting study (experiments/overfitting/run.py), in its --quick mode."""

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "overfitting"
PNGS = [
    "error_vs_width.png",
    "error_vs_train_size.png",
    "width_curves.png",
    "overfitting_curves.png",
]
TABLES = ["table.md", "table.csv", "runs.csv", "curves.csv"]
TABLE_COLUMNS = [
    "part",
    "width",
    "train_size",
    "dropout",
    "monitor",
    "epochs",
    "epochs_std",
    "best_epoch",
    "train_error_percent",
    "train_error_std",
    "test_error_percent",
    "test_error_std",
    "gap_percent",
    "gap_std",
    "seeds",
]
RUN_COLUMNS = [
    "part",
    "width",
    "train_size",
    "dropout",
    "monitor",
    "seed",
    "epochs",
    "best_epoch",
    "train_error_percent",
    "test_error_percent",
    "gap_percent",
    "train_loss",
    "test_loss",
]
CURVE_COLUMNS = [
    "part",
    "width",
    "dropout",
    "monitor",
    "seed",
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
]
SETTING = ["part", "width", "train_size", "dropout", "monitor"]


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path, for its QUICK configuration and pure helpers."""
    spec = importlib.util.spec_from_file_location("overfitting_study_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("overfitting_study")
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


def _table(quick_study):
    return _rows(quick_study[0] / "table.csv")


def _by_part(rows, part):
    return [row for row in rows if row["part"] == part]


def test_quick_study_writes_small_pngs_and_tables(quick_study):
    out, _ = quick_study
    for name in TABLES:
        assert (out / name).stat().st_size > 0, name
    for name in PNGS:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000, name


def test_csv_columns_are_as_documented(quick_study):
    out, _ = quick_study
    for name, columns in (
        ("table.csv", TABLE_COLUMNS),
        ("runs.csv", RUN_COLUMNS),
        ("curves.csv", CURVE_COLUMNS),
    ):
        with (out / name).open() as file:
            assert next(csv.reader(file)) == columns, name


def test_table_has_one_row_per_setting_of_the_quick_config(quick_study, study_module):
    quick = study_module.QUICK
    rows = _table(quick_study)
    assert [int(row["width"]) for row in _by_part(rows, "width")] == list(quick.widths)
    assert [int(row["train_size"]) for row in _by_part(rows, "train_size")] == list(
        quick.train_sizes
    )
    assert [float(row["dropout"]) for row in _by_part(rows, "dropout")] == list(quick.dropouts)
    stopping = _by_part(rows, "early_stopping")
    assert [(float(row["dropout"]), row["monitor"]) for row in stopping] == [
        (rate, monitor) for rate in quick.stopping_dropouts for monitor in quick.monitors
    ]
    assert {row["monitor"] for row in rows if row["part"] != "early_stopping"} == {""}
    assert {int(row["seeds"]) for row in rows} == {quick.seeds}


def test_table_means_are_the_means_of_the_seeds_in_runs_csv(quick_study, study_module):
    out, _ = quick_study
    runs = _rows(out / "runs.csv")
    for row in _table(quick_study):
        mine = [run for run in runs if [run[c] for c in SETTING] == [row[c] for c in SETTING]]
        assert [int(run["seed"]) for run in mine] == list(range(study_module.QUICK.seeds))
        for column in ("train_error_percent", "test_error_percent", "gap_percent"):
            values = [float(run[column]) for run in mine]
            assert np.mean(values) == pytest.approx(float(row[column]), abs=2e-3), column
        assert np.mean([int(run["epochs"]) for run in mine]) == pytest.approx(
            float(row["epochs"]), abs=0.01
        )


def test_errors_are_percentages_and_the_gap_is_test_minus_train(quick_study):
    out, _ = quick_study
    for run in _rows(out / "runs.csv"):
        train_error, test_error = (
            float(run["train_error_percent"]),
            float(run["test_error_percent"]),
        )
        assert 0 <= train_error <= 100 and 0 <= test_error <= 100, run
        assert float(run["gap_percent"]) == pytest.approx(test_error - train_error, abs=2e-3)
        assert float(run["train_loss"]) > 0 and float(run["test_loss"]) > 0


def test_the_narrowest_network_underfits_and_the_widest_has_a_gap(quick_study):
    narrow, *_, wide = _by_part(_table(quick_study), "width")
    # Underfitting: both errors high; enough capacity: training error near zero, test not.
    assert float(narrow["train_error_percent"]) > 30
    assert float(narrow["test_error_percent"]) > 30
    assert float(wide["train_error_percent"]) < 2
    assert float(wide["gap_percent"]) > 3 + float(wide["train_error_percent"])


def test_more_training_data_closes_the_gap(quick_study):
    small, *_, large = _by_part(_table(quick_study), "train_size")
    assert float(large["gap_percent"]) < float(small["gap_percent"]) - 3
    assert float(large["test_error_percent"]) < float(small["test_error_percent"])


def test_part_two_trains_each_size_for_about_the_same_steps(quick_study, study_module):
    quick = study_module.QUICK
    for row in _by_part(_table(quick_study), "train_size"):
        steps = float(row["epochs"]) * (int(row["train_size"]) // quick.batch_size)
        assert abs(steps - quick.size_steps) <= int(row["train_size"]) // quick.batch_size / 2


def test_early_stopping_stops_patience_epochs_after_the_best_one(quick_study, study_module):
    out, _ = quick_study
    quick = study_module.QUICK
    stopped = [run for run in _rows(out / "runs.csv") if run["part"] == "early_stopping"]
    assert stopped
    for run in stopped:
        epochs, best = int(run["epochs"]), int(run["best_epoch"])
        assert 1 <= best <= epochs <= quick.overfit_epochs
        # EarlyStopping stops once `patience` epochs passed without a new best.
        assert epochs == best + quick.patience or epochs == quick.overfit_epochs, run
    # On 200 digits the validation loss bottoms out early: every quick run stops early.
    assert all(int(run["epochs"]) < quick.overfit_epochs for run in stopped)


def _curves(quick_study, part, dropout, monitor=""):
    """{seed: {metric: per-epoch values}} of one setting from curves.csv."""
    curves = {}
    for row in _rows(quick_study[0] / "curves.csv"):
        if (row["part"], row["dropout"], row["monitor"]) == (part, dropout, monitor):
            seed = curves.setdefault(int(row["seed"]), {name: [] for name in CURVE_COLUMNS[-4:]})
            assert int(row["epoch"]) == len(seed["loss"]) + 1
            for name in seed:
                seed[name].append(float(row[name]))
    return curves


def test_early_stopping_runs_follow_the_sweep_runs_of_the_same_seed(quick_study, study_module):
    # fit(key=key(s)) with early stopping trains as fit_sweep's run s until it stops: the
    # same batches, the same curves (up to float rounding of the vmapped program).
    sweep = _curves(quick_study, "dropout", "0")
    assert sorted(sweep) == list(range(study_module.QUICK.seeds))
    for monitor in study_module.QUICK.monitors:
        stopped = _curves(quick_study, "early_stopping", "0", monitor)
        assert sorted(stopped) == sorted(sweep)
        for seed, curves in stopped.items():
            epochs = len(curves["loss"])
            for name, values in curves.items():
                np.testing.assert_allclose(
                    values,
                    sweep[seed][name][:epochs],
                    rtol=1e-4,
                    atol=1e-5,
                    err_msg=f"{monitor} {seed} {name}",
                )


def test_early_stopping_restores_the_best_epoch_of_its_monitor(quick_study):
    out, _ = quick_study
    for run in _rows(out / "runs.csv"):
        if run["part"] != "early_stopping":
            continue
        curves = _curves(quick_study, "early_stopping", run["dropout"], run["monitor"])
        watched = np.array(curves[int(run["seed"])][run["monitor"]])
        assert len(watched) == int(run["epochs"])
        # The first best value (loss: lowest; accuracy: highest) of the epochs trained.
        best = np.argmax(watched) if run["monitor"] == "val_accuracy" else np.argmin(watched)
        assert int(run["best_epoch"]) == best + 1, run


def test_curves_hold_every_epoch_of_the_validated_runs(quick_study, study_module):
    quick = study_module.QUICK
    rows = _rows(quick_study[0] / "curves.csv")
    assert {row["part"] for row in rows} == {"width", "dropout", "early_stopping"}
    for width in quick.widths:
        mine = [row for row in rows if row["part"] == "width" and row["width"] == str(width)]
        assert len(mine) == quick.seeds * quick.width_epochs
    for row in rows:
        assert 0 <= float(row["val_accuracy"]) <= 1 and float(row["val_loss"]) > 0


def test_quick_dropout_zero_reuses_the_widest_part_one_network(quick_study, study_module):
    # QUICK's part 3 network without dropout is part 1's widest one on the same subset,
    # trained as long: the same runs, so the same numbers.
    quick = study_module.QUICK
    assert quick.overfit_hidden == (max(quick.widths),)
    assert quick.overfit_epochs == quick.width_epochs
    rows = _table(quick_study)
    wide = _by_part(rows, "width")[-1]
    plain = _by_part(rows, "dropout")[0]
    for column in ("train_error_percent", "test_error_percent", "best_epoch"):
        assert wide[column] == plain[column], column


def test_markdown_table_is_printed_with_its_four_parts(quick_study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    for heading in (
        "## 1. Model size",
        "## 2. Training-set size",
        "## 3. Dropout",
        "## 4. Early stopping",
    ):
        assert heading in table


def test_epochs_for_rounds_the_step_budget_to_whole_epochs(study_module):
    assert study_module.epochs_for(60_000, 100, 2000) == 3  # 600 steps an epoch
    assert study_module.epochs_for(1000, 100, 2000) == 200
    assert study_module.epochs_for(5000, 100, 10) == 1  # at least one epoch
    with pytest.raises(ValueError, match="smaller than one batch"):
        study_module.epochs_for(50, 100, 2000)


def test_split_order_holds_the_validation_images_out_of_the_subsets(study_module):
    order, validation = study_module.split_order(100, 20)
    assert sorted(order.tolist()) == list(range(100))
    assert set(order[:80].tolist()).isdisjoint(validation.tolist())
    again, _ = study_module.split_order(100, 20)
    assert order.tolist() == again.tolist()  # a fixed seed: the same subsets every run


@pytest.mark.parametrize("validation_size", [0, 100, -1])
def test_split_order_rejects_a_validation_size_outside_the_data(study_module, validation_size):
    with pytest.raises(ValueError, match="validation_size"):
        study_module.split_order(100, validation_size)


def test_error_percent_masks_diverged_runs(study_module):
    errors = study_module.error_percent([0.75, 1.0, 0.5], [0.2, np.nan, np.inf])
    assert errors[0] == pytest.approx(25.0)
    assert np.isnan(errors[1:]).all()


def test_best_epochs_is_one_based_and_skips_nan(study_module):
    val_loss = np.array([[0.9, 0.4, 0.4, 0.7], [np.nan, 1.0, 0.8, np.inf]])
    assert study_module.best_epochs(val_loss).tolist() == [2, 3]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--seeds", "0"], "must be ≥ 1"),
        (["--dropouts", "1.0"], "must be in [0, 1)"),
        (["--quick", "--train-sizes", "10"], "must be ≥ the batch size"),
    ],
)
def test_study_rejects_bad_arguments(arguments, message):
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and message in completed.stderr

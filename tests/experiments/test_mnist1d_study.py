"""The MNIST-1D study (experiments/mnist1d/run.py) end to end, in its --quick mode."""

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "mnist1d"
PNGS = ["accuracy.png", "curves.png"]
TABLES = ["table.md", "table.csv", "runs.csv", "curves.csv"]
MODELS = ["logistic", "mlp", "cnn", "gru", "lstm"]
PAPER = {"logistic": "32.0", "mlp": "68.0", "cnn": "94.0", "gru": "91.0", "lstm": ""}


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path, for its QUICK configuration and helpers."""
    spec = importlib.util.spec_from_file_location("mnist1d_study_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("mnist1d_study")
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


def _accuracies(out, name):
    return [float(run["test_accuracy"]) for run in _rows(out / "runs.csv") if run["model"] == name]


def test_quick_study_writes_every_output_and_small_pngs(quick_study):
    out, _ = quick_study
    for name in TABLES:
        assert (out / name).stat().st_size > 0, name
    for name in PNGS:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000, name


def test_table_csv_has_the_pinned_columns_and_the_paper_figures(quick_study):
    out, _ = quick_study
    with (out / "table.csv").open() as file:
        assert next(csv.reader(file)) == ["model", "test_accuracy", "std", "paper"]
    rows = _rows(out / "table.csv")
    assert [row["model"] for row in rows] == MODELS
    assert {row["model"]: row["paper"] for row in rows} == PAPER


def test_table_is_the_mean_and_std_of_the_seeds_in_percent(quick_study, study_module):
    out, _ = quick_study
    for row in _rows(out / "table.csv"):
        mine = _accuracies(out, row["model"])
        assert len(mine) == study_module.QUICK.seeds
        assert all(0.0 <= value <= 100.0 for value in mine)
        assert np.mean(mine) == pytest.approx(float(row["test_accuracy"]), abs=6e-3)
        assert np.std(mine) == pytest.approx(float(row["std"]), abs=6e-3)


def test_curves_end_at_the_reported_accuracy(quick_study, study_module):
    out, _ = quick_study
    curves = _rows(out / "curves.csv")
    epochs = study_module.QUICK.epochs
    for name in MODELS:
        mine = [row for row in curves if row["model"] == name]
        assert len(mine) == study_module.QUICK.seeds * epochs
        last = [float(row["test_accuracy"]) for row in mine if int(row["epoch"]) == epochs]
        assert last == _accuracies(out, name)


def test_priors_separate_the_families_as_in_the_paper(quick_study):
    # The paper's ordering, already visible after 15 quick epochs: a linear model near
    # its 32 %, the MLP well above it, the CNN and the GRU above the MLP, on every seed.
    out, _ = quick_study
    worst = {name: min(_accuracies(out, name)) for name in MODELS}
    best = {name: max(_accuracies(out, name)) for name in MODELS}
    assert 22.0 < np.mean(_accuracies(out, "logistic")) < 42.0
    assert worst["mlp"] > best["logistic"] + 10.0
    assert worst["cnn"] > best["mlp"] and worst["gru"] > best["mlp"]


def test_parameter_counts_follow_the_architectures(quick_study, study_module):
    out, _ = quick_study
    config = study_module.QUICK
    params = {run["model"]: int(run["params"]) for run in _rows(out / "runs.csv")}
    h1, h2 = config.mlp_hidden
    c, h = config.cnn_channels, config.rnn_hidden
    assert params["logistic"] == 40 * 10 + 10
    assert params["mlp"] == 41 * h1 + (h1 + 1) * h2 + (h2 + 1) * 10
    # Lengths 40 → 19 → 10 → 5 (stride 2, padding 1); 5·c features into Dense(10).
    assert params["cnn"] == (5 * c + c) + 2 * (3 * c * c + c) + (5 * c * 10 + 10)
    assert params["gru"] == 3 * h * (1 + h) + 2 * 3 * h + (40 * h * 10 + 10)
    assert params["lstm"] == 4 * h * (1 + h) + 4 * h + (40 * h * 10 + 10)


@pytest.mark.parametrize("name", MODELS)
def test_models_map_sequences_to_ten_logits(study_module, name):
    model = study_module.build(name, study_module.QUICK)
    x = np.zeros((3, 40, 1), np.float32)
    params, state = model.init(jax.random.key(0), x)
    logits, _ = model.apply(params, state, x)
    assert logits.shape == (3, 10)


def test_build_rejects_an_unknown_model(study_module):
    with pytest.raises(ValueError, match="unknown model 'rnn'"):
        study_module.build("rnn", study_module.QUICK)


@pytest.mark.parametrize(
    ("measured", "paper", "gap"), [(93.5, 94.0, -0.5), (97.7, 91.0, 6.7), (50.0, None, None)]
)
def test_paper_gap_is_measured_minus_paper(study_module, measured, paper, gap):
    result = study_module.paper_gap(measured, paper)
    assert result == (None if gap is None else pytest.approx(gap))


def test_markdown_table_is_printed(quick_study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    for name in MODELS:
        assert f"\n| {name} | " in table


def test_study_rejects_zero_seeds():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--seeds", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "must be ≥ 1" in completed.stderr

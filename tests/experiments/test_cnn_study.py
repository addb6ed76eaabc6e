"""The CNN study (experiments/cnn/run.py) end to end, in its --quick mode."""

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "cnn"
PNGS = ["filters.png", "feature_maps.png", "accuracy.png"]
TABLES = ["table.md", "table.csv", "runs.csv"]
MODELS = ["cnn", "mlp", "mlp_matched"]
TABLE_COLUMNS = [
    "model",
    "architecture",
    "params",
    "test_accuracy_percent",
    "test_accuracy_std",
    "final_train_loss",
    "seeds",
]


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path, for its QUICK configuration and helpers."""
    spec = importlib.util.spec_from_file_location("cnn_study_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn_study")
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


def _table(out):
    return {row["model"]: row for row in _rows(out / "table.csv")}


def test_quick_study_writes_every_output_and_small_pngs(quick_study):
    out, _ = quick_study
    for name in TABLES:
        assert (out / name).stat().st_size > 0, name
    for name in PNGS:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000, name


def test_table_has_the_documented_columns_and_a_row_per_model(quick_study, study_module):
    out, _ = quick_study
    with (out / "table.csv").open() as file:
        assert next(csv.reader(file)) == TABLE_COLUMNS
    rows = _rows(out / "table.csv")
    assert [row["model"] for row in rows] == MODELS
    assert all(int(row["seeds"]) == study_module.QUICK.seeds for row in rows)


def test_parameter_counts_follow_the_architectures(quick_study, study_module):
    out, _ = quick_study
    table = _table(out)
    (c1, c2), k = study_module.QUICK.filters, study_module.QUICK.kernel_size
    # 8×8 digits: two 2×2 poolings leave 2×2×c2 features for the Dense layer.
    cnn = (k * k * 1 * c1 + c1) + (k * k * c1 * c2 + c2) + (2 * 2 * c2 * 10 + 10)
    assert int(table["cnn"]["params"]) == cnn
    (hidden,) = study_module.QUICK.mlp_hidden
    assert int(table["mlp"]["params"]) == 65 * hidden + (hidden + 1) * 10
    width = study_module.matched_width(cnn, 64, 10)
    assert table["mlp_matched"]["architecture"] == f"64-{width}-10"
    assert int(table["mlp_matched"]["params"]) == 65 * width + (width + 1) * 10


def test_table_means_are_the_means_of_the_seeds(quick_study, study_module):
    out, _ = quick_study
    runs = _rows(out / "runs.csv")
    for name, row in _table(out).items():
        mine = [float(run["test_accuracy_percent"]) for run in runs if run["model"] == name]
        assert len(mine) == study_module.QUICK.seeds
        assert np.mean(mine) == pytest.approx(float(row["test_accuracy_percent"]), abs=2e-3)
        assert np.std(mine) == pytest.approx(float(row["test_accuracy_std"]), abs=2e-3)
        assert all(0.0 <= value <= 100.0 for value in mine)


def test_weight_sharing_beats_a_dense_layer_of_the_same_size(quick_study):
    # The claim the quick data already shows: with about the same number of parameters,
    # the CNN is more accurate than the MLP, on every seed, and far above chance.
    out, _ = quick_study
    runs = _rows(out / "runs.csv")

    def accuracies(name):
        return [float(run["test_accuracy_percent"]) for run in runs if run["model"] == name]

    table = _table(out)
    assert abs(int(table["mlp_matched"]["params"]) / int(table["cnn"]["params"]) - 1) < 0.1
    assert min(accuracies("cnn")) > max(accuracies("mlp_matched"))
    assert min(accuracies("cnn")) > 80.0


def test_markdown_table_is_printed(quick_study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    for name in MODELS:
        assert f"\n| {name} | " in table


@pytest.mark.parametrize(
    ("params", "inputs", "width"), [(11_274, 784, 14), (666, 64, 9), (10, 784, 1)]
)
def test_matched_width_gives_the_closest_parameter_count(study_module, params, inputs, width):
    assert study_module.matched_width(params, inputs, 10) == width
    count = lambda h: (inputs + 1) * h + (h + 1) * 10  # noqa: E731
    assert all(abs(count(width) - params) <= abs(count(h) - params) for h in range(1, 40))


def test_matched_width_rejects_fewer_parameters_than_classes(study_module):
    with pytest.raises(ValueError, match="params must be ≥ classes"):
        study_module.matched_width(5, 784, 10)


def test_feature_maps_are_the_layers_outputs(study_module):
    config = study_module.QUICK
    model = study_module.build_cnn(config)
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    params, state = model.init(jax.random.key(0), x)
    ts = type("State", (), {"params": params, "state": state})()
    conv1, conv2 = study_module.feature_maps(model, ts, x)
    assert conv1.shape == (2, 8, 8, config.filters[0])
    assert conv2.shape == (2, 4, 4, config.filters[1])
    # conv1 + ReLU by hand: a SAME cross-correlation with the first kernel.
    w, b = np.asarray(params["0"]["w"]), np.asarray(params["0"]["b"])
    k = config.kernel_size
    padded = np.pad(x[..., 0], ((0, 0), (k // 2, k // 2), (k // 2, k // 2)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(1, 2))
    expected = np.maximum(np.einsum("nijpq,pqo->nijo", windows, w[:, :, 0, :]) + b, 0.0)
    np.testing.assert_allclose(conv1, expected, rtol=1e-5, atol=1e-5)
    assert (conv2 >= 0).all()


def test_study_rejects_zero_seeds():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--seeds", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "must be ≥ 1" in completed.stderr

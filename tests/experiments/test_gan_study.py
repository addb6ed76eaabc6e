"""The GAN study (experiments/gan/run.py) end to end in its --quick mode, and its measures."""

import csv
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "gan"
ROWS = ["real_images", "untrained_mlp_generator", "untrained_dcgan_generator", "mlp_gan", "dcgan"]
COLUMNS = [
    "model",
    "seeds",
    "confident_share",
    "confident_share_std",
    "class_entropy",
    "class_entropy_std",
    "frechet_distance",
    "frechet_distance_std",
]
PNGS = ["samples_mlp_gan.png", "samples_dcgan.png", "losses.png", "quality.png"]


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan_study")
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out, completed


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("gan_study_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def _rows(path):
    with path.open() as file:
        return {row["model"]: row for row in csv.DictReader(file)}


def test_quick_study_writes_small_pngs_and_its_tables(quick_study):
    out, _ = quick_study
    for name in PNGS:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000, name
    for name in ("table.md", "table.csv", "history_mlp_gan.csv", "history_dcgan.csv"):
        assert (out / name).stat().st_size > 0, name


def test_table_has_a_row_per_model_and_the_documented_columns(quick_study):
    out, _ = quick_study
    with (out / "table.csv").open() as file:
        reader = csv.DictReader(file)
        rows = list(reader)
    assert reader.fieldnames == COLUMNS
    assert [row["model"] for row in rows] == ROWS
    assert all(row["seeds"] == "1" for row in rows)


def test_measures_are_finite_and_in_their_ranges(quick_study):
    out, _ = quick_study
    for name, row in _rows(out / "table.csv").items():
        share, entropy, distance = (float(row[m]) for m in COLUMNS[2::2])
        assert 0 <= share <= 1, name
        assert 0 <= entropy <= math.log(10) + 1e-9, name
        assert math.isfinite(distance) and distance >= 0, name
        assert float(row["frechet_distance_std"]) == 0.0  # one seed


def test_real_images_score_far_better_than_untrained_generators(quick_study):
    out, _ = quick_study
    rows = _rows(out / "table.csv")
    real = rows["real_images"]
    for untrained in ("untrained_mlp_generator", "untrained_dcgan_generator"):
        assert float(real["frechet_distance"]) * 5 < float(rows[untrained]["frechet_distance"])
        assert float(real["class_entropy"]) > float(rows[untrained]["class_entropy"])
    # The digits test set is balanced: its predicted classes cover all ten nearly evenly.
    assert float(real["class_entropy"]) > 2.0


def test_histories_log_both_players_and_the_measures_per_epoch(quick_study, study):
    out, _ = quick_study
    for name, epochs in (("mlp_gan", study.QUICK.mlp_epochs), ("dcgan", study.QUICK.dc_epochs)):
        with (out / f"history_{name}.csv").open() as file:
            rows = list(csv.DictReader(file))
        assert [int(row["epoch"]) for row in rows] == list(range(epochs))
        assert set(rows[0]) == {
            "epoch",
            "d_loss",
            "g_loss",
            "d_real",
            "d_fake",
            "confident_share",
            "class_entropy",
            "frechet_distance",
        }
        for row in rows:
            assert 0 < float(row["d_real"]) < 1 and 0 < float(row["d_fake"]) < 1
            assert math.isfinite(float(row["d_loss"])) and math.isfinite(float(row["g_loss"]))


def test_markdown_table_is_printed_with_every_model(quick_study, study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    assert all(f"| {study.TITLES[row]} |" in table for row in ROWS)
    assert "min in all" in completed.stdout


def test_frechet_distance_of_one_dimensional_samples_is_the_closed_form(study):
    rng = np.random.default_rng(0)
    a, b = rng.normal(3.0, 0.5, size=(400, 1)), rng.normal(1.0, 2.0, size=(300, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert study.frechet_distance(a, b) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_equals_the_scipy_sqrtm_formula(study):
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6)) + 0.5
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy_linalg.sqrtm(cov_a @ cov_b).real
    expected = (
        np.sum((a.mean(0) - b.mean(0)) ** 2)
        + np.trace(cov_a)
        + np.trace(cov_b)
        - 2 * np.trace(root)
    )
    assert study.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert study.frechet_distance(b, a) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_of_a_set_with_itself_is_zero(study):
    a = np.random.default_rng(2).normal(size=(200, 8))
    assert study.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="expected"):
        study.frechet_distance(a, a[:, :3])


def test_class_entropy_spans_zero_to_log_ten(study):
    assert study.class_entropy(np.arange(1000) % 10) == pytest.approx(math.log(10))
    assert study.class_entropy(np.full(50, 3)) == 0.0
    assert study.class_entropy(np.array([0, 1])) == pytest.approx(math.log(2))


def test_committed_results_have_every_model_and_show_the_gans_learning():
    rows = _rows(STUDY / "results" / "table.csv")
    assert list(rows) == ROWS
    distance = {name: float(row["frechet_distance"]) for name, row in rows.items()}
    for gan, untrained in (
        ("mlp_gan", "untrained_mlp_generator"),
        ("dcgan", "untrained_dcgan_generator"),
    ):
        assert distance["real_images"] < distance[gan] < distance[untrained]
    for name in PNGS:
        content = (STUDY / "results" / name).read_bytes()
        assert content.startswith(b"\x89PNG") and len(content) < 300_000, name


def test_study_rejects_zero_seeds():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--seeds", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "must be ≥ 1" in completed.stderr

"""The autoencoder study (experiments/autoencoder/run.py) end to end, in its --quick mode
(scikit-learn's 8×8 digits, offline)."""

import csv
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxdl import data

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "autoencoder"
PNGS = ["reconstructions.png", "code_space.png", "error_vs_code_size.png", "denoising.png"]
COLUMNS = [
    "model",
    "code_size",
    "train_noise",
    "test_noise",
    "params",
    "test_mse_mean",
    "test_mse_std",
    "seeds",
]
# --quick: dense codes 2 and 16; the denoising (masking 0.5) and conv models at 16.
CODE_SIZES = [2, 16]
CODE = 16
LEVELS = [0.0, 0.5]
TRAINED = ["dense", "dense_denoising_0.5", "conv"]


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("autoencoder_study")
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out, completed


@pytest.fixture(scope="module")
def rows(quick_study):
    out, _ = quick_study
    with (out / "table.csv").open() as file:
        return list(csv.DictReader(file))


def _mse(rows, model, code, test_noise=0.0):
    [row] = [
        r
        for r in rows
        if r["model"] == model
        and int(r["code_size"]) == code
        and float(r["test_noise"]) == test_noise
    ]
    return float(row["test_mse_mean"])


@pytest.fixture(scope="module")
def mean_image_mse():
    """The trivial baseline, computed here: predict the mean training image for every test
    image of the digits split the study uses."""
    digits = data.digits(flatten=True)
    return float(np.mean((digits.x_test - digits.x_train.mean(axis=0)) ** 2))


def test_every_output_exists_and_pngs_are_small_pngs(quick_study):
    out, _ = quick_study
    for name in ["table.md", "table.csv", *PNGS]:
        assert (out / name).stat().st_size > 0, name
    for name in PNGS:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000, name


def test_table_has_the_expected_columns_and_rows(rows):
    assert list(rows[0]) == COLUMNS
    keys = {(r["model"], int(r["code_size"]), float(r["test_noise"])) for r in rows}
    expected = {("mean_image", 0, 0.0)}
    expected |= {(model, code, 0.0) for model in ("pca", "dense") for code in CODE_SIZES}
    expected |= {(model, CODE, level) for model in TRAINED for level in LEVELS}
    assert keys == expected and len(rows) == len(expected)


def test_trained_rows_state_one_seed_and_a_zero_spread(rows):
    for row in rows:
        if row["model"] in ("mean_image", "pca"):
            assert row["seeds"] == row["test_mse_std"] == ""
        else:
            assert int(row["seeds"]) == 1 and float(row["test_mse_std"]) == 0.0


def test_mean_image_row_matches_the_baseline_computed_here(rows, mean_image_mse):
    assert _mse(rows, "mean_image", 0) == pytest.approx(mean_image_mse, rel=1e-4)


def test_clean_reconstruction_errors_are_finite_and_beat_the_mean_image(rows, mean_image_mse):
    for row in rows:
        if float(row["test_noise"]) == 0 and row["model"] != "mean_image":
            value = float(row["test_mse_mean"])
            assert np.isfinite(value) and 0 < value < mean_image_mse, row


def test_larger_codes_do_not_reconstruct_much_worse(rows):
    errors = [_mse(rows, "dense", code) for code in CODE_SIZES]
    for smaller, larger in itertools.pairwise(errors):
        assert larger < 1.1 * smaller
    assert errors[-1] < 0.6 * errors[0]  # 16 units reconstruct far better than 2
    pca = [_mse(rows, "pca", code) for code in CODE_SIZES]
    assert pca == sorted(pca, reverse=True)  # PCA's error strictly falls with k


def test_models_trained_on_clean_images_reconstruct_masked_ones_worse(rows):
    # (Not asserted for the denoising models: trained on masked inputs only, they can do
    # worse on clean inputs, which have more ink than any input they saw.)
    for model in ("dense", "conv"):
        errors = [_mse(rows, model, CODE, level) for level in LEVELS]
        assert errors == sorted(errors) and errors[-1] > 1.5 * errors[0], model


def test_denoising_autoencoders_beat_the_plain_one_on_heavily_masked_inputs(rows):
    assert _mse(rows, "dense_denoising_0.5", CODE, 0.5) < _mse(rows, "dense", CODE, 0.5)


def test_parameter_counts_match_the_architectures(rows):
    params = {(r["model"], int(r["code_size"])): int(r["params"]) for r in rows}
    hidden = 32  # --quick's dense 64-32-k-32-64
    for code in CODE_SIZES:
        encoder = (64 * hidden + hidden) + (hidden * code + code)
        decoder = (code * hidden + hidden) + (hidden * 64 + 64)
        assert params["dense", code] == encoder + decoder
        assert params["pca", code] == code * 64 + 64
    assert params["dense_denoising_0.5", CODE] == params["dense", CODE]  # masking: no params
    # conv: 3×3 convs 1→8→16 (8×8 → 4×4 → 2×2), Dense(64→16), Dense(16→64), transposed 16→8→1.
    conv = (
        (9 * 8 + 8)
        + (9 * 8 * 16 + 16)
        + (64 * CODE + CODE)
        + (CODE * 64 + 64)
        + (9 * 16 * 8 + 8)
        + (9 * 8 + 1)
    )
    assert params["conv", CODE] == conv


def test_markdown_table_is_printed_and_lists_every_model(quick_study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    for code in CODE_SIZES:
        assert f"\n| {code} | " in table
    for model in TRAINED:
        assert f"\n| {model} | " in table


def test_study_rejects_zero_seeds():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--quick", "--seeds", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "must be ≥ 1" in completed.stderr

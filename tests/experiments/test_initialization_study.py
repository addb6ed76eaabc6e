"""The initialisation study (experiments/initialization/run.py) end to end, in its --quick
mode, and its helpers."""

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxdl import activations, initializers

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "initialization"
PNGS = ["training_curves.png", "activation_std.png"]
TABLES = ["table.md", "table.csv", "runs.csv", "activation_std.csv"]
TABLE_COLUMNS = [
    "init",
    "activation",
    "matched",
    "train_accuracy_percent",
    "train_accuracy_std",
    "test_accuracy_percent",
    "test_accuracy_std",
    "train_loss",
    "std_first_hidden",
    "std_last_hidden",
    "hidden_rank",
    "full_rank",
    "unit_spread",
    "diverged",
    "seeds",
]


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path, for its QUICK configuration and helpers."""
    spec = importlib.util.spec_from_file_location("initialization_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("initialization_study")
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


def _by_pair(out):
    return {(row["init"], row["activation"]): row for row in _rows(out / "table.csv")}


def test_quick_study_writes_small_pngs_and_tables(quick_study):
    out, _ = quick_study
    for name in TABLES:
        assert (out / name).stat().st_size > 0, name
    for name in PNGS:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000, name


def test_table_has_a_row_per_init_and_activation(quick_study, study_module):
    out, _ = quick_study
    with (out / "table.csv").open() as file:
        assert next(csv.reader(file)) == TABLE_COLUMNS
    quick = study_module.QUICK
    rows = _rows(out / "table.csv")
    assert [(row["init"], row["activation"]) for row in rows] == [
        (init, activation) for activation in quick.activations for init in quick.inits
    ]
    for row in rows:
        assert int(row["seeds"]) == quick.seeds
        assert int(row["full_rank"]) == quick.width
        matched = (row["init"], row["activation"]) in study_module.MATCHED
        assert row["matched"] == (
            "yes" if matched else "no" if row["init"] in ("glorot", "he") else "—"
        )


def test_table_means_are_the_means_of_the_seeds(quick_study):
    out, _ = quick_study
    runs = _rows(out / "runs.csv")
    for (init, activation), row in _by_pair(out).items():
        mine = [r for r in runs if (r["init"], r["activation"]) == (init, activation)]
        assert int(row["diverged"]) == sum(int(r["diverged"]) for r in mine)
        finite = [float(r["test_accuracy_percent"]) for r in mine if r["diverged"] == "0"]
        if finite:
            assert np.mean(finite) == pytest.approx(float(row["test_accuracy_percent"]), abs=2e-3)
            assert 0 <= float(row["test_accuracy_percent"]) <= 100
        std_first = [float(r["std_first_hidden"]) for r in mine]
        assert np.mean(std_first) == pytest.approx(float(row["std_first_hidden"]), rel=1e-4)


def test_activation_std_per_layer_matches_the_table(quick_study, study_module):
    out, _ = quick_study
    quick = study_module.QUICK
    stds = _rows(out / "activation_std.csv")
    assert len(stds) == len(quick.inits) * len(quick.activations) * quick.seeds * (quick.depth - 1)
    for (init, activation), row in _by_pair(out).items():
        last = [
            float(r["std"])
            for r in stds
            if (r["init"], r["activation"]) == (init, activation)
            and int(r["layer"]) == quick.depth - 1
        ]
        assert np.mean(last) == pytest.approx(float(row["std_last_hidden"]), rel=1e-4)


def test_zeros_never_break_the_symmetry(quick_study):
    out, _ = quick_study
    for (init, _), row in _by_pair(out).items():
        if init == "zeros":
            # tanh(0) = relu(0) = 0: no hidden weight ever gets a gradient.
            assert float(row["unit_spread"]) == 0.0 and float(row["hidden_rank"]) == 0
            assert float(row["std_first_hidden"]) == 0.0
        elif init in ("glorot", "he"):
            assert float(row["hidden_rank"]) == float(row["full_rank"])


def test_small_init_collapses_he_preserves_and_large_explodes_for_relu(quick_study):
    out, _ = quick_study
    table = _by_pair(out)

    def shrink(init):
        row = table[(init, "relu")]
        return float(row["std_last_hidden"]) / float(row["std_first_hidden"])

    # U(−0.05, 0.05) with 64 or 32 inputs multiplies the spread by ≈ 0.2 per layer.
    assert shrink("uniform") < 1e-2
    assert 0.5 < shrink("he") < 2
    assert shrink("large") > 50
    assert shrink("glorot") < shrink("he")


def test_matched_inits_train_and_zeros_do_not(quick_study):
    out, _ = quick_study
    table = _by_pair(out)
    chance = 100 / 10
    for pair in (("glorot", "tanh"), ("he", "relu")):
        assert float(table[pair]["test_accuracy_percent"]) > 5 * chance, pair
    for activation in ("tanh", "relu"):
        assert float(table[("zeros", activation)]["test_accuracy_percent"]) < 2 * chance


def test_markdown_table_is_printed(quick_study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    assert "\n| zeros | tanh | — | " in table and "\n| he | relu | yes | " in table


def test_unit_spread_is_zero_exactly_for_identical_units(study_module):
    kernel = np.tile(np.array([[0.5], [-1.0], [2.0]]), (1, 4))
    assert study_module.unit_spread(kernel) == 0.0
    kernel[1, 3] += 0.25
    assert study_module.unit_spread(kernel) == 0.25


def test_kernel_rank_of_identical_columns_is_one_and_nan_for_nan(study_module):
    assert study_module.kernel_rank(np.tile(np.arange(1.0, 4.0)[:, None], (1, 5))) == 1
    assert study_module.kernel_rank(np.eye(3)) == 3
    assert np.isnan(study_module.kernel_rank(np.full((2, 2), np.nan)))


def test_activation_stds_are_the_std_of_each_hidden_output(study_module):
    model = study_module.mlp(3, 6, activations.tanh, initializers.he_normal())
    x = jax.random.normal(jax.random.key(0), (20, 5))
    params, state = model.init(jax.random.key(1), x)
    h1 = np.tanh(np.asarray(x) @ params["0"]["w"] + params["0"]["b"])
    h2 = np.tanh(h1 @ params["2"]["w"] + params["2"]["b"])
    stds = study_module.activation_stds(model, params, state, x)
    np.testing.assert_allclose(stds, [h1.std(), h2.std()], rtol=1e-5)


def test_mlp_uses_the_kernel_init_it_is_given(study_module):
    model = study_module.mlp(4, 8, activations.relu, initializers.zeros)
    params, _ = model.init(jax.random.key(2), np.ones((1, 3), np.float32))
    dense = [name for name in model.names if "w" in params[name]]
    assert len(dense) == 4
    assert all(not np.asarray(params[name]["w"]).any() for name in dense)


def test_padded_curve_fills_missing_epochs_with_nan(study_module):
    np.testing.assert_array_equal(study_module._padded([1.0], 3), [1.0, np.nan, np.nan])


def test_study_rejects_zero_seeds():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--seeds", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "must be ≥ 1" in completed.stderr


@pytest.mark.parametrize(
    "argument",
    [
        ["--inits", "orthogonal"],
        ["--activations", "elu"],
        ["--depth", "1"],
        ["--learning-rate", "0"],
        ["--epochs", "0"],
    ],
)
def test_study_rejects_bad_arguments(study_module, argument, capsys):
    with pytest.raises(SystemExit) as exit_info:
        study_module.main([*argument, "--quick"])
    assert exit_info.value.code == 2
    assert argument[0] in capsys.readouterr().err

"""The vanishing-gradients study (experiments/vanishing_gradients/run.py) end to end, in
its --quick mode, and its helpers."""

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, initializers, losses, nn

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "vanishing_gradients"
PNGS = ["grad_norms.png", "grad_ratio.png", "dead_relus.png"]
TABLES = ["table.md", "table.csv", "dead_relus.csv", "grad_norms.csv", "dead_runs.csv"]
TABLE_COLUMNS = [
    "network",
    "activation",
    "init",
    "layers",
    "grad_first_init",
    "grad_last_init",
    "ratio_init_mean",
    "ratio_init_std",
    "ratio_final_mean",
    "ratio_final_std",
    "train_loss",
    "train_accuracy_percent",
    "diverged",
    "seeds",
]
DEAD_COLUMNS = [
    "scale",
    "learning_rate",
    "dead_init_percent",
    "dead_init_std",
    "dead_percent",
    "dead_std",
    "train_loss",
    "train_accuracy_percent",
    "diverged",
    "seeds",
]


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path, for its QUICK configuration and helpers."""
    spec = importlib.util.spec_from_file_location("vanishing_gradients_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("vanishing_gradients_study")
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


def test_quick_study_writes_small_pngs_and_tables(quick_study):
    out, _ = quick_study
    for name in TABLES:
        assert (out / name).stat().st_size > 0, name
    for name in PNGS:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000, name


def test_gradient_table_has_a_row_per_quick_network(quick_study, study_module):
    out, _ = quick_study
    with (out / "table.csv").open() as file:
        assert next(csv.reader(file)) == TABLE_COLUMNS
    rows = _rows(out / "table.csv")
    quick = study_module.QUICK
    assert [row["network"] for row in rows] == list(quick.networks)
    for row in rows:
        assert int(row["layers"]) == quick.depth and int(row["seeds"]) == quick.seeds
        assert int(row["diverged"]) == 0
        assert 0 <= float(row["train_accuracy_percent"]) <= 100


def test_table_ratio_is_the_mean_of_the_per_seed_norm_ratios(quick_study, study_module):
    out, _ = quick_study
    quick = study_module.QUICK
    norms = _rows(out / "grad_norms.csv")
    assert len(norms) == len(quick.networks) * quick.seeds * (quick.epochs + 1) * quick.depth
    for row in _rows(out / "table.csv"):
        ratios = []
        for seed in range(quick.seeds):
            at_init = {
                int(r["layer"]): float(r["grad_norm"])
                for r in norms
                if r["network"] == row["network"] and int(r["seed"]) == seed and r["epoch"] == "0"
            }
            assert sorted(at_init) == list(range(1, quick.depth + 1))
            ratios.append(at_init[1] / at_init[quick.depth])
        assert np.mean(ratios) == pytest.approx(float(row["ratio_init_mean"]), rel=1e-3)


def test_sigmoid_gradients_vanish_towards_the_input_and_relu_he_ones_do_not(quick_study):
    out, _ = quick_study
    ratio = {row["network"]: float(row["ratio_init_mean"]) for row in _rows(out / "table.csv")}
    # Each sigmoid layer multiplies the backward signal by at most 1/4 times ‖W‖:
    # over 5 layers the first-layer gradient is orders of magnitude below the last's.
    assert ratio["sigmoid"] < 1e-2
    assert 0.3 < ratio["relu_he"] < 10
    assert ratio["relu_he"] > 100 * ratio["sigmoid"]


def test_dead_table_covers_the_quick_grid_and_a_large_rate_kills_more_units(
    quick_study, study_module
):
    out, _ = quick_study
    with (out / "dead_relus.csv").open() as file:
        assert next(csv.reader(file)) == DEAD_COLUMNS
    rows = _rows(out / "dead_relus.csv")
    quick = study_module.QUICK
    assert [(float(r["scale"]), float(r["learning_rate"])) for r in rows] == [
        (scale, rate) for scale in quick.scales for rate in quick.learning_rates
    ]
    runs = _rows(out / "dead_runs.csv")
    assert len(runs) == len(rows) * quick.seeds
    for row in rows:
        assert int(row["diverged"]) == 0
        mine = [
            float(r["dead_percent"])
            for r in runs
            if (r["scale"], r["learning_rate"]) == (row["scale"], row["learning_rate"])
        ]
        assert np.mean(mine) == pytest.approx(float(row["dead_percent"]), abs=2e-3)
        assert 0 <= float(row["dead_percent"]) <= 100
    dead = {float(r["learning_rate"]): float(r["dead_percent"]) for r in rows}
    low, high = min(quick.learning_rates), max(quick.learning_rates)
    assert dead[high] > dead[low] + 20


def test_markdown_table_is_printed(quick_study, study_module):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    for name in study_module.QUICK.networks:
        assert f"\n| {name} | " in table


def test_dead_units_are_those_zero_for_every_input(study_module):
    outputs = jnp.array([[0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, -0.0]])
    assert study_module.dead_units(outputs).tolist() == [True, False, False, True]


def test_dead_fractions_count_units_with_no_positive_preactivation(study_module):
    model = study_module.mlp(3, 4, activations.relu)
    x = jax.random.uniform(jax.random.key(0), (16, 3))
    params, state = model.init(jax.random.key(1), x)
    # Unit 0 of the first hidden layer gets a bias that no input can overcome, unit 1
    # a bias that keeps it positive: exactly one dead unit there (if no other is).
    w = params["0"]["w"]
    params["0"]["b"] = params["0"]["b"].at[0].set(-10.0).at[1].set(10.0)
    z = x @ w + params["0"]["b"]
    expected_first = float(jnp.mean(jnp.all(z <= 0, axis=0)))
    fractions = study_module.dead_fractions(model, params, state, x)
    assert fractions.shape == (2,)
    assert float(fractions[0]) == pytest.approx(expected_first)
    assert expected_first >= 0.25


def test_dead_units_at_init_do_not_depend_on_the_he_scale(study_module):
    # Zero biases make the ReLU network positively homogeneous in each layer's weights:
    # scaling every kernel scales every pre-activation, never changing its sign.
    x = jax.random.uniform(jax.random.key(2), (64, 8))
    fractions = []
    for scale in (0.25, 1.0, 4.0):
        model = study_module.mlp(6, 8, activations.relu, study_module.he_scaled(scale))
        params, state = model.init(jax.random.key(3), x)
        fractions.append(np.asarray(study_module.dead_fractions(model, params, state, x)))
    assert fractions[0].sum() > 0
    np.testing.assert_array_equal(fractions[0], fractions[1])
    np.testing.assert_array_equal(fractions[0], fractions[2])


def test_he_scaled_one_is_he_normal_and_scales_the_std(study_module):
    assert study_module.he_scaled(1.0) == initializers.he_normal()
    key = jax.random.key(4)
    base = study_module.he_scaled(1.0)(key, (64, 32))
    np.testing.assert_allclose(study_module.he_scaled(3.0)(key, (64, 32)), 3 * base, rtol=1e-6)


def test_gradient_norms_are_the_frobenius_norms_of_jax_grad(study_module):
    x = jax.random.normal(jax.random.key(5), (10, 4))
    y = jnp.arange(10) % 3
    model = study_module.mlp(3, 5, activations.tanh, num_classes=3)
    params, state = model.init(jax.random.key(6), x)
    norms = study_module.gradient_norms_fn(model)(params, state, x, y)

    def loss(p):
        return losses.softmax_cross_entropy(model.apply(p, state, x)[0], y)

    grads = jax.grad(loss)(params)
    dense = [name for name, layer in zip(model.names, model.layers) if isinstance(layer, nn.Dense)]
    expected = [np.sqrt(np.sum(np.square(grads[name]["w"]))) for name in dense]
    np.testing.assert_allclose(norms, expected, rtol=1e-5)


def test_first_to_last_divides_along_the_layer_axis(study_module):
    norms = np.array([[[2.0, 1.0, 4.0], [1.0, 1.0, 1.0]]])
    np.testing.assert_allclose(study_module.first_to_last(norms), [[0.5, 1.0]])


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
        ["--depth", "1"],
        ["--dead-depth", "1"],
        ["--scales", "-1"],
        ["--learning-rates", "0"],
        ["--networks", "elu"],
        ["--epochs", "0"],
    ],
)
def test_study_rejects_bad_arguments(study_module, argument, capsys):
    with pytest.raises(SystemExit) as exit_info:
        study_module.main([*argument, "--quick"])
    assert exit_info.value.code == 2
    assert argument[0] in capsys.readouterr().err

"""The activations study (experiments/activations/run.py) end to end, in its --quick mode."""

import csv
import doctest
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "activations"
COLUMNS = [
    "activation",
    "plotted_as",
    "range",
    "min",
    "max",
    "f_at_0",
    "df_at_0",
    "max_abs_df",
    "where_max_abs_df",
    "non_saturated_width",
    "saturated_width",
    "zero_centred",
    "normal_mean",
]


@pytest.fixture(scope="module")
def study_module():
    """run.py imported from its path, for its QUICK configuration and helpers."""
    spec = importlib.util.spec_from_file_location("activations_study_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("activations_study")
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
    with (quick_study[0] / "table.csv").open() as file:
        return {row["activation"]: row for row in csv.DictReader(file)}


def _spacing(module):
    return 2 * module.QUICK.limit / (module.QUICK.points - 1)


def test_figure_is_a_small_png(quick_study):
    content = (quick_study[0] / "activations.png").read_bytes()
    assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000


def test_table_has_the_documented_columns_and_a_row_per_activation(quick_study):
    out, _ = quick_study
    with (out / "table.csv").open() as file:
        reader = csv.reader(file)
        assert next(reader) == COLUMNS
        assert [row[0] for row in reader] == list(activations.__all__)


def test_widths_add_up_to_the_interval(rows, study_module):
    for row in rows.values():
        total = float(row["non_saturated_width"]) + float(row["saturated_width"])
        assert total == pytest.approx(2 * study_module.QUICK.limit, abs=2e-3), row


def test_values_lie_in_the_stated_range(rows, study_module):
    for name, row in rows.items():
        _, low, high = study_module.RANGES[name]
        assert low - 1e-4 <= float(row["min"]) <= float(row["max"]) <= high + 1e-4, row


def test_sigmoid_derivative_is_at_most_a_quarter_at_zero(rows):
    assert float(rows["sigmoid"]["max_abs_df"]) == pytest.approx(0.25, abs=1e-7)
    assert rows["sigmoid"]["where_max_abs_df"] == "z = 0"
    assert float(rows["tanh"]["df_at_0"]) == 1.0


@pytest.mark.parametrize(
    ("name", "half_width"),
    [
        # |σ'| = σ(1 − σ) ≥ 0.05·¼: σ ≥ p with p(1 − p) = 0.0125.
        ("sigmoid", math.log((1 + math.sqrt(0.95)) / (1 - math.sqrt(0.95)))),
        # 1 − tanh² ≥ 0.05: |z| ≤ artanh(√0.95).
        ("tanh", math.atanh(math.sqrt(0.95))),
        # z/(1 + |z|) has f' = 1/(1 + |z|)² ≥ 0.05: |z| ≤ √20 − 1.
        ("softsign", math.sqrt(20) - 1),
    ],
)
def test_saturating_functions_have_the_analytic_non_saturated_width(
    rows, study_module, name, half_width
):
    width = float(rows[name]["non_saturated_width"])
    assert width == pytest.approx(2 * half_width, abs=2 * _spacing(study_module))


def test_relu_family_saturates_on_the_negative_half_only(rows, study_module):
    limit = study_module.QUICK.limit
    for name in ("relu", "leaky_relu"):  # leaky: slope 0.01 < 5 % of 1
        assert float(rows[name]["non_saturated_width"]) == pytest.approx(limit, abs=0.02)
    assert float(rows["identity"]["non_saturated_width"]) == 2 * limit
    assert float(rows["step"]["non_saturated_width"]) == 0.0
    assert float(rows["step"]["max_abs_df"]) == 0.0


def test_exactly_the_odd_functions_are_zero_centred(rows):
    assert {name for name, row in rows.items() if row["zero_centred"] == "yes"} == {
        "identity",
        "softsign",
        "tanh",
    }


def test_mean_outputs_for_standard_normal_input(rows):
    assert float(rows["relu"]["normal_mean"]) == pytest.approx(1 / math.sqrt(2 * math.pi), abs=1e-4)
    assert float(rows["sigmoid"]["normal_mean"]) == pytest.approx(0.5, abs=1e-4)
    # SELU's constants make N(0, 1) inputs give mean-zero outputs.
    assert abs(float(rows["selu"]["normal_mean"])) < 1e-3
    assert float(rows["tanh"]["normal_mean"]) == pytest.approx(0.0, abs=1e-6)


def test_two_class_softmax_is_the_sigmoid(rows, study_module):
    for column in ("min", "max", "f_at_0", "max_abs_df", "non_saturated_width"):
        assert rows["softmax"][column] == rows["sigmoid"][column]
    function, plotted_as = study_module.scalar_function("softmax")
    z = jnp.linspace(-5, 5, 11)
    np.testing.assert_allclose(jax.vmap(function)(z), activations.sigmoid(z), rtol=1e-6)
    assert plotted_as == "softmax([z, 0])[0]"


def test_markdown_table_is_printed(quick_study):
    out, completed = quick_study
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    for name in activations.__all__:
        assert f"\n| {name} | " in table


def test_saturation_helpers(study_module):
    z = np.linspace(-1, 1, 201)
    df = np.where(np.abs(z) < 0.5, 1.0, 0.01)
    mask = study_module.saturated(df)
    assert study_module.measure(z, ~mask) == pytest.approx(1.0, abs=0.011)
    assert study_module.runs(~mask) == [(51, 149)]
    assert study_module.where_maximum(z, df) == "[-0.49, 0.49]"


def test_run_doctests(study_module):
    assert doctest.testmod(study_module).failed == 0


def test_study_rejects_an_even_number_of_points():
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--points", "100"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "--points must be odd" in completed.stderr

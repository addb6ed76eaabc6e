"""The DQN study (experiments/dqn/run.py) end to end, in its --quick mode."""

import csv
import importlib.util
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gymnax")

STUDY = Path(__file__).resolve().parents[2] / "experiments" / "dqn"
VARIANTS = ["double_dqn", "dqn", "no_target", "huber"]
PLOTS = ["return_vs_steps.png", "return_vs_wall_time.png"]
SUMMARY_KEYS = {
    "env",
    "seeds",
    "env_steps",
    "wall_s",
    "mean_return",
    "std_return",
    "variant",
    "per_seed_mean_return",
}


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("dqn_study")
    completed = subprocess.run(
        [sys.executable, str(STUDY / "run.py"), "--quick", "--seeds", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out, completed


@pytest.fixture(scope="module")
def study_module():
    spec = importlib.util.spec_from_file_location("dqn_study_run", STUDY / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def _rows(path):
    with path.open() as file:
        return list(csv.DictReader(file))


def test_quick_study_writes_every_output(quick_study):
    out, _ = quick_study
    for name in ["summary.json", "table.md", "table.csv", "curves.csv", *PLOTS]:
        assert (out / name).stat().st_size > 0, name
    for name in PLOTS:
        content = (out / name).read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) < 300_000, name


def test_summary_has_exactly_the_documented_keys_with_sane_values(quick_study, study_module):
    out, _ = quick_study
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == SUMMARY_KEYS
    assert set(study_module.SUMMARY_KEYS) <= set(summary)
    assert summary["env"] == "CartPole-v1"
    assert summary["seeds"] == 2 and summary["variant"] == study_module.HEADLINE
    quick = study_module.QUICK
    assert isinstance(summary["env_steps"], int)
    assert quick.env_steps - quick.num_envs * quick.chunks < summary["env_steps"] <= quick.env_steps
    assert isinstance(summary["wall_s"], float) and 0 < summary["wall_s"] < 300
    # CartPole returns lie in [1, 500]; the spread is the std of the per-seed means.
    assert 1 <= summary["mean_return"] <= 500 and math.isfinite(summary["mean_return"])
    per_seed = summary["per_seed_mean_return"]
    assert len(per_seed) == 2 and all(1 <= r <= 500 for r in per_seed)
    assert summary["mean_return"] == pytest.approx(sum(per_seed) / 2, abs=0.02)
    spread = abs(per_seed[0] - per_seed[1]) / 2
    assert summary["std_return"] == pytest.approx(spread, abs=0.02)


def test_table_has_every_variant(quick_study, study_module):
    out, completed = quick_study
    rows = _rows(out / "table.csv")
    assert list(rows[0]) == [
        "variant",
        "seeds",
        "mean_return",
        "std",
        "min_seed_return",
        "solved_seeds",
        "best_checkpoint_mean_return",
        "best_checkpoint_std",
        "env_steps",
        "wall_s",
    ]
    assert [row["variant"] for row in rows] == VARIANTS
    for row in rows:
        assert row["seeds"] == "2"
        assert 1 <= float(row["mean_return"]) <= 500 and float(row["std"]) >= 0
        assert float(row["min_seed_return"]) <= float(row["mean_return"]) + 1e-6
        assert 0 <= int(row["solved_seeds"]) <= 2
        assert 1 <= float(row["best_checkpoint_mean_return"]) <= 500
    table = (out / "table.md").read_text()
    assert table in completed.stdout
    for name in VARIANTS:
        assert f"\n| {name} | {study_module.VARIANTS[name][1]} | 2 | " in table


def test_headline_is_the_table_row_of_its_variant(quick_study, study_module):
    out, _ = quick_study
    summary = json.loads((out / "summary.json").read_text())
    row = next(r for r in _rows(out / "table.csv") if r["variant"] == study_module.HEADLINE)
    assert float(row["mean_return"]) == pytest.approx(summary["mean_return"], abs=0.01)
    assert int(row["env_steps"]) == summary["env_steps"]


def test_curves_have_every_variant_seed_and_chunk(quick_study, study_module):
    out, _ = quick_study
    rows = _rows(out / "curves.csv")
    chunks = study_module.QUICK.chunks
    assert len(rows) == len(VARIANTS) * 2 * chunks
    for name in VARIANTS:
        steps = [int(r["env_steps"]) for r in rows if r["variant"] == name and r["seed"] == "0"]
        assert steps == sorted(steps) and len(steps) == chunks
        seconds = [float(r["wall_s"]) for r in rows if r["variant"] == name and r["seed"] == "0"]
        assert all(b >= a > 0 for a, b in itertools.pairwise(seconds))
    assert all(1 <= float(r["greedy_return"]) <= 500 for r in rows)


def test_study_rejects_zero_seeds(study_module, capsys):
    with pytest.raises(SystemExit) as exit_info:
        study_module.main(["--seeds", "0"])
    assert exit_info.value.code == 2 and "must be ≥ 1" in capsys.readouterr().err

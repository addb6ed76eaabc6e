"""jaxdl/_xla.py: the default XLA flags of the ``jaxdl`` command, and when they apply."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from jaxdl import _xla, cli

ROOT = Path(__file__).resolve().parents[1]
YNN = "--xla_cpu_experimental_ynn_fusion_type=dot,eltwise,reduce"
TESTED = sorted(_xla.TESTED_JAXLIB)[0]


def apply(environ, **overrides):
    """apply_defaults on ``environ`` as if JAX had not started, on a tested jaxlib."""
    arguments = {"backends_started": False, "jaxlib_version": TESTED, **overrides}
    return _xla.apply_defaults(environ, **arguments)


def test_adds_the_flag_to_an_empty_environment():
    environ = {}
    assert apply(environ) == (YNN,)
    assert environ == {"XLA_FLAGS": YNN}


def test_appends_to_the_users_other_flags():
    environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2  --xla_dump_to=/tmp/x"}
    assert apply(environ) == (YNN,)
    assert environ["XLA_FLAGS"].split() == [
        "--xla_force_host_platform_device_count=2",
        "--xla_dump_to=/tmp/x",
        YNN,
    ]


@pytest.mark.parametrize("value", ["", "dot", "-dot"])
def test_a_flag_the_user_set_wins(value):
    environ = {"XLA_FLAGS": f"--xla_cpu_experimental_ynn_fusion_type={value}"}
    before = dict(environ)
    assert apply(environ) == ()
    assert environ == before


@pytest.mark.parametrize(
    ("value", "applies"), [("1", False), ("yes", False), ("0", True), ("", True)]
)
def test_opt_out_variable(value, applies):
    environ = {_xla.OPT_OUT: value}
    assert bool(apply(environ)) is applies
    assert ("XLA_FLAGS" in environ) is applies


def test_nothing_once_jax_has_started():
    environ = {}
    assert apply(environ, backends_started=True) == ()
    assert environ == {}


@pytest.mark.parametrize("version", ["0.10.2", "0.9.2", "0.11.0"])
def test_nothing_on_an_untested_jaxlib(version):
    # 0.10.2's YNN fusions miscompile; other versions may not know the flag, and XLA
    # aborts the process on a flag it does not know.
    environ = {}
    assert apply(environ, jaxlib_version=version) == ()
    assert environ == {}


def test_defaults_leave_this_started_process_alone(monkeypatch):
    jax.devices()  # make sure this process has started JAX
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.delenv(_xla.OPT_OUT, raising=False)
    assert _xla.apply_defaults() == ()
    assert "XLA_FLAGS" not in os.environ


def test_cli_main_applies_the_defaults_first(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(_xla, "apply_defaults", lambda: calls.append("applied") or ())
    assert cli.main([]) == 2
    assert calls == ["applied"]


def clean_environment(**extra):
    environ = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", _xla.OPT_OUT)}
    return {**environ, **extra}


def test_command_runs_with_the_flag_in_a_fresh_process():
    code = (
        "import os; from jaxdl import cli; "
        "code = cli.main(['summary', '--model', 'cnn', '--dataset', 'mnist']); "
        "print(code, repr(os.environ.get('XLA_FLAGS')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    status, flags = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert status == "0"
    expected = repr(YNN) if _xla._jaxlib_version() in _xla.TESTED_JAXLIB else "None"
    assert flags == expected


@pytest.mark.skipif(
    _xla._jaxlib_version() not in _xla.TESTED_JAXLIB, reason="the flags are not used on this jaxlib"
)
def test_jaxlib_regression_tests_pass_under_the_default_flags():
    # The miscompilation of jaxlib 0.10.2 comes from YNNPACK fusions: the flags jaxdl sets
    # must not bring it back on the jaxlib versions they are used with.
    environ = clean_environment(
        XLA_FLAGS=" ".join(f"{k}={v}" for k, v in _xla.DEFAULT_FLAGS.items())
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(ROOT / "tests" / "test_jaxlib_regression.py"),
        ],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout

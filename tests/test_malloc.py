"""jaxdl/_malloc.py: the allocator setting of the ``jaxdl`` command, and when it applies."""

import os
import subprocess
import sys

import pytest

from jaxdl import _malloc, cli

EVERY = tuple(f"{s.variable}={s.value}" for s in _malloc.SETTINGS)
VARIABLES = tuple(s.variable for s in _malloc.SETTINGS)


class FakeLibc:
    """Records ``mallopt`` calls; answers 1 (done) or, for refused parameters, 0."""

    def __init__(self, refuse=()):
        self.calls = []
        self.refuse = set(refuse)

    def mallopt(self, parameter, value):
        self.calls.append((parameter, value))
        return 0 if parameter in self.refuse else 1


def test_sets_both_thresholds_and_records_them_for_children():
    environ, libc = {}, FakeLibc()
    assert _malloc.keep_freed_memory(environ, libc=libc) == EVERY
    assert libc.calls == [(-3, 2**30), (-1, 2**31 - 1)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
    assert environ == {
        "MALLOC_MMAP_THRESHOLD_": "1073741824",
        "MALLOC_TRIM_THRESHOLD_": "2147483647",
    }


def test_a_threshold_the_user_set_wins():
    environ, libc = {"MALLOC_TRIM_THRESHOLD_": "0"}, FakeLibc()
    assert _malloc.keep_freed_memory(environ, libc=libc) == (EVERY[0],)
    assert libc.calls == [(-3, 2**30)]
    assert environ["MALLOC_TRIM_THRESHOLD_"] == "0"


@pytest.mark.parametrize(
    ("value", "applies"), [("1", False), ("yes", False), ("0", True), ("", True)]
)
def test_opt_out_variable(value, applies):
    environ, libc = {_malloc.OPT_OUT: value}, FakeLibc()
    assert bool(_malloc.keep_freed_memory(environ, libc=libc)) is applies
    assert bool(libc.calls) is applies


def test_a_refused_setting_is_not_reported_nor_recorded():
    environ, libc = {}, FakeLibc(refuse={-3})
    assert _malloc.keep_freed_memory(environ, libc=libc) == (EVERY[1],)
    assert "MALLOC_MMAP_THRESHOLD_" not in environ


def test_nothing_without_glibc(monkeypatch):
    monkeypatch.setattr(_malloc, "glibc", lambda: None)
    environ = {}
    assert _malloc.keep_freed_memory(environ) == ()
    assert environ == {}


def test_glibc_is_none_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert _malloc.glibc() is None


def test_cli_main_keeps_freed_memory_after_the_xla_defaults(monkeypatch):
    from jaxdl import _xla

    calls = []
    monkeypatch.setattr(_xla, "apply_defaults", lambda: calls.append("xla") or ())
    monkeypatch.setattr(_malloc, "keep_freed_memory", lambda: calls.append("malloc") or ())
    assert cli.main([]) == 2
    assert calls == ["xla", "malloc"]


# In a fresh process: malloc and free 64 MiB three times, writing every page, and count
# the page faults of the last round. glibc maps a block this large afresh each time (the
# first write to each 4 KiB page faults) unless the thresholds are raised.
FAULTS = """
import ctypes, json, resource, sys
from jaxdl import _malloc
made = _malloc.keep_freed_memory() if sys.argv[1] == "keep" else ()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = (ctypes.c_void_p,)
size = 64 << 20
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"made": made, "faults": faults}))
"""


def faults_in_fresh_process(mode):
    environ = {k: v for k, v in os.environ.items() if k not in (*VARIABLES, _malloc.OPT_OUT)}
    result = subprocess.run(
        [sys.executable, "-c", FAULTS, mode],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    import json

    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(_malloc.glibc() is None, reason="the setting applies to glibc only")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    pages = (64 << 20) // 4096
    default = faults_in_fresh_process("default")
    kept = faults_in_fresh_process("keep")
    assert default["made"] == []
    assert default["faults"] > pages // 2  # every round maps fresh pages
    assert kept["made"] == list(EVERY)
    assert kept["faults"] < pages // 100  # the block freed last round is reused

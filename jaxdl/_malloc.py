"""The memory-allocator setting that the ``jaxdl`` command makes at start-up; the library
itself makes none.

XLA:CPU allocates a program's temporary buffers on every execution and frees them when it
returns. glibc's ``malloc`` serves a request above its mmap threshold (at most 32 MiB,
however it adapts) with pages freshly mapped from the kernel and unmaps them on ``free``,
and it hands memory freed at the top of its heap back to the kernel above its trim
threshold. A training step whose temporaries are large therefore touches fresh pages
every time, and each first touch is a page fault that the kernel answers with a zeroed
page. The LeNet step of ``models.cnn()`` at batch 128 faulted about 15,000 times (some
58 MiB) per step and spent 31–38 ms of its 104–125 ms of CPU time in the kernel (2-core
AMD EPYC, jaxlib 0.10.1). With both thresholds raised, freed memory stays in the process
and the next step reuses it: no faults, 1–19 ms of kernel time, and the step took 49–62
against 63–77 ms, timed alone in fresh processes (``bench/RESULTS.md``). PyTorch's eager
step faults about as often and gains from the same setting too.

The cost is memory: the process keeps what it freed, so its resident size stays at the
highest it reached instead of shrinking between steps. That is the right trade for a
process that trains, which the ``jaxdl`` command is; a library imported into someone
else's program must not make it, so importing jaxdl changes nothing. ``jaxdl.cli.main``
calls :func:`keep_freed_memory` before it does anything else, and a script can call it
too, or set the environment variables of :data:`SETTINGS` before Python starts.

The settings are made only when all of these hold:

- ``JAXDL_NO_MALLOC_DEFAULTS`` is unset, empty or ``0`` (set it to ``1`` to opt out);
- the C library is glibc (Linux); elsewhere nothing changes;
- the user has not set that threshold's environment variable (the user's value, which
  glibc read at start-up, wins).

Each setting made is also written to the environment, so that processes started from this
one (the ``jaxdl study`` scripts) make it too.

Example:
    >>> from jaxdl import _malloc
    >>> class FakeLibc:  # records what would be set
    ...     calls = []
    ...     def mallopt(self, parameter, value):
    ...         self.calls.append((parameter, value))
    ...         return 1
    >>> environ = {}
    >>> _malloc.keep_freed_memory(environ, libc=FakeLibc())
    ('MALLOC_MMAP_THRESHOLD_=1073741824', 'MALLOC_TRIM_THRESHOLD_=2147483647')
    >>> FakeLibc.calls
    [(-3, 1073741824), (-1, 2147483647)]
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import MutableMapping
from typing import Any, NamedTuple

__all__ = ["OPT_OUT", "SETTINGS", "Setting", "glibc", "keep_freed_memory"]


class Setting(NamedTuple):
    """One ``mallopt`` parameter: its number in glibc's ``malloc.h``, the value set, and
    the environment variable through which glibc reads the same setting at start-up."""

    parameter: int
    value: int
    variable: str


# Requests up to 1 GiB come from the heap instead of fresh mappings, and up to 2 GiB - 1
# (mallopt takes a C int) of free memory at the heap's top stays in the process.
SETTINGS: tuple[Setting, ...] = (
    Setting(parameter=-3, value=2**30, variable="MALLOC_MMAP_THRESHOLD_"),  # M_MMAP_THRESHOLD
    Setting(parameter=-1, value=2**31 - 1, variable="MALLOC_TRIM_THRESHOLD_"),  # M_TRIM_THRESHOLD
)
# The environment variable that turns the setting off.
OPT_OUT = "JAXDL_NO_MALLOC_DEFAULTS"


def keep_freed_memory(
    environ: MutableMapping[str, str] | None = None, *, libc: Any = None
) -> tuple[str, ...]:
    """Raise glibc's mmap and trim thresholds (:data:`SETTINGS`) so that freed memory is
    reused instead of returned to the kernel and faulted in again.

    Arguments:
        environ: the environment to read and to record the settings in (default
            ``os.environ``).
        libc: an object with glibc's ``mallopt(parameter, value) -> int`` (default: this
            process's C library when it is glibc, see :func:`glibc`).

    Returns:
        The settings made, as ``VARIABLE=value`` strings: empty when the user opted out,
        the C library is not glibc, or the user set both variables.
    """
    environ = os.environ if environ is None else environ
    if environ.get(OPT_OUT, "").strip() not in ("", "0"):
        return ()
    libc = glibc() if libc is None else libc
    if libc is None:
        return ()
    made = []
    for setting in SETTINGS:
        if setting.variable in environ:
            continue
        if libc.mallopt(setting.parameter, setting.value) == 1:  # 0: glibc refused it
            environ[setting.variable] = str(setting.value)
            made.append(f"{setting.variable}={setting.value}")
    return tuple(made)


def glibc() -> Any:
    """This process's C library as a ``ctypes`` handle with ``mallopt`` typed, when it is
    glibc (which alone has ``gnu_get_libc_version``); otherwise ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")  # glibc's name on every Linux architecture
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it; musl raises here)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return libc

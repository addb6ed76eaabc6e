"""XLA flags that the ``jaxdl`` command sets by default; the library itself sets none.

XLA reads the ``XLA_FLAGS`` environment variable once, when JAX initialises its backends;
a change after that has no effect. Flags are the business of whoever owns the process,
so importing jaxdl changes nothing: only the ``jaxdl`` command (``jaxdl.cli.main``, which
owns its process) calls :func:`apply_defaults`, before JAX starts. A script can call it
the same way, as its first step.

The default, :data:`DEFAULT_FLAGS`: ``--xla_cpu_experimental_ynn_fusion_type=
dot,eltwise,reduce`` lets XLA:CPU hand matrix products fused with the elementwise work
around them, and reductions, to the YNNPACK library. The list replaces XLA's default one,
which in jaxlib 0.10.1 hands single matrix products and convolutions to YNNPACK, so under
the flag convolutions run on XLA's Eigen kernels instead: YNNPACK's weight gradient of a
convolution was more than twice as slow as Eigen's on LeNet's second convolution. On a
2-core x86-64 CPU with jaxlib 0.10.1 the flag cut the LeNet training step
(``models.cnn()``, batch 128) from 78 to 62 ms on a quiet machine (122 to 92 ms under
load), mostly in the convolutions' weight gradients, and the LSTM classifier's from 51 to
35 ms (the same within the noise under load), and left the MLP's step the same
(``bench/bench_cnn.py``, ``bench/bench_lstm.py``, ``bench/RESULTS.md``). Since
``nn.Conv2D`` computes LeNet's second convolution through the Fourier transform on the
CPU, its step takes 46–48 ms with or without the flag.
It changes nothing on other backends.

A flag is added only when all of these hold:

- ``JAXDL_NO_XLA_DEFAULTS`` is unset, empty or ``0`` (set it to ``1`` to opt out);
- JAX's backends are not initialised yet (afterwards the flag could not take effect);
- ``XLA_FLAGS`` does not name the flag already (a value the user set wins);
- the installed jaxlib is one the flag was tested with (:data:`TESTED_JAXLIB`): XLA
  aborts the process on a flag it does not know, and a jaxlib whose YNNPACK fusions
  miscompile (0.10.2 multiplies matrices by constants wrongly,
  ``tests/test_jaxlib_regression.py``) must not get more of them.

Example:
    >>> from jaxdl import _xla
    >>> environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    >>> _xla.apply_defaults(environ, backends_started=False, jaxlib_version="0.10.1")
    ('--xla_cpu_experimental_ynn_fusion_type=dot,eltwise,reduce',)
    >>> environ["XLA_FLAGS"].split()[-1]
    '--xla_cpu_experimental_ynn_fusion_type=dot,eltwise,reduce'
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import MutableMapping

__all__ = ["DEFAULT_FLAGS", "OPT_OUT", "TESTED_JAXLIB", "apply_defaults"]

# Flag name -> value, in the order they are appended to XLA_FLAGS.
DEFAULT_FLAGS: dict[str, str] = {
    "--xla_cpu_experimental_ynn_fusion_type": "dot,eltwise,reduce",
}
# jaxlib versions on which the default flags were measured and the test suite, with
# tests/test_jaxlib_regression.py, passes under them. Add a version only after checking.
TESTED_JAXLIB: frozenset[str] = frozenset({"0.10.1"})
# The environment variable that turns the defaults off.
OPT_OUT = "JAXDL_NO_XLA_DEFAULTS"


def apply_defaults(
    environ: MutableMapping[str, str] | None = None,
    *,
    backends_started: bool | None = None,
    jaxlib_version: str | None = None,
) -> tuple[str, ...]:
    """Append the flags of :data:`DEFAULT_FLAGS` that apply to ``environ["XLA_FLAGS"]``.

    Arguments:
        environ: the environment to change (default ``os.environ``).
        backends_started: whether JAX's backends are initialised (default: ask JAX).
        jaxlib_version: the installed jaxlib's version (default: read its metadata).

    Returns:
        The flags added, as ``name=value`` strings: empty when the user opted out, JAX has
        started, every flag is already set, or this jaxlib is not in :data:`TESTED_JAXLIB`.
    """
    environ = os.environ if environ is None else environ
    if environ.get(OPT_OUT, "").strip() not in ("", "0"):
        return ()
    if backends_started is None:
        backends_started = _backends_started()
    if jaxlib_version is None:
        jaxlib_version = _jaxlib_version()
    if backends_started or jaxlib_version not in TESTED_JAXLIB:
        return ()
    current = environ.get("XLA_FLAGS", "")
    named = {entry.split("=", 1)[0] for entry in current.split()}
    added = tuple(f"{name}={value}" for name, value in DEFAULT_FLAGS.items() if name not in named)
    if added:
        environ["XLA_FLAGS"] = " ".join([*current.split(), *added])
    return added


def _backends_started() -> bool:
    # JAX has no public query for this; if its private one moves, assume JAX has started
    # and leave the flags alone.
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):
        return True


def _jaxlib_version() -> str | None:
    try:
        return importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return None

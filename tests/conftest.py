"""Shared fixtures: float64 switched on for one test and restored after it, and the real
dataset files of ``shared/data`` when they are present."""

from __future__ import annotations

import os
from pathlib import Path

import jax
import pytest

from jaxdl.data import default_cache_dir


@pytest.fixture
def x64():
    """Enable float64 for the duration of one test, then restore the previous setting.

    The x64 switch is process-global; setting it without restoring it would leak float64
    into every test that runs afterwards.
    """
    previous = jax.config.read("jax_enable_x64")
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


def _find_shared_folder(name: str) -> Path | None:
    """The folder holding the four files of dataset ``name`` (``mnist``, ``fashion-mnist``):
    under ``$JAXDL_DATA_DIR`` (in a ``name/`` subfolder or directly), else in jaxdl's
    download cache (``~/.cache/jaxdl``). None when neither has them."""
    roots = []
    if os.environ.get("JAXDL_DATA_DIR"):
        roots.append(Path(os.environ["JAXDL_DATA_DIR"]))
    roots.append(default_cache_dir())
    for root in roots:
        for folder in (root / name, root):
            if len(list(folder.glob("*-idx[13]-ubyte.gz"))) == 4:
                return folder.resolve()
    return None


# Read at import, before the data tests' autouse fixture removes JAXDL_DATA_DIR.
MNIST_DIR = _find_shared_folder("mnist")
FASHION_MNIST_DIR = _find_shared_folder("fashion-mnist")


@pytest.fixture(scope="module")
def mnist_dir() -> Path:
    if MNIST_DIR is None:
        pytest.skip(
            "the MNIST files are not here: set JAXDL_DATA_DIR to a folder holding them, or "
            "download them once with jaxdl.data.mnist()"
        )
    return MNIST_DIR


@pytest.fixture(scope="module")
def fashion_mnist_dir() -> Path:
    if FASHION_MNIST_DIR is None:
        pytest.skip(
            "the Fashion-MNIST files are not here: set JAXDL_DATA_DIR to a folder holding "
            "them, or download them once with jaxdl.data.fashion_mnist()"
        )
    return FASHION_MNIST_DIR

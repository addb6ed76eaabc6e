"""Fixtures for the data tests: the real dataset files, if present, and an environment in
which no test reads the user's cache or ``JAXDL_DATA_DIR``, or reaches the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _find_shared_folder(name: str) -> Path | None:
    """The folder holding the four files of dataset ``name`` (``mnist``, ``fashion-mnist``):
    under ``$JAXDL_DATA_DIR`` (in a ``name/`` subfolder or directly), else in the
    ``shared/data`` folder beside the checkout. None when neither has them."""
    roots = []
    if os.environ.get("JAXDL_DATA_DIR"):
        roots.append(Path(os.environ["JAXDL_DATA_DIR"]))
    roots.append(Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
    for root in roots:
        for folder in (root / name, root):
            if len(list(folder.glob("*-idx[13]-ubyte.gz"))) == 4:
                return folder.resolve()
    return None


# Read before the autouse fixture below removes JAXDL_DATA_DIR from the environment.
MNIST_DIR = _find_shared_folder("mnist")
FASHION_MNIST_DIR = _find_shared_folder("fashion-mnist")


@pytest.fixture(scope="module", autouse=True)
def isolated_environment(tmp_path_factory):
    """A fresh, empty cache folder per test module, and no ``JAXDL_DATA_DIR``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg_cache")))
        patch.delenv("JAXDL_DATA_DIR", raising=False)
        yield


@pytest.fixture(scope="module")
def mnist_dir() -> Path:
    if MNIST_DIR is None:
        pytest.skip("the MNIST files are not here: set JAXDL_DATA_DIR or add ../shared/data")
    return MNIST_DIR


@pytest.fixture(scope="module")
def fashion_mnist_dir() -> Path:
    if FASHION_MNIST_DIR is None:
        pytest.skip(
            "the Fashion-MNIST files are not here: set JAXDL_DATA_DIR or add ../shared/data"
        )
    return FASHION_MNIST_DIR

"""Fixtures for the data tests: an environment in which no test reads the user's cache or
``JAXDL_DATA_DIR``, or reaches the network. (The real dataset files come from the
``mnist_dir``/``fashion_mnist_dir`` fixtures of ``tests/conftest.py``.)"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def isolated_environment(tmp_path_factory):
    """A fresh, empty cache folder per test module, and no ``JAXDL_DATA_DIR``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg_cache")))
        patch.delenv("JAXDL_DATA_DIR", raising=False)
        yield

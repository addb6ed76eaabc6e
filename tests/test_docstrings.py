"""Every example in a jaxdl docstring runs and prints what it says."""

import doctest
import importlib
import pkgutil

import pytest

import jaxdl

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(jaxdl.__path__, prefix="jaxdl.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"

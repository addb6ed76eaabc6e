"""Every example in the ``jaxdl.optim`` docstrings runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

MODULES = [
    "jaxdl.optim",
    "jaxdl.optim._aliases",
    "jaxdl.optim._base",
    "jaxdl.optim._clipping",
    "jaxdl.optim._numerics",
    "jaxdl.optim._scaling",
    "jaxdl.optim._schedules",
    "jaxdl.optim._transforms",
    "jaxdl.optim._validation",
    "jaxdl.optim.torch",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_every_public_name_is_documented() -> None:
    optim = importlib.import_module("jaxdl.optim")
    torch_style = importlib.import_module("jaxdl.optim.torch")
    public = [(optim, name) for name in optim.__all__] + [
        (torch_style, name) for name in torch_style.__all__
    ]
    checked = 0
    for module, name in public:
        obj = getattr(module, name)
        if inspect.isfunction(obj) or (inspect.isclass(obj) and obj.__module__ != "typing"):
            assert obj.__doc__ and obj.__doc__.strip(), f"{module.__name__}.{name}: no docstring"
            checked += 1
    assert checked > 40

"""Shared fixtures: float64 switched on for one test and restored after it."""

import jax
import pytest


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

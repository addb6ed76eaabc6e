"""The progress bar of ``fit`` and ``fit_sweep``: one tick per epoch, metrics alongside."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm


def progress_bar(epochs: Iterable[int], *, enabled: bool, label: str) -> Any:
    """A tqdm bar over ``epochs`` (a no-op iterator when not ``enabled``)."""
    return tqdm(epochs, disable=not enabled, unit="epoch", desc=label, dynamic_ncols=True)

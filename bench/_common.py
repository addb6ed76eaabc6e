"""Helpers shared by the benchmark scripts: the CPU's name, and interleaving a peer's
epochs with ``fit``'s."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

from jaxdl import train

__all__ = ["Interleave", "cpu_model"]


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (or what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class Interleave(train.Callback):
    """Times ``fit``'s epochs and runs (and times) ``peer_epoch()`` after each."""

    def __init__(self, peer_epoch: Callable[[], None]) -> None:
        self.peer_epoch = peer_epoch
        self.fit_seconds: list[float] = []
        self.peer_seconds: list[float] = []

    def on_train_begin(self, context) -> None:
        self.mark = time.perf_counter()

    def on_epoch_end(self, epoch, logs, context) -> None:
        self.fit_seconds.append(time.perf_counter() - self.mark)
        start = time.perf_counter()
        self.peer_epoch()
        self.peer_seconds.append(time.perf_counter() - start)
        self.mark = time.perf_counter()

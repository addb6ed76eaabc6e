"""Compile time of a network's initialisation, with and without merging its draws.

``fit``, ``initial_state``, ``fit_sweep`` and ``fit_gan`` compile the initialisation
with its threefry draws merged level by level (``jaxdl._rng.merge_draws``): the same
random bits from one generator call per level of the key tree instead of one per draw
and per split. This script compiles ``model.init`` for one sample of each model's input
both ways, and the vmapped initialisation of four runs as ``fit_sweep`` makes it,
alternating the two in each round (JAX's caches cleared before every compilation).
Each figure is the median over rounds and each ratio the median of per-round ratios
merged / separate (below 1: merging compiles faster). It also checks that both give
the same params bit for bit.

Usage::

    python bench/bench_init.py            # 7 rounds
    python bench/bench_init.py --quick    # 3 rounds
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import cpu_model

from jaxdl import models
from jaxdl._rng import merge_draws

MODELS = {
    "MNIST MLP 784-512-256-10": (lambda: models.mlp(10, (512, 256)), (1, 784)),
    "LeNet CNN": (models.cnn, (1, 28, 28, 1)),
    "LSTM over MNIST rows": (models.lstm_classifier, (1, 28, 28)),
    "residual MLP, 8 blocks (18 Dense)": (
        lambda: models.residual_mlp(10, width=64, depth=8, residual=True, batch_norm=True),
        (1, 784),
    ),
}
RUNS = 4  # the sweep's vmapped initialisation


def compile_seconds(fn, *args) -> float:
    """Seconds to lower and compile ``jax.jit(fn)`` for ``args``, from empty caches."""
    jax.clear_caches()
    start = time.perf_counter()
    jax.jit(fn).lower(*args).compile()
    return time.perf_counter() - start


def rows(rounds: int) -> None:
    key = jax.random.key(0)
    keys = jax.random.split(key, RUNS)
    print("| initialisation | separate draws (s) | merged (s) | merged / separate (min–max) |")
    print("|---|---:|---:|---:|")
    for name, (build, shape) in MODELS.items():
        model = build()
        spec = jax.ShapeDtypeStruct(shape, jnp.float32)

        def init(k, model=model, spec=spec):
            return model.init(k, spec)

        for label, fn, arg in (
            (name, init, key),
            (f"{name}, {RUNS} runs vmapped", jax.vmap(init), keys),
        ):
            separate_params = jax.jit(fn)(arg)
            merged_params = jax.jit(merge_draws(fn))(arg)
            equal = jax.tree_util.tree_all(
                jax.tree_util.tree_map(np.array_equal, separate_params, merged_params)
            )
            if not equal:
                raise AssertionError(f"{label}: merged draws changed the params")
            separate, merged = [], []
            for round_ in range(rounds):
                pair = [(separate, fn), (merged, merge_draws(fn))]
                for times, f in pair if round_ % 2 == 0 else pair[::-1]:
                    times.append(compile_seconds(f, arg))
            ratios = [m / s for m, s in zip(merged, separate)]
            print(
                f"| {label} | {statistics.median(separate):.3f} | "
                f"{statistics.median(merged):.3f} | **{statistics.median(ratios):.2f}** "
                f"({min(ratios):.2f}–{max(ratios):.2f}) |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    args = parser.parse_args()
    print(
        f"{time.strftime('%Y-%m-%d')}, {cpu_model()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, jax {jax.__version__}, load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    rows(3 if args.quick else 7)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

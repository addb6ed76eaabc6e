"""Time one optimizer update, jaxdl against optax, on an MNIST-MLP-sized pytree.

For each of the nine optimizers, both implementations compile the same step — ``update``
then ``apply_updates``, one ``jax.jit`` — on the parameters of a 784-512-256-10 MLP
(weights and biases as dicts of float32, 535,818 numbers; parameters and state donated,
as in a training loop). Compile time is measured
separately; the steady-state time of one step is the median over many calls, each timed
with ``block_until_ready``. The two implementations are measured alternately, call by
call (in alternating order), so that machine noise affects both alike, and the table
shows their ratio.

Usage::

    python bench/bench_optimizers.py            # 1,000 timed calls per optimizer and side
    python bench/bench_optimizers.py --quick    # 30 calls: a smoke test
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxdl import optim

LAYERS = (784, 512, 256, 10)

# name -> (jaxdl factory, optax factory), both called with the learning rate.
OPTIMIZERS: dict[str, tuple[Callable[[float], Any], Callable[[float], Any]]] = {
    "sgd": (optim.sgd, optax.sgd),
    "momentum": (optim.momentum, lambda lr: optax.sgd(lr, momentum=0.9)),
    "nesterov": (optim.nesterov, lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True)),
    "adagrad": (optim.adagrad, optax.adagrad),
    "adadelta": (optim.adadelta, optax.adadelta),
    "rmsprop": (optim.rmsprop, optax.rmsprop),
    "adam": (optim.adam, optax.adam),
    "nadam": (optim.nadam, optax.nadam),
    "adamw": (optim.adamw, optax.adamw),
}
LEARNING_RATE = 1e-3


def mlp_params(key: jax.Array) -> dict[str, dict[str, jax.Array]]:
    """Parameters of the MNIST MLP: ``{"dense_i": {"w": (in, out), "b": (out,)}}``."""
    params = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(LAYERS)):
        key, subkey = jax.random.split(key)
        params[f"dense_{i}"] = {
            "w": jax.random.normal(subkey, (fan_in, fan_out), jnp.float32) / fan_in**0.5,
            "b": jnp.zeros((fan_out,), jnp.float32),
        }
    return params


def compile_step(optimizer: Any, params: Any, grads: Any) -> tuple[Any, Any, float]:
    """The compiled ``update`` + ``apply_updates`` step, its initial carry, compile seconds.

    Parameters and state are donated, as in a training loop, so the step updates them in
    place; each side gets its own copy of the parameters.
    """

    def step(p: Any, state: Any, g: Any) -> tuple[Any, Any]:
        updates, state = optimizer.update(g, state, p)
        return optim.apply_updates(p, updates), state

    params = jax.tree.map(jnp.copy, params)
    state = optimizer.init(params)
    start = time.perf_counter()
    compiled = jax.jit(step, donate_argnums=(0, 1)).lower(params, state, grads).compile()
    return compiled, (params, state), time.perf_counter() - start


def time_pair(name: str, params: Any, grads: Any, repeats: int, warmup: int) -> dict[str, float]:
    """Median step seconds and compile seconds of jaxdl and optax, measured interleaved."""
    sides = {}
    for side, factory in zip(("jaxdl", "optax"), OPTIMIZERS[name], strict=True):
        compiled, carry, compile_seconds = compile_step(factory(LEARNING_RATE), params, grads)
        sides[side] = {"step": compiled, "carry": carry, "compile": compile_seconds}
    for _ in range(warmup):
        for side in sides.values():
            side["carry"] = jax.block_until_ready(side["step"](*side["carry"], grads))
    samples: dict[str, list[float]] = {"jaxdl": [], "optax": []}
    for repeat in range(repeats):
        order = ("jaxdl", "optax") if repeat % 2 == 0 else ("optax", "jaxdl")
        for side_name in order:
            side = sides[side_name]
            start = time.perf_counter()
            side["carry"] = jax.block_until_ready(side["step"](*side["carry"], grads))
            samples[side_name].append(time.perf_counter() - start)
    return {
        "jaxdl": statistics.median(samples["jaxdl"]),
        "optax": statistics.median(samples["optax"]),
        "jaxdl_compile": sides["jaxdl"]["compile"],
        "optax_compile": sides["optax"]["compile"],
    }


def format_table(results: dict[str, dict[str, float]]) -> str:
    header = (
        "| optimizer | jaxdl step (µs) | optax step (µs) | jaxdl/optax "
        "| jaxdl compile (ms) | optax compile (ms) |"
    )
    lines = [header, "|---|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['jaxdl'] * 1e6:.0f} | {r['optax'] * 1e6:.0f} "
            f"| {r['jaxdl'] / r['optax']:.2f} | {r['jaxdl_compile'] * 1e3:.0f} "
            f"| {r['optax_compile'] * 1e3:.0f} |"
        )
    ratios = [r["jaxdl"] / r["optax"] for r in results.values()]
    lines.append(f"\ngeometric mean of jaxdl/optax: {statistics.geometric_mean(ratios):.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 timed calls (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per side")
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS), help="comma-separated names")
    args = parser.parse_args(argv)
    repeats = args.repeats or (30 if args.quick else 1000)
    warmup = 3 if args.quick else 20
    names = [name.strip() for name in args.optimizers.split(",") if name.strip()]
    unknown = sorted(set(names) - set(OPTIMIZERS))
    if unknown:
        parser.error(f"unknown optimizers {unknown}; choose from {list(OPTIMIZERS)}")

    params = mlp_params(jax.random.PRNGKey(0))
    grads = jax.tree.map(lambda p: 1e-3 * jnp.ones_like(p), params)
    size = sum(x.size for x in jax.tree.leaves(params))
    print(
        f"jax {jax.__version__}, optax {optax.__version__}, python {platform.python_version()}, "
        f"device {jax.devices()[0].device_kind}; MLP {'-'.join(map(str, LAYERS))}, "
        f"{size:,} float32 parameters; median of {repeats} interleaved calls"
    )
    results = {name: time_pair(name, params, grads, repeats, warmup) for name in names}
    print(format_table(results))


if __name__ == "__main__":
    main()

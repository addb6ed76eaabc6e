"""Time a convolution sweep: ``fit_sweep``'s two paths against ``vmap`` and ``fit`` per run.

A sweep of ``--runs`` LeNet CNNs (``jaxdl.models.cnn()``: 5×5 convolutions 32 and 64,
dense 256; SGD with one learning rate per run) on 28×28×1 float32 images, batch 128.
Four ways to train the same runs, each for the same number of steps:

- ``fit_sweep stepped``: jaxdl's path for convolutions on CPU — one compiled program per
  batch with one copy of the training step per run;
- ``stepped, vmap``: the same loop with the step ``jax.vmap``-ed over the runs (what a
  straightforward vmap-based sweep compiles to);
- ``fit_sweep scanned``: one ``vmap``-ed ``lax.scan`` program per epoch, jaxdl's path
  everywhere else, which XLA:CPU's slow convolution gradients in loops (jax-ml/jax#12868)
  make the slowest here;
- ``fit per run``: a Python loop of ``jaxdl.train.fit``, one run after another (the
  baseline a sweep must beat).

Each way builds its programs anew per call, so each is timed from scratch for 1 epoch
and for ``1 + --epochs`` epochs, after a first, compiling call: the difference is the
time of the extra epochs alone, without initialisation and compilation. The figure is
that time per training step (one batch, all runs), with its ratio to ``fit per run``;
the first epoch's time (compilation included) is shown beside it. Random images: the
time does not depend on the values.

Usage::

    python bench/bench_sweep.py                # 4 runs, 4 steps per epoch, 2 timed epochs
    python bench/bench_sweep.py --quick        # 2 runs, 2 steps per epoch, 1 timed epoch
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import jax
import numpy as np

from jaxdl import losses, models, optim, train
from jaxdl.train import TrainState, make_train_step

BATCH = 128
SHAPE = (28, 28, 1)


def time_epochs(train_epochs: Callable[[int], None], epochs: int) -> tuple[float, float]:
    """Seconds of a first ``train_epochs(1)`` (compilation included), and of ``epochs``
    epochs alone: a second ``train_epochs(1 + epochs)`` minus a second ``train_epochs(1)``
    (which cancels initialisation, and compilation where JAX's caches miss)."""
    seconds = []
    for count in (1, 1, 1 + epochs):
        start = time.perf_counter()
        train_epochs(count)
        seconds.append(time.perf_counter() - start)
    return seconds[0], seconds[2] - seconds[1]


def sweep_runner(x, y, keys, rates, stepped: bool) -> Callable[[int], None]:
    def run(epochs: int) -> None:
        state, _ = train.fit_sweep(
            models.cnn(),
            optim.sgd,
            (x, y),
            loss=losses.softmax_cross_entropy,
            epochs=epochs,
            batch_size=BATCH,
            keys=keys,
            hyperparameters={"learning_rate": rates},
            progress=False,
            stepped=stepped,
        )
        jax.block_until_ready(state)

    return run


def vmapped_runner(x, y, keys, rates) -> Callable[[int], None]:
    """The stepped loop with a ``vmap``-ed step, shuffling per run and epoch (not
    ``fit``'s exact plan: the time does not depend on which batches come when)."""
    model = models.cnn()
    x, y = jax.device_put(x), jax.device_put(y)

    def init(key, rate):
        params, state = model.init(key, jax.ShapeDtypeStruct((1, *SHAPE), x.dtype))
        return TrainState.create(params=params, state=state, optimizer=optim.sgd(rate))

    def step(train_state, rate, indices, key):
        train_step = make_train_step(model, losses.softmax_cross_entropy, optim.sgd(rate))
        return train_step(train_state, (x[indices], y[indices]), key)

    num_batches = len(x) // BATCH

    def run(epochs: int) -> None:
        step_all = jax.jit(jax.vmap(step))
        states = jax.vmap(init)(keys, rates)
        for epoch in range(epochs):
            orders = np.stack(
                [
                    np.asarray(jax.random.permutation(jax.random.fold_in(key, epoch), len(x)))
                    for key in keys
                ]
            )[:, : num_batches * BATCH].reshape(len(keys), num_batches, BATCH)
            step_keys = jax.vmap(lambda k: jax.random.split(k, num_batches))(keys)
            for batch in range(num_batches):
                states, _ = step_all(states, rates, orders[:, batch], step_keys[:, batch])
        jax.block_until_ready(states)

    return run


def fit_runner(x, y, keys, rates) -> Callable[[int], None]:
    def run(epochs: int) -> None:
        for key, rate in zip(keys, rates):
            state, _ = train.fit(
                models.cnn(),
                optim.sgd(float(rate)),
                (x, y),
                loss=losses.softmax_cross_entropy,
                epochs=epochs,
                batch_size=BATCH,
                key=key,
                progress=False,
            )
            jax.block_until_ready(state)

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs, 2 steps, 1 timed epoch")
    parser.add_argument("--runs", type=int, default=None, help="runs in the sweep (default 4)")
    parser.add_argument("--steps", type=int, default=None, help="steps per epoch (default 4)")
    parser.add_argument("--epochs", type=int, default=None, help="timed epochs (default 2)")
    parser.add_argument(
        "--skip-scanned", action="store_true", help="leave out the slow scanned path"
    )
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 4)
    steps = args.steps or (2 if args.quick else 4)
    epochs = args.epochs or (1 if args.quick else 2)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps * BATCH, *SHAPE)).astype(np.float32)
    y = rng.integers(0, 10, len(x)).astype(np.int32)
    keys = jax.random.split(jax.random.key(0), runs)
    rates = np.linspace(0.01, 0.05, runs).astype(np.float32)
    print(
        f"jax {jax.__version__}, python {platform.python_version()}, "
        f"device {jax.devices()[0].device_kind}; LeNet CNN, {runs} runs, batch {BATCH}, "
        f"{steps} steps per epoch, {epochs} timed epochs"
    )

    ways = {
        "fit per run": fit_runner(x, y, keys, rates),
        "fit_sweep stepped": sweep_runner(x, y, keys, rates, stepped=True),
        "stepped, vmap": vmapped_runner(x, y, keys, rates),
    }
    if not args.skip_scanned:
        ways["fit_sweep scanned"] = sweep_runner(x, y, keys, rates, stepped=False)
    results = {}
    for name, runner in ways.items():
        first, seconds = time_epochs(runner, epochs)
        results[name] = (first, seconds / (epochs * steps))
        print(
            f"  {name}: first epoch {first:.1f} s, {results[name][1] * 1e3:.0f} ms/step", flush=True
        )

    baseline = results["fit per run"][1]
    print("\n| way | ms per step (all runs) | ÷ fit per run | first epoch (s) |")
    print("|---|---:|---:|---:|")
    for name, (first, per_step) in results.items():
        print(f"| {name} | {per_step * 1e3:.0f} | {per_step / baseline:.2f} | {first:.1f} |")


if __name__ == "__main__":
    main()

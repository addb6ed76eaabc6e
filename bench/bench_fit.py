"""Time ``fit`` and ``evaluate`` against hand-written JAX doing the same work.

Rows (Adam 1e-3, softmax cross-entropy from logits):

- ``steady epoch``: the MNIST MLP 784-512-256-10 at batch 128, one epoch of ``fit``
  against one hand-written epoch (a jitted ``lax.scan`` over the same ``model.apply`` and
  optax's Adam, buffers donated). Interleaved epoch by epoch in one process: a callback
  runs and times one hand-written epoch after each of ``fit``'s epochs.
- ``first epoch, fresh process``: the same two, each in a new Python process, timed from
  the data in memory to the first epoch's metrics on the host (initialisation, tracing
  and compilation included). The two processes alternate round by round.
- ``second fit call``: in one process, a second ``fit`` call with the same model, loss,
  optimizer and shapes against the first call, both one epoch: the second finds the
  compiled programs of the first.
- ``evaluate``: ``train.evaluate`` on the 10,000 test images (NumPy arrays), each call,
  against a cached jitted hand-written evaluation given the same NumPy arrays;
  interleaved call by call.
- ``tiny model epoch``: the digits MLP 64-64-10 at batch 32, where dispatch dominates:
  a steady ``fit`` epoch (one compiled ``lax.scan``) against a Python loop of a jitted
  step fed NumPy batches (buffers donated); interleaved as in the first row.

Each figure is the median over rounds, and each ratio the median of per-round ratios
jaxdl / hand-written (below 1: jaxdl is faster). MNIST is read from ``--data-dir`` or
``$JAXDL_DATA_DIR`` (or downloaded into the cache).

Usage::

    python bench/bench_fit.py                  # all rows
    python bench/bench_fit.py --quick          # fewer rounds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _common import Interleave

from jaxdl import activations, data, losses, models, nn, optim, train

BATCH = 128


def mnist_mlp() -> nn.Sequential:
    return models.mlp(10, (512, 256))


def tiny_mlp() -> nn.Sequential:
    return nn.Sequential([nn.Flatten(), nn.Dense(64), activations.relu, nn.Dense(10)])


def stateless(model: nn.Layer) -> dict:
    """The (array-free) state of a model without batch norm: one empty dict per layer."""
    return {name: {} for name in model.names}


def hand_written(model: nn.Layer):
    """``(tx, loss_fn, init)``: optax's Adam, the mean softmax cross-entropy of
    ``model.apply``, and a jitted initialisation of params and optimizer state."""
    tx = optax.adam(1e-3)

    def loss_fn(params, x, y):
        logits, _ = model.apply(params, stateless(model), x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def init(key, x):
        params, _ = model.init(key, x[:1])
        return params, tx.init(params)

    return tx, loss_fn, init


def hand_written_epoch(model: nn.Layer, batch_size: int):
    """A jitted scan epoch of ``model.apply`` and optax's Adam, as a JAX user writes it."""
    tx, loss_fn, init = hand_written(model)

    @jax.jit
    def epoch(params, opt_state, x, y, key):
        num_batches = x.shape[0] // batch_size
        order = jax.random.permutation(key, x.shape[0])[: num_batches * batch_size]

        def body(carry, indices):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, x[indices], y[indices])
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), batch_losses = jax.lax.scan(
            body, (params, opt_state), order.reshape(num_batches, batch_size)
        )
        return params, opt_state, batch_losses.mean()

    return init, epoch


def hand_written_step(model: nn.Layer):
    """A jitted step with donated buffers, for a Python loop over NumPy batches."""
    tx, loss_fn, init = hand_written(model)

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return init, jax.jit(step, donate_argnums=(0, 1))


def steady_rows(x, y, rounds: int, model: nn.Layer, batch_size: int, peer: str):
    """Per-epoch seconds of ``fit`` and of the peer, interleaved (first epochs dropped)."""
    key = jax.random.key(0)
    if peer == "scan":
        init, epoch = hand_written_epoch(model, batch_size)
        xd, yd = jax.device_put(x), jax.device_put(y)
        carry = list(init(key, xd))
        keys = iter(jax.random.split(key, rounds + 1))

        def run_peer():
            carry[0], carry[1], loss = epoch(carry[0], carry[1], xd, yd, next(keys))
            float(loss)
    else:
        init, step = hand_written_step(model)
        carry = list(init(key, jnp.asarray(x[:1])))
        rng = np.random.default_rng(0)

        def run_peer():
            order = rng.permutation(len(x))
            for start in range(0, len(x) - batch_size + 1, batch_size):
                indices = order[start : start + batch_size]
                carry[0], carry[1], loss = step(carry[0], carry[1], x[indices], y[indices])
            float(loss)

    timer = Interleave(run_peer)
    train.fit(
        model,
        optim.adam(1e-3),
        (x, y),
        loss=losses.softmax_cross_entropy,
        epochs=rounds + 1,
        batch_size=batch_size,
        key=key,
        progress=False,
        callbacks=[timer],
    )
    return np.array(timer.fit_seconds[1:]), np.array(timer.peer_seconds[1:])


def first_epoch_child(kind: str, data_dir: str | None) -> None:
    """In a fresh process: seconds from the data in memory to the first epoch's loss."""
    x, y = data.mnist(data_dir).train
    start = time.perf_counter()
    if kind == "fit":
        train.fit(
            mnist_mlp(),
            optim.adam(1e-3),
            (x, y),
            loss=losses.softmax_cross_entropy,
            epochs=1,
            batch_size=BATCH,
            key=jax.random.key(0),
            progress=False,
        )
    else:
        init, epoch = hand_written_epoch(mnist_mlp(), BATCH)
        xd, yd = jax.device_put(x), jax.device_put(y)
        params, opt_state = init(jax.random.key(0), xd)
        float(epoch(params, opt_state, xd, yd, jax.random.key(1))[2])
    print(json.dumps({"seconds": time.perf_counter() - start}))


def first_epoch_rows(rounds: int, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    seconds = {"fit": [], "scan": []}
    for round_ in range(rounds):
        for kind in ("fit", "scan") if round_ % 2 == 0 else ("scan", "fit"):
            command = [sys.executable, __file__, "--child", kind]
            if data_dir:
                command += ["--data-dir", data_dir]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            seconds[kind].append(json.loads(out.strip().splitlines()[-1])["seconds"])
    return np.array(seconds["fit"]), np.array(seconds["scan"])


def second_call_rows(x, y, rounds: int) -> tuple[np.ndarray, np.ndarray]:
    """Each round, a new model width (so nothing is cached) called twice."""
    firsts, seconds = [], []
    for round_ in range(rounds):
        model = models.mlp(10, (512 + round_, 256))
        times = []
        for _ in range(2):
            start = time.perf_counter()
            train.fit(
                model,
                optim.adam(1e-3),
                (x, y),
                loss=losses.softmax_cross_entropy,
                epochs=1,
                batch_size=BATCH,
                key=jax.random.key(0),
                progress=False,
            )
            times.append(time.perf_counter() - start)
        firsts.append(times[0])
        seconds.append(times[1])
    return np.array(seconds), np.array(firsts)


def evaluate_rows(x, y, x_test, y_test, rounds: int) -> tuple[np.ndarray, np.ndarray]:
    model = mnist_mlp()
    ts = train.initial_state(model, optim.adam(1e-3), x, jax.random.key(0))

    @jax.jit
    def hand_evaluate(params, x, y):
        logits, _ = model.apply(params, stateless(model), x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    ours, theirs = [], []
    for _ in range(rounds + 1):  # both take the NumPy test set, as a user passes it
        start = time.perf_counter()
        train.evaluate(model, ts, (x_test, y_test), loss=losses.softmax_cross_entropy)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        [float(v) for v in hand_evaluate(ts.params, x_test, y_test)]
        theirs.append(time.perf_counter() - start)
    return np.array(ours[1:]), np.array(theirs[1:])


def report(name: str, ours: np.ndarray, theirs: np.ndarray, peer: str, unit: float = 1.0):
    ratio = np.median(ours / theirs)
    spread = f"{np.min(ours / theirs):.2f}–{np.max(ours / theirs):.2f}"
    scale = "ms" if unit == 1e3 else "s"
    print(
        f"| {name} | {np.median(ours) * unit:.3g} {scale} | {peer} "
        f"{np.median(theirs) * unit:.3g} {scale} | **{ratio:.2f}** ({spread}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--data-dir", default=os.environ.get("JAXDL_DATA_DIR"))
    parser.add_argument("--child", choices=["fit", "scan"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        first_epoch_child(args.child, args.data_dir)
        return
    rounds = 3 if args.quick else 9
    mnist = data.mnist(args.data_dir)
    x, y = mnist.train
    digits = data.digits()
    print(
        f"{time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, jax "
        f"{jax.__version__}, optax {optax.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print("| work | jaxdl | hand-written | jaxdl / hand-written (min–max) |")
    print("|---|---:|---:|---:|")
    report(
        "MNIST MLP steady epoch",
        *steady_rows(x, y, rounds, mnist_mlp(), BATCH, "scan"),
        "scan epoch",
    )
    report("first epoch, fresh process", *first_epoch_rows(rounds, args.data_dir), "scan epoch")
    seconds, firsts = second_call_rows(x, y, max(2, rounds // 3))
    report("second `fit` call (1 epoch) vs the first", seconds, firsts, "first call")
    report(
        "`evaluate`, 10k test images, each call",
        *evaluate_rows(x, y, *mnist.test, rounds),
        "cached jit",
        unit=1e3,
    )
    report(
        "tiny MLP (digits, batch 32) steady epoch",
        *steady_rows(*digits.train, rounds * 5, tiny_mlp(), 32, "loop"),
        "Python loop of a jitted step",
        unit=1e3,
    )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

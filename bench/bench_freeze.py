"""What freezing costs: a train step with frozen layers against one that trains only the
unfrozen ones by hand.

The MNIST MLP 784-512-256-10 at batch 128, Adam 1e-3, softmax cross-entropy from logits,
one jitted step each (``jaxdl.train.make_train_step``), on random inputs:

- ``all trained``: every layer trained (the reference for what a full step costs);
- ``frozen by the optimizer``: the two hidden layers frozen with
  ``optim.selective_transform`` only: ``jax.grad`` still differentiates them, and XLA
  must drop the unused work;
- ``nn.Frozen + selective_transform``: the hidden layers also wrapped in ``nn.Frozen``
  (``stop_gradient`` on their params);
- ``head only, by hand``: a hand-written step that differentiates the output layer's
  params alone (the hidden layers' forward pass under ``stop_gradient``) with optax's
  Adam: the least work a frozen step can do.

Rounds interleave the four; each figure is the median over rounds and each ratio the
median of per-round ratios against ``head only, by hand``.

Usage::

    python bench/bench_freeze.py            # 7 rounds of 200 steps
    python bench/bench_freeze.py --quick    # 3 rounds of 50 steps
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import jax
import optax
from _common import cpu_model

from jaxdl import activations, losses, nn, optim, train

BATCH = 128
MASK = {"0": True, "1": True, "2": True, "3": True, "4": False}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, steps = (3, 50) if args.quick else (7, 200)

    x = jax.random.uniform(jax.random.key(0), (BATCH, 784))
    y = jax.random.randint(jax.random.key(1), (BATCH,), 0, 10)
    hidden = [nn.Dense(512), activations.relu, nn.Dense(256), activations.relu]
    plain = nn.Sequential([*hidden, nn.Dense(10)])
    wrapped = nn.Sequential(
        [
            *(nn.Frozen(layer) if isinstance(layer, nn.Layer) else layer for layer in hidden),
            nn.Dense(10),
        ]
    )
    params, state = plain.init(jax.random.key(2), x)
    adam = optim.adam(1e-3)
    frozen_adam = optim.selective_transform(adam, freeze_mask=MASK)

    def jaxdl_step(model, optimizer):
        step = jax.jit(train.make_train_step(model, losses.softmax_cross_entropy, optimizer))
        start = train.TrainState.create(params=params, state=state, optimizer=optimizer)
        key = jax.random.key(3)
        return lambda ts: step(ts, (x, y), key)[0], start

    def head_only():
        tx = optax.adam(1e-3)

        def loss(head, body, inputs, labels):
            h = jax.lax.stop_gradient(plain[:4].apply(body, {n: {} for n in "0123"}, inputs)[0])
            return losses.softmax_cross_entropy(h @ head["w"] + head["b"], labels)

        @jax.jit
        def jitted(carry, inputs, labels):
            head, body, opt_state = carry
            grads = jax.grad(loss)(head, body, inputs, labels)
            updates, opt_state = tx.update(grads, opt_state, head)
            return optax.apply_updates(head, updates), body, opt_state

        body = {n: params[n] for n in "0123"}
        return lambda carry: jitted(carry, x, y), (params["4"], body, tx.init(params["4"]))

    cases = {
        "all trained": jaxdl_step(plain, adam),
        "frozen by the optimizer": jaxdl_step(plain, frozen_adam),
        "nn.Frozen + selective_transform": jaxdl_step(wrapped, frozen_adam),
        "head only, by hand": head_only(),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (step, start) in cases.items():
            carry = step(start)  # compiled on the first round, warm after
            jax.block_until_ready(carry)
            begin = time.perf_counter()
            for _ in range(steps):
                carry = step(carry)
            jax.block_until_ready(carry)
            times[name].append((time.perf_counter() - begin) / steps * 1e3)

    reference = times["head only, by hand"]
    print(
        f"# bench_freeze — {cpu_model()}, {platform.python_version()}, jax "
        f"{jax.__version__}, {rounds} rounds × {steps} steps, batch {BATCH}"
    )
    print("| step | ms per step (median) | ratio vs head only, by hand |")
    print("|---|---:|---:|")
    for name, values in times.items():
        ratio = statistics.median(a / b for a, b in zip(values, reference, strict=True))
        print(f"| {name} | {statistics.median(values):.3f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()

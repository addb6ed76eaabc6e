"""Time the MNIST-MLP training step in jaxdl and in its peers, in one run, as ratios.

The work: one training step of the MLP 784-512-256-10 (ReLU, logits, softmax
cross-entropy, Adam with learning rate 1e-3) at batch 128 and at batch 1024, written the
way each library's users write it (``bench/_peers.py``): jaxdl (``make_train_step`` under
``jax.jit``, state donated), a hand-written JAX + optax step (donated), Flax linen, Flax
NNX, Equinox, Keras 3 on JAX (``train_on_batch``), PyTorch eager (fused Adam where the
CPU build has it) and ``torch.compile`` of the PyTorch step. Every peer starts from
jaxdl's initial weights and sees the same batches (random MNIST-shaped data).

Method:

1. Agreement, before any timing: every peer takes its first step on batch 0, and its
   loss and its weights after that step must equal jaxdl's within float32 tolerance, or
   the script stops — a broken peer cannot produce a speed figure. The time of this
   first call (tracing and compilation included) is reported as "first step".
2. Rounds: in each round every peer takes one step on the round's batch (the batches
   cycle), in an order drawn afresh each round, so that drift in the machine's load and
   the cost one step leaves to the next hit every peer alike. Each step is timed on its
   own, until the update is done (``block_until_ready`` on the loss for JAX; PyTorch on
   the CPU returns when done). Warm-up rounds are not counted.
3. Figures: per peer, the median step time, and the median over rounds of the paired
   ratio (the peer's step time ÷ jaxdl's in the same round), with its interquartile
   range. After the last round every peer's loss is compared with jaxdl's once more.

The load average is printed before and after each batch size: XLA and PyTorch each run
one thread per core, so another process holding a core slows both, and not alike.

Usage::

    python bench/bench_peers.py                    # 800 rounds at batch 128, 100 at 1024
    python bench/bench_peers.py --quick            # 5 rounds: a smoke test
    python bench/bench_peers.py --peers jaxdl,jax,torch --batch-sizes 128
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import math
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import _peers
import jax
import numpy as np
from _common import cpu_model
from _peers import PEERS, Batches, Peer, Weights

# Float32 tolerances for the agreement check. Libraries sum the same products in
# different orders, so losses differ in their last bits. Adam's first step moves a weight
# by lr·g/(|g| + eps): where |g| is near eps, or a pre-activation sits at ReLU's kink, a
# rounding difference moves that weight by up to 2·lr (measured: up to 338 of 535,818
# weights off by more than 1e-6 between PyTorch and JAX at batch 1024), while a wrong
# learning rate, loss or epsilon convention moves most weights (Keras's epsilon
# convention, unscaled: 12 % of them).
LOSS_RTOL = 1e-5
WEIGHT_ATOL = 1e-6
MAX_FRACTION_OFF = 1e-2
# Over many steps the trajectories drift apart by rounding, chaotically while the network
# memorises the few random batches (at batch 1024, PyTorch's loss was 0.025 from jaxdl's
# after 120 steps, a hand-written JAX step's 0.003). The last round only catches a peer
# that stopped training or diverged: its loss must lie within 10 % of ln 10 (the loss of
# a uniform guess) of jaxdl's. The first step is the precise check.
FINAL_LOSS_ATOL = 0.1 * math.log(10)
NUM_BATCHES = 4
SAMPLES_PER_PEER = 102_400


class PeerDisagreement(AssertionError):
    """A peer's loss or weights differ from jaxdl's: its time would mean nothing."""


@dataclass
class Result:
    """One peer's figures at one batch size: times in seconds, ratios to jaxdl."""

    name: str
    how: str
    median: float
    ratio: float
    ratio_q1: float
    ratio_q3: float
    first_step: float


def build_peers(
    keys: Sequence[str], weights: Weights, batches: Batches
) -> tuple[dict[str, Peer], dict[str, float], dict[str, str]]:
    """Build each peer and take its first step on batch 0; check it against jaxdl's.

    Arguments:
        keys: keys of :data:`_peers.PEERS`, ``"jaxdl"`` (the reference) first.
        weights, batches: as for :func:`_peers.build`.

    Returns:
        The peers that ran, by key; each one's first-step seconds (tracing and compilation
        included); and the reason for each peer that could not be built or run. A peer
        that runs but disagrees with jaxdl raises :class:`PeerDisagreement`.
    """
    if keys[0] != "jaxdl":
        raise ValueError(f"the first peer must be jaxdl, the reference; got {list(keys)}")
    peers, first_step, failed, losses = {}, {}, {}, {}
    for key in keys:
        try:
            peer = _peers.build(key, weights, batches)
            start = time.perf_counter()
            losses[key] = peer.step(0)
            first_step[key] = time.perf_counter() - start
        except Exception as error:  # a peer that cannot run here is reported, not fatal
            if key == "jaxdl":
                raise
            failed[key] = f"{type(error).__name__}: {error}"
            continue
        peers[key] = peer
    check_agreement(peers, losses)
    return peers, first_step, failed


def check_agreement(peers: dict[str, Peer], losses: dict[str, float]) -> None:
    """Raise :class:`PeerDisagreement` unless every peer's first step matches the first
    peer's (jaxdl's): its loss (``losses``, by key) within ``LOSS_RTOL`` (relative), and
    all but a fraction ``MAX_FRACTION_OFF`` of its weights within ``WEIGHT_ATOL`` after
    the step (NaN counts as off)."""
    reference_key, *others = peers
    reference, expected_loss = peers[reference_key], losses[reference_key]
    expected = _flat(reference.weights())
    for key in others:
        peer, loss = peers[key], losses[key]
        if not abs(loss - expected_loss) <= LOSS_RTOL * abs(expected_loss):
            raise PeerDisagreement(
                f"{peer.name}: first-step loss {loss:.7f}, {reference.name}'s {expected_loss:.7f}"
            )
        got = _flat(peer.weights())
        if got.shape != expected.shape:
            raise PeerDisagreement(
                f"{peer.name}: {got.size} weights, {reference.name} has {expected.size}"
            )
        off = np.count_nonzero(~(np.abs(got - expected) <= WEIGHT_ATOL))
        if off > MAX_FRACTION_OFF * expected.size:
            raise PeerDisagreement(
                f"{peer.name}: {off} of {expected.size} weights differ from {reference.name}'s "
                f"by more than {WEIGHT_ATOL:.0e} after one step (at most "
                f"{MAX_FRACTION_OFF:.0%} may)"
            )


def time_rounds(
    peers: dict[str, Peer],
    rounds: int,
    warmup: int,
    num_batches: int = NUM_BATCHES,
    seed: int = 0,
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Seconds of each peer's steps over ``rounds`` interleaved rounds after ``warmup``.

    Round ``r`` trains every peer once on batch ``(r + 1) % num_batches`` (batch 0 was the
    first step), in an order drawn afresh each round (seeded). A fixed rotation would keep
    each peer's predecessor, and the predecessor matters: a JAX step right after a PyTorch
    one took 1.25× as long here, as PyTorch's OpenMP threads keep spinning for a while
    after it returns (not with ``OMP_WAIT_POLICY=PASSIVE``). Returns, by key, the step
    seconds of each timed round (in round order, so that ratios can be paired) and the
    loss of the last round.
    """
    keys = list(peers)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {key: [] for key in keys}
    last_loss: dict[str, float] = {}
    for r in range(warmup + rounds):
        batch = (r + 1) % num_batches
        for index in rng.permutation(len(keys)):
            key = keys[index]
            start = time.perf_counter()
            last_loss[key] = peers[key].step(batch)
            elapsed = time.perf_counter() - start
            if r >= warmup:
                samples[key].append(elapsed)
    return samples, last_loss


def summarize(
    peers: dict[str, Peer], samples: dict[str, list[float]], first_step: dict[str, float]
) -> dict[str, Result]:
    """Per peer: the median step time, and the median and quartiles of its per-round ratio
    to the first peer (jaxdl)."""
    reference = samples[next(iter(peers))]
    results = {}
    for key, peer in peers.items():
        ratios = [t / ref for t, ref in zip(samples[key], reference, strict=True)]
        q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        results[key] = Result(
            name=peer.name,
            how=peer.how,
            median=statistics.median(samples[key]),
            ratio=statistics.median(ratios),
            ratio_q1=q1,
            ratio_q3=q3,
            first_step=first_step[key],
        )
    return results


def check_final_losses(peers: dict[str, Peer], last_loss: dict[str, float]) -> float:
    """The largest gap between a peer's last-round loss and jaxdl's (the first peer's);
    raises :class:`PeerDisagreement` above ``FINAL_LOSS_ATOL``."""
    reference_key, *others = peers
    expected = last_loss[reference_key]
    worst = 0.0
    for key in others:
        gap = abs(last_loss[key] - expected)
        if not gap <= FINAL_LOSS_ATOL:
            raise PeerDisagreement(
                f"{peers[key].name}: last-round loss {last_loss[key]:.5f}, jaxdl's {expected:.5f}"
            )
        worst = max(worst, gap)
    return worst


def compare(
    keys: Sequence[str], batch_size: int, rounds: int, warmup: int, seed: int = 0
) -> tuple[dict[str, Result], dict[str, str], float]:
    """Build, check and time the peers ``keys`` (``"jaxdl"`` first) at ``batch_size``.

    Returns each peer's :class:`Result` by key, the peers that could not run (with the
    reason), and the largest gap between a peer's last-round loss and jaxdl's.
    """
    weights = _peers.initial_weights(jax.random.key(seed))
    batches = _peers.make_batches(batch_size, NUM_BATCHES, seed)
    peers, first_step, failed = build_peers(keys, weights, batches)
    samples, last_loss = time_rounds(peers, rounds, warmup, seed=seed)
    return summarize(peers, samples, first_step), failed, check_final_losses(peers, last_loss)


def format_table(results: dict[str, Result]) -> str:
    """A Markdown table: median ms per step, the median paired ratio to jaxdl and its
    interquartile range, and the first step's seconds."""
    lines = [
        "| peer | ms / step | ÷ jaxdl | ÷ jaxdl, 25–75 % | first step (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results.values():
        lines.append(
            f"| {r.name} | {r.median * 1e3:.2f} | {r.ratio:.2f} "
            f"| {r.ratio_q1:.2f}–{r.ratio_q3:.2f} | {r.first_step:.2f} |"
        )
    return "\n".join(lines)


def environment() -> str:
    """Date, CPU, core count, load average and versions, for the head of the report."""
    packages = ["jax", "jaxlib", "optax", "flax", "equinox", "keras", "torch"]
    versions = []
    for package in packages:
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    lines = [
        f"date {datetime.date.today().isoformat()}; CPU {cpu_model()}, {os.cpu_count()} cores; "
        f"device {jax.devices()[0].device_kind}; XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}",
        f"python {platform.python_version()}, " + ", ".join(versions),
    ]
    return "\n".join(lines)


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as ``uptime`` prints them."""
    if not hasattr(os, "getloadavg"):
        return "load average: n/a"
    return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _flat(weights: Weights) -> np.ndarray:
    """All weights and biases in one float32 vector, layer by layer."""
    return np.concatenate([np.ravel(array) for pair in weights for array in pair])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds, 2 warm-up (smoke test)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help=f"timed rounds per batch size (default {SAMPLES_PER_PEER:,} ÷ batch size)",
    )
    parser.add_argument("--warmup", type=int, default=None, help="warm-up rounds (default 10)")
    parser.add_argument("--batch-sizes", default="128,1024", help="comma-separated")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated, jaxdl first")
    args = parser.parse_args(argv)
    keys = [key.strip() for key in args.peers.split(",") if key.strip()]
    unknown = sorted(set(keys) - set(PEERS))
    if unknown:
        parser.error(f"unknown peers {unknown}; choose from {list(PEERS)}")
    keys = ["jaxdl", *(key for key in keys if key != "jaxdl")]
    missing = [key for key in keys if not _peers.available(key)]
    keys = [key for key in keys if key not in missing]
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    warmup = args.warmup if args.warmup is not None else (2 if args.quick else 10)

    print(environment())
    print(
        f"peers: {', '.join(keys)}" + (f"; not installed: {', '.join(missing)}" if missing else "")
    )
    for batch_size in batch_sizes:
        rounds = args.rounds or (5 if args.quick else max(20, SAMPLES_PER_PEER // batch_size))
        print(
            f"\nbatch {batch_size}: {rounds} rounds after {warmup} warm-up; "
            f"before: {load_average()}",
            flush=True,
        )
        results, failed, final_gap = compare(keys, batch_size, rounds, warmup)
        for key, reason in failed.items():
            print(f"  not run: {key}: {reason}")
        print(f"after: {load_average()}; last-round losses within {final_gap:.1e} of jaxdl's")
        for r in results.values():
            print(f"  {r.name}: {r.how}")
        print(format_table(results), flush=True)


if __name__ == "__main__":
    main()

"""bench/bench_peers.py: every installed peer trains the same network as jaxdl.

A few rounds per peer at a small batch, through the script's own functions; no time is
asserted. Peers whose package is missing are skipped; ``torch.compile`` is slow to compile
on the CPU and runs only with ``-m slow``.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
BATCH = 32
PEERS = [
    ("jax", ()),
    ("linen", ("flax",)),
    ("nnx", ("flax",)),
    ("equinox", ("equinox",)),
    ("keras", ("keras",)),
    ("torch", ("torch",)),
    pytest.param("torch-compile", ("torch",), marks=pytest.mark.slow),
]


@pytest.fixture(scope="module")
def bench():
    """bench_peers.py imported from its path, with its sibling ``_peers`` on sys.path."""
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_peers", BENCH / "bench_peers.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_peers", None)
        sys.modules.pop("_peers", None)
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def quick_comparison(bench):
    """One comparison of jaxdl with every installed peer but torch.compile: 2 rounds."""
    keys = ["jaxdl", *(key for key in bench.PEERS if key != "torch-compile")]
    keys = [key for key in keys if bench._peers.available(key)]
    return bench.compare(keys, BATCH, rounds=2, warmup=1)


@pytest.mark.parametrize(("key", "packages"), PEERS)
def test_peer_trains_like_jaxdl(bench, request, key, packages):
    for package in packages:
        pytest.importorskip(package)
    if key == "torch-compile":
        results, failed, final_gap = bench.compare(["jaxdl", key], BATCH, rounds=2, warmup=1)
    else:
        results, failed, final_gap = request.getfixturevalue("quick_comparison")
    assert key not in failed, failed[key]
    assert {"jaxdl", key} <= set(results)
    assert final_gap <= bench.FINAL_LOSS_ATOL
    for result in (results["jaxdl"], results[key]):
        assert math.isfinite(result.ratio) and result.ratio > 0
        assert result.median > 0 and result.first_step > 0


def test_disagreeing_peers_are_stopped(bench):
    """A peer whose first-step loss or weights differ from jaxdl's raises, so it cannot
    report a speed; the reference here is a stand-in with jaxdl's initial weights."""
    rng = np.random.default_rng(0)
    layers = bench._peers.LAYERS
    weights = [
        (rng.normal(size=(n_in, n_out)).astype(np.float32), np.zeros(n_out, np.float32))
        for n_in, n_out in itertools.pairwise(layers)
    ]

    def peer(name, weights):
        return bench._peers.Peer(name, lambda i: 0.0, lambda: weights, "")

    reference = peer("jaxdl", weights)
    with pytest.raises(bench.PeerDisagreement, match="first-step loss"):
        bench.check_agreement(
            {"jaxdl": reference, "other": peer("other", weights)}, {"jaxdl": 2.30, "other": 2.31}
        )
    # The same loss, but weights that moved differently (as with a wrong learning rate),
    # or became NaN.
    for fake in (
        [(w + 1e-3, b) for w, b in weights],
        [(np.full_like(w, np.nan), b) for w, b in weights],
    ):
        with pytest.raises(bench.PeerDisagreement, match="weights differ"):
            bench.check_agreement(
                {"jaxdl": reference, "liar": peer("liar", fake)}, {"jaxdl": 2.30, "liar": 2.30}
            )
    # A few weights off by rounding (an Adam step where |g| is near eps) are tolerated.
    nudged = [(w.copy(), b) for w, b in weights]
    nudged[0][0].flat[:100] += 1e-3
    bench.check_agreement(
        {"jaxdl": reference, "close": peer("close", nudged)}, {"jaxdl": 2.30, "close": 2.30}
    )


def test_main_prints_the_table(bench, capsys):
    bench.main(["--peers", "jax", "--batch-sizes", "16", "--rounds", "2", "--warmup", "1"])
    out = capsys.readouterr().out
    assert "load average" in out
    assert "| peer | ms / step | ÷ jaxdl |" in out
    assert "| jaxdl |" in out and "| pure JAX + optax |" in out

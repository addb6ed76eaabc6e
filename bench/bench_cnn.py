"""Time a LeNet training step and epoch, jaxdl against PyTorch eager, on the CPU.

The network is ``jaxdl.models.cnn()``: 5×5 convolutions with 32 and 64 filters (SAME
padding, ReLU, 2×2 max-pooling after each), dense 256 with ReLU and dropout 0.5, dense
10; softmax cross-entropy from logits, Adam with learning rate 1e-3, batch 128, 28×28×1
images. PyTorch trains the same architecture (``Conv2d(padding=2)``, ``MaxPool2d(2)``,
fused Adam) from the same starting weights, copied across, on the same batches. The two
dropout masks differ: each library draws its own.

Two measurements, each in a fresh process per configuration (XLA reads ``XLA_FLAGS``
once, at start-up): ``XLA defaults``; ``ynn fusion``, the flag
``--xla_cpu_experimental_ynn_fusion_type=dot,eltwise,reduce`` that the ``jaxdl``
command sets by default (``jaxdl/_xla.py``); and ``jaxdl command``, that flag with the
command's allocator setting too (``jaxdl/_malloc.py``: freed memory is kept for reuse
rather than faulted in afresh each step). The setting is the process's, so PyTorch, which
shares it, gets it as well. In each:

- **step**: one jitted ``jaxdl.train.make_train_step`` step (train state donated, batches
  on the device) against one PyTorch step, in interleaved rounds: each round runs both
  once, in an order drawn afresh (a fixed order would always put a JAX step right after
  a PyTorch one, whose OpenMP threads keep spinning for a moment after it returns). The
  ratio is the median of the per-round ratios jaxdl / PyTorch (below 1: jaxdl is faster),
  with its interquartile range. Compilation (trace, lower, compile) is timed apart.
- **fit epoch**: ``jaxdl.train.fit`` for ``--fit-batches`` batches per epoch against a
  PyTorch loop over as many batches: a callback runs and times one PyTorch epoch after
  each of ``fit``'s epochs; ``fit``'s first epoch (compilation included) is dropped.

``--conv-algorithm direct`` builds jaxdl's network with ``Conv2D(algorithm="direct")``
(XLA's own convolutions everywhere) instead of the default ``"auto"``, which takes the
Fourier method (``jaxdl/nn/_fourier.py``) for the second convolution on the CPU: run the
script once each way to compare the two.

Data: random images and labels by default (the time does not depend on the values), or
MNIST's first training images with ``--mnist`` (from ``$JAXDL_DATA_DIR`` or jaxdl's
download cache). The machine's load average is printed before and after each process:
PyTorch's threads slow down sharply when another process holds a core.

Usage::

    python bench/bench_cnn.py            # 40 step rounds, 3 fit epochs of 60 batches
    python bench/bench_cnn.py --quick    # a smoke run: 3 rounds, 2 fit epochs of 4 batches
    python bench/bench_cnn.py --conv-algorithm direct   # without the Fourier method

``bench/bench_lstm.py`` runs the same comparison for the LSTM classifier; the machinery
shared by both lives here.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from _common import Interleave, cpu_model

from jaxdl import _malloc, data, losses, models, nn, optim, train

BATCH = 128
LEARNING_RATE = 1e-3
YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type=dot,eltwise,reduce"
# The configurations compared, each run in its own process: name -> (XLA_FLAGS, whether
# the process keeps the memory it frees, as the jaxdl command makes it: jaxdl/_malloc.py).
CONFIGURATIONS = {
    "XLA defaults": ("", False),
    "ynn fusion": (YNN_FLAG, False),
    "jaxdl command": (YNN_FLAG, True),
}
ALLOCATOR_VARIABLES = {setting.variable for setting in _malloc.SETTINGS}


@dataclasses.dataclass(frozen=True)
class Workload:
    """One network trained by both libraries.

    Fields:
        name: the network's name in the table.
        build_jaxdl: ``() -> nn.Layer``, the jaxdl model.
        build_torch: ``(params) -> torch.nn.Module``, the same network with jaxdl's
            initial ``params`` (NumPy leaves) copied in.
        torch_input: ``(x) -> torch.Tensor`` from NumPy images ``(batch, 28, 28, 1)``.
    """

    name: str
    build_jaxdl: Callable[[], nn.Layer]
    build_torch: Callable[[Any], Any]
    torch_input: Callable[[np.ndarray], Any]


def lenet_torch(params: Any) -> Any:
    """``models.cnn()`` in PyTorch (NCHW), with jaxdl's params copied in."""
    import torch

    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 5, padding=2),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 5, padding=2),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64 * 7 * 7, 256),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(256, 10),
    )
    conv1, conv2, dense1, dense2 = (params[k] for k in ("0", "3", "7", "10"))
    # jaxdl flattens NHWC features in (h, w, c) order, PyTorch NCHW ones in (c, h, w):
    # reorder the first dense layer's input rows instead of transposing activations.
    dense1_w = dense1["w"].reshape(7, 7, 64, 256).transpose(2, 0, 1, 3).reshape(3136, 256)
    copies = [
        (net[0].weight, conv1["w"].transpose(3, 2, 0, 1)),  # HWIO -> OIHW
        (net[0].bias, conv1["b"]),
        (net[3].weight, conv2["w"].transpose(3, 2, 0, 1)),
        (net[3].bias, conv2["b"]),
        (net[7].weight, dense1_w.T),
        (net[7].bias, dense1["b"]),
        (net[10].weight, dense2["w"].T),
        (net[10].bias, dense2["b"]),
    ]
    with torch.no_grad():
        for parameter, value in copies:
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return net


def nchw(x: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


LENET = Workload("LeNet (models.cnn)", models.cnn, lenet_torch, nchw)


# --- one process: build both sides, check them, time them ---------------------------------


def make_batches(count: int, mnist: bool, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` batches ``(x (128, 28, 28, 1) float32, y (128,) int32)``."""
    n = count * BATCH
    if mnist:
        x, y = data.mnist().train
        x, y = np.asarray(x[:n], np.float32), np.asarray(y[:n], np.int32)
    else:
        rng = np.random.default_rng(seed)
        x = rng.random((n, 28, 28, 1), dtype=np.float32)
        y = rng.integers(0, 10, n).astype(np.int32)
    return [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, n, BATCH)]


class JaxdlSide:
    """A jitted, donating ``make_train_step`` step over batches already on the device."""

    def __init__(self, model: nn.Layer, params: Any, state: Any, batches, seed: int = 1):
        self.optimizer = optim.adam(LEARNING_RATE)
        raw_step = train.make_train_step(model, losses.softmax_cross_entropy, self.optimizer)
        self.train_state = train.TrainState.create(
            params=params, state=state, optimizer=self.optimizer
        )
        self.batches = [jax.device_put(batch) for batch in batches]
        self.keys = list(jax.random.split(jax.random.key(seed), len(batches)))
        start = time.perf_counter()
        lowered = jax.jit(raw_step, donate_argnums=0).lower(
            self.train_state, self.batches[0], self.keys[0]
        )
        self.step_fn = lowered.compile()
        self.compile_seconds = time.perf_counter() - start

    def step(self, i: int) -> float:
        self.train_state, metrics = self.step_fn(self.train_state, self.batches[i], self.keys[i])
        return float(metrics["loss"])  # waits for the step


class TorchSide:
    """PyTorch eager: ``zero_grad``, forward, cross-entropy, backward, fused Adam."""

    def __init__(self, net: Any, batches, to_input: Callable[[np.ndarray], Any], seed: int = 1):
        import torch

        torch.manual_seed(seed)
        self.torch, self.net = torch, net
        self.optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, fused=True)
        self.batches = [(to_input(x), torch.from_numpy(y).long()) for x, y in batches]

    def step(self, i: int) -> float:
        x, y = self.batches[i]
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.torch.nn.functional.cross_entropy(self.net(x), y)
        loss.backward()
        self.optimizer.step()
        return float(loss)


def check_same_network(workload: Workload, model, params, state, net, batch) -> float:
    """The largest gap between the two libraries' inference logits on ``batch``; raises
    if it is not small (the copy of the weights, or the architecture, would be wrong)."""
    import torch

    x, _ = batch
    ours = np.asarray(model.apply(params, state, x)[0])
    net.eval()
    with torch.no_grad():
        theirs = net(workload.torch_input(x)).numpy()
    net.train()
    gap = float(np.max(np.abs(ours - theirs)))
    if not gap <= 1e-3 * max(1.0, float(np.max(np.abs(ours)))):
        raise AssertionError(f"{workload.name}: jaxdl and PyTorch logits differ by {gap:.2e}")
    return gap


def time_rounds(sides: dict[str, Any], rounds: int, warmup: int, count: int, seed: int = 0):
    """Seconds of each side's step per round (round order), over ``rounds`` timed rounds
    after ``warmup``; each round trains every side once on the same batch, in an order
    drawn afresh."""
    names = list(sides)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + rounds):
        for index in rng.permutation(len(names)):
            name = names[index]
            start = time.perf_counter()
            sides[name].step(r % count)
            if r >= warmup:
                samples[name].append(time.perf_counter() - start)
    return samples


def build_model(workload: Workload, conv_algorithm: str) -> nn.Layer:
    """The workload's jaxdl model, its 2-D convolutions set to ``conv_algorithm``."""
    model = workload.build_jaxdl()
    if conv_algorithm == "auto":
        return model
    layers = [
        dataclasses.replace(layer, algorithm=conv_algorithm)
        if isinstance(layer, nn.Conv2D)
        else layer
        for layer in model.layers
    ]
    return nn.Sequential(dict(zip(model.names, layers)))


def time_fit(
    workload: Workload, params, state, batches, epochs: int, net, conv_algorithm: str = "auto"
) -> dict[str, Any]:
    """``fit`` epochs against PyTorch epochs over the same batches, interleaved; the
    first epoch of each (compilation, warm-up) is dropped."""
    model = build_model(workload, conv_algorithm)
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    torch_side = TorchSide(net, batches, workload.torch_input)
    optimizer = optim.adam(LEARNING_RATE)
    start_state = train.TrainState.create(params=params, state=state, optimizer=optimizer)

    def torch_epoch() -> None:
        for i in range(len(batches)):
            torch_side.step(i)

    timer = Interleave(torch_epoch)
    train.fit(
        model,
        optimizer,
        (x, y),
        loss=losses.softmax_cross_entropy,
        epochs=epochs,
        batch_size=BATCH,
        key=jax.random.key(2),
        progress=False,
        callbacks=[timer],
        train_state=start_state,
    )
    fit_s, torch_s = timer.fit_seconds[1:], timer.peer_seconds[1:]
    return {
        "fit_first_epoch": timer.fit_seconds[0],
        "fit_epoch": statistics.median(fit_s),
        "torch_epoch": statistics.median(torch_s),
        "fit_ratio": statistics.median([a / b for a, b in zip(fit_s, torch_s, strict=True)]),
    }


def measure(workload: Workload, args: argparse.Namespace) -> dict[str, Any]:
    """Everything one process measures, as a JSON-able dict."""
    import torch

    load_before = os.getloadavg()
    count = max(args.fit_batches, 8)
    batches = make_batches(count, args.mnist)
    model = build_model(workload, args.conv_algorithm)
    params, state = model.init(jax.random.key(0), jnp.asarray(batches[0][0]))
    numpy_params = jax.tree_util.tree_map(np.asarray, params)
    gap = check_same_network(
        workload, model, params, state, workload.build_torch(numpy_params), batches[0]
    )

    # Each side gets its own copy of the params: the jitted step donates its train state.
    jaxdl_side = JaxdlSide(model, _on_device(numpy_params), state, batches)
    start = time.perf_counter()
    jaxdl_side.step(0)
    jaxdl_first = time.perf_counter() - start
    torch_side = TorchSide(workload.build_torch(numpy_params), batches, workload.torch_input)
    start = time.perf_counter()
    torch_side.step(0)
    torch_first = time.perf_counter() - start

    samples = time_rounds({"jaxdl": jaxdl_side, "torch": torch_side}, args.rounds, 3, count)
    ratios = [a / b for a, b in zip(samples["jaxdl"], samples["torch"], strict=True)]
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    result = {
        "logit_gap": gap,
        "jaxdl_step": statistics.median(samples["jaxdl"]),
        "torch_step": statistics.median(samples["torch"]),
        "step_ratio": statistics.median(ratios),
        "step_ratio_q1": q1,
        "step_ratio_q3": q3,
        "jaxdl_compile": jaxdl_side.compile_seconds,
        "jaxdl_first_step": jaxdl_first,
        "torch_first_step": torch_first,
        "torch_threads": torch.get_num_threads(),
    }
    if args.fit_epochs >= 2:
        net = workload.build_torch(numpy_params)
        result |= time_fit(
            workload,
            _on_device(numpy_params),
            state,
            batches[: args.fit_batches],
            args.fit_epochs,
            net,
            args.conv_algorithm,
        )
    result["load_before"] = load_before
    result["load_after"] = os.getloadavg()
    return result


# --- the command: one child process per configuration, one table ------------------------


def environment() -> str:
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("jax", "jaxlib", "torch")
    )
    return (
        f"date {datetime.date.today().isoformat()}; CPU {cpu_model()}, {os.cpu_count()} "
        f"cores; python {platform.python_version()}, {versions}"
    )


def format_table(
    workload: Workload, results: dict[str, dict[str, Any]], conv_algorithm: str
) -> str:
    lines = [
        f"{workload.name}, batch {BATCH}, Adam {LEARNING_RATE:g}, Conv2D algorithm "
        f"{conv_algorithm}",
        "",
        "| configuration | jaxdl step (ms) | torch step (ms) | jaxdl ÷ torch | 25–75 % "
        "| fit epoch (s) | torch epoch (s) | fit ÷ torch | jaxdl compile (s) | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in results.items():
        fit = (
            f"{r['fit_epoch']:.2f} | {r['torch_epoch']:.2f} | {r['fit_ratio']:.2f}"
            if "fit_epoch" in r
            else "– | – | –"
        )
        load = f"{r['load_before'][0]:.2f} → {r['load_after'][0]:.2f}"
        lines.append(
            f"| {name} | {r['jaxdl_step'] * 1e3:.1f} | {r['torch_step'] * 1e3:.1f} "
            f"| {r['step_ratio']:.2f} | {r['step_ratio_q1']:.2f}–{r['step_ratio_q3']:.2f} "
            f"| {fit} | {r['jaxdl_compile']:.2f} | {load} |"
        )
    first = next(iter(results.values()))
    lines += [
        "",
        f"torch threads: {first['torch_threads']}; largest gap between the two libraries' "
        f"initial logits: {max(r['logit_gap'] for r in results.values()):.1e}",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None, description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smoke run (a few rounds)")
    parser.add_argument("--rounds", type=int, default=None, help="timed step rounds (40)")
    parser.add_argument("--fit-batches", type=int, default=None, help="batches per fit epoch")
    parser.add_argument("--fit-epochs", type=int, default=None, help="fit epochs, first dropped")
    parser.add_argument("--mnist", action="store_true", help="MNIST images, not random ones")
    parser.add_argument(
        "--configs", default=",".join(CONFIGURATIONS), help="comma-separated configurations"
    )
    parser.add_argument(
        "--conv-algorithm",
        choices=("auto", "direct"),
        default="auto",
        help="jaxdl's Conv2D algorithm (default auto)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 40)
    args.fit_batches = args.fit_batches or (4 if args.quick else 60)
    args.fit_epochs = args.fit_epochs if args.fit_epochs is not None else 2 if args.quick else 3
    unknown = sorted(set(args.configs.split(",")) - set(CONFIGURATIONS))
    if unknown:
        parser.error(f"unknown configurations {unknown}; choose from {list(CONFIGURATIONS)}")
    return args


def main(workload: Workload, script: str, argv: Sequence[str] | None = None) -> None:
    """Measure ``workload`` in one child process per configuration and print the table
    (the child, with ``--child``, prints its measurements as JSON)."""
    args = parse_args(argv, (__doc__ or "").splitlines()[0])
    if args.child is not None:
        if CONFIGURATIONS[args.child][1]:
            _malloc.keep_freed_memory()  # for both libraries: they share the process
        print(json.dumps(measure(workload, args)))
        return
    print(environment())
    results = {}
    passed = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--child"]
    for name in args.configs.split(","):
        flags, _ = CONFIGURATIONS[name]
        inherited = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_VARIABLES}
        env = {**inherited, "XLA_FLAGS": flags, "JAXDL_NO_XLA_DEFAULTS": "1"}
        completed = subprocess.run(
            [sys.executable, script, *passed, "--child", name],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise SystemExit(f"{name}: the measuring process failed:\n{completed.stderr}")
        results[name] = json.loads(completed.stdout.strip().splitlines()[-1])
    print(format_table(workload, results, args.conv_algorithm))


def _on_device(tree: Any) -> Any:
    return jax.tree_util.tree_map(jnp.asarray, tree)


if __name__ == "__main__":
    main(LENET, __file__)

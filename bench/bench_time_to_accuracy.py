"""Time to 98 % MNIST test accuracy, wall clock from process start, jaxdl against its peers.

Each peer trains the MLP 784-512-256-10 (ReLU, logits, softmax cross-entropy, Adam 1e-3,
batch 128, its own default initialisation, a fixed seed) in a fresh Python process, the
way its users write it, and evaluates the 10,000 test images after every epoch; the
process exits as soon as test accuracy reaches the target. The figure is that process's
wall time as the parent sees it: interpreter start, imports, reading the data, compiling,
training and the per-epoch evaluations all count.

- ``jaxdl``: ``data.mnist()`` (its verified cache of decoded arrays after the first use),
  ``train.fit`` with a callback that runs ``train.evaluate`` and stops at the target;
- ``pure JAX``: the IDX files decoded with NumPy, a jitted ``lax.scan`` epoch over
  optax's Adam, a jitted evaluation;
- ``PyTorch``: the same decoding, an eager loop with ``torch.optim.Adam(fused=True)``;
- ``Keras 3 (JAX)``: the same decoding, ``model.fit`` one epoch at a time, then
  ``model.evaluate``.

The peers take turns round by round, in rotated order, and the table gives the median
wall time, the epochs needed and the median of per-round ratios against jaxdl. MNIST is
read from ``--data-dir`` or ``$JAXDL_DATA_DIR`` (or jaxdl's download cache).

Usage::

    python bench/bench_time_to_accuracy.py             # 3 rounds
    python bench/bench_time_to_accuracy.py --rounds 1
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

TARGET = 0.98
MAX_EPOCHS = 20

READ_IDX = """
import gzip, os, numpy as np
def read(folder, name):
    with gzip.open(os.path.join(folder, name), "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)
def load(folder):
    x = read(folder, "train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    y = read(folder, "train-labels-idx1-ubyte.gz").astype(np.int32)
    xt = read(folder, "t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    yt = read(folder, "t10k-labels-idx1-ubyte.gz").astype(np.int32)
    return x, y, xt, yt
"""

PEERS = {
    "jaxdl": """
import jax
from jaxdl import data, losses, models, optim, train
mnist = data.mnist(DATA_DIR)
model = models.mlp(10, (512, 256))
result = {}
class StopAtTarget(train.Callback):
    def on_epoch_end(self, epoch, logs, context):
        accuracy = train.evaluate(model, context.train_state, mnist.test,
                                  loss=losses.softmax_cross_entropy, batch_size=1000)["accuracy"]
        result.update(epochs=epoch + 1, accuracy=accuracy)
        context.stop_training = accuracy >= TARGET
train.fit(model, optim.adam(1e-3), mnist.train, loss=losses.softmax_cross_entropy,
          epochs=MAX_EPOCHS, batch_size=128, key=jax.random.key(0), progress=False,
          callbacks=[StopAtTarget()])
""",
    "pure JAX": READ_IDX
    + """
import jax, jax.numpy as jnp, optax
x, y, xt, yt = load(FOLDER)
tx = optax.adam(1e-3)
def init(key):
    sizes = (784, 512, 256, 10)
    keys = jax.random.split(key, len(sizes) - 1)
    return [(jax.random.normal(k, (a, b)) * jnp.sqrt(2.0 / a), jnp.zeros(b))
            for k, a, b in zip(keys, sizes[:-1], sizes[1:])]
def forward(params, x):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b
def loss_fn(params, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(forward(params, x), y).mean()
@jax.jit
def epoch(params, opt_state, x, y, key):
    n = x.shape[0] // 128
    order = jax.random.permutation(key, x.shape[0])[: n * 128].reshape(n, 128)
    def body(carry, idx):
        params, opt_state = carry
        grads = jax.grad(loss_fn)(params, x[idx], y[idx])
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None
    (params, opt_state), _ = jax.lax.scan(body, (params, opt_state), order)
    return params, opt_state
@jax.jit
def accuracy(params, x, y):
    return jnp.mean(jnp.argmax(forward(params, x), -1) == y)
params = jax.jit(init)(jax.random.key(0))
opt_state = tx.init(params)
x, y, xt, yt = map(jax.device_put, (x, y, xt, yt))
result = {}
for e in range(MAX_EPOCHS):
    params, opt_state = epoch(params, opt_state, x, y, jax.random.key(e + 1))
    result.update(epochs=e + 1, accuracy=float(accuracy(params, xt, yt)))
    if result["accuracy"] >= TARGET:
        break
""",
    "PyTorch": READ_IDX
    + """
import torch
torch.manual_seed(0)
x, y, xt, yt = (torch.from_numpy(a) for a in load(FOLDER))
y, yt = y.long(), yt.long()
model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                            torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
loss_fn = torch.nn.CrossEntropyLoss()
result = {}
for e in range(MAX_EPOCHS):
    model.train()
    order = torch.randperm(len(x))
    for start in range(0, len(x) - 127, 128):
        idx = order[start:start + 128]
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(xt).argmax(-1) == yt).float().mean().item()
    result.update(epochs=e + 1, accuracy=acc)
    if acc >= TARGET:
        break
""",
    "Keras 3 (JAX)": READ_IDX
    + """
import os
os.environ["KERAS_BACKEND"] = "jax"
import keras
keras.utils.set_random_seed(0)
x, y, xt, yt = load(FOLDER)
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"),
                          keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)])
model.compile(optimizer=keras.optimizers.Adam(1e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
result = {}
for e in range(MAX_EPOCHS):
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    acc = model.evaluate(xt, yt, batch_size=1000, verbose=0)[1]
    result.update(epochs=e + 1, accuracy=float(acc))
    if acc >= TARGET:
        break
""",
}

REQUIRES = {"jaxdl": "jax", "pure JAX": "optax", "PyTorch": "torch", "Keras 3 (JAX)": "keras"}


def child_source(peer: str, data_dir: str | None, folder: str) -> str:
    header = (
        f"DATA_DIR = {data_dir!r}\nFOLDER = {folder!r}\nTARGET = {TARGET}\n"
        f"MAX_EPOCHS = {MAX_EPOCHS}\n"
    )
    footer = "\nimport json\nprint(json.dumps(result))\n"
    return header + PEERS[peer] + footer


def mnist_folder(data_dir: str | None) -> str:
    """The folder of the four MNIST files, found (or downloaded) by jaxdl's own lookup."""
    from jaxdl import data

    data.mnist(data_dir)  # fills jaxdl's cache on the first use, outside the timing
    for root in filter(None, [data_dir, os.environ.get("JAXDL_DATA_DIR")]):
        for folder in (os.path.join(root, "mnist"), root):
            if os.path.exists(os.path.join(folder, "t10k-labels-idx1-ubyte.gz")):
                return folder
    return str(data.default_cache_dir() / "mnist")


def run(peer: str, data_dir: str | None, folder: str) -> dict:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", child_source(peer, data_dir, folder)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **json.loads(out.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", default=os.environ.get("JAXDL_DATA_DIR"))
    args = parser.parse_args()
    folder = mnist_folder(args.data_dir)
    peers = [p for p in PEERS if importlib.util.find_spec(REQUIRES[p]) is not None]
    results: dict[str, list[dict]] = {p: [] for p in peers}
    for round_ in range(args.rounds):
        shift = round_ % len(peers)
        for peer in peers[shift:] + peers[:shift]:
            results[peer].append(run(peer, args.data_dir, folder))
    print(
        f"{time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; target "
        f"{TARGET:.0%}, {args.rounds} rounds"
    )
    print("| peer | wall s (median) | epochs | test accuracy | ÷ jaxdl (min–max) |")
    print("|---|---:|---:|---:|---:|")
    ours = np.array([r["seconds"] for r in results["jaxdl"]])
    for peer in peers:
        seconds = np.array([r["seconds"] for r in results[peer]])
        ratio = seconds / ours
        epochs = sorted({r["epochs"] for r in results[peer]})
        accuracy = np.median([r["accuracy"] for r in results[peer]])
        print(
            f"| {peer} | {np.median(seconds):.1f} | {'/'.join(map(str, epochs))} | "
            f"{accuracy:.2%} | {np.median(ratio):.2f} ({ratio.min():.2f}–{ratio.max():.2f}) |"
        )


if __name__ == "__main__":
    main()

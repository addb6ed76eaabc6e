"""Time to a target MNIST test accuracy, wall clock from process start, jaxdl against its peers.

Two workloads (``--model``):

- ``mlp`` (default): the MLP 784-512-256-10 (ReLU) to 98 % test accuracy;
- ``cnn``: the LeNet of ``models.cnn()`` — 5×5 convolutions of 32 and 64 channels
  ("same" padding), each followed by ReLU and a 2×2 max-pool, then dense 256, ReLU,
  dropout 0.5 and dense 10 — to 99 %.

Each peer trains the network (logits, softmax cross-entropy, Adam 1e-3, batch 128, its own
default initialisation, a fixed seed) in a fresh Python process, the way its users write
it, and evaluates the 10,000 test images after every epoch; the process exits as soon as
test accuracy reaches the target. The figure is that process's wall time as the parent
sees it: interpreter start, imports, reading the data, compiling, training and the
per-epoch evaluations all count.

- ``jaxdl``: ``data.mnist()`` (its verified cache of decoded arrays after the first use),
  ``train.fit`` with a callback that runs ``train.evaluate`` and stops at the target;
- ``pure JAX``: the IDX files decoded with NumPy, a jitted ``lax.scan`` epoch over
  optax's Adam, a jitted evaluation;
- ``PyTorch``: the same decoding, an eager loop with ``torch.optim.Adam(fused=True)``;
- ``Keras 3 (JAX)``: the same decoding, ``model.fit`` one epoch at a time, then
  ``model.evaluate``.

For the CNN, the pure-JAX peer steps a jitted, donating train step batch by batch (a
convolution's weight gradient inside ``lax.scan`` is many times slower on XLA:CPU, so a
scanned epoch is not what its users would write there), with ``lax.reduce_window``
max-pooling, as ``flax.linen.max_pool`` does; PyTorch reads ``(N, 1, 28, 28)`` batches.
No peer sets XLA flags or allocator settings, except two rows: ``jaxdl (command's
settings)``, the same jaxdl program with ``jaxdl._xla.apply_defaults()`` and
``jaxdl._malloc.keep_freed_memory()`` called first, as the ``jaxdl`` command does; and
``PyTorch (same allocator setting)``, the PyTorch program with the second of those
(glibc then keeps freed memory for reuse in either library, see ``jaxdl/_malloc.py``).

The peers take turns round by round, in rotated order, and the table gives the median
wall time, the epochs needed and the median of per-round ratios against jaxdl. MNIST is
read from ``--data-dir`` or ``$JAXDL_DATA_DIR`` (or jaxdl's download cache).

Usage::

    python bench/bench_time_to_accuracy.py             # the MLP to 98 %, 3 rounds
    python bench/bench_time_to_accuracy.py --rounds 1
    python bench/bench_time_to_accuracy.py --model cnn --rounds 2
    python bench/bench_time_to_accuracy.py --model cnn --peers PyTorch
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

TARGETS = {"mlp": 0.98, "cnn": 0.99}
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

JAXDL = """
import jax
from jaxdl import data, losses, models, optim, train
mnist = data.mnist(DATA_DIR)
model = MODEL
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
"""

# PyTorch and Keras: the data and `model` come first, then the same training loop.
TORCH_START = (
    READ_IDX
    + """
import torch
nn = torch.nn
torch.manual_seed(0)
x, y, xt, yt = (torch.from_numpy(a) for a in load(FOLDER))
y, yt = y.long(), yt.long()
"""
)
TORCH_TRAIN = """
opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
loss_fn = nn.CrossEntropyLoss()
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
        hits = sum((model(xt[s:s + 1000]).argmax(-1) == yt[s:s + 1000]).sum().item()
                   for s in range(0, len(xt), 1000))
    result.update(epochs=e + 1, accuracy=hits / len(xt))
    if result["accuracy"] >= TARGET:
        break
"""
KERAS_START = (
    READ_IDX
    + """
import os
os.environ["KERAS_BACKEND"] = "jax"
import keras
L = keras.layers
keras.utils.set_random_seed(0)
x, y, xt, yt = load(FOLDER)
"""
)
KERAS_TRAIN = """
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
"""

MLP_PEERS = {
    "jaxdl": JAXDL.replace("MODEL", "models.mlp(10, (512, 256))"),
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
    "PyTorch": TORCH_START
    + """
model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                      nn.Linear(256, 10))
"""
    + TORCH_TRAIN,
    "Keras 3 (JAX)": KERAS_START
    + """
model = keras.Sequential([keras.Input((784,)), L.Dense(512, activation="relu"),
                          L.Dense(256, activation="relu"), L.Dense(10)])
"""
    + KERAS_TRAIN,
}

JAXDL_CNN = JAXDL.replace("MODEL", "models.cnn()")
# What the jaxdl command does before anything else (jaxdl.cli.main): its XLA flag, then
# its allocator setting; the second alone, for the PyTorch row that shares it.
ALLOCATOR_SETTING = "from jaxdl import _malloc\n_malloc.keep_freed_memory()\n"
COMMAND_SETTINGS = "from jaxdl import _xla\n_xla.apply_defaults()\n" + ALLOCATOR_SETTING
TORCH_CNN = """
x, xt = x.reshape(-1, 1, 28, 28), xt.reshape(-1, 1, 28, 28)
model = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(3136, 256), nn.ReLU(), nn.Dropout(0.5),
                      nn.Linear(256, 10))
"""
CNN_PEERS = {
    "jaxdl": JAXDL_CNN,
    "jaxdl (command's settings)": COMMAND_SETTINGS + JAXDL_CNN,
    "pure JAX": READ_IDX
    + """
import functools
import jax, jax.numpy as jnp, optax
x, y, xt, yt = load(FOLDER)
x, xt = x.reshape(-1, 28, 28, 1), xt.reshape(-1, 28, 28, 1)
tx = optax.adam(1e-3)
DIMS = ("NHWC", "HWIO", "NHWC")
def he(key, shape, fan_in):
    return jax.random.normal(key, shape) * jnp.sqrt(2.0 / fan_in)
def init(key):
    k = jax.random.split(key, 4)
    return {"c1": (he(k[0], (5, 5, 1, 32), 25), jnp.zeros(32)),
            "c2": (he(k[1], (5, 5, 32, 64), 800), jnp.zeros(64)),
            "d1": (he(k[2], (3136, 256), 3136), jnp.zeros(256)),
            "d2": (jax.random.normal(k[3], (256, 10)) / 16.0, jnp.zeros(10))}
def conv_block(x, w, b):
    x = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=DIMS) + b
    x = jax.nn.relu(x)
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
def forward(params, x, key=None):
    x = conv_block(x, *params["c1"])
    x = conv_block(x, *params["c2"])
    w, b = params["d1"]
    x = jax.nn.relu(x.reshape(len(x), -1) @ w + b)
    if key is not None:
        keep = jax.random.bernoulli(key, 0.5, x.shape)
        x = jnp.where(keep, x / 0.5, 0.0)
    w, b = params["d2"]
    return x @ w + b
def loss_fn(params, x, y, key):
    logits = forward(params, x, key)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
@functools.partial(jax.jit, donate_argnums=(0, 1))
def step(params, opt_state, x, y, idx, key):
    grads = jax.grad(loss_fn)(params, x[idx], y[idx], key)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state
@jax.jit
def correct(params, x, y):
    return jnp.sum(jnp.argmax(forward(params, x), -1) == y)
params = jax.jit(init)(jax.random.key(0))
opt_state = tx.init(params)
x, y, xt, yt = map(jax.device_put, (x, y, xt, yt))
result = {}
for e in range(MAX_EPOCHS):
    order_key, dropout_key = jax.random.split(jax.random.key(e + 1))
    n = x.shape[0] // 128
    order = jax.random.permutation(order_key, x.shape[0])[: n * 128].reshape(n, 128)
    for i, key in enumerate(jax.random.split(dropout_key, n)):
        params, opt_state = step(params, opt_state, x, y, order[i], key)
    hits = sum(int(correct(params, xt[s:s + 1000], yt[s:s + 1000]))
               for s in range(0, len(xt), 1000))
    result.update(epochs=e + 1, accuracy=hits / len(xt))
    if result["accuracy"] >= TARGET:
        break
""",
    "PyTorch": TORCH_START + TORCH_CNN + TORCH_TRAIN,
    "PyTorch (same allocator setting)": ALLOCATOR_SETTING + TORCH_START + TORCH_CNN + TORCH_TRAIN,
    "Keras 3 (JAX)": KERAS_START
    + """
x, xt = x.reshape(-1, 28, 28, 1), xt.reshape(-1, 28, 28, 1)
model = keras.Sequential([keras.Input((28, 28, 1)),
                          L.Conv2D(32, 5, padding="same", activation="relu"), L.MaxPooling2D(2),
                          L.Conv2D(64, 5, padding="same", activation="relu"), L.MaxPooling2D(2),
                          L.Flatten(), L.Dense(256, activation="relu"), L.Dropout(0.5),
                          L.Dense(10)])
"""
    + KERAS_TRAIN,
}

PEERS = {"mlp": MLP_PEERS, "cnn": CNN_PEERS}
REQUIRES = {
    "jaxdl": "jax",
    "jaxdl (command's settings)": "jax",
    "pure JAX": "optax",
    "PyTorch": "torch",
    "PyTorch (same allocator setting)": "torch",
    "Keras 3 (JAX)": "keras",
}


def child_source(model: str, peer: str, data_dir: str | None, folder: str) -> str:
    header = (
        f"DATA_DIR = {data_dir!r}\nFOLDER = {folder!r}\nTARGET = {TARGETS[model]}\n"
        f"MAX_EPOCHS = {MAX_EPOCHS}\n"
    )
    footer = "\nimport json\nprint(json.dumps(result))\n"
    return header + PEERS[model][peer] + footer


def mnist_folder(data_dir: str | None) -> str:
    """The folder of the four MNIST files, found (or downloaded) by jaxdl's own lookup."""
    from jaxdl import data

    data.mnist(data_dir)  # fills jaxdl's cache on the first use, outside the timing
    for root in filter(None, [data_dir, os.environ.get("JAXDL_DATA_DIR")]):
        for folder in (os.path.join(root, "mnist"), root):
            if os.path.exists(os.path.join(folder, "t10k-labels-idx1-ubyte.gz")):
                return folder
    return str(data.default_cache_dir() / "mnist")


def run(model: str, peer: str, data_dir: str | None, folder: str) -> dict:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", child_source(model, peer, data_dir, folder)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **json.loads(out.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(PEERS), default="mlp")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", default=os.environ.get("JAXDL_DATA_DIR"))
    parser.add_argument(
        "--peers", default=None, help="comma-separated rows to run (default: all; jaxdl always)"
    )
    args = parser.parse_args()
    chosen = list(PEERS[args.model])
    if args.peers is not None:
        unknown = sorted(set(args.peers.split(",")) - set(chosen))
        if unknown:
            parser.error(f"unknown peers {unknown} for --model {args.model}; choose from {chosen}")
        chosen = ["jaxdl", *(p for p in chosen if p in args.peers.split(",") and p != "jaxdl")]
    folder = mnist_folder(args.data_dir)
    peers = [p for p in chosen if importlib.util.find_spec(REQUIRES[p]) is not None]
    results: dict[str, list[dict]] = {p: [] for p in peers}
    for round_ in range(args.rounds):
        shift = round_ % len(peers)
        for peer in peers[shift:] + peers[:shift]:
            results[peer].append(run(args.model, peer, args.data_dir, folder))
    print(
        f"{time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.model} to "
        f"{TARGETS[args.model]:.0%}, {args.rounds} rounds"
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

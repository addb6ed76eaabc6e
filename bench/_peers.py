"""The MNIST-MLP training step written the way each library's users write it.

Every peer trains the same network — 784-512-256-10, ReLU, logits, softmax cross-entropy
averaged over the batch, Adam with learning rate 1e-3 (and the other hyperparameters
optax's and PyTorch's defaults: b1 0.9, b2 0.999, eps 1e-8) — from the same starting
weights, on the same batches. A peer is built from

- ``weights``: a list of ``(w, b)`` NumPy float32 pairs, one per dense layer, ``w`` of
  shape ``(in, out)`` (jaxdl's and Keras's layout; the PyTorch and Equinox peers store the
  transpose), which each peer copies into its own model;
- ``batches``: a list of ``(x, y)`` NumPy pairs, ``x`` float32 ``(batch, 784)``, ``y``
  int32 ``(batch,)``, which each peer converts once, before any timing, into its own array
  type (JAX arrays on the device, or torch tensors), so that no step pays for a copy.

``peer.step(i)`` runs one training step on ``batches[i]`` and returns only once the
update is done (:func:`jax.block_until_ready` on the step's loss, since one XLA
execution makes all its outputs ready together; for PyTorch on the CPU, the call returns
when its work is done); it returns that batch's loss, computed before the update, as a
float.
``peer.weights()`` reads the current weights back in the layout of ``weights``.

Importing this module sets ``KERAS_BACKEND=jax`` unless it is already set, because Keras
reads it once, at its import.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdl import losses, models, optim
from jaxdl.train import TrainState, make_train_step

os.environ.setdefault("KERAS_BACKEND", "jax")

__all__ = [
    "LAYERS",
    "LEARNING_RATE",
    "PEERS",
    "Batches",
    "Peer",
    "Weights",
    "available",
    "build",
    "initial_weights",
    "make_batches",
]

LAYERS = (784, 512, 256, 10)
LEARNING_RATE = 1e-3
ADAM_EPS = 1e-8

Weights = list[tuple[np.ndarray, np.ndarray]]
Batches = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class Peer:
    """One library's training step over prepared batches.

    Fields:
        name: the peer's name in the table.
        step: ``step(i) -> loss``: one training step on batch ``i``, finished on return;
            the loss is the batch's, before the update.
        weights: ``weights() -> Weights``: the current weights, ``w`` as ``(in, out)``.
        how: how the step is written (jit, donation, optimizer implementation), for the table.
    """

    name: str
    step: Callable[[int], float]
    weights: Callable[[], Weights]
    how: str


def initial_weights(key: jax.Array) -> Weights:
    """jaxdl's initial weights for ``models.mlp()`` (He-uniform kernels, zero biases)."""
    params, _ = _mlp_init(key, jax.ShapeDtypeStruct((1, LAYERS[0]), jnp.float32))
    return _from_jaxdl(params)


def make_batches(batch_size: int, count: int, seed: int = 0) -> Batches:
    """``count`` batches of MNIST-like data: pixels uniform in [0, 1), labels in 0..9.

    Random rather than MNIST: a step's time does not depend on the values, and the
    benchmark then needs no download.
    """
    rng = np.random.default_rng(seed)
    return [
        (
            rng.random((batch_size, LAYERS[0]), dtype=np.float32),
            rng.integers(0, LAYERS[-1], batch_size).astype(np.int32),
        )
        for _ in range(count)
    ]


def build(name: str, weights: Weights, batches: Batches) -> Peer:
    """The peer ``name`` (a key of :data:`PEERS`), starting from ``weights``."""
    builder, _ = PEERS[name]
    return builder(weights, batches)


def available(name: str) -> bool:
    """Whether the packages that peer ``name`` needs are installed (nothing is imported)."""
    _, packages = PEERS[name]
    return all(importlib.util.find_spec(package) is not None for package in packages)


# ---------------------------------------------------------------- JAX-based peers


def _jaxdl(weights: Weights, batches: Batches) -> Peer:
    """``jaxdl.train.make_train_step`` under ``jax.jit``, the ``TrainState`` donated."""
    model, optimizer = models.mlp(), optim.adam(LEARNING_RATE)
    shapes, state = jax.eval_shape(
        model.init, jax.random.key(0), jax.ShapeDtypeStruct((1, LAYERS[0]), jnp.float32)
    )
    params = _to_jaxdl(shapes, weights)
    train_state = TrainState.create(params=params, state=state, optimizer=optimizer)
    train_step = jax.jit(
        make_train_step(model, losses.softmax_cross_entropy, optimizer), donate_argnums=0
    )
    device_batches = _device_batches(batches)
    carry = [train_state]

    def step(i: int) -> float:
        carry[0], metrics = train_step(carry[0], device_batches[i], None)
        return float(jax.block_until_ready(metrics["loss"]))

    return Peer(
        "jaxdl",
        step,
        lambda: _from_jaxdl(carry[0].params),
        "jit(make_train_step), TrainState donated",
    )


def _pure_jax(weights: Weights, batches: Batches) -> Peer:
    """A hand-written step on a list of ``(w, b)`` pairs with optax, buffers donated."""
    optimizer = optax.adam(LEARNING_RATE, eps=ADAM_EPS)
    params = [(jnp.array(w), jnp.array(b)) for w, b in weights]

    def loss_fn(params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b)
        w, b = params[-1]
        return optax.softmax_cross_entropy_with_integer_labels(x @ w + b, y).mean()

    def _step(params: Any, opt_state: Any, x: jax.Array, y: jax.Array) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    train_step = jax.jit(_step, donate_argnums=(0, 1))
    device_batches = _device_batches(batches)
    carry = [params, optimizer.init(params)]

    def step(i: int) -> float:
        carry[0], carry[1], loss = train_step(carry[0], carry[1], *device_batches[i])
        return float(jax.block_until_ready(loss))

    return Peer(
        "pure JAX + optax", step, lambda: _to_numpy(carry[0]), "jit, params and state donated"
    )


def _flax_linen(weights: Weights, batches: Batches) -> Peer:
    """``nn.Dense`` stack, ``flax.training.train_state.TrainState`` and a jitted step, as in
    the Flax quick start (which does not donate)."""
    import flax.linen as nn
    from flax.training import train_state

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x: jax.Array) -> jax.Array:
            for features in LAYERS[1:-1]:
                x = nn.relu(nn.Dense(features)(x))
            return nn.Dense(LAYERS[-1])(x)

    model = MLP()
    params = {
        "params": {
            f"Dense_{i}": {"kernel": jnp.array(w), "bias": jnp.array(b)}
            for i, (w, b) in enumerate(weights)
        }
    }
    state = train_state.TrainState.create(
        apply_fn=model.apply, params=params, tx=optax.adam(LEARNING_RATE, eps=ADAM_EPS)
    )

    @jax.jit
    def train_step(state: train_state.TrainState, x: jax.Array, y: jax.Array) -> Any:
        def loss_fn(params: Any) -> jax.Array:
            logits = state.apply_fn(params, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), loss

    device_batches = _device_batches(batches)
    carry = [state]

    def step(i: int) -> float:
        carry[0], loss = train_step(carry[0], *device_batches[i])
        return float(jax.block_until_ready(loss))

    def read() -> Weights:
        layers = carry[0].params["params"]
        return [
            (np.asarray(layers[f"Dense_{i}"]["kernel"]), np.asarray(layers[f"Dense_{i}"]["bias"]))
            for i in range(len(weights))
        ]

    return Peer("Flax linen", step, read, "jit, TrainState, not donated (quick start)")


def _flax_nnx(weights: Weights, batches: Batches) -> Peer:
    """``nnx.Linear`` stack, ``nnx.Optimizer`` and an ``nnx.jit`` step, as the NNX docs do."""
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.layers = nnx.List(
                [nnx.Linear(n_in, n_out, rngs=rngs) for n_in, n_out in itertools.pairwise(LAYERS)]
            )

        def __call__(self, x: jax.Array) -> jax.Array:
            for layer in self.layers[:-1]:
                x = nnx.relu(layer(x))
            return self.layers[-1](x)

    model = nnx.eval_shape(lambda: MLP(nnx.Rngs(0)))  # shapes only: the weights are given
    for layer, (w, b) in zip(model.layers, weights, strict=True):
        layer.kernel.set_value(jnp.array(w))
        layer.bias.set_value(jnp.array(b))
    optimizer = nnx.Optimizer(model, optax.adam(LEARNING_RATE, eps=ADAM_EPS), wrt=nnx.Param)

    @nnx.jit
    def train_step(model: MLP, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array) -> Any:
        def loss_fn(model: MLP) -> jax.Array:
            return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    device_batches = _device_batches(batches)

    def step(i: int) -> float:
        return float(jax.block_until_ready(train_step(model, optimizer, *device_batches[i])))

    def read() -> Weights:
        return [
            (np.asarray(layer.kernel[...]), np.asarray(layer.bias[...])) for layer in model.layers
        ]

    return Peer("Flax NNX", step, read, "nnx.jit, nnx.Optimizer (updated in place)")


def _equinox(weights: Weights, batches: Batches) -> Peer:
    """``eqx.nn.Linear`` stack under ``jax.vmap``, ``eqx.filter_jit`` and optax, as in the
    Equinox examples (which do not donate)."""
    import equinox as eqx

    class MLP(eqx.Module):
        layers: list[eqx.nn.Linear]

        def __init__(self, key: jax.Array) -> None:
            keys = jax.random.split(key, len(LAYERS) - 1)
            self.layers = [
                eqx.nn.Linear(n_in, n_out, key=k)
                for n_in, n_out, k in zip(LAYERS, LAYERS[1:], keys)
            ]

        def __call__(self, x: jax.Array) -> jax.Array:
            for layer in self.layers[:-1]:
                x = jax.nn.relu(layer(x))
            return self.layers[-1](x)

    model = eqx.filter_eval_shape(MLP, jax.random.key(0))  # shapes only: weights are given
    model = eqx.tree_at(
        lambda m: [leaf for layer in m.layers for leaf in (layer.weight, layer.bias)],
        model,
        [jnp.array(array) for w, b in weights for array in (w.T, b)],
    )
    optimizer = optax.adam(LEARNING_RATE, eps=ADAM_EPS)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_array))

    @eqx.filter_jit
    def train_step(model: MLP, opt_state: Any, x: jax.Array, y: jax.Array) -> Any:
        def loss_fn(model: MLP) -> jax.Array:
            logits = jax.vmap(model)(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = eqx.filter_value_and_grad(loss_fn)(model)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    device_batches = _device_batches(batches)
    carry = [model, opt_state]

    def step(i: int) -> float:
        carry[0], carry[1], loss = train_step(carry[0], carry[1], *device_batches[i])
        return float(jax.block_until_ready(loss))

    def read() -> Weights:
        return [(np.asarray(layer.weight).T, np.asarray(layer.bias)) for layer in carry[0].layers]

    return Peer("Equinox", step, read, "eqx.filter_jit, not donated (examples)")


def _keras(weights: Weights, batches: Batches) -> Peer:
    """A ``keras.Sequential`` of ``Dense`` layers, ``compile`` and ``train_on_batch``: what a
    new Keras user writes (Keras jit-compiles and donates its state itself)."""
    import keras

    if keras.backend.backend() != "jax":
        raise RuntimeError(
            f"Keras runs on the {keras.backend.backend()!r} backend; set KERAS_BACKEND=jax "
            "before Keras is imported."
        )
    model = keras.Sequential(
        [keras.Input((LAYERS[0],))]
        + [keras.layers.Dense(features, activation="relu") for features in LAYERS[1:-1]]
        + [keras.layers.Dense(LAYERS[-1])]
    )
    model.set_weights([array for pair in weights for array in pair])
    model.compile(
        # Keras adds epsilon to sqrt(v) before the bias correction, optax and PyTorch after
        # it; scaled by sqrt(1 - b2), Keras's first step equals theirs (eps 1e-8), which the
        # agreement check needs. The value does not change the step's time.
        optimizer=keras.optimizers.Adam(LEARNING_RATE, epsilon=ADAM_EPS * (1 - 0.999) ** 0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    device_batches = _device_batches(batches)

    def step(i: int) -> float:
        return float(model.train_on_batch(*device_batches[i]))

    def read() -> Weights:
        arrays = model.get_weights()
        return list(zip(arrays[::2], arrays[1::2]))

    return Peer("Keras 3 (JAX)", step, read, "compile + train_on_batch")


# ---------------------------------------------------------------- PyTorch peers


def _torch_eager(weights: Weights, batches: Batches) -> Peer:
    """``nn.Sequential`` of ``nn.Linear``, ``F.cross_entropy`` and ``torch.optim.Adam``, eager."""
    return _torch_peer(weights, batches, compiled=False)


def _torch_compiled(weights: Weights, batches: Batches) -> Peer:
    """The eager peer's step function wrapped in ``torch.compile`` (default mode, inductor).

    Dynamo breaks the graph at ``loss.backward()``: the forward pass (with its backward,
    through AOTAutograd) and the optimizer step are compiled as separate graphs. Adam is
    ``torch.optim.Adam``'s default implementation, which Dynamo traces and inductor fuses,
    as in PyTorch's tutorial on compiling the optimizer; the fused one is marked
    ``torch.compiler.disable`` and would run eagerly behind a graph break.
    """
    return _torch_peer(weights, batches, compiled=True)


def _torch_peer(weights: Weights, batches: Batches, *, compiled: bool) -> Peer:
    import torch
    import torch.nn.functional as F

    layers: list[torch.nn.Module] = []
    for w, b in weights:
        linear = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(w.T))
            linear.bias.copy_(torch.tensor(b))
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    if compiled:
        adam = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=ADAM_EPS)
        variant = "default (compiled)"
    else:
        adam, variant = _torch_adam(model.parameters())
    tensors = [(torch.from_numpy(x), torch.from_numpy(y).long()) for x, y in batches]

    def train_step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        adam.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        adam.step()
        return loss.detach()

    if compiled:
        torch._dynamo.reset()  # a fresh compilation for this peer's batch shape
        train_step = torch.compile(train_step)

    def step(i: int) -> float:
        return float(train_step(*tensors[i]))

    def read() -> Weights:
        linears = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
        return [
            (lin.weight.detach().numpy().T.copy(), lin.bias.detach().numpy().copy())
            for lin in linears
        ]

    threads = torch.get_num_threads()
    if compiled:
        return Peer(
            "torch.compile", step, read, f"compile(step), Adam {variant}, {threads} threads"
        )
    return Peer("PyTorch eager", step, read, f"Adam {variant}, {threads} threads")


def _torch_adam(parameters: Any) -> tuple[Any, str]:
    """``torch.optim.Adam(fused=True)`` if this build runs it on the CPU, else ``foreach``."""
    import torch

    parameters = list(parameters)
    try:
        probe = torch.nn.Parameter(torch.ones(2))
        probe_adam = torch.optim.Adam([probe], lr=LEARNING_RATE, fused=True)
        probe.sum().backward()
        probe_adam.step()
    except (RuntimeError, ValueError):
        return torch.optim.Adam(parameters, lr=LEARNING_RATE, eps=ADAM_EPS, foreach=True), "foreach"
    return torch.optim.Adam(parameters, lr=LEARNING_RATE, eps=ADAM_EPS, fused=True), "fused"


# ---------------------------------------------------------------- helpers

# Jitted once: one compilation, instead of one per random operation on every call.
_mlp_init = jax.jit(models.mlp().init, static_argnums=1)


def _device_batches(batches: Batches) -> list[tuple[jax.Array, jax.Array]]:
    return [(jax.device_put(x), jax.device_put(y)) for x, y in batches]


def _from_jaxdl(params: dict[str, Any]) -> Weights:
    """The ``(w, b)`` pairs of the dense layers of a ``models.mlp()`` params dict, in order."""
    dense = [params[name] for name in sorted(params, key=int) if params[name]]
    return [(np.array(layer["w"]), np.array(layer["b"])) for layer in dense]


def _to_jaxdl(params: dict[str, Any], weights: Weights) -> dict[str, Any]:
    """``params`` with its dense layers' ``w`` and ``b`` replaced by ``weights``, in order."""
    names = [name for name in sorted(params, key=int) if params[name]]
    replaced = dict(params)
    for name, (w, b) in zip(names, weights, strict=True):
        replaced[name] = {"w": jnp.array(w), "b": jnp.array(b)}
    return replaced


def _to_numpy(pairs: Any) -> Weights:
    return [(np.asarray(w), np.asarray(b)) for w, b in pairs]


# name -> (builder, packages it needs). jaxdl comes first: every ratio is against it.
PEERS: dict[str, tuple[Callable[[Weights, Batches], Peer], tuple[str, ...]]] = {
    "jaxdl": (_jaxdl, ()),
    "jax": (_pure_jax, ()),
    "linen": (_flax_linen, ("flax",)),
    "nnx": (_flax_nnx, ("flax",)),
    "equinox": (_equinox, ("equinox",)),
    "keras": (_keras, ("keras",)),
    "torch": (_torch_eager, ("torch",)),
    "torch-compile": (_torch_compiled, ("torch",)),
}

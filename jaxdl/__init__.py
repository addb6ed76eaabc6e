"""jaxdl: a functional neural-network library on JAX.

Models are pure functions of explicit pytrees: ``layer.init(key, x) -> (params, state)``
and ``layer.apply(params, state, x, key=..., train=...) -> (y, state)``. ``jax.grad`` is
backpropagation and ``jax.jit`` compiles.

Subpackages: ``activations``, ``losses``, ``initializers``, ``nn`` (layers), ``models``,
``perceptron``, ``optim`` (optimizers), ``train`` (``fit``), ``data`` (datasets),
``checkpoint``, ``parallel`` (data parallelism over a device mesh) and ``rl``
(reinforcement learning: deep Q-networks).
"""

from jaxdl import (
    activations,
    checkpoint,
    data,
    initializers,
    losses,
    models,
    nn,
    optim,
    parallel,
    perceptron,
    rl,
    train,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "activations",
    "checkpoint",
    "data",
    "initializers",
    "losses",
    "models",
    "nn",
    "optim",
    "parallel",
    "perceptron",
    "rl",
    "train",
]

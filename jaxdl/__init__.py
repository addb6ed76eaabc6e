"""jaxdl: a functional neural-network library on JAX.

Models are pure functions of explicit pytrees: ``layer.init(key, x) -> (params, state)``
and ``layer.apply(params, state, x, key=..., train=...) -> (y, state)``. ``jax.grad`` is
backpropagation and ``jax.jit`` compiles.

Subpackages: :mod:`~jaxdl.activations`, :mod:`~jaxdl.losses`, :mod:`~jaxdl.initializers`,
:mod:`~jaxdl.nn` (layers), :mod:`~jaxdl.perceptron`, :mod:`~jaxdl.optim` (optimizers),
:mod:`~jaxdl.train` (``fit``), :mod:`~jaxdl.data` (datasets), :mod:`~jaxdl.checkpoint`.
"""

from jaxdl import (
    activations,
    checkpoint,
    data,
    initializers,
    losses,
    nn,
    optim,
    perceptron,
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
    "nn",
    "optim",
    "perceptron",
    "train",
]

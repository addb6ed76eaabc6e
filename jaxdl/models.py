"""Ready-made models: an MLP, a LeNet-style CNN, an LSTM classifier and an autoencoder.

Each builder returns an ordinary :class:`jaxdl.nn.Sequential`, so ``init``/``apply``,
``nn.summary``, ``train.fit`` and ``jax.jit`` work on it as on any hand-built model.
Equal arguments give equal (and equally hashed) models.

Example:
    >>> import jax
    >>> from jaxdl import models, nn
    >>> model = models.mlp(num_classes=10, hidden=(512, 256))  # 784-512-256-10
    >>> params, _ = model.init(jax.random.key(0), jax.numpy.zeros((1, 28, 28, 1)))
    >>> nn.count_params(params)
    (535040, 778)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax

from jaxdl import activations, initializers, nn

__all__ = ["autoencoder", "cnn", "lstm_classifier", "mlp"]

Activation = Callable[[jax.Array], jax.Array]


def mlp(
    num_classes: int = 10,
    hidden: Sequence[int] = (512, 256),
    *,
    activation: Activation = activations.relu,
    dropout: float = 0.0,
) -> nn.Sequential:
    r"""Multi-layer perceptron on flattened inputs: :math:`W_L(\dots f(W_1 x))`.

    ``Flatten → [Dense(h) → f → Dropout] per hidden size → Dense(num_classes)`` (logits).

    Arguments:
        num_classes: output size (default 10).
        hidden: hidden layer sizes (default ``(512, 256)``: the MNIST network
            784-512-256-10 of docs/concepts.md §2).
        activation: hidden activation (default ReLU).
        dropout: drop rate after each hidden activation (default 0: no Dropout layers).
    """
    layers: list = [nn.Flatten()]
    for size in hidden:
        layers += [nn.Dense(size, kernel_init=_kernel_init(activation)), activation]
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Dense(num_classes))
    return nn.Sequential(layers)


def cnn(
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    *,
    channels: Sequence[int] = (32, 64),
    kernel_size: int = 5,
    dense: int = 256,
    dropout: float = 0.5,
) -> nn.Sequential:
    """LeNet-style convolutional network for images ``(H, W, C)`` or sequences ``(T, C)``.

    Per entry of ``channels``: ``Conv(c, kernel_size, SAME) → ReLU → MaxPool(2)``; then
    ``Flatten → Dense(dense) → ReLU → Dropout → Dense(num_classes)``. A 3-axis
    ``input_shape`` uses 2-D layers, a 2-axis one (MNIST-1D's ``(40, 1)``) 1-D layers. A
    pooling step is skipped once the spatial size would drop below 2.

    Arguments:
        input_shape: one sample's shape, channels last (default MNIST's ``(28, 28, 1)``).
        num_classes: output size (default 10).
        channels: filters per convolution block (default ``(32, 64)``).
        kernel_size: convolution window (default 5).
        dense: hidden units before the output (default 256).
        dropout: drop rate before the output layer (default 0.5).
    """
    spatial = len(input_shape) - 1
    if spatial not in (1, 2):
        raise ValueError(
            f"cnn: input_shape must be (H, W, C) or (T, C), got {tuple(input_shape)}."
        )
    conv, pool = (nn.Conv2D, nn.MaxPool2D) if spatial == 2 else (nn.Conv1D, nn.MaxPool1D)
    size = min(input_shape[:spatial])
    layers: list = []
    for features in channels:
        layers += [conv(features, kernel_size, kernel_init=_kernel_init(activations.relu)),
                   activations.relu]
        if size // 2 >= 2:
            layers.append(pool(2))
            size //= 2
    layers += [
        nn.Flatten(),
        nn.Dense(dense, kernel_init=_kernel_init(activations.relu)),
        activations.relu,
        nn.Dropout(dropout),
        nn.Dense(num_classes),
    ]
    return nn.Sequential(layers)


def lstm_classifier(
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    *,
    hidden_size: int = 128,
) -> nn.Sequential:
    """An LSTM over the rows of an image (or the steps of a sequence), then a classifier.

    An image ``(H, W, C)`` is read as ``H`` time steps of ``W·C`` features (MNIST: 28 rows
    of 28 pixels); a sequence ``(T, F)`` as it is. ``Reshape → LSTM(hidden_size) →
    Dense(num_classes)`` on the last hidden state.

    Arguments:
        input_shape: one sample's shape (default MNIST's ``(28, 28, 1)``).
        num_classes: output size (default 10).
        hidden_size: LSTM state size (default 128).
    """
    if len(input_shape) < 2:
        raise ValueError(
            f"lstm_classifier: input_shape needs a time axis and features, got "
            f"{tuple(input_shape)}."
        )
    steps, features = input_shape[0], math.prod(input_shape[1:])
    return nn.Sequential(
        [nn.Reshape((steps, features)), nn.LSTM(hidden_size), nn.Dense(num_classes)]
    )


def autoencoder(
    input_dim: int = 784,
    hidden: Sequence[int] = (256, 64),
    *,
    activation: Activation = activations.sigmoid,
    output_activation: Activation = activations.sigmoid,
) -> nn.Sequential:
    r"""A fully connected autoencoder: :math:`z = h(Wx)`, :math:`x' = h(W'z)`
    (docs/concepts.md §10).

    ``Sequential({"encoder": ..., "decoder": ...})``: the encoder flattens its input and
    maps it through ``hidden`` (the last size is the code :math:`z`); the decoder mirrors
    it back to ``input_dim`` values with ``output_activation`` (sigmoid, for pixels in
    [0, 1]). Train with ``losses.mse`` (:math:`\|x - x'\|^2`) against the flattened input;
    ``params["encoder"]`` alone encodes, as in greedy layer-wise pre-training.

    Arguments:
        input_dim: size of a flattened sample (default 784).
        hidden: encoder sizes, the last one the code size (default ``(256, 64)``).
        activation: hidden activation :math:`h` (default sigmoid, as in the notes).
        output_activation: reconstruction activation (default sigmoid).
    """
    if not hidden:
        raise ValueError("autoencoder: hidden needs at least the code size.")
    encoder: list = [nn.Flatten()]
    for size in hidden:
        encoder += [nn.Dense(size), activation]
    decoder: list = []
    for size in (*reversed(hidden[:-1]), input_dim):
        decoder += [nn.Dense(size), activation]
    decoder[-1] = output_activation
    return nn.Sequential({"encoder": nn.Sequential(encoder), "decoder": nn.Sequential(decoder)})


def _kernel_init(activation: Activation):
    """He initialisation for ReLU layers (docs/concepts.md §8: match the init to the activation)."""
    if activation is activations.relu:
        return initializers.he_uniform()
    return initializers.glorot_uniform()

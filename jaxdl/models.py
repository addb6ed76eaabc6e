"""Ready-made models: an MLP, a LeNet-style CNN, a small ResNet and a residual MLP, an LSTM
classifier and an autoencoder.

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

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import activations, initializers, nn
from jaxdl._checks import ArgumentTypeError, check_int

__all__ = ["autoencoder", "cnn", "lstm_classifier", "mlp", "residual_mlp", "resnet"]

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
    num_classes = check_int("mlp", "num_classes", num_classes, minimum=1)
    hidden = _sizes("mlp", "hidden", hidden)
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
    input_shape = _sizes("cnn", "input_shape", input_shape)
    spatial = len(input_shape) - 1
    if spatial not in (1, 2):
        raise ValueError(f"cnn: input_shape must be (H, W, C) or (T, C), got {tuple(input_shape)}.")
    num_classes = check_int("cnn", "num_classes", num_classes, minimum=1)
    channels = _sizes("cnn", "channels", channels)
    dense = check_int("cnn", "dense", dense, minimum=1)
    conv, pool = (nn.Conv2D, nn.MaxPool2D) if spatial == 2 else (nn.Conv1D, nn.MaxPool1D)
    size = min(input_shape[:spatial])
    layers: list = []
    for features in channels:
        layers += [
            conv(features, kernel_size, kernel_init=_kernel_init(activations.relu)),
            activations.relu,
        ]
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


def resnet(
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    *,
    blocks: Sequence[int] = (2, 2, 2),
    channels: Sequence[int] = (16, 32, 64),
    residual: bool = True,
    shortcut: str = "projection",
    downsample: bool = True,
) -> nn.Sequential:
    r"""A small ResNet (He et al., 2015) for images ``(H, W, C)`` or sequences ``(T, C)``.

    ``Conv(channels[0], 3) → BatchNorm → ReLU``, then per stage ``i`` ``blocks[i]`` basic
    blocks of ``channels[i]`` filters, then the global average over the spatial axes and
    ``Dense(num_classes)`` (logits). A basic block computes

    .. math:: y = \operatorname{relu}\big(S(x) + F(x)\big), \qquad
        F = \mathrm{BN} \circ \mathrm{conv}_{3} \circ \operatorname{relu} \circ
        \mathrm{BN} \circ \mathrm{conv}_{3}

    (:class:`jaxdl.nn.Residual` of ``Sequential([conv, bn, relu, conv, bn])``, then a
    ReLU). The shortcut :math:`S` is the identity, except in a block that changes the
    shape: the first block of every stage after the first has stride 2 (with
    ``downsample``) and may change the channels. There :math:`S` is ``shortcut``:
    ``"projection"`` (a 1×1 convolution of that stride and BatchNorm: option B of the
    paper) or ``"pad"`` (parameter-free option A: every ``s``-th position, the new channels
    zero). The convolutions are ``"SAME"``, without bias (BatchNorm shifts), He-initialised.
    The network has ``2·sum(blocks) + 2`` weight layers in depth: ``blocks=(3, 3, 3)`` is
    the paper's CIFAR ResNet-20.

    ``residual=False`` builds the *plain* counterpart: the same blocks without the
    addition, :math:`y = \operatorname{relu}(F(x))`, and no shortcut layers. With
    ``shortcut="pad"`` the plain and residual networks have exactly the same parameters,
    as in the paper's plain-versus-residual comparison; ``"projection"`` adds the 1×1
    convolutions to the residual one only.

    Arguments:
        input_shape: one sample's shape, channels last (default MNIST's ``(28, 28, 1)``);
            three axes use 2-D layers, two axes (MNIST-1D's ``(40, 1)``) 1-D layers.
        num_classes: output size (default 10).
        blocks: basic blocks per stage (default ``(2, 2, 2)``: 14 weight layers).
        channels: filters per stage, one entry per entry of ``blocks`` (default
            ``(16, 32, 64)``).
        residual: add the shortcut (default True); False for the plain network.
        shortcut: ``"projection"`` (default) or ``"pad"``, for blocks that change the
            shape.
        downsample: stride 2 in the first block of every stage after the first (default
            True; 28×28 → 14×14 → 7×7); False keeps the input's spatial size throughout.

    Example:
        >>> import jax
        >>> from jaxdl import models, nn
        >>> model = models.resnet((28, 28, 1), 10, blocks=(1, 1), channels=(8, 16))
        >>> x = jax.numpy.zeros((2, 28, 28, 1))
        >>> params, state = model.init(jax.random.key(0), x)
        >>> model.apply(params, state, x)[0].shape
        (2, 10)
    """
    input_shape = _sizes("resnet", "input_shape", input_shape)
    spatial = len(input_shape) - 1
    if spatial not in (1, 2):
        raise ValueError(
            f"resnet: input_shape must be (H, W, C) or (T, C), got {tuple(input_shape)}."
        )
    if len(blocks) != len(channels) or not blocks:
        raise ValueError(
            "resnet: blocks and channels need one entry per stage (at least one), got "
            f"blocks={tuple(blocks)} and channels={tuple(channels)}."
        )
    if shortcut not in ("projection", "pad"):
        raise ValueError(f"resnet: shortcut must be 'projection' or 'pad', got {shortcut!r}.")
    num_classes = check_int("resnet", "num_classes", num_classes, minimum=1)
    blocks = _sizes("resnet", "blocks", blocks)
    channels = _sizes("resnet", "channels", channels)
    conv = nn.Conv2D if spatial == 2 else nn.Conv1D
    he = _kernel_init(activations.relu)

    def conv_bn(features: int, kernel: int, strides: int) -> list[nn.Layer]:
        return [
            conv(features, kernel, strides=strides, use_bias=False, kernel_init=he),
            nn.BatchNorm(),
        ]

    layers: list = [*conv_bn(channels[0], 3, 1), activations.relu]
    features = channels[0]
    for stage, (count, width) in enumerate(zip(blocks, channels)):
        for index in range(count):
            strides = 2 if downsample and stage > 0 and index == 0 else 1
            block = nn.Sequential(
                [*conv_bn(width, 3, strides), activations.relu, *conv_bn(width, 3, 1)]
            )
            if residual:
                projection = None
                if strides != 1 or width != features:
                    projection = (
                        nn.Sequential(conv_bn(width, 1, strides))
                        if shortcut == "projection"
                        else _PadShortcut(width, strides)
                    )
                block = nn.Residual(block, projection)
            layers += [block, activations.relu]
            features = width
    layers += [_global_average_pool, nn.Dense(num_classes)]
    return nn.Sequential(layers)


def residual_mlp(
    num_classes: int = 10,
    *,
    width: int = 256,
    depth: int = 4,
    residual: bool = True,
    activation: Activation = activations.relu,
    batch_norm: bool = True,
) -> nn.Sequential:
    r"""A multi-layer perceptron of residual blocks on flattened inputs.

    ``Flatten → Dense(width) → BN → f``, then ``depth`` blocks
    :math:`y = f\big(x + F(x)\big)` with
    :math:`F = \mathrm{BN} \circ \mathrm{Dense} \circ f \circ \mathrm{BN} \circ
    \mathrm{Dense}` (two ``Dense(width)`` layers: the fully connected version of
    :func:`resnet`'s basic block), then ``Dense(num_classes)`` (logits). Every shortcut is
    the identity: the blocks keep the width. ``2·depth + 2`` Dense layers in all.

    ``residual=False`` builds the plain counterpart, :math:`y = f(F(x))`, with exactly the
    same parameters (the same layers, no shortcut) — for comparing plain and residual
    networks of growing depth.

    Arguments:
        num_classes: output size (default 10).
        width: units of every hidden layer (default 256).
        depth: number of blocks, two Dense layers each (default 4).
        residual: add the shortcut (default True); False for the plain network.
        activation: :math:`f` (default ReLU, with He initialisation).
        batch_norm: BatchNorm after every hidden Dense (default True; the Dense layers
            then have no bias). Without it, a deep residual MLP's activations grow with
            depth at initialisation.

    Example:
        >>> import jax
        >>> from jaxdl import models, nn
        >>> model = models.residual_mlp(10, width=64, depth=3)
        >>> params, _ = model.init(jax.random.key(0), jax.numpy.zeros((1, 28, 28, 1)))
        >>> nn.count_params(params)  # 784·64 + 6·64² + 64·10 + 7·64 scales; 7·64 shifts + 10
        (75840, 458)
    """
    num_classes = check_int("residual_mlp", "num_classes", num_classes, minimum=1)
    width = check_int("residual_mlp", "width", width, minimum=1)
    depth = check_int("residual_mlp", "depth", depth, minimum=0)
    kernel_init = _kernel_init(activation)

    def dense(features: int) -> list:
        layer = nn.Dense(features, use_bias=not batch_norm, kernel_init=kernel_init)
        return [layer, nn.BatchNorm()] if batch_norm else [layer]

    layers: list = [nn.Flatten(), *dense(width), activation]
    for _ in range(depth):
        block: nn.Layer = nn.Sequential([*dense(width), activation, *dense(width)])
        if residual:
            block = nn.Residual(block)
        layers += [block, activation]
    layers.append(nn.Dense(num_classes))
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
    input_shape = _sizes("lstm_classifier", "input_shape", input_shape)
    if len(input_shape) < 2:
        raise ValueError(
            f"lstm_classifier: input_shape needs a time axis and features, got "
            f"{tuple(input_shape)}."
        )
    num_classes = check_int("lstm_classifier", "num_classes", num_classes, minimum=1)
    hidden_size = check_int("lstm_classifier", "hidden_size", hidden_size, minimum=1)
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
    input_dim = check_int("autoencoder", "input_dim", input_dim, minimum=1)
    hidden = _sizes("autoencoder", "hidden", hidden)
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


def _sizes(name: str, argument: str, values: Sequence[int]) -> tuple[int, ...]:
    """``values`` as a tuple of Python ints ≥ 1 (NumPy integers accepted; bools, floats and
    a bare int refused with an error naming the builder and the argument)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
        raise ArgumentTypeError(
            f"{name}: {argument} must be a sequence of ints ≥ 1, got {values!r} "
            f"({type(values).__name__})."
        )
    return tuple(
        check_int(name, f"{argument}[{i}]", value, minimum=1) for i, value in enumerate(values)
    )


def _kernel_init(activation: Activation):
    """He initialisation for ReLU layers (docs/concepts.md §8: match the init to the activation)."""
    if activation is activations.relu:
        return initializers.he_uniform()
    return initializers.glorot_uniform()


def _global_average_pool(x: jax.Array) -> jax.Array:
    """The mean over the spatial axes: ``(batch, *spatial, c) → (batch, c)``."""
    return jnp.mean(x, axis=tuple(range(1, x.ndim - 1)))


@dataclasses.dataclass(frozen=True, repr=False)
class _PadShortcut(nn.Layer):
    """He et al.'s parameter-free shortcut (option A): every ``strides``-th position along
    each spatial axis (the size a ``"SAME"`` convolution of that stride leaves), with zero
    channels appended up to ``features``."""

    features: int
    strides: int = 1

    def __post_init__(self) -> None:
        for name in ("features", "strides"):
            value = check_int("_PadShortcut", name, getattr(self, name), minimum=1)
            object.__setattr__(self, name, value)

    def init(self, key: jax.Array, x: Any) -> tuple[nn.Params, nn.State]:
        del key, x
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        x = jnp.asarray(x)
        every = slice(None, None, self.strides)
        x = x[(slice(None), *[every] * (x.ndim - 2), slice(None))]
        if x.shape[-1] > self.features:
            raise ValueError(
                f"{self!r}: cannot pad {x.shape[-1]} channels to {self.features}; got input "
                f"{x.shape}."
            )
        return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, self.features - x.shape[-1])]), state

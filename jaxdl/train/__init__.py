"""Training: ``TrainState``, pure train/eval steps, ``fit``/``evaluate``, callbacks,
metrics and ``History``; GAN training (``make_gan_step``, ``fit_gan``).

Example:
    >>> import jax, numpy as np
    >>> from jaxdl import activations, losses, nn, optim, train
    >>> x = np.random.default_rng(0).normal(size=(128, 4)).astype("float32")
    >>> y = (x.sum(axis=1) > 0).astype("int32")
    >>> model = nn.Sequential([nn.Dense(16), activations.relu, nn.Dense(2)])
    >>> ts, history = train.fit(model, optim.adam(1e-2), (x, y), epochs=20, batch_size=32,
    ...     loss=losses.softmax_cross_entropy, validation_data=(x, y),
    ...     key=jax.random.key(0), progress=False)
    >>> history["val_accuracy"][-1] > 0.95
    True
"""

from jaxdl.train._callbacks import (
    Callback,
    EarlyStopping,
    FitContext,
    LearningRateLogger,
    ModelCheckpoint,
)
from jaxdl.train._divergence import Divergence, DivergenceError
from jaxdl.train._fit import evaluate, fit, initial_state
from jaxdl.train._gan import (
    GANState,
    GANStep,
    discriminator_loss,
    fit_gan,
    generator_loss,
    initial_gan_state,
    make_gan_step,
)
from jaxdl.train._history import History
from jaxdl.train._loops import make_epoch, make_evaluate, make_streaming_epoch
from jaxdl.train._metrics import accuracy, top_k_accuracy
from jaxdl.train._pretrain import Pretrained, greedy_pretrain
from jaxdl.train._state import TrainState
from jaxdl.train._steps import EvalStep, Metric, TrainStep, make_eval_step, make_train_step
from jaxdl.train._sweep import fit_sweep

__all__ = [
    "Callback",
    "Divergence",
    "DivergenceError",
    "EarlyStopping",
    "EvalStep",
    "FitContext",
    "GANState",
    "GANStep",
    "History",
    "LearningRateLogger",
    "Metric",
    "ModelCheckpoint",
    "Pretrained",
    "TrainState",
    "TrainStep",
    "accuracy",
    "discriminator_loss",
    "evaluate",
    "fit",
    "fit_gan",
    "fit_sweep",
    "generator_loss",
    "greedy_pretrain",
    "initial_gan_state",
    "initial_state",
    "make_epoch",
    "make_eval_step",
    "make_evaluate",
    "make_gan_step",
    "make_streaming_epoch",
    "make_train_step",
    "top_k_accuracy",
]

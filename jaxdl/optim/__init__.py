"""Optimizers, schedules, clipping and chaining, with optax's protocol (docs/concepts.md §7).

An optimizer is a :class:`GradientTransformation`, a pair of pure functions::

    opt = optim.adam(learning_rate=1e-3)          # learning_rate: float or schedule(step)
    opt_state = opt.init(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    params = optim.apply_updates(params, updates)

Every optimizer here takes optax's arguments and computes optax's arithmetic in optax's
order, so it is a drop-in for its optax namesake (float32 trajectories on CPU are equal
bit for bit), and :func:`chain` mixes jaxdl and optax transformations freely. The
PyTorch-compatible variants are in :mod:`jaxdl.optim.torch`.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxdl import optim
    >>> params = {"w": jnp.array([1.0, -2.0])}
    >>> loss = lambda p: jnp.sum(p["w"] ** 2)
    >>> opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.1))
    >>> state = opt.init(params)
    >>> for _ in range(100):
    ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
    ...     params = optim.apply_updates(params, updates)
    >>> bool(loss(params) < 1e-2)
    True
"""

from jaxdl.optim import torch
from jaxdl.optim._aliases import (
    adadelta,
    adagrad,
    adam,
    adamw,
    momentum,
    nadam,
    nesterov,
    rmsprop,
    sgd,
)
from jaxdl.optim._base import (
    EmptyState,
    GradientTransformation,
    OptState,
    Params,
    ScalarOrSchedule,
    Schedule,
    Updates,
    apply_updates,
    chain,
    identity,
)
from jaxdl.optim._clipping import clip_by_global_norm, global_norm
from jaxdl.optim._partition import (
    MaskedNode,
    MaskedState,
    MultiTransformState,
    freeze,
    masked,
    multi_transform,
    selective_transform,
    set_to_zero,
)
from jaxdl.optim._scaling import (
    ScaleByScheduleState,
    WeightDecayScheduleState,
    add_decayed_weights,
    scale,
    scale_by_learning_rate,
    scale_by_schedule,
)
from jaxdl.optim._schedules import (
    constant_schedule,
    cosine_decay_schedule,
    exponential_decay,
    join_schedules,
    linear_schedule,
    piecewise_constant_schedule,
    polynomial_schedule,
    warmup_cosine_decay_schedule,
)
from jaxdl.optim._transforms import (
    ScaleByAdaDeltaState,
    ScaleByAdamState,
    ScaleByRmsState,
    ScaleByRssState,
    ScaleByRStdDevState,
    TraceState,
    scale_by_adadelta,
    scale_by_adam,
    scale_by_rms,
    scale_by_rss,
    scale_by_stddev,
    trace,
)

__all__ = [
    "EmptyState",
    "GradientTransformation",
    "MaskedNode",
    "MaskedState",
    "MultiTransformState",
    "OptState",
    "Params",
    "ScalarOrSchedule",
    "ScaleByAdaDeltaState",
    "ScaleByAdamState",
    "ScaleByRStdDevState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "ScaleByScheduleState",
    "Schedule",
    "TraceState",
    "Updates",
    "WeightDecayScheduleState",
    "adadelta",
    "adagrad",
    "adam",
    "adamw",
    "add_decayed_weights",
    "apply_updates",
    "chain",
    "clip_by_global_norm",
    "constant_schedule",
    "cosine_decay_schedule",
    "exponential_decay",
    "freeze",
    "global_norm",
    "identity",
    "join_schedules",
    "linear_schedule",
    "masked",
    "momentum",
    "multi_transform",
    "nadam",
    "nesterov",
    "piecewise_constant_schedule",
    "polynomial_schedule",
    "rmsprop",
    "scale",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_stddev",
    "selective_transform",
    "set_to_zero",
    "sgd",
    "torch",
    "trace",
    "warmup_cosine_decay_schedule",
]

"""Divergence: the training loss, or the train state, turning non-finite (NaN or inf).

:func:`jaxdl.train.fit` and :func:`jaxdl.train.fit_gan` look once per epoch at two things
they have at hand: the epoch's mean training losses (``loss``, or every metric whose
name ends in ``_loss``, such as a GAN's ``d_loss`` and ``g_loss``), which they fetch for
the history anyway, and whether every floating value of the train state after the epoch
(params, model state, optimizer state) is finite: read in place with NumPy when the state
is in host memory (XLA:CPU), else one flag computed on the device (see
:func:`state_is_finite`). A mean is non-finite exactly when one of the epoch's batch losses is (or
when a sum of huge finite losses overflows), so no value is fetched per step. Only when
an epoch fails the check are its per-batch losses fetched, to name the first bad batch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "ON_DIVERGENCE",
    "Divergence",
    "DivergenceError",
    "EpochHealth",
    "all_finite",
    "is_loss_name",
    "jit_all_finite",
    "state_is_finite",
]

ON_DIVERGENCE = ("stop", "raise", "ignore")
"""The values of ``fit(..., on_divergence=...)``."""


def is_loss_name(name: str) -> bool:
    """Whether a training metric is watched for divergence: ``loss`` or ``*_loss``."""
    return name == "loss" or name.endswith("_loss")


def all_finite(tree: Any) -> jax.Array:
    """A boolean scalar: whether every floating (or complex) leaf of ``tree`` is finite.

    The leaves of each dtype are flattened and concatenated, and checked by one reduction:
    the same answer as one ``jnp.all(jnp.isfinite(leaf))`` per leaf, but the check then
    costs one fused reduction per dtype instead of one per leaf. Inside ``fit``'s epoch
    program that took XLA:CPU 2.64 s to compile for the MNIST MLP's 18 floating leaves, against
    3.07 s with one reduction per leaf and 2.43 s with no check, measured on a loaded
    machine (``bench/RESULTS.md``).

    >>> all_finite({"w": jnp.array([1.0, 2.0]), "n": jnp.array(3)})
    Array(True, dtype=bool)
    >>> all_finite({"w": jnp.array([1.0, jnp.nan])})
    Array(False, dtype=bool)
    """
    by_dtype: dict[Any, list[jax.Array]] = {}
    for leaf in jax.tree_util.tree_leaves(tree):
        dtype = jnp.result_type(leaf)
        if jnp.issubdtype(dtype, jnp.inexact):
            by_dtype.setdefault(dtype, []).append(jnp.ravel(leaf))
    if not by_dtype:
        return jnp.array(True)
    checks = [jnp.all(jnp.isfinite(jnp.concatenate(leaves))) for leaves in by_dtype.values()]
    return jnp.all(jnp.stack(checks))


jit_all_finite = jax.jit(all_finite)
""":func:`all_finite` as one compiled program (for a state on an accelerator)."""


def state_is_finite(tree: Any) -> bool | jax.Array:
    """Whether every floating (or complex) leaf of ``tree`` is finite, checked where it is
    cheapest.

    When every leaf is in host memory (NumPy arrays, Python numbers, or JAX arrays on
    XLA:CPU devices, which NumPy reads in place), the check runs in NumPy and returns a
    Python bool: about 1 ms for the 1.6M values of the MNIST MLP with Adam, and nothing
    to compile, where the compiled :func:`jit_all_finite` took 0.10–0.13 s on its first
    call (compilation included) and 20–30 ms on later ones, on a 2-core CPU. Otherwise
    (a state on a GPU or TPU, which would have to be copied to the host) it returns
    :func:`jit_all_finite`'s boolean scalar array, computed on the device and not
    fetched.

    >>> state_is_finite({"w": jnp.array([1.0, 2.0]), "n": jnp.array(3)})
    True
    >>> state_is_finite({"w": np.array([1.0, np.inf])})
    False
    """
    leaves = jax.tree_util.tree_leaves(tree)
    if not all(_in_host_memory(leaf) for leaf in leaves):
        return jit_all_finite(tree)
    return all(
        bool(np.isfinite(np.asarray(leaf)).all())
        for leaf in leaves
        if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact)
    )


def _in_host_memory(leaf: Any) -> bool:
    if not isinstance(leaf, jax.Array):
        return True
    return leaf.is_fully_addressable and all(d.platform == "cpu" for d in leaf.devices())


class EpochHealth(NamedTuple):
    """What an epoch of ``fit`` returns beside its metrics, for the divergence check.

    Fields:
        state_finite: whether the state after the epoch is finite: a bool, or a boolean
            scalar array still on the device (see :func:`state_is_finite`).
        step_losses: ``{name: per-batch values}`` for each watched loss, as device
            arrays of shape ``(batches,)`` (the compiled epoch) or lists of scalars (the
            stepped epoch); fetched only when the epoch fails the check.
    """

    state_finite: bool | jax.Array
    step_losses: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Divergence:
    """Where training diverged: ``history.divergence`` after ``fit`` stopped on it.

    Fields:
        epoch: the epoch (0-based) whose training loss or final state was non-finite; it
            is not in the history, and the state returned is the one before it.
        batch: the first batch (0-based) of that epoch with a non-finite loss, or
            ``None`` when every batch loss was finite but the state after the epoch was
            not (its last update produced the NaN or inf).
        batches: the number of batches per epoch.
        step: the optimizer step count at ``batch`` (the state's ``step`` before the
            epoch plus ``batch``), or ``None`` where the state has no step counter.
        metric: the first loss found non-finite at ``batch`` (``"loss"``, ``"d_loss"``,
            ...); with ``batch=None``, the loss whose epoch mean overflowed to inf
            although every batch loss was finite, or ``None`` when it was the state.
        value: its value there (NaN or ±inf); NaN when it was the state.
        logs: the epoch's mean metrics (training and validation), for inspection.
    """

    epoch: int
    batch: int | None
    batches: int
    step: int | None
    metric: str | None
    value: float
    logs: dict[str, float]

    def describe(self) -> str:
        """A sentence naming the epoch and the batch, as the warning and the error say."""
        if self.batch is None and self.metric is not None:
            return (
                f"the mean training {self.metric} of epoch {self.epoch} overflowed to "
                f"{self.value}, although every batch loss was finite"
            )
        if self.batch is None:
            return (
                f"every batch loss of epoch {self.epoch} was finite, but the train state "
                f"after it holds NaN or inf values (made by the update of its last batch, "
                f"index {self.batches - 1})"
            )
        step = "" if self.step is None else f", optimizer step {self.step}"
        return (
            f"the training {self.metric} became {self.value} in epoch {self.epoch} at batch "
            f"{self.batch} (0-based) of {self.batches}{step}"
        )


class DivergenceError(FloatingPointError):
    """Raised by ``fit(..., on_divergence="raise")`` when training diverges.

    Attributes:
        divergence: the :class:`Divergence` (epoch, batch, loss and value).
        train_state: the last finite train state, the one after epoch
            ``divergence.epoch - 1`` (or the initial state).
        history: the :class:`History` of the epochs before the divergence.
    """

    def __init__(self, message: str, divergence: Divergence, train_state: Any, history: Any):
        super().__init__(message)
        self.divergence = divergence
        self.train_state = train_state
        self.history = history


def healthy(logs: Mapping[str, float], train_names: Sequence[str], state_finite: Any) -> bool:
    """Whether an epoch passes the divergence check (host values, nothing fetched)."""
    losses_finite = all(math.isfinite(logs[name]) for name in train_names if is_loss_name(name))
    return losses_finite and bool(state_finite)


def locate(
    epoch: int,
    health: EpochHealth,
    logs: dict[str, float],
    state_finite: bool,
    previous_step: Any,
) -> Divergence:
    """The :class:`Divergence` of a failed epoch: fetches its per-batch losses (only now)
    and finds the first batch where one of them is non-finite."""
    names = list(health.step_losses)
    values = jax.device_get([health.step_losses[name] for name in names])
    per_batch = {name: np.asarray(v, np.float64).reshape(-1) for name, v in zip(names, values)}
    batches = max((len(v) for v in per_batch.values()), default=0)
    first, metric, value = None, None, math.nan
    for name, steps in per_batch.items():
        bad = np.flatnonzero(~np.isfinite(steps))
        if bad.size and (first is None or bad[0] < first):
            first, metric, value = int(bad[0]), name, float(steps[bad[0]])
    if first is None and state_finite:  # finite batch losses whose mean overflowed
        metric = next((n for n in names if not math.isfinite(logs[n])), None)
        value = math.nan if metric is None else logs[metric]
    step = None
    if first is not None and previous_step is not None:
        step = int(jax.device_get(previous_step)) + first
    return Divergence(epoch, first, batches, step, metric, value, dict(logs))

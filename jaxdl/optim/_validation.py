"""Construction-time checks of hyperparameters, with messages that name the optimizer.

One table holds the valid range of every hyperparameter name used in this package (optax's
names and PyTorch's), so every optimizer checks the same name the same way. Values that
cannot be checked at construction are skipped: schedules (callables), ``None`` and
tracers (an optimizer built inside ``jit`` or ``vmap`` from a traced learning rate).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import numpy as np

__all__ = ["check_hyperparameters"]


class _Range(NamedTuple):
    low: float
    high: float
    low_closed: bool = True
    high_closed: bool = False

    def contains(self, value: np.ndarray) -> bool:
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return bool(np.all(above & below))

    def __str__(self) -> str:
        left = "[" if self.low_closed else "("
        right = "]" if self.high_closed else ")"
        return f"{left}{self.low:g}, {self.high:g}{right}"


_NON_NEGATIVE = _Range(0.0, math.inf)
_POSITIVE = _Range(0.0, math.inf, low_closed=False)
_DECAY = _Range(0.0, 1.0)  # 1 is excluded: a bias correction 1 - 1**t would divide by 0
_FRACTION = _Range(0.0, 1.0, high_closed=True)

_RANGES: dict[str, _Range] = {
    "learning_rate": _NON_NEGATIVE,
    "lr": _NON_NEGATIVE,
    "momentum": _NON_NEGATIVE,
    "eps": _NON_NEGATIVE,
    "eps_root": _NON_NEGATIVE,
    "weight_decay": _NON_NEGATIVE,
    "initial_accumulator_value": _NON_NEGATIVE,
    "initial_scale": _NON_NEGATIVE,
    "lr_decay": _NON_NEGATIVE,
    "momentum_decay": _NON_NEGATIVE,
    "max_norm": _POSITIVE,
    "b1": _DECAY,
    "b2": _DECAY,
    "betas[0]": _DECAY,
    "betas[1]": _DECAY,
    "decay": _DECAY,
    "rho": _DECAY,
    "alpha": _DECAY,
    "dampening": _FRACTION,
}

_WHY = {
    "learning_rate": " (a negative learning rate ascends the loss)",
    "lr": " (a negative learning rate ascends the loss)",
}


def check_hyperparameters(owner: str, **values: Any) -> None:
    """Raise a ``ValueError`` naming ``owner`` for the first value outside its range.

    **Arguments:**

    - ``owner``: the name the user called, e.g. ``"adam"`` or ``"torch.sgd"``.
    - ``**values``: hyperparameters by name; every name must be in the range table.

    >>> check_hyperparameters("adam", learning_rate=-0.1)
    Traceback (most recent call last):
    ...
    ValueError: adam: learning_rate must be in [0, inf) (a negative learning rate ascends the loss), got -0.1.
    """  # noqa: E501
    for name, value in values.items():
        if value is None or callable(value) or isinstance(value, jax.core.Tracer):
            continue
        valid = _RANGES[name]
        array = np.asarray(value)
        if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
            raise ValueError(f"{owner}: {name} must be a real number, got {value!r}.")
        if not valid.contains(array):
            raise ValueError(
                f"{owner}: {name} must be in {valid}{_WHY.get(name, '')}, got {value!r}."
            )

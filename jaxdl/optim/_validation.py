"""Checks of hyperparameters and of ``update``'s arguments, with messages naming the optimizer.

One table holds the valid range of every hyperparameter name used in this package (optax's
names and PyTorch's), so every optimizer checks the same name the same way.

- Constants are checked at construction. A learning rate of ``None`` is refused (optax's
  aliases read ``None`` as "no scaling", which turns the step into gradient *ascent*).
- Schedules (callables) are evaluated once at construction, at step 0, and their value
  checked like a constant; when ``update`` runs op by op (outside ``jit``) with a concrete
  step counter, the value at that step is checked too. Under ``jit``/``vmap``/``scan`` the
  step counter is traced: a schedule that turns negative or NaN later is not caught there.
- Tracers (an optimizer built inside ``jit`` or ``vmap`` from a traced learning rate) are
  not checked.
- :func:`check_tree_matches` compares the gradients given to ``update`` with the params
  and the optimizer state, by tree structure and leaf shapes: static facts, so under
  ``jit`` the check runs once at trace time and adds nothing to the compiled step.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import ArgumentTypeError

__all__ = [
    "check_hyperparameters",
    "check_schedule_value",
    "check_transform",
    "check_tree_matches",
]


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

# Hyperparameters that must be given: None is not "no value" but a mistake.
_REQUIRED = {"learning_rate", "lr"}

_WHY = {
    "learning_rate": " (a negative learning rate ascends the loss)",
    "lr": " (a negative learning rate ascends the loss)",
}


def check_hyperparameters(owner: str, **values: Any) -> None:
    """Raise a ``ValueError`` naming ``owner`` for the first value outside its range.

    **Arguments:**

    - ``owner``: the name the user called, e.g. ``"adam"`` or ``"torch.sgd"``.
    - ``**values``: hyperparameters by name; every name must be in the range table. A
      callable is a schedule: it is evaluated at step 0 and its value checked. ``None``
      is skipped (an optional hyperparameter left out), except for ``learning_rate`` and
      ``lr``, where it raises an :class:`~jaxdl._checks.ArgumentTypeError`.

    >>> check_hyperparameters("adam", learning_rate=-0.1)
    Traceback (most recent call last):
    ...
    ValueError: adam: learning_rate must be in [0, inf) (a negative learning rate ascends the loss), got -0.1.
    """  # noqa: E501
    for name, value in values.items():
        if value is None:
            if name in _REQUIRED:
                raise ArgumentTypeError(
                    f"{owner}: {name} must be a number ≥ 0 or a schedule, got None (no "
                    "scaling would add the raw gradient to the params and so ascend the "
                    "loss, as optax's aliases do with learning_rate=None)."
                )
            continue
        if isinstance(value, jax.core.Tracer):
            continue
        if callable(value):
            _check_schedule_at_start(owner, name, value)
            continue
        valid = _RANGES[name]
        array = np.asarray(value)
        if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
            raise ValueError(f"{owner}: {name} must be a real number, got {value!r}.")
        if not valid.contains(array):
            raise ValueError(
                f"{owner}: {name} must be in {valid}{_WHY.get(name, '')}, got {value!r}."
            )


# A schedule's value at step 0, so that an optimizer and the transformations it chains
# evaluate it once between them (a schedule is a pure function of the step).
_AT_START: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _check_schedule_at_start(owner: str, name: str, schedule: Any) -> None:
    """Evaluate ``schedule`` at step 0 (an int32 0, as the step counter) and check it."""
    try:
        value = _AT_START[schedule]
    except (KeyError, TypeError):  # not seen yet, or not weakly referenceable
        value = schedule(jnp.zeros([], jnp.int32))
        if not isinstance(value, jax.core.Tracer):
            try:
                _AT_START[schedule] = value
            except TypeError:
                pass
    check_schedule_value(owner, name, value, 0)


def check_schedule_value(owner: str, name: str, value: Any, step: Any) -> None:
    """Raise a ``ValueError`` if a schedule's ``value`` at ``step`` is outside ``name``'s
    range (NaN included); a traced value or step (under ``jit``) is not checked.

    >>> check_schedule_value("adam", "learning_rate", -0.5, 3)
    Traceback (most recent call last):
    ...
    ValueError: adam: the learning_rate schedule returned -0.5 at step 3; its values must be in [0, inf) (a negative learning rate ascends the loss).
    """  # noqa: E501
    if isinstance(value, jax.core.Tracer) or isinstance(step, jax.core.Tracer):
        return
    valid = _RANGES[name]
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(
            f"{owner}: the {name} schedule must return a real number, got {value!r} at step "
            f"{int(step)}."
        )
    if not valid.contains(array):
        shown = f"{array.item():.6g}" if array.size == 1 else repr(array)
        raise ValueError(
            f"{owner}: the {name} schedule returned {shown} at step {int(step)}; its values "
            f"must be in {valid}{_WHY.get(name, '')}."
        )


def check_transform(owner: str, name: str, transform: Any) -> None:
    """A ``TypeError`` naming ``owner`` and ``name`` unless ``transform`` has callable
    ``init`` and ``update`` (a jaxdl or optax ``GradientTransformation``)."""
    methods = (getattr(transform, "init", None), getattr(transform, "update", None))
    if not all(callable(method) for method in methods):
        raise TypeError(
            f"{owner}: {name} must be a GradientTransformation (an optimizer such as "
            f"optim.adam(1e-3)), got {transform!r} ({type(transform).__name__})."
        )


def check_tree_matches(owner: str, updates: Any, reference: Any, what: str) -> None:
    """Raise a ``ValueError`` unless ``updates`` has ``reference``'s tree and leaf shapes.

    Only structures and shapes are compared (dtypes may differ: a float32 gradient for a
    bfloat16 momentum buffer is fine), so the check is static: under ``jit`` it runs at
    trace time only. The message lists the paths that are missing, unexpected or of
    another shape, e.g. ``"sgd: the gradients do not match the params: missing ['b'];
    ['w'] has shape (3,) in the gradients but (2,) in the params."``

    >>> import jax.numpy as jnp
    >>> check_tree_matches("sgd", {"w": jnp.ones(3)}, {"w": jnp.ones(2), "b": jnp.ones(1)},
    ...                    "params")
    Traceback (most recent call last):
    ...
    ValueError: sgd: the gradients do not match the params: missing ['b']; ['w'] has shape (3,) in the gradients but (2,) in the params.
    """  # noqa: E501
    leaves, structure = jax.tree.flatten(updates)
    reference_leaves, reference_structure = jax.tree.flatten(reference)
    if structure == reference_structure and all(
        np.shape(u) == np.shape(r) for u, r in zip(leaves, reference_leaves)
    ):
        return
    difference = _tree_difference(updates, reference, what)
    hint = "" if what == "params" else " (build the state with this optimizer's init(params))"
    raise ValueError(f"{owner}: the gradients do not match the {what}: {difference}{hint}.")


def _tree_difference(updates: Any, reference: Any, what: str) -> str:
    """The paths in which two trees differ, for an error message."""
    ours = {jax.tree_util.keystr(p): np.shape(v) for p, v in _with_paths(updates)}
    theirs = {jax.tree_util.keystr(p): np.shape(v) for p, v in _with_paths(reference)}
    parts = []
    missing = [path for path in theirs if path not in ours]
    unexpected = [path for path in ours if path not in theirs]
    if missing:
        parts.append(f"missing {_listing(missing)}")
    if unexpected:
        parts.append(f"unexpected {_listing(unexpected)}")
    for path, shape in ours.items():
        if path in theirs and theirs[path] != shape:
            parts.append(
                f"{path or 'the gradients'} has shape {shape} in the gradients but "
                f"{theirs[path]} in the {what}"
            )
    if not parts:  # the same paths and shapes in other containers (a list for a tuple)
        parts.append(
            f"the gradients are {jax.tree.structure(updates)}, the {what} are "
            f"{jax.tree.structure(reference)}"
        )
    return "; ".join(parts)


def _with_paths(tree: Any) -> list[tuple[Any, Any]]:
    return jax.tree_util.tree_flatten_with_path(tree)[0]


def _listing(paths: list[str], limit: int = 8) -> str:
    shown = ", ".join(path or "(the root)" for path in paths[:limit])
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return f"{shown}{more}"

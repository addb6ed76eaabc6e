"""Checks of ``fit``'s and ``fit_sweep``'s inputs, run before anything compiles."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import nn, parallel
from jaxdl._checks import ArgumentTypeError, check_int, is_int
from jaxdl.train._divergence import ON_DIVERGENCE
from jaxdl.train._state import TrainState

__all__ = [
    "check_arrays",
    "check_callbacks",
    "check_flag",
    "check_int",
    "check_key",
    "check_model",
    "check_on_divergence",
    "check_optimizer",
    "check_parallel",
    "check_progress",
    "check_run",
    "check_train_state",
    "checked_data",
    "is_int",
    "output_spec",
    "unpack",
]


def unpack(name: str, data: Any, split: str = "train") -> tuple[Any, Any]:
    if hasattr(data, f"x_{split}") and hasattr(data, f"y_{split}"):
        data = (getattr(data, f"x_{split}"), getattr(data, f"y_{split}"))
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(
            f"{name} must be a pair (x, y) of arrays or a dataset with x_{split}/y_{split}, "
            f"got {type(data).__name__}."
        )
    x, y = data
    as_array = (lambda a: a) if isinstance(x, jax.Array) else np.asarray
    return as_array(x), (y if isinstance(y, jax.Array) else np.asarray(y))


def checked_data(
    model: nn.Layer, train_data: Any, validation_data: Any
) -> tuple[Any, Any, tuple[Any, Any] | None]:
    """``(x, y, validation)`` unpacked from ``train_data``/``validation_data`` and checked
    against each other and the model's output (see :func:`check_arrays`)."""
    x, y = unpack("train_data", train_data)
    output = output_spec(model, x)
    check_arrays("train_data", x, y, output)
    validation = None
    if validation_data is not None:
        validation = unpack("validation_data", validation_data)
        check_arrays("validation_data", *validation, output, like=(x, y))
    return x, y, validation


def check_run(
    epochs: Any, batch_size: Any, initial_epoch: Any, eval_batch_size: Any, name: str = "fit"
) -> None:
    check_int(name, "epochs", epochs, minimum=0)
    check_int(name, "batch_size", batch_size, minimum=1)
    check_int(name, "initial_epoch", initial_epoch, minimum=0)
    if eval_batch_size is not None:
        check_int(name, "eval_batch_size", eval_batch_size, minimum=1)


def describe(value: Any) -> str:
    """How an error message names a value of the wrong type."""
    if isinstance(value, type):
        return f"the class {value.__name__}"
    if callable(value) and hasattr(value, "__name__") and not hasattr(value, "init"):
        return f"the function {value.__name__}"
    return f"a {type(value).__name__}"


def check_model(name: str, model: Any, argument: str = "model") -> None:
    if not isinstance(model, nn.Layer):
        raise TypeError(
            f"{name}: {argument} must be a layer (a jaxdl.nn.Layer, e.g. "
            f"nn.Sequential([nn.Dense(10), ...])), got {describe(model)}."
        )


def check_optimizer(name: str, optimizer: Any, argument: str = "optimizer") -> None:
    """An optimizer is a ``GradientTransformation``: an object with ``init`` and
    ``update`` (jaxdl's or optax's). The commonest slip, a factory passed uncalled
    (``optim.adam`` for ``optim.adam(1e-3)``), gets its own message."""
    if callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None)):
        return
    hint = ""
    if callable(optimizer):
        hint = (
            f"; {describe(optimizer)} looks like an optimizer factory: call it, e.g. "
            f"{getattr(optimizer, '__name__', 'adam')}(1e-3)"
        )
    raise TypeError(
        f"{name}: {argument} must be a GradientTransformation (an object with init and "
        f"update, e.g. optim.adam(1e-3)), got {describe(optimizer)}{hint}."
    )


_HOOKS = ("on_train_begin", "on_epoch_end", "on_train_end")


def check_callbacks(name: str, callbacks: Any) -> tuple[Any, ...]:
    """``callbacks`` as a tuple, after checking it is a list (or tuple) of callbacks: objects
    with the three hooks of :class:`jaxdl.train.Callback` (its subclasses, usually)."""
    if all(callable(getattr(callbacks, hook, None)) for hook in _HOOKS):
        raise TypeError(
            f"{name}: callbacks must be a list of callbacks, got a single "
            f"{type(callbacks).__name__}; pass callbacks=[{type(callbacks).__name__}(...)]."
        )
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"{name}: callbacks must be a list of train.Callback objects, got "
            f"{describe(callbacks)}."
        )
    for index, callback in enumerate(callbacks):
        if not all(callable(getattr(callback, hook, None)) for hook in _HOOKS):
            raise TypeError(
                f"{name}: callbacks[{index}] must be a train.Callback (a subclass overriding "
                f"on_epoch_end(epoch, logs, context), say), got {describe(callback)}."
            )
    return tuple(callbacks)


def check_flag(name: str, argument: str, value: Any, *, allow_none: bool = True) -> None:
    """``value`` must be True or False (or None where ``allow_none``): no truthy strings."""
    if value is None and allow_none:
        return
    if not isinstance(value, (bool, np.bool_)):
        choices = "True, False or None" if allow_none else "True or False"
        raise ArgumentTypeError(f"{name}: {argument} must be {choices}, got {value!r}.")


def check_progress(name: str, progress: Any) -> None:
    if not isinstance(progress, (bool, np.bool_, str)):
        raise TypeError(
            f"{name}: progress must be True, False or a label string, got {progress!r}."
        )


def check_on_divergence(name: str, value: Any) -> None:
    if not isinstance(value, str) or value not in ON_DIVERGENCE:
        raise ValueError(f"{name}: on_divergence must be one of {ON_DIVERGENCE}, got {value!r}.")


def check_train_state(name: str, train_state: Any, model: nn.Layer, optimizer: Any, x: Any) -> None:
    """``train_state`` must be a :class:`TrainState` whose params have the structure and
    shapes ``model.init`` gives for ``x``'s samples, and whose optimizer state has those
    of ``optimizer.init(params)`` (by shape inference: nothing compiles)."""
    if not isinstance(train_state, TrainState):
        raise TypeError(
            f"{name}: train_state must be a TrainState (train.initial_state(...) or a "
            f"restored checkpoint's .tree), got {describe(train_state)}."
        )
    expected = _state_spec(model, optimizer, tuple(np.shape(x)[1:]), np.dtype(x.dtype))
    for field in ("params", "opt_state"):
        mismatch = _mismatch(getattr(expected, field), getattr(train_state, field))
        if mismatch:
            source = "model.init" if field == "params" else "optimizer.init(params)"
            raise ValueError(
                f"{name}: train_state.{field} does not match what {source} builds for this "
                f"model and data: {mismatch}. Was it saved from another model or optimizer?"
            )


def _state_spec(model: nn.Layer, optimizer: Any, sample_shape: tuple, dtype: np.dtype) -> Any:
    try:
        hash((model, optimizer))
    except TypeError:
        return _state_spec_cached.__wrapped__(model, optimizer, sample_shape, dtype)
    return _state_spec_cached(model, optimizer, sample_shape, dtype)


@functools.lru_cache(maxsize=128)
def _state_spec_cached(model: nn.Layer, optimizer: Any, sample_shape: tuple, dtype: np.dtype):
    spec = jax.ShapeDtypeStruct((1, *sample_shape), dtype)

    def create(key):
        params, state = model.init(key, spec)
        return TrainState.create(params=params, state=state, optimizer=optimizer)

    return jax.eval_shape(create, jax.random.key(0))


def _mismatch(expected: Any, given: Any) -> str | None:
    """The first difference of structure or leaf shape between two pytrees, in words."""
    expected_leaves, expected_tree = jax.tree_util.tree_flatten_with_path(expected)
    given_leaves, given_tree = jax.tree_util.tree_flatten_with_path(given)
    if expected_tree != given_tree:
        paths = {jax.tree_util.keystr(p) for p, _ in expected_leaves}
        others = {jax.tree_util.keystr(p) for p, _ in given_leaves}
        missing, extra = sorted(paths - others)[:3], sorted(others - paths)[:3]
        if missing or extra:
            return (
                f"missing {', '.join(missing) or 'nothing'}; "
                f"unexpected {', '.join(extra) or 'nothing'}"
            )
        return f"structure {given_tree} where {expected_tree} was expected"
    for (path, want), (_, got) in zip(expected_leaves, given_leaves):
        if tuple(np.shape(got)) != tuple(want.shape):
            return (
                f"{jax.tree_util.keystr(path) or 'the leaf'} has shape {np.shape(got)}, "
                f"expected {tuple(want.shape)}"
            )
    return None


def check_key(key: Any) -> None:
    is_key = isinstance(key, jax.Array) and (
        jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) or key.dtype == jnp.uint32
    )
    if not is_key:
        raise TypeError(
            f"key must be a JAX random key (jax.random.key(seed)), got {type(key).__name__}."
        )


def output_spec(model: nn.Layer, x: Any) -> jax.ShapeDtypeStruct:
    """The model's output shape for one sample of ``x``, by shape inference (no compile;
    remembered per model and sample shape, as the compiled programs are)."""
    sample_shape, dtype = tuple(np.shape(x)[1:]), np.dtype(x.dtype)
    try:
        hash(model)
    except TypeError:  # a model that cannot be hashed is inferred every time
        return _output_spec.__wrapped__(model, sample_shape, dtype)
    return _output_spec(model, sample_shape, dtype)


@functools.lru_cache(maxsize=128)
def _output_spec(model: nn.Layer, sample_shape: tuple, dtype: np.dtype) -> jax.ShapeDtypeStruct:
    spec = jax.ShapeDtypeStruct((1, *sample_shape), dtype)
    forward = lambda k, v: model.apply(*model.init(k, v), v)[0]  # noqa: E731
    return jax.eval_shape(forward, jax.random.key(0), spec)


def check_arrays(
    name: str,
    x: Any,
    y: Any,
    output: jax.ShapeDtypeStruct,
    like: tuple[Any, Any] | None = None,
) -> None:
    if np.ndim(x) == 0 or np.ndim(y) == 0:
        raise ValueError(
            f"{name}: x and y need a leading sample axis, got shapes "
            f"{np.shape(x)} and {np.shape(y)}."
        )
    if len(x) != len(y):
        raise ValueError(f"{name}: x has {len(x)} samples but y has {len(y)}.")
    if len(x) == 0:
        raise ValueError(f"{name} is empty (0 samples).")
    if like is not None:
        for what, a, b in (("x", x, like[0]), ("y", y, like[1])):
            if np.shape(a)[1:] != np.shape(b)[1:]:
                raise ValueError(
                    f"{name}: {what} has per-sample shape {np.shape(a)[1:]}, but the training "
                    f"{what} has {np.shape(b)[1:]}."
                )
    for what, a in (("x", x), ("y", y)):
        if jnp.issubdtype(a.dtype, jnp.inexact) and not bool(_xp(a).isfinite(a).all()):
            raise ValueError(f"{name}: {what} contains NaN or inf values.")
    # Integer labels index the model's last output axis: check them against its size.
    if jnp.issubdtype(y.dtype, jnp.integer) and np.shape(y)[1:] == output.shape[1:-1]:
        classes = output.shape[-1]
        low, high = int(_xp(y).min(y)), int(_xp(y).max(y))
        if low < 0 or high >= classes:
            raise ValueError(
                f"{name}: labels must lie in [0, {classes}) for a model with {classes} "
                f"outputs, got values from {low} to {high}."
            )


def check_parallel(mesh: Any, size: int, name: str, what: str = "batch_size") -> int | None:
    """The number of devices of ``mesh`` (None without one), after checking that it is a
    mesh with a ``"data"`` axis whose devices divide ``size`` (the batch, or the runs)."""
    if mesh is None:
        return None
    devices = parallel.shard_count(parallel.check_mesh(mesh, name))
    if size % devices:
        raise ValueError(
            f"{name}: {what} {size} is not a multiple of the mesh's {devices} devices; "
            f"use a {what} divisible by {devices}."
        )
    return devices


def _xp(a: Any) -> Any:
    return jnp if isinstance(a, jax.Array) else np

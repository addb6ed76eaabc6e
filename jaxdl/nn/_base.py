"""The layer protocol: a hashable description plus two pure functions.

.. code-block:: python

    params, state = layer.init(key, x)  # x: a sample batch or jax.ShapeDtypeStruct
    y, state = layer.apply(params, state, x, *, key=None, train=False)

A layer is a frozen dataclass of hyperparameters: layers with equal hyperparameters
compare and hash equal, so a layer can be a static argument to ``jax.jit``. ``train`` is
a Python bool that selects the computation (batch statistics, dropout): when jitting
``apply`` directly, mark it static (``jax.jit(layer.apply, static_argnames="train")``) or
close over it. ``params``
(trained) and ``state`` (not trained, e.g. batch-norm running statistics) are plain dicts
of arrays. A layer without state returns ``{}``.

This module also holds the small helpers every layer uses to check its input, so that a
wrong shape or dtype raises a ``ValueError`` naming the layer and both shapes, at trace
time, instead of a bare XLA error.

Params and state are checked against the layer too: a layer with params compares the
names and shapes of the ``params`` and ``state`` it is given with those its ``init`` makes
for this input (``jax.eval_shape`` of ``init``: shapes only, nothing is computed, and the
result is cached per layer, input shape and dtype). A mismatch raises a
:class:`VariablesMismatchError` (a ``ValueError``) naming the layer, the path inside a
:class:`Sequential` and the expected and received names or shapes. Names and shapes are
static, so under ``jit`` the check runs once at trace time and the compiled program is the
same as without it. Dtypes are not compared (params cast to bfloat16 are fine).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import DTypeError, dtype_of, floating_dtype, is_int, shape_of

__all__ = ["Lambda", "Layer", "Params", "Sequential", "State", "VariablesMismatchError"]

Params = dict[str, Any]
State = dict[str, Any]


class Layer:
    """Base class of every layer. Subclasses are ``@dataclasses.dataclass(frozen=True)``.

    Subclasses implement :meth:`init` and :meth:`apply`; a layer that draws random numbers
    when training (dropout) sets ``is_random = True`` so :class:`Sequential` hands it a key.
    """

    is_random: ClassVar[bool] = False

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        """Create ``(params, state)`` for inputs shaped like ``x`` (array or ShapeDtypeStruct)."""
        raise NotImplementedError

    def apply(
        self,
        params: Params,
        state: State,
        x: Any,
        *,
        key: jax.Array | None = None,
        train: bool = False,
    ) -> tuple[jax.Array, State]:
        """Run the layer: ``(y, new_state)``. ``train=False`` is inference."""
        raise NotImplementedError

    def __repr__(self) -> str:
        # Only the hyperparameters that differ from their defaults: "Dense(features=10)".
        shown = []
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if field.default is not dataclasses.MISSING and _same(value, field.default):
                continue
            shown.append(f"{field.name}={_short(value)}")
        return f"{type(self).__name__}({', '.join(shown)})"


@dataclasses.dataclass(frozen=True, repr=False)
class Lambda(Layer):
    """A parameter-free layer wrapping a function of one array, e.g. an activation.

    ``Sequential`` wraps plain functions in it, so ``Sequential([Dense(10), relu])`` works.
    """

    fn: Callable[[jax.Array], jax.Array]

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        del key, x
        return {}, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del params, key, train
        return self.fn(jnp.asarray(x)), state


@dataclasses.dataclass(frozen=True, repr=False, init=False)
class Sequential(Layer):
    """Layers (or plain functions) applied one after another.

    .. math:: y = f_L(\\dots f_2(f_1(x)))

    Arguments:
        layers: a sequence of layers and functions (functions become :class:`Lambda`), or a
            mapping from names to them, in order.

    ``params`` and ``state`` are dicts keyed ``"0"``, ``"1"``, … (or by the given names),
    one entry per layer. With ``key=``, each layer receives its own subkey.

    Example:
        >>> import jax
        >>> from jaxdl import nn, activations
        >>> model = nn.Sequential([nn.Dense(32), activations.relu, nn.Dense(10)])
        >>> x = jax.numpy.zeros((8, 784))
        >>> params, state = model.init(jax.random.key(0), x)
        >>> y, state = model.apply(params, state, x)
        >>> y.shape
        (8, 10)
    """

    layers: tuple[Layer, ...]
    names: tuple[str, ...]

    def __init__(
        self,
        layers: Sequence[Layer | Callable] | Mapping[str, Layer | Callable],
    ) -> None:
        if isinstance(layers, Mapping):
            names, items = tuple(layers.keys()), tuple(layers.values())
            if not all(isinstance(n, str) and n for n in names):
                raise TypeError(f"Sequential: layer names must be non-empty str, got {names}.")
        elif isinstance(layers, Sequence) and not isinstance(layers, str):
            items = tuple(layers)
            names = tuple(str(i) for i in range(len(items)))
        else:
            raise TypeError(
                "Sequential: expected a list of layers/functions or a dict of them, "
                f"got {type(layers).__name__}."
            )
        wrapped = []
        for name, item in zip(names, items):
            if isinstance(item, Layer):
                wrapped.append(item)
            elif callable(item):
                wrapped.append(Lambda(item))
            else:
                raise TypeError(
                    f"Sequential: entry {name!r} is a {type(item).__name__}, expected a layer "
                    "or a function of one array."
                )
        object.__setattr__(self, "layers", tuple(wrapped))
        object.__setattr__(self, "names", names)

    @property
    def is_random(self) -> bool:  # type: ignore[override]
        return any(layer.is_random for layer in self.layers)

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        keys = _split(key, len(self.layers))
        spec = as_spec(x)
        params, state = {}, {}
        for name, layer, layer_key in zip(self.names, self.layers, keys):
            params[name], state[name] = layer.init(layer_key, spec)
            spec = output_spec(layer, params[name], state[name], spec)
        return params, state

    def apply(self, params, state, x, *, key=None, train=False):
        _check_entries(self, params, "params")
        _check_entries(self, state, "state")
        keys = _split(key, len(self.layers)) if key is not None else [None] * len(self.layers)
        new_state = {}
        for name, layer, layer_key in zip(self.names, self.layers, keys):
            try:
                x, new_state[name] = layer.apply(
                    params[name], state[name], x, key=layer_key, train=train
                )
            except VariablesMismatchError as error:
                raise error.within(name) from None
        return x, new_state

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int | str | slice) -> Layer:
        """A layer by position (``model[0]``, ``model[-1]``) or name (``model["encoder"]``),
        or a slice (``model[:2]``): a ``Sequential`` of those layers under their names, so
        its params are the matching entries of this model's params."""
        if isinstance(index, slice):
            kept = range(len(self.layers))[index]
            return Sequential({self.names[i]: self.layers[i] for i in kept})
        return self.layers[self.position(index)]

    def position(self, index: int | str) -> int:
        """The position of the layer named or numbered ``index`` (negative counts from the
        end); a ``KeyError``/``IndexError`` listing the layers otherwise."""
        if isinstance(index, str):
            if index not in self.names:
                raise KeyError(
                    f"Sequential: no layer named {index!r}; the names are {list(self.names)}."
                )
            return self.names.index(index)
        if is_int(index):
            if not -len(self.layers) <= index < len(self.layers):
                raise IndexError(
                    f"Sequential: index {index} is out of range for {len(self.layers)} layers."
                )
            return int(index) % len(self.layers)
        raise TypeError(
            f"Sequential: index with an int, a layer name or a slice, got {type(index).__name__}."
        )

    def bind(self, params: Params, state: State) -> Any:
        """This model with its params and state, as a :class:`jaxdl.nn.Bound`, which slices
        all three together: ``model.bind(params, state)[:2]``."""
        from jaxdl.nn._surgery import Bound

        return Bound(self, params, state)

    def __repr__(self) -> str:
        inner = ", ".join(
            repr(layer) if name == str(i) else f"{name}={layer!r}"
            for i, (name, layer) in enumerate(zip(self.names, self.layers))
        )
        return f"Sequential([{inner}])"


# --- helpers shared by the layers ---------------------------------------------------------


def as_spec(x: Any) -> jax.ShapeDtypeStruct:
    """The shape and dtype of an array-like or ``ShapeDtypeStruct``."""
    return jax.ShapeDtypeStruct(shape_of(x), dtype_of(x))


def output_spec(layer: Layer, params: Params, state: State, x: Any) -> jax.ShapeDtypeStruct:
    """The shape and dtype of ``layer``'s inference output for inputs shaped like ``x``."""
    y, _ = jax.eval_shape(lambda p, s, v: layer.apply(p, s, v), params, state, as_spec(x))
    return y


def param_dtype(layer: Layer, x: Any) -> np.dtype:
    """The dtype to create params in: the layer's ``dtype=`` if set, else ``x``'s floating
    dtype (the default float for integer inputs)."""
    explicit = getattr(layer, "dtype", None)
    return np.dtype(explicit) if explicit is not None else floating_dtype(x)


def check_input(layer: Layer, x: Any, expected: Sequence[int | str | None]) -> None:
    """Raise a ``ValueError`` naming ``layer`` unless ``x``'s shape matches ``expected``.

    ``expected`` lists one entry per axis: an int that the axis must equal, or a name
    (``"batch"``, ``"height"``) / ``None`` for an axis of any size.
    """
    shape = shape_of(x)
    ok = len(shape) == len(expected) and all(
        not isinstance(e, int) or e == s for e, s in zip(expected, shape)
    )
    if not ok:
        wanted = "(" + ", ".join("?" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{layer!r}: expected input of shape {wanted}, got {shape}.")


def check_floating(layer: Layer, x: Any) -> None:
    """Raise a :class:`DTypeError` (a ``ValueError`` and a ``TypeError``) naming ``layer``
    unless ``x`` is real-valued (integer or floating)."""
    dtype = dtype_of(x)
    if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
        raise DTypeError(f"{layer!r}: expected a real-valued input, got dtype {dtype}.")


def require_key(layer: Layer, key: jax.Array | None) -> jax.Array:
    """The key, or a ``ValueError`` telling the user to pass ``key=`` when training."""
    if key is None:
        raise ValueError(
            f"{layer!r} draws random numbers when train=True: pass key=jax.random.key(...) "
            "(or a subkey) to apply, or call apply with train=False for inference."
        )
    return key


class VariablesMismatchError(ValueError):
    """Params or state that do not fit the layer they are given to: missing or unexpected
    names, or arrays of other shapes than the layer's ``init`` makes for this input.

    The message names the layer, where its variables sit in the enclosing models
    (``['1']['inner']``) and each difference, e.g. ``"Dense(features=4) (in the model at
    ['0']): ... params['0']['w'] has shape (3, 8), expected (3, 4)"``.
    """

    def __init__(
        self,
        layer: Layer,
        input_shape: tuple[int, ...],
        problems: Sequence[tuple[str, str, str]],
        path: tuple[str, ...] = (),
    ) -> None:
        self.layer, self.input_shape = layer, input_shape
        self.problems, self.path = tuple(problems), path
        super().__init__(self._message())

    def within(self, name: str) -> VariablesMismatchError:
        """The same error one level up: the layer sits under ``name`` in a container."""
        return VariablesMismatchError(
            self.layer, self.input_shape, self.problems, (name, *self.path)
        )

    def _message(self) -> str:
        prefix = "".join(f"[{name!r}]" for name in self.path)
        where = f" (in the model at {prefix})" if self.path else ""
        details = "; ".join(
            f"{what}{prefix}{relative} {text}" for what, relative, text in self.problems
        )
        return (
            f"{self.layer!r}{where}: its variables do not fit the layer for inputs of shape "
            f"{self.input_shape}: {details}. Create params and state with this model's init "
            "(or load those saved for this very model)."
        )


def expected_variables(layer: Layer, x: Any) -> tuple[Params, State]:
    """The ``(params, state)`` shapes ``layer.init`` makes for inputs shaped like ``x``, as
    ``jax.ShapeDtypeStruct`` trees (cached per layer, input shape and dtype)."""
    shape, dtype = shape_of(x), dtype_of(x)
    try:
        hash(layer)
    except TypeError:
        return _variables_of(layer, shape, dtype)
    return _cached_variables_of(layer, shape, dtype)


def _variables_of(layer: Layer, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    spec = jax.ShapeDtypeStruct(shape, dtype)
    return jax.eval_shape(lambda s: layer.init(jax.random.key(0), s), spec)


_cached_variables_of = functools.lru_cache(maxsize=2048)(_variables_of)


def check_variable_names(
    layer: Layer, params: Any, state: Any, x: Any
) -> tuple[Params, State] | None:
    """Raise a :class:`VariablesMismatchError` unless ``params`` and ``state`` have the
    tree structure (the names) ``layer.init`` makes for ``x``; return the expected
    ``(params, state)`` shapes for :func:`check_variable_shapes`.

    Call it first in ``apply``, before reading ``params``, so that a missing name is this
    error and not a bare ``KeyError``; then check the input, then the shapes. When
    ``init`` itself rejects ``x`` (a wrong rank or dtype), nothing is checked here and
    ``None`` is returned, so that the layer's own input check reports the input.
    """
    try:
        expected = expected_variables(layer, x)
    except (ValueError, TypeError):
        return None
    problems = []
    for what, given, wanted in (("params", params, expected[0]), ("state", state, expected[1])):
        if jax.tree.structure(given) == jax.tree.structure(wanted):
            continue
        ours, theirs = _paths(given), _paths(wanted)
        problems += [(what, p, "is missing") for p in theirs if p not in ours]
        problems += [(what, p, "is not a variable of this layer") for p in ours if p not in theirs]
        if not any(problem[0] == what for problem in problems):
            problems.append(
                (what, "", f"is {jax.tree.structure(given)}, expected {jax.tree.structure(wanted)}")
            )
    if problems:
        raise VariablesMismatchError(layer, shape_of(x), problems)
    return expected


def check_variable_shapes(
    layer: Layer, params: Any, state: Any, x: Any, expected: tuple[Params, State] | None
) -> None:
    """Raise a :class:`VariablesMismatchError` unless every array in ``params`` and
    ``state`` has the shape ``layer.init`` gives it for ``x`` (``expected``, from
    :func:`check_variable_names`; ``None`` checks nothing). Dtypes are not compared."""
    if expected is None:
        return
    problems = []
    for what, given, wanted in (("params", params, expected[0]), ("state", state, expected[1])):
        given_leaves, wanted_leaves = jax.tree.leaves(given), jax.tree.leaves(wanted)
        if all(shape_of(g) == w.shape for g, w in zip(given_leaves, wanted_leaves)):
            continue
        ours, theirs = _paths(given), _paths(wanted)
        problems += [
            (what, p, f"has shape {shape}, expected {theirs[p]}")
            for p, shape in ours.items()
            if p in theirs and shape != theirs[p]
        ]
    if problems:
        raise VariablesMismatchError(layer, shape_of(x), problems)


def _paths(tree: Any) -> dict[str, tuple[int, ...]]:
    """Each leaf's path (``"['w']"``) and shape."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(path): shape_of(leaf) for path, leaf in leaves}


def _split(key: jax.Array, n: int) -> Sequence[jax.Array]:
    return list(jax.random.split(key, n)) if n else []


def _check_entries(model: Sequential, tree: Any, what: str) -> None:
    if not isinstance(tree, Mapping) or set(tree.keys()) != set(model.names):
        got = sorted(tree.keys()) if isinstance(tree, Mapping) else type(tree).__name__
        raise ValueError(
            f"Sequential: {what} must have one entry per layer {list(model.names)}, got "
            f"{got}; create them with this model's init."
        )


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _short(value: Any) -> str:
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    if isinstance(value, type) or isinstance(value, np.dtype):
        return np.dtype(value).name
    return repr(value)

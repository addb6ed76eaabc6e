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
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl._checks import DTypeError, dtype_of, floating_dtype, shape_of

__all__ = ["Lambda", "Layer", "Params", "Sequential", "State"]

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
            x, new_state[name] = layer.apply(
                params[name], state[name], x, key=layer_key, train=train
            )
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
                raise KeyError(f"Sequential: no layer named {index!r}; the names are "
                               f"{list(self.names)}.")
            return self.names.index(index)
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            if not -len(self.layers) <= index < len(self.layers):
                raise IndexError(f"Sequential: index {index} is out of range for "
                                 f"{len(self.layers)} layers.")
            return int(index) % len(self.layers)
        raise TypeError(f"Sequential: index with an int, a layer name or a slice, got "
                        f"{type(index).__name__}.")

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

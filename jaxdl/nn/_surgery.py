"""Model surgery: take trained layers with their params, put them in a new model, freeze.

.. code-block:: python

    trained = model.bind(params, state)        # a Bound: layers, params, state together
    encoder = trained[:3]                      # the first three layers and their variables
    classifier = nn.Sequential({"encoder": encoder.model, "head": nn.Dense(10)})
    fresh = classifier.bind(*classifier.init(key, x))
    ready = nn.graft(fresh, encoder, at="encoder")   # shapes checked, names matched
    # ready.params["encoder"] is encoder.params; ready.params["head"] is freshly initialised

Freeze what was transplanted with :func:`jaxdl.optim.selective_transform`
(``freeze_mask={"encoder": True, "head": False}``), or wrap it in :class:`Frozen`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from typing import Any

import jax

from jaxdl._checks import dtype_of, shape_of
from jaxdl.nn._base import Layer, Params, Sequential, State

__all__ = ["Bound", "Frozen", "graft"]


@dataclasses.dataclass(frozen=True, eq=False)
class Bound:
    """A layer together with its params and state; indexing a bound ``Sequential`` picks
    layers and their variables together.

    Fields:
        model: the layer (usually a :class:`Sequential`).
        params: its params, as its ``init`` makes them.
        state: its state.

    ``bound[i]``, ``bound["name"]`` and ``bound[a:b]`` index the ``Sequential`` as
    ``Sequential.__getitem__`` does and return a ``Bound`` of the picked layer(s) with the
    matching entries of ``params`` and ``state``. ``model, params, state = bound``
    unpacks it; ``bound(x)`` runs inference.

    Example:
        >>> import jax
        >>> from jaxdl import activations, nn
        >>> model = nn.Sequential([nn.Dense(8), activations.relu, nn.Dense(2)])
        >>> x = jax.numpy.ones((4, 3))
        >>> body = model.bind(*model.init(jax.random.key(0), x))[:2]
        >>> body.model.names, body(x).shape
        (('0', '1'), (4, 8))
    """

    model: Layer
    params: Params
    state: State

    def __post_init__(self) -> None:
        if not isinstance(self.model, Layer):
            raise TypeError(f"Bound: model must be a layer, got {type(self.model).__name__}.")
        if isinstance(self.model, Sequential):
            for what, tree in (("params", self.params), ("state", self.state)):
                if not isinstance(tree, dict) or set(tree) != set(self.model.names):
                    got = sorted(tree) if isinstance(tree, dict) else type(tree).__name__
                    raise ValueError(
                        f"Bound: {what} must have one entry per layer "
                        f"{list(self.model.names)}, got {got}."
                    )

    def __getitem__(self, index: int | str | slice) -> Bound:
        model = self.model
        if not isinstance(model, Sequential):
            raise TypeError(f"Bound: only a bound Sequential can be indexed, not {model!r}.")
        if isinstance(index, slice):
            part = model[index]
            assert isinstance(part, Sequential)
            pick = lambda tree: {name: tree[name] for name in part.names}  # noqa: E731
            return Bound(part, pick(self.params), pick(self.state))
        name = model.names[model.position(index)]
        return Bound(model.layers[model.names.index(name)], self.params[name], self.state[name])

    def __iter__(self) -> Iterator[Any]:
        return iter((self.model, self.params, self.state))

    def __call__(self, x: Any) -> jax.Array:
        """The model's inference output for ``x``, one compiled program (cached per model
        and input shape)."""
        return infer(self.model, self.params, self.state, x)


def graft(target: Bound, part: Bound, *, at: str | None = None) -> Bound:
    """``target`` with some of its layers' params and state replaced by ``part``'s.

    - ``at="name"``: the entry ``name`` of the target ``Sequential`` takes ``part``'s
      params and state whole (``part`` is the layer, or Sequential, that sits there).
    - ``at=None``: ``part`` is a ``Sequential`` whose layer names all name layers of the
      target (a slice such as ``trained[:3]`` grafted into a deeper model built with the
      same names); each of those entries is replaced.

    Each replaced entry must have the same tree of params and state, with the same
    shapes and dtypes, as the target's: otherwise a ``ValueError`` names the entry and
    shows both sides. Layers need not be equal (``Frozen(layer)`` has ``layer``'s params;
    an activation may change), only their variables must fit.

    Arguments:
        target: the new model with its (freshly initialised) params and state.
        part: the trained layers to transplant, with their params and state.
        at: the name of the target's entry to replace; None to match by names.

    Returns:
        A new :class:`Bound` of ``target.model`` (the inputs are not modified).

    Example:
        >>> import jax
        >>> from jaxdl import nn
        >>> x = jax.numpy.ones((4, 3))
        >>> old = nn.Sequential([nn.Dense(8), nn.Dense(2)])
        >>> trained = old.bind(*old.init(jax.random.key(0), x))
        >>> new = nn.Sequential([nn.Dense(8), nn.Dense(5)])
        >>> grafted = nn.graft(new.bind(*new.init(jax.random.key(1), x)), trained[:1])
        >>> bool((grafted.params["0"]["w"] == trained.params["0"]["w"]).all())
        True
    """
    for name, value in (("target", target), ("part", part)):
        if not isinstance(value, Bound):
            raise TypeError(
                f"graft: {name} must be a nn.Bound (model.bind(params, state)), got "
                f"{type(value).__name__}."
            )
    model = target.model
    if not isinstance(model, Sequential):
        raise TypeError(f"graft: the target must be a bound Sequential, got {model!r}.")
    if at is not None:
        model.position(at)
        pairs = {at: part}
    elif isinstance(part.model, Sequential):
        missing = [name for name in part.model.names if name not in model.names]
        if missing:
            raise ValueError(
                f"graft: the part's layers {missing} have no namesake in the target, whose "
                f"layers are {list(model.names)}; pass at= to graft the part as one entry."
            )
        pairs = {name: part[name] for name in part.model.names}
    else:
        raise ValueError("graft: a part that is a single layer needs at= naming its entry.")
    params, state = dict(target.params), dict(target.state)
    for name, piece in pairs.items():
        _check_fits(name, target[name], piece)
        params[name], state[name] = piece.params, piece.state
    return Bound(model, params, state)


@dataclasses.dataclass(frozen=True, repr=False)
class Frozen(Layer):
    """A layer whose params get no gradient and, by default, whose state is kept.

    .. math:: y = f(\\operatorname{stop\\_gradient}(\\theta), x)

    Gradients still flow through the layer to its input, so layers below it train. With
    ``inference=True`` (the default) the layer always runs as at inference: a
    :class:`BatchNorm` inside normalises with its running statistics and keeps them as
    they are, and a :class:`Dropout` is the identity. With ``inference=False`` it follows
    ``train``: batch statistics, and running statistics that keep updating.

    A zero gradient does not stop every optimizer (weight decay and momentum still move a
    param), and the optimizer still keeps state for these params: to freeze them in the
    optimizer too, use :func:`jaxdl.optim.selective_transform`.

    Arguments:
        layer: the layer to freeze; its params and state are this layer's.
        inference: run ``layer`` in inference mode always (default True).

    Example:
        >>> import jax
        >>> from jaxdl import nn
        >>> frozen = nn.Frozen(nn.Dense(2))
        >>> x = jax.numpy.ones((1, 3))
        >>> params, state = frozen.init(jax.random.key(0), x)
        >>> loss = lambda p: frozen.apply(p, state, x)[0].sum()
        >>> bool((jax.grad(loss)(params)["w"] == 0).all())
        True
    """

    layer: Layer
    inference: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.layer, Layer):
            raise TypeError(f"Frozen: layer must be a layer, got {type(self.layer).__name__}.")
        if not isinstance(self.inference, bool):
            raise TypeError(f"Frozen: inference must be a bool, got {self.inference!r}.")

    @property
    def is_random(self) -> bool:
        return self.layer.is_random and not self.inference

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The wrapped layer, for code that walks a model's layers."""
        return (self.layer,)

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        return self.layer.init(key, x)

    def apply(self, params, state, x, *, key=None, train=False):
        params = jax.lax.stop_gradient(params)
        if self.inference:
            y, _ = self.layer.apply(params, state, x, train=False)
            return y, state
        return self.layer.apply(params, state, x, key=key, train=train)


@functools.partial(jax.jit, static_argnums=0)
def infer(model: Layer, params: Params, state: State, x: Any) -> jax.Array:
    """``model``'s inference output for ``x``, jitted (layers are hashable, so static)."""
    return model.apply(params, state, x)[0]


def _check_fits(name: str, target: Bound, part: Bound) -> None:
    for what in ("params", "state"):
        expected, got = _describe(getattr(target, what)), _describe(getattr(part, what))
        if expected != got:
            raise ValueError(
                f"graft: entry {name!r} does not fit: the target's {target.model!r} has "
                f"{what} {expected}, the part's {part.model!r} has {got}."
            )


def _describe(tree: Any) -> str:
    """The tree's structure with each leaf as ``dtype[shape]``: ``{'w': float32[3,8]}``."""

    def leaf(x: Any) -> str:
        return f"{dtype_of(x).name}[{','.join(map(str, shape_of(x)))}]"

    return str(jax.tree.map(leaf, tree))

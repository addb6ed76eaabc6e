"""The optimizer protocol: a gradient transformation is an ``(init, update)`` pair.

The protocol is optax's ``GradientTransformation``, field for field, so a jaxdl
transformation and an optax one can stand in for each other::

    opt_state = opt.init(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    params = apply_updates(params, updates)

States are pytrees (usually ``NamedTuple``s of arrays), so they pass through ``jit``,
``vmap``, ``lax.scan`` and checkpointing like the parameters do.
"""

from __future__ import annotations

import collections
import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeAlias, TypeVar

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdl.optim._validation import check_transform

__all__ = [
    "EmptyState",
    "GradientTransformation",
    "OptState",
    "Params",
    "ScalarOrSchedule",
    "Schedule",
    "Updates",
    "apply_updates",
    "chain",
    "identity",
    "memoized",
]

Params: TypeAlias = Any
"""A pytree of arrays: the parameters being optimized."""
Updates: TypeAlias = Any
"""A pytree with the structure of the parameters: gradients going in, steps coming out."""
OptState: TypeAlias = Any
"""A pytree holding an optimizer's running statistics and step counters."""
Schedule: TypeAlias = Callable[[jax.Array], ArrayLike]
"""A function of the int32 step counter (0 on the first update) returning a scalar."""
ScalarOrSchedule: TypeAlias = float | jax.Array | Schedule
"""A constant hyperparameter or a schedule of the step counter."""


class TransformInitFn(Protocol):
    def __call__(self, params: Params) -> OptState: ...


class TransformUpdateFn(Protocol):
    def __call__(
        self, updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, OptState]: ...


class GradientTransformation(NamedTuple):
    """A pair of pure functions ``(init, update)``, identical to optax's protocol.

    **Arguments:**

    - ``init(params) -> state``: builds the initial state for a pytree of parameters.
    - ``update(updates, state, params=None) -> (updates, state)``: transforms a pytree of
      gradients into a pytree of steps (to be *added* to the parameters with
      :func:`apply_updates`) and returns the new state. ``params`` is needed only by
      transformations that read the parameters (weight decay).

    Any optax ``GradientTransformation`` has the same two fields and can be used wherever
    this one is expected, and the other way round.
    """

    init: TransformInitFn
    update: TransformUpdateFn


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none (an empty pytree)."""


Factory = TypeVar("Factory", bound=Callable[..., Any])


def memoized(factory: Factory) -> Factory:
    """Make ``factory`` return the same object when called again with equal arguments.

    A transformation is an immutable pair of pure functions, so two calls of
    ``adam(1e-3)`` may as well share one: then they compare equal, and programs compiled
    for one (``jaxdl.train.fit`` caches its programs on the optimizer) serve the other.
    Arguments are compared by type and value (``1`` and ``1.0`` differ), functions such
    as schedules by identity, and containers (a mask ``{"w": True}``) leaf by leaf with
    their structure. Calls with an argument that cannot be hashed (an array, a traced
    value inside ``jit``) build a new object each time; bad arguments raise every time,
    since exceptions are not remembered. Up to 512 results are kept per factory, the
    least recently used dropped first.
    """
    remembered: collections.OrderedDict[Any, Any] = collections.OrderedDict()

    @functools.wraps(factory)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = _memo_key(args, kwargs)
        if key is None:
            return factory(*args, **kwargs)
        if key in remembered:
            remembered.move_to_end(key)
            return remembered[key]
        result = remembered[key] = factory(*args, **kwargs)
        if len(remembered) > 512:
            remembered.popitem(last=False)
        return result

    return wrapper  # type: ignore[return-value]


def _memo_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A hashable key equal for equal arguments (types included), or None if there is none.

    Plain hashable arguments are their own key; containers are flattened into their tree
    structure and typed leaves, so equal dicts of bools or labels give equal keys.
    """
    typed = lambda values: tuple((type(v), v) for v in values)  # noqa: E731
    key: Any = (typed(args), tuple(kwargs), typed(kwargs.values()))
    try:
        hash(key)
        return key
    except TypeError:
        pass
    leaves, structure = jax.tree.flatten((args, kwargs))
    # The structure's text shows dict keys with their types ({4: *} and {4.0: *} compare
    # equal as structures but mean different arguments).
    key = (structure, str(structure), typed(leaves))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def init_empty_state(params: Params) -> EmptyState:
    """The ``init`` of a stateless transformation: :class:`EmptyState`, whatever the params."""
    del params
    return EmptyState()


@memoized
def identity() -> GradientTransformation:
    """The transformation that returns its updates unchanged and keeps no state.

    **Returns:** a :class:`GradientTransformation`.

    >>> import jax.numpy as jnp
    >>> updates, _ = identity().update({"w": jnp.ones(2)}, EmptyState())
    >>> updates["w"]
    Array([1., 1.], dtype=float32)
    """

    def update(
        updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, OptState]:
        del params
        return updates, state

    return GradientTransformation(init_empty_state, update)


@memoized
def chain(*transforms: Any) -> GradientTransformation:
    """Compose transformations: each one's output updates feed the next one's input.

    .. math:: u \\leftarrow T_k(\\dots T_2(T_1(g)))

    **Arguments:**

    - ``*transforms``: jaxdl or optax transformations (anything with ``init`` and
      ``update``), applied left to right; anything else raises a ``TypeError`` naming
      its position (``transforms[0]``).

    **Returns:** a :class:`GradientTransformation` whose state is the tuple of the
    transforms' states. Extra keyword arguments given to ``update`` (optax's
    ``GradientTransformationExtraArgs``) are passed on to the transforms whose ``update``
    accepts ``**kwargs``.

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> opt = optim.chain(optim.clip_by_global_norm(1.0), optim.sgd(learning_rate=0.5))
    >>> params = {"w": jnp.array([3.0, 4.0])}
    >>> updates, _ = opt.update(params, opt.init(params), params)
    >>> updates["w"]
    Array([-0.3, -0.4], dtype=float32)
    """
    for position, transform in enumerate(transforms):
        check_transform("chain", f"transforms[{position}]", transform)
    takes_extra_args = tuple(accepts_var_keywords(t.update) for t in transforms)

    def init(params: Params) -> tuple[OptState, ...]:
        return tuple(t.init(params) for t in transforms)

    def update(
        updates: Updates,
        state: tuple[OptState, ...],
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, tuple[OptState, ...]]:
        if len(state) != len(transforms):
            raise ValueError(
                f"chain: got a state for {len(state)} transformations but the chain has "
                f"{len(transforms)}; build the state with this chain's init(params)."
            )
        new_state = []
        for transform, inner_state, extra in zip(transforms, state, takes_extra_args, strict=True):
            kwargs = extra_args if extra else {}
            updates, inner_state = transform.update(updates, inner_state, params, **kwargs)
            new_state.append(inner_state)
        return updates, tuple(new_state)

    return GradientTransformation(init, update)


def apply_updates(params: Params, updates: Updates) -> Params:
    """Add the updates to the parameters, keeping each parameter's dtype.

    .. math:: \\theta \\leftarrow \\theta + u

    **Arguments:**

    - ``params``: a pytree of arrays.
    - ``updates``: a pytree of the same structure (the output of ``update``); ``None``
      leaves in ``params`` are kept as ``None``.

    **Returns:** the new parameters, each leaf cast back to its old dtype.

    >>> import jax.numpy as jnp
    >>> apply_updates({"w": jnp.ones(2)}, {"w": jnp.array([0.5, -0.5])})["w"]
    Array([1.5, 0.5], dtype=float32)
    """
    return jax.tree.map(
        lambda p, u: None if p is None else jnp.asarray(p + u).astype(jnp.asarray(p).dtype),
        params,
        updates,
        is_leaf=lambda x: x is None,
    )


def accepts_var_keywords(function: Callable[..., Any]) -> bool:
    """True when ``function`` takes ``**kwargs`` (optax's extra-argument protocol)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)

"""Random draws that XLA:CPU compiles faster, from the same random bits.

``uniform``, ``normal``, ``truncated_normal`` and ``bernoulli`` are ``jax.random`` draws
made over a flat shape and then reshaped.

XLA:CPU compiles the threefry generator slowly for some shapes: a ``uniform`` of shape
``(256, 10)`` took 1.3–2.0 s to compile against 0.3 s for the same 2,560 numbers drawn
flat (jaxlib 0.10.1, 2-core x86-64), and a network's initialisation and dropout masks
draw many such shapes. The numbers are the same bit for bit: the generator counts
elements in row-major order whatever the shape, so a flat draw reshaped equals the
shaped draw (``tests/test_rng.py`` checks it). Only the compile time changes.

:func:`merge_draws` goes further for a whole function, such as a network's
initialisation: every threefry draw and key split that can run at the same time becomes
part of one generator call. XLA:CPU compiles each call of the generator as a loop of its
own, so a network of ``n`` layers compiled about ``2n`` such loops where it now compiles
one per level of its key tree (two merged calls and one split for a ``Sequential`` of
``Dense`` layers). The MNIST MLP's initialisation compiled in 0.43 against 0.67 s, a
LeNet's in 0.48 against 0.79 s, and a sweep's four vmapped initialisations of a residual
MLP of 18 layers in 2.1 against 3.4 s (``bench/bench_init.py``, medians of 7, 2-core
x86-64, jaxlib 0.10.1).
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.extend.core import Literal
from jax.extend.random import threefry2x32_p
from jax.typing import ArrayLike, DTypeLike


def uniform(
    key: jax.Array, shape: Sequence[int], dtype: DTypeLike, minval: ArrayLike, maxval: ArrayLike
) -> jax.Array:
    """``jax.random.uniform(key, shape, dtype, minval, maxval)``."""
    return jax.random.uniform(key, _flat(shape), dtype, minval, maxval).reshape(shape)


def normal(key: jax.Array, shape: Sequence[int], dtype: DTypeLike) -> jax.Array:
    """``jax.random.normal(key, shape, dtype)``."""
    return jax.random.normal(key, _flat(shape), dtype).reshape(shape)


def truncated_normal(
    key: jax.Array, lower: ArrayLike, upper: ArrayLike, shape: Sequence[int], dtype: DTypeLike
) -> jax.Array:
    """``jax.random.truncated_normal(key, lower, upper, shape, dtype)``."""
    return jax.random.truncated_normal(key, lower, upper, _flat(shape), dtype).reshape(shape)


def bernoulli(key: jax.Array, p: ArrayLike, shape: Sequence[int]) -> jax.Array:
    """``jax.random.bernoulli(key, p, shape)``."""
    return jax.random.bernoulli(key, p, _flat(shape)).reshape(shape)


def _flat(shape: Sequence[Any]) -> tuple[int]:
    return (math.prod(shape),)


def merge_draws(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` computed with its threefry draws merged level by level: the same random
    bits from fewer calls of the generator.

    ``fn`` (whose arguments are arrays or pytrees of arrays, such as a key) is traced to a
    jaxpr and evaluated again equation by equation, with the calls of ``jax.jit``
    functions inside it (``jax.random.normal`` is one) inlined. Each ``random_bits``
    (every ``jax.random`` draw makes one) and ``random_split`` equation gets a depth: one
    more than the deepest draw or split its key comes from. All those of one depth are
    computed by one threefry call over their counters laid end to end, each element
    with its own key; the threefry hash is elementwise, so each part equals the separate
    call's output. A network's initialisation splits its key, each layer splits its own
    key and draws its weights: three levels, whatever the number of layers. The
    operations that turn the bits into numbers are those of the separate draws, and
    the uniform and normal draws of the initialisers come out equal bit for bit; a
    transcendental one (``erf_inv`` in a truncated normal) may round differently in the
    last place when XLA fuses the merged program differently.

    What is left as it was: draws inside control flow (``lax.scan``, ``lax.cond``) or a
    custom derivative, keys of another generator (``rbg``), and the older,
    non-partitionable threefry (``jax_threefry_partitionable`` off), whose counters are
    laid out differently. A function with side effects (``jax.debug.print``, callbacks)
    runs unchanged, since the new order would reorder them. It is meant to be traced
    (under ``jax.jit``): called eagerly it runs operation by operation, where a
    ``jax.random`` function would run as one compiled call, and floating-point results
    can then differ in the last place, as between any eager and jitted computation.

    Example:
        >>> import jax
        >>> def draws(key):
        ...     a, b = jax.random.split(key)
        ...     return jax.random.normal(a, (3, 2)), jax.random.uniform(b, (5,))
        >>> key = jax.random.key(0)
        >>> merged = jax.jit(merge_draws(draws))(key)
        >>> all(bool((m == d).all()) for m, d in zip(merged, jax.jit(draws)(key)))
        True
    """

    @functools.wraps(fn)
    def merged(*args: Any) -> Any:
        closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*args)
        if closed.effects:
            return fn(*args)
        nodes: list[_Node] = []
        leaves = [_Ref(None, 0, leaf) for leaf in jax.tree_util.tree_leaves(args)]
        outputs = _flatten(closed.jaxpr, closed.consts, leaves, nodes)
        return jax.tree_util.tree_unflatten(
            jax.tree_util.tree_structure(out_shape), _evaluate(nodes, outputs)
        )

    return merged


_DRAWS = frozenset({"random_bits", "random_split"})
_INLINED = frozenset({"jit", "pjit"})


class _Node:
    """One equation of the flattened program: its inputs, its depth in draws, and its
    outputs once evaluated."""

    __slots__ = ("depth", "eqn", "inputs", "outputs")

    def __init__(self, eqn: Any, inputs: list[_Ref], depth: int) -> None:
        self.eqn, self.inputs, self.depth = eqn, inputs, depth
        self.outputs: list[Any] = []


class _Ref(NamedTuple):
    """Output ``index`` of ``node``, or (``node`` None) a constant, argument or literal."""

    node: _Node | None
    index: int
    value: Any


def _flatten(jaxpr: Any, consts: Sequence[Any], args: Sequence[_Ref], nodes: list[_Node]):
    """Append ``jaxpr``'s equations to ``nodes`` in order, calls of jitted functions
    inlined; return references to its outputs."""
    env = {var: _Ref(None, 0, const) for var, const in zip(jaxpr.constvars, consts)}
    env.update(zip(jaxpr.invars, args))

    def read(var: Any) -> _Ref:
        return _Ref(None, 0, var.val) if isinstance(var, Literal) else env[var]

    for eqn in jaxpr.eqns:
        inputs = [read(var) for var in eqn.invars]
        if eqn.primitive.name in _INLINED:
            inner = eqn.params["jaxpr"]
            outputs = _flatten(inner.jaxpr, inner.consts, inputs, nodes)
        else:
            depth = max((ref.node.depth for ref in inputs if ref.node is not None), default=0)
            node = _Node(eqn, inputs, depth + (eqn.primitive.name in _DRAWS))
            nodes.append(node)
            outputs = [_Ref(node, index, None) for index in range(len(eqn.outvars))]
        env.update(zip(eqn.outvars, outputs))
    return [read(var) for var in jaxpr.outvars]


def _evaluate(nodes: list[_Node], outputs: list[_Ref]) -> list[Any]:
    """Bind the equations the outputs need, depth by depth: first the merged draws of a
    depth (their keys are all shallower), then its other equations in program order."""
    needed: set[_Node] = set()
    stack = [ref.node for ref in outputs if ref.node is not None]
    while stack:
        node = stack.pop()
        if node not in needed:
            needed.add(node)
            stack.extend(ref.node for ref in node.inputs if ref.node is not None)
    levels: dict[int, list[_Node]] = collections.defaultdict(list)
    for node in nodes:
        if node in needed:
            levels[node.depth].append(node)
    for depth in sorted(levels):
        _draw([node for node in levels[depth] if node.eqn.primitive.name in _DRAWS])
        for node in levels[depth]:
            if node.eqn.primitive.name not in _DRAWS:
                _bind(node)
    return [_value(ref) for ref in outputs]


def _value(ref: _Ref) -> Any:
    return ref.value if ref.node is None else ref.node.outputs[ref.index]


def _bind(node: _Node) -> None:
    """Evaluate one equation as ``jax.core.eval_jaxpr`` does."""
    eqn = node.eqn
    params = eqn.primitive.get_bind_params(eqn.params)
    with eqn.ctx.manager:
        out = eqn.primitive.bind(*map(_value, node.inputs), **params)
    node.outputs = list(out) if eqn.primitive.multiple_results else [out]


def _mergeable(node: _Node) -> bool:
    key = _value(node.inputs[0])
    count = math.prod(node.eqn.params["shape"])
    return (
        jax.config.jax_threefry_partitionable
        and jax.random.key_impl(key) == "threefry2x32"
        and 0 < count < 2**32
        and key.size > 0
    )


def _draw(nodes: list[_Node]) -> None:
    """The draws and splits of one depth: those of partitionable threefry keys as one
    threefry call, the others as they were."""
    merged = [node for node in nodes if _mergeable(node)]
    if len(merged) < 2:
        merged = []
    for node in nodes:
        if node not in merged:
            _bind(node)
    if not merged:
        return
    # Element i of a draw of n numbers from key k is threefry(k, (0, i)): the counter
    # is the element's row-major index as a 64-bit number split into two 32-bit words.
    keys1, keys2, counters = [], [], []
    for node in merged:
        key = _value(node.inputs[0])
        data = jax.random.key_data(key)
        grid = (*key.shape, math.prod(node.eqn.params["shape"]))
        keys1.append(jnp.broadcast_to(data[..., :1], grid).ravel())
        keys2.append(jnp.broadcast_to(data[..., 1:], grid).ravel())
        counters.append(jnp.broadcast_to(lax.iota(jnp.uint32, grid[-1]), grid).ravel())
    low = jnp.concatenate(counters)
    bits1, bits2 = threefry2x32_p.bind(
        jnp.concatenate(keys1), jnp.concatenate(keys2), jnp.zeros_like(low), low
    )
    start = 0
    for node, part in zip(merged, counters):
        stop = start + part.shape[0]
        key = _value(node.inputs[0])
        node.outputs = [_finish(node, key, bits1[start:stop], bits2[start:stop])]
        start = stop


def _finish(node: _Node, key: jax.Array, bits1: jax.Array, bits2: jax.Array) -> jax.Array:
    """A draw's or split's output from its two words of threefry output, as
    ``jax.random`` forms it."""
    shape = (*key.shape, *node.eqn.params["shape"])
    if node.eqn.primitive.name == "random_split":
        data = jnp.stack([bits1, bits2], axis=-1).reshape(*shape, 2)
        return jax.random.wrap_key_data(data, impl="threefry2x32")
    width = node.eqn.params["bit_width"]
    if width == 64:
        high = lax.convert_element_type(bits1, jnp.uint64)
        low = lax.convert_element_type(bits2, jnp.uint64)
        return (lax.shift_left(high, jnp.uint64(32)) | low).reshape(shape)
    bits = bits1 ^ bits2
    if width != 32:
        bits = lax.convert_element_type(bits, jnp.dtype(f"uint{width}"))
    return bits.reshape(shape)

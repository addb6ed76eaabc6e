"""Partial training: transform some parameters, freeze others, optimize groups apart.

optax's ``masked``, ``set_to_zero``, ``multi_transform``, ``freeze`` and
``selective_transform``, with their arguments and semantics. A mask or a label tree may
be a *prefix* of the parameter tree: ``{"encoder": False, "head": True}`` covers every
leaf below ``params["encoder"]`` and ``params["head"]``.

What is computed. ``jax.grad`` still differentiates every parameter, frozen or not; the
frozen leaves' updates are then ``zeros_like(grad)``, which does not read the gradient.
Inside one jitted step (``fit``'s, or any step that computes the gradients, the updates
and the new params together) XLA removes every computation whose result is unused: the
weight gradients of frozen layers, and the backward pass below the lowest trained layer.
So a frozen lower half costs what its forward pass costs (measured in
``bench/bench_freeze.py``). Called op by op, outside ``jit``, everything is computed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl.optim._base import (
    GradientTransformation,
    OptState,
    Params,
    Updates,
    accepts_var_keywords,
    init_empty_state,
    memoized,
)
from jaxdl.optim._validation import check_transform

__all__ = [
    "MaskedNode",
    "MaskedState",
    "MultiTransformState",
    "freeze",
    "masked",
    "multi_transform",
    "selective_transform",
    "set_to_zero",
]


class MaskedNode(NamedTuple):
    """Stands in for a masked-out leaf or subtree: a pytree node with no children, so
    ``jax.tree.map`` skips it (optax: ``optax.MaskedNode``)."""


class MaskedState(NamedTuple):
    """The inner transformation's state, built on the unmasked leaves only."""

    inner_state: OptState


class MultiTransformState(NamedTuple):
    """One :class:`MaskedState` per label (optax: ``optax.MultiTransformState``)."""

    inner_states: dict[Hashable, MaskedState]


@memoized
def set_to_zero() -> GradientTransformation:
    """Map every update to zero: the parameters stay as they are. Stateless.

    .. math:: u \\leftarrow 0

    **Returns:** a :class:`GradientTransformation` (optax: ``optax.set_to_zero``). Use it
    inside :func:`masked` or :func:`multi_transform` to freeze part of the parameters.

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> updates, _ = set_to_zero().update({"w": jnp.ones(2)}, optim.EmptyState())
    >>> updates["w"]
    Array([0., 0.], dtype=float32)
    """

    def update(
        updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, OptState]:
        del params
        return jax.tree.map(jnp.zeros_like, updates), state

    return GradientTransformation(init_empty_state, update)


@memoized
def masked(inner: GradientTransformation, mask: Any) -> GradientTransformation:
    """Apply ``inner`` to the leaves where ``mask`` is True; pass the others through.

    .. math:: u_\\ell \\leftarrow \\begin{cases} T(u)_\\ell & m_\\ell \\\\ u_\\ell &
              \\text{otherwise} \\end{cases}

    Unmasked updates are passed on *unchanged*, not zeroed: ``masked(adam, mask)`` alone
    would apply raw gradients to the unmasked leaves. To freeze, use :func:`freeze`,
    :func:`selective_transform` or :func:`multi_transform` with :func:`set_to_zero`.

    **Arguments:**

    - ``inner``: the transformation for the masked leaves (jaxdl or optax).
    - ``mask``: a pytree of Python bools with the structure of the params or a prefix of
      it, or a function ``params -> such a tree``. It must be static (no arrays).

    **Returns:** a :class:`GradientTransformation` with state :class:`MaskedState`;
    ``inner``'s state exists for the masked leaves only, :class:`MaskedNode` elsewhere
    (optax: ``optax.masked``; float32 trajectories equal optax's bit for bit).

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> decay = masked(optim.add_decayed_weights(0.1), {"w": True, "b": False})
    >>> params = {"w": jnp.ones(2), "b": jnp.ones(2)}
    >>> updates, _ = decay.update(params, decay.init(params), params)
    >>> updates["w"], updates["b"]
    (Array([1.1, 1.1], dtype=float32), Array([1., 1.], dtype=float32))
    """
    check_transform("masked", "inner", inner)
    mask = _copy_static(mask)
    extra = accepts_var_keywords(inner.update)

    def init(params: Params) -> MaskedState:
        tree = _resolve("masked", "mask", mask, params, _check_bool)
        return MaskedState(inner.init(_mask_tree(tree, params)))

    def update(
        updates: Updates, state: MaskedState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, MaskedState]:
        tree = _resolve("masked", "mask", mask, updates, _check_bool)
        inner_params = None if params is None else _mask_tree(tree, params)
        new, inner_state = inner.update(
            _mask_tree(tree, updates),
            state.inner_state,
            inner_params,
            **(extra_args if extra else {}),
        )
        merged = jax.tree.map(lambda m, n, old: n if m else old, tree, new, updates)
        return merged, MaskedState(inner_state)

    return GradientTransformation(init, update)


@memoized
def multi_transform(
    transforms: Mapping[Hashable, GradientTransformation], param_labels: Any
) -> GradientTransformation:
    """Give each group of parameters its own transformation, chosen by a label.

    .. math:: u_\\ell \\leftarrow T_{\\mathrm{label}(\\ell)}(u)_\\ell

    **Arguments:**

    - ``transforms``: a dict from labels to transformations (jaxdl or optax).
    - ``param_labels``: a pytree of labels with the structure of the params or a prefix
      of it, or a function ``params -> such a tree``. Every label must be a key of
      ``transforms``; keys no leaf carries are allowed and do nothing.

    **Returns:** a :class:`GradientTransformation` with state
    :class:`MultiTransformState`: each transformation keeps state for its own leaves only
    (optax: ``optax.multi_transform``, also called ``optax.partition``; float32
    trajectories equal optax's bit for bit).

    Example: freeze an encoder, train the head with SGD.

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> opt = multi_transform({"train": optim.sgd(0.1), "frozen": set_to_zero()},
    ...                       {"encoder": "frozen", "head": "train"})
    >>> params = {"encoder": {"w": jnp.ones(2)}, "head": {"w": jnp.ones(2)}}
    >>> updates, _ = opt.update(params, opt.init(params), params)
    >>> updates["encoder"]["w"], updates["head"]["w"]
    (Array([0., 0.], dtype=float32), Array([-0.1, -0.1], dtype=float32))
    """
    if not isinstance(transforms, Mapping) or not transforms:
        raise TypeError(
            "multi_transform: transforms must be a non-empty dict from labels to "
            f"transformations, got {transforms!r}."
        )
    for label, transform in transforms.items():
        check_transform("multi_transform", f"transforms[{label!r}]", transform)
    transforms = dict(transforms)
    param_labels = _copy_static(param_labels)

    def check_label(label: Any) -> None:
        if label not in transforms:
            raise ValueError(
                f"multi_transform: the label {label!r} has no transformation; the labels "
                f"with one are {sorted(map(repr, transforms))}."
            )

    def groups(tree: Params) -> dict[Hashable, GradientTransformation]:
        labels = _resolve("multi_transform", "param_labels", param_labels, tree, check_label)
        return {
            label: masked(transform, jax.tree.map(lambda x, label=label: x == label, labels))
            for label, transform in transforms.items()
        }

    def init(params: Params) -> MultiTransformState:
        return MultiTransformState({k: g.init(params) for k, g in groups(params).items()})

    def update(
        updates: Updates,
        state: MultiTransformState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, MultiTransformState]:
        new_states = {}
        for label, group in groups(updates).items():
            updates, new_states[label] = group.update(
                updates, state.inner_states[label], params, **extra_args
            )
        return updates, MultiTransformState(new_states)

    return GradientTransformation(init, update)


@memoized
def freeze(mask: Any) -> GradientTransformation:
    """Zero the updates where ``mask`` is True; leave the others as they are.

    ``masked(set_to_zero(), mask)``. Chain it before an optimizer (``chain(freeze(m),
    adam(1e-3))``) and the frozen leaves stay fixed, though the optimizer still keeps
    state for them; :func:`selective_transform` keeps none.

    **Arguments:**

    - ``mask``: a bool, or a pytree of bools with the structure of the params or a
      prefix of it; True freezes.

    **Returns:** a :class:`GradientTransformation` (optax: ``optax.freeze``).

    >>> import jax.numpy as jnp
    >>> frozen = freeze({"a": True, "b": False})
    >>> grads = {"a": jnp.ones(1), "b": jnp.ones(1)}
    >>> updates, _ = frozen.update(grads, frozen.init(grads))
    >>> updates["a"], updates["b"]
    (Array([0.], dtype=float32), Array([1.], dtype=float32))
    """
    return masked(set_to_zero(), mask)


@memoized
def selective_transform(
    optimizer: GradientTransformation, *, freeze_mask: Any
) -> GradientTransformation:
    """Optimize the leaves where ``freeze_mask`` is False; keep the others fixed.

    ``multi_transform({"train": optimizer, "freeze": set_to_zero()}, labels)``: frozen
    leaves get zero updates and no optimizer state (a :class:`MaskedNode`).

    **Arguments:**

    - ``optimizer``: the transformation of the trained leaves.
    - ``freeze_mask``: a bool, or a pytree of bools with the structure of the params or a
      prefix of it; True freezes.

    **Returns:** a :class:`GradientTransformation` (optax: ``optax.selective_transform``).

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> opt = selective_transform(optim.sgd(0.5), freeze_mask={"lower": True, "top": False})
    >>> params = {"lower": jnp.ones(1), "top": jnp.ones(1)}
    >>> updates, _ = opt.update(params, opt.init(params), params)
    >>> updates["lower"], updates["top"]
    (Array([0.], dtype=float32), Array([-0.5], dtype=float32))
    """
    freeze_mask = _copy_static(freeze_mask)
    jax.tree.map(_check_bool, freeze_mask)
    labels = jax.tree.map(lambda frozen: "freeze" if frozen else "train", freeze_mask)
    return multi_transform({"train": optimizer, "freeze": set_to_zero()}, labels)


# --- helpers ------------------------------------------------------------------------------


def _mask_tree(mask: Any, tree: Any) -> Any:
    """``tree`` with every subtree under a False mask leaf replaced by a MaskedNode."""
    return jax.tree.map(lambda m, subtree: subtree if m else MaskedNode(), mask, tree)


def _resolve(owner: str, name: str, spec: Any, tree: Any, check: Callable[[Any], None]) -> Any:
    """The mask or label tree for ``tree`` (calling ``spec`` if it is a function), its
    leaves checked and its structure a prefix of ``tree``'s, or a ValueError saying so."""
    resolved = spec(tree) if _is_function(spec) else spec
    jax.tree.map(check, resolved)
    try:
        jax.tree.map(lambda _, __: None, resolved, tree)
    except ValueError as error:
        raise ValueError(
            f"{owner}: {name} must have the structure of the params or a prefix of it; "
            f"{name} is {jax.tree.structure(resolved)}, the params are "
            f"{jax.tree.structure(tree)}."
        ) from error
    return resolved


def _is_function(spec: Any) -> bool:
    leaves = jax.tree.leaves(jax.tree.map(callable, spec))
    return bool(leaves) and all(leaves)


def _copy_static(tree: Any) -> Any:
    """A copy of a mask or label tree (so later edits of the caller's dict do not leak in)."""
    return tree if _is_function(tree) else jax.tree.map(lambda leaf: leaf, tree)


def _check_bool(value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"mask leaves must be Python bools (True: selected), got {value!r} of type "
            f"{type(value).__name__}; a mask must be static, so not an array."
        )

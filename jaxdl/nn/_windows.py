"""Window arguments shared by convolution and pooling: sizes, strides, dilations, padding.

Layers store these arguments in a canonical, hashable form, so that layers meaning the same
thing compare equal: a size, stride or dilation is an ``int`` when it is the same along every
spatial axis and a tuple otherwise (``3``, ``(3, 3)`` and ``[3, 3]`` are all stored as ``3``);
a padding is ``"SAME"``, ``"VALID"``, an ``int`` (the same on both sides of every axis) or a
tuple of ``(low, high)`` pairs, one per spatial axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jaxdl._checks import ArgumentTypeError, is_int
from jaxdl.nn._base import Layer

# "SAME" | "VALID" | int | one int or (low, high) pair per spatial axis.
Padding = str | int | Sequence[int | Sequence[int]]

# The names of the spatial axes of an input, for error messages: (batch, *names, channels).
SPATIAL_NAMES = {1: ("length",), 2: ("height", "width")}


def canonical_ints(owner: str, name: str, value: Any, spatial_dims: int) -> int | tuple[int, ...]:
    """``value`` (a positive int, or one per spatial axis) as an int if all are equal, else a
    tuple; an :class:`~jaxdl._checks.ArgumentTypeError` (a ``TypeError`` and a
    ``ValueError``) naming ``owner`` and ``name`` for a non-integer (a bool, a float), a
    ``ValueError`` for a value below 1 or a sequence of the wrong length."""
    values = _per_axis(value, spatial_dims)
    wrong_type = values is None and (isinstance(value, str) or not isinstance(value, Sequence))
    if values is not None and not all(is_int(v) for v in values):
        wrong_type = True
    if wrong_type or values is None or not all(v >= 1 for v in values):
        error = ArgumentTypeError if wrong_type else ValueError
        raise error(
            f"{owner}: {name} must be a positive int or a sequence of {spatial_dims} positive "
            f"ints, got {value!r}."
        )
    return _collapse(tuple(int(v) for v in values))


def canonical_padding(owner: str, padding: Any, spatial_dims: int) -> str | int | tuple:
    """``padding`` in canonical form (see the module docstring), or a ``ValueError``."""
    if isinstance(padding, str):
        if padding.upper() in ("SAME", "VALID"):
            return padding.upper()
    else:
        entries = _per_axis(padding, spatial_dims)
        pairs = [_pad_pair(e) for e in entries] if entries is not None else [None]
        if all(pair is not None for pair in pairs):
            if len(set(pairs)) == 1 and pairs[0][0] == pairs[0][1]:
                return pairs[0][0]
            return tuple(pairs)
    error = ArgumentTypeError if isinstance(padding, (bool, float)) else ValueError
    raise error(
        f"{owner}: padding must be 'SAME', 'VALID', a non-negative int, or a sequence of "
        f"{spatial_dims} non-negative ints or (low, high) pairs (one per spatial axis), got "
        f"{padding!r}."
    )


def expand(value: int | tuple[int, ...], spatial_dims: int) -> tuple[int, ...]:
    """A canonical size/stride/dilation as one int per spatial axis."""
    return (value,) * spatial_dims if is_int(value) else value


def resolve_padding(
    padding: str | int | tuple,
    in_sizes: Sequence[int],
    window: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
) -> tuple[tuple[int, int], ...]:
    r"""``(low, high)`` zero-padding per spatial axis.

    ``"VALID"`` pads nothing. ``"SAME"`` pads so that the output size is
    :math:`\lceil n / s \rceil`, splitting the total padding evenly and putting the odd
    element after the input (TensorFlow's and Keras' convention); the window's extent is its
    dilated size :math:`d (k - 1) + 1`.
    """
    extents = [d * (k - 1) + 1 for k, d in zip(window, dilation)]
    if padding == "VALID":
        return tuple((0, 0) for _ in in_sizes)
    if padding == "SAME":
        pads = []
        for n, e, s in zip(in_sizes, extents, strides):
            total = max((-(-n // s) - 1) * s + e - n, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    if is_int(padding):
        return tuple((padding, padding) for _ in in_sizes)
    return padding


def output_sizes(
    layer: Layer,
    shape: Sequence[int],
    window: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
    pads: Sequence[tuple[int, int]],
) -> tuple[int, ...]:
    r"""Spatial output sizes :math:`\lfloor (n + p_{lo} + p_{hi} - d(k-1) - 1) / s \rfloor + 1`
    for an input of ``shape`` ``(batch, *spatial, channels)``; a ``ValueError`` naming the
    layer when the padded input is smaller than the window along some axis."""
    spatial = tuple(shape[1:-1])
    sizes = tuple(
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, k, s, d, (lo, hi) in zip(spatial, window, strides, dilation, pads)
    )
    if min(sizes, default=1) < 1:
        extents = tuple(d * (k - 1) + 1 for k, d in zip(window, dilation))
        raise ValueError(
            f"{layer!r}: input of shape {tuple(shape)} is too small: its spatial size "
            f"{spatial} with padding {tuple(pads)} is smaller than the window extent "
            f"{extents}."
        )
    return sizes


def _per_axis(value: Any, spatial_dims: int) -> tuple | None:
    if is_int(value):
        return (value,) * spatial_dims
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == spatial_dims:
        return tuple(value)
    return None


def _pad_pair(entry: Any) -> tuple[int, int] | None:
    if is_int(entry):
        entry = (entry, entry)
    if isinstance(entry, Sequence) and len(entry) == 2 and all(is_int(v) and v >= 0 for v in entry):
        return (int(entry[0]), int(entry[1]))
    return None


def _collapse(values: tuple[int, ...]) -> int | tuple[int, ...]:
    return values[0] if len(set(values)) == 1 else values

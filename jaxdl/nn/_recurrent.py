r"""Recurrent layers (docs/concepts.md §10): ``SimpleRNN``, ``LSTM`` and ``GRU``.

All three read sequences shaped ``(batch, time, features)`` and share one driver,
``jax.lax.scan`` over time. Each step makes both projections in one matrix product,
:math:`[x_t, h_{t-1}] \, [W_{ih}; W_{hh}]` (GRU, whose reset gate scales the recurrent
term alone, in two), then the element-wise gate arithmetic. The hidden state (and the
LSTM's memory cell) starts at zero.

The layout follows PyTorch (``torch.nn.RNN``/``LSTM``/``GRU``) with the matrices
transposed to jaxdl's ``x @ w`` convention: the gate blocks are stacked along the last
axis in PyTorch's order, so torch's ``weight_ih_l0`` is ``w_ih.T`` and ``weight_hh_l0`` is
``w_hh.T``. SimpleRNN and LSTM fold torch's two biases into one,
``b = bias_ih_l0 + bias_hh_l0``; GRU keeps both, because its candidate gate multiplies the
recurrent bias by the reset gate.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jax.typing import DTypeLike

from jaxdl import activations, initializers
from jaxdl._checks import check_int
from jaxdl.nn._base import (
    Layer,
    Params,
    State,
    check_floating,
    check_input,
    check_variable_names,
    check_variable_shapes,
    param_dtype,
)

__all__ = ["GRU", "LSTM", "SimpleRNN"]

Carry = tuple[jax.Array, ...]


@jax.custom_jvp
def _stacked_projection(
    x_t: jax.Array, h: jax.Array, stacked: jax.Array, bias: jax.Array
) -> jax.Array:
    r"""``[x_t, h] @ stacked + bias``: both projections of one step in one product.

    Its derivative is written out term by term, so that a term whose tangent is zero is
    left out: autodiff of the product itself would compute the gradient of the whole
    concatenation, :math:`\bar z \, [W_{ih}; W_{hh}]^\top`, and so also the input's
    gradient when the input is data and nothing needs it.
    """
    return jnp.concatenate([x_t, h], axis=-1) @ stacked + bias


def _stacked_projection_jvp(
    primals: tuple[jax.Array, ...], tangents: tuple[Any, ...]
) -> tuple[jax.Array, jax.Array]:
    x_t, h, stacked, bias = primals
    x_tangent, h_tangent, stacked_tangent, bias_tangent = tangents
    both = jnp.concatenate([x_t, h], axis=-1)
    out = both @ stacked + bias
    split = x_t.shape[-1]
    terms = []
    if not isinstance(x_tangent, SymbolicZero):
        terms.append(x_tangent @ stacked[:split])
    if not isinstance(h_tangent, SymbolicZero):
        terms.append(h_tangent @ stacked[split:])
    if not isinstance(stacked_tangent, SymbolicZero):
        terms.append(both @ stacked_tangent)
    if not isinstance(bias_tangent, SymbolicZero):
        terms.append(jnp.broadcast_to(bias_tangent, out.shape))
    tangent = sum(terms[1:], terms[0]) if terms else jnp.zeros_like(out)
    return out, tangent.astype(out.dtype)


_stacked_projection.defjvp(_stacked_projection_jvp, symbolic_zeros=True)


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share: params, input checks and the scan over time.

    A subclass is a frozen dataclass with the fields ``hidden_size``, ``return_sequences``,
    ``kernel_init``, ``recurrent_init``, ``bias_init`` and ``dtype``; it sets ``_blocks`` (the
    number of ``hidden_size``-wide gate blocks stacked in ``w_ih``/``w_hh``) and implements
    :meth:`_cell`, one time step of element-wise arithmetic on the two projections.
    """

    _blocks: ClassVar[int]
    # GRU keeps torch's two biases ("b_ih" added to x W_ih, "b_hh" to h W_hh); the others
    # need only their sum, "b", added to the stacked projection.
    _separate_biases: ClassVar[bool] = False
    # The scan carry: (h,) for SimpleRNN and GRU, (h, c) for LSTM; h always comes first.
    _carry_size: ClassVar[int] = 1

    def __post_init__(self) -> None:
        name = type(self).__name__
        size = check_int(name, "hidden_size", self.hidden_size, minimum=1)
        object.__setattr__(self, "hidden_size", size)
        if not isinstance(self.return_sequences, bool):
            raise ValueError(
                f"{name}: return_sequences must be a bool, got {self.return_sequences!r}."
            )

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        self._check(x)
        dtype = param_dtype(self, x)
        in_features, width = x.shape[-1], self._blocks * self.hidden_size
        w_key, r_key, *b_keys = jax.random.split(key, 2 + len(self._bias_names))
        params = {
            "w_ih": self._stacked(self.kernel_init, w_key, in_features, dtype),
            "w_hh": self._stacked(self.recurrent_init, r_key, self.hidden_size, dtype),
        }
        for name, b_key in zip(self._bias_names, b_keys):
            params[name] = self.bias_init(b_key, (width,), dtype)
        return params, {}

    def apply(self, params, state, x, *, key=None, train=False):
        del key, train
        expected = check_variable_names(self, params, state, x)
        w_ih, w_hh = jnp.asarray(params["w_ih"]), jnp.asarray(params["w_hh"])
        self._check(x, w_ih.shape[0])
        check_variable_shapes(self, params, state, x, expected)
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(w_ih.dtype)
        if self._separate_biases:
            input_bias, recurrent_bias = jnp.asarray(params["b_ih"]), jnp.asarray(params["b_hh"])
        else:
            input_bias, recurrent_bias = jnp.asarray(params["b"]), None
        dtype = jnp.result_type(x, w_ih, w_hh, input_bias)

        # Both projections are made inside the loop, step by step. Made for all steps
        # before the loop, x W_ih and its gradient are (time, batch, gates) arrays, and on
        # the CPU writing and reading them cost more than the products themselves.
        if self._separate_biases:

            def projections(h: jax.Array, x_t: jax.Array) -> tuple[jax.Array, ...]:
                from_input = x_t @ w_ih + input_bias
                return from_input.astype(dtype), (h @ w_hh + recurrent_bias).astype(dtype)
        else:
            stacked = jnp.concatenate([w_ih, w_hh], axis=0)

            def projections(h: jax.Array, x_t: jax.Array) -> tuple[jax.Array, ...]:
                return (_stacked_projection(x_t, h, stacked, input_bias).astype(dtype),)

        def step(carry: Carry, x_t: jax.Array) -> tuple[Carry, jax.Array | None]:
            carry = self._cell(carry, *projections(carry[0], x_t))
            return carry, carry[0] if self.return_sequences else None

        zeros = jnp.zeros((x.shape[0], self.hidden_size), dtype)
        xs = jnp.swapaxes(x, 0, 1).astype(dtype)  # time-major, for the scan
        carry, outputs = jax.lax.scan(step, (zeros,) * self._carry_size, xs)
        y = jnp.swapaxes(outputs, 0, 1) if self.return_sequences else carry[0]
        return y, state

    def _cell(self, carry: Carry, *projections: jax.Array) -> Carry:
        """One time step: the new carry from the step's projections, which are
        ``x_t W_ih + h_{t-1} W_hh + b`` or, with separate biases, the two terms
        ``x_t W_ih + b_ih`` and ``h_{t-1} W_hh + b_hh``."""
        raise NotImplementedError

    @property
    def _bias_names(self) -> tuple[str, ...]:
        return ("b_ih", "b_hh") if self._separate_biases else ("b",)

    def _stacked(self, init: Callable, key: jax.Array, rows: int, dtype: Any) -> jax.Array:
        # Each gate's (rows, hidden) block is drawn on its own, so an orthogonal
        # recurrent_init makes every gate's recurrent matrix orthogonal, and fan-based
        # initializers see the fans of one gate.
        keys = jax.random.split(key, self._blocks)
        blocks = [init(block_key, (rows, self.hidden_size), dtype) for block_key in keys]
        return jnp.concatenate(blocks, axis=1)

    def _check(self, x: Any, in_features: int | None = None) -> None:
        check_floating(self, x)
        check_input(self, x, ("batch", "time", "features" if in_features is None else in_features))


@dataclasses.dataclass(frozen=True, repr=False)
class SimpleRNN(_Recurrent):
    r"""Elman recurrent layer (``torch.nn.RNN``, Keras ``SimpleRNN``).

    .. math:: h_t = f(x_t W_{ih} + h_{t-1} W_{hh} + b), \qquad h_0 = 0

    Arguments:
        hidden_size: ``h``, the size of the hidden state.
        activation: ``f`` (default :func:`jaxdl.activations.tanh`; ``relu`` matches torch's
            ``nonlinearity="relu"``).
        return_sequences: return every :math:`h_t`, shape ``(batch, time, h)``, instead of
            the last one, shape ``(batch, h)`` (default False).
        kernel_init: initializer of ``w_ih`` (default Glorot uniform).
        recurrent_init: initializer of ``w_hh`` (default orthogonal).
        bias_init: initializer of ``b`` (default zeros).
        dtype: dtype of the params (default: the input's floating dtype).

    Params: ``{"w_ih": (in, h), "w_hh": (h, h), "b": (h,)}``; torch's ``weight_ih_l0`` is
    ``w_ih.T`` and ``b = bias_ih_l0 + bias_hh_l0``. Input ``(batch, time, in)``.

    Example:
        >>> import jax
        >>> layer = SimpleRNN(16, return_sequences=True)
        >>> x = jax.numpy.ones((8, 20, 3))
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> layer.apply(params, state, x)[0].shape
        (8, 20, 16)
    """

    hidden_size: int
    activation: Callable[[jax.Array], jax.Array] = activations.tanh
    return_sequences: bool = False
    kernel_init: Callable[..., jax.Array] = initializers.glorot_uniform()
    recurrent_init: Callable[..., jax.Array] = initializers.orthogonal()
    bias_init: Callable[..., jax.Array] = initializers.zeros
    dtype: DTypeLike | None = None

    _blocks: ClassVar[int] = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not callable(self.activation):
            raise ValueError(f"SimpleRNN: activation must be callable, got {self.activation!r}.")

    def _cell(self, carry: Carry, preactivation: jax.Array) -> Carry:
        return (self.activation(preactivation),)


@dataclasses.dataclass(frozen=True, repr=False)
class LSTM(_Recurrent):
    r"""Long short-term memory layer (Hochreiter and Schmidhuber, 1997), as ``torch.nn.LSTM``.

    .. math::
        i_t &= \sigma(x_t W_{ii} + h_{t-1} W_{hi} + b_i) \\
        f_t &= \sigma(x_t W_{if} + h_{t-1} W_{hf} + b_f) \\
        g_t &= \tanh(x_t W_{ig} + h_{t-1} W_{hg} + b_g) \\
        o_t &= \sigma(x_t W_{io} + h_{t-1} W_{ho} + b_o) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t &= o_t \odot \tanh(c_t), \qquad h_0 = c_0 = 0

    Arguments:
        hidden_size: ``h``, the size of the hidden state and of the memory cell.
        return_sequences: return every :math:`h_t`, shape ``(batch, time, h)``, instead of
            the last one, shape ``(batch, h)`` (default False).
        kernel_init: initializer of each gate's block of ``w_ih`` (default Glorot uniform).
        recurrent_init: initializer of each gate's block of ``w_hh`` (default orthogonal).
        bias_init: initializer of ``b`` (default zeros).
        forget_bias: added to the forget gate's bias at init (default 0, as PyTorch; 1.0 is
            Keras' ``unit_forget_bias=True``, which helps gradients flow early in training).
        dtype: dtype of the params (default: the input's floating dtype).

    Params: ``{"w_ih": (in, 4h), "w_hh": (h, 4h), "b": (4h,)}``, the gate blocks stacked
    ``i, f, g, o`` (PyTorch's order): :math:`W_{ii}` is ``w_ih[:, :h]``, :math:`W_{if}` is
    ``w_ih[:, h:2h]`` and so on. Torch's ``weight_ih_l0`` is ``w_ih.T``,
    ``weight_hh_l0`` is ``w_hh.T`` and ``b = bias_ih_l0 + bias_hh_l0``.

    Example:
        >>> import jax
        >>> layer = LSTM(32)
        >>> x = jax.numpy.ones((8, 20, 5))  # (batch, time, features)
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> [params[name].shape for name in ("w_ih", "w_hh", "b")]
        [(5, 128), (32, 128), (128,)]
        >>> layer.apply(params, state, x)[0].shape
        (8, 32)
    """

    hidden_size: int
    return_sequences: bool = False
    kernel_init: Callable[..., jax.Array] = initializers.glorot_uniform()
    recurrent_init: Callable[..., jax.Array] = initializers.orthogonal()
    bias_init: Callable[..., jax.Array] = initializers.zeros
    forget_bias: float = 0.0
    dtype: DTypeLike | None = None

    _blocks: ClassVar[int] = 4
    _carry_size: ClassVar[int] = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.forget_bias, numbers.Real) or isinstance(self.forget_bias, bool):
            raise ValueError(f"LSTM: forget_bias must be a number, got {self.forget_bias!r}.")

    def init(self, key: jax.Array, x: Any) -> tuple[Params, State]:
        params, state = super().init(key, x)
        h = self.hidden_size
        params["b"] = params["b"].at[h : 2 * h].add(self.forget_bias)
        return params, state

    def _cell(self, carry: Carry, preactivation: jax.Array) -> Carry:
        _, c = carry
        i, f, g, o = jnp.split(preactivation, 4, axis=-1)
        c = activations.sigmoid(f) * c + activations.sigmoid(i) * activations.tanh(g)
        h = activations.sigmoid(o) * activations.tanh(c)
        return h, c


@dataclasses.dataclass(frozen=True, repr=False)
class GRU(_Recurrent):
    r"""Gated recurrent unit layer (Cho et al., 2014), in ``torch.nn.GRU``'s formulation.

    .. math::
        r_t &= \sigma(x_t W_{ir} + b_{ir} + h_{t-1} W_{hr} + b_{hr}) \\
        z_t &= \sigma(x_t W_{iz} + b_{iz} + h_{t-1} W_{hz} + b_{hz}) \\
        n_t &= \tanh(x_t W_{in} + b_{in} + r_t \odot (h_{t-1} W_{hn} + b_{hn})) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}, \qquad h_0 = 0

    The reset gate multiplies the recurrent term *after* the matrix product, as in PyTorch
    and cuDNN (Keras' ``reset_after=True``); that is why :math:`b_{hn}` cannot be folded
    into :math:`b_{in}` and the layer keeps two biases.

    Arguments:
        hidden_size: ``h``, the size of the hidden state.
        return_sequences: return every :math:`h_t`, shape ``(batch, time, h)``, instead of
            the last one, shape ``(batch, h)`` (default False).
        kernel_init: initializer of each gate's block of ``w_ih`` (default Glorot uniform).
        recurrent_init: initializer of each gate's block of ``w_hh`` (default orthogonal).
        bias_init: initializer of ``b_ih`` and ``b_hh`` (default zeros).
        dtype: dtype of the params (default: the input's floating dtype).

    Params: ``{"w_ih": (in, 3h), "w_hh": (h, 3h), "b_ih": (3h,), "b_hh": (3h,)}``, the gate
    blocks stacked ``r, z, n`` (PyTorch's order). Torch's ``weight_ih_l0`` is ``w_ih.T``,
    ``weight_hh_l0`` is ``w_hh.T``, ``bias_ih_l0`` is ``b_ih`` and ``bias_hh_l0`` is ``b_hh``.

    Example:
        >>> import jax
        >>> layer = GRU(32)
        >>> x = jax.numpy.ones((8, 20, 5))
        >>> params, state = layer.init(jax.random.key(0), x)
        >>> [params[name].shape for name in ("w_ih", "w_hh", "b_ih", "b_hh")]
        [(5, 96), (32, 96), (96,), (96,)]
        >>> layer.apply(params, state, x)[0].shape
        (8, 32)
    """

    hidden_size: int
    return_sequences: bool = False
    kernel_init: Callable[..., jax.Array] = initializers.glorot_uniform()
    recurrent_init: Callable[..., jax.Array] = initializers.orthogonal()
    bias_init: Callable[..., jax.Array] = initializers.zeros
    dtype: DTypeLike | None = None

    _blocks: ClassVar[int] = 3
    _separate_biases: ClassVar[bool] = True

    def _cell(self, carry: Carry, from_input: jax.Array, from_hidden: jax.Array) -> Carry:
        (h,) = carry
        input_r, input_z, input_n = jnp.split(from_input, 3, axis=-1)
        hidden_r, hidden_z, hidden_n = jnp.split(from_hidden, 3, axis=-1)
        r = activations.sigmoid(input_r + hidden_r)
        z = activations.sigmoid(input_z + hidden_z)
        n = activations.tanh(input_n + r * hidden_n)
        return ((1 - z) * n + z * h,)

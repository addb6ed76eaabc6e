"""The per-optimizer statistics: momentum traces and gradient moments.

Each ``scale_by_*`` transformation rescales raw gradients by a running statistic and
keeps that statistic in a ``NamedTuple`` state. None of them applies the learning rate:
the optimizers in ``_aliases`` chain one of these with ``scale_by_learning_rate``.

Notation (docs/concepts.md §7): :math:`g` the incoming update (gradient), :math:`t` the step counter
after incrementing (1 on the first update), :math:`\\epsilon` the stability constant.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike, DTypeLike

from jaxdl.optim._base import GradientTransformation, Params, Updates, memoized
from jaxdl.optim._numerics import (
    bias_correction,
    cast_tree,
    full_like,
    safe_increment,
    update_moment,
    zero_count,
)
from jaxdl.optim._validation import check_hyperparameters

__all__ = [
    "ScaleByAdaDeltaState",
    "ScaleByAdamState",
    "ScaleByRStdDevState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "TraceState",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_stddev",
    "trace",
]


class TraceState(NamedTuple):
    """The momentum buffer: a pytree like the parameters."""

    trace: Updates


class ScaleByRssState(NamedTuple):
    """The running sum of squared gradients (Adagrad's accumulator)."""

    sum_of_squares: Updates


class ScaleByRmsState(NamedTuple):
    """The step counter and the moving average of squared gradients (RMSProp)."""

    count: jax.Array
    nu: Updates


class ScaleByRStdDevState(NamedTuple):
    """The step counter and the moving averages of gradients and squared gradients."""

    count: jax.Array
    mu: Updates
    nu: Updates


class ScaleByAdamState(NamedTuple):
    """The step counter and Adam's first (``mu``) and second (``nu``) moments."""

    count: jax.Array
    mu: Updates
    nu: Updates


class ScaleByAdaDeltaState(NamedTuple):
    """AdaDelta's moving averages of squared gradients and of squared steps."""

    e_g: Updates
    e_x: Updates


@memoized
def trace(
    decay: ArrayLike, nesterov: bool = False, accumulator_dtype: DTypeLike | None = None
) -> GradientTransformation:
    """Accumulate a momentum trace of past updates (heavy-ball or Nesterov momentum).

    .. math::

        v \\leftarrow g + \\mu v, \\qquad
        u = \\begin{cases} g + \\mu v & \\text{Nesterov} \\\\ v & \\text{otherwise}\\end{cases}

    **Arguments:**

    - ``decay``: the momentum :math:`\\mu \\ge 0`.
    - ``nesterov``: look ahead along the new trace (default ``False``).
    - ``accumulator_dtype``: dtype of the trace (default: the updates' dtype).

    **Returns:** a :class:`GradientTransformation` with a :class:`TraceState`
    (optax: ``optax.trace``).

    >>> import jax.numpy as jnp
    >>> opt = trace(0.5)
    >>> state = opt.init({"w": jnp.zeros(1)})
    >>> _, state = opt.update({"w": jnp.ones(1)}, state)
    >>> updates, state = opt.update({"w": jnp.ones(1)}, state)
    >>> updates["w"]
    Array([1.5], dtype=float32)
    """
    check_hyperparameters("trace", momentum=decay)

    def init(params: Params) -> TraceState:
        return TraceState(
            trace=jax.tree.map(lambda p: jnp.zeros_like(p, accumulator_dtype), params)
        )

    def update(
        updates: Updates, state: TraceState, params: Params | None = None
    ) -> tuple[Updates, TraceState]:
        del params
        new_trace = jax.tree.map(lambda g, t: g + decay * t, updates, state.trace)
        if nesterov:
            # g + mu * (g + mu * v): the algebraically equal (1 + mu) g + mu² v rounds apart.
            updates = jax.tree.map(lambda g, t: g + decay * t, updates, new_trace)
        else:
            updates = new_trace
        return updates, TraceState(trace=cast_tree(new_trace, accumulator_dtype))

    return GradientTransformation(init, update)


@memoized
def scale_by_rss(
    initial_accumulator_value: ArrayLike = 0.1, eps: ArrayLike = 1e-7
) -> GradientTransformation:
    """Divide by the root of the sum of all squared gradients so far (Adagrad).

    .. math::

        G \\leftarrow G + g^2, \\qquad u = \\frac{g}{\\sqrt{G + \\epsilon}}
        \\quad (u = 0 \\text{ where } G = 0)

    **Arguments:**

    - ``initial_accumulator_value``: :math:`G_0 \\ge 0` (default 0.1).
    - ``eps``: :math:`\\epsilon \\ge 0`, inside the square root (default 1e-7).

    **Returns:** a :class:`GradientTransformation` with a :class:`ScaleByRssState`
    (optax: ``optax.scale_by_rss``).

    >>> import jax.numpy as jnp
    >>> opt = scale_by_rss(initial_accumulator_value=0.0, eps=0.0)
    >>> updates, _ = opt.update({"w": jnp.array([-3.0])}, opt.init({"w": jnp.zeros(1)}))
    >>> updates["w"]
    Array([-1.], dtype=float32)
    """
    check_hyperparameters(
        "scale_by_rss", initial_accumulator_value=initial_accumulator_value, eps=eps
    )

    def init(params: Params) -> ScaleByRssState:
        return ScaleByRssState(sum_of_squares=full_like(params, initial_accumulator_value))

    def update(
        updates: Updates, state: ScaleByRssState, params: Params | None = None
    ) -> tuple[Updates, ScaleByRssState]:
        del params
        sum_of_squares = jax.tree.map(lambda g, t: g**2 + t, updates, state.sum_of_squares)
        inverse_root = jax.tree.map(
            lambda t: jnp.where(t > 0, jax.lax.rsqrt(t + eps), 0.0), sum_of_squares
        )
        updates = jax.tree.map(lambda s, g: s * g, inverse_root, updates)
        return updates, ScaleByRssState(sum_of_squares=sum_of_squares)

    return GradientTransformation(init, update)


@memoized
def scale_by_rms(
    decay: ArrayLike = 0.9,
    eps: ArrayLike = 1e-8,
    initial_scale: ArrayLike = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> GradientTransformation:
    """Divide by the root of a moving average of squared gradients (RMSProp).

    .. math::

        \\nu \\leftarrow (1-\\rho)\\, g^2 + \\rho\\, \\nu, \\qquad
        u = \\frac{g}{\\sqrt{\\hat\\nu + \\epsilon}}
        \\;\\text{ or }\\; \\frac{g}{\\sqrt{\\hat\\nu} + \\epsilon}

    with :math:`\\hat\\nu = \\nu / (1 - \\rho^t)` if ``bias_correction`` else :math:`\\nu`.

    **Arguments:**

    - ``decay``: :math:`\\rho \\in [0, 1)` (default 0.9).
    - ``eps``: :math:`\\epsilon \\ge 0` (default 1e-8).
    - ``initial_scale``: :math:`\\nu_0 \\ge 0` (default 0).
    - ``eps_in_sqrt``: put :math:`\\epsilon` inside the root (default ``True``).
    - ``bias_correction``: divide :math:`\\nu` by :math:`1 - \\rho^t` (default ``False``).

    **Returns:** a :class:`GradientTransformation` with a :class:`ScaleByRmsState`
    (optax: ``optax.scale_by_rms``).

    >>> import jax.numpy as jnp
    >>> opt = scale_by_rms(decay=0.75, eps=0.0)
    >>> updates, _ = opt.update({"w": jnp.array([2.0])}, opt.init({"w": jnp.zeros(1)}))
    >>> updates["w"]  # 2 / sqrt(0.25 * 4)
    Array([2.], dtype=float32)
    """
    check_hyperparameters("scale_by_rms", decay=decay, eps=eps, initial_scale=initial_scale)

    def init(params: Params) -> ScaleByRmsState:
        return ScaleByRmsState(count=zero_count(), nu=full_like(params, initial_scale))

    def update(
        updates: Updates, state: ScaleByRmsState, params: Params | None = None
    ) -> tuple[Updates, ScaleByRmsState]:
        del params
        nu = update_moment(updates, state.nu, decay, 2)
        count = safe_increment(state.count)
        nu_hat = _maybe_bias_correct(nu, decay, count, bias_correction)
        scaling = jax.tree.map(lambda n: _inverse_root(n, eps, eps_in_sqrt), nu_hat)
        updates = jax.tree.map(lambda s, g: s * g, scaling, updates)
        return updates, ScaleByRmsState(count=count, nu=nu)

    return GradientTransformation(init, update)


@memoized
def scale_by_stddev(
    decay: ArrayLike = 0.9,
    eps: ArrayLike = 1e-8,
    initial_scale: ArrayLike = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> GradientTransformation:
    """Divide by a moving estimate of the gradient's standard deviation (centered RMSProp).

    .. math::

        \\mu \\leftarrow (1-\\rho)\\, g + \\rho\\, \\mu, \\quad
        \\nu \\leftarrow (1-\\rho)\\, g^2 + \\rho\\, \\nu, \\quad
        u = \\frac{g}{\\sqrt{\\hat\\nu - \\hat\\mu^2 + \\epsilon}}

    (or :math:`g / (\\sqrt{\\hat\\nu - \\hat\\mu^2} + \\epsilon)` when ``eps_in_sqrt`` is
    ``False``), the hats meaning bias-corrected if ``bias_correction``.

    **Arguments:** as :func:`scale_by_rms`.

    **Returns:** a :class:`GradientTransformation` with a :class:`ScaleByRStdDevState`
    (optax: ``optax.scale_by_stddev``).

    >>> import jax.numpy as jnp
    >>> opt = scale_by_stddev(decay=0.75, eps=0.0)
    >>> updates, _ = opt.update({"w": jnp.array([2.0])}, opt.init({"w": jnp.zeros(1)}))
    >>> updates["w"]  # 2 / sqrt(0.25 * 4 - 0.5**2)
    Array([2.309401], dtype=float32)
    """
    check_hyperparameters("scale_by_stddev", decay=decay, eps=eps, initial_scale=initial_scale)

    def init(params: Params) -> ScaleByRStdDevState:
        return ScaleByRStdDevState(
            count=zero_count(),
            mu=jax.tree.map(jnp.zeros_like, params),
            nu=full_like(params, initial_scale),
        )

    def update(
        updates: Updates, state: ScaleByRStdDevState, params: Params | None = None
    ) -> tuple[Updates, ScaleByRStdDevState]:
        del params
        mu = update_moment(updates, state.mu, decay, 1)
        nu = update_moment(updates, state.nu, decay, 2)
        count = safe_increment(state.count)
        mu_hat = _maybe_bias_correct(mu, decay, count, bias_correction)
        nu_hat = _maybe_bias_correct(nu, decay, count, bias_correction)
        scaling = jax.tree.map(
            lambda m, n: _inverse_root(n - m**2, eps, eps_in_sqrt), mu_hat, nu_hat
        )
        updates = jax.tree.map(lambda s, g: s * g, scaling, updates)
        return updates, ScaleByRStdDevState(count=count, mu=mu, nu=nu)

    return GradientTransformation(init, update)


@memoized
def scale_by_adam(
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    eps_root: ArrayLike = 0.0,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    """Rescale by bias-corrected first and second moments (Adam; NAdam if ``nesterov``).

    .. math::

        m \\leftarrow (1-\\beta_1)\\, g + \\beta_1 m, \\qquad
        v \\leftarrow (1-\\beta_2)\\, g^2 + \\beta_2 v, \\qquad
        \\hat v = \\frac{v}{1-\\beta_2^t}

        \\hat m = \\frac{m}{1-\\beta_1^t} \\;\\text{ or, Nesterov: }\\;
        \\hat m = \\beta_1 \\frac{m}{1-\\beta_1^{t+1}} + (1-\\beta_1) \\frac{g}{1-\\beta_1^t},
        \\qquad u = \\frac{\\hat m}{\\sqrt{\\hat v + \\epsilon_{root}} + \\epsilon}

    **Arguments:**

    - ``b1``: :math:`\\beta_1 \\in [0, 1)` (default 0.9).
    - ``b2``: :math:`\\beta_2 \\in [0, 1)` (default 0.999).
    - ``eps``: :math:`\\epsilon \\ge 0`, outside the root (default 1e-8).
    - ``eps_root``: :math:`\\epsilon_{root} \\ge 0`, inside the root (default 0).
    - ``mu_dtype``: dtype of the first moment (default: the updates' dtype).
    - ``nesterov``: use Nesterov momentum, Dozat's NAdam (default ``False``).

    **Returns:** a :class:`GradientTransformation` with a :class:`ScaleByAdamState`
    (optax: ``optax.scale_by_adam``).

    >>> import jax.numpy as jnp
    >>> opt = scale_by_adam()
    >>> updates, _ = opt.update({"w": jnp.array([-3.0])}, opt.init({"w": jnp.zeros(1)}))
    >>> updates["w"]  # the first Adam step is g / |g|, up to float32 rounding of 1 - b2
    Array([-0.9999934], dtype=float32)
    """
    check_hyperparameters("scale_by_adam", b1=b1, b2=b2, eps=eps, eps_root=eps_root)

    def init(params: Params) -> ScaleByAdamState:
        return ScaleByAdamState(
            count=zero_count(),
            mu=jax.tree.map(lambda p: jnp.zeros_like(p, mu_dtype), params),
            nu=jax.tree.map(jnp.zeros_like, params),
        )

    def update(
        updates: Updates, state: ScaleByAdamState, params: Params | None = None
    ) -> tuple[Updates, ScaleByAdamState]:
        del params
        mu = update_moment(updates, state.mu, b1, 1)
        nu = update_moment(updates, state.nu, b2, 2)
        count = safe_increment(state.count)
        if nesterov:
            mu_hat = jax.tree.map(
                lambda m, g: b1 * m + (1 - b1) * g,
                bias_correction(mu, b1, safe_increment(count)),
                bias_correction(updates, b1, count),
            )
        else:
            mu_hat = bias_correction(mu, b1, count)
        nu_hat = bias_correction(nu, b2, count)
        updates = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        nu = jax.tree.map(lambda new, old: new.astype(old.dtype), nu, state.nu)
        return updates, ScaleByAdamState(count=count, mu=cast_tree(mu, mu_dtype), nu=nu)

    return GradientTransformation(init, update)


@memoized
def scale_by_adadelta(rho: ArrayLike = 0.9, eps: ArrayLike = 1e-6) -> GradientTransformation:
    """Rescale by the ratio of RMS step to RMS gradient (AdaDelta, Zeiler 2012).

    .. math::

        E_g \\leftarrow (1-\\rho)\\, g^2 + \\rho E_g, \\qquad
        u = \\frac{\\sqrt{E_x + \\epsilon}}{\\sqrt{E_g + \\epsilon}}\\, g, \\qquad
        E_x \\leftarrow (1-\\rho)\\, u^2 + \\rho E_x

    :math:`E_x` averages the steps *before* any learning rate is applied.

    **Arguments:**

    - ``rho``: :math:`\\rho \\in [0, 1)` (default 0.9).
    - ``eps``: :math:`\\epsilon \\ge 0` (default 1e-6).

    **Returns:** a :class:`GradientTransformation` with a :class:`ScaleByAdaDeltaState`
    (optax: ``optax.scale_by_adadelta``). The result points *along* the gradient: negate
    it (``scale_by_learning_rate``) to descend.

    >>> import jax.numpy as jnp
    >>> opt = scale_by_adadelta(rho=0.0, eps=1.0)
    >>> updates, _ = opt.update({"w": jnp.array([0.0])}, opt.init({"w": jnp.zeros(1)}))
    >>> updates["w"]
    Array([0.], dtype=float32)
    """
    check_hyperparameters("scale_by_adadelta", rho=rho, eps=eps)

    def init(params: Params) -> ScaleByAdaDeltaState:
        # Two separate buffers, so that the state can be donated to a jitted step.
        return ScaleByAdaDeltaState(
            e_g=jax.tree.map(jnp.zeros_like, params), e_x=jax.tree.map(jnp.zeros_like, params)
        )

    def update(
        updates: Updates, state: ScaleByAdaDeltaState, params: Params | None = None
    ) -> tuple[Updates, ScaleByAdaDeltaState]:
        del params
        e_g = update_moment(updates, state.e_g, rho, 2)
        updates = jax.tree.map(
            lambda g, eg, ex: (jnp.sqrt(ex + eps) / jnp.sqrt(eg + eps)) * g,
            updates,
            e_g,
            state.e_x,
        )
        e_x = update_moment(updates, state.e_x, rho, 2)
        return updates, ScaleByAdaDeltaState(e_g=e_g, e_x=e_x)

    return GradientTransformation(init, update)


def _maybe_bias_correct(
    moment: Updates, decay: ArrayLike, count: jax.Array, enabled: bool
) -> Updates:
    return bias_correction(moment, decay, count) if enabled else moment


def _inverse_root(second_moment: jax.Array, eps: ArrayLike, eps_in_sqrt: bool) -> jax.Array:
    """:math:`1/\\sqrt{\\nu + \\epsilon}` or :math:`1/(\\sqrt{\\nu} + \\epsilon)`."""
    if eps_in_sqrt:
        return jax.lax.rsqrt(second_moment + eps)
    return 1 / (jnp.sqrt(second_moment) + eps)

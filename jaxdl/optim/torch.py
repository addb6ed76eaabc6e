"""PyTorch-compatible optimizers: ``torch.optim``'s algorithms, argument names and defaults.

One lowercase function per ``torch.optim`` class — :func:`sgd`, :func:`adagrad`,
:func:`rmsprop`, :func:`adam`, :func:`adamw`, :func:`nadam` — so a PyTorch recipe ports by
changing the import::

    opt = jaxdl.optim.torch.adam(lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-2)
    opt_state = opt.init(params)
    updates, opt_state = opt.update(grads, opt_state, params)
    params = jaxdl.optim.apply_updates(params, updates)

They follow the same ``init``/``update`` protocol as the optax-style optimizers of
:mod:`jaxdl.optim` (``update`` takes ``params``, needed for weight decay), and compute
PyTorch's formulas in PyTorch's order, which deliberately differ from the optax-style ones:

- :math:`\\epsilon` outside the square root: :math:`g / (\\sqrt{\\nu} + \\epsilon)`
  (Adagrad, RMSprop, Adam, NAdam), with PyTorch's defaults (Adagrad ``eps=1e-10``).
- Adagrad's accumulator starts at 0 (``initial_accumulator_value=0``), not 0.1.
- Adam's bias corrections are folded into the step size,
  :math:`\\theta \\leftarrow \\theta - \\frac{\\eta}{1-\\beta_1^t}\\,
  \\frac{m}{\\sqrt{v}/\\sqrt{1-\\beta_2^t} + \\epsilon}`.
- NAdam has a momentum schedule :math:`\\mu_t = \\beta_1 (1 - \\tfrac12 0.96^{t\\psi})`.
- Weight decay is part of each optimizer (``weight_decay``): L2 (added to the gradient)
  everywhere, decoupled (parameters times :math:`1 - \\eta\\lambda`) in AdamW.
- SGD's momentum buffer starts at the first gradient; RMSprop's momentum buffer holds
  unscaled steps.

How close: PyTorch computes the scalar factors (bias corrections, :math:`\\eta\\lambda`)
in double precision and these functions compute them in the parameters' precision, so in
float32 a trajectory drifts from PyTorch's by a few 1e-6 of :math:`\\max|\\theta|` over
1,000 steps; in float64 they agree to about 1e-13.

``lr`` may also be a schedule ``f(count)`` of the number of updates made so far (PyTorch
uses separate scheduler objects for that). ``lr=None`` raises; a schedule is checked at
step 0 when the optimizer is built and, when ``update`` runs op by op outside ``jit``, at
every step (under ``jit`` the step counter is traced and later values are not checked).
``update`` checks that the gradients have the params' and the state buffers' tree and
shapes (a ``ValueError`` naming the paths), at trace time only under ``jit``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl.optim._base import GradientTransformation, Params, ScalarOrSchedule, Updates, memoized
from jaxdl.optim._numerics import one_minus_power, safe_increment, zero_count
from jaxdl.optim._validation import (
    check_hyperparameters,
    check_schedule_value,
    check_tree_matches,
)

__all__ = [
    "AdagradState",
    "AdamState",
    "NAdamState",
    "RMSpropState",
    "SGDState",
    "adagrad",
    "adam",
    "adamw",
    "nadam",
    "rmsprop",
    "sgd",
]


class SGDState(NamedTuple):
    """Step counter and momentum buffer (``None`` without momentum)."""

    count: jax.Array
    momentum_buffer: Updates


class AdagradState(NamedTuple):
    """Step counter and the running sum of squared gradients."""

    count: jax.Array
    sum: Updates


class RMSpropState(NamedTuple):
    """Step counter, averages of squared gradients and of gradients (``None`` unless
    centered), and momentum buffer (``None`` without momentum)."""

    count: jax.Array
    square_avg: Updates
    grad_avg: Updates
    momentum_buffer: Updates


class AdamState(NamedTuple):
    """Step counter, first and second moments, and the running maximum of the second
    moment (``None`` unless ``amsgrad``)."""

    count: jax.Array
    exp_avg: Updates
    exp_avg_sq: Updates
    max_exp_avg_sq: Updates


class NAdamState(NamedTuple):
    """Step counter, the product of the momentum schedule so far, first and second moments."""

    count: jax.Array
    mu_product: jax.Array
    exp_avg: Updates
    exp_avg_sq: Updates


@memoized
def sgd(
    lr: ScalarOrSchedule = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    *,
    maximize: bool = False,
) -> GradientTransformation:
    """``torch.optim.SGD``: SGD with momentum, dampening, Nesterov and L2 weight decay.

    .. math::

        g \\leftarrow g + \\lambda\\theta, \\qquad
        b \\leftarrow \\begin{cases} g & t = 1 \\\\ \\mu b + (1-\\tau) g & t > 1\\end{cases},
        \\qquad \\theta \\leftarrow \\theta - \\eta \\begin{cases} g + \\mu b & \\text{Nesterov}
        \\\\ b & \\text{otherwise}\\end{cases}

    (plain :math:`\\theta \\leftarrow \\theta - \\eta g` when :math:`\\mu = 0`).

    **Arguments:**

    - ``lr``: :math:`\\eta \\ge 0` or a schedule (default 1e-3).
    - ``momentum``: :math:`\\mu \\ge 0` (default 0).
    - ``dampening``: :math:`\\tau \\in [0, 1]` (default 0).
    - ``weight_decay``: L2 coefficient :math:`\\lambda \\ge 0` (default 0).
    - ``nesterov``: Nesterov momentum; needs :math:`\\mu > 0` and :math:`\\tau = 0`.
    - ``maximize``: ascend instead of descend (default ``False``).

    **Returns:** a :class:`~jaxdl.optim.GradientTransformation` with an :class:`SGDState`.

    >>> import jax.numpy as jnp
    >>> from jaxdl.optim import torch as toptim
    >>> opt = toptim.sgd(lr=0.1, momentum=0.9)
    >>> params = {"w": jnp.array([1.0])}
    >>> updates, state = opt.update({"w": jnp.array([2.0])}, opt.init(params), params)
    >>> updates["w"]  # the buffer starts at the gradient
    Array([-0.2], dtype=float32)

    .. note::
        With ``dampening=0`` and ``weight_decay=0`` this is :func:`jaxdl.optim.sgd`
        (optax's trace starts at 0, so its first step is :math:`g` too). Dampening, which
        optax lacks, applies from the second step on; weight decay is built in here.
    """
    check_hyperparameters(
        "torch.sgd", lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay
    )
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(
            "torch.sgd: Nesterov momentum requires a momentum > 0 and zero dampening, got "
            f"momentum={momentum}, dampening={dampening}."
        )

    def init(params: Params) -> SGDState:
        buffer = _zeros(params) if momentum != 0 else None
        return SGDState(count=zero_count(), momentum_buffer=buffer)

    def update(
        updates: Updates, state: SGDState, params: Params | None = None
    ) -> tuple[Updates, SGDState]:
        _check_trees("torch.sgd", updates, params, state)
        grads = _gradient("torch.sgd", updates, params, weight_decay, maximize)
        rate = _learning_rate("torch.sgd", lr, state.count)
        buffer = None
        if momentum != 0:
            first = state.count == 0
            buffer = jax.tree.map(
                lambda b, g: jnp.where(first, g, b * momentum + (1 - dampening) * g),
                state.momentum_buffer,
                grads,
            )
            if nesterov:
                grads = jax.tree.map(lambda g, b: g + momentum * b, grads, buffer)
            else:
                grads = buffer
        steps = jax.tree.map(lambda g: _cast(-rate, g) * g, grads)
        return steps, SGDState(count=safe_increment(state.count), momentum_buffer=buffer)

    return GradientTransformation(init, update)


@memoized
def adagrad(
    lr: ScalarOrSchedule = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    *,
    maximize: bool = False,
) -> GradientTransformation:
    """``torch.optim.Adagrad``: Adagrad with :math:`\\epsilon` outside the root.

    .. math::

        g \\leftarrow g + \\lambda\\theta, \\qquad G \\leftarrow G + g^2, \\qquad
        \\theta \\leftarrow \\theta - \\frac{\\eta}{1 + (t-1)\\,\\delta}\\,
        \\frac{g}{\\sqrt{G} + \\epsilon}

    **Arguments:**

    - ``lr``: :math:`\\eta \\ge 0` or a schedule (default 1e-2).
    - ``lr_decay``: :math:`\\delta \\ge 0` (default 0).
    - ``weight_decay``: L2 coefficient :math:`\\lambda \\ge 0` (default 0).
    - ``initial_accumulator_value``: :math:`G_0 \\ge 0` (default **0**).
    - ``eps``: :math:`\\epsilon \\ge 0`, outside the root (default 1e-10).
    - ``maximize``: ascend instead of descend (default ``False``).

    **Returns:** a :class:`~jaxdl.optim.GradientTransformation` with an
    :class:`AdagradState`.

    >>> import jax.numpy as jnp
    >>> from jaxdl.optim import torch as toptim
    >>> opt = toptim.adagrad(lr=0.5)
    >>> params = {"w": jnp.array([1.0])}
    >>> updates, _ = opt.update({"w": jnp.array([4.0])}, opt.init(params), params)
    >>> updates["w"]  # -0.5 * 4 / (sqrt(16) + 1e-10)
    Array([-0.5], dtype=float32)

    .. note::
        Differs from :func:`jaxdl.optim.adagrad` (optax's: :math:`G_0 = 0.1`,
        :math:`g/\\sqrt{G + 10^{-7}}`) in the initial accumulator and in where
        :math:`\\epsilon` goes.
    """
    check_hyperparameters(
        "torch.adagrad",
        lr=lr,
        lr_decay=lr_decay,
        weight_decay=weight_decay,
        initial_accumulator_value=initial_accumulator_value,
        eps=eps,
    )

    def init(params: Params) -> AdagradState:
        sums = jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params)
        return AdagradState(count=zero_count(), sum=sums)

    def update(
        updates: Updates, state: AdagradState, params: Params | None = None
    ) -> tuple[Updates, AdagradState]:
        _check_trees("torch.adagrad", updates, params, state)
        grads = _gradient("torch.adagrad", updates, params, weight_decay, maximize)
        rate = _learning_rate("torch.adagrad", lr, state.count)
        count = safe_increment(state.count)
        if lr_decay != 0:
            rate = rate / (1 + (count - 1) * lr_decay)
        sums = jax.tree.map(lambda s, g: s + g * g, state.sum, grads)
        steps = jax.tree.map(lambda g, s: _cast(-rate, g) * g / (jnp.sqrt(s) + eps), grads, sums)
        return steps, AdagradState(count=count, sum=sums)

    return GradientTransformation(init, update)


@memoized
def rmsprop(
    lr: ScalarOrSchedule = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    *,
    maximize: bool = False,
) -> GradientTransformation:
    """``torch.optim.RMSprop``: RMSProp with :math:`\\epsilon` outside the root.

    .. math::

        g \\leftarrow g + \\lambda\\theta, \\quad
        \\nu \\leftarrow \\alpha\\nu + (1-\\alpha)\\, g^2, \\quad
        \\Delta = \\frac{g}{\\sqrt{\\nu - \\bar g^2} + \\epsilon}, \\quad
        b \\leftarrow \\mu b + \\Delta, \\quad \\theta \\leftarrow \\theta - \\eta b

    where :math:`\\bar g \\leftarrow \\alpha \\bar g + (1-\\alpha) g` if ``centered`` (else
    :math:`\\bar g = 0`), and :math:`b = \\Delta` when :math:`\\mu = 0`. The centered
    variance :math:`\\nu - \\bar g^2` is clamped at 0 before the root: float32 rounding can
    make it slightly negative, where PyTorch's step is NaN (the one deliberate departure).

    **Arguments:**

    - ``lr``: :math:`\\eta \\ge 0` or a schedule (default 1e-2).
    - ``alpha``: :math:`\\alpha \\in [0, 1)` (default 0.99).
    - ``eps``: :math:`\\epsilon \\ge 0`, outside the root (default 1e-8).
    - ``weight_decay``: L2 coefficient :math:`\\lambda \\ge 0` (default 0).
    - ``momentum``: :math:`\\mu \\ge 0` (default 0).
    - ``centered``: divide by the estimated standard deviation (default ``False``).
    - ``maximize``: ascend instead of descend (default ``False``).

    **Returns:** a :class:`~jaxdl.optim.GradientTransformation` with an
    :class:`RMSpropState`.

    >>> import jax.numpy as jnp
    >>> from jaxdl.optim import torch as toptim
    >>> opt = toptim.rmsprop(lr=0.1, alpha=0.75, eps=0.0)
    >>> params = {"w": jnp.array([1.0])}
    >>> updates, _ = opt.update({"w": jnp.array([2.0])}, opt.init(params), params)
    >>> updates["w"]  # -0.1 * 2 / sqrt(0.25 * 2**2)
    Array([-0.2], dtype=float32)

    .. note::
        Differs from :func:`jaxdl.optim.rmsprop` (optax's: ``decay=0.9``,
        :math:`g/\\sqrt{\\nu + \\epsilon}`, momentum on the step already scaled by
        :math:`\\eta`) in the default decay, in where :math:`\\epsilon` goes and in what
        the momentum buffer holds.
    """
    check_hyperparameters(
        "torch.rmsprop",
        lr=lr,
        alpha=alpha,
        eps=eps,
        weight_decay=weight_decay,
        momentum=momentum,
    )

    def init(params: Params) -> RMSpropState:
        return RMSpropState(
            count=zero_count(),
            square_avg=_zeros(params),
            grad_avg=_zeros(params) if centered else None,
            momentum_buffer=_zeros(params) if momentum > 0 else None,
        )

    def update(
        updates: Updates, state: RMSpropState, params: Params | None = None
    ) -> tuple[Updates, RMSpropState]:
        _check_trees("torch.rmsprop", updates, params, state)
        grads = _gradient("torch.rmsprop", updates, params, weight_decay, maximize)
        rate = _learning_rate("torch.rmsprop", lr, state.count)
        square_avg = jax.tree.map(
            lambda s, g: s * alpha + (1 - alpha) * (g * g), state.square_avg, grads
        )
        grad_avg = None
        if centered:
            grad_avg = jax.tree.map(lambda a, g: _lerp(a, g, 1 - alpha), state.grad_avg, grads)
            # max(·, 0): rounding can make the variance estimate slightly negative in
            # float32, where PyTorch's sqrt returns NaN.
            roots = jax.tree.map(
                lambda s, a: jnp.sqrt(jnp.maximum(s - a * a, 0)), square_avg, grad_avg
            )
        else:
            roots = jax.tree.map(jnp.sqrt, square_avg)
        steps = jax.tree.map(lambda g, r: g / (r + eps), grads, roots)
        buffer = None
        if momentum > 0:
            buffer = jax.tree.map(lambda b, s: b * momentum + s, state.momentum_buffer, steps)
            steps = buffer
        steps = jax.tree.map(lambda s: _cast(-rate, s) * s, steps)
        new_state = RMSpropState(
            count=safe_increment(state.count),
            square_avg=square_avg,
            grad_avg=grad_avg,
            momentum_buffer=buffer,
        )
        return steps, new_state

    return GradientTransformation(init, update)


@memoized
def adam(
    lr: ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> GradientTransformation:
    """``torch.optim.Adam``: Adam with the bias corrections folded into the step size.

    .. math::

        m \\leftarrow \\beta_1 m + (1-\\beta_1)\\, g, \\quad
        v \\leftarrow \\beta_2 v + (1-\\beta_2)\\, g^2, \\quad
        \\theta \\leftarrow \\theta - \\frac{\\eta}{1-\\beta_1^t}\\,
        \\frac{m}{\\sqrt{v}/\\sqrt{1-\\beta_2^t} + \\epsilon}

    with L2 weight decay :math:`g \\leftarrow g + \\lambda\\theta` first (or, if
    ``decoupled_weight_decay``, :math:`\\theta \\leftarrow (1 - \\eta\\lambda)\\theta`
    first, which is :func:`adamw`); AMSGrad uses :math:`\\max_{s \\le t} v_s` for
    :math:`v` in the denominator.

    **Arguments:**

    - ``lr``: :math:`\\eta \\ge 0` or a schedule (default 1e-3).
    - ``betas``: :math:`(\\beta_1, \\beta_2)`, each in :math:`[0, 1)` (default
      ``(0.9, 0.999)``).
    - ``eps``: :math:`\\epsilon \\ge 0`, outside the root (default 1e-8).
    - ``weight_decay``: :math:`\\lambda \\ge 0` (default 0).
    - ``amsgrad``: AMSGrad's running maximum (default ``False``).
    - ``maximize``: ascend instead of descend (default ``False``).
    - ``decoupled_weight_decay``: decoupled (AdamW) weight decay (default ``False``).

    **Returns:** a :class:`~jaxdl.optim.GradientTransformation` with an :class:`AdamState`.

    >>> import jax.numpy as jnp
    >>> from jaxdl.optim import torch as toptim
    >>> opt = toptim.adam(lr=0.1)
    >>> params = {"w": jnp.array([1.0])}
    >>> updates, _ = opt.update({"w": jnp.array([2.0])}, opt.init(params), params)
    >>> updates["w"]  # about -lr * sign(g) on the first step
    Array([-0.09999...], dtype=float32)

    .. note::
        Equal in exact arithmetic to :func:`jaxdl.optim.adam` with ``eps`` rescaled — the
        bias corrections are folded into the step size and :math:`\\epsilon` is added to
        :math:`\\sqrt{v}/\\sqrt{1-\\beta_2^t}` — so not bit for bit; the L2 weight decay is
        built in.
    """
    return _adam_family(
        "torch.adam", lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay
    )


@memoized
def adamw(
    lr: ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
) -> GradientTransformation:
    """``torch.optim.AdamW``: :func:`adam` with decoupled weight decay.

    .. math::

        \\theta \\leftarrow (1 - \\eta\\lambda)\\,\\theta - \\frac{\\eta}{1-\\beta_1^t}\\,
        \\frac{m}{\\sqrt{v}/\\sqrt{1-\\beta_2^t} + \\epsilon}

    **Arguments:** as :func:`adam`, with ``weight_decay`` :math:`\\lambda` defaulting to
    **1e-2**.

    **Returns:** a :class:`~jaxdl.optim.GradientTransformation` with an :class:`AdamState`.

    >>> import jax.numpy as jnp
    >>> from jaxdl.optim import torch as toptim
    >>> opt = toptim.adamw(lr=0.1, weight_decay=0.5)
    >>> params = {"w": jnp.array([10.0])}
    >>> updates, _ = opt.update({"w": jnp.array([0.0])}, opt.init(params), params)
    >>> updates["w"]  # -0.1 * 0.5 * 10: only the decay moves a zero-gradient parameter
    Array([-0.5], dtype=float32)

    .. note::
        Differs from :func:`jaxdl.optim.adamw` (optax's, :math:`\\lambda = 10^{-4}` by
        default, :math:`-\\eta(\\text{Adam step} + \\lambda\\theta)` on the parameters
        *before* the step) in the default and in Adam's folded bias correction; the decay
        itself is the same product :math:`\\eta\\lambda\\theta`.
    """
    return _adam_family("torch.adamw", lr, betas, eps, weight_decay, amsgrad, maximize, True)


@memoized
def nadam(
    lr: ScalarOrSchedule = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
) -> GradientTransformation:
    """``torch.optim.NAdam``: Adam with Nesterov momentum and a momentum schedule.

    .. math::

        \\mu_t = \\beta_1\\left(1 - \\tfrac12\\, 0.96^{t\\psi}\\right), \\quad
        \\Pi_t = \\prod_{s \\le t} \\mu_s, \\quad
        d = \\sqrt{\\frac{v}{1-\\beta_2^t}} + \\epsilon

        \\theta \\leftarrow \\theta - \\eta\\,\\frac{1-\\mu_t}{1-\\Pi_t}\\,\\frac{g}{d}
        - \\eta\\,\\frac{\\mu_{t+1}}{1-\\Pi_t\\,\\mu_{t+1}}\\,\\frac{m}{d}

    with :math:`m, v` as in :func:`adam` and weight decay as in :func:`adam`.

    **Arguments:**

    - ``lr``: :math:`\\eta \\ge 0` or a schedule (default 2e-3).
    - ``betas``: :math:`(\\beta_1, \\beta_2)` (default ``(0.9, 0.999)``).
    - ``eps``: :math:`\\epsilon \\ge 0`, outside the root (default 1e-8).
    - ``weight_decay``: :math:`\\lambda \\ge 0` (default 0).
    - ``momentum_decay``: :math:`\\psi \\ge 0` (default 4e-3).
    - ``decoupled_weight_decay``: NAdamW's decoupled decay (default ``False``).
    - ``maximize``: ascend instead of descend (default ``False``).

    **Returns:** a :class:`~jaxdl.optim.GradientTransformation` with a :class:`NAdamState`.

    >>> import jax.numpy as jnp
    >>> from jaxdl.optim import torch as toptim
    >>> opt = toptim.nadam(lr=0.1)
    >>> params = {"w": jnp.array([1.0])}
    >>> updates, _ = opt.update({"w": jnp.array([2.0])}, opt.init(params), params)
    >>> updates["w"]  # -0.1 * (g/d + mu_2 / (1 - mu_1 mu_2) * m/d), g/d = 1, m/d = 0.1
    Array([-0.1056445], dtype=float32)

    .. note::
        Differs from :func:`jaxdl.optim.nadam` (optax's: constant :math:`\\beta_1`, each
        term corrected by :math:`1-\\beta_1^{t}` or :math:`1-\\beta_1^{t+1}`) by the
        momentum schedule :math:`\\mu_t` and its running product — a different trajectory,
        not a rounding difference.
    """
    b1, b2 = betas
    check_hyperparameters(
        "torch.nadam",
        lr=lr,
        eps=eps,
        weight_decay=weight_decay,
        momentum_decay=momentum_decay,
        **{"betas[0]": b1, "betas[1]": b2},
    )

    def init(params: Params) -> NAdamState:
        return NAdamState(
            count=zero_count(),
            mu_product=jnp.ones([], dtype=float),
            exp_avg=_zeros(params),
            exp_avg_sq=_zeros(params),
        )

    def update(
        updates: Updates, state: NAdamState, params: Params | None = None
    ) -> tuple[Updates, NAdamState]:
        _check_trees("torch.nadam", updates, params, state)
        decoupled = decoupled_weight_decay and weight_decay != 0
        grads = _gradient(
            "torch.nadam", updates, params, 0.0 if decoupled else weight_decay, maximize
        )
        rate = _learning_rate("torch.nadam", lr, state.count)
        count = safe_increment(state.count)
        mu = b1 * (1.0 - 0.5 * (0.96 ** (count * momentum_decay)))
        mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((count + 1) * momentum_decay)))
        mu_product = state.mu_product * mu
        grad_factor = -rate * (1.0 - mu) / (1.0 - mu_product)
        momentum_factor = (-rate * mu_next) / (1.0 - mu_product * mu_next)
        bias_correction2 = one_minus_power(b2, count)
        exp_avg = jax.tree.map(lambda m, g: _lerp(m, g, 1 - b1), state.exp_avg, grads)
        exp_avg_sq = _second_moment(state.exp_avg_sq, grads, b2)
        steps = jax.tree.map(
            lambda g, m, v: _nadam_step(
                g, m, v, bias_correction2, eps, grad_factor, momentum_factor
            ),
            grads,
            exp_avg,
            exp_avg_sq,
        )
        if decoupled:
            steps = _decay_decoupled("torch.nadam", steps, params, rate, weight_decay)
        return steps, NAdamState(
            count=count, mu_product=mu_product, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq
        )

    return GradientTransformation(init, update)


def _adam_family(
    owner: str,
    lr: ScalarOrSchedule,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled: bool,
) -> GradientTransformation:
    """Adam and AdamW, which differ only in how ``weight_decay`` is applied."""
    b1, b2 = betas
    check_hyperparameters(
        owner, lr=lr, eps=eps, weight_decay=weight_decay, **{"betas[0]": b1, "betas[1]": b2}
    )
    decoupled = decoupled and weight_decay != 0

    def init(params: Params) -> AdamState:
        return AdamState(
            count=zero_count(),
            exp_avg=_zeros(params),
            exp_avg_sq=_zeros(params),
            max_exp_avg_sq=_zeros(params) if amsgrad else None,
        )

    def update(
        updates: Updates, state: AdamState, params: Params | None = None
    ) -> tuple[Updates, AdamState]:
        _check_trees(owner, updates, params, state)
        grads = _gradient(owner, updates, params, 0.0 if decoupled else weight_decay, maximize)
        rate = _learning_rate(owner, lr, state.count)
        count = safe_increment(state.count)
        step_size = rate / one_minus_power(b1, count)
        bias_correction2_sqrt = jnp.sqrt(one_minus_power(b2, count))
        exp_avg = jax.tree.map(lambda m, g: _lerp(m, g, 1 - b1), state.exp_avg, grads)
        exp_avg_sq = _second_moment(state.exp_avg_sq, grads, b2)
        max_exp_avg_sq = None
        denominator_source = exp_avg_sq
        if amsgrad:
            max_exp_avg_sq = jax.tree.map(jnp.maximum, state.max_exp_avg_sq, exp_avg_sq)
            denominator_source = max_exp_avg_sq
        steps = jax.tree.map(
            lambda m, v: (
                _cast(-step_size, m) * m / (jnp.sqrt(v) / _cast(bias_correction2_sqrt, v) + eps)
            ),
            exp_avg,
            denominator_source,
        )
        if decoupled:
            steps = _decay_decoupled(owner, steps, params, rate, weight_decay)
        new_state = AdamState(
            count=count, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq, max_exp_avg_sq=max_exp_avg_sq
        )
        return steps, new_state

    return GradientTransformation(init, update)


def _gradient(
    owner: str, grads: Updates, params: Params | None, weight_decay: float, maximize: bool
) -> Updates:
    """PyTorch's first lines: negate to maximize, then add L2 weight decay ``λθ``."""
    if maximize:
        grads = jax.tree.map(jnp.negative, grads)
    if weight_decay == 0:
        return grads
    _require_params(owner, params)
    return jax.tree.map(lambda g, p: g + weight_decay * p, grads, params)


def _decay_decoupled(
    owner: str, steps: Updates, params: Params | None, rate: Any, weight_decay: float
) -> Updates:
    """PyTorch's ``θ ← (1 - ηλ) θ`` as an update, ``(1 - ηλ) θ - θ``, added to the steps.

    The factor ``1 - ηλ`` is rounded to the parameters' dtype before it multiplies them, as
    in PyTorch; that rounding (up to 6e-8 relative in float32) compounds over the steps, so
    ``-ηλθ`` computed directly would drift from PyTorch by ~1e-5 over 1,000 steps.
    """
    _require_params(owner, params)
    factor = 1 - rate * weight_decay
    return jax.tree.map(lambda s, p: s + (p * _cast(factor, p) - p), steps, params)


def _require_params(owner: str, params: Params | None) -> None:
    if params is None:
        raise ValueError(
            f"{owner}: weight decay needs the parameters; call update(grads, state, params)."
        )


def _learning_rate(owner: str, lr: ScalarOrSchedule, count: jax.Array) -> Any:
    """The learning rate for this update: the constant, or the schedule at ``count``
    (checked when ``count`` is concrete)."""
    if not callable(lr):
        return lr
    rate = lr(count)
    check_schedule_value(owner, "lr", rate, count)
    return rate


def _check_trees(owner: str, grads: Updates, params: Params | None, state: Any) -> None:
    """The gradients against the params and the state's per-parameter buffers (static:
    structures and shapes only)."""
    if params is not None:
        check_tree_matches(owner, grads, params, "params")
    for field, buffer in zip(state._fields, state):
        if field not in ("count", "mu_product") and buffer is not None:
            what = f"optimizer state's {type(state).__name__}.{field}"
            check_tree_matches(owner, grads, buffer, what)


def _lerp(start: jax.Array, end: jax.Array, weight: float) -> jax.Array:
    """``torch.lerp``, which switches formula at ``weight = 0.5`` to stay accurate."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def _second_moment(exp_avg_sq: Updates, grads: Updates, b2: float) -> Updates:
    """``v.mul_(β₂).addcmul_(g, g, value=1-β₂)``."""
    return jax.tree.map(lambda v, g: v * b2 + (1 - b2) * (g * g), exp_avg_sq, grads)


def _nadam_step(
    g: jax.Array,
    m: jax.Array,
    v: jax.Array,
    bias_correction2: jax.Array,
    eps: float,
    grad_factor: jax.Array,
    momentum_factor: jax.Array,
) -> jax.Array:
    denominator = jnp.sqrt(v / _cast(bias_correction2, v)) + eps
    return _cast(grad_factor, g) * g / denominator + _cast(momentum_factor, m) * m / denominator


def _cast(scalar: Any, like: jax.Array) -> jax.Array:
    """A scalar factor in ``like``'s dtype (so float64 scalars never promote float32 leaves)."""
    return jnp.asarray(scalar, dtype=like.dtype)


def _zeros(params: Params) -> Updates:
    return jax.tree.map(jnp.zeros_like, params)

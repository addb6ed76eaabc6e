"""The optimizers: chains of one statistic from ``_transforms`` and the learning rate.

Every optimizer here has the same arguments, defaults and arithmetic as its optax
namesake (one exception: ``adadelta``'s learning rate defaults to 1.0, not ``None``), so
its float32 trajectory on CPU equals optax's bit for bit. Two checks come on top, neither
changing a value:

- ``learning_rate=None`` raises (optax's aliases then skip the scaling, so the step adds
  the raw gradient and *ascends* the loss), and a schedule is evaluated at step 0 at
  construction, its value checked like a constant (see ``_validation``).
- ``update`` checks that the gradients have the tree structure and leaf shapes of the
  params (when given) and of the optimizer state's buffers, and raises a ``ValueError``
  naming the paths that are missing, unexpected or of another shape. Structures and
  shapes are static, so under ``jit`` this runs once at trace time and the compiled step
  is unchanged. Notation: :math:`\\theta`
parameters, :math:`g` gradient, :math:`\\eta` learning rate (a constant or a schedule of
the step), :math:`t` the step count (1 on the first update).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jax.typing import DTypeLike

from jaxdl.optim._base import (
    GradientTransformation,
    OptState,
    Params,
    ScalarOrSchedule,
    Updates,
    chain,
    identity,
    memoized,
)
from jaxdl.optim._scaling import add_decayed_weights, scale_by_learning_rate
from jaxdl.optim._transforms import (
    ScaleByAdaDeltaState,
    ScaleByAdamState,
    ScaleByRmsState,
    ScaleByRssState,
    ScaleByRStdDevState,
    TraceState,
    scale_by_adadelta,
    scale_by_adam,
    scale_by_rms,
    scale_by_rss,
    scale_by_stddev,
    trace,
)
from jaxdl.optim._validation import check_hyperparameters, check_tree_matches

__all__ = [
    "adadelta",
    "adagrad",
    "adam",
    "adamw",
    "momentum",
    "nadam",
    "nesterov",
    "rmsprop",
    "sgd",
]


@memoized
def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: float | None = None,
    nesterov: bool = False,
    accumulator_dtype: DTypeLike | None = None,
) -> GradientTransformation:
    """Stochastic gradient descent, optionally with heavy-ball or Nesterov momentum.

    .. math::

        \\text{plain:}\\quad \\theta \\leftarrow \\theta - \\eta g \\qquad
        \\text{momentum:}\\quad v \\leftarrow g + \\mu v,\\;
        \\theta \\leftarrow \\theta - \\eta v \\qquad
        \\text{Nesterov:}\\quad v \\leftarrow g + \\mu v,\\;
        \\theta \\leftarrow \\theta - \\eta (g + \\mu v)

    **Arguments:**

    - ``learning_rate``: :math:`\\eta \\ge 0` or a schedule.
    - ``momentum``: :math:`\\mu \\ge 0`, or ``None`` for plain SGD (default).
    - ``nesterov``: use Nesterov's look-ahead momentum (default ``False``).
    - ``accumulator_dtype``: dtype of the momentum buffer (default: the gradients').

    **Returns:** a :class:`GradientTransformation`: ``trace`` then the learning rate.

    >>> import jax, jax.numpy as jnp
    >>> from jaxdl import optim
    >>> params = {"w": jnp.array([1.0, -2.0])}
    >>> opt = optim.sgd(learning_rate=0.1)
    >>> grads = jax.grad(lambda p: jnp.sum(p["w"] ** 2))(params)
    >>> updates, _ = opt.update(grads, opt.init(params), params)
    >>> optim.apply_updates(params, updates)["w"]
    Array([ 0.8, -1.6], dtype=float32)

    .. note::
        optax: ``optax.sgd(learning_rate, momentum, nesterov)``, identical. PyTorch's
        ``SGD(lr, momentum)`` keeps :math:`v \\leftarrow \\mu v + g` too (dampening 0), but
        starts :math:`v` at the first gradient and applies weight decay itself; Keras's
        ``SGD`` keeps :math:`v \\leftarrow \\mu v - \\eta g` (learning rate inside the
        buffer), which differs when :math:`\\eta` changes. See ``jaxdl.optim.torch.sgd``.
    """
    check_hyperparameters("sgd", learning_rate=learning_rate, momentum=momentum)
    return _checked("sgd", _sgd(learning_rate, momentum, nesterov, accumulator_dtype))


def _sgd(
    learning_rate: ScalarOrSchedule,
    momentum: float | None,
    nesterov: bool,
    accumulator_dtype: DTypeLike | None = None,
) -> GradientTransformation:
    """The chain of :func:`sgd`, without the update check (its callers add their own)."""
    return chain(
        identity()
        if momentum is None
        else trace(decay=momentum, nesterov=nesterov, accumulator_dtype=accumulator_dtype),
        scale_by_learning_rate(learning_rate),
    )


@memoized
def momentum(learning_rate: ScalarOrSchedule, momentum: float = 0.9) -> GradientTransformation:
    """Gradient descent with heavy-ball momentum: ``sgd(learning_rate, momentum)``.

    .. math:: v \\leftarrow g + \\mu v, \\qquad \\theta \\leftarrow \\theta - \\eta v

    **Arguments:**

    - ``learning_rate``: :math:`\\eta \\ge 0` or a schedule.
    - ``momentum``: :math:`\\mu \\ge 0`, typically 0.5–0.9 (default 0.9).

    **Returns:** a :class:`GradientTransformation`.

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> opt = optim.momentum(learning_rate=1.0, momentum=0.5)
    >>> state = opt.init({"w": jnp.zeros(1)})
    >>> _, state = opt.update({"w": jnp.ones(1)}, state)
    >>> updates, state = opt.update({"w": jnp.ones(1)}, state)
    >>> updates["w"]  # -(1 + 0.5 * 1)
    Array([-1.5], dtype=float32)

    .. note::
        Not an optax name; the optax counterpart is
        ``optax.sgd(learning_rate, momentum=momentum)``.
    """
    check_hyperparameters("momentum", learning_rate=learning_rate, momentum=momentum)
    return _checked("momentum", _sgd(learning_rate, momentum, nesterov=False))


@memoized
def nesterov(learning_rate: ScalarOrSchedule, momentum: float = 0.9) -> GradientTransformation:
    """Nesterov accelerated gradient: ``sgd(learning_rate, momentum, nesterov=True)``.

    .. math:: v \\leftarrow g + \\mu v, \\qquad \\theta \\leftarrow \\theta - \\eta (g + \\mu v)

    This is Sutskever et al.'s (2013) reformulation of "step along the momentum first, take
    the gradient there": with the look-ahead folded into the variables, the gradient is
    taken at the current parameters.

    **Arguments:**

    - ``learning_rate``: :math:`\\eta \\ge 0` or a schedule.
    - ``momentum``: :math:`\\mu \\ge 0` (default 0.9).

    **Returns:** a :class:`GradientTransformation`.

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> opt = optim.nesterov(learning_rate=1.0, momentum=0.5)
    >>> updates, _ = opt.update({"w": jnp.ones(1)}, opt.init({"w": jnp.zeros(1)}))
    >>> updates["w"]  # -(1 + 0.5 * 1)
    Array([-1.5], dtype=float32)

    .. note::
        Not an optax name; the optax counterpart is
        ``optax.sgd(learning_rate, momentum=momentum, nesterov=True)``; PyTorch's is
        ``SGD(lr, momentum, nesterov=True)`` (same formula, buffer started at :math:`g`).
    """
    check_hyperparameters("nesterov", learning_rate=learning_rate, momentum=momentum)
    return _checked("nesterov", _sgd(learning_rate, momentum, nesterov=True))


@memoized
def adagrad(
    learning_rate: ScalarOrSchedule,
    initial_accumulator_value: float = 0.1,
    eps: float = 1e-7,
) -> GradientTransformation:
    """Adagrad: steps shrink for parameters that have seen large gradients (Duchi et al.).

    .. math::

        G \\leftarrow G + g^2, \\qquad
        \\theta \\leftarrow \\theta - \\eta \\frac{g}{\\sqrt{G + \\epsilon}}

    **Arguments:**

    - ``learning_rate``: :math:`\\eta \\ge 0` or a schedule.
    - ``initial_accumulator_value``: :math:`G_0 \\ge 0` (default 0.1).
    - ``eps``: :math:`\\epsilon \\ge 0`, inside the root (default 1e-7).

    **Returns:** a :class:`GradientTransformation`: ``scale_by_rss`` then the learning rate.

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> opt = optim.adagrad(learning_rate=1.0, initial_accumulator_value=0.0, eps=0.0)
    >>> updates, _ = opt.update({"w": jnp.array([4.0])}, opt.init({"w": jnp.zeros(1)}))
    >>> updates["w"]
    Array([-1.], dtype=float32)

    .. note::
        optax: ``optax.adagrad``, identical. PyTorch's ``Adagrad`` starts :math:`G` at 0
        and puts :math:`\\epsilon = 10^{-10}` outside the root,
        :math:`g / (\\sqrt{G} + \\epsilon)` (``jaxdl.optim.torch.adagrad``); Keras's starts
        at 0.1 with :math:`\\epsilon = 10^{-7}` outside.
    """
    check_hyperparameters(
        "adagrad",
        learning_rate=learning_rate,
        initial_accumulator_value=initial_accumulator_value,
        eps=eps,
    )
    return _checked(
        "adagrad",
        chain(
            scale_by_rss(initial_accumulator_value=initial_accumulator_value, eps=eps),
            scale_by_learning_rate(learning_rate),
        ),
    )


@memoized
def adadelta(
    learning_rate: ScalarOrSchedule = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any | Callable[[Params], Any] | None = None,
) -> GradientTransformation:
    """AdaDelta: step sizes from the ratio of RMS past steps to RMS gradients (Zeiler 2012).

    .. math::

        E_g \\leftarrow (1-\\rho)\\, g^2 + \\rho E_g, \\qquad
        \\Delta = \\frac{\\sqrt{E_x + \\epsilon}}{\\sqrt{E_g + \\epsilon}}\\, g, \\qquad
        E_x \\leftarrow (1-\\rho)\\, \\Delta^2 + \\rho E_x, \\qquad
        \\theta \\leftarrow \\theta - \\eta \\Delta

    (with weight decay, :math:`g + \\lambda\\theta` replaces :math:`g`).

    **Arguments:**

    - ``learning_rate``: :math:`\\eta \\ge 0` or a schedule (default **1.0**, Zeiler's
      method, which descends).
    - ``rho``: :math:`\\rho \\in [0, 1)` (default 0.9).
    - ``eps``: :math:`\\epsilon \\ge 0` (default 1e-6).
    - ``weight_decay``: :math:`\\lambda \\ge 0` added to the gradient first (default 0).
    - ``weight_decay_mask``: which leaves to decay (see ``add_decayed_weights``).

    **Returns:** a :class:`GradientTransformation`: ``add_decayed_weights``,
    ``scale_by_adadelta``, then the learning rate.

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> opt = optim.adadelta()
    >>> params = {"w": jnp.array([1.0])}
    >>> updates, _ = opt.update({"w": jnp.array([2.0])}, opt.init(params), params)
    >>> bool(updates["w"][0] < 0)  # a positive gradient gives a negative step
    True

    .. warning::
        ``optax.adadelta()`` defaults to ``learning_rate=None``, which skips the
        :math:`-\\eta` scaling and so *ascends* the loss. With the same explicit learning
        rate the two are identical: ``optim.adadelta(lr)`` equals
        ``optax.adadelta(lr)``. PyTorch's ``Adadelta(lr=1.0)`` and Keras's (``lr=0.001``,
        ``rho=0.95``, ``eps=1e-7``) follow the same formula.
    """
    check_hyperparameters(
        "adadelta", learning_rate=learning_rate, rho=rho, eps=eps, weight_decay=weight_decay
    )
    return _checked(
        "adadelta",
        chain(
            add_decayed_weights(weight_decay, mask=weight_decay_mask),
            scale_by_adadelta(rho=rho, eps=eps),
            scale_by_learning_rate(learning_rate),
        ),
    )


@memoized
def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: float = 0.9,
    eps: float = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: float | None = None,
    nesterov: bool = False,
    bias_correction: bool = False,
) -> GradientTransformation:
    """RMSProp: divide by a moving RMS of the gradients (Hinton's lecture 6e, 2012).

    .. math::

        \\nu \\leftarrow (1-\\rho)\\, g^2 + \\rho \\nu, \\qquad
        \\Delta = \\frac{g}{\\sqrt{\\nu + \\epsilon}}, \\qquad
        \\theta \\leftarrow \\theta - \\eta \\Delta

    Centered (Graves 2013): also :math:`\\mu \\leftarrow (1-\\rho)\\, g + \\rho\\mu` and
    :math:`\\Delta = g / \\sqrt{\\nu - \\mu^2 + \\epsilon}`. With momentum :math:`m`, the
    *scaled* step is traced: :math:`v \\leftarrow -\\eta\\Delta + m v`,
    :math:`\\theta \\leftarrow \\theta + v` (Nesterov: :math:`+(-\\eta\\Delta + m v)`).

    **Arguments:**

    - ``learning_rate``: :math:`\\eta \\ge 0` or a schedule.
    - ``decay``: :math:`\\rho \\in [0, 1)` (default 0.9).
    - ``eps``: :math:`\\epsilon \\ge 0` (default 1e-8).
    - ``initial_scale``: :math:`\\nu_0 \\ge 0` (default 0).
    - ``eps_in_sqrt``: :math:`\\epsilon` inside the root (default ``True``) or outside.
    - ``centered``: subtract the squared mean gradient (default ``False``).
    - ``momentum``: :math:`m \\ge 0`, or ``None`` for none (default).
    - ``nesterov``: Nesterov momentum (default ``False``).
    - ``bias_correction``: divide the averages by :math:`1 - \\rho^t` (default ``False``).

    **Returns:** a :class:`GradientTransformation`: ``scale_by_rms`` (``scale_by_stddev``
    if centered), the learning rate, then ``trace`` if momentum is given.

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> opt = optim.rmsprop(learning_rate=0.1, decay=0.75, eps=0.0)
    >>> updates, _ = opt.update({"w": jnp.array([2.0])}, opt.init({"w": jnp.zeros(1)}))
    >>> updates["w"]  # -0.1 * 2 / sqrt(0.25 * 2**2)
    Array([-0.2], dtype=float32)

    .. note::
        optax: ``optax.rmsprop``, identical (momentum traces the step *after* the learning
        rate there too). PyTorch's ``RMSprop`` (``alpha=0.99``) puts :math:`\\epsilon`
        outside the root, :math:`g/(\\sqrt{\\nu} + \\epsilon)`, and traces the unscaled
        step (``jaxdl.optim.torch.rmsprop``); Keras's has ``rho=0.9``, ``epsilon=1e-7``
        outside the root.
    """
    check_hyperparameters(
        "rmsprop",
        learning_rate=learning_rate,
        decay=decay,
        eps=eps,
        initial_scale=initial_scale,
        momentum=momentum,
    )
    statistic = scale_by_stddev if centered else scale_by_rms
    return _checked(
        "rmsprop",
        chain(
            statistic(
                decay=decay,
                eps=eps,
                initial_scale=initial_scale,
                eps_in_sqrt=eps_in_sqrt,
                bias_correction=bias_correction,
            ),
            scale_by_learning_rate(learning_rate),
            identity() if momentum is None else trace(decay=momentum, nesterov=nesterov),
        ),
    )


@memoized
def adam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    """Adam: momentum on the gradient, RMSProp on its scale, both bias-corrected.

    .. math::

        m \\leftarrow (1-\\beta_1)\\, g + \\beta_1 m, \\quad
        v \\leftarrow (1-\\beta_2)\\, g^2 + \\beta_2 v, \\quad
        \\theta \\leftarrow \\theta - \\eta\\,
        \\frac{m/(1-\\beta_1^t)}{\\sqrt{v/(1-\\beta_2^t) + \\epsilon_{root}} + \\epsilon}

    (Kingma & Ba, 2015.)

    **Arguments:**

    - ``learning_rate``: :math:`\\eta \\ge 0` or a schedule.
    - ``b1``: :math:`\\beta_1 \\in [0, 1)` (default 0.9).
    - ``b2``: :math:`\\beta_2 \\in [0, 1)` (default 0.999).
    - ``eps``: :math:`\\epsilon \\ge 0`, outside the root (default 1e-8).
    - ``eps_root``: :math:`\\epsilon_{root} \\ge 0`, inside the root (default 0).
    - ``mu_dtype``: dtype of the first moment (default: the gradients').
    - ``nesterov``: Nesterov momentum, i.e. :func:`nadam` (default ``False``).

    **Returns:** a :class:`GradientTransformation`: ``scale_by_adam`` then the learning rate.

    >>> import jax, jax.numpy as jnp
    >>> from jaxdl import optim
    >>> params = {"w": jnp.array([1.0, -2.0])}
    >>> opt = optim.adam(learning_rate=0.1)
    >>> grads = jax.grad(lambda p: jnp.sum(p["w"] ** 2))(params)
    >>> updates, _ = opt.update(grads, opt.init(params), params)
    >>> optim.apply_updates(params, updates)["w"]  # the first step is about -lr * sign(g)
    Array([ 0.9000007, -1.9000007], dtype=float32)

    .. note::
        optax: ``optax.adam``, identical. PyTorch's ``Adam(lr, betas=(b1, b2), eps)`` is
        the same algorithm with the bias corrections folded into the step size,
        :math:`\\eta\\sqrt{1-\\beta_2^t}/(1-\\beta_1^t)`, and :math:`\\epsilon` scaled
        accordingly — equal in exact arithmetic, not bit for bit
        (``jaxdl.optim.torch.adam``). Keras's ``Adam`` defaults to ``epsilon=1e-7``.
    """
    check_hyperparameters(
        "adam", learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root
    )
    return _checked(
        "adam",
        chain(
            scale_by_adam(
                b1=b1, b2=b2, eps=eps, eps_root=eps_root, mu_dtype=mu_dtype, nesterov=nesterov
            ),
            scale_by_learning_rate(learning_rate),
        ),
    )


@memoized
def nadam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
) -> GradientTransformation:
    """NAdam: Adam with Nesterov momentum (Dozat, 2016), in optax's form.

    .. math::

        \\hat m = \\beta_1 \\frac{m}{1-\\beta_1^{t+1}} + (1-\\beta_1)\\frac{g}{1-\\beta_1^t},
        \\qquad
        \\theta \\leftarrow \\theta - \\eta\\,
        \\frac{\\hat m}{\\sqrt{v/(1-\\beta_2^t) + \\epsilon_{root}} + \\epsilon}

    with :math:`m, v` updated as in :func:`adam`. Each term is bias-corrected before it is
    weighted, and :math:`\\beta_1` is constant (no momentum schedule).

    **Arguments:** as :func:`adam` (defaults 0.9, 0.999, 1e-8, 0).

    **Returns:** a :class:`GradientTransformation`:
    ``scale_by_adam(nesterov=True)`` then the learning rate.

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> opt = optim.nadam(learning_rate=0.1)
    >>> updates, _ = opt.update({"w": jnp.array([2.0])}, opt.init({"w": jnp.zeros(1)}))
    >>> updates["w"]  # about -0.1 * (0.9 * 0.2 / 0.19 + 0.1 * 2 / 0.1) / 2
    Array([-0.14736743], dtype=float32)

    .. note::
        optax: ``optax.nadam``, identical. PyTorch's ``NAdam`` multiplies
        :math:`\\beta_1` by a momentum schedule
        :math:`\\mu_t = \\beta_1(1 - \\tfrac12 0.96^{t\\psi})` (``momentum_decay``
        :math:`\\psi = 0.004`) and uses its running product in the corrections — a
        different trajectory (``jaxdl.optim.torch.nadam``). Keras's ``Nadam`` has a schedule
        too.
    """
    check_hyperparameters(
        "nadam", learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root
    )
    return _checked(
        "nadam",
        chain(
            scale_by_adam(
                b1=b1, b2=b2, eps=eps, eps_root=eps_root, mu_dtype=mu_dtype, nesterov=True
            ),
            scale_by_learning_rate(learning_rate),
        ),
    )


@memoized
def adamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: DTypeLike | None = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any | Callable[[Params], Any] | None = None,
    *,
    nesterov: bool = False,
) -> GradientTransformation:
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    .. math::

        \\theta \\leftarrow \\theta - \\eta \\left(
        \\frac{\\hat m}{\\sqrt{\\hat v + \\epsilon_{root}} + \\epsilon}
        + \\lambda \\theta \\right)

    with :math:`\\hat m, \\hat v` as in :func:`adam`. The decay is not in the moments, and
    it is multiplied by the learning rate.

    **Arguments:** as :func:`adam`, plus

    - ``weight_decay``: :math:`\\lambda \\ge 0` or a schedule (default 1e-4).
    - ``mask``: ``None`` (decay every leaf, biases included), a pytree of booleans shaped
      like the parameters (or a prefix), or a function of the parameters returning one.

    **Returns:** a :class:`GradientTransformation`: ``scale_by_adam``,
    ``add_decayed_weights``, then the learning rate; ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> from jaxdl import optim
    >>> params = {"w": jnp.array([10.0]), "b": jnp.array([10.0])}
    >>> opt = optim.adamw(learning_rate=0.1, weight_decay=0.5, mask={"w": True, "b": False})
    >>> zero_grads = {"w": jnp.zeros(1), "b": jnp.zeros(1)}
    >>> updates, _ = opt.update(zero_grads, opt.init(params), params)
    >>> updates["w"], updates["b"]  # -0.1 * 0.5 * 10 on w only
    (Array([-0.5], dtype=float32), Array([-0.], dtype=float32))

    .. note::
        optax: ``optax.adamw``, identical. PyTorch's ``AdamW`` defaults to
        ``weight_decay=1e-2`` and multiplies the parameters by :math:`1 - \\eta\\lambda`
        before the Adam step (``jaxdl.optim.torch.adamw``); Keras's ``AdamW`` defaults to
        ``weight_decay=0.004``.
    """
    check_hyperparameters(
        "adamw",
        learning_rate=learning_rate,
        b1=b1,
        b2=b2,
        eps=eps,
        eps_root=eps_root,
        weight_decay=weight_decay,
    )
    return _checked(
        "adamw",
        chain(
            scale_by_adam(
                b1=b1, b2=b2, eps=eps, eps_root=eps_root, mu_dtype=mu_dtype, nesterov=nesterov
            ),
            add_decayed_weights(weight_decay, mask),
            scale_by_learning_rate(learning_rate),
        ),
    )


# --- the update check ---------------------------------------------------------------------


def _checked(owner: str, transform: GradientTransformation) -> GradientTransformation:
    """``transform`` whose ``update`` first checks the gradients against the params and
    the state's params-shaped buffers (trace-time only under ``jit``)."""
    inner_update = transform.update

    def update(
        updates: Updates, state: OptState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, OptState]:
        if params is not None:
            check_tree_matches(owner, updates, params, "params")
        for inner in state if isinstance(state, tuple) else ():
            for field in _BUFFERS.get(type(inner), ()):
                what = f"optimizer state's {type(inner).__name__}.{field}"
                check_tree_matches(owner, updates, getattr(inner, field), what)
        return inner_update(updates, state, params, **extra_args)

    return GradientTransformation(transform.init, update)


# The state fields that hold one array per parameter, by state type.
_BUFFERS: dict[type, tuple[str, ...]] = {
    TraceState: ("trace",),
    ScaleByRssState: ("sum_of_squares",),
    ScaleByRmsState: ("nu",),
    ScaleByRStdDevState: ("mu", "nu"),
    ScaleByAdamState: ("mu", "nu"),
    ScaleByAdaDeltaState: ("e_g", "e_x"),
}

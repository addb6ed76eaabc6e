r"""Generative adversarial networks (docs/concepts.md §10): a training step for two
models, each with its own :class:`TrainState` and optimizer, and a ``fit``-like loop.

Goodfellow et al. (2014) train a generator :math:`G` (noise :math:`z \sim p_z` to a
sample) against a discriminator :math:`D` (a sample to the probability that it is real)
in the minimax game

.. math::
    \min_G \max_D\, V(D, G) = \mathrm{E}_{x \sim p_{data}}[\log D(x)]
    + \mathrm{E}_{z \sim p_z}[\log(1 - D(G(z)))].

Here the discriminator outputs a *logit* :math:`\ell`, with :math:`D = \sigma(\ell)`, and
every loss is computed from logits with
:func:`jaxdl.losses.binary_cross_entropy_with_logits`, which stays finite however
confident :math:`D` becomes.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import losses, nn, optim
from jaxdl._rng import merge_draws
from jaxdl.train._callbacks import Callback
from jaxdl.train._history import History
from jaxdl.train._inputs import (
    check_callbacks,
    check_flag,
    check_int,
    check_key,
    check_on_divergence,
    check_progress,
    check_run,
)
from jaxdl.train._loops import cached, convolutions_on_cpu, make_fit_epoch
from jaxdl.train._progress import run_epochs
from jaxdl.train._state import TrainState

__all__ = [
    "GANState",
    "GANStep",
    "discriminator_loss",
    "fit_gan",
    "generator_loss",
    "initial_gan_state",
    "make_gan_step",
]

GAN_LOSSES = ("non_saturating", "minimax")
"""The generator losses of :func:`make_gan_step`."""

Prior = Callable[[jax.Array, tuple[int, ...]], jax.Array]

# As fit's: data above this stays in host memory and streams batch by batch.
DEVICE_DATA_LIMIT_BYTES = 2**30


class GANState(NamedTuple):
    """The two players' training states, as one pytree: a jitted GAN step takes and
    returns it, and :mod:`jaxdl.checkpoint` saves and restores it whole.

    Fields:
        generator: the generator's :class:`TrainState` (its ``step`` counts generator
            updates).
        discriminator: the discriminator's :class:`TrainState` (its ``step`` counts
            discriminator updates: ``d_steps`` per GAN step).
    """

    generator: TrainState
    discriminator: TrainState

    @property
    def step(self) -> jax.Array:
        """The number of GAN steps taken: the generator's update count (what a schedule
        of the generator's optimizer, or :class:`LearningRateLogger`, reads)."""
        return self.generator.step


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    r"""The discriminator's loss, :math:`-V(D, G)` on a batch:

    .. math::
        L_D = -\tfrac1m \sum_i \log \sigma(\ell^{real}_i)
              - \tfrac1m \sum_i \log\big(1 - \sigma(\ell^{fake}_i)\big),

    the binary cross-entropy of real samples against label 1 plus that of generated
    samples against label 0 (each a batch mean). A discriminator that cannot tell them
    apart (:math:`D = \tfrac12` everywhere) scores :math:`2 \log 2 \approx 1.386`.

    Arguments:
        real_logits, fake_logits: the discriminator's logits on real and generated
            samples, any shapes.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxdl.train import discriminator_loss
        >>> discriminator_loss(jnp.zeros(4), jnp.zeros(4))  # 2 log 2
        Array(1.3862944, dtype=float32)
    """
    real_logits, fake_logits = jnp.asarray(real_logits), jnp.asarray(fake_logits)
    return losses.binary_cross_entropy_with_logits(
        real_logits, jnp.ones_like(real_logits)
    ) + losses.binary_cross_entropy_with_logits(fake_logits, jnp.zeros_like(fake_logits))


def generator_loss(fake_logits: jax.Array, kind: str = "non_saturating") -> jax.Array:
    r"""The generator's loss on the discriminator's logits :math:`\ell = \ell(G(z))`:

    - ``"non_saturating"`` (default): :math:`L_G = -\mathrm{E}_z \log D(G(z))
      = \mathrm{E}\, \mathrm{softplus}(-\ell)`. Goodfellow et al. (2014) propose it
      because early in training :math:`D` rejects the samples confidently, where
      :math:`\log(1 - D(G(z)))` is flat (its gradient in :math:`\ell` is
      :math:`-\sigma(\ell) \to 0`) while this one's is :math:`\sigma(\ell) - 1 \to -1`.
    - ``"minimax"``: the game's own objective, :math:`L_G = \mathrm{E}_z \log(1 -
      D(G(z))) = -\mathrm{E}\, \mathrm{softplus}(\ell)`, minimised.

    Both have the same fixed point (:math:`p_g = p_{data}`).

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxdl.train import generator_loss
        >>> logits = jnp.array([-2.0, 0.0])
        >>> generator_loss(logits), generator_loss(logits, "minimax")
        (Array(1.4100376, dtype=float32), Array(-0.41003758, dtype=float32))
    """
    _check_loss_kind("generator_loss", kind)
    fake_logits = jnp.asarray(fake_logits)
    if kind == "non_saturating":
        return losses.binary_cross_entropy_with_logits(fake_logits, jnp.ones_like(fake_logits))
    return -losses.binary_cross_entropy_with_logits(fake_logits, jnp.zeros_like(fake_logits))


def make_gan_step(
    generator: nn.Layer,
    discriminator: nn.Layer,
    g_optimizer: optim.GradientTransformation,
    d_optimizer: optim.GradientTransformation,
    *,
    latent_dim: int,
    loss: str = "non_saturating",
    d_steps: int = 1,
    prior: Prior = jax.random.normal,
) -> GANStep:
    r"""Build ``step(gan_state, real_batch, key) -> (gan_state, metrics)``: the
    discriminator's updates, then the generator's, as one pure function to ``jax.jit``.

    Algorithm 1 of Goodfellow et al. (2014). The real batch of ``d_steps·m`` samples is
    split into ``d_steps`` consecutive slices of ``m``; for each slice, in order:

    1. draw :math:`z_{1..m} \sim` ``prior`` and generate :math:`G(z)` (the generator in
       training mode, its gradient stopped);
    2. update :math:`D` with ``d_optimizer`` on :func:`discriminator_loss` of the slice
       and :math:`G(z)`: one step of :math:`\max_D V`.

    Then, once, with the updated :math:`D`: draw fresh :math:`z_{1..m}` and update
    :math:`G` with ``g_optimizer`` on :func:`generator_loss` (``loss``) — the gradient
    flows through :math:`D` into :math:`G`'s params only. Each discriminator update thus
    sees its own real samples and its own noise, as in the paper.

    Training mode and model state: both models run with ``train=True`` (batch statistics,
    dropout) throughout. The discriminator runs on the real slice, then on the generated
    one, as two passes (each normalised by its own batch statistics, as in DCGAN
    implementations); its state (batch-norm running statistics) is threaded through both
    and kept. The generator's state is the one from its forward pass in the generator
    update. A pass that belongs to the other player's update leaves the model's state as
    it was: the generator's forward in a discriminator update, and the discriminator's in
    the generator update, return a state that is dropped.

    Keys: ``keys = jax.random.split(key, d_steps + 1)``; discriminator update ``i`` splits
    ``keys[i]`` into ``(z, generator dropout, discriminator dropout on real, on fake)``,
    and the generator update splits ``keys[-1]`` into ``(z, generator dropout,
    discriminator dropout)``. The same key gives the same step.

    Arguments:
        generator: a layer mapping ``(m, latent_dim)`` noise to samples shaped like the
            real ones, e.g. ``(m, 28, 28, 1)``.
        discriminator: a layer mapping samples to one logit each, shape ``(m,)`` or
            ``(m, 1)``; no sigmoid at the end.
        g_optimizer, d_optimizer: each player's :class:`jaxdl.optim.GradientTransformation`
            (or optax's); e.g. ``optim.adam(2e-4, b1=0.5)`` for both, as in DCGAN.
        latent_dim: the size of :math:`z` (≥ 1).
        loss: the generator loss, ``"non_saturating"`` (default) or ``"minimax"``.
        d_steps: discriminator updates per generator update, :math:`k \ge 1` (default 1).
        prior: ``prior(key, (m, latent_dim)) -> z``, float32 (default
            ``jax.random.normal``: :math:`z \sim \mathcal N(0, I)`; ``jax.random.uniform``
            works too).

    Returns:
        A :class:`GANStep`. ``metrics`` holds ``d_loss`` (:func:`discriminator_loss`),
        ``d_real`` and ``d_fake`` (the mean of :math:`D(x)` and :math:`D(G(z))`, as
        probabilities), each computed before its update and averaged over the
        ``d_steps`` updates, and ``g_loss`` (the generator loss before its update). Steps
        built from equal arguments compare and hash equal, so their compiled programs
        are reused.

    Raises:
        TypeError: models that are not layers, optimizers that are not
            GradientTransformations, a ``latent_dim``/``d_steps`` that is not an int, a
            ``prior`` that is not callable.
        ValueError: an unknown ``loss``, ``latent_dim < 1`` or ``d_steps < 1``; when the
            step is traced, a real batch that ``d_steps`` does not divide, a generator
            output that is not shaped like the real samples, or a discriminator output
            that is not one logit per sample.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxdl import activations, nn, optim, train
        >>> gen = nn.Sequential([nn.Dense(8), activations.relu, nn.Dense(2)])
        >>> disc = nn.Sequential([nn.Dense(8), activations.relu, nn.Dense(1)])
        >>> opt = optim.adam(1e-3)
        >>> real = jax.random.normal(jax.random.key(0), (16, 2))
        >>> gs = train.initial_gan_state(gen, disc, opt, opt, real, latent_dim=4,
        ...                              key=jax.random.key(1))
        >>> step = jax.jit(train.make_gan_step(gen, disc, opt, opt, latent_dim=4))
        >>> gs, metrics = step(gs, real, jax.random.key(2))
        >>> sorted(metrics), int(gs.generator.step), int(gs.discriminator.step)
        (['d_fake', 'd_loss', 'd_real', 'g_loss'], 1, 1)
    """
    _check_players("make_gan_step", generator, discriminator, g_optimizer, d_optimizer)
    _check_count("make_gan_step", "latent_dim", latent_dim)
    _check_count("make_gan_step", "d_steps", d_steps)
    _check_loss_kind("make_gan_step", loss)
    if not callable(prior):
        raise TypeError(
            f"make_gan_step: prior must be a function (key, shape) -> noise such as "
            f"jax.random.normal, got {prior!r}."
        )
    return GANStep(
        generator,
        discriminator,
        g_optimizer,
        d_optimizer,
        int(latent_dim),
        loss,
        int(d_steps),
        prior,
    )


@dataclasses.dataclass(frozen=True)
class GANStep:
    """The GAN step of :func:`make_gan_step`: a callable holding what it closes over;
    equal fields compare and hash equal (layers by hyperparameters, optimizers and the
    prior by identity)."""

    generator: nn.Layer
    discriminator: nn.Layer
    g_optimizer: optim.GradientTransformation
    d_optimizer: optim.GradientTransformation
    latent_dim: int
    loss: str = "non_saturating"
    d_steps: int = 1
    prior: Prior = jax.random.normal

    def __call__(
        self, gan_state: GANState, real_batch: Any, key: jax.Array
    ) -> tuple[GANState, dict[str, jax.Array]]:
        real = jnp.asarray(real_batch)
        n = real.shape[0] if real.ndim else 0
        if real.ndim < 1 or n % self.d_steps or n == 0:
            raise ValueError(
                f"GAN step: the real batch must have a positive number of samples that "
                f"d_steps={self.d_steps} divides (one slice per discriminator update), got "
                f"shape {real.shape}."
            )
        m = n // self.d_steps
        keys = jax.random.split(key, self.d_steps + 1)
        generator, discriminator = gan_state
        d_metrics = []
        for i in range(self.d_steps):
            discriminator, metrics = self._discriminator_update(
                generator, discriminator, real[i * m : (i + 1) * m], keys[i]
            )
            d_metrics.append(metrics)
        generator, g_loss = self._generator_update(
            generator, discriminator, m, real.shape[1:], keys[-1]
        )
        metrics = jax.tree_util.tree_map(lambda *v: jnp.mean(jnp.stack(v)), *d_metrics)
        return GANState(generator, discriminator), {**metrics, "g_loss": g_loss}

    def _generate(
        self, g: TrainState, z_key: jax.Array, dropout_key: jax.Array, m: int, params: Any = None
    ) -> tuple[jax.Array, Any]:
        z = self.prior(z_key, (m, self.latent_dim))
        return self.generator.apply(
            g.params if params is None else params, g.state, z, key=dropout_key, train=True
        )

    def _discriminator_update(
        self, g: TrainState, d: TrainState, real: jax.Array, key: jax.Array
    ) -> tuple[TrainState, dict[str, jax.Array]]:
        z_key, g_key, real_key, fake_key = jax.random.split(key, 4)
        fake, _ = self._generate(g, z_key, g_key, real.shape[0])
        _check_generated(fake, real.shape[1:])
        fake = jax.lax.stop_gradient(fake)

        def objective(params):
            real_logits, state = self.discriminator.apply(
                params, d.state, real, key=real_key, train=True
            )
            fake_logits, state = self.discriminator.apply(
                params, state, fake, key=fake_key, train=True
            )
            real_logits = _one_logit_each(real_logits, real.shape[0])
            fake_logits = _one_logit_each(fake_logits, real.shape[0])
            return discriminator_loss(real_logits, fake_logits), (state, real_logits, fake_logits)

        (loss, (state, real_logits, fake_logits)), grads = jax.value_and_grad(
            objective, has_aux=True
        )(d.params)
        d = d.apply_gradients(grads, self.d_optimizer, state=state)
        return d, {
            "d_loss": loss,
            "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
            "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
        }

    def _generator_update(
        self,
        g: TrainState,
        d: TrainState,
        m: int,
        sample_shape: tuple[int, ...],
        key: jax.Array,
    ) -> tuple[TrainState, jax.Array]:
        z_key, g_key, d_key = jax.random.split(key, 3)

        def objective(params):
            fake, state = self._generate(g, z_key, g_key, m, params)
            _check_generated(fake, sample_shape)
            logits, _ = self.discriminator.apply(d.params, d.state, fake, key=d_key, train=True)
            return generator_loss(_one_logit_each(logits, m), self.loss), state

        (loss, state), grads = jax.value_and_grad(objective, has_aux=True)(g.params)
        return g.apply_gradients(grads, self.g_optimizer, state=state), loss


def initial_gan_state(
    generator: nn.Layer,
    discriminator: nn.Layer,
    g_optimizer: optim.GradientTransformation,
    d_optimizer: optim.GradientTransformation,
    x: Any,
    *,
    latent_dim: int,
    key: jax.Array,
) -> GANState:
    """Both players initialised, at step 0: ``g_key, d_key = jax.random.split(key)``; the
    generator for ``(1, latent_dim)`` noise from ``g_key``, the discriminator for
    samples shaped like one of ``x`` from ``d_key``, each with its optimizer's state.
    One compiled program, cached per models, optimizers and shapes.

    Arguments:
        x: real samples (an array or a ``jax.ShapeDtypeStruct``; only the shape and dtype
            of one sample are used).
    """
    _check_players("initial_gan_state", generator, discriminator, g_optimizer, d_optimizer)
    _check_count("initial_gan_state", "latent_dim", latent_dim)
    check_key(key)
    if not isinstance(x, (jax.Array, np.ndarray, jax.ShapeDtypeStruct)) or not x.ndim:
        raise TypeError(
            f"initial_gan_state: x must be an array of samples (n, ...) or a "
            f"jax.ShapeDtypeStruct, got {type(x).__name__}."
        )
    build = cached(
        _jit_initial_state,
        generator,
        discriminator,
        g_optimizer,
        d_optimizer,
        int(latent_dim),
        (1, *x.shape[1:]),
        np.dtype(x.dtype),
        False,
    )
    return build(key)


def fit_gan(
    generator: nn.Layer,
    discriminator: nn.Layer,
    g_optimizer: optim.GradientTransformation,
    d_optimizer: optim.GradientTransformation,
    x: Any,
    *,
    latent_dim: int,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    loss: str = "non_saturating",
    d_steps: int = 1,
    prior: Prior = jax.random.normal,
    callbacks: Sequence[Callback] = (),
    progress: bool | str = True,
    gan_state: GANState | None = None,
    initial_epoch: int = 0,
    streaming: bool | None = None,
    on_divergence: str = "stop",
) -> tuple[GANState, History]:
    """Train a GAN for ``epochs`` passes over the real samples ``x``; :func:`fit` for two
    players, with the step of :func:`make_gan_step`.

    Each epoch shuffles ``x`` with a key derived from ``key`` and the epoch number and
    takes one GAN step per ``d_steps · batch_size`` samples (``batch_size`` real samples
    per discriminator update, ``batch_size`` generated ones per generator update; the
    remainder is skipped that epoch). As in :func:`fit`, the epoch is one compiled program
    (``lax.scan`` over the batches) when the data fits on the device, except on the CPU
    backend when either model has a (transposed) convolution: those run one jitted step
    per batch, which XLA:CPU computes much faster (see :func:`fit`). Either way the run is
    the same.

    Arguments:
        generator, discriminator, g_optimizer, d_optimizer, latent_dim, loss, d_steps,
        prior: as for :func:`make_gan_step`.
        x: real samples, a floating NumPy or JAX array ``(n, ...)`` (e.g. images
            ``(n, 28, 28, 1)`` scaled like the generator's output).
        epochs: the epoch to stop at (≥ 0); with ``initial_epoch``, epochs
            ``initial_epoch … epochs-1`` run.
        batch_size: samples per update (≥ 1; clipped to ``n // d_steps``).
        key: initialisation (:func:`initial_gan_state` with the first half of
            ``jax.random.split(key)``), shuffling, noise and dropout all derive from it.
        callbacks: :class:`Callback` objects; their :class:`FitContext` holds the
            :class:`GANState` as ``context.train_state``. :class:`ModelCheckpoint` saves it
            (both players, restore with ``checkpoint.restore(directory, like=gan_state)``)
            and :class:`EarlyStopping` can monitor any logged value; ``context.train_state
            .step`` is the generator's step count.
        progress: a progress bar with the latest metrics (default True); a string
            labels it.
        gan_state: continue from this state (e.g. a restored checkpoint).
        initial_epoch: the epoch to start at when resuming (default 0).
        streaming: force one jitted step per batch (True) or the compiled epoch (False);
            default: by size and backend, as above.
        on_divergence: ``"stop"`` (default), ``"raise"`` or ``"ignore"``, as for
            :func:`fit`; the losses watched are ``d_loss`` and ``g_loss``, and the state
            both players' (a GAN whose losses turn NaN stops with the last finite
            :class:`GANState` and a ``RuntimeWarning``).

    Returns:
        ``(gan_state, history)``: ``history`` holds the epoch means of ``d_loss``,
        ``g_loss``, ``d_real`` and ``d_fake`` (see :func:`make_gan_step`), and anything
        the callbacks log.

    Raises:
        TypeError: as :func:`make_gan_step`; a non-floating ``x``; a ``key`` that is not a
            JAX key; ``callbacks`` that are not a list of callbacks; ``streaming`` other
            than True, False or None.
        DivergenceError: with ``on_divergence="raise"``, when training diverges.
        ValueError: as :func:`make_gan_step`; an empty ``x`` or one without a sample axis,
            NaN/inf in ``x``, fewer samples than ``d_steps``, bad ``epochs``/``batch_size``,
            a generator whose output is not shaped like one sample of ``x``, or a
            discriminator that does not output one logit per sample — all before anything
            compiles.

    Example:
        >>> import jax, numpy as np
        >>> from jaxdl import activations, nn, optim, train
        >>> x = (3 + 0.5 * np.random.default_rng(0).normal(size=(512, 1))).astype("float32")
        >>> gen = nn.Sequential([nn.Dense(16), activations.relu, nn.Dense(1)])
        >>> disc = nn.Sequential([nn.Dense(16), activations.relu, nn.Dense(1)])
        >>> opt = optim.adam(1e-2, b1=0.5)
        >>> gs, history = train.fit_gan(gen, disc, opt, opt, x, latent_dim=2, epochs=20,
        ...     batch_size=32, key=jax.random.key(0), progress=False)
        >>> len(history["g_loss"]), int(gs.generator.step)
        (20, 320)
    """
    step = make_gan_step(
        generator,
        discriminator,
        g_optimizer,
        d_optimizer,
        latent_dim=latent_dim,
        loss=loss,
        d_steps=d_steps,
        prior=prior,
    )
    check_run(epochs, batch_size, initial_epoch, None, name="fit_gan")
    check_key(key)
    callbacks = check_callbacks("fit_gan", callbacks)
    check_flag("fit_gan", "streaming", streaming)
    check_progress("fit_gan", progress)
    check_on_divergence("fit_gan", on_divergence)
    if gan_state is not None and not isinstance(gan_state, GANState):
        raise TypeError(f"fit_gan: gan_state must be a GANState, got {type(gan_state).__name__}.")
    x = _checked_samples(x, d_steps)
    _check_shapes(step, x)
    batch_size = min(batch_size, len(x) // d_steps)

    if gan_state is None:
        gan_state, data_key = cached(
            _jit_initial_state,
            generator,
            discriminator,
            g_optimizer,
            d_optimizer,
            step.latent_dim,
            (1, *x.shape[1:]),
            np.dtype(x.dtype),
            True,
        )(key)
    else:
        data_key = _jit_split(key)[1]
    fits_on_device = x.nbytes <= DEVICE_DATA_LIMIT_BYTES
    if streaming is None:
        streaming = (
            not fits_on_device
            or convolutions_on_cpu(generator)
            or convolutions_on_cpu(discriminator)
        )
    run_epoch = make_fit_epoch(_PairStep(step), d_steps * batch_size, streaming=streaming)
    # The epoch helpers shuffle (x, y) pairs: the GAN's y is an empty column per sample.
    y = np.zeros((len(x), 0), np.float32)
    if fits_on_device or not streaming:
        x, y = jax.device_put((x, y))

    return run_epochs(
        run_epoch,
        gan_state,
        (x, y),
        data_key,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        progress=progress,
        label="fit_gan",
        on_divergence=on_divergence,
    )


@dataclasses.dataclass(frozen=True)
class _PairStep:
    """A GAN step under the ``(state, (x, y), key)`` signature of the epoch helpers of
    ``_loops.py`` (``y`` is ignored), so ``fit_gan`` shares ``fit``'s compiled epochs."""

    step: GANStep

    def __call__(self, gan_state: GANState, batch: tuple[Any, Any], key: jax.Array):
        return self.step(gan_state, batch[0], key)


def _jit_initial_state(
    generator, discriminator, g_optimizer, d_optimizer, latent_dim, sample_shape, dtype, split
):
    def create(key: jax.Array) -> GANState:
        g_key, d_key = jax.random.split(key)
        g_params, g_state = generator.init(
            g_key, jax.ShapeDtypeStruct((1, latent_dim), jnp.float32)
        )
        d_params, d_state = discriminator.init(d_key, jax.ShapeDtypeStruct(sample_shape, dtype))
        return GANState(
            TrainState.create(params=g_params, state=g_state, optimizer=g_optimizer),
            TrainState.create(params=d_params, state=d_state, optimizer=d_optimizer),
        )

    def create_and_split(key: jax.Array) -> tuple[GANState, jax.Array]:
        init_key, data_key = jax.random.split(key)
        return create(init_key), data_key

    return jax.jit(merge_draws(create_and_split if split else create))


_jit_split = jax.jit(jax.random.split)


def _check_players(
    owner: str, generator: Any, discriminator: Any, g_optimizer: Any, d_optimizer: Any
) -> None:
    for name, layer in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(layer, nn.Layer):
            raise TypeError(
                f"{owner}: {name} must be a layer (jaxdl.nn.Layer, e.g. an "
                f"nn.Sequential), got {type(layer).__name__}."
            )
    for name, opt in (("g_optimizer", g_optimizer), ("d_optimizer", d_optimizer)):
        if not (callable(getattr(opt, "init", None)) and callable(getattr(opt, "update", None))):
            raise TypeError(
                f"{owner}: {name} must be a GradientTransformation (e.g. "
                f"optim.adam(2e-4, b1=0.5)), got {opt!r}."
            )


def _check_count(owner: str, name: str, value: Any) -> None:
    check_int(owner, name, value, minimum=1)


def _check_loss_kind(owner: str, kind: Any) -> None:
    if not isinstance(kind, str) or kind not in GAN_LOSSES:
        raise ValueError(f"{owner}: loss must be one of {GAN_LOSSES}, got {kind!r}.")


def _checked_samples(x: Any, d_steps: int) -> Any:
    if not isinstance(x, jax.Array):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"fit_gan: x must be an array of real samples, got {type(x).__name__}."
            ) from error
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"fit_gan: x must be a floating array (e.g. float32 pixels), got dtype {x.dtype}."
        )
    if x.ndim < 2:
        raise ValueError(
            f"fit_gan: x needs a sample axis and at least one feature axis, got shape {x.shape}."
        )
    if len(x) == 0:
        raise ValueError("fit_gan: x is empty (0 samples).")
    if len(x) < d_steps:
        raise ValueError(
            f"fit_gan: x has {len(x)} samples, fewer than d_steps={d_steps} "
            "(one real slice per discriminator update)."
        )
    finite = jnp.isfinite(x).all() if isinstance(x, jax.Array) else np.isfinite(x).all()
    if not bool(finite):
        raise ValueError("fit_gan: x contains NaN or inf values.")
    return x


def _check_shapes(step: GANStep, x: Any) -> None:
    """The generator's output and the discriminator's, by shape inference on one sample
    (no compile; remembered per models and shapes): the step's shape errors, raised
    before anything compiles."""
    args = (
        step.generator,
        step.discriminator,
        step.latent_dim,
        tuple(x.shape[1:]),
        np.dtype(x.dtype),
    )
    try:
        hash(args)
    except TypeError:  # models that cannot be hashed are checked every time
        _check_output_shapes.__wrapped__(*args)
        return
    _check_output_shapes(*args)


@functools.lru_cache(maxsize=128)
def _check_output_shapes(
    generator: nn.Layer,
    discriminator: nn.Layer,
    latent_dim: int,
    sample_shape: tuple[int, ...],
    dtype: np.dtype,
) -> None:
    def forward(layer, spec):
        def run(key, v):
            return layer.apply(*layer.init(key, v), v)[0]

        return jax.eval_shape(run, jax.random.key(0), spec)

    fake = forward(generator, jax.ShapeDtypeStruct((1, latent_dim), jnp.float32))
    _check_generated(fake, sample_shape)
    _check_logits(forward(discriminator, jax.ShapeDtypeStruct((1, *sample_shape), dtype)).shape, 1)


def _check_generated(fake: jax.Array, sample_shape: tuple[int, ...]) -> None:
    if fake.shape[1:] != tuple(sample_shape):
        raise ValueError(
            f"GAN step: the generator's samples have per-sample shape {fake.shape[1:]}, but "
            f"the real samples have {tuple(sample_shape)}."
        )


def _one_logit_each(logits: jax.Array, m: int) -> jax.Array:
    _check_logits(logits.shape, m)
    return logits.reshape(m)


def _check_logits(shape: tuple[int, ...], m: int) -> None:
    if tuple(shape) not in ((m,), (m, 1)):
        raise ValueError(
            f"GAN step: the discriminator must output one logit per sample, shape ({m},) or "
            f"({m}, 1), got {tuple(shape)}; end it with nn.Dense(1) (no sigmoid)."
        )

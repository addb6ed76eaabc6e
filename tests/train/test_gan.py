"""GAN training: the two-player step, its losses, fit_gan, checkpoints, argument checks."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, checkpoint, nn, optim, train
from jaxdl.train import GANState

LATENT = 3
# Both players hold batch norm (state to thread) and dropout (keys to split).
GEN = nn.Sequential(
    [nn.Dense(8, use_bias=False), nn.BatchNorm(), activations.relu, nn.Dropout(0.2), nn.Dense(2)]
)
DISC = nn.Sequential(
    [nn.Dense(8, use_bias=False), nn.BatchNorm(), activations.relu, nn.Dropout(0.2), nn.Dense(1)]
)
# Plain SGD: Adam would divide the float32 rounding noise of a gradient that is exactly 0
# in exact arithmetic (the generator's output bias, which the discriminator's batch norm
# cancels) by its own size, and turn 1e-9 differences into steps of the learning rate.
G_OPT, D_OPT = optim.sgd(0.05, momentum=0.5), optim.sgd(0.1, momentum=0.9)
REAL = jax.random.normal(jax.random.key(0), (12, 2)) + 2.0


def _start(gen=GEN, disc=DISC, g_opt=G_OPT, d_opt=D_OPT):
    return train.initial_gan_state(
        gen, disc, g_opt, d_opt, REAL, latent_dim=LATENT, key=jax.random.key(1)
    )


@functools.cache
def _step(d_steps=1, g_opt=G_OPT, d_opt=D_OPT, loss="non_saturating"):
    return jax.jit(
        train.make_gan_step(GEN, DISC, g_opt, d_opt, latent_dim=LATENT, loss=loss, d_steps=d_steps)
    )


def _leaves(tree):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]


def _equal(a, b):
    return all(np.array_equal(u, v) for u, v in zip(_leaves(a), _leaves(b), strict=True))


def _close(a, b, tol=1e-6):
    for u, v in zip(_leaves(a), _leaves(b), strict=True):
        np.testing.assert_allclose(u, v, rtol=tol, atol=tol)


@jax.jit
def _hand_written_step(gs, real, key):
    """Algorithm 1 for k = 1 written out with jax.grad, the formulas and the documented
    key convention; the losses straight from log σ, not from the library."""
    g, d = gs
    m = real.shape[0]
    d_key, g_key = jax.random.split(key, 2)

    z_key, gen_key, real_key, fake_key = jax.random.split(d_key, 4)
    fake, _ = GEN.apply(
        g.params, g.state, jax.random.normal(z_key, (m, LATENT)), key=gen_key, train=True
    )

    def d_objective(params):
        real_logits, state = DISC.apply(params, d.state, real, key=real_key, train=True)
        fake_logits, state = DISC.apply(params, state, fake, key=fake_key, train=True)
        value = jnp.mean(jax.nn.log_sigmoid(real_logits)) + jnp.mean(
            jnp.log1p(-jax.nn.sigmoid(fake_logits))
        )
        return -value, state

    d_grads, d_state = jax.grad(d_objective, has_aux=True)(d.params)
    updates, d_opt_state = D_OPT.update(d_grads, d.opt_state, d.params)
    d_params = optim.apply_updates(d.params, updates)

    z_key, gen_key, disc_key = jax.random.split(g_key, 3)

    def g_objective(params):
        fake, state = GEN.apply(
            params, g.state, jax.random.normal(z_key, (m, LATENT)), key=gen_key, train=True
        )
        logits, _ = DISC.apply(d_params, d_state, fake, key=disc_key, train=True)
        return -jnp.mean(jax.nn.log_sigmoid(logits)), state

    g_grads, g_state = jax.grad(g_objective, has_aux=True)(g.params)
    updates, g_opt_state = G_OPT.update(g_grads, g.opt_state, g.params)
    g_params = optim.apply_updates(g.params, updates)
    return GANState(
        train.TrainState(g.step + 1, g_params, g_state, g_opt_state),
        train.TrainState(d.step + 1, d_params, d_state, d_opt_state),
    )


def test_gan_step_equals_two_hand_written_updates():
    start, key = _start(), jax.random.key(2)
    expected = _hand_written_step(start, REAL, key)
    result, _ = _step()(start, REAL, key)
    _close(result, expected)
    # Both models' batch-norm statistics moved, and were threaded as written above.
    assert not _equal(result.generator.state, start.generator.state)
    assert not _equal(result.discriminator.state, start.discriminator.state)


def test_each_update_moves_only_its_own_player():
    # A generator whose optimizer discards every update: its params stay as they were
    # through the discriminator's update, and the discriminator ends exactly where it
    # does when the generator moves (params, statistics, optimizer state), so neither
    # update touches the other player.
    frozen_g = optim.set_to_zero()
    key = jax.random.key(3)
    moving, _ = _step()(_start(), REAL, key)
    start = _start(g_opt=frozen_g)
    frozen, _ = _step(g_opt=frozen_g)(start, REAL, key)
    assert _equal(frozen.generator.params, start.generator.params)
    assert not _equal(moving.generator.params, start.generator.params)
    assert _equal(frozen.discriminator, moving.discriminator)
    assert not _equal(frozen.discriminator.params, start.discriminator.params)


LOGITS = np.array([-30.0, -2.0, -0.5, 0.0, 1.0, 4.0], np.float64)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize(
    ("kind", "formula"),
    [
        ("non_saturating", lambda z: -np.mean(np.log(_sigmoid(z)))),
        ("minimax", lambda z: np.mean(np.log(1 - _sigmoid(z)))),
    ],
)
def test_generator_losses_equal_their_formulas(kind, formula):
    value = train.generator_loss(jnp.asarray(LOGITS, jnp.float32), kind)
    np.testing.assert_allclose(float(value), formula(LOGITS), rtol=1e-6)


def test_discriminator_loss_equals_minus_the_value_function():
    real, fake = LOGITS, LOGITS[::-1] - 1.0
    value = np.mean(np.log(_sigmoid(real))) + np.mean(np.log(1 - _sigmoid(fake)))
    result = train.discriminator_loss(
        jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)
    )
    np.testing.assert_allclose(float(result), -value, rtol=1e-6)


def test_losses_stay_finite_for_confident_logits():
    logits = jnp.array([-1e4, 1e4])
    for value in (
        train.generator_loss(logits),
        train.generator_loss(logits, "minimax"),
        train.discriminator_loss(logits, logits),
    ):
        assert np.isfinite(float(value))


def test_non_saturating_loss_keeps_its_gradient_where_minimax_saturates():
    # A confident discriminator (D(G(z)) ≈ e^-8): the minimax gradient in the logit
    # vanishes (-σ(ℓ)), the non-saturating one stays near -1 (σ(ℓ) - 1).
    logit = jnp.array([-8.0])
    minimax = jax.grad(lambda z: train.generator_loss(z, "minimax"))(logit)
    saturating_free = jax.grad(train.generator_loss)(logit)
    np.testing.assert_allclose(minimax, [-float(jax.nn.sigmoid(-8.0))], rtol=1e-5)
    np.testing.assert_allclose(saturating_free, [float(jax.nn.sigmoid(-8.0)) - 1], rtol=1e-5)


def test_d_steps_performs_k_discriminator_updates_per_generator_update():
    result, metrics = _step(d_steps=2)(_start(), REAL, jax.random.key(5))
    assert int(result.discriminator.step) == 2 and int(result.generator.step) == 1
    assert result.step == result.generator.step
    assert sorted(metrics) == ["d_fake", "d_loss", "d_real", "g_loss"]


def test_d_steps_gives_each_discriminator_update_its_own_real_slice():
    # k = 2 on [a; b]: changing b changes the second update only, so the result differs
    # from the run on [a; a] — and a batch that k does not divide is refused.
    step, start, key = _step(d_steps=2), _start(), jax.random.key(6)
    a_b, _ = step(start, REAL, key)
    a_a, _ = step(start, jnp.concatenate([REAL[:6], REAL[:6]]), key)
    assert not _equal(a_b.discriminator.params, a_a.discriminator.params)
    with pytest.raises(ValueError, match="d_steps=2 divides"):
        step(start, REAL[:5], key)


def test_same_key_same_step_and_another_key_another():
    step, start = _step(), _start()
    first, m1 = step(start, REAL, jax.random.key(7))
    again, m2 = step(start, REAL, jax.random.key(7))
    other, _ = step(start, REAL, jax.random.key(8))
    assert _equal((first, m1), (again, m2))
    assert not _equal(first.generator.params, other.generator.params)


def test_equal_arguments_give_equal_hashable_steps():
    a = train.make_gan_step(GEN, DISC, G_OPT, D_OPT, latent_dim=LATENT)
    b = train.make_gan_step(GEN, DISC, G_OPT, D_OPT, latent_dim=LATENT)
    assert a == b and hash(a) == hash(b)
    assert a != train.make_gan_step(GEN, DISC, G_OPT, D_OPT, latent_dim=LATENT, d_steps=2)


# --- fit_gan ----------------------------------------------------------------------------

TOY = (3 + 0.5 * np.random.default_rng(0).normal(size=(2048, 1))).astype("float32")
TOY_GEN = nn.Sequential([nn.Dense(16), activations.relu, nn.Dense(1)])
TOY_DISC = nn.Sequential([nn.Dense(16), activations.relu, nn.Dense(1)])
TOY_OPT = optim.adam(2e-3, b1=0.5)


def _fit_toy(**kwargs):
    options = dict(latent_dim=2, epochs=2, batch_size=64, key=jax.random.key(0), progress=False)
    return train.fit_gan(TOY_GEN, TOY_DISC, TOY_OPT, TOY_OPT, TOY, **{**options, **kwargs})


def _generated(gan_state, n=4096):
    z = jax.random.normal(jax.random.key(99), (n, 2))
    return np.asarray(TOY_GEN.apply(gan_state.generator.params, gan_state.generator.state, z)[0])


def test_a_tiny_gan_learns_the_mean_of_a_gaussian():
    # N(3, 0.5²) from N(0, I) noise: the untrained generator's mean is near 0; 320 steps
    # (10 epochs of 32) move it to within 0.3 of 3.
    start, _ = _fit_toy(epochs=0)
    trained, history = _fit_toy(epochs=10)
    assert abs(_generated(start).mean() - 3) > 2
    assert abs(_generated(trained).mean() - 3) < 0.3
    assert int(trained.generator.step) == 10 * (2048 // 64)
    # Near equilibrium D cannot tell: D(x) ≈ D(G(z)) ≈ 1/2, d_loss ≈ 2 log 2.
    assert abs(history["d_real"][-1] - 0.5) < 0.1 and abs(history["d_fake"][-1] - 0.5) < 0.1
    assert abs(history["d_loss"][-1] - 2 * np.log(2)) < 0.1


def test_fit_gan_history_has_the_epoch_means():
    _, history = _fit_toy(epochs=3)
    assert sorted(history.history) == ["d_fake", "d_loss", "d_real", "g_loss"]
    assert history.epoch == [0, 1, 2]
    assert all(np.isfinite(v) for values in history.history.values() for v in values)


def test_fit_gan_counts_d_steps_per_batch():
    gan_state, _ = _fit_toy(epochs=1, d_steps=2)
    steps = 2048 // (2 * 64)
    assert int(gan_state.generator.step) == steps
    assert int(gan_state.discriminator.step) == 2 * steps


def test_scanned_and_stepped_epochs_compute_the_same_run():
    scanned, h1 = _fit_toy(streaming=False)
    stepped, h2 = _fit_toy(streaming=True)
    _close(scanned, stepped, tol=1e-5)
    np.testing.assert_allclose(h1["g_loss"], h2["g_loss"], rtol=1e-5)


def test_checkpoint_of_both_players_resumes_the_run(tmp_path):
    full, _ = _fit_toy(epochs=4)
    _fit_toy(epochs=2, callbacks=[train.ModelCheckpoint(tmp_path)])
    restored = checkpoint.restore(tmp_path, like=full)
    assert isinstance(restored.tree, GANState) and restored.metadata == {"epoch": 2}
    resumed, history = _fit_toy(epochs=4, gan_state=restored.tree, initial_epoch=2)
    assert history.epoch == [2, 3]
    _close(resumed, full)


def test_callbacks_see_the_gan_state():
    seen = []

    class Record(train.Callback):
        def on_epoch_end(self, epoch, logs, context):
            seen.append((type(context.train_state), int(context.train_state.step)))
            if epoch == 1:
                context.stop_training = True

    # A schedule reads the GAN's step count: the generator's updates.
    logger = train.LearningRateLogger(lambda step: 1e-3 * step)
    _, history = _fit_toy(epochs=5, callbacks=[Record(), logger])
    assert seen == [(GANState, 32), (GANState, 64)]
    np.testing.assert_allclose(history["learning_rate"], [0.032, 0.064], rtol=1e-6)


# --- argument checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(loss="wasserstein"), ValueError, "loss must be one of"),
        (dict(d_steps=0), ValueError, "d_steps must be an int ≥ 1"),
        (dict(d_steps=1.5), TypeError, "d_steps must be an int"),
        (dict(latent_dim=0), ValueError, "latent_dim must be an int ≥ 1"),
        (dict(latent_dim="3"), TypeError, "latent_dim must be an int"),
        (dict(generator=activations.relu), TypeError, "generator must be a layer"),
        (dict(discriminator=None), TypeError, "discriminator must be a layer"),
        (dict(g_optimizer=0.01), TypeError, "g_optimizer must be a GradientTransformation"),
        (dict(d_optimizer="adam"), TypeError, "d_optimizer must be a GradientTransformation"),
        (dict(prior=3), TypeError, "prior must be a function"),
    ],
)
def test_make_gan_step_rejects_bad_arguments(kwargs, error, match):
    arguments = dict(
        generator=GEN, discriminator=DISC, g_optimizer=G_OPT, d_optimizer=D_OPT, latent_dim=LATENT
    )
    with pytest.raises(error, match=match):
        train.make_gan_step(**{**arguments, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(x=np.ones((8, 1), np.int32)), TypeError, "floating"),
        (dict(x=np.ones((0, 1), np.float32)), ValueError, "empty"),
        (dict(x=np.ones(8, np.float32)), ValueError, "sample axis"),
        (dict(x=np.full((8, 1), np.nan, np.float32)), ValueError, "NaN"),
        (dict(x=np.ones((2, 1), np.float32), d_steps=3), ValueError, "fewer than d_steps"),
        (dict(x=np.ones((8, 3), np.float32)), ValueError, "per-sample shape"),
        (dict(discriminator=nn.Dense(2)), ValueError, "one logit per sample"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(epochs=-1), ValueError, "epochs"),
        (dict(key=0), TypeError, "key must be a JAX random key"),
        (dict(gan_state={}), TypeError, "gan_state must be a GANState"),
        (dict(loss="hinge"), ValueError, "loss must be one of"),
    ],
)
def test_fit_gan_rejects_bad_arguments(kwargs, error, match):
    arguments = dict(
        generator=TOY_GEN,
        discriminator=TOY_DISC,
        g_optimizer=TOY_OPT,
        d_optimizer=TOY_OPT,
        x=TOY[:64],
        latent_dim=2,
        epochs=1,
        batch_size=8,
        key=jax.random.key(0),
        progress=False,
    )
    with pytest.raises(error, match=match):
        train.fit_gan(**{**arguments, **kwargs})

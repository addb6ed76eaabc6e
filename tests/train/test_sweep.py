from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, losses, nn, optim, train

RNG = np.random.default_rng(0)
X = RNG.normal(size=(80, 4)).astype(np.float32)
Y = (X[:, 0] - X[:, 2] > 0).astype(np.int32)
X_VAL = RNG.normal(size=(30, 4)).astype(np.float32)
Y_VAL = (X_VAL[:, 0] - X_VAL[:, 2] > 0).astype(np.int32)
# Dropout makes each run depend on its per-step keys, not only on its initialisation.
MODEL = nn.Sequential([nn.Dense(8), activations.relu, nn.Dropout(0.25), nn.Dense(2)])
RATES = np.array([0.03, 0.03, 0.3, 0.3])  # two learning rates × two seeds
KEYS = jax.random.split(jax.random.key(7), len(RATES))


def _sweep(**kwargs):
    args = dict(
        loss=losses.softmax_cross_entropy,
        epochs=3,
        batch_size=16,
        keys=KEYS,
        hyperparameters={"learning_rate": RATES},
        progress=False,
    )
    args.update(kwargs)
    data = args.pop("train_data", (X, Y))
    model = args.pop("model", MODEL)
    return train.fit_sweep(model, args.pop("make_optimizer", optim.momentum), data, **args)


def _leaves(tree):
    return jax.tree_util.tree_leaves(tree)


@pytest.mark.parametrize("stepped", [False, True])
@pytest.mark.parametrize("make_optimizer", [optim.momentum, optim.adam])
def test_each_run_equals_fit_alone_with_its_key_and_hyperparameters(make_optimizer, stepped):
    swept, history = _sweep(
        make_optimizer=make_optimizer, validation_data=(X_VAL, Y_VAL), stepped=stepped
    )
    _assert_runs_equal_fit(MODEL, (X, Y), (X_VAL, Y_VAL), swept, history, make_optimizer)


def _assert_runs_equal_fit(model, data, validation, swept, history, make_optimizer):
    for run in (1, 2):  # different learning rates, different keys, neither the first run
        key, rate = KEYS[run], RATES[run]
        alone, alone_history = train.fit(
            model,
            make_optimizer(learning_rate=float(rate)),
            data,
            loss=losses.softmax_cross_entropy,
            epochs=3,
            batch_size=16,
            key=key,
            validation_data=validation,
            progress=False,
        )
        assert int(swept.step[run]) == int(alone.step)
        for a, b in zip(_leaves(swept.params), _leaves(alone.params)):
            np.testing.assert_allclose(a[run], b, rtol=1e-5, atol=1e-6)
        for a, b in zip(_leaves(swept.opt_state), _leaves(alone.opt_state)):
            np.testing.assert_allclose(a[run], b, rtol=1e-5, atol=1e-6)
        for name, values in alone_history.history.items():
            np.testing.assert_allclose(history[name][run], values, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stepped", [False, True], ids=["vmapped", "stepped"])
@pytest.mark.parametrize("make_optimizer", [optim.momentum, optim.adam])
def test_learning_rate_sweeps_equal_fit_bit_for_bit(make_optimizer, stepped):
    # The vmapped sweep shares the runs' step counters, so Adam's bias correction compiles
    # as in fit (a per-run counter made it differ by about one ulp per step).
    swept, history = _sweep(
        make_optimizer=make_optimizer, validation_data=(X_VAL, Y_VAL), stepped=stepped
    )
    for run in (1, 2):
        alone, alone_history = train.fit(
            MODEL,
            make_optimizer(learning_rate=float(RATES[run])),
            (X, Y),
            loss=losses.softmax_cross_entropy,
            epochs=3,
            batch_size=16,
            key=KEYS[run],
            validation_data=(X_VAL, Y_VAL),
            progress=False,
            streaming=stepped,
        )
        for a, b in zip(_leaves(swept), _leaves(alone)):
            np.testing.assert_array_equal(a[run], b)
        # The stepped sweep's loss of each batch comes from one program holding every
        # run's step, whose fusions may round it in the last bit: the states are exact.
        np.testing.assert_allclose(
            history["loss"][run], alone_history["loss"], rtol=0 if not stepped else 1e-6
        )


def test_sweeping_adams_b1_agrees_with_fit_to_float32_rounding():
    # b1 enters the bias correction as a vector over the runs, which XLA compiles as a
    # multiplication by reciprocals where fit divides: a few ulp after 3 epochs.
    b1 = np.array([0.8, 0.8, 0.95, 0.95])
    swept, _ = _sweep(make_optimizer=lambda b1: optim.adam(0.03, b1=b1), hyperparameters={"b1": b1})
    for run in (1, 2):
        alone, _ = train.fit(
            MODEL,
            optim.adam(0.03, b1=float(b1[run])),
            (X, Y),
            loss=losses.softmax_cross_entropy,
            epochs=3,
            batch_size=16,
            key=KEYS[run],
            progress=False,
        )
        for a, b in zip(_leaves(swept.params), _leaves(alone.params)):
            np.testing.assert_allclose(a[run], b, rtol=0, atol=1e-6)


class _SkipCount(NamedTuple):
    count: jax.Array  # depends on the run's gradients: cannot be shared by the runs


def _counting_sgd(learning_rate):
    base = optim.sgd(learning_rate)

    def init(params):
        return (_SkipCount(jnp.zeros([], jnp.int32)), base.init(params))

    def update(grads, state, params=None):
        big = sum(jnp.sum(jnp.abs(g) > 0.1) for g in jax.tree_util.tree_leaves(grads))
        updates, inner = base.update(grads, state[1], params)
        return updates, (_SkipCount(state[0].count + big.astype(jnp.int32)), inner)

    return optim.GradientTransformation(init, update)


def test_a_counter_that_depends_on_the_run_falls_back_to_a_batched_one():
    swept, _ = _sweep(make_optimizer=_counting_sgd)
    counts = np.asarray(swept.opt_state[0].count)
    assert len(set(counts.tolist())) > 1  # a genuinely per-run integer, kept per run
    for run in (1, 2):
        alone, _ = train.fit(
            MODEL,
            _counting_sgd(float(RATES[run])),
            (X, Y),
            loss=losses.softmax_cross_entropy,
            epochs=3,
            batch_size=16,
            key=KEYS[run],
            progress=False,
        )
        assert int(alone.opt_state[0].count) == counts[run]
        for a, b in zip(_leaves(swept.params), _leaves(alone.params)):
            np.testing.assert_allclose(a[run], b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stepped, copies", [(False, 1), (True, len(KEYS))])
def test_sweep_compiles_one_program_for_all_epochs(stepped, copies):
    # vmap traces the step once; the stepped path has one copy of it per run.
    traces = []

    def counting_loss(predictions, targets):
        traces.append(1)
        return losses.softmax_cross_entropy(predictions, targets)

    _sweep(loss=counting_loss, epochs=4, stepped=stepped)
    assert len(traces) == copies


IMAGES = RNG.normal(size=(X.shape[0], 6, 6, 1)).astype(np.float32)
CONV_MODEL = nn.Sequential(
    [nn.Conv2D(3, 3), activations.relu, nn.Dropout(0.25), nn.Flatten(), nn.Dense(2)]
)


def test_convolution_runs_equal_fit_alone():
    data, validation = (IMAGES, Y), (IMAGES[:30], Y_VAL)
    swept, history = _sweep(train_data=data, validation_data=validation, model=CONV_MODEL)
    _assert_runs_equal_fit(CONV_MODEL, data, validation, swept, history, optim.momentum)


@pytest.mark.parametrize("conv", [True, False])
def test_sweep_steps_per_batch_for_convolutions_on_cpu(monkeypatch, conv):
    # XLA:CPU's convolution weight gradients are ~80x slower inside a loop (jax#12868).
    import jaxdl.train._loops as loops_module
    import jaxdl.train._sweep as sweep_module

    loops_module._cached_build.cache_clear()  # an earlier sweep's programs would be reused
    chosen = []
    original = sweep_module._stepped_epochs
    monkeypatch.setattr(
        sweep_module, "_stepped_epochs", lambda *a: chosen.append("stepped") or original(*a)
    )
    model = CONV_MODEL if conv else MODEL
    _sweep(train_data=(IMAGES if conv else X, Y), model=model, epochs=1)
    assert chosen == (["stepped"] if conv and jax.default_backend() == "cpu" else [])


def test_sweep_stacks_states_and_history_along_the_runs_axis():
    ts, history = _sweep(epochs=5, validation_data=(X_VAL, Y_VAL))
    assert ts.params["0"]["w"].shape == (4, 4, 8)
    assert ts.params["3"]["b"].shape == (4, 2)
    assert ts.step.tolist() == [5 * (80 // 16)] * 4
    assert sorted(history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(values.shape == (4, 5) for values in history.values())


def test_runs_differ_only_by_their_key_and_hyperparameters():
    same_key = KEYS[np.array([0, 0, 0])]
    ts, history = _sweep(keys=same_key, hyperparameters={"learning_rate": [0.1, 0.1, 0.5]})
    w = ts.params["0"]["w"]
    np.testing.assert_array_equal(w[0], w[1])
    np.testing.assert_array_equal(history["loss"][0], history["loss"][1])
    assert np.abs(w[2] - w[0]).max() > 1e-3


def test_different_keys_give_different_runs():
    ts, _ = _sweep(hyperparameters={"learning_rate": np.full(4, 0.1)})
    w = np.asarray(ts.params["0"]["w"])
    assert all(not np.array_equal(w[0], w[run]) for run in (1, 2, 3))


def test_sweep_without_hyperparameters_runs_one_per_key():
    ts, history = _sweep(make_optimizer=lambda: optim.sgd(0.1), hyperparameters=None)
    assert ts.params["0"]["w"].shape[0] == history["loss"].shape[0] == len(KEYS)


def test_raw_uint32_keys_give_the_same_runs_as_typed_keys():
    typed, _ = _sweep()
    raw, _ = _sweep(keys=jax.random.key_data(KEYS))
    for a, b in zip(_leaves(typed.params), _leaves(raw.params)):
        np.testing.assert_array_equal(a, b)


def test_progress_bar_shows_its_label_and_the_best_run(capsys):
    _sweep(epochs=2, validation_data=(X_VAL, Y_VAL), progress="momentum")
    err = capsys.readouterr().err
    assert "momentum" in err and "2/2" in err
    assert "best_loss=" in err and "best_val_accuracy=" in err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hyperparameters": {"learning_rate": RATES[:3]}}, r"one value per run.*\(4,\)"),
        ({"hyperparameters": {"learning_rate": RATES[:, None]}}, r"got shape \(4, 1\)"),
        ({"keys": KEYS[0]}, r"one random key per run.*got shape \(\)"),
        ({"keys": KEYS[:0], "hyperparameters": None}, r"got shape \(0,\)"),
        ({"hyperparameters": {"learning_rate": -RATES}}, r"run 0.*learning_rate must be"),
        ({"hyperparameters": {"rate": RATES}}, r"make_optimizer.*failed for run 0.*rate"),
        ({"epochs": 0}, "epochs must be an int ≥ 1"),
        ({"epochs": -2}, "epochs must be an int ≥ 1"),
        ({"batch_size": 0}, "batch_size must be an int ≥ 1"),
        ({"train_data": (X, Y[:-1])}, "80 samples but y has 79"),
        ({"validation_data": (X_VAL[:, :3], Y_VAL)}, r"per-sample shape \(3,\).*\(4,\)"),
        ({"stepped": "yes"}, r"stepped must be True, False or None, got 'yes'"),
    ],
)
def test_sweep_rejects_bad_input_before_compiling(kwargs, message):
    traces = []

    def counting_loss(predictions, targets):
        traces.append(1)
        return losses.softmax_cross_entropy(predictions, targets)

    with pytest.raises(ValueError, match=message):
        _sweep(loss=counting_loss, **kwargs)
    assert traces == []


def test_sweep_rejects_seeds_instead_of_keys():
    with pytest.raises(TypeError, match=r"jax\.random\.key"):
        _sweep(keys=np.arange(4))

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, losses, nn, optim, train

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 4)).astype(np.float32)
Y = (X[:, 0] - X[:, 2] > 0).astype(np.int32)
MODEL = nn.Sequential([nn.Dense(8), activations.relu, nn.Dense(2)])


def _fit(**kwargs):
    args = dict(
        loss=losses.softmax_cross_entropy,
        epochs=3,
        batch_size=16,
        key=jax.random.key(0),
        progress=False,
    )
    args.update(kwargs)
    data = args.pop("train_data", (X, Y))
    return train.fit(MODEL, optim.adam(1e-2), data, **args)


def test_fit_learns_and_records_keras_style_history():
    ts, history = _fit(epochs=30, validation_data=(X, Y))
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(history["loss"]) == 30 and history.epoch == list(range(30))
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    assert int(ts.step) == 30 * (96 // 16)


def test_fit_is_deterministic_for_a_key():
    a, _ = _fit()
    b, _ = _fit()
    c, _ = _fit(key=jax.random.key(1))
    jax.tree_util.tree_map(np.testing.assert_array_equal, a.params, b.params)
    assert not np.array_equal(a.params["0"]["w"], c.params["0"]["w"])


def test_fit_compiles_the_step_once_for_all_epochs():
    traces = []

    def counting_loss(predictions, targets):
        traces.append(1)
        return losses.softmax_cross_entropy(predictions, targets)

    _fit(loss=counting_loss, epochs=4)
    assert len(traces) == 1


def test_fit_streaming_path_matches_compiled_path():
    compiled, h1 = _fit(streaming=False)
    streamed, h2 = _fit(streaming=True)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        compiled.params,
        streamed.params,
    )
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)


def test_fit_accepts_jax_arrays_and_datasets():
    class Split:
        x_train, y_train = jnp.asarray(X), jnp.asarray(Y)

    _, history = _fit(train_data=Split())
    assert len(history) == 3


def test_fit_with_zero_epochs_returns_the_initial_state():
    ts, history = _fit(epochs=0)
    assert int(ts.step) == 0 and len(history) == 0


def test_fit_progress_bar_shows_metrics(capsys):
    _fit(epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "fit" in err and "loss=" in err and "2/2" in err


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"train_data": (X, Y[:-1])}, "96 samples but y has 95"),
        ({"train_data": (X[:0], Y[:0])}, "empty"),
        ({"train_data": (np.where(X > 2, np.nan, X), Y)}, "NaN or inf"),
        ({"train_data": (X, Y + 1)}, r"\[0, 2\).*from 1 to 2"),
        ({"train_data": (X, -Y)}, r"from -1 to 0"),
        ({"epochs": -1}, "epochs must be an int ≥ 0"),
        ({"batch_size": 0}, "batch_size must be an int ≥ 1"),
        ({"validation_data": (X[:, :3], Y)}, r"per-sample shape \(3,\).*\(4,\)"),
        ({"validation_data": (X, Y[:5])}, "96 samples but y has 5"),
        ({"validation_data": X}, "must be a pair"),
    ],
)
def test_fit_rejects_bad_input_before_compiling(kwargs, message):
    traces = []

    def counting_loss(predictions, targets):
        traces.append(1)
        return losses.softmax_cross_entropy(predictions, targets)

    with pytest.raises(ValueError, match=message):
        _fit(loss=counting_loss, **kwargs)
    assert traces == []


def test_fit_rejects_a_seed_instead_of_a_key():
    with pytest.raises(TypeError, match=r"jax\.random\.key"):
        _fit(key=0)


def test_evaluate_matches_direct_computation():
    ts, _ = _fit()
    metrics = train.evaluate(MODEL, ts, (X, Y), loss=losses.softmax_cross_entropy, batch_size=40)
    logits, _ = MODEL.apply(ts.params, ts.state, X)
    assert metrics["loss"] == pytest.approx(
        float(losses.softmax_cross_entropy(logits, Y)), rel=1e-5
    )
    assert metrics["accuracy"] == pytest.approx(float(np.mean(np.argmax(logits, -1) == Y)))


@pytest.mark.parametrize("conv, expected", [(True, "stepped"), (False, "compiled")])
def test_fit_steps_per_batch_for_convolutions_on_cpu(monkeypatch, conv, expected):
    # XLA:CPU's convolution weight gradients are ~80x slower inside a loop (jax#12868).
    import jaxdl.train._fit as fit_module

    chosen = []
    original = fit_module.make_fit_epoch

    def spy(*args, streaming):
        chosen.append("stepped" if streaming else "compiled")
        return original(*args, streaming=streaming)

    monkeypatch.setattr(fit_module, "make_fit_epoch", spy)
    images = RNG.normal(size=(32, 6, 6, 1)).astype(np.float32)
    layers = [nn.Conv2D(2, 3)] if conv else [nn.Dense(2)]
    model = nn.Sequential([*layers, nn.Flatten(), nn.Dense(2)])
    train.fit(
        model,
        optim.sgd(0.1),
        (images, Y[:32]),
        loss=losses.softmax_cross_entropy,
        epochs=1,
        batch_size=8,
        key=jax.random.key(0),
        progress=False,
    )
    assert chosen == [expected if jax.default_backend() == "cpu" else "compiled"]

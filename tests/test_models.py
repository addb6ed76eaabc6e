import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import activations, losses, models, nn, optim, train


def _init(model, shape):
    return model.init(jax.random.key(0), jax.ShapeDtypeStruct((1, *shape), jnp.float32))


def test_mlp_is_the_spec_mnist_network():
    params, _ = _init(models.mlp(10, (512, 256)), (28, 28, 1))
    assert nn.count_params(params) == (535_040, 778)


def test_mlp_uses_he_init_for_relu_and_adds_dropout():
    model = models.mlp(3, (8,), dropout=0.25)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Flatten", "Dense", "Lambda", "Dropout", "Dense"]
    assert repr(model.layers[1].kernel_init) == "he_uniform()"
    assert repr(models.mlp(3, (8,), activation=activations.tanh).layers[1].kernel_init) == (
        "glorot_uniform()"
    )


@pytest.mark.parametrize("shape", [(28, 28, 1), (8, 8, 1), (40, 1)])
def test_cnn_builds_for_images_and_sequences(shape):
    model = models.cnn(shape, 10)
    params, state = _init(model, shape)
    y, _ = model.apply(params, state, jnp.zeros((2, *shape)))
    assert y.shape == (2, 10)
    conv = nn.Conv2D if len(shape) == 3 else nn.Conv1D
    assert isinstance(model.layers[0], conv)


def test_cnn_stops_pooling_at_small_sizes():
    pools = [layer for layer in models.cnn((8, 8, 1), channels=(4, 4, 4)).layers
             if isinstance(layer, nn.MaxPool2D)]
    assert len(pools) == 2  # 8 -> 4 -> 2, then no further halving


def test_cnn_rejects_flat_inputs():
    with pytest.raises(ValueError, match=r"\(H, W, C\) or \(T, C\)"):
        models.cnn((784,))


@pytest.mark.parametrize("shape, steps", [((28, 28, 1), 28), ((40, 1), 40)])
def test_lstm_classifier_reads_rows_as_time_steps(shape, steps):
    model = models.lstm_classifier(shape, 10, hidden_size=16)
    assert model.layers[0] == nn.Reshape((steps, int(np.prod(shape[1:]))))
    params, state = _init(model, shape)
    assert params["1"]["w_ih"].shape == (int(np.prod(shape[1:])), 64)
    assert model.apply(params, state, jnp.zeros((3, *shape)))[0].shape == (3, 10)


def test_builders_give_equal_models_for_equal_arguments():
    assert models.cnn() == models.cnn() and hash(models.cnn()) == hash(models.cnn())
    assert models.lstm_classifier() == models.lstm_classifier()
    assert models.mlp(10, (32,)) != models.mlp(10, (64,))


def test_autoencoder_mirrors_its_encoder_and_reconstructs_in_unit_range():
    model = models.autoencoder(784, (128, 32))
    params, state = _init(model, (28, 28, 1))
    assert params["encoder"]["1"]["w"].shape == (784, 128)
    assert params["encoder"]["3"]["w"].shape == (128, 32)
    assert params["decoder"]["0"]["w"].shape == (32, 128)
    assert params["decoder"]["2"]["w"].shape == (128, 784)
    x = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1))
    y, _ = model.apply(params, state, x)
    assert y.shape == (4, 784) and float(y.min()) >= 0 and float(y.max()) <= 1
    code, _ = model.layers[0].apply(params["encoder"], state["encoder"], x)
    assert code.shape == (4, 32)


def test_autoencoder_learns_to_reconstruct():
    x = np.random.default_rng(0).uniform(size=(64, 16)).astype(np.float32)
    model = models.autoencoder(16, (8,))
    _, history = train.fit(model, optim.adam(1e-2), (x, x), loss=losses.mse, epochs=60,
                            batch_size=16, key=jax.random.key(0), progress=False)
    assert history["loss"][-1] < 0.5 * history["loss"][0]

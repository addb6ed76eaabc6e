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
    pools = [
        layer
        for layer in models.cnn((8, 8, 1), channels=(4, 4, 4)).layers
        if isinstance(layer, nn.MaxPool2D)
    ]
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
    _, history = train.fit(
        model,
        optim.adam(1e-2),
        (x, x),
        loss=losses.mse,
        epochs=60,
        batch_size=16,
        key=jax.random.key(0),
        progress=False,
    )
    assert history["loss"][-1] < 0.5 * history["loss"][0]


# --- resnet and residual_mlp ----------------------------------------------------------------


def _leaf_shapes(params):
    return [leaf.shape for leaf in jax.tree_util.tree_leaves(params)]


def _specs(model, shape):
    """``model.init``'s params and state as shapes only: traced, not run."""
    x = jax.ShapeDtypeStruct((1, *shape), jnp.float32)
    return jax.eval_shape(model.init, jax.random.key(0), x)


@pytest.mark.parametrize("shape", [(28, 28, 1), (9, 9, 3), (40, 1)])
def test_resnet_builds_for_images_and_sequences(shape):
    model = models.resnet(shape, 7, blocks=(1, 1), channels=(4, 8))
    x = jax.ShapeDtypeStruct((2, *shape), jnp.float32)
    params, state = jax.eval_shape(model.init, jax.random.key(0), x)
    y, _ = jax.eval_shape(model.apply, params, state, x)
    assert y.shape == (2, 7)
    conv = nn.Conv2D if len(shape) == 3 else nn.Conv1D
    assert isinstance(model.layers[0], conv)


@pytest.mark.parametrize(
    "shortcut, expected",
    [
        # stem conv 3·3·1·2 + BN 2 | block 2→2: 2·(3·3·2·2 + BN 2) | block 2→4, stride 2:
        # 3·3·2·4 + 4 + 3·3·4·4 + 4 | projection 1·1·2·4 + BN 4 | Dense 4·3.
        # Biases: the BatchNorm shifts 2 + 2·2 + 2·4 + 4 and the Dense's 3.
        ("projection", (18 + 2 + 2 * (36 + 2) + 72 + 4 + 144 + 4 + 8 + 4 + 12, 2 + 4 + 8 + 4 + 3)),
        ("pad", (18 + 2 + 2 * (36 + 2) + 72 + 4 + 144 + 4 + 12, 2 + 4 + 8 + 3)),
    ],
)
def test_resnet_parameter_count_of_a_tiny_config(shortcut, expected):
    model = models.resnet((8, 8, 1), 3, blocks=(1, 1), channels=(2, 4), shortcut=shortcut)
    params, _ = _specs(model, (8, 8, 1))
    assert nn.count_params(params) == expected


def test_resnet_blocks_are_residuals_with_a_downsampling_projection():
    model = models.resnet((8, 8, 1), blocks=(1, 2), channels=(2, 4))
    blocks = [layer for layer in model.layers if isinstance(layer, nn.Residual)]
    assert len(blocks) == 3
    assert blocks[0].projection is None and blocks[2].projection is None
    conv, norm = blocks[1].projection.layers
    assert (conv.features, conv.kernel_size, conv.strides, conv.use_bias) == (4, 1, 2, False)
    assert isinstance(norm, nn.BatchNorm)
    assert blocks[1].inner.layers[0].strides == 2


@pytest.mark.parametrize("downsample, size", [(True, (4, 4)), (False, (8, 8))])
def test_resnet_downsamples_each_later_stage_by_two(downsample, size):
    model = models.resnet((8, 8, 1), blocks=(1, 1), channels=(2, 4), downsample=downsample)
    features = nn.Sequential(model.layers[:-2])  # up to the global average pooling
    params, state = _specs(features, (8, 8, 1))
    x = jax.ShapeDtypeStruct((1, 8, 8, 1), jnp.float32)
    assert jax.eval_shape(features.apply, params, state, x)[0].shape == (1, *size, 4)


def test_resnet_plain_and_residual_have_identical_parameter_shapes():
    kwargs = {"blocks": (2, 1), "channels": (4, 8), "shortcut": "pad"}
    plain, residual = models.resnet(residual=False, **kwargs), models.resnet(**kwargs)
    assert not any(isinstance(layer, nn.Residual) for layer in plain.layers)
    assert _leaf_shapes(_specs(plain, (28, 28, 1))[0]) == _leaf_shapes(
        _specs(residual, (28, 28, 1))[0]
    )


def test_resnet_plain_lacks_only_the_projection_shortcuts():
    kwargs = {"blocks": (1, 1), "channels": (2, 4)}
    plain, _ = _specs(models.resnet((8, 8, 1), 3, residual=False, **kwargs), (8, 8, 1))
    residual, _ = _specs(models.resnet((8, 8, 1), 3, **kwargs), (8, 8, 1))
    difference = np.subtract(nn.count_params(residual), nn.count_params(plain))
    assert tuple(difference) == (1 * 1 * 2 * 4 + 4, 4)  # the 1×1 conv and its BatchNorm


def test_resnet_pad_shortcut_subsamples_and_zero_pads_channels():
    model = models.resnet((4, 4, 1), blocks=(1, 1), channels=(2, 3), shortcut="pad")
    shortcut = [layer for layer in model.layers if isinstance(layer, nn.Residual)][1].projection
    x = np.arange(32, dtype=np.float32).reshape(1, 4, 4, 2)
    y, _ = shortcut.apply({}, {}, x)
    np.testing.assert_array_equal(y[..., :2], x[:, ::2, ::2])
    np.testing.assert_array_equal(y[..., 2], 0)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"input_shape": (784,)}, r"\(H, W, C\) or \(T, C\)"),
        ({"blocks": (1, 1), "channels": (4,)}, "one entry per stage"),
        ({"blocks": (), "channels": ()}, "one entry per stage"),
        ({"shortcut": "identity"}, "shortcut must be 'projection' or 'pad'"),
    ],
)
def test_resnet_rejects_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        models.resnet(**kwargs)


def test_resnet_and_residual_mlp_give_equal_models_for_equal_arguments():
    assert models.resnet() == models.resnet() and hash(models.resnet()) == hash(models.resnet())
    assert models.resnet(shortcut="pad") == models.resnet(shortcut="pad")
    assert models.resnet() != models.resnet(residual=False)
    assert models.residual_mlp() == models.residual_mlp()
    assert hash(models.residual_mlp(depth=2)) == hash(models.residual_mlp(depth=2))
    assert models.residual_mlp(depth=2) != models.residual_mlp(depth=3)


def test_residual_mlp_parameter_count_of_a_tiny_config():
    model = models.residual_mlp(3, width=4, depth=2, batch_norm=False)
    params, _ = _specs(model, (2, 3))
    # Dense 6→4, two blocks of two Dense 4→4, Dense 4→3.
    assert nn.count_params(params) == (6 * 4 + 4 * 4 * 4 + 4 * 3, 4 + 4 * 4 + 3)


def test_residual_mlp_plain_and_residual_have_identical_parameter_shapes():
    plain, _ = _specs(models.residual_mlp(width=8, depth=3, residual=False), (28, 28, 1))
    residual, _ = _specs(models.residual_mlp(width=8, depth=3), (28, 28, 1))
    assert _leaf_shapes(plain) == _leaf_shapes(residual)


def test_residual_mlp_block_adds_its_input():
    model = models.residual_mlp(2, width=4, depth=1, batch_norm=False)
    block = model.layers[3]
    assert isinstance(block, nn.Residual) and block.projection is None
    params, state = _init(model, (4,))
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    y, _ = block.apply(params["3"], state["3"], x)
    inner, _ = block.inner.apply(params["3"]["inner"], state["3"]["inner"], x)
    np.testing.assert_allclose(y, x + inner, rtol=1e-6)

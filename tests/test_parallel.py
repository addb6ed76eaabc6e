"""Data parallelism: ``fit``/``fit_sweep`` over a mesh equal one device's runs."""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from jaxdl import losses, nn, optim, parallel, train

X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)


def test_data_mesh_has_one_data_axis_over_all_devices():
    mesh = parallel.data_mesh()
    assert mesh.axis_names == ("data",)
    assert parallel.shard_count(mesh) == len(jax.devices())


def test_data_mesh_rejects_no_devices_and_non_devices():
    with pytest.raises(ValueError, match="empty"):
        parallel.data_mesh([])
    with pytest.raises(TypeError, match="JAX devices"):
        parallel.data_mesh(["cpu:0"])


def test_fit_rejects_a_mesh_that_is_not_a_mesh():
    with pytest.raises(TypeError, match=r"jax\.sharding\.Mesh"):
        train.fit(
            nn.Dense(2),
            optim.sgd(0.1),
            (X, Y),
            loss=losses.softmax_cross_entropy,
            epochs=1,
            batch_size=8,
            key=jax.random.key(0),
            progress=False,
            mesh="data",
        )


def test_fit_on_a_one_device_mesh_equals_fit_without_one():
    args = dict(
        loss=losses.softmax_cross_entropy,
        epochs=2,
        batch_size=8,
        key=jax.random.key(0),
        progress=False,
    )
    plain, _ = train.fit(nn.Dense(2), optim.adam(0.1), (X, Y), **args)
    meshed, _ = train.fit(nn.Dense(2), optim.adam(0.1), (X, Y), mesh=parallel.data_mesh(), **args)
    jax.tree_util.tree_map(np.testing.assert_array_equal, plain.params, meshed.params)


EIGHT_DEVICES = textwrap.dedent(
    """
    import json
    import jax, numpy as np
    from jaxdl import activations, losses, nn, optim, parallel, train

    assert len(jax.devices()) == 8, jax.devices()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    # No bias right before the batch norm: its gradient is zero up to rounding, which
    # Adam would blow up into steps that differ between one device and eight.
    model = nn.Sequential([nn.Dense(32), activations.relu, nn.BatchNorm(),
                           nn.Dropout(0.2), nn.Dense(2)])
    mesh = parallel.data_mesh()
    common = dict(loss=losses.softmax_cross_entropy, epochs=3, batch_size=32,
                  key=jax.random.key(0), progress=False, validation_data=(x, y))
    out = {}
    for streaming in (False, True):
        single, h1 = train.fit(model, optim.adam(1e-2), (x, y), streaming=streaming,
                               **common)
        multi, h8 = train.fit(model, optim.adam(1e-2), (x, y), streaming=streaming,
                              mesh=mesh, **common)
        leaf = multi.params["0"]["w"]
        out[f"sharded_{streaming}"] = len(leaf.sharding.device_set)
        out[f"params_{streaming}"] = max(
            float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
            for a, b in zip(jax.tree_util.tree_leaves(single),
                            jax.tree_util.tree_leaves(multi)))
        out[f"loss_{streaming}"] = [h1["loss"], h8["loss"]]
        out[f"val_{streaming}"] = [h1["val_accuracy"], h8["val_accuracy"]]
    # A convolution through the Fourier transform (jaxdl.nn._fourier), its batch sharded.
    images = rng.normal(size=(64, 8, 8, 3)).astype(np.float32)
    labels = (images[:, :4].mean(axis=(1, 2, 3)) > 0).astype(np.int32)
    cnn = nn.Sequential([nn.Conv2D(8, 5, algorithm="fourier"), activations.relu,
                         nn.Flatten(), nn.Dense(2)])
    conv = dict(loss=losses.softmax_cross_entropy, epochs=2, batch_size=16,
                key=jax.random.key(0), progress=False)
    c1, _ = train.fit(cnn, optim.adam(1e-2), (images, labels), **conv)
    c8, _ = train.fit(cnn, optim.adam(1e-2), (images, labels), mesh=mesh, **conv)
    out["fourier_params"] = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(jax.tree_util.tree_leaves(c1), jax.tree_util.tree_leaves(c8)))
    keys = jax.random.split(jax.random.key(1), 8)
    rates = {"learning_rate": np.linspace(1e-3, 1e-1, 8)}
    sweep = dict(loss=losses.softmax_cross_entropy, epochs=2, batch_size=32, keys=keys,
                 hyperparameters=rates, progress=False)
    s1, sh1 = train.fit_sweep(model, optim.sgd, (x, y), **sweep)
    s8, sh8 = train.fit_sweep(model, optim.sgd, (x, y), mesh=mesh, **sweep)
    out["sweep_params"] = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(jax.tree_util.tree_leaves(s1), jax.tree_util.tree_leaves(s8)))
    out["sweep_sharded"] = len(s8.params["0"]["w"].sharding.device_set)
    errors = []
    for call in (
        lambda: train.fit(model, optim.sgd(0.1), (x, y), loss=losses.softmax_cross_entropy,
                          epochs=1, batch_size=12, key=jax.random.key(0), progress=False,
                          mesh=mesh),
        lambda: train.fit_sweep(model, optim.sgd, (x, y), loss=losses.softmax_cross_entropy,
                                epochs=1, batch_size=32, keys=keys[:6], progress=False,
                                hyperparameters={"learning_rate": np.ones(6)}, mesh=mesh),
    ):
        try:
            call()
        except ValueError as error:
            errors.append(str(error))
    out["errors"] = errors
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def eight_devices():
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu"
    )
    result = subprocess.run(
        [sys.executable, "-c", EIGHT_DEVICES], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("streaming", [False, True], ids=["compiled", "streaming"])
def test_fit_over_eight_devices_equals_one_device(eight_devices, streaming):
    assert eight_devices[f"sharded_{streaming}"] == 8
    assert eight_devices[f"params_{streaming}"] < 1e-4
    single, multi = eight_devices[f"loss_{streaming}"]
    np.testing.assert_allclose(multi, single, rtol=1e-4)
    np.testing.assert_allclose(*eight_devices[f"val_{streaming}"], atol=1 / 256 + 1e-6)


def test_fourier_convolution_over_eight_devices_equals_one_device(eight_devices):
    assert eight_devices["fourier_params"] < 1e-4


def test_fit_sweep_over_eight_devices_equals_one_device(eight_devices):
    assert eight_devices["sweep_sharded"] == 8
    assert eight_devices["sweep_params"] < 1e-4


def test_sizes_the_devices_do_not_divide_are_rejected(eight_devices):
    batch, runs = eight_devices["errors"]
    assert "batch_size 12 is not a multiple of the mesh's 8 devices" in batch
    assert "number of runs 6 is not a multiple of the mesh's 8 devices" in runs

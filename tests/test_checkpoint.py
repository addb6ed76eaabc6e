import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import checkpoint, optim
from jaxdl.train import TrainState


def _train_state():
    params = {"dense": {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.ones(3)}}
    opt = optim.adam(1e-3)
    ts = TrainState.create(params=params, optimizer=opt, state={"bn": {"mean": jnp.zeros(3)}})
    return ts.apply_gradients(jax.tree_util.tree_map(jnp.ones_like, params), opt)


def test_round_trip_of_a_whole_train_state(tmp_path):
    ts = _train_state()
    checkpoint.save(tmp_path, ts, step=7)
    restored = checkpoint.restore(tmp_path, like=ts)
    assert isinstance(restored.tree, TrainState) and restored.step == 7
    jax.tree_util.tree_map(np.testing.assert_array_equal, restored.tree, ts)
    assert restored.tree.step.dtype == jnp.int32


@pytest.mark.parametrize("key", [jax.random.key(42), jax.random.PRNGKey(42)])
def test_round_trip_of_typed_and_legacy_keys(tmp_path, key):
    checkpoint.save(tmp_path, {"x": jnp.zeros(1)}, step=1, key=key)
    restored = checkpoint.restore(tmp_path, like={"x": jnp.zeros(1)})
    assert restored.key.dtype == key.dtype
    np.testing.assert_array_equal(
        jax.random.uniform(restored.key, (3,)), jax.random.uniform(key, (3,))
    )


def test_restore_picks_latest_or_named_step_and_keeps_max(tmp_path):
    with checkpoint.Checkpointer(tmp_path, max_to_keep=2) as saver:
        for step in (1, 2, 3):
            saver.save(step, {"v": jnp.full(2, float(step))}, metadata={"epoch": step})
        assert saver.all_steps() == [2, 3]
    assert checkpoint.latest_step(tmp_path) == 3
    assert float(checkpoint.restore(tmp_path, like={"v": jnp.zeros(2)}).tree["v"][0]) == 3.0
    older = checkpoint.restore(tmp_path, like={"v": jnp.zeros(2)}, step=2)
    assert older.metadata == {"epoch": 2} and float(older.tree["v"][0]) == 2.0


def test_missing_checkpoint_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint folder"):
        checkpoint.restore(tmp_path / "absent", like={})
    checkpoint.save(tmp_path, {"v": jnp.zeros(1)}, step=1)
    with pytest.raises(FileNotFoundError, match=r"found steps \[1\]"):
        checkpoint.restore(tmp_path, like={"v": jnp.zeros(1)}, step=5)
    assert checkpoint.latest_step(tmp_path / "absent") is None


def test_an_empty_folder_has_no_checkpoint_to_restore(tmp_path):
    with pytest.raises(checkpoint.CheckpointNotFoundError, match="holds no checkpoint") as info:
        checkpoint.restore(tmp_path, like={"v": jnp.zeros(1)})
    assert info.value.kind == "missing" and info.value.step is None


def test_every_restore_error_is_one_documented_type():
    assert issubclass(checkpoint.CheckpointError, ValueError)
    assert issubclass(checkpoint.CheckpointNotFoundError, checkpoint.CheckpointError)
    assert issubclass(checkpoint.CheckpointNotFoundError, FileNotFoundError)
    error = checkpoint.CheckpointError("ckpt", 3, "corrupt", "is corrupt: leaf ['w'].")
    assert str(error) == "checkpoint ckpt step 3 is corrupt: leaf ['w']."
    assert (error.directory, error.step, error.kind) == ("ckpt", 3, "corrupt")


def test_mismatched_structure_raises_value_error(tmp_path):
    checkpoint.save(tmp_path, {"v": jnp.zeros(2)}, step=1)
    with pytest.raises(ValueError, match="does not match"):
        checkpoint.restore(tmp_path, like={"other": jnp.zeros(2), "v": jnp.zeros(2)})


SAVED = {"layer": {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.zeros(3)}, "n": jnp.int32(4)}


@pytest.mark.parametrize(
    ("like", "expected"),
    [
        # another dtype: orbax alone would cast float32 to int32 or float16
        (
            {**SAVED, "n": jnp.float32(4)},
            r"\['n'\] is int32\[\] in the checkpoint but "
            r"float32\[\] in `like`",
        ),
        (
            {**SAVED, "layer": {**SAVED["layer"], "w": jnp.zeros((2, 3), jnp.float16)}},
            r"\['layer'\]\['w'\] is float32\[2, 3\] in the checkpoint but float16\[2, 3\]",
        ),
        # another shape
        (
            {**SAVED, "layer": {**SAVED["layer"], "b": jnp.zeros(4)}},
            r"\['layer'\]\['b'\] is float32\[3\] in the checkpoint but float32\[4\]",
        ),
        # a leaf too few, a leaf too many, a renamed leaf
        ({"layer": SAVED["layer"]}, r"saved but not in `like`: \['n'\]"),
        ({**SAVED, "extra": jnp.zeros(1)}, r"in `like` but not saved: \['extra'\]"),
        (
            {**SAVED, "layer": {"w": SAVED["layer"]["w"], "bias": jnp.zeros(3)}},
            r"saved but not in `like`: \['layer'\]\['b'\]; in `like` but not saved: "
            r"\['layer'\]\['bias'\]",
        ),
    ],
    ids=["int-as-float", "float32-as-float16", "shape", "missing-leaf", "extra-leaf", "renamed"],
)
def test_a_template_of_another_dtype_shape_or_structure_raises(tmp_path, like, expected):
    checkpoint.save(tmp_path, SAVED, step=2)
    with pytest.raises(checkpoint.CheckpointError, match=expected) as info:
        checkpoint.restore(tmp_path, like=like)
    assert info.value.kind == "mismatch" and info.value.step == 2
    assert str(info.value).startswith(f"checkpoint {tmp_path} step 2 does not match `like`")


def test_template_may_be_shape_dtype_structs(tmp_path):
    checkpoint.save(tmp_path, SAVED, step=1)
    like = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), SAVED)
    restored = checkpoint.restore(tmp_path, like=like).tree
    jax.tree_util.tree_map(np.testing.assert_array_equal, restored, SAVED)


def test_numpy_and_python_leaves_round_trip_exactly(tmp_path):
    tree = {
        "a": np.linspace(-1, 1, 7),
        "i": np.arange(4, dtype=np.int8),
        "f": 0.1,
        "k": 3,
        "bf": jnp.arange(5.0, dtype=jnp.bfloat16) / 3,
    }
    checkpoint.save(tmp_path, tree, step=1, metadata={"epoch": 1, "tags": ["a", "b"]})
    restored = checkpoint.restore(tmp_path, like=tree)
    assert restored.tree["f"] == 0.1 and restored.tree["k"] == 3
    for name in ("a", "i", "bf"):
        assert restored.tree[name].dtype == tree[name].dtype
        np.testing.assert_array_equal(restored.tree[name], tree[name])
    assert restored.metadata == {"epoch": 1, "tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"step": -1}, ValueError, r"step must be an int ≥ 0, got -1"),
        ({"step": 1.0}, TypeError, r"step must be an int ≥ 0, got 1.0 \(float\)"),
        ({"step": True}, TypeError, r"step must be an int ≥ 0, got True \(bool\)"),
        ({"step": 1, "max_to_keep": 0}, ValueError, r"max_to_keep must be an int ≥ 1, got 0"),
        ({"step": 1, "metadata": {"_jaxdl_key": 1}}, ValueError, r"reserved: \['_jaxdl_key'\]"),
        ({"step": 1, "metadata": {"f": object()}}, TypeError, r"JSON-serialisable"),
        ({"step": 1, "metadata": [1]}, TypeError, r"must be a dict, got list"),
        ({"step": 1, "key": np.zeros(2)}, TypeError, r"key must be a JAX random key"),
    ],
    ids=[
        "negative-step",
        "float-step",
        "bool-step",
        "max-to-keep-0",
        "reserved-metadata",
        "unserialisable-metadata",
        "list-metadata",
        "numpy-key",
    ],
)
def test_bad_save_arguments_raise_and_write_nothing(tmp_path, arguments, error, message):
    with pytest.raises(error, match=message):
        checkpoint.save(tmp_path, {"v": jnp.zeros(1)}, **arguments)
    assert checkpoint.latest_step(tmp_path) is None


def test_numpy_integer_steps_are_accepted(tmp_path):
    checkpoint.save(tmp_path, {"v": jnp.zeros(1)}, step=np.int64(4))
    assert checkpoint.restore(tmp_path, like={"v": jnp.zeros(1)}, step=np.int32(4)).step == 4


def test_unsaveable_leaf_raises_and_writes_nothing(tmp_path):
    with pytest.raises(TypeError, match=r"\['layer'\]\['v'\].*got object"):
        checkpoint.save(tmp_path, {"layer": {"v": object()}}, step=1)
    assert checkpoint.latest_step(tmp_path) is None
    assert not any(p.name.startswith("1") for p in tmp_path.iterdir())

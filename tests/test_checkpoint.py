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


def test_mismatched_structure_raises_value_error(tmp_path):
    checkpoint.save(tmp_path, {"v": jnp.zeros(2)}, step=1)
    with pytest.raises(ValueError, match="does not match"):
        checkpoint.restore(tmp_path, like={"other": jnp.zeros(2), "v": jnp.zeros(2)})


def test_unsaveable_leaf_raises_and_writes_nothing(tmp_path):
    with pytest.raises(TypeError, match=r"\['layer'\]\['v'\].*got object"):
        checkpoint.save(tmp_path, {"layer": {"v": object()}}, step=1)
    assert checkpoint.latest_step(tmp_path) is None
    assert not any(p.name.startswith("1") for p in tmp_path.iterdir())

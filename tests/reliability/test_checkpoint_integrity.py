"""Checkpoint integrity: flipped bits, truncated or deleted files, old checkpoints, kills."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import checkpoint

# A failed orbax read leaves background tasks that report when collected; the failure
# itself is what these tests check.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning"),
]

WEIGHTS = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32)
TREE = {"w": WEIGHTS, "b": np.arange(5, dtype=np.int32)}


def _save(folder, step=1):
    checkpoint.save(folder, TREE, step=step, key=jax.random.key(7), metadata={"epoch": step})
    return folder / str(step)


def _largest_file(step_folder):
    """The array data file: the largest file of the step (64 x 32 float32 weights)."""
    return max((p for p in step_folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def _flip(path, position, bit=0):
    data = bytearray(path.read_bytes())
    data[position] ^= 1 << bit
    path.write_bytes(bytes(data))


def _orbax_alone(folder, step):
    """What orbax restores without jaxdl's checks."""
    import orbax.checkpoint as ocp

    like = {
        "tree": jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, TREE),
        "key": jax.ShapeDtypeStruct((2,), np.uint32),  # the data of the saved key
    }
    with ocp.CheckpointManager(folder) as manager:
        args = ocp.args.Composite(state=ocp.args.StandardRestore(like))
        return manager.restore(step, args=args)["state"]["tree"]


def test_a_flipped_bit_that_orbax_restores_silently_raises(tmp_path):
    data_file = _largest_file(_save(tmp_path))
    size = data_file.stat().st_size
    # Flip one bit in the middle of the compressed payload; orbax decodes it without error
    # into other weights, and the SHA-256 of the leaf catches it.
    silent = []
    for position in range(size // 3, 2 * size // 3, size // 12):
        case = tmp_path / f"case{position}"
        shutil.copytree(tmp_path / "1", case / "1")
        _flip(case / "1" / data_file.relative_to(tmp_path / "1"), position)
        try:
            restored = _orbax_alone(case, 1)
        except Exception:  # orbax noticed by itself
            continue
        if not np.array_equal(restored["w"], WEIGHTS):
            silent.append(case)
    assert silent, "no flip went unnoticed by orbax: the test needs other positions"
    for case in silent:
        with pytest.raises(checkpoint.CheckpointError) as info:
            checkpoint.restore(case, like=TREE)
        assert info.value.kind == "corrupt"
        assert str(info.value) == (
            f"checkpoint {case} step 1 is corrupt: leaf ['w']: its SHA-256 differs from the "
            "saved one."
        )


@pytest.mark.parametrize("mutation", ["delete", "truncate", "flip"])
@pytest.mark.parametrize(
    "name",
    ["metadata/metadata", "integrity/metadata", "state/_METADATA", "state/manifest.ocdbt", "data"],
)
def test_a_damaged_file_raises_checkpoint_error_naming_folder_and_step(tmp_path, name, mutation):
    step_folder = _save(tmp_path, step=3)
    path = _largest_file(step_folder) if name == "data" else step_folder / name
    if mutation == "delete":
        path.unlink()
    elif mutation == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        _flip(path, path.stat().st_size // 2, bit=1)
    with pytest.raises(checkpoint.CheckpointError) as info:
        checkpoint.restore(tmp_path, like=TREE)
    assert str(info.value).startswith(f"checkpoint {tmp_path} step 3 ")
    assert info.value.kind in ("missing", "corrupt")
    assert "\n" not in str(info.value) and len(str(info.value)) < 600


def test_edited_metadata_is_caught_by_its_checksum(tmp_path):
    path = _save(tmp_path, step=2) / "metadata" / "metadata"
    metadata = json.loads(path.read_text())
    path.write_text(json.dumps({**metadata, "epoch": 5}))
    with pytest.raises(checkpoint.CheckpointError, match=r"step 2 has corrupt metadata"):
        checkpoint.restore(tmp_path, like=TREE)


def test_a_deleted_integrity_record_is_not_taken_for_an_old_checkpoint(tmp_path):
    shutil.rmtree(_save(tmp_path) / "integrity")
    with pytest.raises(checkpoint.CheckpointError, match="is missing its integrity record") as info:
        checkpoint.restore(tmp_path, like=TREE)
    assert info.value.kind == "missing"


def _save_old_format(folder, tree, step):
    """A checkpoint as jaxdl wrote them before the integrity record."""
    import orbax.checkpoint as ocp

    with ocp.CheckpointManager(folder, options=ocp.CheckpointManagerOptions(create=True)) as m:
        args = ocp.args.Composite(
            state=ocp.args.StandardSave({"tree": tree}),
            metadata=ocp.args.JsonSave({"epoch": step}),
        )
        m.save(step, args=args)
        m.wait_until_finished()


def test_an_old_checkpoint_restores_with_a_warning(tmp_path):
    _save_old_format(tmp_path, TREE, 4)
    with pytest.warns(checkpoint.CheckpointWarning, match="no integrity record"):
        restored = checkpoint.restore(tmp_path, like=TREE)
    assert restored.step == 4 and restored.metadata == {"epoch": 4} and restored.key is None
    np.testing.assert_array_equal(restored.tree["w"], WEIGHTS)


def test_an_old_checkpoint_is_still_not_cast_to_another_dtype(tmp_path):
    _save_old_format(tmp_path, TREE, 4)
    like = {**TREE, "w": jnp.zeros((64, 32), jnp.bfloat16)}
    with (
        pytest.warns(checkpoint.CheckpointWarning),
        pytest.raises(
            checkpoint.CheckpointError,
            match=r"float32\[64, 32\] in the checkpoint "
            r"but bfloat16\[64, 32\] in `like`",
        ),
    ):
        checkpoint.restore(tmp_path, like=like)


def test_saving_again_adds_the_record_to_an_old_checkpoint(tmp_path):
    _save_old_format(tmp_path, TREE, 4)
    with pytest.warns(checkpoint.CheckpointWarning):
        old = checkpoint.restore(tmp_path, like=TREE)
    checkpoint.save(tmp_path, old.tree, step=5, metadata=old.metadata)
    assert (tmp_path / "5" / "integrity").is_dir()
    np.testing.assert_array_equal(checkpoint.restore(tmp_path, like=TREE).tree["w"], WEIGHTS)


KILLED_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import orbax.checkpoint as ocp
    from jaxdl import checkpoint

    folder = sys.argv[1]
    checkpoint.save(folder, {"w": np.zeros(4, np.float32)}, step=1, max_to_keep=1)
    original = ocp.handlers.JsonCheckpointHandler._save_fn

    async def killed(self, x, directory):
        # The state of step 2 is written (or being written): die before the commit.
        os.kill(os.getpid(), signal.SIGKILL)

    ocp.handlers.JsonCheckpointHandler._save_fn = killed
    checkpoint.save(folder, {"w": np.ones(4, np.float32)}, step=2, max_to_keep=1)
    """
)


def test_a_kill_mid_save_keeps_the_previous_checkpoint(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", KILLED_SAVE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -9, done.stderr[-2000:]
    assert any(".orbax-checkpoint-tmp" in p.name for p in tmp_path.iterdir())  # the partial
    like = {"w": np.zeros(4, np.float32)}
    restored = checkpoint.restore(tmp_path, like=like)
    assert restored.step == 1 and checkpoint.latest_step(tmp_path) == 1
    np.testing.assert_array_equal(restored.tree["w"], np.zeros(4))
    # The next save of step 2 succeeds over the partial one.
    checkpoint.save(tmp_path, {"w": np.ones(4, np.float32)}, step=2, max_to_keep=1)
    np.testing.assert_array_equal(checkpoint.restore(tmp_path, like=like).tree["w"], np.ones(4))
    assert os.listdir(tmp_path) == ["2"]

"""Fuzzing the checkpoint loader: after a random bit flip, truncation or deletion of one
file of a saved checkpoint, ``restore`` either raises ``CheckpointError`` or returns exactly
the saved values (when the damage hit nothing that restore reads)."""

import shutil
import tempfile
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxdl import checkpoint

# A failed orbax read leaves background tasks that report when collected; the failure
# itself is what these tests check.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning"),
]

TREE = {
    "dense": {
        "w": np.random.default_rng(1).normal(size=(48, 16)).astype(np.float32),
        "b": np.linspace(-1, 1, 16, dtype=np.float32),
    },
    "count": np.int32(7),
    "rate": 0.25,
}
KEY = jax.random.key(11)
METADATA = {"epoch": 3, "note": "fuzz"}
HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A checkpoint (step 3) and the relative paths of its files."""
    folder = tmp_path_factory.mktemp("saved")
    checkpoint.save(folder, TREE, step=3, key=KEY, metadata=METADATA)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return folder, files


def _mutate(path: Path, kind: str, position: float, bit: int) -> None:
    data = bytearray(path.read_bytes())
    at = min(int(position * len(data)), max(len(data) - 1, 0))
    if kind == "delete":
        path.unlink()
    elif kind == "truncate":
        path.write_bytes(bytes(data[:at]))
    elif data:
        data[at] ^= 1 << bit
        path.write_bytes(bytes(data))


def _restores_exactly_or_raises(folder: Path) -> None:
    try:
        restored = checkpoint.restore(folder, like=TREE)
    except checkpoint.CheckpointError as error:
        assert str(error).startswith(f"checkpoint {folder}")
        return
    assert restored.step == 3 and restored.metadata == METADATA
    got, want = jax.tree_util.tree_leaves(restored.tree), jax.tree_util.tree_leaves(TREE)
    for a, b in zip(got, want, strict=True):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(jax.random.key_data(restored.key), jax.random.key_data(KEY))


def _fuzz(saved, data) -> None:
    folder, files = saved
    name = data.draw(st.sampled_from(files), label="file")
    kind = data.draw(st.sampled_from(["flip", "truncate", "delete"]), label="mutation")
    position = data.draw(st.floats(0, 1), label="position")
    bit = data.draw(st.integers(0, 7), label="bit")
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "ckpt"
        shutil.copytree(folder, copy)
        _mutate(copy / name, kind, position, bit)
        _restores_exactly_or_raises(copy)


@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(data=st.data())
def test_a_damaged_checkpoint_raises_checkpoint_error_or_restores_exactly(saved, data):
    _fuzz(saved, data)


@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(data=st.data())
def test_a_flipped_bit_in_the_array_data_never_restores_other_values(saved, data):
    folder, files = saved
    biggest = max(files, key=lambda name: (folder / name).stat().st_size)
    position = data.draw(st.floats(0, 1))
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "ckpt"
        shutil.copytree(folder, copy)
        _mutate(copy / biggest, "flip", position, data.draw(st.integers(0, 7)))
        _restores_exactly_or_raises(copy)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=HEALTH)
@given(data=st.data())
def test_long_fuzz_of_the_checkpoint_loader(saved, data):
    _fuzz(saved, data)

"""The decoded-array cache: hits without decoding, every kind of damage rebuilt, keys and
format versions that miss, atomic writes, an unwritable folder, and no pickle."""

from __future__ import annotations

import io
import json
import os
import warnings

import numpy as np
import pytest

from jaxdl.data import _cache
from jaxdl.data._cache import CachedArray, cached_arrays

IMAGES = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
LABELS = np.array([7, -2, 70000], dtype=np.int32)
UNPICKLED = "JAXDL_TEST_UNPICKLED"


class Decoder:
    """Returns a copy of ``array`` and counts its calls."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.calls = array, 0

    def __call__(self) -> np.ndarray:
        self.calls += 1
        return self.array.copy()


def items(images_key="md5:images", labels_key="md5:labels"):
    """The two cached arrays of these tests, with fresh decoders."""
    return [
        CachedArray("images", images_key, Decoder(IMAGES)),
        CachedArray("labels", labels_key, Decoder(LABELS)),
    ]


def decodes(entries) -> list[int]:
    return [entry.decode.calls for entry in entries]


def assert_expected(arrays):
    for array, expected in zip(arrays, (IMAGES, LABELS), strict=True):
        assert (array.dtype, array.shape) == (expected.dtype, expected.shape)
        np.testing.assert_array_equal(array, expected)


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "decoded"


@pytest.fixture
def filled(folder):
    """The cache folder after a first call has saved both arrays."""
    cached_arrays(folder, items())
    return folder


def test_a_first_call_decodes_and_saves_the_arrays_and_a_manifest(folder):
    entries = items()
    assert_expected(cached_arrays(folder, entries))
    assert decodes(entries) == [1, 1]
    assert sorted(path.name for path in folder.iterdir()) == [
        "images.npy",
        "labels.npy",
        "manifest.json",
    ]


def test_a_second_call_reads_the_cache_without_decoding(filled):
    entries = items()
    assert_expected(cached_arrays(filled, entries))
    assert decodes(entries) == [0, 0]


def test_a_cache_hit_writes_nothing(filled, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a cache hit wrote a file")

    monkeypatch.setattr(_cache, "_save", refuse)
    assert_expected(cached_arrays(filled, items()))


def test_the_manifest_is_written_after_the_arrays(folder, monkeypatch):
    written = []
    replace = os.replace

    def record(source, target):
        written.append(target.name)
        replace(source, target)

    monkeypatch.setattr(os, "replace", record)
    cached_arrays(folder, items())
    assert written == ["images.npy", "labels.npy", "manifest.json"]


@pytest.mark.parametrize("hit", [False, True], ids=["decoded", "cached"])
def test_the_arrays_are_read_only_plain_arrays(folder, hit):
    if hit:
        cached_arrays(folder, items())
    for array in cached_arrays(folder, items()):
        assert type(array) is np.ndarray and not array.flags.writeable


# --- damage is rebuilt ------------------------------------------------------------------


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


def flip_magic(path):
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path):
    path.write_bytes(path.read_bytes()[:-1])


def empty(path):
    path.write_bytes(b"")


def replace_by_npz(path):
    buffer = io.BytesIO()
    np.savez(buffer, images=IMAGES)
    path.write_bytes(buffer.getvalue())


def other_shape(path):
    with open(path, "wb") as file:
        np.save(file, IMAGES.reshape(6, 4))


DAMAGE_TO_THE_IMAGES = {
    "flipped-payload-byte": flip_last_byte,
    "flipped-magic": flip_magic,
    "truncated": truncate,
    "empty": empty,
    "deleted": os.remove,
    "npz-in-its-place": replace_by_npz,
    "same-bytes-other-shape": other_shape,
}


@pytest.mark.parametrize("damage", DAMAGE_TO_THE_IMAGES.values(), ids=DAMAGE_TO_THE_IMAGES)
def test_a_damaged_array_file_is_decoded_again_and_saved(filled, damage):
    damage(filled / "images.npy")
    entries = items()
    assert_expected(cached_arrays(filled, entries))
    assert decodes(entries) == [1, 0]  # only the damaged one
    again = items()
    assert_expected(cached_arrays(filled, again))
    assert decodes(again) == [0, 0]  # and the rebuilt file is trusted again


def edit_manifest(change):
    def edit(path):
        manifest = json.loads(path.read_text())
        change(manifest)
        path.write_text(json.dumps(manifest))

    return edit


DAMAGE_TO_THE_MANIFEST = {  # the damage, and which arrays it makes decode again
    "deleted": (os.remove, [1, 1]),
    "not-json": (lambda path: path.write_text("{not json"), [1, 1]),
    "not-an-object": (lambda path: path.write_text("[]"), [1, 1]),
    "other-format-version": (
        edit_manifest(lambda m: m.update(format=_cache.FORMAT_VERSION + 1)),
        [1, 1],
    ),
    "wrong-digest": (
        edit_manifest(lambda m: m["arrays"]["images"].update(sha256="0" * 64)),
        [1, 0],
    ),
    "entry-missing": (edit_manifest(lambda m: m["arrays"].pop("images")), [1, 0]),
}


@pytest.mark.parametrize(
    ("damage", "decoded"), DAMAGE_TO_THE_MANIFEST.values(), ids=DAMAGE_TO_THE_MANIFEST
)
def test_a_damaged_manifest_is_rebuilt(filled, damage, decoded):
    damage(filled / "manifest.json")
    entries = items()
    assert_expected(cached_arrays(filled, entries))
    assert decodes(entries) == decoded
    again = items()
    assert_expected(cached_arrays(filled, again))
    assert decodes(again) == [0, 0]


def test_a_different_key_is_a_miss(filled):
    changed = np.full_like(IMAGES, 9)
    entries = [CachedArray("images", "md5:changed", Decoder(changed)), items()[1]]
    arrays = cached_arrays(filled, entries)
    np.testing.assert_array_equal(arrays[0], changed)
    assert decodes(entries) == [1, 0]


def test_an_interrupted_write_leaves_nothing_that_is_trusted(folder, monkeypatch):
    def crash(file, array, allow_pickle):
        file.write(b"\x93NUMPY half a file")
        raise KeyboardInterrupt  # the process is stopped mid-write

    monkeypatch.setattr(np, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        cached_arrays(folder, items())
    assert list(folder.iterdir()) == []  # neither the file nor its temporary part
    monkeypatch.undo()
    entries = items()
    assert_expected(cached_arrays(folder, entries))
    assert decodes(entries) == [1, 1]


# --- no pickle --------------------------------------------------------------------------


class Tripwire:
    """Sets an environment variable when unpickled."""

    def __reduce__(self):
        return (exec, (f"import os; os.environ[{UNPICKLED!r}] = '1'",))


def test_a_pickled_object_array_in_the_cache_is_refused_not_unpickled(filled, monkeypatch):
    monkeypatch.delenv(UNPICKLED, raising=False)
    path = filled / "images.npy"
    np.save(path, np.array([Tripwire()], dtype=object), allow_pickle=True)
    np.load(path, allow_pickle=True)  # the tripwire works
    assert os.environ.pop(UNPICKLED) == "1"
    entries = items()
    assert_expected(cached_arrays(filled, entries))
    assert UNPICKLED not in os.environ
    assert decodes(entries) == [1, 0]


# --- a folder that cannot be written ------------------------------------------------------


def file_in_the_way(folder, monkeypatch):
    folder.write_bytes(b"a file where the folder should be")


def replace_refused(folder, monkeypatch):
    def refuse(source, target):
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(os, "replace", refuse)


UNWRITABLE = {"file-in-the-way": file_in_the_way, "read-only": replace_refused}


@pytest.mark.parametrize("make_unwritable", UNWRITABLE.values(), ids=UNWRITABLE)
def test_an_unwritable_folder_warns_and_returns_the_decoded_arrays(
    folder, monkeypatch, make_unwritable
):
    folder.parent.mkdir(exist_ok=True)
    make_unwritable(folder, monkeypatch)
    with pytest.warns(UserWarning, match=r"could not save decoded arrays.*cache=False") as record:
        arrays = cached_arrays(folder, items())
    assert_expected(arrays)
    assert record[0].filename == __file__  # the warning names the caller's line
    assert [path for path in folder.parent.rglob("*") if path != folder] == []  # no parts left


def test_a_read_only_cache_that_hits_gives_no_warning(filled, monkeypatch):
    replace_refused(filled, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_expected(cached_arrays(filled, items()))

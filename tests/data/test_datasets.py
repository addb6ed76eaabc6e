"""The dataset loaders: real MNIST and Fashion-MNIST numbers, where files are looked up,
the download path (from file:// mirrors), digits and MNIST-1D."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import random
import sys

import numpy as np
import pytest

from jaxdl import data
from jaxdl.data import _datasets, read_idx

DATASET_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def link_files(source, folder, names=DATASET_FILES):
    """``folder`` holding symbolic links to ``names`` in ``source``; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).symlink_to(source / name)
    return folder


# --- MNIST and Fashion-MNIST: the numbers ---------------------------------------------------


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return data.mnist(mnist_dir, download=False)


@pytest.fixture(scope="module")
def fashion_mnist(fashion_mnist_dir):
    return data.fashion_mnist(fashion_mnist_dir, download=False)


def test_mnist_shapes_and_dtypes(mnist):
    assert (mnist.x_train.shape, mnist.x_train.dtype) == ((60000, 28, 28, 1), np.float32)
    assert (mnist.y_train.shape, mnist.y_train.dtype) == ((60000,), np.int32)
    assert (mnist.x_test.shape, mnist.y_test.shape) == ((10000, 28, 28, 1), (10000,))


def test_mnist_pixels_are_bytes_over_255(mnist):
    assert float(mnist.x_train.min()) == 0.0 and float(mnist.x_train.max()) == 1.0
    # MNIST's well-known training mean and standard deviation.
    assert float(mnist.x_train.mean()) == pytest.approx(0.1307, abs=1e-4)
    assert float(mnist.x_train.std()) == pytest.approx(0.3081, abs=1e-4)
    assert np.allclose(mnist.x_train[:100] * 255, np.round(mnist.x_train[:100] * 255), atol=1e-4)


def test_mnist_label_counts(mnist):
    assert np.bincount(mnist.y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.y_test).tolist() == MNIST_TEST_COUNTS


def test_mnist_first_labels(mnist):
    assert mnist.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.y_test[:5].tolist() == [7, 2, 1, 0, 4]


def test_mnist_metadata(mnist):
    assert (mnist.name, mnist.num_classes) == ("mnist", 10)
    assert mnist.train[0] is mnist.x_train and mnist.test[1] is mnist.y_test
    assert repr(mnist).startswith("Dataset(name='mnist', num_classes=10, x_train=float32(60000")


def test_mnist_flatten_gives_784_inputs_in_row_major_order(mnist, mnist_dir):
    flat = data.mnist(mnist_dir, flatten=True, download=False)
    assert flat.x_train.shape == (60000, 784) and flat.x_test.shape == (10000, 784)
    np.testing.assert_array_equal(flat.x_test, mnist.x_test.reshape(10000, 784))


def test_fashion_mnist_labels(fashion_mnist):
    assert fashion_mnist.y_train[:5].tolist() == [9, 0, 0, 3, 0]
    assert np.bincount(fashion_mnist.y_train).tolist() == [6000] * 10
    assert np.bincount(fashion_mnist.y_test).tolist() == [1000] * 10


def test_fashion_mnist_images_and_class_names(fashion_mnist):
    assert fashion_mnist.x_train.shape == (60000, 28, 28, 1)
    assert 0.0 <= float(fashion_mnist.x_train.min()) and float(fashion_mnist.x_train.max()) == 1.0
    assert fashion_mnist.name == "fashion-mnist"
    assert fashion_mnist.class_names[fashion_mnist.y_train[0]] == "Ankle boot"


# --- where the files are looked up ----------------------------------------------------------
# The cheapest proof that a folder was used: the loaded labels. Each test loads MNIST once.


def test_jaxdl_data_dir_may_hold_a_dataset_subfolder(monkeypatch, tmp_path, mnist_dir):
    link_files(mnist_dir, tmp_path / "root" / "mnist")
    monkeypatch.setenv("JAXDL_DATA_DIR", str(tmp_path / "root"))
    assert data.mnist(download=False).y_test[:5].tolist() == [7, 2, 1, 0, 4]


def test_jaxdl_data_dir_may_hold_the_files_directly(monkeypatch, tmp_path, mnist_dir):
    monkeypatch.setenv("JAXDL_DATA_DIR", str(link_files(mnist_dir, tmp_path / "flat")))
    assert data.mnist(download=False).y_test[:5].tolist() == [7, 2, 1, 0, 4]


def test_uncompressed_files_are_found_too(tmp_path, mnist_dir):
    folder = link_files(mnist_dir, tmp_path / "mixed", DATASET_FILES[:3])
    raw = gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (folder / "t10k-labels-idx1-ubyte").write_bytes(raw)
    assert data.mnist(folder, download=False).y_test[:5].tolist() == [7, 2, 1, 0, 4]


def test_data_dir_comes_before_jaxdl_data_dir(monkeypatch, tmp_path, mnist_dir):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in DATASET_FILES:
        (corrupt / name).write_bytes(b"not the file")
    monkeypatch.setenv("JAXDL_DATA_DIR", str(corrupt))  # would raise ChecksumError if read
    assert data.mnist(mnist_dir, download=False).y_test[:5].tolist() == [7, 2, 1, 0, 4]


def test_a_corrupt_local_file_raises_checksum_error_naming_it(tmp_path, mnist_dir):
    folder = link_files(mnist_dir, tmp_path / "mnist", DATASET_FILES[1:])
    (folder / DATASET_FILES[0]).write_bytes(b"truncated")
    with pytest.raises(data.ChecksumError, match=r"train-images-idx3-ubyte\.gz.*md5 expected f68b"):
        data.mnist(folder, download=False)


def test_mnist_files_are_not_taken_for_fashion_mnist(tmp_path, mnist_dir):
    with pytest.raises(data.ChecksumError, match="fashion-mnist/ subfolders"):
        data.fashion_mnist(link_files(mnist_dir, tmp_path / "flat"), download=False)


def test_missing_files_without_download_say_where_to_put_them(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        data.mnist(tmp_path, download=False)
    message = str(error.value)
    cache = data.default_cache_dir() / "mnist"
    assert f"put them in {cache}" in message
    assert "data_dir=" in message and "JAXDL_DATA_DIR" in message
    assert all(name in message for name in DATASET_FILES)
    assert str(tmp_path / "mnist") in message  # the folders looked in


def test_a_data_dir_that_is_not_a_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_dir=.*is not a folder"):
        data.mnist(tmp_path / "typo", download=False)


# --- the download path, from file:// mirrors --------------------------------------------------


@pytest.fixture
def mnist_mirrors(monkeypatch, tmp_path, mnist_dir):
    """MNIST's mirrors replaced by a missing one and a file:// copy; a fresh cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    mirrors = ((tmp_path / "gone").as_uri() + "/", mnist_dir.as_uri() + "/")
    monkeypatch.setattr(_datasets, "_MNIST", dataclasses.replace(_datasets._MNIST, mirrors=mirrors))
    return mirrors


def test_mnist_downloads_missing_files_into_the_cache(mnist_mirrors, tmp_path):
    dataset = data.mnist()
    cache = tmp_path / "xdg" / "jaxdl" / "mnist"
    downloaded = sorted(path.name for path in cache.iterdir() if path.is_file())
    assert downloaded == sorted(DATASET_FILES)  # and no temporary parts
    assert dataset.y_train[:5].tolist() == [5, 0, 4, 1, 9]


def test_mnist_reads_the_cache_after_downloading(mnist_mirrors):
    data.mnist()
    assert data.mnist(download=False).y_test[:5].tolist() == [7, 2, 1, 0, 4]


def test_mnist_download_failure_says_where_to_put_the_files(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    mirror = (tmp_path / "gone").as_uri() + "/"
    monkeypatch.setattr(
        _datasets, "_MNIST", dataclasses.replace(_datasets._MNIST, mirrors=(mirror,))
    )
    with pytest.raises(data.DatasetDownloadError) as error:
        data.mnist()
    message = str(error.value)
    assert f"{mirror}train-images-idx3-ubyte.gz" in message
    assert f"put them in {tmp_path / 'xdg' / 'jaxdl' / 'mnist'}" in message
    assert "JAXDL_DATA_DIR" in message


# --- the decoded cache, on small synthetic IDX files -------------------------------------


def idx_gz(array: np.ndarray) -> bytes:
    """A gzipped uint8 IDX file of ``array``, built without the parser under test."""
    sizes = b"".join(size.to_bytes(4, "big") for size in array.shape)
    return gzip.compress(bytes([0, 0, 0x08, array.ndim]) + sizes + array.tobytes(), mtime=0)


@pytest.fixture
def synthetic_mnist(monkeypatch, tmp_path):
    """A function ``write(seed=0)`` that writes four small random MNIST-like files (images
    4×5) into one folder, points MNIST's table of md5s at them, and returns the folder and
    the uint8 arrays written. The cache starts empty."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "idx"
    folder.mkdir()

    def write(seed=0):
        rng = np.random.default_rng(seed)
        arrays = (
            rng.integers(0, 256, (6, 4, 5), dtype=np.uint8),
            rng.integers(0, 10, (6,), dtype=np.uint8),
            rng.integers(0, 256, (3, 4, 5), dtype=np.uint8),
            rng.integers(0, 10, (3,), dtype=np.uint8),
        )
        files = []
        for file, array in zip(_datasets._MNIST.files, arrays):
            content = idx_gz(array)
            (folder / f"{file.name}.gz").write_bytes(content)
            files.append(file._replace(md5_gz=hashlib.md5(content).hexdigest()))
        monkeypatch.setattr(
            _datasets, "_MNIST", dataclasses.replace(_datasets._MNIST, files=tuple(files))
        )
        return folder, arrays

    return write


def forbid_decoding(monkeypatch):
    """From now on decoding an IDX file fails: what loads comes from the decoded cache."""

    def fail(path):
        raise AssertionError(f"decoded {path}, which the cache holds")

    monkeypatch.setattr(_datasets, "read_idx", fail)


def decoded_cache():
    return data.default_cache_dir() / "mnist" / "decoded"


def fields(dataset):
    return [dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test]


def assert_dataset(dataset, arrays):
    """``dataset`` is what MNIST's loader makes of the uint8 ``arrays``."""
    train_images, train_labels, test_images, test_labels = arrays
    expected = [
        np.divide(train_images[..., None], 255, dtype=np.float32),
        train_labels.astype(np.int32),
        np.divide(test_images[..., None], 255, dtype=np.float32),
        test_labels.astype(np.int32),
    ]
    for actual, wanted in zip(fields(dataset), expected, strict=True):
        assert (actual.dtype, actual.shape) == (wanted.dtype, wanted.shape)
        np.testing.assert_array_equal(actual, wanted)


def test_mnist_saves_the_decoded_arrays_in_the_cache(synthetic_mnist):
    folder, arrays = synthetic_mnist()
    assert_dataset(data.mnist(folder, download=False), arrays)
    saved = sorted(path.name for path in decoded_cache().iterdir())
    assert saved == sorted(
        [name.replace(".gz", ".npy") for name in DATASET_FILES] + ["manifest.json"]
    )


@pytest.mark.parametrize("flatten", [False, True])
def test_mnist_second_load_reads_the_cache_not_the_idx_files(synthetic_mnist, monkeypatch, flatten):
    folder, _ = synthetic_mnist()
    decoded = data.mnist(folder, flatten=flatten, download=False)
    forbid_decoding(monkeypatch)
    cached = data.mnist(folder, flatten=flatten, download=False)
    for ours, theirs in zip(fields(cached), fields(decoded), strict=True):
        assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape)
        np.testing.assert_array_equal(ours, theirs)


def test_mnist_cached_arrays_are_fresh_writable_arrays_as_decoded_ones(
    synthetic_mnist, monkeypatch
):
    folder, arrays = synthetic_mnist()
    decoded = data.mnist(folder, download=False, cache=False)
    data.mnist(folder, download=False)
    forbid_decoding(monkeypatch)
    for ours, theirs in zip(fields(data.mnist(folder, download=False)), fields(decoded)):
        assert type(ours) is type(theirs) is np.ndarray
        assert ours.flags.writeable and theirs.flags.writeable
        assert ours.flags.c_contiguous == theirs.flags.c_contiguous
        ours[0] = 0  # and writing to one leaves the cache intact
    assert_dataset(data.mnist(folder, download=False), arrays)


def test_mnist_with_cache_false_neither_writes_nor_reads_the_decoded_cache(
    synthetic_mnist, monkeypatch
):
    folder, arrays = synthetic_mnist()
    data.mnist(folder, download=False, cache=False)
    assert not decoded_cache().exists()
    data.mnist(folder, download=False)
    decoded = []
    monkeypatch.setattr(_datasets, "read_idx", lambda path: decoded.append(path) or read_idx(path))
    assert_dataset(data.mnist(folder, download=False, cache=False), arrays)
    assert len(decoded) == 4


def test_mnist_decodes_a_changed_source_file_again(synthetic_mnist):
    folder, _ = synthetic_mnist(seed=0)
    data.mnist(folder, download=False)
    folder, changed = synthetic_mnist(seed=1)  # new files, and their md5s in the table
    assert_dataset(data.mnist(folder, download=False), changed)


def test_mnist_still_verifies_the_source_files_when_the_cache_holds_them(synthetic_mnist):
    folder, _ = synthetic_mnist()
    data.mnist(folder, download=False)
    (folder / DATASET_FILES[0]).write_bytes(b"corrupt")
    with pytest.raises(data.ChecksumError, match=r"train-images-idx3-ubyte\.gz"):
        data.mnist(folder, download=False)


def test_mnist_rebuilds_a_corrupt_decoded_cache(synthetic_mnist):
    folder, arrays = synthetic_mnist()
    data.mnist(folder, download=False)
    cached = decoded_cache() / "train-images-idx3-ubyte.npy"
    cached.write_bytes(cached.read_bytes()[:-1] + b"\xff")  # the last pixel's byte
    assert_dataset(data.mnist(folder, download=False), arrays)


@pytest.mark.parametrize(
    "loader",
    [data.mnist, lambda folder, **kwargs: data.load("mnist", data_dir=folder, **kwargs)],
    ids=["mnist", "load"],
)
def test_mnist_loads_with_a_warning_when_the_cache_cannot_be_written(synthetic_mnist, loader):
    folder, arrays = synthetic_mnist()
    decoded_cache().parent.mkdir(parents=True)
    decoded_cache().write_bytes(b"a file where the folder should be")
    with pytest.warns(UserWarning, match="could not save decoded arrays") as record:
        assert_dataset(loader(folder, download=False), arrays)
    assert record[0].filename == __file__  # it points at the user's call


def test_real_mnist_loads_from_the_decoded_cache(mnist, mnist_dir, monkeypatch):
    forbid_decoding(monkeypatch)  # the `mnist` fixture's load left the arrays in the cache
    cached = data.mnist(mnist_dir, download=False)
    for ours, theirs in zip(fields(cached), fields(mnist), strict=True):
        assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape)
        assert np.array_equal(ours, theirs)  # 20 times faster than assert_array_equal here


# --- digits -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return data.digits()


@pytest.fixture(scope="module")
def sklearn_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    return datasets.load_digits()


def test_digits_shapes_and_dtypes(digits):
    assert (digits.x_train.shape, digits.x_train.dtype) == ((1438, 8, 8, 1), np.float32)
    assert (digits.y_train.shape, digits.y_train.dtype) == ((1438,), np.int32)
    assert (digits.x_test.shape, digits.y_test.shape) == ((359, 8, 8, 1), (359,))


def test_digits_pixels_are_sixteenths_in_unit_interval(digits):
    pixels = np.concatenate([digits.x_train.ravel(), digits.x_test.ravel()])
    assert float(pixels.min()) == 0.0 and float(pixels.max()) == 1.0
    np.testing.assert_array_equal(pixels * 16, np.round(pixels * 16))


def test_digits_split_is_stratified(digits, sklearn_digits):
    counts = np.bincount(sklearn_digits.target)
    expected_test = np.round(counts * 0.2).astype(int)
    assert np.bincount(digits.y_test).tolist() == expected_test.tolist()
    assert np.bincount(digits.y_train).tolist() == (counts - expected_test).tolist()


def test_digits_split_uses_every_image_once(digits, sklearn_digits):
    ours = np.concatenate([digits.x_train, digits.x_test]).reshape(-1, 64) * 16
    labels = np.concatenate([digits.y_train, digits.y_test])
    original = np.column_stack([sklearn_digits.data, sklearn_digits.target])
    rows = np.column_stack([ours, labels])
    np.testing.assert_array_equal(np.unique(rows, axis=0), np.unique(original, axis=0))
    assert len(rows) == len(original)


def test_digits_is_deterministic_per_seed(digits):
    again = data.digits()
    np.testing.assert_array_equal(again.x_train, digits.x_train)
    np.testing.assert_array_equal(again.y_test, digits.y_test)


def test_digits_split_differs_across_seeds(digits):
    other = data.digits(seed=1)
    assert not np.array_equal(other.y_test, digits.y_test)


def test_digits_flatten(digits):
    flat = data.digits(flatten=True)
    np.testing.assert_array_equal(flat.x_train, digits.x_train.reshape(1438, 64))


@pytest.mark.parametrize("test_fraction", [0.0, 1.0, 0.001])
def test_digits_rejects_a_split_leaving_a_part_empty(test_fraction):
    pytest.importorskip("sklearn")
    with pytest.raises(ValueError, match="test_fraction"):
        data.digits(test_fraction=test_fraction)


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match=r'pip install "jaxdl\[data\]"'):
        data.digits()


# --- MNIST-1D -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist1d():
    pytest.importorskip("mnist1d")
    return data.mnist1d()


def test_mnist1d_shapes_and_dtypes(mnist1d):
    assert (mnist1d.x_train.shape, mnist1d.x_train.dtype) == ((4000, 40, 1), np.float32)
    assert (mnist1d.x_test.shape, mnist1d.y_test.dtype) == ((1000, 40, 1), np.int32)
    assert (mnist1d.name, mnist1d.num_classes) == ("mnist1d", 10)


def test_mnist1d_is_the_packages_default_dataset(mnist1d):
    # The first labels make_dataset(get_dataset_args()) gives with its default seed, 42.
    assert mnist1d.y_train[:10].tolist() == [2, 6, 4, 5, 6, 6, 6, 0, 3, 1]
    assert mnist1d.y_test[:5].tolist() == [2, 6, 3, 9, 4]


def test_mnist1d_flatten(mnist1d):
    flat = data.mnist1d(flatten=True)
    np.testing.assert_array_equal(flat.x_train, mnist1d.x_train[..., 0])


def test_mnist1d_leaves_the_global_random_state_alone(mnist1d):
    random.seed(7)
    np.random.seed(7)  # noqa: NPY002 - the legacy global state is what mnist1d reseeds
    data.mnist1d(seed=3)
    assert random.random() == random.Random(7).random()
    assert np.random.rand() == np.random.RandomState(7).rand()  # noqa: NPY002


# --- load ---------------------------------------------------------------------------------


def test_load_passes_keyword_arguments_to_the_loader(digits):
    np.testing.assert_array_equal(data.load("digits", seed=0).y_train, digits.y_train)


@pytest.mark.parametrize("name", ["fashion-mnist", "fashion_mnist", "Fashion-MNIST"])
def test_load_knows_fashion_mnist_by_both_spellings(tmp_path, name):
    with pytest.raises(FileNotFoundError, match=r"^Fashion-MNIST: "):
        data.load(name, data_dir=tmp_path, download=False)


def test_load_rejects_unknown_names_listing_the_valid_ones():
    with pytest.raises(ValueError, match=r"'cifar10'.*\['digits', 'fashion-mnist'"):
        data.load("cifar10")

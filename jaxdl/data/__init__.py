"""Data: datasets as NumPy arrays, IDX parsing, download with checksums, and batching.

- **Datasets** (:func:`load`, :func:`digits`, :func:`mnist`, :func:`fashion_mnist`,
  :func:`mnist1d`) return a :class:`Dataset` of float32 inputs and int32 labels; images
  are NHWC, sequences ``(batch, time, features)``. ``digits`` and ``mnist1d`` work
  offline; MNIST and Fashion-MNIST are looked up in ``data_dir=``, ``$JAXDL_DATA_DIR`` and
  the cache, and downloaded into the cache with verified checksums when missing; their
  decoded arrays are kept in the cache too (``.npy`` files checked by SHA-256, no pickle),
  so every load after the first skips the decoding (``cache=False`` opts out).
- **Files**: :func:`read_idx` / :func:`parse_idx` for the IDX format, :func:`fetch` for
  download + checksum + cache.
- **Preprocessing**: :func:`one_hot`, :func:`standardize`.
- **Batching**: :func:`shuffle`, :func:`train_val_split`, :func:`batches` (a Python
  iterator, the streaming path), :func:`epoch_batches` (a whole shuffled epoch on the
  device, for a compiled ``lax.scan``), :func:`num_batches`.

``jaxdl.data`` knows nothing of models: it hands out arrays.

Example:
    >>> import jax
    >>> from jaxdl import data
    >>> ds = data.load("digits", flatten=True)
    >>> x_train, x_test, stats = data.standardize(ds.x_train, ds.x_test)
    >>> (x, y), (x_val, y_val) = data.train_val_split(
    ...     x_train, ds.y_train, key=jax.random.key(0), fraction=0.1)
    >>> x_batch, y_batch = next(data.batches(x, y, 32, key=jax.random.key(1)))
    >>> x_batch.shape, data.one_hot(y_batch, ds.num_classes).shape
    ((32, 64), (32, 10))
"""

from jaxdl.data._batching import batches, epoch_batches, num_batches, shuffle, train_val_split
from jaxdl.data._datasets import Dataset, digits, fashion_mnist, load, mnist, mnist1d
from jaxdl.data._download import ChecksumError, DatasetDownloadError, default_cache_dir, fetch
from jaxdl.data._idx import parse_idx, read_idx
from jaxdl.data._preprocessing import Standardization, one_hot, standardize

__all__ = [
    "ChecksumError",
    "Dataset",
    "DatasetDownloadError",
    "Standardization",
    "batches",
    "default_cache_dir",
    "digits",
    "epoch_batches",
    "fashion_mnist",
    "fetch",
    "load",
    "mnist",
    "mnist1d",
    "num_batches",
    "one_hot",
    "parse_idx",
    "read_idx",
    "shuffle",
    "standardize",
    "train_val_split",
]

"""The IDX file format of MNIST and Fashion-MNIST: parse bytes, read ``.gz`` or raw files.

An IDX file is a big-endian header followed by a row-major payload:

- a magic number of four bytes: two zero bytes, a type code, and the number of
  dimensions ``ndim``;
- ``ndim`` big-endian unsigned 32-bit sizes;
- ``prod(sizes)`` items of the type, big-endian.

Type codes: ``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D``
float32, ``0x0E`` float64. MNIST's images have magic ``0x00000803`` (uint8, 3 dims) and its
labels ``0x00000801`` (uint8, 1 dim).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = ["parse_idx", "read_idx"]

# IDX type code -> the big-endian NumPy dtype of the payload.
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# NumPy's NPY_MAXDIMS: 64 dimensions since NumPy 2.0, 32 before.
_MAX_DIMS = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32

_GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(data: bytes, *, source: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file into a NumPy array.

    Arguments:
        data: the whole file's bytes, header and payload.
        source: what to call the data in error messages (``read_idx`` passes the path).

    Returns:
        A new, writable array of shape ``sizes`` in native byte order, of the dtype the
        type code names (``uint8`` for MNIST).

    Raises:
        ValueError: for a bad magic number, an unknown type code, a header cut short, or a
            payload whose length differs from what the sizes imply (a truncated or
            oversized file); the message names ``source`` and the expected and actual
            byte counts.

    Example:
        >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
        >>> parse_idx(header + bytes(range(6)))
        array([[0, 1, 2],
               [3, 4, 5]], dtype=uint8)
    """
    data = memoryview(data).cast("B")
    if len(data) < 4:
        raise ValueError(
            f"{source}: not an IDX file: {len(data)} bytes, shorter than the 4-byte magic number."
        )
    zero_high, zero_low, type_code, ndim = data[:4]
    if zero_high or zero_low:
        raise ValueError(
            f"{source}: not an IDX file: its magic number {bytes(data[:4]).hex()} does not "
            "start with two zero bytes (a gzip file starts with 1f8b: use read_idx, which "
            "decompresses)."
        )
    if type_code not in _DTYPES:
        known = ", ".join(f"0x{code:02X} ({dtype.name})" for code, dtype in _DTYPES.items())
        raise ValueError(
            f"{source}: unknown IDX type code 0x{type_code:02X}; known codes: {known}."
        )
    if ndim > _MAX_DIMS:
        raise ValueError(
            f"{source}: IDX header claims {ndim} dimensions; NumPy arrays hold at most {_MAX_DIMS}."
        )
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise ValueError(
            f"{source}: IDX header cut short: {ndim} dimensions need a {header_bytes}-byte "
            f"header, but the file has {len(data)} bytes."
        )
    sizes = tuple(int(size) for size in np.frombuffer(data[4:header_bytes], dtype=">u4"))
    dtype = _DTYPES[type_code]
    expected = math.prod(sizes) * dtype.itemsize
    actual = len(data) - header_bytes
    if actual != expected:
        problem = "truncated" if actual < expected else "has extra bytes"
        raise ValueError(
            f"{source}: IDX payload {problem}: sizes {sizes} of {dtype.name} need "
            f"{expected} bytes after the {header_bytes}-byte header, got {actual}."
        )
    payload = np.frombuffer(data, dtype=dtype, count=math.prod(sizes), offset=header_bytes)
    return payload.astype(dtype.newbyteorder("="), copy=True).reshape(sizes)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzipped (as distributed) or raw, into a NumPy array.

    Compression is recognised from the content (gzip's magic bytes ``1f 8b``), not from the
    file name, so a mis-named file still reads.

    Arguments:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        The array :func:`parse_idx` returns: MNIST's training images as ``uint8`` of shape
        ``(60000, 28, 28)``.

    Raises:
        ValueError: for a corrupt gzip stream or a malformed IDX file, naming ``path``.
        FileNotFoundError: when ``path`` does not exist.

    Example:
        >>> images = read_idx("mnist/train-images-idx3-ubyte.gz")  # doctest: +SKIP
        >>> images.shape, images.dtype  # doctest: +SKIP
        ((60000, 28, 28), dtype('uint8'))
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"{path}: corrupt gzip data ({error}).") from error
    return parse_idx(data, source=str(path))

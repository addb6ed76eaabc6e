"""IDX parsing: synthetic files of every type code, malformed files, gzip and raw."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from jaxdl.data import parse_idx, read_idx

# type code, big-endian struct format of one item, values that byte order would garble
TYPES = [
    (0x08, "B", np.uint8, [[0, 1, 127], [128, 200, 255]]),
    (0x09, "b", np.int8, [[-128, -1, 0], [1, 100, 127]]),
    (0x0B, "h", np.int16, [[-32768, -2, 258], [1, 513, 32767]]),
    (0x0C, "i", np.int32, [[-(2**31), -70000, 66051], [1, 16909060, 2**31 - 1]]),
    (0x0D, "f", np.float32, [[-1.5, 0.0, 3.25], [1e-3, 6.5e4, -2.0]]),
    (0x0E, "d", np.float64, [[-1.5, 1e-300, 3.25], [1 / 3, 6.5e200, -2.0]]),
]


def idx_bytes(type_code: int, item_format: str, values: list, shape: tuple[int, ...]) -> bytes:
    """An IDX file built with ``struct``, independently of the parser under test."""
    header = struct.pack(">BBBB", 0, 0, type_code, len(shape)) + struct.pack(
        f">{len(shape)}I", *shape
    )
    flat = np.asarray(values).ravel().tolist()
    return header + struct.pack(f">{len(flat)}{item_format}", *flat)


def uint8_file(shape=(2, 3)) -> bytes:
    return idx_bytes(0x08, "B", [i % 256 for i in range(int(np.prod(shape)))], shape)


@pytest.mark.parametrize(("type_code", "item_format", "dtype", "values"), TYPES)
def test_parse_idx_reads_every_type_big_endian(type_code, item_format, dtype, values):
    parsed = parse_idx(idx_bytes(type_code, item_format, values, (2, 3)))
    assert parsed.dtype == np.dtype(dtype)  # native byte order, the named type
    assert parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, np.asarray(values, dtype=dtype))


def test_parse_idx_reads_three_dimensions_row_major():
    parsed = parse_idx(uint8_file((2, 3, 4)))
    np.testing.assert_array_equal(parsed, np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


def test_parse_idx_returns_a_writable_array():
    parsed = parse_idx(uint8_file())
    parsed[0, 0] = 9
    assert parsed[0, 0] == 9


def test_parse_idx_rejects_truncated_payload_with_byte_counts():
    with pytest.raises(ValueError, match=r"truncated.*need 6 bytes.*got 5"):
        parse_idx(uint8_file()[:-1])


def test_parse_idx_rejects_extra_bytes_with_byte_counts():
    with pytest.raises(ValueError, match=r"extra bytes.*need 6 bytes.*got 8"):
        parse_idx(uint8_file() + b"\x00\x00")


def test_parse_idx_counts_payload_bytes_by_item_size():
    data = idx_bytes(0x0C, "i", [1, 2, 3], (3,))  # 3 int32 = 12 bytes
    with pytest.raises(ValueError, match=r"need 12 bytes.*got 11"):
        parse_idx(data[:-1])


def test_parse_idx_rejects_bad_magic():
    with pytest.raises(ValueError, match="magic number 01000802"):
        parse_idx(b"\x01" + uint8_file()[1:])


def test_parse_idx_rejects_unknown_type_code():
    with pytest.raises(ValueError, match="unknown IDX type code 0x07"):
        parse_idx(b"\x00\x00\x07" + uint8_file()[3:])


def test_parse_idx_rejects_header_cut_short():
    with pytest.raises(ValueError, match=r"header cut short: 3 dimensions need a 16-byte"):
        parse_idx(b"\x00\x00\x08\x03" + struct.pack(">I", 5))


def test_parse_idx_rejects_fewer_than_four_bytes():
    with pytest.raises(ValueError, match="2 bytes"):
        parse_idx(b"\x00\x00")


def test_parse_idx_names_the_source_in_errors():
    with pytest.raises(ValueError, match=r"^labels\.idx: "):
        parse_idx(uint8_file()[:-1], source="labels.idx")


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_read_idx_reads_raw_and_gzipped_files(tmp_path, compress):
    data = uint8_file()
    path = tmp_path / "file-idx2-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    np.testing.assert_array_equal(read_idx(path), np.arange(6, dtype=np.uint8).reshape(2, 3))


def test_read_idx_names_the_file_of_a_truncated_payload(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(uint8_file()[:-2]))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz.*truncated"):
        read_idx(path)


def test_read_idx_names_the_file_of_a_corrupt_gzip_stream(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(uint8_file((50, 50)))[:-20])
    with pytest.raises(ValueError, match=r"images\.gz: corrupt gzip data"):
        read_idx(path)


def test_read_idx_reads_the_real_mnist_labels(mnist_dir):
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]

"""Fuzzing the IDX parser: on any bytes, ``parse_idx`` returns the array the header
describes or raises ``ValueError`` (its documented error), and never allocates more than
the input's size, whatever sizes a header claims."""

import gzip
import math
import os
import tempfile
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxdl.data import parse_idx, read_idx

CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_within_memory(data: bytes):
    """``parse_idx(data)``, asserting the peak allocation stays under 2 × len(data) + 64 KiB
    (the copy of the payload is at most the input's size)."""
    tracemalloc.start()
    try:
        try:
            return parse_idx(data)
        finally:
            _, peak = tracemalloc.get_traced_memory()
            assert peak <= 2 * len(data) + 65536, f"{peak} bytes for {len(data)} input bytes"
    finally:
        tracemalloc.stop()


def _check(data: bytes) -> None:
    """The property: a ValueError, or exactly the array an independent decoding gives."""
    try:
        array = _parse_within_memory(data)
    except ValueError:
        return
    assert data[:2] == b"\0\0" and data[2] in CODES
    ndim = data[3]
    sizes = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(CODES[data[2]])
    assert array.shape == sizes and array.dtype == dtype.newbyteorder("=")
    assert len(data) == 4 + 4 * ndim + math.prod(sizes) * dtype.itemsize
    expected = np.frombuffer(data[4 + 4 * ndim :], dtype=dtype).reshape(sizes)
    np.testing.assert_array_equal(array, expected)
    assert array.flags.writeable


@FAST
@given(st.binary(max_size=200))
def test_random_bytes_parse_or_raise_value_error(data):
    _check(data)


@st.composite
def headers(draw):
    """Well-formed magic numbers (sometimes an unknown type code) with sizes up to 2**32 - 1
    and a payload of a length near, at or far from what the sizes need."""
    code = draw(st.sampled_from([*CODES, 0x00, 0x0A, 0xFF]))
    ndim = draw(st.integers(0, 255) | st.integers(0, 4))
    small = st.integers(0, 5)
    sizes = draw(st.lists(small | st.integers(0, 2**32 - 1), min_size=ndim, max_size=ndim))
    header = bytes([0, 0, code, ndim]) + b"".join(s.to_bytes(4, "big") for s in sizes)
    itemsize = np.dtype(CODES.get(code, ">u1")).itemsize
    needed = math.prod(sizes) * itemsize
    length = draw(st.sampled_from([needed, needed - 1, needed + 1, 0]) | st.integers(0, 64))
    length = max(0, min(length, 4096))  # a claimed multi-gigabyte payload is not supplied
    return header + draw(st.binary(min_size=length, max_size=length))


@FAST
@given(headers())
def test_headers_with_any_sizes_parse_or_raise_value_error(data):
    _check(data)


def _valid_file(draw) -> bytes:
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    code = draw(st.sampled_from(list(CODES)))
    values = np.arange(math.prod(shape), dtype=CODES[code])
    sizes = b"".join(n.to_bytes(4, "big") for n in shape)
    return bytes([0, 0, code, len(shape)]) + sizes + values.tobytes()


@st.composite
def mutated_files(draw):
    """A valid IDX file with bytes flipped, inserted, deleted or the tail cut off."""
    data = bytearray(_valid_file(draw))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


@FAST
@given(mutated_files())
def test_mutated_files_parse_or_raise_value_error(data):
    _check(data)


def test_a_huge_claimed_size_raises_without_allocating():
    header = bytes([0, 0, 0x0E, 3]) + (2**32 - 1).to_bytes(4, "big") * 3
    with pytest.raises(ValueError, match="IDX payload truncated"):
        _parse_within_memory(header + bytes(16))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_read_idx_of_a_mutated_gzip_file_reads_or_raises_value_error(data):
    raw = _valid_file(data.draw)
    packed = bytearray(gzip.compress(raw, mtime=0))
    at = data.draw(st.integers(0, len(packed) - 1))
    mutation = data.draw(st.sampled_from(["flip", "cut"]))
    if mutation == "flip":
        packed[at] ^= 1 << data.draw(st.integers(0, 7))
    else:
        del packed[at:]
    handle, path = tempfile.mkstemp(suffix=".gz")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(packed)
        try:
            array = read_idx(path)
        except ValueError:
            return
        # gzip's CRC-32 catches a changed payload; what reads is what was written, or a
        # flip in the header's free fields (name, mtime, OS) that changes nothing.
        np.testing.assert_array_equal(array, parse_idx(raw))
    finally:
        os.unlink(path)


def test_too_many_dimensions_is_reported_with_the_source():
    header = bytes([0, 0, 0x08, 70]) + (1).to_bytes(4, "big") * 70
    with pytest.raises(ValueError, match="train-images"):
        parse_idx(header + b"x", source="train-images")


@pytest.mark.slow
@settings(max_examples=20000, deadline=None)
@given(st.one_of(st.binary(max_size=400), headers(), mutated_files()))
def test_long_fuzz_of_the_idx_parser(data):
    _check(data)

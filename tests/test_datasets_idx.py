"""IDX read/write: every type code, gzip or raw, exact errors, fuzzed headers."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from softreg.datasets import read_idx, write_idx
from softreg.datasets.idx import IDX_DTYPES

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def reference_read(path: Path) -> np.ndarray:
    """The plain reader of the format spec: gzip, parse by hand, frombuffer."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    code, ndim = data[2], data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, IDX_DTYPES[code], offset=4 + 4 * ndim).reshape(shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_type_code(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    got = read_idx(path)
    np.testing.assert_array_equal(got, array)
    np.testing.assert_array_equal(got, reference_read(path))
    assert got.dtype.kind == np.dtype(dtype).kind
    assert got.dtype.itemsize == np.dtype(dtype).itemsize


def test_header_bytes_match_the_format(tmp_path):
    path = tmp_path / "x"
    write_idx(path, np.zeros((2, 3), dtype=np.int16))
    data = path.read_bytes()
    assert data[:4] == b"\x00\x00\x0b\x02"
    assert data[4:12] == b"\x00\x00\x00\x02\x00\x00\x00\x03"
    assert len(data) == 12 + 2 * 3 * 2


def test_raw_file_is_memory_mapped_copy_on_write(tmp_path):
    path = tmp_path / "labels"
    write_idx(path, np.arange(10, dtype=np.uint8))
    before = path.read_bytes()
    array = read_idx(path)
    assert isinstance(array.base, np.memmap) or isinstance(array, np.memmap)
    array[0] = 99  # writable, but the file is untouched
    assert path.read_bytes() == before


def test_gzip_detected_by_magic_not_by_name(tmp_path):
    path = tmp_path / "no-suffix"
    write_idx(path, np.arange(4, dtype=np.int32), compress=True)
    np.testing.assert_array_equal(read_idx(path), np.arange(4))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated IDX header"),
        (b"\x00\x00\x08", "truncated IDX header"),
        (b"\x12\x34\x08\x01\x00\x00\x00\x01\x05", "wrong magic number"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02", "need 3 bytes of data, file has (only )?2"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "need 1 bytes of data, file has (2|more)"),
        (b"\x00\x00\x0c\x01\x00\x00\x00\x02" + b"\x00" * 7, "need 8 bytes"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_bad_files_raise_value_error_naming_the_file(tmp_path, data, message, compress):
    path = tmp_path / "bad-idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_stream(tmp_path):
    path = tmp_path / "t.gz"
    write_idx(path, np.arange(1000, dtype=np.float64))
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ValueError, match=str(path)):
        read_idx(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        read_idx("/nonexistent/file-idx1-ubyte")


@pytest.mark.parametrize("dtype", [np.bool_, np.uint16, np.int64, np.complex64, object])
def test_write_rejects_dtypes_without_a_type_code(tmp_path, dtype):
    with pytest.raises(TypeError, match="array: dtype"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=dtype))
    assert list(tmp_path.iterdir()) == []  # nothing, not even a temporary file


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "x.gz"
    write_idx(path, np.arange(3, dtype=np.uint8))
    old = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(gzip.GzipFile, "write", boom)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.arange(5, dtype=np.uint8))
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.gz"]


@given(
    hnp.arrays(
        dtype=st.sampled_from(DTYPES),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    ),
    st.booleans(),
)
def test_round_trip_property(tmp_path_factory, array, compress):
    path = tmp_path_factory.mktemp("idx") / "a"
    write_idx(path, array, compress=compress)
    got = read_idx(path)
    assert got.shape == array.shape
    np.testing.assert_array_equal(got, array)


@given(
    st.binary(max_size=40)
    | st.builds(
        lambda code, ndim, dims, tail: bytes([0, 0, code, ndim]) + dims + tail,
        st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]),
        st.integers(0, 4),
        st.binary(max_size=16),
        st.binary(max_size=64),
    ),
    st.booleans(),
)
def test_fuzzed_headers_give_a_correct_array_or_a_value_error(tmp_path_factory, data, compress):
    path = tmp_path_factory.mktemp("fuzz") / "f"
    path.write_bytes(gzip.compress(data) if compress else data)
    error = None
    try:
        got = read_idx(path)
    except ValueError as exc:
        error = str(exc)
    if error is not None:
        assert str(path) in error
        return
    np.testing.assert_array_equal(got, reference_read(path))


@given(st.data())
def test_mutated_valid_files(tmp_path_factory, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    array = rng.integers(0, 255, size=(3, 4)).astype(np.uint8)
    raw = bytearray(b"\x00\x00\x08\x02\x00\x00\x00\x03\x00\x00\x00\x04" + array.tobytes())
    position = data.draw(st.integers(0, 11))
    raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(raw) - 3, len(raw)))
    path = tmp_path_factory.mktemp("mut") / "m"
    path.write_bytes(bytes(raw[:cut]))
    error = None
    try:
        got = read_idx(path)
    except ValueError as exc:
        error = str(exc)
    if error is not None:
        assert str(path) in error
        return
    np.testing.assert_array_equal(got, reference_read(path))


@pytest.mark.parametrize("compress", [False, True])
def test_huge_claimed_dimensions_are_refused_before_allocating(tmp_path, compress):
    data = b"\x00\x00\x0e\x03" + b"\xff\xff\xff\xff" * 3 + b"\x00" * 64
    path = tmp_path / "huge"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match=r"need \d+ bytes of data"):
        read_idx(path)


def test_multi_member_gzip_and_trailing_garbage(tmp_path):
    array = np.arange(12, dtype=np.int32).reshape(3, 4)
    whole = tmp_path / "whole"
    write_idx(whole, array)
    raw = whole.read_bytes()
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(raw[:20]) + gzip.compress(raw[20:]))  # `cat a.gz b.gz`
    np.testing.assert_array_equal(read_idx(path), array)
    path.write_bytes(gzip.compress(raw) + b"garbage!")
    with pytest.raises(ValueError, match="corrupt gzip stream"):
        read_idx(path)

"""softreg._npz: sizes checked before inflating; every failure one error naming file and member."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from softreg._npz import ArchiveError, NpzReader


def read_all(path: Path, **kwargs: object) -> dict[str, np.ndarray]:
    with NpzReader(path, **kwargs) as archive:  # type: ignore[arg-type]
        return {key: archive.read(key) for key in archive.names}


def npy_bytes(shape: tuple[int, ...], dtype: str = "<f8", data: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    n = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    buf.write(bytes(n) if data is None else data)
    return buf.getvalue()


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.npz"
    np.savez(path, w=np.arange(6.0).reshape(2, 3), names=np.array(["a", "bc"]))
    return path


def test_reads_what_numpy_reads(good: Path) -> None:
    got = read_all(good)
    with np.load(good) as ref:
        assert sorted(got) == sorted(ref.files)
        for key in ref.files:
            np.testing.assert_array_equal(got[key], ref[key])
            assert got[key].dtype == ref[key].dtype


def test_compressed_archives_too(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    np.savez_compressed(path, w=np.zeros(1000))
    np.testing.assert_array_equal(read_all(path)["w"], np.zeros(1000))


def test_zip_bomb_costs_kilobytes(tmp_path: Path) -> None:
    # 64 MiB of zeros deflate to ~64 KiB; the member's .npy header says 10 floats. (The
    # audit's 0.5 MiB file of 513 MiB is the same case; a smaller one keeps the suite fast.)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("w.npy", "w") as f:
        f.write(npy_bytes((10,))[:128])
        chunk = bytes(1 << 20)
        for _ in range(64):
            f.write(chunk)
    assert os.path.getsize(path) < 1 << 20
    with pytest.raises(ArchiveError, match=r"declares shape \(10,\).*refused before allocating"):
        read_all(path)


def test_declared_total_over_the_limit_refused_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "big.npz"
    np.savez_compressed(path, w=np.zeros(1 << 17))  # 1 MiB of float64 zeros
    with pytest.raises(ArchiveError, match=r"more than 65536 bytes uncompressed"):
        read_all(path, max_bytes=1 << 16)


def test_impossible_shape_refused_before_allocation(tmp_path: Path) -> None:
    path = tmp_path / "shape.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("w.npy", npy_bytes((10**12,), data=bytes(80)))
    with pytest.raises(ArchiveError, match=r"shape \(1000000000000,\).*holds 80"):
        read_all(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello, this is a text file\n", r"a text file, not an .npz archive"),
        (b"", r"an empty file"),
        (b"\x93NUMPY\x01\x00", r"a single .npy array"),
        (b"\xff\xfe\x00\x01binary", r"not a zip archive"),
    ],
)
def test_not_an_archive_named_for_what_it_is(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(ArchiveError, match=message):
        read_all(path)


def test_object_dtype_refused_from_the_header(tmp_path: Path) -> None:
    path = tmp_path / "o.npz"
    np.savez(path, w=np.array([1, None], dtype=object), allow_pickle=True)
    with pytest.raises(ArchiveError, match=r"is an object array \(refused.*never use pickle\)"):
        read_all(path)


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("dir/w.npy", r"unexpected member 'dir/w.npy'"),
        ("w.txt", r"unexpected member 'w.txt'"),
    ],
)
def test_unexpected_member_names(tmp_path: Path, member: str, message: str) -> None:
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, npy_bytes((1,)))
    with pytest.raises(ArchiveError, match=message):
        read_all(path)


def test_unsupported_compression_refused(tmp_path: Path) -> None:
    path = tmp_path / "bz.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as z:
        z.writestr("w.npy", npy_bytes((4,)))
    with pytest.raises(ArchiveError, match=r"compression method 12"):
        read_all(path)


def test_expected_dtype_and_shape(good: Path) -> None:
    with NpzReader(good) as archive:
        with pytest.raises(ArchiveError, match=r"'w.npy' has shape \(2, 3\), the header says"):
            archive.read("w", shape=(3, 2))
        with pytest.raises(ArchiveError, match=r"'w.npy' has dtype <f8, the header says <f4"):
            archive.read("w", dtype=np.float32)
        with pytest.raises(ArchiveError, match=r"no member 'x'"):
            archive.read("x")


def test_fail_builds_the_callers_error(tmp_path: Path) -> None:
    class ModelError(ValueError):
        pass

    path = tmp_path / "t.npz"
    path.write_text("text")
    with pytest.raises(ModelError, match=r"^model: a text file"):
        NpzReader(path, fail=lambda problem: ModelError(f"model: {problem}"))


def test_every_single_byte_flip_gives_the_data_or_one_error(good: Path, tmp_path: Path) -> None:
    # The zip layer's own exceptions (NotImplementedError: zip file version, zlib.error,
    # struct.error, ...) must never escape; the CRC catches flips in the data.
    data = good.read_bytes()
    reference = read_all(good)
    flipped = tmp_path / "flipped.npz"
    outcomes = {"same": 0, "error": 0}
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 0xFF
        flipped.write_bytes(bytes(damaged))
        try:
            got = read_all(flipped)
        except ArchiveError:
            outcomes["error"] += 1
            continue
        # A damaged directory can hide a member: the readers of model files and checkpoints
        # compare the member set with their header. What is read is never different data.
        assert set(got) <= set(reference)
        for key in got:
            np.testing.assert_array_equal(got[key], reference[key])
        outcomes["same"] += 1
    assert outcomes["error"] > len(data) // 2


def test_truncations_give_one_error(good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    cut = tmp_path / "cut.npz"
    for n in range(0, len(data), 7):
        cut.write_bytes(data[:n])
        with pytest.raises(ArchiveError):
            read_all(cut)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        NpzReader(tmp_path / "absent.npz")

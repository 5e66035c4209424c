"""The IDX file format of MNIST-like datasets: read and write, gzip or raw.

The layout (magic number, big-endian uint32 dimensions, C-order big-endian values) and the
table of type codes and dtypes are in :mod:`softreg.datasets.header`.

A file is gzip-compressed when it starts with the gzip magic ``1f 8b`` (whatever its
name). Raw files are memory-mapped (zero copy, copy-on-write: writing to the array
never touches the file); multi-byte values keep their big-endian dtype so that no
byte swap is needed, and compare equal to native arrays.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from softreg._atomic import atomic_path
from softreg.datasets.decode import decode_idx
from softreg.datasets.header import (
    IDX_DTYPES,
    IdxHeader,
    idx_bytes_header,
    is_gzip,
    read_idx_header,
)

__all__ = ["IDX_DTYPES", "read_idx", "write_idx"]


def _empty(header: IdxHeader) -> np.ndarray:
    return np.empty(header.shape, dtype=header.dtype)


def _read_raw(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) == 4 and head[:2] == b"\x00\x00":
            head += f.read(4 * head[3])
    header = read_idx_header(head, str(path))
    size = os.path.getsize(path)
    if size - header.offset != header.nbytes:
        raise ValueError(
            f"{path}: dimensions {header.shape} need {header.nbytes} bytes of data, "
            f"file has {size - header.offset}"
        )
    if header.nbytes == 0:
        return np.empty(header.shape, dtype=header.dtype)
    mapped = np.memmap(path, dtype=header.dtype, mode="c", offset=header.offset, shape=header.shape)
    return np.asarray(mapped)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into an array.

    Parameters
    ----------
    path : str or path-like
        The file. It is gzip-compressed when it starts with ``1f 8b``, raw otherwise.

    Returns
    -------
    ndarray of shape given by the header
        dtype from the type code (see the module table; multi-byte types stay big-endian).
        Raw files are memory-mapped copy-on-write; gzip files are decompressed in one pass
        into a single buffer.

    Raises
    ------
    ValueError
        Naming the file: truncated file, wrong magic number, unknown type code, dimensions
        that disagree with the byte count, or a corrupt gzip stream.
    FileNotFoundError
        If the file does not exist.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from softreg.datasets import read_idx, write_idx
    >>> path = tempfile.mkdtemp() + "/a-idx2-short.gz"
    >>> write_idx(path, np.array([[1, -2], [300, 4]], dtype=np.int16))
    >>> read_idx(path)
    array([[  1,  -2],
           [300,   4]], dtype='>i2')
    """
    path = Path(path)
    if not is_gzip(path):
        return _read_raw(path)
    return decode_idx(path, _empty, sha256=False).array


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, *, compress: bool | None = None
) -> None:
    """Write ``array`` to an IDX file atomically (temporary file + rename).

    Parameters
    ----------
    path : str or path-like
        Destination. Never left half-written: readers see the old file or the new one.
    array : ndarray
        dtype uint8, int8, int16, int32, float32 or float64 (any byte order); any shape with
        at most 255 dimensions.
    compress : bool, optional
        gzip the file. Default: when ``path`` ends in ``.gz``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from softreg.datasets import read_idx, write_idx
    >>> path = tempfile.mkdtemp() + "/labels-idx1-ubyte"
    >>> write_idx(path, np.arange(5, dtype=np.uint8))
    >>> read_idx(path)
    array([0, 1, 2, 3, 4], dtype=uint8)
    """
    array = np.asarray(array)
    header = idx_bytes_header(array)
    big = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">"))
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        if compress:
            with gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
                f.write(header)
                f.write(big.reshape(-1).view(np.uint8).data)
        else:
            raw.write(header)
            raw.write(big.reshape(-1).view(np.uint8).data)

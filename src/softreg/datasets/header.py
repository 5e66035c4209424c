"""The IDX header: type codes, parsing and building.

Conventions
-----------
An IDX file is a 4-byte magic number ``0x00 0x00 <type code> <ndim>``, then ``ndim``
big-endian uint32 dimensions, then the values in C order, big-endian:

=========  ===========  =============
type code  element      NumPy dtype
=========  ===========  =============
0x08       ubyte        ``uint8``
0x09       byte         ``int8``
0x0B       short        ``>i2``
0x0C       int          ``>i4``
0x0D       float        ``>f4``
0x0E       double       ``>f8``
=========  ===========  =============

A file is gzip-compressed when it starts with the gzip magic ``1f 8b``, whatever its name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

__all__ = ["GZIP_MAGIC", "IDX_DTYPES", "IdxHeader", "idx_bytes_header", "read_idx_header"]

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {(dtype.kind, dtype.itemsize): code for code, dtype in IDX_DTYPES.items()}
GZIP_MAGIC = b"\x1f\x8b"
# Deflate never compresses better than 1032:1, so a gzip file of m bytes holds at most
# ~1032 m bytes: a header claiming more is a lie we can reject before allocating memory.
MAX_DEFLATE_RATIO = 1032
# NumPy's limit on ndim (64 since NumPy 2.0, 32 before); the IDX byte allows 255.
MAX_NDIM = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32


@dataclass(frozen=True)
class IdxHeader:
    """Parsed IDX header: element dtype, array shape and header length in bytes."""

    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int

    @property
    def nbytes(self) -> int:
        """Number of data bytes that follow the header."""
        return int(np.prod(self.shape, dtype=object)) * self.dtype.itemsize


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` starts with the gzip magic number."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def read_idx_header(head: bytes, name: str) -> IdxHeader:
    """Parse the IDX header at the start of ``head``; ``name`` is used in error messages."""
    if len(head) < 4:
        raise ValueError(f"{name}: truncated IDX header: {len(head)} bytes, expected at least 4")
    if head[0] != 0 or head[1] != 0:
        raise ValueError(
            f"{name}: wrong magic number 0x{head[:4].hex()}: an IDX file starts with 0x0000"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if ndim > MAX_NDIM:
        raise ValueError(
            f"{name}: the IDX header declares {ndim} dimensions; NumPy arrays have at most "
            f"{MAX_NDIM} (the file is damaged or not an IDX file)"
        )
    offset = 4 + 4 * ndim
    if len(head) < offset:
        raise ValueError(
            f"{name}: truncated IDX header: {ndim} dimensions need {offset} bytes, "
            f"file has {len(head)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(head, dtype=">u4", count=ndim, offset=4))
    return IdxHeader(IDX_DTYPES[code], shape, offset)


def idx_bytes_header(array: np.ndarray) -> bytes:
    """The IDX header for ``array`` (its dtype must be one of the six IDX types)."""
    code = _CODES.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise TypeError(
            f"array: dtype {array.dtype} has no IDX type code; expected uint8, int8, int16, "
            "int32, float32 or float64"
        )
    if array.ndim > 255 or any(d >= 2**32 for d in array.shape):
        raise ValueError(f"array: shape {array.shape} does not fit an IDX header")
    return bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()

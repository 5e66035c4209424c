"""Reading ``.npz`` archives defensively: sizes checked before anything is inflated.

``np.load`` on an ``.npz`` trusts the archive: it inflates a member before looking at what it
declares, lets ``zipfile``'s own exceptions through (``NotImplementedError: zip file version``,
``zlib.error``, ``struct.error``, ``BadZipFile``...), allocates whatever shape a member's
``.npy`` header names (``MemoryError`` for ``(10**12,)``), and calls a text file an "object
array" because it then tries pickle. :class:`NpzReader` reads the same files so that:

- every failure of the zip layer, the ``.npy`` layer or the file system while reading becomes
  one :class:`ArchiveError` (a ``ValueError``) naming the file and the member;
- nothing is inflated before the sizes add up: each member is STORED or DEFLATED, not
  encrypted, its declared uncompressed size is within what DEFLATE can produce from its
  compressed size (1032:1), the declared sizes together stay under ``max_bytes``, and its
  ``.npy`` header (read from the first bytes) names a shape and dtype whose byte count is
  exactly the member's size, and, when the caller declares one, the expected shape and dtype;
  so a 0.5 MiB zip bomb costs a few kilobytes of reading, and an impossible shape is refused
  before any allocation;
- object (pickle) dtypes are refused from the ``.npy`` header, before any data is read;
- a file that is not a zip archive is named for what it is (text, a single ``.npy``, ...).

Imports nothing of softreg's.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["MAX_ARCHIVE_BYTES", "ArchiveError", "NpzReader"]

#: Default limit on the sum of the members' uncompressed sizes (a model file is megabytes).
MAX_ARCHIVE_BYTES = 1 << 30
# DEFLATE cannot expand better than 1032:1 (plus a small constant for tiny members).
_MAX_DEFLATE_RATIO = 1032
_ALLOWED_KINDS = frozenset("biufcU")
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,  # "zip file version 9.9" and unsupported compression methods
    RuntimeError,  # encrypted members
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    KeyError,
    ValueError,
    UnicodeDecodeError,
    OverflowError,
)


class ArchiveError(ValueError):
    """An ``.npz`` archive that cannot be read safely (names the file and the member)."""


class _Refused(Exception):
    """A problem found while a member is open (turned into the caller's error outside)."""


def _describe_start(head: bytes) -> str:
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array, not an .npz archive"
    if not head:
        return "an empty file, not an .npz archive"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"not a zip archive (it starts with {head[:8]!r})"
    if all(c.isprintable() or c.isspace() for c in text):
        return f"a text file, not an .npz archive (it starts with {text[:20]!r})"
    return f"not a zip archive (it starts with {head[:8]!r})"


class NpzReader:
    """Open ``path`` as an ``.npz`` and check its directory; read members with :meth:`read`.

    Parameters
    ----------
    path : str or path-like
        The archive.
    max_bytes : int
        Limit on the sum of the members' declared uncompressed sizes.
    fail : callable, optional
        ``fail(problem) -> Exception`` builds the error raised (the caller's type and wording);
        by default an :class:`ArchiveError` reading ``"<path>: <problem>"``.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> np.savez(path, w=np.arange(3.0))
    >>> with NpzReader(path) as archive:
    ...     archive.names, archive.read("w", dtype="<f8", shape=(3,))
    (['w'], array([0., 1., 2.]))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = MAX_ARCHIVE_BYTES,
        fail: Callable[[str], Exception] | None = None,
    ) -> None:
        self.where = os.fspath(path)
        self._fail = fail
        self.max_bytes = int(max_bytes)
        if not os.path.isfile(self.where):
            raise FileNotFoundError(f"{self.where}: no such file")
        try:
            with open(self.where, "rb") as f:
                head = f.read(64)
        except OSError as exc:
            raise self.error(f"unreadable ({exc.strerror or exc})") from None
        if not head.startswith(b"PK\x03\x04") and not head.startswith(b"PK\x05\x06"):
            raise self.error(_describe_start(head))
        try:
            self._zip = zipfile.ZipFile(self.where)
            infos = self._zip.infolist()
        except _ZIP_ERRORS as exc:
            raise self.error(
                f"unreadable or truncated archive ({type(exc).__name__}: {exc})"
            ) from None
        try:
            self._infos = self._check_directory(infos)
        except BaseException:
            self._zip.close()
            raise

    def error(self, problem: str) -> Exception:
        """The exception to raise for ``problem`` (see ``fail``)."""
        if self._fail is not None:
            return self._fail(problem)
        return ArchiveError(f"{self.where}: {problem}")

    def _check_directory(self, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = info.filename
            if not name.endswith(".npy") or "/" in name or "\\" in name:
                raise self.error(f"unexpected member {name!r} (an .npz holds only NAME.npy)")
            key = name[: -len(".npy")]
            if key in members:
                raise self.error(f"member {name!r} appears twice")
            if info.flag_bits & 0x1:
                raise self.error(f"member {name!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.error(
                    f"member {name!r} uses compression method {info.compress_type}; expected "
                    "stored or deflated"
                )
            size, packed = int(info.file_size), int(info.compress_size)
            if info.compress_type == zipfile.ZIP_STORED and size != packed:
                raise self.error(
                    f"member {name!r} is stored with {packed} bytes but declares {size}"
                )
            if size > _MAX_DEFLATE_RATIO * packed + 1024:
                raise self.error(
                    f"member {name!r} declares {size} bytes from {packed} compressed: more than "
                    "DEFLATE can produce (a zip bomb or a damaged directory)"
                )
            total += size
            if total > self.max_bytes:
                raise self.error(
                    f"members declare more than {self.max_bytes} bytes uncompressed (at "
                    f"{name!r}); refused before inflating"
                )
            members[key] = info
        return members

    @property
    def names(self) -> list[str]:
        """Member names without ``.npy``, in archive order."""
        return list(self._infos)

    def read(
        self, key: str, *, dtype: Any = None, shape: tuple[int, ...] | None = None
    ) -> np.ndarray:
        """The array ``key``, after checking its ``.npy`` header against its size.

        ``dtype``/``shape``, when given, are what the caller expects (e.g. from a model
        header): a member declaring anything else is refused before its data is read.
        """
        info = self._infos.get(key)
        if info is None:
            raise self.error(f"no member {key!r}")
        name = info.filename
        try:
            with self._zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    header = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    header = np.lib.format.read_array_header_2_0(f)
                else:
                    raise _Refused(f"member {name!r}: unsupported .npy version {version}")
                found_shape, fortran, found_dtype = header
                offset = f.tell()
                self._check_member(name, found_dtype, found_shape, offset, info, dtype, shape)
                nbytes = int(info.file_size) - offset
                buffer = bytearray(nbytes)
                view = memoryview(buffer)
                got = 0
                while got < nbytes:
                    n = f.readinto(view[got:])  # type: ignore[attr-defined]
                    if not n:
                        break
                    got += n
                if got != nbytes or f.read(1):
                    raise _Refused(f"member {name!r} holds {got} data bytes, expected {nbytes}")
        except _Refused as refused:
            raise self.error(str(refused)) from None
        except _ZIP_ERRORS as exc:
            raise self.error(
                f"member {name!r} unreadable or truncated ({type(exc).__name__}: {exc})"
            ) from None
        array = np.frombuffer(buffer, dtype=found_dtype)
        return array.reshape(found_shape, order="F" if fortran else "C")

    def _check_member(
        self,
        name: str,
        found_dtype: np.dtype,
        found_shape: tuple[int, ...],
        offset: int,
        info: zipfile.ZipInfo,
        dtype: Any,
        shape: tuple[int, ...] | None,
    ) -> None:
        if found_dtype.hasobject:
            raise _Refused(
                f"member {name!r} is an object array (refused: softreg files never use pickle)"
            )
        if found_dtype.kind not in _ALLOWED_KINDS:
            raise _Refused(
                f"member {name!r} has dtype {found_dtype} (refused: only numeric, bool and str "
                "arrays)"
            )
        if dtype is not None and found_dtype != np.dtype(dtype):
            expected = np.dtype(dtype).str
            raise _Refused(
                f"member {name!r} has dtype {found_dtype.str}, the header says {expected}"
            )
        if shape is not None and tuple(found_shape) != tuple(shape):
            raise _Refused(
                f"member {name!r} has shape {tuple(found_shape)}, the header says {tuple(shape)}"
            )
        count = 1
        for d in found_shape:
            count *= int(d)
        nbytes = count * found_dtype.itemsize
        if offset + nbytes != int(info.file_size):
            raise _Refused(
                f"member {name!r} declares shape {tuple(found_shape)} of {found_dtype.str} "
                f"({nbytes} bytes) but holds {int(info.file_size) - offset}; refused before "
                "allocating"
            )

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

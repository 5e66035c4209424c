"""Streaming decode of an IDX file (gzip or raw) into a preallocated array, hashing it.

Decompression runs in the calling thread while a worker thread hashes and copies the
previous chunk (zlib, hashlib and the copy all release the GIL), so verifying the content
and writing it to a memory-mapped cache cost little on top of the gunzip itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
import zlib
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import numpy as np

from softreg.datasets.header import (
    GZIP_MAGIC,
    MAX_DEFLATE_RATIO,
    IdxHeader,
    idx_bytes_header,
    is_gzip,
    read_idx_header,
)

__all__ = ["DecodedFile", "decode_idx"]

_CHUNK = 1 << 20


class DecodedFile:
    """An IDX file decoded into ``array``.

    Attributes
    ----------
    source : Path
        The file.
    array : ndarray
        Its values (shape and dtype from the header).
    gzip : bool
        Whether the file was gzip-compressed.
    file_sha256 : str or None
        SHA-256 of the file's bytes as stored (compressed or raw), when requested.
    """

    def __init__(self, source: Path, array: np.ndarray, gzip: bool, file_sha256: str | None):
        self.source = source
        self.array = array
        self.gzip = gzip
        self.file_sha256 = file_sha256

    def content_sha256(self) -> str:
        """SHA-256 of the decompressed IDX bytes (header and data), whatever the compression."""
        if not self.gzip and self.file_sha256 is not None:
            return self.file_sha256  # a raw file is its own content
        digest = hashlib.sha256(idx_bytes_header(self.array))
        big = np.ascontiguousarray(self.array, dtype=self.array.dtype.newbyteorder(">"))
        digest.update(big.reshape(-1).view(np.uint8).data)
        return digest.hexdigest()


def _chunks(path: Path) -> Generator[tuple[bytes, bytes], None, None]:
    """``(stored, decompressed)`` byte chunks of ``path`` (gzip, possibly multi-member, or raw).

    ``stored`` is the part of the file read for this chunk (b"" when the same read yields
    several decompressed pieces), so hashing all of them hashes the file as stored.
    """
    name = str(path)
    with open(path, "rb") as f:
        gz = f.read(2) == GZIP_MAGIC
        f.seek(0)
        if not gz:
            while chunk := f.read(_CHUNK):
                yield chunk, chunk
            return
        d = zlib.decompressobj(wbits=31)
        fed = False  # whether the current gzip member has received any bytes
        try:
            while stored := f.read(_CHUNK):
                fed, data = True, stored
                while data:
                    yield stored, d.decompress(data)
                    stored = data = b""
                    if d.eof:  # a following gzip member (as written by `cat a.gz b.gz`)
                        data, d = d.unused_data, zlib.decompressobj(wbits=31)
                        fed = bool(data)
            yield b"", d.flush()
        except zlib.error as exc:
            raise ValueError(f"{name}: corrupt gzip stream: {exc}") from exc
        if fed and not d.eof:
            raise ValueError(f"{name}: truncated gzip file (the stream ends before its end marker)")


def _consume(
    chunks: queue.Queue, hasher: hashlib._Hash | None, out: np.ndarray, errors: list
) -> None:
    """Worker: hash the stored bytes and copy the decoded ones into ``out`` (GIL released)."""
    pos = 0
    try:
        while (item := chunks.get()) is not None:
            stored, data = item
            if hasher is not None and stored:
                hasher.update(stored)
            out[pos : pos + len(data)] = np.frombuffer(data, dtype=np.uint8)
            pos += len(data)
    except BaseException as exc:  # pragma: no cover - re-raised by decode_idx
        errors.append(exc)
        while chunks.get() is not None:  # keep draining so the producer never blocks
            pass


def _check_size(path: Path, header: IdxHeader, gz: bool) -> None:
    """Reject a header whose byte count the file cannot hold, before allocating anything."""
    size = os.path.getsize(path)
    nbytes = header.nbytes
    if not gz and size - header.offset != nbytes:
        raise ValueError(
            f"{path}: dimensions {header.shape} need {nbytes} bytes of data, "
            f"file has {size - header.offset}"
        )
    if gz and nbytes > MAX_DEFLATE_RATIO * size + 1024:
        raise ValueError(
            f"{path}: dimensions {header.shape} need {nbytes} bytes of data, more than a "
            f"gzip file of {size} bytes can hold"
        )


def decode_idx(
    path: Path, allocate: Callable[[IdxHeader], np.ndarray], *, sha256: bool = True
) -> DecodedFile:
    """Decode the IDX file ``path`` into ``allocate(header)``.

    Parameters
    ----------
    path : Path
        gzip (detected by its magic number) or raw IDX file.
    allocate : callable
        ``allocate(header) -> ndarray`` of ``header.shape`` and ``header.dtype``, C-contiguous
        (``np.empty``, or a memory-mapped ``.npy`` for the cache).
    sha256 : bool, default=True
        Compute the SHA-256 of the file as stored (cheaper than hashing the decompressed
        content of a gzip file; :meth:`DecodedFile.content_sha256` does that on demand).

    Raises
    ------
    ValueError
        Naming the file: bad header, corrupt or truncated stream, or a byte count that
        disagrees with the dimensions.
    """
    name = str(path)
    gz = is_gzip(path)
    with contextlib.closing(_chunks(path)) as stream:
        stored_head: list[bytes] = []
        head = b""
        for stored, data in stream:
            stored_head.append(stored)
            head += data
            if len(head) >= 4 and (head[:2] != b"\x00\x00" or len(head) >= 4 + 4 * head[3]):
                break
        header = read_idx_header(head, name)
        _check_size(path, header, gz)
        nbytes = header.nbytes
        out = allocate(header)
        hasher = hashlib.sha256() if sha256 else None
        pending: queue.Queue = queue.Queue(maxsize=8)
        errors: list[BaseException] = []
        args = (pending, hasher, out.reshape(-1).view(np.uint8), errors)
        worker = threading.Thread(target=_consume, args=args, daemon=True)
        worker.start()
        got = 0
        try:
            first = (b"".join(stored_head), head[header.offset :])
            for stored, data in _prepend(first, stream):
                if got + len(data) > nbytes:
                    raise ValueError(
                        f"{name}: dimensions {header.shape} need {nbytes} bytes of data, "
                        "file has more"
                    )
                pending.put((stored, data))
                got += len(data)
        finally:
            pending.put(None)
            worker.join()
    if errors:
        raise errors[0]
    if got < nbytes:
        raise ValueError(
            f"{name}: truncated: dimensions {header.shape} need {nbytes} bytes of data, "
            f"file has only {got}"
        )
    return DecodedFile(path, out, gz, hasher.hexdigest() if hasher is not None else None)


def _prepend(
    first: tuple[bytes, bytes], rest: Iterator[tuple[bytes, bytes]]
) -> Iterator[tuple[bytes, bytes]]:
    yield first
    yield from rest

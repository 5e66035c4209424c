"""The decompressed cache: IDX sources decoded once into memory-mapped ``.npy`` files.

Layout: ``<cache root>/<dataset>/<split>-<part>.npy`` beside ``<split>.json``, which
records, for each part, the source file (resolved path, size, ``mtime_ns``), the SHA-256
of its decompressed content, and the size, ``mtime_ns`` and CRC-32 of the ``.npy``. An
entry is used only when all of these still match, so a replaced source, a truncated or
rewritten ``.npy`` or a damaged JSON makes the next load rebuild it.

Content is verified on every load: the CRC-32 of the whole ``.npy`` is recomputed (one
read of the file, ~1 GB/s: about 50 ms for the 47 MB of Fashion-MNIST's training images),
so bit rot or an in-place edit that keeps size and mtime is caught and the entry rebuilt
from its (SHA-256-verified) source. CRC-32 detects every error burst up to 32 bits and
misses a random corruption with probability 2**-32; it is not a defence against someone
who can also rewrite the JSON (the cache folder is the user's own). Files are written to temporary
names and renamed only after the content has been verified and validated; the JSON is
removed first and written last, so no crash can leave a half-valid entry.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

from softreg._atomic import atomic_path
from softreg.datasets.decode import DecodedFile
from softreg.datasets.header import IdxHeader

__all__ = ["cache_root", "file_crc32", "lookup", "npy_allocator", "store"]

_VERSION = 2  # 2: the .npy's CRC-32 is recorded and checked
_CHUNK = 1 << 22


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/softreg``, or ``~/.cache/softreg`` when the variable is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "softreg"


def _identity(path: Path) -> dict[str, object]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def file_crc32(path: Path) -> int:
    """CRC-32 of the whole file at ``path``, read in 4 MiB chunks."""
    crc = 0
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            crc = zlib.crc32(view[:n], crc)
    return crc


def _load_npy(path: Path, mmap: bool = True) -> np.ndarray:
    return np.asarray(np.load(path, mmap_mode="c" if mmap else None, allow_pickle=False))


def lookup(
    folder: Path, split: str, sources: Mapping[str, Path], *, verified: bool
) -> dict[str, np.ndarray] | None:
    """The cached arrays of ``split`` if the entry is complete and matches ``sources``.

    With ``verified=True`` an entry built without checksum verification does not count.
    """
    try:
        meta = json.loads((folder / f"{split}.json").read_text())
        if meta.get("version") != _VERSION or set(meta["parts"]) != set(sources):
            return None
        arrays = {}
        for part, source in sources.items():
            entry = meta["parts"][part]
            if entry["source"] != _identity(source) or (verified and not entry["verified"]):
                return None
            npy = folder / entry["file"]
            st = npy.stat()
            if [st.st_size, st.st_mtime_ns] != [entry["npy_size"], entry["npy_mtime_ns"]]:
                return None
            if file_crc32(npy) != entry["npy_crc32"]:  # bit rot or an in-place edit
                return None
            array = _load_npy(npy)
            if list(array.shape) != entry["shape"] or array.dtype.str != entry["dtype"]:
                return None
            arrays[part] = array
        return arrays
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


@contextlib.contextmanager
def npy_allocator(folder: Path) -> Iterator[Callable[[IdxHeader], np.ndarray]]:
    """Allocate decoding targets as temporary ``.npy`` memory maps in ``folder``.

    Temporary files still present when the block exits (not adopted by :func:`store`)
    are removed, so a failed decode or verification leaves the cache as it was.
    """
    made: list[Path] = []

    def allocate(header: IdxHeader) -> np.ndarray:
        if header.nbytes == 0:  # nothing to map; store() saves it as a plain .npy
            return np.empty(header.shape, dtype=header.dtype)
        fd, tmp = tempfile.mkstemp(prefix=".decode.", suffix=".npy.tmp", dir=folder)
        os.close(fd)
        made.append(Path(tmp))
        return np.lib.format.open_memmap(tmp, mode="w+", dtype=header.dtype, shape=header.shape)

    try:
        yield allocate
    finally:
        for tmp in made:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def store(
    folder: Path, split: str, decoded: Mapping[str, DecodedFile], *, verified: bool
) -> dict[str, np.ndarray]:
    """Adopt verified decoded files as the cache entry of ``split``; return them mapped."""
    meta_path = folder / f"{split}.json"
    with contextlib.suppress(FileNotFoundError):
        meta_path.unlink()
    parts = {}
    for part, item in decoded.items():
        array = item.array
        # No msync (memmap.flush): it would write 47 MB through to the disk and double the
        # first load. The page cache is what every reader sees; the price is that the cache is
        # not crash-durable (after a power cut, delete the folder if in doubt).
        final = folder / f"{split}-{part}.npy"
        tmp = Path(str(array.filename)) if isinstance(array, np.memmap) else None
        if tmp is None:
            with atomic_path(final) as t, open(t, "wb") as f:  # a file object: no ".npy" added
                np.save(f, array, allow_pickle=False)
        else:
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
        st = final.stat()
        parts[part] = {
            "file": final.name,
            "source": _identity(item.source),
            "file_sha256": item.file_sha256,
            "verified": verified,
            "shape": list(array.shape),
            "dtype": array.dtype.str,
            "npy_size": st.st_size,
            "npy_mtime_ns": st.st_mtime_ns,
            "npy_crc32": file_crc32(final),
        }
    with atomic_path(meta_path) as t:
        t.write_text(json.dumps({"version": _VERSION, "split": split, "parts": parts}, indent=1))
    return {part: _load_npy(folder / parts[part]["file"]) for part in parts}

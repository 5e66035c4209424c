"""Atomic file replacement: write to a temporary file in the same folder, then rename.

Shared by everything in softreg that writes a file (model files, checkpoints, datasets cache,
plots, CLI run folders), so that a reader never sees a half-written file: ``os.replace`` is
atomic on POSIX and Windows, and on any exception (KeyboardInterrupt too) the temporary file
is removed and the destination is left as it was. Imports nothing of softreg's.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "default_file_mode"]


def default_file_mode() -> int:
    """The mode ``open()`` gives a new file under the current umask (usually ``0o644``)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The caller writes the whole file to the yielded path (and may ``fsync`` it); when the
    ``with`` block ends without an exception the file gets the usual mode (`default_file_mode`:
    ``mkstemp`` creates 0600) and replaces ``path`` atomically. On any exception the temporary
    file is removed and ``path`` is untouched.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text(), [p.name for p in target.parent.iterdir()]
    ('done', ['notes.txt'])
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _naming_target(exc, path, None) from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):  # gone already, or not a file: keep the first error
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, tmp):
            raise _naming_target(exc, path, tmp) from None
        raise


def _naming_target(exc: OSError, path: Path, tmp: str | None) -> OSError:
    """``exc`` re-worded to name ``path`` (what the user asked to write), not the temporary file.

    Same class (``PermissionError``, ``OSError`` with ``errno.ENOSPC``, ...) and ``errno``, so
    callers catching either still do.
    """
    how = "creating a temporary file beside it" if tmp is None else "writing it"
    reason = exc.strerror or str(exc) or type(exc).__name__
    try:
        if exc.errno is None:  # not from the OS: keep the message, name the target
            return type(exc)(f"cannot write {path} ({how}): {reason}")
        return type(exc)(exc.errno, f"{reason} ({how})", str(path))
    except Exception:  # an OSError subclass with its own constructor: leave it as it was
        return exc

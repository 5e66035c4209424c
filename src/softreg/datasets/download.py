"""Resumable, verified, atomic downloads from a list of mirrors.

A file is fetched into ``<dest>.part``; an interrupted transfer is continued with an HTTP
``Range`` request on the next attempt (or the next call), and only a complete file whose
checksum matches is renamed onto ``dest``. A checksum mismatch deletes the ``.part`` file
and raises, so a bad mirror can never poison the cache.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from softreg._progress import progress as make_progress

__all__ = ["DownloadError", "download", "mirrors_from_env"]

_CHUNK = 1 << 16


class DownloadError(OSError):
    """No mirror could deliver the file (network errors on every attempt)."""


def mirrors_from_env(default: Sequence[str]) -> tuple[str, ...]:
    """``$SOFTREG_MIRROR`` (whitespace- or comma-separated base URLs) or ``default``."""
    value = os.environ.get("SOFTREG_MIRROR", "").replace(",", " ").split()
    return tuple(value) if value else tuple(default)


def _fetch_once(url: str, part: Path, timeout: float, progress: bool, name: str) -> None:
    """One attempt: continue ``part`` from its current size; raise on any short read."""
    import urllib.error  # imported here: `import softreg.datasets` stays light
    import urllib.request
    from http.client import HTTPException

    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "softreg"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the .part is already complete (or too long)
            exc.close()
            return
        raise
    with response:
        resumed = response.status == 206
        if have and not resumed:  # the server ignored Range: start over
            have = 0
        length = response.headers.get("Content-Length")
        total = int(length) + have if length is not None else None
        # tqdm on a terminal (when installed), else a plain line every 2 s, on stderr.
        with make_progress(total, name, unit="B", quiet=not progress, min_interval=2.0) as bar:
            if have:
                bar.update(have)  # resumed: start the count at what the .part holds
            with open(part, "ab" if resumed else "wb") as f:
                while chunk := response.read(_CHUNK):
                    f.write(chunk)
                    bar.update(len(chunk))
    if total is not None and part.stat().st_size != total:
        raise HTTPException(f"connection closed after {part.stat().st_size} of {total} bytes")


def download(
    urls: Sequence[str],
    dest: str | os.PathLike[str],
    *,
    verify: Callable[[Path], None] | None = None,
    retries: int = 3,
    timeout: float = 30.0,
    backoff: float = 1.0,
    progress: bool = True,
) -> Path:
    """Download the first of ``urls`` that works to ``dest``, resumably and atomically.

    Parameters
    ----------
    urls : sequence of str
        Candidate URLs of the same file, tried in order.
    dest : path-like
        Final path; its folder must exist. Data goes to ``dest + ".part"`` until complete.
    verify : callable, optional
        ``verify(part_path)`` raises ``ValueError`` when the complete file is wrong
        (checksum mismatch); the ``.part`` file is then deleted and the error re-raised.
    retries : int, default=3
        Attempts per URL; each retry continues the ``.part`` file with a Range request.
    timeout : float, default=30.0
        Socket timeout in seconds.
    backoff : float, default=1.0
        Seconds to wait before the second attempt, doubled after each failure.
    progress : bool, default=True
        Progress on stderr (tqdm when installed and stderr is a terminal).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DownloadError
        When every attempt at every URL failed; lists the errors.
    ValueError
        From ``verify``.
    """
    import urllib.error
    from http.client import HTTPException

    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    errors: list[str] = []
    for url in urls:
        delay = backoff
        for attempt in range(1, retries + 1):
            try:
                _fetch_once(url, part, timeout, progress, dest.name)
            except (OSError, HTTPException, ValueError) as exc:
                if isinstance(exc, urllib.error.HTTPError) and exc.code in (403, 404, 410):
                    errors.append(f"{url}: HTTP {exc.code}")
                    with contextlib.suppress(FileNotFoundError):
                        part.unlink()  # a .part from another mirror is not ours to continue
                    break
                errors.append(f"{url} (attempt {attempt}): {exc}")
                if attempt < retries:
                    time.sleep(delay)
                    delay *= 2
                continue
            try:
                if verify is not None:
                    verify(part)
            except ValueError:
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
                raise
            os.replace(part, dest)
            return dest
    raise DownloadError(f"could not download {dest.name}:\n  " + "\n  ".join(errors))

"""Resumable, verified, atomic downloads from a list of mirrors.

A file is fetched into ``<dest>.part``; an interrupted transfer is continued with an HTTP
``Range`` request on the next attempt (or the next call), and only a complete file whose
checksum matches is renamed onto ``dest``. A ``.part`` left by an earlier run that does not
verify once complete is deleted and downloaded afresh; a fresh download that does not verify
is deleted and the error raised, so a bad mirror can never poison the cache.

A download that stalls (no byte for ``timeout`` seconds, or fewer than 16 KiB in any
``timeout`` seconds) counts as a failed attempt; a host name that does not resolve skips that
mirror at once (retrying it would only repeat the wait), so a machine without internet learns
it in seconds and can try the next way of getting the data.
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
_MIN_BYTES_PER_WINDOW = 16 << 10  # fewer than this in `timeout` seconds: stalled


class StalledError(TimeoutError):
    """The server keeps the connection open but sends (almost) nothing."""


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
                window_start, window_bytes = time.monotonic(), 0
                # read1: returns what has arrived, so a trickle is seen, not waited out.
                while chunk := response.read1(_CHUNK):
                    f.write(chunk)
                    bar.update(len(chunk))
                    window_bytes += len(chunk)
                    now = time.monotonic()
                    if now - window_start >= timeout:
                        if window_bytes < _MIN_BYTES_PER_WINDOW:
                            raise StalledError(
                                f"stalled: {window_bytes} bytes in {now - window_start:.1f} s"
                            )
                        window_start, window_bytes = now, 0
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
        Seconds without a byte (socket timeout), or with fewer than 16 KiB, after which an
        attempt counts as stalled.
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
    import socket
    import urllib.error
    from http.client import HTTPException

    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    inherited = part.exists()  # a .part left by an earlier, interrupted run
    errors: list[str] = []
    for url in urls:
        delay = backoff
        attempt = 0
        while attempt < retries:
            attempt += 1
            try:
                _fetch_once(url, part, timeout, progress, dest.name)
            except (OSError, HTTPException, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, TimeoutError) and not isinstance(reason, StalledError):
                    reason = StalledError(f"stalled: no data for {timeout:g} s")
                if isinstance(exc, urllib.error.HTTPError) and exc.code in (403, 404, 410):
                    errors.append(f"{url}: HTTP {exc.code}")
                    with contextlib.suppress(FileNotFoundError):
                        part.unlink()  # a .part from another mirror is not ours to continue
                    break
                errors.append(f"{url} (attempt {attempt}): {reason}")
                if isinstance(reason, socket.gaierror):
                    break  # the name does not resolve: no network, or no such host
                if attempt < retries:
                    time.sleep(delay)
                    delay *= 2
                continue
            try:
                if verify is not None:
                    verify(part)
            except ValueError as exc:
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
                if inherited:  # the old .part was bad (or not this file): start afresh
                    inherited = False
                    errors.append(f"{part} from an earlier run: {exc}; downloading afresh")
                    attempt -= 1
                    continue
                raise
            os.replace(part, dest)
            return dest
    raise DownloadError(f"could not download {dest.name}:\n  " + "\n  ".join(errors))

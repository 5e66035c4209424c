"""Progress reporting for long jobs (training loops, downloads), shared by the CLI and datasets.

Three behaviours, chosen once when the reporter is made:

* ``quiet=True``: silent.
* the stream is a terminal and tqdm is installed (the ``progress`` extra): a tqdm bar.
* otherwise (CI logs, pipes, no tqdm): plain lines such as
  ``train: 12/100 (12%) loss=0.4521 acc=0.8410``, written at most every ``min_interval`` seconds,
  plus the first and the last step, so logs stay short and readable.

Only the standard library is imported at module level; tqdm is imported inside `progress`.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO, Any

__all__ = ["Progress", "progress"]


def _format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _format_amount(n: float, unit: str) -> str:
    if unit == "B":
        for prefix in ("", "Ki", "Mi", "Gi"):
            if abs(n) < 1024 or prefix == "Gi":
                return f"{n:.0f} {prefix}B" if prefix == "" else f"{n:.1f} {prefix}B"
            n /= 1024
    return f"{n:g}"


class Progress:
    """A progress reporter: ``update(n, **postfix)``, then ``close()`` (or use ``with``).

    Make it with `progress`, which picks the behaviour (silent, tqdm bar, or plain lines).

    Parameters
    ----------
    total : int or None
        Number of steps expected (None when unknown, e.g. a download without a size).
    desc : str
        Short label printed in front of every line.
    unit : str, default="it"
        Unit of a step; ``"B"`` formats amounts as bytes (KiB, MiB).
    mode : {"quiet", "lines", "tqdm"}
        How to report; `progress` chooses it.
    stream : file-like, optional
        Where to write (defaults to ``sys.stderr``).
    min_interval : float, default=5.0
        In ``"lines"`` mode, the least number of seconds between two lines.
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        *,
        unit: str = "it",
        mode: str = "lines",
        stream: IO[str] | None = None,
        min_interval: float = 5.0,
    ) -> None:
        if mode not in ("quiet", "lines", "tqdm"):
            raise ValueError(f"mode must be 'quiet', 'lines' or 'tqdm', got {mode!r}")
        self.total = total
        self.desc = desc
        self.unit = unit
        self.mode = mode
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = float(min_interval)
        self.n: float = 0
        self.postfix: dict[str, Any] = {}
        self._last_line = -float("inf")
        self._last_printed_n: float | None = None
        self._closed = False
        self._bar: Any = None
        if mode == "tqdm":
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total,
                desc=desc,
                unit=unit,
                unit_scale=unit == "B",
                unit_divisor=1024 if unit == "B" else 1000,
                file=self.stream,
                dynamic_ncols=True,
                leave=True,
            )

    def update(self, n: float = 1, **postfix: Any) -> None:
        """Advance by ``n`` steps and show the given values (e.g. ``loss=0.41``)."""
        self.n += n
        if postfix:
            self.postfix.update(postfix)
        if self.mode == "tqdm":
            if postfix:
                self._bar.set_postfix(
                    {k: _format_value(v) for k, v in self.postfix.items()}, refresh=False
                )
            self._bar.update(n)
        elif self.mode == "lines":
            now = time.monotonic()
            first = self._last_printed_n is None
            done = self.total is not None and self.n >= self.total
            if first or done or now - self._last_line >= self.min_interval:
                self._print_line()
                self._last_line = now

    def _print_line(self) -> None:
        amount = _format_amount(self.n, self.unit)
        if self.total:
            total = _format_amount(self.total, self.unit)
            head = f"{self.desc}: {amount}/{total} ({100.0 * self.n / self.total:.0f}%)"
        else:
            head = f"{self.desc}: {amount}"
        tail = " ".join(f"{k}={_format_value(v)}" for k, v in self.postfix.items())
        print(f"{head} {tail}".rstrip(), file=self.stream, flush=True)
        self._last_printed_n = self.n

    def close(self) -> None:
        """Finish: close the bar, or print the last line if it has not been printed yet."""
        if self._closed:
            return
        self._closed = True
        if self.mode == "tqdm":
            self._bar.close()
        elif self.mode == "lines" and self._last_printed_n != self.n:
            self._print_line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def progress(
    total: int | None,
    desc: str,
    *,
    unit: str = "it",
    quiet: bool = False,
    stream: IO[str] | None = None,
    min_interval: float = 5.0,
) -> Progress:
    """Make a progress reporter: silent, a tqdm bar on a terminal, or plain periodic lines.

    Parameters
    ----------
    total : int or None
        Number of steps expected, or None when unknown.
    desc : str
        Label in front of the bar or of every line.
    unit : str, default="it"
        Unit of a step; ``"B"`` shows bytes.
    quiet : bool, default=False
        Report nothing.
    stream : file-like, optional
        Where to write (defaults to ``sys.stderr``). tqdm is used only when this is a terminal
        and tqdm is installed.
    min_interval : float, default=5.0
        Least number of seconds between two plain lines.

    Returns
    -------
    Progress

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with progress(3, "train", stream=out) as bar:
    ...     for loss in (0.9, 0.5, 0.25):
    ...         bar.update(1, loss=loss)
    >>> print(out.getvalue(), end="")
    train: 1/3 (33%) loss=0.9
    train: 3/3 (100%) loss=0.25
    """
    stream = stream if stream is not None else sys.stderr
    if quiet:
        mode = "quiet"
    else:
        mode = "lines"
        isatty = getattr(stream, "isatty", None)
        if isatty is not None and isatty():
            try:
                import tqdm  # noqa: F401
            except ImportError:
                pass
            else:
                mode = "tqdm"
    return Progress(total, desc, unit=unit, mode=mode, stream=stream, min_interval=min_interval)

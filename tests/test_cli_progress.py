"""Progress reporting: silent when quiet, plain throttled lines off a terminal, tqdm on one."""

from __future__ import annotations

import io

import pytest

from softreg import _progress
from softreg._progress import Progress, progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_writes_nothing() -> None:
    out = FakeTerminal()
    with progress(5, "train", quiet=True, stream=out) as bar:
        for _ in range(5):
            bar.update(1, loss=0.5)
    assert bar.mode == "quiet"
    assert out.getvalue() == ""


def test_plain_lines_are_throttled(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 1.0, 2.0, 6.0, 7.0, 8.0, 9.0, 20.0, 21.0, 22.0])
    monkeypatch.setattr(_progress.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    with progress(10, "train", stream=out, min_interval=5.0) as bar:
        for i in range(10):
            bar.update(1, loss=1.0 / (i + 1))
    lines = out.getvalue().splitlines()
    # First step, then steps at t=6 and t=20 (5 s apart at least), then the last step.
    assert lines == [
        "train: 1/10 (10%) loss=1",
        "train: 4/10 (40%) loss=0.25",
        "train: 8/10 (80%) loss=0.125",
        "train: 10/10 (100%) loss=0.1",
    ]


def test_close_prints_the_final_state_once() -> None:
    out = io.StringIO()
    bar = progress(None, "download", unit="B", stream=out, min_interval=1e9)
    bar.update(512)
    bar.update(3 * 1024 * 1024)
    bar.close()
    bar.close()
    assert out.getvalue().splitlines() == ["download: 512 B", "download: 3.0 MiB"]


def test_early_stop_reports_where_it_stopped() -> None:
    out = io.StringIO()
    with progress(100, "train", stream=out) as bar:
        for _ in range(7):
            bar.update(1)
    assert out.getvalue().splitlines()[-1] == "train: 7/100 (7%)"


def test_terminal_gets_a_tqdm_bar() -> None:
    pytest.importorskip("tqdm")
    out = FakeTerminal()
    with progress(3, "train", stream=out) as bar:
        for _ in range(3):
            bar.update(1, acc=0.875)
    assert bar.mode == "tqdm"
    text = out.getvalue()
    assert "train" in text
    assert "3/3" in text
    assert "acc=0.875" in text


def test_bad_mode() -> None:
    with pytest.raises(ValueError, match="mode must be"):
        Progress(3, "x", mode="fancy")

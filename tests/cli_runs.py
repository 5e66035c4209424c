"""Running ``softreg``'s command line inside a test (shared by the ``test_cli*`` modules)."""

from __future__ import annotations

import pytest

from softreg.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``softreg *argv`` in-process: ``(exit status, stdout, stderr)``."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err

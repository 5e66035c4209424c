"""``softreg train``'s run directory, written all or nothing.

The run is assembled in a hidden sibling folder of RUN_DIR and moved into place only when every
file is written, so an interrupted or failed run (Ctrl-C included) leaves no partial RUN_DIR and
no model file behind; with ``--overwrite`` the old run is replaced only at that very end.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from softreg._atomic import atomic_path
from softreg.cli._errors import UsageError

__all__ = ["check_out", "staged", "write_history", "write_text"]


def check_out(out: Path, overwrite: bool) -> None:
    """Raise `UsageError` if ``out`` exists and ``--overwrite`` was not given."""
    if out.exists() and not overwrite:
        raise UsageError(f"--out: {out} already exists; pass --overwrite to replace it")


def _publish(stage: Path, out: Path) -> None:
    """Move the finished run into place, replacing an old run only at the very end."""
    if out.exists() or out.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "run")
        os.replace(stage, out)
        shutil.rmtree(old)
    else:
        os.replace(stage, out)


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A new hidden folder beside ``out`` to write the run into; it becomes ``out`` when the
    ``with`` block ends without an error, and is removed otherwise."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        stage.chmod(0o777 & ~umask)  # mkdtemp makes 0700; give the usual mode
        yield stage
        _publish(stage, out)
    finally:
        if stage.exists():
            shutil.rmtree(stage)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` as CSV to ``path`` atomically: every key of any row is a column."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)

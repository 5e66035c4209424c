"""``softreg report RUN_DIR [--out FILE]``: (re)build a run directory's HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_report_parser", "run_report"]


def add_report_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``report`` sub-command to the sub-parsers ``sub``."""
    report = sub.add_parser(
        "report",
        parents=[common],
        help="write a run directory's self-contained HTML report",
        description="Write RUN_DIR/report.html (or --out FILE): one self-contained page (inline "
        "CSS and images, no JavaScript, no network access) with the run's command, data, "
        "scores, curves, confusion matrix, model pictures and, when present, cross-validation, "
        "calibration, coefficient inference and ONNX parity. Works on run directories written "
        "by older softreg versions too; `softreg train` writes the report itself.",
    )
    report.add_argument("run_dir", metavar="RUN_DIR", help="run directory of softreg train")
    report.add_argument("--out", metavar="FILE", help="file to write (default RUN_DIR/report.html)")


def run_report(args: argparse.Namespace) -> int:
    """Run ``softreg report``; prints the report's ``file://`` URL."""
    from softreg.report import write_report

    path = write_report(args.run_dir, args.out)
    size = path.stat().st_size
    print(f"report: {path.resolve().as_uri()} ({size / 1024:.0f} KiB)")
    return 0


def write_run_report(run_dir: Path, run_name: str) -> str | None:
    """For ``softreg train``: write ``run_dir/report.html`` (``run_dir`` may be the staging
    folder; ``run_name`` is the name shown); None and a note on stderr on failure."""
    import sys

    from softreg.report import write_report

    try:
        return write_report(run_dir, run_name=run_name).name
    except (OSError, ValueError) as exc:  # a report must never cost the user the run itself
        print(f"softreg train: report skipped: {exc}", file=sys.stderr)
        return None

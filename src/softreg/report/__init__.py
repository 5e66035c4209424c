"""A self-contained HTML report of a run directory: one file that opens anywhere, offline.

`build_report` renders ``RUN_DIR`` (what ``softreg train`` writes, also by older versions; see
:mod:`softreg.report.run_data` for the files and keys read) as one HTML page: inline CSS,
images as inline SVG or base64 PNG, no JavaScript and a Content-Security-Policy that forbids
any network access. `write_report` writes it atomically (default ``RUN_DIR/report.html``).
Sections the run has no data for are left out. Imports no estimator.
"""

from __future__ import annotations

import os
from pathlib import Path

from softreg._atomic import atomic_path
from softreg.report.html import esc, page
from softreg.report.run_data import RunData, read_run
from softreg.report.sections import SECTIONS

__all__ = ["RunData", "build_report", "read_run", "write_report"]


def build_report(run_dir: str | os.PathLike[str], *, run_name: str | None = None) -> str:
    """The HTML text of the report of ``run_dir`` (shown as ``run_name``, default its name).

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> run = Path(tempfile.mkdtemp())
    >>> test = {"accuracy": 0.75, "error_rate": 0.25, "log_loss": 0.5, "n_samples": 4,
    ...         "class_names": ["a", "b"], "confusion_matrix": [[2, 0], [1, 1]]}
    >>> _ = (run / "metrics.json").write_text(json.dumps({"model": "M", "test": test}))
    >>> text = build_report(run)
    >>> text.startswith("<!DOCTYPE html>"), 'id="scores"' in text, 'id="cv"' in text
    (True, True, False)
    """
    data = read_run(run_dir)
    m = data.metrics
    title = f"softreg run: {m.get('model', 'model')} on {m.get('dataset', 'data')}"
    built = [(sid, builder(data)) for sid, builder in SECTIONS]
    present = [(sid, part) for sid, part in built if part is not None]
    toc = "".join(f'<li><a href="#{sid}">{esc(part[0])}</a></li>' for sid, part in present)
    test = m["test"]
    acc = test.get("accuracy")
    headline = f"test accuracy {acc:.4f}" if isinstance(acc, (int, float)) else ""
    body = [
        '<header class="top">',
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">{esc(run_name or Path(run_dir).name)}: {esc(headline)}. '
        "Report written by softreg; this page is self-contained and loads nothing from the "
        "network.</p>",
        f'<nav class="toc" aria-label="Sections"><ol>{toc}</ol></nav>',
        "</header>",
    ]
    for sid, (heading, html_body) in present:
        body.append(
            f'<section id="{sid}" aria-labelledby="{sid}-h"><h2 id="{sid}-h">{esc(heading)}</h2>'
            f"{html_body}</section>"
        )
    return page(title, "\n".join(body))


def write_report(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    run_name: str | None = None,
) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``run_dir/report.html``), atomically.

    ``run_name`` is the name shown (default: the directory's own name).
    """
    text = build_report(run_dir, run_name=run_name)  # first: errors about run_dir itself
    target = Path(run_dir) / "report.html" if out is None else Path(out)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"--out {target}: directory {target.parent} does not exist")
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target

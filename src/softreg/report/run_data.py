"""What a run directory holds, read defensively: every part is optional except ``metrics.json``.

Files and keys read (all written by ``softreg train`` unless noted; a run directory made by an
older softreg simply lacks some of them, and the matching report sections are left out):

* ``metrics.json``: ``dataset``, ``model``, ``params``, ``train``/``test`` (``accuracy``,
  ``error_rate``, ``log_loss``, ``n_samples``, ``class_names``, ``confusion_matrix``,
  ``support``), ``fit_time_s``, ``n_iter``, ``warnings``, ``command``, ``versions``,
  ``finished_at`` (UTC, ISO 8601; newer runs), and when present:

  - ``cv``: a dict, or the name of a JSON file in the run directory holding one (cross-
    validation, ``softreg train --C auto --cv K``): ``C`` (chosen), ``C_1se``, ``n_folds``,
    ``selection`` and ``path`` with lists ``C``, ``mean_log_loss`` (None where a C was not
    fitted) and ``sem_log_loss``; flat records (grid under ``Cs``/``C_grid``/``grid``, scores
    under ``mean_score``/``mean_test_score``/``scores``, chosen C under ``best_C``/``C_``)
    are read too;
  - ``calibration``: a dict (``softreg train --calibrate``): scalars and strings (``method``,
    ``temperature``, ``validation_samples``, ``n_bins``), ``{"before": x, "after": y}`` pairs
    (``validation_nll``) and dicts of ``before``/``after`` metric dicts (``test``: ``ece``,
    ``mce``, ``classwise_ece``, ``nll``, ``brier``); ``before``/``after`` at the top level too;
  - ``inference``: a list of row dicts (the coefficient table of ``softreg.stats.summary``),
    or the name of a CSV file in the run directory.

* ``history.csv``: one row per iteration/epoch (``loss``, ``train_accuracy``, ``test_accuracy``).
* ``model.npz``: its JSON header only (never the arrays): training-data fingerprint, sizes.
* PNG plots: ``weights.png``, ``predictions.png``, ``network.png``, ``cv_curve.png``,
  ``calibration.png`` (and ``learning_curves.png``/``confusion_matrix.png``, used only when the
  data to draw them is missing).
* ``inference.csv``/``summary.csv``/``coef_summary.csv`` (coefficient inference, when written).
* ``*.parity.json``: written by ``softreg export`` beside an export into the run directory.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["RunData", "read_run"]

PNG_NAMES = (
    "learning_curves.png",
    "confusion_matrix.png",
    "weights.png",
    "predictions.png",
    "network.png",
    "cv_curve.png",
    "calibration.png",
)
INFERENCE_CSV = ("inference.csv", "summary.csv", "coef_summary.csv")


@dataclass
class RunData:
    """The contents of one run directory (``None``/empty where absent)."""

    run_dir: Path
    metrics: dict[str, Any]
    history: list[dict[str, float | str]] = field(default_factory=list)
    model_header: dict[str, Any] | None = None
    pngs: dict[str, bytes] = field(default_factory=dict)
    cv: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    inference: list[dict[str, Any]] | None = None
    parity: list[dict[str, Any]] = field(default_factory=list)
    finished_at: str | None = None
    notes: list[str] = field(default_factory=list)


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _read_csv(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: _number(v) for k, v in row.items() if k} for row in csv.DictReader(f)]


def _run_file(run_dir: Path, name: str, notes: list[str]) -> Path | None:
    """``run_dir / name`` if it is a file directly in the run directory, else None (noted)."""
    path = run_dir / name
    if path.parent.resolve() != run_dir.resolve() or not path.is_file():
        notes.append(f"{name}: not a file in the run directory; left out")
        return None
    return path


def _json_file(run_dir: Path, name: str, notes: list[str]) -> Any:
    path = _run_file(run_dir, name, notes)
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        notes.append(f"{name}: unreadable ({exc}); left out")
        return None


def read_run(run_dir: str | os.PathLike[str]) -> RunData:
    """Read ``run_dir``; FileNotFoundError/ValueError when it is not a softreg run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run directory")
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        raise FileNotFoundError(
            f"{run_dir}: not a softreg run directory (no metrics.json; `softreg train --out "
            "RUN_DIR` writes one)"
        )
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{metrics_path}: not valid JSON ({exc})") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("test"), dict):
        raise ValueError(f"{metrics_path}: expected softreg train's metrics (a 'test' record)")
    data = RunData(run_dir=run_dir, metrics=metrics)
    notes = data.notes

    if (run_dir / "history.csv").is_file():
        try:
            data.history = _read_csv(run_dir / "history.csv")
        except (OSError, csv.Error, UnicodeDecodeError) as exc:
            notes.append(f"history.csv: unreadable ({exc}); learning curves left out")
    if (run_dir / "model.npz").is_file():
        from softreg import io

        try:
            data.model_header = io.read_header(run_dir / "model.npz")
        except (OSError, ValueError) as exc:
            notes.append(f"model.npz: header unreadable ({exc})")
    for name in PNG_NAMES:
        path = run_dir / name
        if path.is_file():
            blob = path.read_bytes()
            if blob.startswith(b"\x89PNG\r\n\x1a\n"):
                data.pngs[name] = blob
            else:
                notes.append(f"{name}: not a PNG file; left out")

    cv = metrics.get("cv")
    if isinstance(cv, str):
        cv = _json_file(run_dir, cv, notes)
    data.cv = cv if isinstance(cv, dict) and cv else None
    calibration = metrics.get("calibration")
    if isinstance(calibration, str):
        calibration = _json_file(run_dir, calibration, notes)
    data.calibration = calibration if isinstance(calibration, dict) and calibration else None
    inference = metrics.get("inference")
    if isinstance(inference, dict):  # softreg train --inference: {"file": ..., its figures}
        if isinstance(inference.get("error"), str):  # or {"error": ...} when it failed
            notes.append(f"coefficient inference failed: {inference['error']}")
        inference = inference.get("file")
    if isinstance(inference, str):  # named but not there: no other file is taken in its place
        csv_path = _run_file(run_dir, inference, notes)
        inference = _read_csv(csv_path) if csv_path is not None else inference
    if inference is None:
        found = [run_dir / n for n in INFERENCE_CSV if (run_dir / n).is_file()]
        inference = _read_csv(found[0]) if found else None
    if isinstance(inference, list) and inference and all(isinstance(r, dict) for r in inference):
        data.inference = inference
    for path in sorted(run_dir.glob("*.parity.json")):
        record = _json_file(run_dir, path.name, notes)
        if isinstance(record, dict) and isinstance(record.get("parity"), dict):
            data.parity.append({"file": path.name[: -len(".parity.json")], **record})

    finished = metrics.get("finished_at")
    if isinstance(finished, str):
        data.finished_at = finished
    else:  # an older run: the time its metrics were written
        stamp = datetime.fromtimestamp(metrics_path.stat().st_mtime, tz=timezone.utc)
        data.finished_at = stamp.isoformat(timespec="seconds") + " (file time)"
    return data

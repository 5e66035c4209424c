"""The report's sections for analyses only some runs have: cross-validation, calibration,
coefficient inference and ONNX exports (see :mod:`softreg.report.run_data` for the records read).

Each returns ``(title, html)`` or None when the run has nothing for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from softreg.report.charts import line_chart
from softreg.report.html import Markup, facts, figure, num, table
from softreg.report.run_data import RunData

__all__ = [
    "MAX_INFERENCE_ROWS",
    "calibration_section",
    "cv_section",
    "inference_section",
    "onnx_section",
]

Section = tuple[str, str] | None


def _first(record: dict[str, Any], keys: Sequence[str]) -> Any:
    return next((record[k] for k in keys if k in record), None)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def cv_section(data: RunData) -> Section:
    cv = data.cv
    if cv is None:
        return None
    # softreg train --C auto --cv K nests the path: {"C", "C_1se", "n_folds", "selection",
    # "path": {"C": [...], "mean_log_loss": [...], "sem_log_loss": [...], ...}}; flat records
    # with the grid at the top level are read too.
    nested = cv.get("path")
    path: dict[str, Any] = nested if isinstance(nested, dict) else cv
    grid = _first(path, ("C", "Cs", "C_grid", "grid", "C_values", "Cs_"))
    score_keys = ("mean_log_loss", "mean_score", "mean_scores", "mean_test_score", "scores", "mean")
    score_key = next((k for k in score_keys if k in path), None)
    scores = path.get(score_key) if score_key else None
    spread = _first(path, ("sem_log_loss", "std_error", "sem", "se", "std", "std_score"))
    chosen = _first(cv, ("C", "best_C", "chosen_C", "C_"))
    if isinstance(chosen, list):  # a flat record whose "C" is the grid
        chosen = _first(cv, ("best_C", "chosen_C", "C_"))
    metric = _first(cv, ("scoring", "metric", "score_name")) or (
        "mean validation log-loss" if score_key == "mean_log_loss" else "mean validation score"
    )
    c_1se = cv.get("C_1se")
    body = facts(
        [
            ("chosen C", f"{chosen:g}" if _is_num(chosen) else chosen),
            ("C by the one-standard-error rule", f"{c_1se:g}" if _is_num(c_1se) else None),
            ("folds", _first(cv, ("n_folds", "folds", "cv", "k"))),
            ("selection", _first(cv, ("selection", "rule"))),
            ("score", metric),
        ]
    )
    grid = grid if isinstance(grid, list) else []
    scores = scores if isinstance(scores, list) else []
    ok = (
        len(grid) == len(scores) > 0
        and all(_is_num(c) for c in grid)
        and all(v is None or _is_num(v) for v in scores)
        and any(_is_num(v) for v in scores)
    )
    if ok:
        values = [float("nan") if v is None else float(v) for v in scores]
        marker = None
        if _is_num(chosen) and chosen in grid and _is_num(scores[grid.index(chosen)]):
            marker = (float(chosen), values[grid.index(chosen)], f"chosen C = {chosen:g}")
        body += line_chart(
            {str(metric): (grid, values)},
            title=f"Cross-validation curve: {metric} against C",
            description=f"{metric} for {len(grid)} values of C from {min(grid):g} to "
            f"{max(grid):g}" + (f"; the chosen C is {chosen:g}." if marker else "."),
            xlabel="C (log scale)",
            ylabel=str(metric),
            log_x=True,
            marker=marker,
            chart_id="chart-cv",
        )
        has_spread = isinstance(spread, list) and len(spread) == len(grid)
        rows = []
        for k, (c, v) in enumerate(zip(grid, scores, strict=True)):
            extra = [num(spread[k], 5)] if has_spread else []
            shown = "not fitted" if v is None else num(v, 5)
            rows.append((f"{c:g}" + (" (chosen)" if c == chosen else ""), shown, *extra))
        body += table(
            ["C", str(metric), *(["standard error"] if has_spread else [])],
            rows,
            caption="Cross-validation scores per C",
            numeric=[True, True, *([True] if has_spread else [])],
        )
    png = data.pngs.get("cv_curve.png")
    if png is not None and not ok:
        body += figure(png, f"Cross-validation curve of {metric} against C", "CV curve")
    return "Cross-validation", body


def _before_after(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    before, after = record.get("before"), record.get("after")
    if isinstance(before, dict) or isinstance(after, dict):
        return (
            before if isinstance(before, dict) else {},
            after if isinstance(after, dict) else {},
        )
    return None


_CAL_NAMES = {
    "ece": "ECE",
    "mce": "MCE",
    "nll": "NLL",
    "classwise_ece": "class-wise ECE",
    "brier": "Brier score",
    "validation_nll": "validation NLL",
}


def calibration_section(data: RunData) -> Section:
    cal = data.calibration
    png = data.pngs.get("calibration.png")
    if cal is None and png is None:
        return None
    body = ""
    if cal is not None:
        # softreg train --calibrate: {"method", "temperature", "validation_samples", "n_bins",
        # "validation_nll": {"before", "after"}, "test": {"before": {...}, "after": {...}}};
        # "before"/"after" at the top level are read too.
        items: list[tuple[str, Any]] = []
        for k, v in cal.items():
            name = _CAL_NAMES.get(k, k.replace("_", " "))
            if _is_num(v) or isinstance(v, str):
                items.append((name, num(v, 5) if _is_num(v) else v))
            elif isinstance(v, dict) and _is_num(v.get("before")) and _is_num(v.get("after")):
                items.append((name, f"{num(v['before'], 5)} before, {num(v['after'], 5)} after"))
        if items:
            body += facts(items)
        where = {"test": "on the test set", "validation": "on the validation split"}
        found = [(where.get(k, k), _before_after(v)) for k, v in cal.items() if isinstance(v, dict)]
        top = _before_after(cal)
        if top is not None:
            found.insert(0, ("", top))
        for label, pair in found:
            if pair is None:
                continue
            before, after = pair
            keys = [
                k
                for k in dict.fromkeys([*before, *after])
                if _is_num(before.get(k)) or _is_num(after.get(k))
            ]
            if not keys:
                continue
            body += table(
                ["metric", "before", "after"],
                [
                    (
                        _CAL_NAMES.get(k, k.replace("_", " ")),
                        num(before.get(k), 5),
                        num(after.get(k), 5),
                    )
                    for k in keys
                ],
                caption=f"Calibration {label}, before and after".replace("  ", " "),
                numeric=[False, True, True],
            )
    if png is not None:
        body += figure(
            png,
            "Reliability diagram: observed accuracy against predicted confidence per bin, "
            "before and after calibration, with the diagonal of perfect calibration",
            "Reliability diagram",
        )
    return "Calibration", body


#: Rows of the coefficient table shown at most (a full Fashion-MNIST table has 7,850).
MAX_INFERENCE_ROWS = 300


def inference_section(data: RunData) -> Section:
    rows = data.inference
    if not rows:
        return None
    shown = rows[:MAX_INFERENCE_ROWS]
    columns = list(dict.fromkeys(k for r in shown for k in r))
    numeric = [all(isinstance(r.get(c), (int, float)) for r in shown) for c in columns]
    caption = f"Coefficients with standard errors and tests ({len(rows)} rows"
    caption += f", the first {len(shown)} shown)" if len(shown) < len(rows) else ")"
    body = table(
        columns,
        [
            [num(r.get(c), 4) if isinstance(r.get(c), float) else r.get(c, "") for c in columns]
            for r in shown
        ],
        caption=caption,
        numeric=numeric,
    )
    return "Coefficient inference", f'<div class="scroll">{body}</div>'


def onnx_section(data: RunData) -> Section:
    if not data.parity:
        return None
    rows = []
    for rec in data.parity:
        p = rec["parity"]
        verdict = Markup(
            '<span class="ok">passed</span>'
            if p.get("passed")
            else '<span class="fail">FAILED</span>'
        )
        rows.append(
            (
                rec["file"],
                rec.get("dtype", p.get("dtype")),
                rec.get("opset", "n/a"),
                p.get("data", "n/a"),
                p.get("n_samples", "n/a"),
                f"{p.get('max_abs_diff', float('nan')):.3g}",
                f"{p.get('tolerance', float('nan')):g}",
                f"{p.get('label_mismatches', 'n/a')} ({p.get('near_ties', 0)} near-ties)",
                verdict,
            )
        )
    return "ONNX export", table(
        [
            "file",
            "dtype",
            "opset",
            "checked on",
            "inputs",
            "max |Δp|",
            "allowed",
            "label mismatches",
            "parity",
        ],
        rows,
        caption="Parity of each ONNX export with the model, run in onnxruntime",
        numeric=[False, False, True, False, True, True, True, False, False],
    )

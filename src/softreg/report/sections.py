"""The sections of the run report, one function each: ``RunData -> (title, html) or None``.

A function returns None when the run has nothing for its section, so that section is left
out rather than shown empty.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from softreg.report.charts import confusion_table, line_chart
from softreg.report.html import Markup, esc, img_png, table
from softreg.report.run_data import RunData

__all__ = ["SECTIONS", "per_class_scores"]

Section = tuple[str, str] | None


def _num(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return (
        f"{value:.{digits}f}" if abs(value) >= 10 ** (-digits + 1) or value == 0 else f"{value:.3g}"
    )


def _facts(items: Sequence[tuple[str, Any]]) -> str:
    rows = "".join(
        f"<dt>{esc(k)}</dt><dd>{v if isinstance(v, Markup) else esc(v)}</dd>"
        for k, v in items
        if v not in (None, "", [])
    )
    return f'<dl class="facts">{rows}</dl>'


def _figure(png: bytes, alt: str, caption: str) -> str:
    return f"<figure>{img_png(png, alt)}<figcaption>{esc(caption)}</figcaption></figure>"


# -- run -------------------------------------------------------------------------------------


def run_section(data: RunData) -> Section:
    m = data.metrics
    header = data.model_header or {}
    meta = header.get("metadata", {}) if isinstance(header, dict) else {}
    training = meta.get("training_data", {}) if isinstance(meta, dict) else {}
    params = m.get("params", {}) if isinstance(m.get("params"), dict) else {}
    versions = m.get("versions", {})
    versions_text = (
        ", ".join(f"{k} {v}" for k, v in versions.items()) if isinstance(versions, dict) else None
    )
    seed = params.get("random_state")
    fingerprint = training.get("sha256")
    samples = training.get("n_samples", m.get("train", {}).get("n_samples"))
    items: list[tuple[str, Any]] = [
        ("command", Markup(f"<code>{esc(m['command'])}</code>") if m.get("command") else None),
        ("model", m.get("model")),
        ("dataset", m.get("dataset")),
        ("training images", samples),
        ("test images", m.get("test", {}).get("n_samples")),
        (
            "data fingerprint",
            Markup(
                f'<code title="SHA-256 of the training images and labels">{esc(fingerprint)}'
                "</code> (SHA-256 of the training arrays)"
            )
            if fingerprint
            else None,
        ),
        ("input", m.get("fit_input")),
        ("seed", "none (not reproducible)" if "random_state" in params and seed is None else seed),
        (
            "fit time",
            f"{m['fit_time_s']:.2f} s" if isinstance(m.get("fit_time_s"), (int, float)) else None,
        ),
        ("iterations / epochs", m.get("n_iter")),
        ("finished", data.finished_at),
        ("versions", versions_text),
    ]
    body = _facts(items)
    warnings = m.get("warnings")
    if isinstance(warnings, list) and warnings:
        body += (
            "<h3>Warnings during the fit</h3><ul>"
            + "".join(f"<li>{esc(w)}</li>" for w in warnings)
            + "</ul>"
        )
    if data.notes:
        body += (
            "<h3>Report notes</h3><ul>"
            + "".join(f'<li class="muted">{esc(n)}</li>' for n in data.notes)
            + "</ul>"
        )
    return "Run", body


def params_section(data: RunData) -> Section:
    params = data.metrics.get("params")
    if not isinstance(params, dict) or not params:
        return None
    rows = [(k, json.dumps(v)) for k, v in sorted(params.items())]
    return "Hyper-parameters", table(
        ["parameter", "value"],
        rows,
        caption="Estimator parameters (JSON)",
    )


# -- scores ----------------------------------------------------------------------------------


def per_class_scores(cm: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix (rows: true).

    ``F1 = 2 TP / (2 TP + FP + FN)``, the harmonic mean of precision and recall wherever both
    are defined. A class never predicted has precision NaN (0/0), one never present recall NaN,
    one neither F1 NaN: the report shows "n/a" rather than a made-up 0. These are
    ``sklearn.metrics.precision_recall_fscore_support(..., zero_division=np.nan)``'s numbers.

    Examples
    --------
    >>> p, r, f, s = per_class_scores([[3, 1], [0, 4]])
    >>> p.round(3).tolist(), r.tolist(), f.round(3).tolist(), s.tolist()
    ([1.0, 0.8], [0.75, 1.0], [0.857, 0.889], [4, 4])
    """
    matrix = np.asarray(cm, dtype=np.float64)
    tp = np.diag(matrix)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / predicted
        recall = tp / actual
        f1 = 2 * tp / (predicted + actual)
    return precision, recall, f1, actual.astype(np.int64)


def scores_section(data: RunData) -> Section:
    test = data.metrics["test"]
    train = data.metrics.get("train", {})
    cards = "".join(
        f'<div class="card"><div class="muted">{esc(label)}</div>'
        f'<div class="value">{esc(_num(test.get(key)))}</div></div>'
        for label, key in (
            ("test accuracy", "accuracy"),
            ("test error rate", "error_rate"),
            ("test log-loss", "log_loss"),
        )
    )
    body = f'<div class="cards">{cards}</div>'
    splits = [(name, rec) for name, rec in (("train", train), ("test", test)) if rec]
    body += table(
        ["split", "accuracy", "error rate", "log-loss", "images"],
        [
            (
                name,
                _num(r.get("accuracy")),
                _num(r.get("error_rate")),
                _num(r.get("log_loss")),
                r.get("n_samples", "n/a"),
            )
            for name, r in splits
        ],
        caption="Scores per split",
        numeric=[False, True, True, True, True],
    )
    cm, names = test.get("confusion_matrix"), test.get("class_names")
    if isinstance(cm, list) and isinstance(names, list) and len(cm) == len(names):
        p, r, f, s = per_class_scores(cm)
        rows: list[tuple[Any, ...]] = [
            (name, _num(p[k]), _num(r[k]), _num(f[k]), int(s[k])) for k, name in enumerate(names)
        ]
        rows.append(
            (
                "macro average",
                _num(float(np.nanmean(p))),
                _num(float(np.nanmean(r))),
                _num(float(np.nanmean(f))),
                int(s.sum()),
            )
        )
        body += table(
            ["class", "precision", "recall", "F1", "support"],
            rows,
            caption="Per-class precision, recall and F1 on the test set",
            numeric=[False, True, True, True, True],
        )
    return "Scores", body


# -- curves, confusion -----------------------------------------------------------------------


def learning_section(data: RunData) -> Section:
    rows = [r for r in data.history if isinstance(r.get("loss"), float)]
    if not rows:
        png = data.pngs.get("learning_curves.png")
        if png is None:
            return None
        return "Learning curves", _figure(png, "Learning curves of the fit", "Learning curves")
    step_key = next((k for k in ("iteration", "epoch") if k in rows[0]), None)
    steps = [float(r[step_key]) if step_key else float(i + 1) for i, r in enumerate(rows)]
    step_name = step_key or "step"
    loss = [float(r["loss"]) for r in rows]
    body = line_chart(
        {"training loss": (steps, loss)},
        title="Training loss per " + step_name,
        description=f"The training loss goes from {loss[0]:.4g} at {step_name} {steps[0]:g} "
        f"to {loss[-1]:.4g} at {step_name} {steps[-1]:g}.",
        xlabel=step_name,
        ylabel="loss",
        chart_id="chart-loss",
    )
    acc: dict[str, tuple[list[float], list[float]]] = {}
    for key, label in (("train_accuracy", "train accuracy"), ("test_accuracy", "test accuracy")):
        values = [r.get(key) for r in rows]
        if all(isinstance(v, float) for v in values):
            acc[label] = (steps, [float(v) for v in values])  # type: ignore[arg-type]
    if acc:
        ends = "; ".join(f"{name} ends at {ys[-1]:.4f}" for name, (_, ys) in acc.items())
        body += line_chart(
            acc,
            title="Accuracy per " + step_name,
            description=f"Accuracy over {len(rows)} {step_name}s: {ends}.",
            xlabel=step_name,
            ylabel="accuracy",
            chart_id="chart-accuracy",
        )
        n = data.metrics.get("history_train_accuracy_samples")
        if n:
            body += (
                f'<p class="muted">Train accuracy per {esc(step_name)} is measured on a '
                f"fixed subset of {esc(n)} training images.</p>"
            )
    return "Learning curves", body


def confusion_section(data: RunData) -> Section:
    test = data.metrics["test"]
    cm, names = test.get("confusion_matrix"), test.get("class_names")
    if isinstance(cm, list) and isinstance(names, list) and len(cm) == len(names):
        return "Confusion matrix", confusion_table(cm, [str(n) for n in names])
    png = data.pngs.get("confusion_matrix.png")
    if png is None:
        return None
    return "Confusion matrix", _figure(png, "Confusion matrix on the test set", "Confusion matrix")


# -- model pictures --------------------------------------------------------------------------


def model_section(data: RunData) -> Section:
    parts = []
    net = data.pngs.get("network.png")
    if net is not None:
        parts.append(
            _figure(
                net,
                "Diagram of the network's layers: input pixels, hidden units and output classes, "
                "with the number of units per layer",
                "Layer diagram of the network",
            )
        )
    weights = data.pngs.get("weights.png")
    if weights is not None:
        mlp = net is not None or data.metrics.get("model") == "MLPClassifier"
        what = "first-layer weights of hidden units" if mlp else "learned weights of each class"
        parts.append(
            _figure(
                weights,
                f"Images of the {what}, one panel each, drawn at the input image's size: "
                "positive weights in one colour, negative in another",
                f"The {what}, as images",
            )
        )
    if not parts:
        return None
    return ("Network" if net is not None else "Class weights"), "".join(parts)


def predictions_section(data: RunData) -> Section:
    png = data.pngs.get("predictions.png")
    if png is None:
        return None
    return "Predictions", _figure(
        png,
        "A grid of test images, each titled with its predicted and true class; wrong "
        "predictions are drawn in red with the true class named",
        "Test images with their predictions; mistakes are highlighted in red and name the "
        "true class",
    )


# -- optional analyses -----------------------------------------------------------------------


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
    body = _facts(
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
            extra = [_num(spread[k], 5)] if has_spread else []
            shown = "not fitted" if v is None else _num(v, 5)
            rows.append((f"{c:g}" + (" (chosen)" if c == chosen else ""), shown, *extra))
        body += table(
            ["C", str(metric), *(["standard error"] if has_spread else [])],
            rows,
            caption="Cross-validation scores per C",
            numeric=[True, True, *([True] if has_spread else [])],
        )
    png = data.pngs.get("cv_curve.png")
    if png is not None and not ok:
        body += _figure(png, f"Cross-validation curve of {metric} against C", "CV curve")
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
        facts: list[tuple[str, Any]] = []
        for k, v in cal.items():
            name = _CAL_NAMES.get(k, k.replace("_", " "))
            if _is_num(v) or isinstance(v, str):
                facts.append((name, _num(v, 5) if _is_num(v) else v))
            elif isinstance(v, dict) and _is_num(v.get("before")) and _is_num(v.get("after")):
                facts.append((name, f"{_num(v['before'], 5)} before, {_num(v['after'], 5)} after"))
        if facts:
            body += _facts(facts)
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
                        _num(before.get(k), 5),
                        _num(after.get(k), 5),
                    )
                    for k in keys
                ],
                caption=f"Calibration {label}, before and after".replace("  ", " "),
                numeric=[False, True, True],
            )
    if png is not None:
        body += _figure(
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
            [_num(r.get(c), 4) if isinstance(r.get(c), float) else r.get(c, "") for c in columns]
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


#: ``(id, builder)`` in page order.
SECTIONS: list[tuple[str, Callable[[RunData], Section]]] = [
    ("run", run_section),
    ("params", params_section),
    ("scores", scores_section),
    ("learning", learning_section),
    ("confusion", confusion_section),
    ("model", model_section),
    ("predictions", predictions_section),
    ("cv", cv_section),
    ("calibration", calibration_section),
    ("inference", inference_section),
    ("onnx", onnx_section),
]

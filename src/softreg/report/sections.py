"""The sections of the run report, one function each: ``RunData -> (title, html) or None``;
the optional analyses (CV, calibration, inference, ONNX) are in :mod:`softreg.report.analyses`.

A function returns None when the run has nothing for its section, so that section is left
out rather than shown empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from softreg.report.analyses import calibration_section, cv_section, inference_section, onnx_section
from softreg.report.charts import confusion_table, line_chart
from softreg.report.html import Markup, esc, facts, figure, num, table
from softreg.report.run_data import RunData

__all__ = ["SECTIONS", "per_class_scores"]

Section = tuple[str, str] | None


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
    body = facts(items)
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
        f'<div class="value">{esc(num(test.get(key)))}</div></div>'
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
                num(r.get("accuracy")),
                num(r.get("error_rate")),
                num(r.get("log_loss")),
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
            (name, num(p[k]), num(r[k]), num(f[k]), int(s[k])) for k, name in enumerate(names)
        ]
        rows.append(
            (
                "macro average",
                num(float(np.nanmean(p))),
                num(float(np.nanmean(r))),
                num(float(np.nanmean(f))),
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
        return "Learning curves", figure(png, "Learning curves of the fit", "Learning curves")
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
    return "Confusion matrix", figure(png, "Confusion matrix on the test set", "Confusion matrix")


# -- model pictures --------------------------------------------------------------------------


def model_section(data: RunData) -> Section:
    parts = []
    net = data.pngs.get("network.png")
    if net is not None:
        parts.append(
            figure(
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
            figure(
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
    return "Predictions", figure(
        png,
        "A grid of test images, each titled with its predicted and true class; wrong "
        "predictions are drawn in red with the true class named",
        "Test images with their predictions; mistakes are highlighted in red and name the "
        "true class",
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

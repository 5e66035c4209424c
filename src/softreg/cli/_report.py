"""Scores of a fitted classifier on one split, and their text rendering for the terminal.

The arithmetic is scikit-learn's (`accuracy_score`, `log_loss`, `confusion_matrix`); this module
only gathers it into one JSON-able record and formats tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, log_loss

__all__ = ["class_names_of", "format_report", "score"]


def class_names_of(classes: np.ndarray, names: Sequence[str] | None) -> list[str]:
    """Display names of ``classes`` (labels 0..k-1 index ``names``); the labels themselves else."""
    if names is not None and len(names) == len(classes):
        return [str(n) for n in names]
    return [str(c) for c in classes]


def score(
    model: Any, X: np.ndarray, y: np.ndarray, class_names: Sequence[str]
) -> tuple[dict[str, Any], np.ndarray]:
    """Accuracy, error rate, log-loss, per-class accuracy and confusion matrix on ``(X, y)``.

    Returns the JSON-able record and the predicted labels.
    """
    proba = model.predict_proba(X)
    classes = model.classes_
    y_pred = classes[np.argmax(proba, axis=1)]
    accuracy = float(np.mean(y_pred == y))
    cm = confusion_matrix(y, y_pred, labels=classes)
    support = cm.sum(axis=1)
    per_class = {
        name: (float(cm[k, k] / support[k]) if support[k] else None)
        for k, name in enumerate(class_names)
    }
    record = {
        "accuracy": accuracy,
        "error_rate": 1.0 - accuracy,
        "log_loss": float(log_loss(y, proba, labels=classes)),
        "n_samples": len(y),
        "per_class_accuracy": per_class,
        "support": {name: int(s) for name, s in zip(class_names, support, strict=True)},
        "class_names": list(class_names),
        "confusion_matrix": cm.tolist(),
    }
    return record, y_pred


def format_report(record: dict[str, Any], title: str) -> str:
    """Human-readable summary: headline scores, per-class table and confusion matrix."""
    names = record["class_names"]
    lines = [
        title,
        f"  accuracy    {record['accuracy']:.4f}",
        f"  error rate  {record['error_rate']:.4f}",
        f"  log-loss    {record['log_loss']:.4f}",
        f"  samples     {record['n_samples']}",
        "",
    ]
    width = max(len("class"), *(len(n) for n in names))
    lines.append(f"  {'class':<{width}}  accuracy  support")
    for name in names:
        acc = record["per_class_accuracy"][name]
        shown = "     n/a" if acc is None else f"{acc:8.4f}"
        lines.append(f"  {name:<{width}}  {shown}  {record['support'][name]:7d}")
    cm = np.asarray(record["confusion_matrix"])
    cell = max(4, len(str(cm.max())) + 1)
    lines += ["", "  confusion matrix (rows: true class, columns: predicted, in class order)"]
    header = " " * (width + 2) + "".join(f"{k:>{cell}}" for k in range(len(names)))
    lines.append(header)
    for k, name in enumerate(names):
        lines.append(f"  {name:<{width}}" + "".join(f"{v:>{cell}}" for v in cm[k]))
    return "\n".join(lines)

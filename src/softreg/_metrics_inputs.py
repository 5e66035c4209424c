"""The input checks shared by softreg's metrics: probability rows, labels as columns, weights.

Each check raises a ``ValueError`` (a ``TypeError`` for a non-numeric ``proba``) that names the
argument, what it must be and what it got. The conventions they enforce (``proba``'s rows,
``labels`` for the columns, no label set guessed from ``y``) are those of :mod:`softreg.metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["check_proba", "class_indices", "prepare", "sample_weights"]

Array = NDArray[Any]


def check_proba(proba: ArrayLike, name: str = "proba") -> Array:
    """``proba`` as float64 of shape (n_samples, n_classes >= 2), checked to be probability rows."""
    p = np.asarray(proba)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n_samples, n_classes >= 2), got {p.shape}")
    if p.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {p.dtype}")
    p = p.astype(np.float64, copy=False)
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be finite; it holds NaN or inf")
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError(
            f"{name} must lie in [0, 1], got values in [{p.min():.6g}, {p.max():.6g}]; "
            "pass probabilities (softmax of the logits), not logits"
        )
    # Rows computed in float32 sum to 1 within ~1e-6; logits or scores miss by far more.
    worst = float(np.max(np.abs(p.sum(axis=1) - 1))) if p.size else 0.0
    if worst > 1e-4:
        raise ValueError(f"{name} rows must sum to 1, but one is off by {worst:.3g}")
    return p


def class_indices(y: ArrayLike, n_classes: int, labels: ArrayLike | None) -> Array:
    """``y`` as column indices in ``0 .. n_classes - 1`` (the Conventions of softreg.metrics)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D of shape (n_samples,), got shape {y.shape}")
    if labels is None:
        if y.dtype.kind not in "iu" and not (
            y.dtype.kind == "f" and y.size and np.all(y == np.round(y))
        ):
            raise ValueError(
                f"y holds {y.dtype} labels (e.g. {y[:3].tolist()}); with labels=None y must be "
                "column indices of proba. Pass labels=model.classes_"
            )
        idx = y.astype(np.intp)
        if idx.size and (idx.min() < 0 or idx.max() >= n_classes):
            raise ValueError(
                f"y must be column indices in [0, {n_classes - 1}] when labels=None, got "
                f"values in [{idx.min()}, {idx.max()}]; pass labels=model.classes_"
            )
        return idx
    lab = np.asarray(labels)
    if lab.ndim != 1 or len(lab) != n_classes:
        raise ValueError(
            f"labels must be 1-D with one label per column of proba ({n_classes}), "
            f"got shape {lab.shape}"
        )
    order = np.argsort(lab, kind="stable")
    sorted_labels = lab[order]
    if len(np.unique(lab)) != n_classes:
        raise ValueError(f"labels must be distinct, got {lab.tolist()}")
    pos = np.clip(np.searchsorted(sorted_labels, y), 0, n_classes - 1)
    unknown = sorted_labels[pos] != y
    if np.any(unknown):
        raise ValueError(
            f"y contains labels not in labels: {np.unique(y[unknown])[:5].tolist()} "
            f"(labels are {lab.tolist()})"
        )
    return np.asarray(order[pos], dtype=np.intp)


def sample_weights(sample_weight: ArrayLike | None, n_samples: int) -> Array:
    """``sample_weight`` as float64 of shape (n_samples,), finite and >= 0; ones when None."""
    if sample_weight is None:
        return np.ones(n_samples)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    return w


def prepare(
    y: ArrayLike, proba: ArrayLike, labels: ArrayLike | None, sample_weight: ArrayLike | None
) -> tuple[Array, Array, Array]:
    """``y`` as column indices, ``proba`` and the weights, checked together (see the others)."""
    p = check_proba(proba)
    idx = class_indices(y, p.shape[1], labels)
    if len(idx) != len(p):
        raise ValueError(f"y has {len(idx)} samples but proba has {len(p)} rows")
    if len(idx) == 0:
        raise ValueError("y and proba hold 0 samples; at least one is required")
    w = sample_weights(sample_weight, len(idx))
    if w.sum() <= 0:
        raise ValueError("sample_weight sums to 0; at least one sample must carry weight")
    return idx, p, w

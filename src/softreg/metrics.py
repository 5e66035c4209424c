"""How trustworthy predicted probabilities are: calibration errors, Brier score, log-loss.

Conventions
-----------
``proba`` is an array of shape (n_samples, n_classes) whose rows are probability vectors
(finite, in [0, 1], summing to 1). Column ``k`` belongs to class ``labels[k]``; with
``labels=None`` the targets ``y`` must already be column indices ``0 .. n_classes - 1``
(pass ``labels=model.classes_`` for a fitted classifier's labels). No label set is guessed from
``y``: a test set lacking a class would silently shift the columns.

Top-label calibration (Guo et al. 2017, "On Calibration of Modern Neural Networks"): each sample's
*confidence* is its largest probability and it is *correct* when that column is its class. With
bins ``B_m = (e_{m-1}, e_m]`` (closed on the right; ``strategy="uniform"``: ``e_m = m / M``,
``M = n_bins = 15`` by default; ``"quantile"``: equal-count bins at the confidences' quantiles),

.. math::

    \\mathrm{ECE} = \\sum_m \\frac{|B_m|}{n}
    \\left| \\mathrm{acc}(B_m) - \\mathrm{conf}(B_m) \\right|,
    \\qquad \\mathrm{MCE} = \\max_{m:\\, |B_m| > 0} \\left| \\mathrm{acc}(B_m) -
    \\mathrm{conf}(B_m) \\right|.

``|B_m| / n`` becomes the bin's share of ``sample_weight`` when weights are given.
Class-wise ECE (Kull et al. 2019) bins every column's probabilities ``p_ik`` against the
indicator ``y_i == k`` and averages the per-class ECEs over the classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CalibrationTable",
    "brier_score",
    "calibration_table",
    "classwise_ece",
    "expected_calibration_error",
    "log_loss",
    "max_calibration_error",
]

Array = NDArray[Any]
_STRATEGIES = ("uniform", "quantile")


# -- validation ---------------------------------------------------------------------------------


def _check_proba(proba: ArrayLike, name: str = "proba") -> Array:
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


def _class_indices(y: ArrayLike, n_classes: int, labels: ArrayLike | None) -> Array:
    """``y`` as column indices in ``0 .. n_classes - 1`` (see the module Conventions)."""
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


def _weights(sample_weight: ArrayLike | None, n_samples: int) -> Array:
    if sample_weight is None:
        return np.ones(n_samples)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    return w


def _prepare(
    y: ArrayLike, proba: ArrayLike, labels: ArrayLike | None, sample_weight: ArrayLike | None
) -> tuple[Array, Array, Array]:
    p = _check_proba(proba)
    idx = _class_indices(y, p.shape[1], labels)
    if len(idx) != len(p):
        raise ValueError(f"y has {len(idx)} samples but proba has {len(p)} rows")
    if len(idx) == 0:
        raise ValueError("y and proba hold 0 samples; at least one is required")
    w = _weights(sample_weight, len(idx))
    if w.sum() <= 0:
        raise ValueError("sample_weight sums to 0; at least one sample must carry weight")
    return idx, p, w


# -- binning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationTable:
    """The data of a reliability diagram; see :func:`calibration_table`.

    Attributes
    ----------
    edges : ndarray of shape (n_bins + 1,)
        Bin ``m`` is ``(edges[m], edges[m + 1]]`` (the first bin also holds ``edges[0]``).
    count : ndarray of int of shape (n_bins,)
        Samples per bin.
    weight : ndarray of shape (n_bins,)
        Each bin's share of the total sample weight (``count / n`` without weights).
    confidence : ndarray of shape (n_bins,)
        Weighted mean confidence per bin; NaN where ``count == 0``.
    accuracy : ndarray of shape (n_bins,)
        Weighted share of correct predictions per bin; NaN where ``count == 0``.
    """

    edges: Array
    count: Array
    weight: Array
    confidence: Array
    accuracy: Array

    @property
    def gap(self) -> Array:
        """``accuracy - confidence`` per bin (NaN for empty bins)."""
        return self.accuracy - self.confidence

    @property
    def ece(self) -> float:
        """Expected calibration error: the weight-averaged ``|gap|`` over non-empty bins."""
        full = self.count > 0
        return float(np.sum(self.weight[full] * np.abs(self.gap[full])))

    @property
    def mce(self) -> float:
        """Maximum calibration error: the largest ``|gap|`` over non-empty bins."""
        return float(np.max(np.abs(self.gap[self.count > 0])))


def _edges(values: Array, n_bins: int, strategy: str) -> Array:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be an int >= 1, got {n_bins!r}")
    if strategy == "uniform":
        # m / M exactly rounded, so a confidence equal to m / M lands in bin m (closed right).
        return np.arange(n_bins + 1) / n_bins
    if strategy == "quantile":
        edges = np.quantile(values, np.linspace(0, 1, n_bins + 1))
        edges[0], edges[-1] = min(edges[0], 0.0), 1.0
        return np.asarray(edges)
    raise ValueError(f"strategy must be one of {_STRATEGIES}, got {strategy!r}")


def _binned(values: Array, hits: Array, w: Array, n_bins: int, strategy: str) -> CalibrationTable:
    edges = _edges(values, n_bins, strategy)
    # searchsorted(side="left") gives i with edges[i-1] < v <= edges[i]: bins closed on the right.
    bins = np.clip(np.searchsorted(edges, values, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    mass = np.bincount(bins, weights=w, minlength=n_bins)
    conf_sum = np.bincount(bins, weights=w * values, minlength=n_bins)
    hit_sum = np.bincount(bins, weights=w * hits, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.where(count > 0, conf_sum / mass, np.nan)
        accuracy = np.where(count > 0, hit_sum / mass, np.nan)
    return CalibrationTable(edges, count, mass / w.sum(), confidence, accuracy)


def calibration_table(
    y: ArrayLike,
    proba: ArrayLike,
    *,
    n_bins: int = 15,
    strategy: str = "uniform",
    labels: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> CalibrationTable:
    """Top-label reliability data: per confidence bin, the mean confidence and the accuracy.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True labels (column indices of ``proba`` when ``labels`` is None).
    proba : array-like of shape (n_samples, n_classes)
        Predicted probabilities.
    n_bins : int, default=15
        Number of bins ``M``.
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins ``((m-1)/M, m/M]``, or equal-count bins at quantiles of the confidence.
    labels : array-like of shape (n_classes,), optional
        The class of each column of ``proba`` (e.g. ``model.classes_``).
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights.

    Returns
    -------
    CalibrationTable
        ``edges``, ``count``, ``weight``, ``confidence``, ``accuracy`` per bin, and ``ece``,
        ``mce``.

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    >>> table = calibration_table([0, 1, 1, 1], proba, n_bins=2)
    >>> table.count.tolist(), table.confidence.tolist(), table.accuracy.tolist()
    ([0, 4], [nan, 0.75], [nan, 0.75])
    """
    idx, p, w = _prepare(y, proba, labels, sample_weight)
    top = np.argmax(p, axis=1)
    confidence = p[np.arange(len(p)), top]
    return _binned(confidence, (top == idx).astype(np.float64), w, n_bins, strategy)


def expected_calibration_error(
    y: ArrayLike,
    proba: ArrayLike,
    *,
    n_bins: int = 15,
    strategy: str = "uniform",
    labels: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Top-label expected calibration error (Guo et al. 2017); see the module docstring.

    Parameters are those of :func:`calibration_table`. Returns a float in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    >>> # one sample per bin: 0.9 and 0.8 are right, 0.6 (class 0 for a 1) is wrong
    >>> round(expected_calibration_error([0, 1, 1], proba), 6)  # (0.1 + 0.6 + 0.2) / 3
    0.3
    """
    return calibration_table(
        y, proba, n_bins=n_bins, strategy=strategy, labels=labels, sample_weight=sample_weight
    ).ece


def max_calibration_error(
    y: ArrayLike,
    proba: ArrayLike,
    *,
    n_bins: int = 15,
    strategy: str = "uniform",
    labels: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Top-label maximum calibration error: the largest bin gap ``|acc - conf|``.

    Parameters are those of :func:`calibration_table`.

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    >>> round(max_calibration_error([0, 1, 1], proba), 6)
    0.6
    """
    return calibration_table(
        y, proba, n_bins=n_bins, strategy=strategy, labels=labels, sample_weight=sample_weight
    ).mce


def classwise_ece(
    y: ArrayLike,
    proba: ArrayLike,
    *,
    n_bins: int = 15,
    strategy: str = "uniform",
    labels: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Class-wise ECE (Kull et al. 2019): every column's ECE against ``y == k``, averaged.

    Bins hold ``p_ik`` for all samples (the first bin includes 0). Parameters are those of
    :func:`calibration_table`.

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> classwise_ece([0, 1], proba)
    0.0
    """
    idx, p, w = _prepare(y, proba, labels, sample_weight)
    per_class = [
        _binned(p[:, k], (idx == k).astype(np.float64), w, n_bins, strategy).ece
        for k in range(p.shape[1])
    ]
    return float(np.mean(per_class))


def brier_score(
    y: ArrayLike,
    proba: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Multiclass Brier score (Brier 1950): mean of ``sum_k (p_ik - [y_i = k])^2``, in [0, 2].

    Equals scikit-learn's ``brier_score_loss`` for more than two classes; for two classes it is
    twice the binary score (both columns count).

    Examples
    --------
    >>> import numpy as np
    >>> brier_score([0, 1], np.array([[0.75, 0.25], [0.5, 0.5]]))  # (0.125 + 0.5) / 2
    0.3125
    """
    idx, p, w = _prepare(y, proba, labels, sample_weight)
    residual = p.copy()
    residual[np.arange(len(p)), idx] -= 1
    return float(np.average(np.sum(residual**2, axis=1), weights=w))


def log_loss(
    y: ArrayLike,
    proba: ArrayLike | None = None,
    *,
    log_proba: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Mean negative log-likelihood ``-mean_i log p_{i, y_i}`` (natural log).

    Give exactly one of ``proba`` and ``log_proba``; prefer ``log_proba`` (e.g.
    ``model.predict_log_proba(X)``, computed as ``log_softmax``): it stays exact where a
    probability underflows to 0. No clipping: a true class of probability exactly 0 gives
    ``inf``, which is the true value.

    Examples
    --------
    >>> import numpy as np
    >>> round(log_loss([0, 1], np.array([[0.5, 0.5], [0.25, 0.75]])), 6)  # -(ln .5 + ln .75)/2
    0.490415
    >>> log_loss([0], log_proba=np.array([[-1000.0, 0.0]]))  # p = exp(-1000) underflows
    1000.0
    """
    if (proba is None) == (log_proba is None):
        raise ValueError("log_loss needs exactly one of proba and log_proba")
    if log_proba is not None:
        lp = np.asarray(log_proba)
        if lp.ndim != 2 or lp.shape[1] < 2 or lp.dtype.kind != "f":
            raise ValueError(
                f"log_proba must be a float array of shape (n_samples, n_classes >= 2), got "
                f"{lp.dtype} {lp.shape}"
            )
        lp = lp.astype(np.float64, copy=False)
        if np.any(np.isnan(lp)) or np.any(lp > 1e-6):
            raise ValueError("log_proba must be <= 0 and not NaN (log-probabilities)")
        # Checked against the probabilities it implies: rows of exp(log_proba) sum to 1.
        _check_proba(np.exp(lp), "exp(log_proba)")
        picked_from = lp
    else:
        assert proba is not None
        p = _check_proba(proba)
        with np.errstate(divide="ignore"):
            picked_from = np.log(p)
    idx = _class_indices(y, picked_from.shape[1], labels)
    if len(idx) != len(picked_from) or len(idx) == 0:
        raise ValueError(
            f"y has {len(idx)} samples and the probabilities {len(picked_from)} rows; "
            "they must match and be at least 1"
        )
    w = _weights(sample_weight, len(idx))
    return float(-np.average(picked_from[np.arange(len(idx)), idx], weights=w))

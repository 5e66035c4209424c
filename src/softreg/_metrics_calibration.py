"""Calibration errors from binned probabilities: the reliability table, ECE, MCE, class-wise ECE.

Top-label metrics bin each sample's largest probability (its confidence) and compare the bin's
mean confidence with its share of correct predictions; class-wise ECE bins every column against
the indicator of its class. The definitions (bins closed on the right, weights) are in the
docstring of :mod:`softreg.metrics`, which exports these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from softreg._metrics_inputs import prepare

__all__ = [
    "CalibrationTable",
    "calibration_table",
    "classwise_ece",
    "expected_calibration_error",
    "max_calibration_error",
]

Array = NDArray[Any]
_STRATEGIES = ("uniform", "quantile")


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
    idx, p, w = prepare(y, proba, labels, sample_weight)
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
    """Top-label expected calibration error (Guo et al. 2017); see :mod:`softreg.metrics`.

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
    idx, p, w = prepare(y, proba, labels, sample_weight)
    per_class = [
        _binned(p[:, k], (idx == k).astype(np.float64), w, n_bins, strategy).ece
        for k in range(p.shape[1])
    ]
    return float(np.mean(per_class))


# The public module that documents and exports it: its name in reprs,
# tracebacks and pickles (which then survive a move of the code between private modules).
CalibrationTable.__module__ = "softreg.metrics"

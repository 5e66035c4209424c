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

from softreg._metrics_calibration import (
    CalibrationTable,
    calibration_table,
    classwise_ece,
    expected_calibration_error,
    max_calibration_error,
)
from softreg._metrics_scoring import brier_score, log_loss

__all__ = [
    "CalibrationTable",
    "brier_score",
    "calibration_table",
    "classwise_ece",
    "expected_calibration_error",
    "log_loss",
    "max_calibration_error",
]

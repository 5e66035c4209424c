"""`softreg.metrics`, the public module: the names it exports from its private modules."""

from __future__ import annotations

from softreg import metrics


def test_exports_the_same_names_as_before_the_split():
    assert metrics.__all__ == [
        "CalibrationTable",
        "brier_score",
        "calibration_table",
        "classwise_ece",
        "expected_calibration_error",
        "log_loss",
        "max_calibration_error",
    ]
    for name in metrics.__all__:
        assert getattr(metrics, name).__doc__, name

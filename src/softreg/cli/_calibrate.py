"""``softreg train --calibrate``: hold out a validation split, fit a temperature, report both.

The temperature is fitted on the held-out validation split (never on the test set); the test
set then measures ECE, NLL and Brier score before and after, and the saved model carries the
temperature (its ``predict_proba`` applies it; ``predict`` is unchanged).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from softreg import metrics
from softreg.calibration import TemperatureScaling

__all__ = [
    "calibrate",
    "calibration_summary",
    "fraction",
    "split_validation",
    "write_calibration_plot",
]


def fraction(text: str) -> float:
    """argparse type of ``--calibrate``: a fraction strictly between 0 and 1.

    Examples
    --------
    >>> fraction("0.1")
    0.1
    >>> fraction("1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a fraction in (0, 1), got '1'
    """
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}")
    return value


def split_validation(
    images: np.ndarray, labels: np.ndarray, share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_images, train_labels, val_images, val_labels)``: a stratified split, seed 0."""
    try:
        train_x, val_x, train_y, val_y = train_test_split(
            images, labels, test_size=share, stratify=labels, random_state=0
        )
    except ValueError as exc:
        raise ValueError(
            f"--calibrate {share}: cannot hold out a stratified validation split of "
            f"{len(labels)} training images ({exc})"
        ) from None
    return train_x, train_y, val_x, val_y


def _scores(y: np.ndarray, proba: np.ndarray, log_proba: np.ndarray, classes: Any) -> dict:
    return {
        "ece": metrics.expected_calibration_error(y, proba, labels=classes),
        "mce": metrics.max_calibration_error(y, proba, labels=classes),
        "classwise_ece": metrics.classwise_ece(y, proba, labels=classes),
        "nll": metrics.log_loss(y, log_proba=log_proba, labels=classes),
        "brier": metrics.brier_score(y, proba, labels=classes),
    }


def calibrate(
    model: Any, X_val: Any, y_val: np.ndarray, X_test: Any, y_test: np.ndarray
) -> tuple[Any, dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    """Fit the temperature on ``(X_val, y_val)``; return the model carrying it, the metrics
    record (test-set ECE, NLL, Brier before and after; validation NLL) and the test
    probabilities before and after (for the reliability diagram)."""
    scaler = TemperatureScaling(model).fit(X_val, y_val)
    classes = model.classes_
    before = (model.predict_proba(X_test), model.predict_log_proba(X_test))
    after = (scaler.predict_proba(X_test), scaler.predict_log_proba(X_test))
    record = {
        "method": "temperature scaling (Guo et al. 2017), fitted on the validation split",
        "temperature": float(scaler.temperature_),
        "validation_samples": len(y_val),
        "validation_nll": {"before": scaler.nll_before_, "after": scaler.nll_after_},
        "n_bins": 15,
        "test": {
            "before": _scores(y_test, *before, classes),
            "after": _scores(y_test, *after, classes),
        },
    }
    return scaler.calibrated_estimator(), record, (before[0], after[0])


def calibration_summary(calibration: dict[str, Any]) -> str:
    """The summary line of a `calibrate` record: the temperature, test ECE and NLL before and
    after."""
    test = calibration["test"]
    return (
        f"temperature {calibration['temperature']:.4f} (fitted on "
        f"{calibration['validation_samples']} "
        f"held-out training images): test ECE {test['before']['ece']:.4f} -> "
        f"{test['after']['ece']:.4f}, NLL {test['before']['nll']:.4f} -> "
        f"{test['after']['nll']:.4f}"
    )


def write_calibration_plot(
    stage: Path, y_test: np.ndarray, probas: tuple[np.ndarray, np.ndarray], classes: Any, title: str
) -> str:
    """Write ``calibration.png`` (the test set's reliability diagram) and return its name."""
    from softreg import plotting

    axes = plotting.reliability_diagram(
        y_test, probas[0], proba_after=probas[1], labels=classes, title=title,
        names=("uncalibrated", "temperature scaled"),
    )  # fmt: skip
    return plotting.save_figure(axes, stage / "calibration.png").name

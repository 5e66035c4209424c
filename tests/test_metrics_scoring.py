"""Scoring rules (softreg._metrics_scoring): Brier score and log-loss against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sk_log_loss

from metrics_cases import random_case
from softreg import metrics
from softreg.functional import log_softmax


def test_brier_and_log_loss_match_scikit_learn():
    y, proba, logits = random_case(5)
    assert metrics.brier_score(y, proba) == pytest.approx(
        brier_score_loss(y, proba, labels=range(4)), rel=1e-12
    )
    assert metrics.log_loss(y, proba) == pytest.approx(sk_log_loss(y, proba), rel=1e-12)
    from_logs = metrics.log_loss(y, log_proba=log_softmax(logits, axis=1))
    assert from_logs == pytest.approx(sk_log_loss(y, proba), rel=1e-12)


def test_log_loss_from_log_proba_is_exact_where_proba_underflows():
    log_proba = np.array([[-800.0, 0.0], [0.0, -800.0]])
    assert metrics.log_loss([0, 0], log_proba=log_proba) == 400.0
    # From probabilities the true value is infinite; no clipping makes it finite.
    assert metrics.log_loss([0], np.array([[0.0, 1.0]])) == math.inf


def test_log_loss_needs_exactly_one_input():
    with pytest.raises(ValueError, match="exactly one"):
        metrics.log_loss([0])
    with pytest.raises(ValueError, match="log_proba"):
        metrics.log_loss([0], log_proba=np.array([[0.5, 0.7]]))

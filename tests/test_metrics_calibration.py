"""Calibration metrics against hand-computed cases and a written-out loop reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics_cases import random_case
from softreg import metrics


def _reference_ece(y, proba, n_bins):
    """Guo et al.'s definition written out: bins ((m-1)/M, m/M], one sample at a time."""
    bins = [[] for _ in range(n_bins)]
    for label, row in zip(y, proba, strict=True):
        conf = max(row)
        pred = list(row).index(conf)
        for m in range(1, n_bins + 1):
            if (m - 1) / n_bins < conf <= m / n_bins:
                bins[m - 1].append((conf, pred == label))
                break
    ece, mce = 0.0, 0.0
    for b in bins:
        if b:
            gap = abs(sum(c for _, c in b) / len(b) - sum(c for c, _ in b) / len(b))
            ece += len(b) / len(y) * gap
            mce = max(mce, gap)
    return ece, mce


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ece_and_mce_match_the_written_out_definition(seed):
    y, proba, _ = random_case(seed)
    ece, mce = _reference_ece(y, proba, 15)
    assert metrics.expected_calibration_error(y, proba) == pytest.approx(ece, rel=1e-12)
    assert metrics.max_calibration_error(y, proba) == pytest.approx(mce, rel=1e-12)
    assert ece > 0.01  # the case is miscalibrated: the test can fail


def test_bins_are_closed_on_the_right():
    # Confidence exactly 0.6 = 9/15 belongs to bin (8/15, 9/15], not (9/15, 10/15].
    proba = np.array([[0.6, 0.4], [0.62, 0.38]])
    table = metrics.calibration_table([0, 1], proba)
    assert table.count[8] == 1
    assert table.count[9] == 1
    assert table.edges[9] == 0.6


def test_hand_computed_table_and_weights():
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    table = metrics.calibration_table(["a", "b", "b"], proba, n_bins=2, labels=["a", "b"])
    # Bin (0.5, 1]: all three; confidence 2.3 / 3, accuracy 2 / 3.
    assert table.count.tolist() == [0, 3]
    assert table.ece == pytest.approx(abs(2 / 3 - 2.3 / 3))
    weighted = metrics.expected_calibration_error(
        [0, 1, 1], proba, n_bins=15, sample_weight=[2.0, 1.0, 1.0]
    )
    assert weighted == pytest.approx((2 * 0.1 + 0.6 + 0.2) / 4)


def test_quantile_bins_hold_equal_counts():
    y, proba, _ = random_case(3, n=600)
    table = metrics.calibration_table(y, proba, n_bins=6, strategy="quantile")
    assert table.count.tolist() == [100] * 6
    conf = proba.max(axis=1)
    order = np.argsort(conf)
    correct = (proba.argmax(1) == y)[order]
    expected = sum(
        abs(correct[i : i + 100].mean() - conf[order][i : i + 100].mean()) / 6
        for i in range(0, 600, 100)
    )
    assert table.ece == pytest.approx(expected, rel=1e-12)


def test_classwise_ece_written_out():
    y, proba, _ = random_case(4, n=200, k=3)
    total = 0.0
    for k in range(3):
        edges = np.arange(16) / 15
        b = np.clip(np.searchsorted(edges, proba[:, k]) - 1, 0, 14)
        for m in range(15):
            sel = b == m
            if sel.any():
                total += sel.mean() * abs((y[sel] == k).mean() - proba[sel, k].mean())
    assert metrics.classwise_ece(y, proba) == pytest.approx(total / 3, rel=1e-12)


@given(st.integers(0, 2**32 - 1), st.integers(2, 6), st.integers(1, 20))
def test_properties(seed, k, n_bins):
    y, proba, _ = random_case(seed, n=50, k=k)
    table = metrics.calibration_table(y, proba, n_bins=n_bins)
    assert 0 <= table.ece <= table.mce <= 1
    assert table.count.sum() == 50
    assert table.weight.sum() == pytest.approx(1.0)
    # Permuting samples changes nothing; a perfectly confident, always-right model has ECE 0.
    perm = np.random.default_rng(seed).permutation(50)
    assert metrics.expected_calibration_error(y[perm], proba[perm], n_bins=n_bins) == (
        pytest.approx(table.ece, abs=1e-15)
    )
    assert metrics.expected_calibration_error(y, np.eye(k)[y], n_bins=n_bins) == 0.0
    assert 0 <= metrics.brier_score(y, proba) <= 2

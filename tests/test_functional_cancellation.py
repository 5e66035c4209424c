"""logsumexp where ``max(z) < 0`` and the result cancels to near 0 (e.g. ``z = log(p)``).

``m + log1p(s)`` has an absolute error of a few ULP of ``m`` there; softreg redoes those rows
as ``log1p(sum(exp(z)) - 1)`` in double-longdouble (and decimal for the deepest cancellations).
The contract stays 1 ULP of the result, checked against mpmath at 60 digits.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import softreg._lse_exact as lse_exact
from softreg.functional import logsumexp
from test_functional_accuracy import reference, ulp_error


def log_proba_rows(dtype: type, n_rows: int, seed: int) -> list[np.ndarray]:
    """log of probability vectors (sums within rounding of 1), some shifted or with -inf."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_rows):
        n_classes = int(rng.choice([2, 3, 10, 100, 1000]))
        row = np.log(rng.dirichlet(np.full(n_classes, rng.choice([0.1, 1.0, 10.0]))))
        if i % 3 == 1:
            row += rng.uniform(-1e-3, 1e-3)
        if i % 5 == 2:
            row[0] = -np.inf
        rows.append(row.astype(dtype))
    return rows


def finite_reference(row: np.ndarray) -> mpmath.mpf:
    return reference(row[np.isfinite(row)])[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_proba_rows_within_1_ulp(dtype):
    rows = log_proba_rows(dtype, 60, seed=0)
    errors = [ulp_error(logsumexp(row), [finite_reference(row)], dtype)[0] for row in rows]
    assert max(errors) <= 1.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_of_cancelling_rows_matches_single_rows(dtype):
    rng = np.random.default_rng(1)
    z = np.log(rng.dirichlet(np.ones(10), size=3000)).astype(dtype)
    z[::7] += 5.0  # mixed with ordinary rows, in several chunks
    batch = logsumexp(z)
    singles = np.array([logsumexp(row) for row in z[::37]])
    np.testing.assert_array_equal(batch[::37], singles)
    for row, value in zip(z[:: 37 * 4], batch[:: 37 * 4], strict=True):
        assert ulp_error(value, [finite_reference(row)], dtype)[0] <= 1.0


def test_tiny_max_cancels_against_tiny_sum():
    # z = [-1e-20, log(1e-20)]: m and log1p(s) ~ 1e-20 cancel.
    row = np.array([-1e-20, np.log(1e-20), np.log(2e-21)])
    assert ulp_error(logsumexp(row), [finite_reference(row)], np.float64)[0] <= 1.0


def test_double_longdouble_exp_meets_its_bound():
    z = np.concatenate([[0.0, -1e-300, -1e-20, -np.log(2) / 2, -149.9], -np.linspace(0, 150, 97)])
    hi, lo = lse_exact._exp_dl(z)
    with mpmath.workdps(80):
        for v, h, l in zip(z, hi, lo, strict=True):
            exact = mpmath.exp(mpmath.mpf(float(v)))
            got = mpmath.mpf(str(lse_exact._to_decimal(h))) + mpmath.mpf(
                str(lse_exact._to_decimal(l))
            )
            assert abs(got - exact) <= lse_exact._REL * exact, v


def test_decimal_fallback_within_1_ulp(monkeypatch):
    # Force every cancelling row through the deepest tier (adaptive-precision decimal).
    monkeypatch.setattr(lse_exact, "_REL", 1.0)
    monkeypatch.setattr(lse_exact, "_UNIT", np.longdouble(1.0))
    rows = log_proba_rows(np.float64, 12, seed=2)
    rows = [row for row in rows if row.size <= 100]
    for row in rows:
        assert ulp_error(logsumexp(row), [finite_reference(row)], np.float64)[0] <= 1.0


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([np.float32, np.float64]),
    st.lists(st.floats(0.01, 1.0), min_size=2, max_size=12),
    st.floats(-1e-6, 1e-6),
)
def test_hypothesis_normalised_log_rows(dtype, weights, shift):
    row = (np.log(np.array(weights) / np.sum(weights)) + shift).astype(dtype)
    assert ulp_error(logsumexp(row), [finite_reference(row)], dtype)[0] <= 1.0

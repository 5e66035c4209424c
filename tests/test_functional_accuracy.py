"""Accuracy contract of logsumexp / softmax / log_softmax against mpmath (60 digits).

The reference is computed from the exact values of the floats: ``z_j - max`` is an exact mpmath
subtraction and the max entry's term is kept out of the sum (``log1p`` of the others), so the
reference itself is accurate to ~60 digits even where the float algorithms cancel.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softreg.functional import log_softmax, logsumexp, softmax

BOUNDS = {"logsumexp": 1.0, "softmax": 4.0, "log_softmax": 4.0}
MAX_ABS = {np.float64: 1e300, np.float32: 3e38}


def adversarial_rows(dtype: type, seed: int = 0, n_rows: int = 60) -> list[np.ndarray]:
    """Seeded rows: offsets up to ±1e300 (float32: ±3e38), spreads 1e-3..1e3, 2..1000 classes."""
    rng = np.random.default_rng(seed)
    rows = []
    big = MAX_ABS[dtype]
    for i in range(n_rows):
        n_classes = int(rng.choice([2, 3, 10, 57, 300, 1000]))
        offset = rng.choice([0.0, 1.0, -1.0, 1e3, -1e3, -5.0, big, -big]) * rng.uniform(0.1, 1)
        spread = 10.0 ** rng.uniform(-3, 3)
        row = offset + spread * rng.standard_normal(n_classes)
        if i % 7 == 0:  # ties with the max and a far-away entry
            row[: n_classes // 2] = row.max()
            row[-1] = row.max() - 700.0
        if i % 11 == 0:  # huge spread: both ends of the range in one row
            row[0], row[-1] = big, -big
        rows.append(np.clip(row, -big, big).astype(dtype))
    rows.append(np.array([1000.0, 1000.0, 100.0], dtype=dtype))
    rows.append(np.array([0.0, -40.0, -60.0], dtype=dtype))
    return rows


def reference(row: np.ndarray) -> tuple[mpmath.mpf, list[mpmath.mpf], list[mpmath.mpf]]:
    """(logsumexp, log_softmax, softmax) of ``row`` at 60 digits."""
    with mpmath.workdps(60):
        zs = [mpmath.mpf(float(v)) for v in row]
        top = max(zs)
        diffs = [mpmath.fsub(z, top, exact=True) for z in zs]
        j = diffs.index(0)
        log_norm = mpmath.log1p(mpmath.fsum(mpmath.exp(d) for i, d in enumerate(diffs) if i != j))
        log_proba = [d - log_norm for d in diffs]
        return top + log_norm, log_proba, [mpmath.exp(v) for v in log_proba]


def ulp_error(computed: np.ndarray, ref: list[mpmath.mpf], dtype: type) -> np.ndarray:
    """|computed - ref| in units of the spacing of ``ref`` rounded to ``dtype``."""
    out = []
    for c, r in zip(np.atleast_1d(computed), ref, strict=True):
        with np.errstate(over="ignore"):
            rounded = dtype(float(r))
        if np.isinf(rounded):  # the correctly rounded result overflows
            out.append(0.0 if c == rounded else np.inf)
            continue
        spacing = float(np.spacing(np.abs(rounded)))
        with mpmath.workdps(60):
            out.append(float(abs(mpmath.mpf(float(c)) - r) / spacing))
    return np.array(out)


@pytest.fixture(scope="module", params=[np.float64, np.float32], ids=["float64", "float32"])
def corpus(request):
    dtype = request.param
    rows = adversarial_rows(dtype)
    return dtype, rows, [reference(row) for row in rows]


def test_logsumexp_within_1_ulp(corpus):
    dtype, rows, refs = corpus
    worst = max(
        ulp_error(logsumexp(row), [lse], dtype).max()
        for row, (lse, _, _) in zip(rows, refs, strict=True)
    )
    assert worst <= BOUNDS["logsumexp"]


def test_softmax_within_4_ulp(corpus):
    dtype, rows, refs = corpus
    for row, (_, _, proba) in zip(rows, refs, strict=True):
        out = softmax(row)
        assert out.dtype == dtype
        assert ulp_error(out, proba, dtype).max() <= BOUNDS["softmax"], row


def test_log_softmax_within_4_ulp(corpus):
    dtype, rows, refs = corpus
    for row, (_, log_proba, _) in zip(rows, refs, strict=True):
        out = log_softmax(row)
        assert out.dtype == dtype
        assert ulp_error(out, log_proba, dtype).max() <= BOUNDS["log_softmax"], row


def test_batched_rows_equal_single_rows():
    # Chunking and the layout must not change the result beyond the last digit.
    rows = adversarial_rows(np.float64, seed=1, n_rows=20)
    rng = np.random.default_rng(2)
    batch = rng.standard_normal((5000, 10)) * 30
    batch[17] = rows[3][:10] if rows[3].size >= 10 else batch[17]
    one_by_one = np.stack([softmax(r) for r in batch[:50]])
    np.testing.assert_allclose(softmax(batch)[:50], one_by_one, rtol=4e-16, atol=0)
    np.testing.assert_allclose(log_softmax(batch.T, axis=0).T, log_softmax(batch), rtol=4e-16)


def test_classic_failures_are_fixed():
    # softmax([1000, 1000, 100]) overflows to NaN when computed naively.
    np.testing.assert_array_equal(softmax([1000.0, 1000.0, 100.0]), [0.5, 0.5, 0.0])
    # log(softmax(z)) underflows to -inf; log_softmax keeps the value.
    assert log_softmax([0.0, -800.0])[1] == -800.0
    # -log1p(exp(-40)) keeps every digit of the max entry (naive code returns 0.0).
    with mpmath.workdps(40):
        expected = float(-mpmath.log1p(mpmath.exp(-40)))
    assert log_softmax([0.0, -40.0])[0] == expected


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from([np.float32, np.float64]),
    st.lists(st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=2, max_size=12),
    st.floats(-1e300, 1e300, allow_nan=False),
)
def test_hypothesis_rows_meet_the_contract(dtype, values, offset):
    offset = float(np.clip(offset, -3e38, 3e38)) if dtype == np.float32 else offset
    with np.errstate(over="ignore"):
        row = (np.array(values) + offset).astype(dtype)
    if not np.all(np.isfinite(row)):
        return
    lse, log_proba, proba = reference(row)
    assert ulp_error(logsumexp(row), [lse], dtype)[0] <= BOUNDS["logsumexp"]
    assert ulp_error(softmax(row), proba, dtype).max() <= BOUNDS["softmax"]
    assert ulp_error(log_softmax(row), log_proba, dtype).max() <= BOUNDS["log_softmax"]


@pytest.mark.parametrize("n_classes", [10, 57])
def test_special_rows_inside_large_batches(n_classes):
    # Several chunks, both layouts (few classes are processed transposed); special rows in the
    # middle of a later chunk must not disturb their neighbours.
    rng = np.random.default_rng(4)
    z = 10 * rng.standard_normal((9000, n_classes))
    z[5000, 3] = np.nan
    z[5001, :2] = np.inf
    z[5002] = -np.inf
    z[5003, 1] = -np.inf
    z[5004, 0], z[5004, 1] = 1e308, -1e308
    for f in (softmax, log_softmax, logsumexp):
        batch = f(z)
        singles = np.array([f(row) for row in z[4990:5010]])
        # NumPy's exp may take a SIMD path for long arrays and a scalar one for short rows,
        # so compare to within the contract rather than bit for bit.
        np.testing.assert_allclose(batch[4990:5010], singles, rtol=4e-16, atol=0)
        np.testing.assert_array_equal(np.isnan(batch[4990:5010]), np.isnan(singles))
        assert np.isfinite(batch[:5000]).all()


@pytest.mark.parametrize("offset_range", [250.0, 5000.0], ids=["one-shift", "per-row-shift"])
def test_float32_softmax_batches_meet_the_contract(offset_range):
    # float32 softmax shifts a whole chunk by its largest row max when the row maxima are within
    # 600 of each other (else each row by its own): entries ~100 below their row max, in rows
    # whose max is far below the chunk's, must keep their float32 digits (subnormals included).
    rng = np.random.default_rng(6)
    z = rng.uniform(-offset_range, offset_range, (40, 1)) + 30 * rng.standard_normal((40, 57))
    z[:, :3] = z.max(axis=1, keepdims=True) - rng.uniform(95, 110, (40, 3))
    z = z.astype(np.float32)
    out = softmax(z)
    for row, proba in zip(z, out, strict=True):
        assert ulp_error(proba, reference(row)[2], np.float32).max() <= BOUNDS["softmax"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unshifted_softmax_near_its_range_limits(dtype):
    # Softmax skips the max shift for moderate logits (float64: every entry in [-600, 600 -
    # log K]; float32: a row sum in [exp(-580), max float64]). Rows straddling those limits, with
    # entries far below their row max (near float64's underflow), must still meet the contract,
    # and a row's result must not depend on the rows batched with it.
    rng = np.random.default_rng(11)
    tops = np.array([-620.0, -590.0, -575.0, -560.0, 560.0, 590.0, 598.0, 605.0, 700.0, 0.0])
    z = tops[:, None] - np.abs(30 * rng.standard_normal((10, 40)))
    z[:, 0] = tops
    z[:, 1:4] = tops[:, None] - rng.uniform(95, 140, (10, 3))
    z = z.astype(dtype)
    out = softmax(z)
    for row, proba in zip(z, out, strict=True):
        assert ulp_error(proba, reference(row)[2], dtype).max() <= BOUNDS["softmax"]
        np.testing.assert_array_equal(softmax(row), proba)


def test_float32_log_softmax_of_a_dominant_class_keeps_its_digits():
    # float32 log_softmax computes z - logsumexp(z) in float32 with a split logsumexp unless the
    # top class takes nearly all the mass (its log-probability cancels); rows on both sides of
    # that test must meet the contract.
    rng = np.random.default_rng(12)
    gaps = np.linspace(5.0, 30.0, 26)
    z = rng.standard_normal((26, 50)) + rng.uniform(-300, 300, (26, 1))
    z[:, 0] = z[:, 1:].max(axis=1) + gaps
    z = z.astype(np.float32)
    out = log_softmax(z)
    for row, log_proba in zip(z, out, strict=True):
        assert ulp_error(log_proba, reference(row)[1], np.float32).max() <= BOUNDS["log_softmax"]
        np.testing.assert_array_equal(log_softmax(row), log_proba)

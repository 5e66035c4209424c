"""softreg._fingerprint.data_fingerprint: equal for the same data, different for any change."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from softreg._fingerprint import _BLOCK_BYTES, data_fingerprint


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((300, 7)), rng.integers(0, 3, 300), rng.random(300)


def test_same_data_same_fingerprint_whatever_the_layout(data):
    X, y, sw = data
    ref = data_fingerprint(X, y, sw)
    assert data_fingerprint(X.copy(), y.copy(), sw.copy()) == ref
    assert data_fingerprint(np.asfortranarray(X), list(y), sw) == ref
    assert data_fingerprint(np.hstack([X, X])[:, :7], y, sw) == ref  # a non-contiguous view


@pytest.mark.parametrize(
    "change",
    ["one-value", "rows-swapped", "labels", "weights", "no-weights", "dtype", "one-row-less"],
)
def test_any_change_changes_it(data, change):
    X, y, sw = (a.copy() for a in data)
    ref = data_fingerprint(X, y, sw)
    if change == "one-value":
        X[150, 3] = np.nextafter(X[150, 3], np.inf)
    elif change == "rows-swapped":
        X[[10, 20]] = X[[20, 10]]
    elif change == "labels":
        y[5] = (y[5] + 1) % 3
    elif change == "weights":
        sw[0] *= 2
    elif change == "no-weights":
        sw = None
    elif change == "dtype":
        X = X.astype(np.float32)
    else:
        X, y, sw = X[:-1], y[:-1], sw[:-1]
    assert data_fingerprint(X, y, sw) != ref


def test_blocks_span_large_arrays_and_match_a_reference():
    # Two blocks of rows and a remainder; recompute the documented construction by hand.
    rows_per_block = _BLOCK_BYTES // (64 * 8)
    X = np.arange((2 * rows_per_block + 3) * 64, dtype=np.float64).reshape(-1, 64)
    outer = hashlib.sha256(b"softreg-data-fingerprint-1")
    outer.update(f"|X:{X.dtype.str}:{X.shape}|".encode())
    for i in range(0, X.shape[0], rows_per_block):
        outer.update(hashlib.sha256(X[i : i + rows_per_block].tobytes()).digest())
    outer.update(b"|y:none|")
    outer.update(b"|sample_weight:none|")
    assert data_fingerprint(X) == outer.hexdigest()


def test_sparse_hashes_content_and_differs_from_dense(data):
    X, y, _ = data
    X[X < 0.5] = 0
    S = sp.csr_matrix(X)
    assert data_fingerprint(S, y) == data_fingerprint(sp.csc_matrix(X), y)
    S2 = S.copy()
    S2.data[0] += 1
    assert data_fingerprint(S2, y) != data_fingerprint(S, y)
    assert data_fingerprint(S, y) != data_fingerprint(X, y)


def test_what_it_cannot_read_is_marked_shape_only():
    class Lazy:
        shape, dtype = (3, 2), np.dtype(np.float64)

    assert data_fingerprint(Lazy(), [0, 1, 0]).startswith("shape-only:")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, width=64), min_size=2, max_size=40),
    st.integers(min_value=0, max_value=39),
)
def test_property_a_changed_element_changes_it(values, index):
    X = np.array(values).reshape(-1, 1)
    index %= len(values)
    changed = X.copy()
    changed[index, 0] = values[index] + 1.0 if abs(values[index]) < 1e300 else 0.0
    if np.array_equal(changed, X):
        return
    assert data_fingerprint(changed) != data_fingerprint(X)

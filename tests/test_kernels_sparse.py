"""Passes over sparse X (softreg._kernels.sparse): against the dense objective and its references.

Every implementation runs on the same problems: the compiled row-wise (CSR) loops, the
compiled column-wise (CSC) loops and the NumPy/SciPy fallback, in float32 and float64; values,
gradients and Hessian-vector products are compared with the dense objective (itself tested
against SciPy and scikit-learn in test_objective.py), with finite differences, and the
Hessian diagonal with the explicit Hessian.
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from softreg._kernels import compiled, jacobi, sparse, sparse_columns
from softreg.objective import SoftmaxObjective

MODES = ["csr-compiled", "csc-compiled", "csr-numpy"]


def make_sparse(n=80, d=30, k=4, density=0.15, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=seed, format="csr", dtype=np.float64)
    X.data = rng.standard_normal(X.nnz)
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    sw = rng.uniform(0.1, 2.0, n)
    return X.astype(dtype), y, sw


@pytest.fixture
def mode(request, monkeypatch):
    """Force one implementation: row-wise compiled, column-wise compiled, or NumPy."""
    name = request.param
    if name.endswith("compiled") and not compiled.AVAILABLE:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(compiled, "AVAILABLE", name.endswith("compiled"))
    monkeypatch.setattr(sparse_columns, "prefer_columns", lambda X: name == "csc-compiled")
    return name


def pair(X, y, sw, k, **kwargs):
    """The objective on sparse X and on its dense copy."""
    return (
        SoftmaxObjective(X, y, k, sw, **kwargs),
        SoftmaxObjective(X.toarray(), y, k, sw, **kwargs),
    )


@pytest.mark.parametrize("mode", MODES, indirect=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_values_gradients_hessp_match_dense(mode, dtype, fit_intercept):
    X, y, sw = make_sparse(dtype=dtype)
    obj, dense = pair(X, y, sw, 4, C=0.7, fit_intercept=fit_intercept, scale=0.5)
    rng = np.random.default_rng(1)
    w = rng.standard_normal(obj.n_params).astype(dtype)
    v = rng.standard_normal(obj.n_params).astype(dtype)
    f, g, h = obj.loss_grad_hessp(w)
    fd, gd, hd = dense.loss_grad_hessp(w)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    atol = 1e-14 if dtype == np.float64 else 1e-6
    assert f == pytest.approx(fd, rel=rtol)
    assert obj.loss(w) == pytest.approx(fd, rel=rtol)
    assert g.dtype == dtype
    assert h(v).dtype == dtype
    np.testing.assert_allclose(g, gd, rtol=rtol, atol=atol)
    np.testing.assert_allclose(h(v), hd(v), rtol=rtol * 10, atol=atol)
    np.testing.assert_allclose(h.proba, hd.proba, rtol=rtol, atol=atol)


@pytest.mark.parametrize("mode", MODES, indirect=True)
def test_loss_matches_scipy_reference(mode):
    X, y, sw = make_sparse(seed=3)
    obj = SoftmaxObjective(X, y, 4, sw, C=2.0)
    w = np.random.default_rng(2).standard_normal(obj.n_params)
    W, b = w[: 4 * 30].reshape(4, 30), w[4 * 30 :]
    z = X.toarray() @ W.T + b
    data = np.sum(sw * (logsumexp(z, axis=1) - z[np.arange(len(y)), y])) / sw.sum()
    assert obj.loss(w) == pytest.approx(data + np.sum(W**2) / (2 * 2.0 * sw.sum()), rel=1e-12)


@pytest.mark.parametrize("mode", MODES, indirect=True)
def test_gradient_and_hessp_match_finite_differences(mode):
    X, y, sw = make_sparse(n=40, d=12, k=3, seed=4)
    obj = SoftmaxObjective(X, y, 3, sw, C=1.0)
    rng = np.random.default_rng(3)
    w, v = rng.standard_normal(obj.n_params), rng.standard_normal(obj.n_params)
    _f, g, h = obj.loss_grad_hessp(w)
    eps = 1e-6
    fd_dir = (obj.loss(w + eps * v) - obj.loss(w - eps * v)) / (2 * eps)
    assert float(g @ v) == pytest.approx(fd_dir, rel=1e-6)
    # H v against the directional difference of the gradient.
    fd_hv = (obj.loss_grad(w + eps * v)[1] - obj.loss_grad(w - eps * v)[1]) / (2 * eps)
    np.testing.assert_allclose(h(v), fd_hv, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("mode", MODES, indirect=True)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_diagonal_matches_explicit_hessian(mode, fit_intercept):
    X, y, sw = make_sparse(n=50, d=9, k=3, seed=5)
    obj = SoftmaxObjective(X, y, 3, sw, C=1.0, fit_intercept=fit_intercept, scale=2.0)
    w = np.random.default_rng(4).standard_normal(obj.n_params)
    _, _, h = obj.loss_grad_hessp(w)
    H = np.column_stack([h(e) for e in np.eye(obj.n_params)])
    data_diag = np.diag(H) - obj.l2_strength * np.r_[np.ones(27), np.zeros(3 * fit_intercept)]
    if mode == "csc-compiled":
        D, db = sparse_columns.hessian_diagonal(obj._column_form(), obj.weight, h.proba, scale=2.0)
    else:
        D, db = jacobi.hessian_diagonal(obj.X, obj.weight, h.proba, scale=2.0)
    np.testing.assert_allclose(D.ravel(), data_diag[:27], rtol=1e-12, atol=1e-15)
    if fit_intercept:
        np.testing.assert_allclose(db, data_diag[27:], rtol=1e-12)
    # The dense X's diagonal (the fallback for dense X with many features) agrees too.
    D2, _db2 = jacobi.hessian_diagonal(X.toarray(), obj.weight, h.proba, scale=2.0)
    np.testing.assert_allclose(D2, D, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "dok"])
def test_other_formats_are_converted_once_and_said(fmt):
    X, y, sw = make_sparse(seed=6)
    obj = SoftmaxObjective(X.asformat(fmt), y, 4, sw, C=1.0)
    assert obj.X.format == "csr"
    assert obj.converted_from == fmt
    assert SoftmaxObjective(X, y, 4, sw).converted_from is None
    assert SoftmaxObjective(X, y, 4, sw).X is X  # CSR: no copy
    w = np.random.default_rng(0).standard_normal(obj.n_params)
    assert obj.loss(w) == pytest.approx(SoftmaxObjective(X, y, 4, sw, C=1.0).loss(w), rel=1e-13)


@pytest.mark.parametrize("mode", MODES, indirect=True)
def test_unsorted_indices_explicit_zeros_duplicates_empty_rows_and_columns(mode):
    X, y, sw = make_sparse(n=60, d=20, seed=7)
    dense = X.toarray()
    dense[5] = 0.0  # an empty row
    dense[:, 3] = 0.0  # an empty column
    canonical = sp.csr_matrix(dense)
    # The same matrix with each row's entries reversed, an explicit zero and a split entry.
    rows, data, indices = [], [], []
    for i in range(canonical.shape[0]):
        lo, hi = canonical.indptr[i], canonical.indptr[i + 1]
        row_idx = list(canonical.indices[lo:hi][::-1])
        row_val = list(canonical.data[lo:hi][::-1])
        if i % 7 == 0:
            row_idx.append(3)  # explicit zero in the empty column
            row_val.append(0.0)
        if row_idx and i % 5 == 0:  # split the first entry into two duplicates
            row_idx.append(row_idx[0])
            half = row_val[0] / 2
            row_val[0] = half
            row_val.append(half)
        rows.append(len(row_idx))
        indices += row_idx
        data += row_val
    messy = sp.csr_matrix(
        (np.array(data), np.array(indices), np.r_[0, np.cumsum(rows)]), shape=dense.shape
    )
    assert not messy.has_sorted_indices
    assert not messy.has_canonical_format
    a = SoftmaxObjective(messy, y, 4, sw, C=1.0)
    b = SoftmaxObjective(dense, y, 4, sw, C=1.0)
    w = np.random.default_rng(8).standard_normal(a.n_params)
    fa, ga, ha = a.loss_grad_hessp(w)
    fb, gb, hb = b.loss_grad_hessp(w)
    assert fa == pytest.approx(fb, rel=1e-12)
    np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ha(w), hb(w), rtol=1e-10, atol=1e-14)
    assert messy.has_sorted_indices is False  # the caller's matrix is not modified
    # The empty column's gradient is the penalty's alone.
    coef_grad = ga[: 4 * 20].reshape(4, 20)
    np.testing.assert_allclose(coef_grad[:, 3], a.l2_strength * w[:80].reshape(4, 20)[:, 3])


def test_malformed_or_integer_sparse_x_is_refused():
    X, y, sw = make_sparse()
    bad = X.copy()
    bad.indices = bad.indices.copy()
    bad.indices[3] = 10_000
    with pytest.raises(ValueError, match=r"column indices must lie in 0\.\.29"):
        SoftmaxObjective(bad, y, 4, sw)
    with pytest.raises(TypeError, match="float32/float64 when sparse"):
        SoftmaxObjective(X.astype(np.int64), y, 4, sw)
    with pytest.raises(ValueError, match=r"class indices in 0..3"):
        sparse.loss_grad(X, np.full(80, 4), sw, np.zeros((4, 30)), None)


@pytest.mark.parametrize("mode", MODES, indirect=True)
def test_threads_split_by_stored_entries_give_the_same_result(mode):
    # Rows of very different lengths (text-like), one to three threads.
    rng = np.random.default_rng(9)
    lens = rng.zipf(1.5, 300).clip(0, 40)
    rows = np.repeat(np.arange(300), lens)
    X = sp.csr_matrix(
        (rng.standard_normal(len(rows)), (rows, rng.integers(0, 500, len(rows)))), shape=(300, 500)
    )
    y = rng.integers(0, 3, 300)
    coef = rng.standard_normal((3, 500))
    weight = np.full(300, 1 / 300)
    results = [sparse.loss_grad(X, y, weight, coef, None, n_workers=n) for n in (1, 2, 3)]
    for f, g, _ in results[1:]:
        assert f == pytest.approx(results[0][0], rel=1e-13)
        np.testing.assert_allclose(g, results[0][1], rtol=1e-12, atol=1e-15)
    ranges = sparse.row_ranges(X, 3)
    assert ranges[0][0] == 0
    assert ranges[-1][1] == 300
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 30),
    d=st.integers(1, 40),
    k=st.integers(2, 5),
    density=st.floats(0.0, 0.6),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_property_any_shape_matches_dense(n, d, k, density, seed, dtype):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=seed, format="csr").astype(dtype)
    y = rng.integers(0, k, n)
    obj, dense = pair(X, y, None, k, C=1.0)
    w = rng.standard_normal(obj.n_params).astype(dtype)
    f, g, h = obj.loss_grad_hessp(w)
    fd, gd, hd = dense.loss_grad_hessp(w)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    assert f == pytest.approx(fd, rel=tol, abs=tol)
    np.testing.assert_allclose(g, gd, rtol=tol, atol=tol)
    np.testing.assert_allclose(h(w), hd(w), rtol=tol * 10, atol=tol)
    assert np.all(np.isfinite(g))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_diagonal_inverse_divides_by_the_damped_diagonal_and_stays_finite(dtype):
    D = np.array([[1.0, 0.0, 4.0], [2.0, 0.0, 8.0]])  # column 1 empty
    db = np.array([0.5, 0.25])
    apply = jacobi.inverse((D, db), 0.1, fit_intercept=True, dtype=dtype)
    r = np.arange(1.0, 9.0).astype(dtype)
    expected = r / (np.r_[D.ravel(), db] + 0.1 + 1e-8 * 8.0)
    out = apply(r)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    # No penalty and an empty column: finite, large, not inf or nan.
    free = jacobi.inverse((D, db), 0.0, fit_intercept=False, dtype=dtype)(r[:6])
    assert np.all(np.isfinite(free))


def test_kfac_on_sparse_x_equals_kfac_on_its_dense_copy():
    X, y, sw = make_sparse(n=70, d=12, k=3, seed=11)
    obj, dense = pair(X, y, sw, 3, C=1.0)
    assert obj.preconditioner_name == dense.preconditioner_name == "kfac"
    w = np.random.default_rng(12).standard_normal(obj.n_params)
    _, _, h = obj.loss_grad_hessp(w)
    _, _, hd = dense.loss_grad_hessp(w)
    # With 13 augmented features the preconditioner inverts the whole Hessian exactly
    # (softreg._kernels.subspace), whose conditioning magnifies the sums' rounding.
    np.testing.assert_allclose(h.preconditioner()(w), hd.preconditioner()(w), rtol=1e-7)


def test_row_ranges_balance_entries_plus_a_cost_per_row():
    # One dense row of 1000 entries, then 1000 rows of one entry: by entries alone the cut falls
    # right after the dense row; with a cost of 1 per row, where rows plus entries are halved.
    lens = np.array([1000] + [1] * 1000)
    indptr = np.concatenate([[0], np.cumsum(lens)])
    X = sp.csr_matrix((np.ones(indptr[-1]), np.zeros(indptr[-1], int), indptr), shape=(1001, 1))
    assert sparse.row_ranges(X, 2) == [(0, 1), (1, 1001)]
    (a, cut), (cut2, b) = sparse.row_ranges(X, 2, per_major=1.0)
    assert (a, b) == (0, 1001)
    assert cut == cut2
    cost = indptr + np.arange(1002)
    assert abs(cost[cut] - cost[-1] / 2) <= 2


@pytest.mark.skipif(not compiled.AVAILABLE, reason="numba is not installed")
@pytest.mark.parametrize("n_workers", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_passes_span_several_column_blocks(n_workers, dtype):
    """Wider than the compiled loops' column block, cut into unaligned thread ranges, and with
    empty column blocks: the column-wise passes equal the row-wise ones."""
    from softreg._kernels import compiled_sparse

    d = 3 * compiled_sparse.COLUMN_BLOCK + 77
    X, y, sw = make_sparse(n=60, d=d, k=5, density=0.01, dtype=dtype)
    X = X.tolil()
    X[:, 1024:2100] = 0  # at least one whole block with no entries
    X = X.tocsr()
    X.eliminate_zeros()
    weight = (sw / sw.sum()).astype(dtype)
    rng = np.random.default_rng(3)
    coef = rng.standard_normal((5, d)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    Xc = X.tocsc()
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    proba = np.empty((60, 5), dtype)
    f_rows, g_rows, gb_rows = sparse.loss_grad(X, y, weight, coef, b, scale=0.5, proba_out=proba)
    f_cols, g_cols, gb_cols = sparse_columns.loss_grad(
        Xc, y, weight, coef, b, scale=0.5, n_workers=n_workers
    )
    assert f_cols == pytest.approx(f_rows, rel=rtol)
    np.testing.assert_allclose(g_cols, g_rows, rtol=rtol, atol=rtol * np.abs(g_rows).max())
    np.testing.assert_allclose(gb_cols, gb_rows, rtol=rtol, atol=rtol)
    v = rng.standard_normal((5, d)).astype(dtype)
    h_rows, _ = sparse.hessp(X, weight, proba, v, b, scale=0.5)
    h_cols, _ = sparse_columns.hessp(Xc, weight, proba, v, b, scale=0.5, n_workers=n_workers)
    np.testing.assert_allclose(h_cols, h_rows, rtol=rtol, atol=rtol * np.abs(h_rows).max())
    D_rows, _ = sparse.hessian_diagonal(X, weight, proba, scale=0.5)
    D_cols, _ = sparse_columns.hessian_diagonal(Xc, weight, proba, scale=0.5, n_workers=n_workers)
    drtol = 1e-6 if dtype == np.float32 else 1e-12  # from float32 probabilities
    np.testing.assert_allclose(D_cols, D_rows, rtol=drtol, atol=1e-15)
    assert not D_cols[:, 1024:2100].any()

"""SoftmaxObjective: values against references, derivatives against finite differences."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import logsumexp
from sklearn.linear_model import LogisticRegression

from softreg import check_gradient
from softreg.objective import SoftmaxObjective


def make_problem(n=60, d=5, k=4, seed=0, weights=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    sw = rng.uniform(0.1, 2.0, n) if weights else None
    return X, y, sw


def reference_loss(X, y, sw, w, k, C, fit_intercept=True):
    """The module docstring's formula, written the obvious (slow) way with SciPy."""
    n, d = X.shape
    W = w[: k * d].reshape(k, d)
    b = w[k * d :] if fit_intercept else np.zeros(k)
    sw = np.ones(n) if sw is None else sw
    z = X @ W.T + b
    data = np.sum(sw * (logsumexp(z, axis=1) - z[np.arange(n), y])) / sw.sum()
    return data + np.sum(W**2) / (2 * C * sw.sum())


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("block_size", [None, 7])
def test_loss_matches_reference_formula(fit_intercept, block_size):
    X, y, sw = make_problem()
    obj = SoftmaxObjective(X, y, 4, sw, C=0.3, fit_intercept=fit_intercept, block_size=block_size)
    w = np.random.default_rng(1).standard_normal(obj.n_params)
    expected = reference_loss(X, y, sw, w, 4, 0.3, fit_intercept)
    assert obj.loss(w) == pytest.approx(expected, rel=1e-12)
    assert obj.loss_grad(w)[0] == pytest.approx(expected, rel=1e-12)
    assert obj.loss_grad_hessp(w)[0] == pytest.approx(expected, rel=1e-12)


def test_scaling_equals_sklearn_formula_at_its_solution():
    # At scikit-learn's own optimum our objective equals its formula
    # mean log-loss + ||W||^2 / (2 C sum(sw)), and our gradient there is ~0.
    X, y, sw = make_problem(n=120, seed=3)
    C = 0.5
    ref = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y, sample_weight=sw)
    w = np.concatenate([ref.coef_.ravel(), ref.intercept_])
    obj = SoftmaxObjective(X, y, 4, sw, C=C)
    log_loss = -np.sum(sw * np.log(ref.predict_proba(X)[np.arange(len(y)), y])) / sw.sum()
    sklearn_formula = log_loss + np.sum(ref.coef_**2) / (2 * C * sw.sum())
    assert obj.loss(w) == pytest.approx(sklearn_formula, rel=1e-12)
    assert np.abs(obj.loss_grad(w)[1]).max() < 1e-7


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_and_hvp_pass_check_gradient(fit_intercept):
    X, y, sw = make_problem()
    obj = SoftmaxObjective(X, y, 4, sw, C=0.7, fit_intercept=fit_intercept, block_size=13)
    w = np.random.default_rng(2).standard_normal(obj.n_params)
    assert check_gradient(obj.loss_grad, w).max_rel_error < 1e-6
    res = check_gradient(obj.loss_grad, w, hessp=lambda x, v: obj.grad_hessp(x)[1](v))
    assert res.max_rel_error < 1e-6
    # Not vacuous: a wrong HVP (missing the penalty term) is caught.
    bad = check_gradient(obj.loss_grad, w, hessp=lambda x, v: obj.grad_hessp(x)[1](v) - 0.05 * v)
    assert bad.max_rel_error > 1e-3


def test_hvp_matches_dense_hessian_from_gradient_differences():
    X, y, sw = make_problem(n=30, d=3, k=3)
    obj = SoftmaxObjective(X, y, 3, sw, C=2.0)
    w = np.random.default_rng(4).standard_normal(obj.n_params)
    _, hessp = obj.grad_hessp(w)
    H = np.column_stack([hessp(e) for e in np.eye(obj.n_params)])
    h = 1e-6
    H_fd = np.column_stack(
        [
            (obj.loss_grad(w + h * e)[1] - obj.loss_grad(w - h * e)[1]) / (2 * h)
            for e in np.eye(obj.n_params)
        ]
    )
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    np.testing.assert_allclose(H, H_fd, atol=1e-7)


def test_sparse_matches_dense():
    X, y, sw = make_problem()
    X[np.abs(X) < 0.8] = 0.0
    dense = SoftmaxObjective(X, y, 4, sw, C=1.0)
    sparse = SoftmaxObjective(sp.csr_matrix(X), y, 4, sw, C=1.0, block_size=11)
    w = np.random.default_rng(5).standard_normal(dense.n_params)
    f1, g1 = dense.loss_grad(w)
    f2, g2 = sparse.loss_grad(w)
    assert f1 == pytest.approx(f2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dense.grad_hessp(w)[1](w), sparse.grad_hessp(w)[1](w), rtol=1e-10)


def test_float32_stays_float32_and_agrees_with_float64():
    X, y, sw = make_problem()
    obj64 = SoftmaxObjective(X, y, 4, sw)
    obj32 = SoftmaxObjective(X.astype(np.float32), y, 4, sw)
    w = np.random.default_rng(6).standard_normal(obj64.n_params)
    f32, g32 = obj32.loss_grad(w.astype(np.float32))
    assert g32.dtype == np.float32
    assert obj32.grad_hessp(w)[1](w).dtype == np.float32
    f64, g64 = obj64.loss_grad(w)
    assert f32 == pytest.approx(f64, rel=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5)


def test_subsets_average_to_the_full_objective():
    X, y, _ = make_problem(n=60)
    obj = SoftmaxObjective(X, y, 4, None, C=0.2)
    w = np.random.default_rng(7).standard_normal(obj.n_params)
    parts = [obj.subset(slice(i, i + 15)).loss_grad(w) for i in range(0, 60, 15)]
    assert np.mean([f for f, _ in parts]) == pytest.approx(obj.loss(w), rel=1e-12)
    np.testing.assert_allclose(np.mean([g for _, g in parts], axis=0), obj.loss_grad(w)[1])
    rows = np.array([3, 1, 4, 15, 9])
    sub = obj.subset(rows)
    assert sub.loss(w) == pytest.approx(
        reference_loss(X[rows], y[rows], None, w, 4, 0.2 * 60 / 5), rel=1e-12
    )


def test_l1_part_and_prox():
    X, y, _ = make_problem()
    obj = SoftmaxObjective(X, y, 4, None, C=0.5, l1_ratio=0.25)
    assert obj.l1_strength == pytest.approx(0.25 / (0.5 * 60))
    assert obj.l2_strength == pytest.approx(0.75 / (0.5 * 60))
    w = np.linspace(-1, 1, obj.n_params)
    coef, intercept = obj.unravel(w)
    assert obj.l1_penalty(w) == pytest.approx(obj.l1_strength * np.abs(coef).sum())
    out = obj.prox_l1(w, step=10.0)
    t = 10.0 * obj.l1_strength
    out_coef, out_intercept = obj.unravel(out)
    np.testing.assert_allclose(out_coef, np.sign(coef) * np.maximum(np.abs(coef) - t, 0))
    np.testing.assert_array_equal(out_intercept, intercept)  # intercept is not penalised


@given(
    shift=st.floats(-1e4, 1e4),
    scale=st.sampled_from([1.0, 1e2, 1e4]),
    seed=st.integers(0, 2**16),
)
def test_intercept_shift_invariance_and_zero_sum_gradient(shift, scale, seed):
    # Adding the same constant to every class's logit leaves softmax unchanged, so the data
    # term is invariant and the intercept gradient sums to zero; large logits stay finite.
    X, y, sw = make_problem(n=20, d=3, k=3, seed=seed % 7)
    obj = SoftmaxObjective(X, y, 3, sw, C=np.inf)
    w = np.random.default_rng(seed).standard_normal(obj.n_params) * scale
    f, g = obj.loss_grad(w)
    assert np.isfinite(f)
    assert np.all(np.isfinite(g))
    assert abs(obj.unravel(g)[1].sum()) <= 1e-9 * max(1.0, np.abs(g).max())
    w2 = w.copy()
    w2[-3:] += shift
    assert obj.loss(w2) == pytest.approx(f, rel=1e-9, abs=1e-9 * (scale + abs(shift)))


@pytest.mark.parametrize("sparse", [False, True])
def test_with_C_is_the_objective_at_that_C_and_shares_what_does_not_depend_on_it(sparse):
    X, y, sw = make_problem(n=80, d=6, k=3)
    X = sp.csr_matrix(X) if sparse else X
    base = SoftmaxObjective(X, y, 3, sw, C=1.0, l1_ratio=0.25)
    other = base.with_C(0.05)
    fresh = SoftmaxObjective(X, y, 3, sw, C=0.05, l1_ratio=0.25)
    w = np.random.default_rng(1).standard_normal(base.n_params)
    assert other.C == 0.05
    assert base.C == 1.0
    assert other.l2_strength == fresh.l2_strength
    assert other.l1_strength == fresh.l1_strength
    f, g, hessp = other.loss_grad_hessp(w)
    f_ref, g_ref, hessp_ref = fresh.loss_grad_hessp(w)
    assert f == f_ref
    np.testing.assert_array_equal(g, g_ref)
    np.testing.assert_array_equal(hessp(w), hessp_ref(w))
    assert other.l1_penalty(w) == fresh.l1_penalty(w)
    # The preconditioner's feature basis, once computed at one C, serves every other C.
    assert base.feature_basis is None
    hessp.preconditioner()
    assert base.feature_basis is other.feature_basis is not None
    given_basis = SoftmaxObjective(X, y, 3, sw, feature_basis=base.feature_basis)
    assert given_basis.feature_basis is base.feature_basis
    with pytest.raises(ValueError, match="C must be > 0, got -1"):
        base.with_C(-1.0)

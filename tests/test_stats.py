"""Inference against statsmodels' MNLogit, and loud failures for unidentified models."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

import stats_cases
from softreg import MLPClassifier, SoftmaxRegression
from softreg.stats import SingularHessianError, summary
from stats_cases import rel_error, softmax_data

sm = pytest.importorskip("statsmodels.api")
fitted = stats_cases.fitted  # module-scoped: X, y, an unpenalised model and its MNLogit


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_unpenalised_fit_equals_statsmodels_mnlogit(fitted, cov_type):
    X, y, model, mnlogit = fitted
    ref = mnlogit.fit(method="newton", tol=1e-12, maxiter=100, disp=0, cov_type=cov_type)
    result = summary(model, X, y, cov_type=cov_type)
    # statsmodels: params of shape (n_terms, n_classes - 1), constant first, class 0 baseline.
    assert rel_error(result.params, ref.params.T) < 1e-6
    assert rel_error(result.bse, ref.bse.T) < 1e-6
    assert rel_error(result.pvalues, ref.pvalues.T) < 1e-6
    assert rel_error(result.zvalues, ref.tvalues.T) < 1e-6
    assert result.llf == pytest.approx(ref.llf, rel=1e-10)
    assert result.llnull == pytest.approx(ref.llnull, rel=1e-8)
    assert result.prsquared == pytest.approx(ref.prsquared, rel=1e-8)
    assert result.llr_pvalue == pytest.approx(ref.llr_pvalue, rel=1e-6)
    assert result.aic == pytest.approx(ref.aic, rel=1e-10)
    assert result.bic == pytest.approx(ref.bic, rel=1e-10)
    assert result.df_model == ref.df_model
    ci, ref_ci = result.conf_int(0.1), np.asarray(ref.conf_int(alpha=0.1))
    np.testing.assert_allclose(ci, ref_ci, rtol=1e-6)
    np.testing.assert_allclose(result.cov_params(), ref.cov_params(), rtol=1e-5, atol=1e-10)


def test_l2_standard_errors_are_the_inverse_penalised_hessian():
    X, y = softmax_data(seed=1, n=200)
    C = 0.05
    model = SoftmaxRegression(C=C, tol=1e-12).fit(X, y)
    result = summary(model, X, y, parametrization="symmetric")
    # Penalised posterior precision by finite differences of the summed objective's gradient,
    # with the intercepts pinned at class 0 (their common shift is not identified).
    from softreg.objective import SoftmaxObjective

    obj = SoftmaxObjective(X, y, 4, C=C)
    w = np.concatenate([model.coef_.ravel(), model.intercept_])
    keep = [i for i in range(len(w)) if i != 12]  # intercept of class 0
    H = np.empty((len(w), len(w)))
    for i in range(len(w)):
        e = np.zeros(len(w))
        e[i] = 1e-6
        H[:, i] = len(y) * (obj.loss_grad(w + e)[1] - obj.loss_grad(w - e)[1]) / 2e-6
    cov = np.zeros_like(H)
    cov[np.ix_(keep, keep)] = np.linalg.inv(H[np.ix_(keep, keep)])
    coef_se = np.sqrt(np.diag(cov)[:12]).reshape(4, 3)
    np.testing.assert_allclose(result.bse[:, 1:], coef_se, rtol=1e-5)
    # A vanishing penalty approaches the unpenalised (MNLogit) standard errors.
    big = SoftmaxRegression(C=1e9, tol=1e-12).fit(X, y)
    flat = SoftmaxRegression(C=np.inf, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(summary(big, X, y).bse, summary(flat, X, y).bse, rtol=1e-5)


def test_collinear_and_empty_features_raise_naming_them():
    X, y = softmax_data(seed=3, n=200, d=2, k=3)
    dup = np.hstack([X, 2 * X[:, :1]])
    model = SoftmaxRegression(C=np.inf, tol=1e-10).fit(dup, y)
    with pytest.raises(SingularHessianError, match=r"x2 .*x0"):
        summary(model, dup, y)
    zero = np.hstack([X, np.zeros((200, 1))])
    model = SoftmaxRegression(C=np.inf, tol=1e-10).fit(zero, y)
    with pytest.raises(SingularHessianError, match="terms x2"):
        summary(model, zero, y)
    # With a penalty both are identified (the prior pins them): no error.
    assert np.all(np.isfinite(summary(SoftmaxRegression().fit(dup, y), dup, y).bse))


def test_refusals_are_specific():
    X, y = softmax_data(seed=4, n=100, d=2, k=3)
    with pytest.raises(TypeError, match="SoftmaxRegression"):
        summary(MLPClassifier((), max_epochs=2, n_iter_no_change=1, tol=1e9).fit(X, y), X, y)
    lasso = SoftmaxRegression(l1_ratio=1.0).fit(X, y)
    with pytest.raises(ValueError, match="penalty"):
        summary(lasso, X, y)
    model = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match="reference"):
        summary(model, X, y, reference=7)
    with pytest.raises(ValueError, match="cov_type"):
        summary(model, X, y, cov_type="HC3")
    with pytest.raises(ValueError, match="alpha"):
        summary(model, X, y, alpha=1.5)
    huge = sp.random(50, 5000, density=0.001, format="csr", random_state=0)
    labels = np.arange(50) % 4
    wide = SoftmaxRegression(solver="lbfgs", max_iter=2, tol=1.0).fit(huge, labels)
    with pytest.raises(ValueError, match=r"max_params=16384"):
        summary(wide, huge, labels)


def test_an_unconverged_fit_warns():
    X, y = softmax_data(seed=5, n=300)
    model = SoftmaxRegression(C=np.inf, max_iter=1, tol=1.0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="standard errors"):
        summary(model, X, y)


def test_sparse_and_integer_scaled_input_give_the_dense_result():
    X, y = softmax_data(seed=6, n=200, d=3, k=3)
    dense = summary(SoftmaxRegression(tol=1e-12).fit(X, y), X, y)
    sparse = summary(SoftmaxRegression(tol=1e-12).fit(sp.csr_matrix(X), y), sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.bse, dense.bse, rtol=1e-6)
    pixels = np.random.default_rng(0).integers(0, 256, size=(300, 4), dtype=np.uint8)
    labels = (pixels[:, 0] > 128).astype(int) + (pixels[:, 1] > 100)
    raw = SoftmaxRegression(input_scale=1 / 255, tol=1e-5).fit(pixels, labels)
    scaled_X = pixels.astype(np.float32) / np.float32(255)
    scaled = SoftmaxRegression(tol=1e-5).fit(scaled_X, labels)
    np.testing.assert_allclose(
        summary(raw, pixels, labels).bse, summary(scaled, scaled_X, labels).bse, rtol=1e-4
    )


def test_exports_the_same_names_as_before_the_split():
    from softreg import stats

    assert stats.__all__ == [
        "MAX_PARAMS",
        "SeparationWarning",
        "SingularHessianError",
        "Summary",
        "WaldTest",
        "summary",
    ]
    assert stats.MAX_PARAMS == 16_384
    assert stats.SEPARATED == 1e-10  # not in __all__, but importable from softreg.stats
    assert issubclass(stats.SeparationWarning, UserWarning)
    assert issubclass(stats.SingularHessianError, ValueError)

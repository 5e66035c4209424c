"""Inference against statsmodels' MNLogit, and loud failures for unidentified models."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from softreg import MLPClassifier, SoftmaxRegression
from softreg.stats import SeparationWarning, SingularHessianError, summary

sm = pytest.importorskip("statsmodels.api")


def _data(seed=0, n=500, d=3, k=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(scale=0.5, size=(k, d))
    logits = X @ W.T
    proba = np.exp(logits - logits.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    y = np.array([rng.choice(k, p=p) for p in proba])
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    model = SoftmaxRegression(C=np.inf, tol=1e-12, max_iter=200).fit(X, y)
    mnlogit = sm.MNLogit(y, sm.add_constant(X))
    return X, y, model, mnlogit


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b))))


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_unpenalised_fit_equals_statsmodels_mnlogit(fitted, cov_type):
    X, y, model, mnlogit = fitted
    ref = mnlogit.fit(method="newton", tol=1e-12, maxiter=100, disp=0, cov_type=cov_type)
    result = summary(model, X, y, cov_type=cov_type)
    # statsmodels: params of shape (n_terms, n_classes - 1), constant first, class 0 baseline.
    assert _rel(result.params, ref.params.T) < 1e-6
    assert _rel(result.bse, ref.bse.T) < 1e-6
    assert _rel(result.pvalues, ref.pvalues.T) < 1e-6
    assert _rel(result.zvalues, ref.tvalues.T) < 1e-6
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


def test_any_reference_class_equals_statsmodels_on_relabelled_data(fitted):
    X, y, model, _ = fitted
    result = summary(model, X, y, reference=2)
    assert result.equations == [0, 1, 3]
    relabelled = np.select([y == 2, y < 2], [0, y + 1], y)  # class 2 first, order kept
    ref = sm.MNLogit(relabelled, sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
    assert _rel(result.params, ref.params.T) < 1e-6
    assert _rel(result.bse, ref.bse.T) < 1e-6


def test_wald_test_of_a_feature_is_the_same_in_every_parametrisation(fitted):
    X, y, model, mnlogit = fitted
    ref = mnlogit.fit(method="newton", tol=1e-12, disp=0)
    base = summary(model, X, y)
    # statsmodels: the three equations' coefficients of x1 (column 2 of add_constant) are zero.
    names = ref.model.exog_names
    n_terms = len(names)
    R = np.zeros((3, 3 * n_terms))
    for eq in range(3):
        R[eq, eq * n_terms + 2] = 1
    b = R @ ref.params.T.ravel()
    expected = b @ np.linalg.solve(R @ ref.cov_params() @ R.T, b)
    for result in (base, summary(model, X, y, reference=3, parametrization="symmetric")):
        test = result.wald_test("x1")
        assert test.statistic == pytest.approx(expected, rel=1e-6)
        assert test.df == 3
    assert base.wald_test(2) == base.wald_test("x1")


def test_symmetric_parametrisation_is_the_centred_model(fitted):
    X, y, model, _ = fitted
    sym = summary(model, X, y, parametrization="symmetric")
    base = summary(model, X, y)
    np.testing.assert_allclose(sym.params.sum(axis=0), 0, atol=1e-10)
    # Differences of symmetric parameters are the baseline ones, with the same variance.
    np.testing.assert_allclose(sym.params[1:] - sym.params[0], base.params, atol=1e-10)
    cov = sym.cov_params().reshape(4, 4, 4, 4)
    for a in range(1, 4):
        var = cov[a, :, a, :] + cov[0, :, 0, :] - cov[a, :, 0, :] - cov[0, :, a, :]
        np.testing.assert_allclose(np.sqrt(np.diag(var)), base.bse[a - 1], rtol=1e-8)


def test_l2_standard_errors_are_the_inverse_penalised_hessian():
    X, y = _data(seed=1, n=200)
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


def test_string_labels_feature_names_and_outputs():
    pd = pytest.importorskip("pandas")
    X, y = _data(seed=2, n=300, d=2, k=3)
    frame = pd.DataFrame(X, columns=["age", "dose"])
    labels = np.array(["a", "b", "c"])[y]
    model = SoftmaxRegression(C=np.inf, tol=1e-12).fit(frame, labels)
    result = summary(model, frame, labels, reference="b", alpha=0.1)
    assert result.terms == ["intercept", "age", "dose"]
    assert result.equations == ["a", "c"]
    table = result.to_frame()
    assert list(table.index[0]) == ["a", "intercept"]
    assert list(table.columns) == ["coef", "std err", "z", "P>|z|", "[0.05", "0.95]"]
    np.testing.assert_allclose(table["std err"].to_numpy(), result.bse.ravel())
    text = str(result)
    assert "class=c" in text
    assert f"{result.llf:.6g}" in text
    assert "baseline (ref 'b')" in text


def test_separated_classes_warn_naming_them():
    X, y = load_iris(return_X_y=True)
    model = SoftmaxRegression(C=np.inf, tol=1e-10).fit(X, y)
    # Setosa is linearly separable: a warning names it, and the diverging direction leaves the
    # Hessian numerically singular, which raises naming the parameters of that direction. (How
    # many of its 50 rows pass 1 - 1e-10 depends on how far along the diverging ray the fit
    # stopped, i.e. on the solver's path: 50 with K-FAC alone, 46 with its exact block.)
    with (
        pytest.warns(SeparationWarning, match=r"class 0: (4\d|50) of 50"),
        pytest.raises(SingularHessianError, match=r"numerically singular.*class 1 / x0"),
    ):
        summary(model, X, y)


def test_collinear_and_empty_features_raise_naming_them():
    X, y = _data(seed=3, n=200, d=2, k=3)
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
    X, y = _data(seed=4, n=100, d=2, k=3)
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
    X, y = _data(seed=5, n=300)
    model = SoftmaxRegression(C=np.inf, max_iter=1, tol=1.0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="standard errors"):
        summary(model, X, y)


def test_sparse_and_integer_scaled_input_give_the_dense_result():
    X, y = _data(seed=6, n=200, d=3, k=3)
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

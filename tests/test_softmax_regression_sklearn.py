"""``SoftmaxRegression`` as a drop-in for ``LogisticRegression``: the two-class rule for each
penalty, the centred coefficients, warm starts that continue a fit, ``sparsify``/``densify``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import scale

from softreg import SoftmaxRegression
from softreg.objective import SoftmaxObjective


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(
        n_samples=120, n_features=6, n_informative=4, flip_y=0.1, random_state=0
    )
    return scale(X), y


def _binary_weights(model):
    """softreg's two-class model as binary logistic regression: ``(w, c)``."""
    return model.coef_[1] - model.coef_[0], model.intercept_[1] - model.intercept_[0]


def test_two_class_rule_l2_is_c_doubled(binary):
    X, y = binary
    ours = SoftmaxRegression(C=0.3, tol=1e-10).fit(X, y)
    ref = LogisticRegression(C=0.6, tol=1e-10, max_iter=10000).fit(X, y)
    w, c = _binary_weights(ours)
    assert_allclose(w, ref.coef_[0], rtol=1e-6, atol=1e-8)
    assert_allclose(c, ref.intercept_[0], rtol=1e-6, atol=1e-8)
    assert_allclose(ours.decision_function(X), ref.decision_function(X), rtol=1e-6, atol=1e-8)


def test_two_class_rule_l1_is_c_itself(binary):
    X, y = binary
    ours = SoftmaxRegression(C=0.2, l1_ratio=1.0, tol=1e-8, max_iter=100000).fit(X, y)
    ref = LogisticRegression(C=0.2, l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=100000)
    ref.fit(X, y)
    w, c = _binary_weights(ours)
    assert np.count_nonzero(ref.coef_ == 0) >= 1  # the L1 term is active
    assert_allclose(w, ref.coef_[0], atol=1e-6)
    assert_allclose(c, ref.intercept_[0], atol=1e-6)
    # ... and not C' = 2C, the L2 rule.
    wrong = LogisticRegression(C=0.4, l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=100000)
    assert np.abs(wrong.fit(X, y).coef_[0] - w).max() > 1e-2


@pytest.mark.parametrize("r", [0.25, 0.5, 0.8])
def test_two_class_rule_elastic_net(binary, r):
    # Two rows w0 = -w/2, w1 = w/2: (1 - r)(|w0|^2 + |w1|^2) / 2 = (1 - r)|w|^2 / 4 and
    # r(|w0|_1 + |w1|_1) = r|w|_1, so 1/C' = (1 + r) / (2C), l1_ratio' = r C' / C.
    X, y = binary
    C = 0.2
    ours = SoftmaxRegression(C=C, l1_ratio=r, tol=1e-8, max_iter=100000).fit(X, y)
    ref = LogisticRegression(
        C=2 * C / (1 + r), l1_ratio=2 * r / (1 + r), solver="saga", tol=1e-12, max_iter=100000
    ).fit(X, y)
    w, c = _binary_weights(ours)
    assert_allclose(w, ref.coef_[0], atol=1e-6)
    assert_allclose(c, ref.intercept_[0], atol=1e-6)
    assert_allclose(ours.coef_[0], -ours.coef_[1], atol=1e-12)  # the centred split


@pytest.mark.parametrize("solver", ["newton-cg", "lbfgs"])
@pytest.mark.parametrize("init", ["zeros", "xavier"])
def test_unpenalised_coef_is_sklearns_zero_sum_representative(solver, init):
    X, y = load_iris(return_X_y=True)
    X = scale(X)[::2]
    y = y[::2]
    X = X + np.random.default_rng(0).normal(scale=0.8, size=X.shape)  # not separable
    ours = SoftmaxRegression(C=np.inf, solver=solver, init=init, random_state=0, tol=1e-9)
    ours.fit(X, y)
    assert np.abs(ours.coef_.sum(axis=0)).max() <= 1e-12 * np.abs(ours.coef_).max()
    ref = LogisticRegression(C=np.inf, solver="newton-cg", tol=1e-10, max_iter=1000).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-5, atol=1e-6)


def test_centring_keeps_the_l2_objective_optimal():
    # L2: centring keeps the loss and can only lower the penalty.
    X, y = load_iris(return_X_y=True)
    clf = SoftmaxRegression(C=150.0, tol=1e-8).fit(scale(X), y)
    assert np.abs(clf.coef_.sum(axis=0)).max() < 1e-13
    obj = SoftmaxObjective(scale(X), y, 3, C=150.0)
    w = np.concatenate([clf.coef_.ravel(), clf.intercept_])
    _, g = obj.loss_grad(w)
    assert np.abs(g).max() <= 1e-8


def _fit_k_ways(params, X, y, k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        once = SoftmaxRegression(**params, max_iter=k).fit(X, y)
        steps = SoftmaxRegression(**params, max_iter=1, warm_start=True)
        for _ in range(k):
            steps.fit(X, y)
    return once, steps


@pytest.mark.parametrize("C", [1.0, np.inf])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(
    "solver_params",
    [
        {"solver": "newton-cg"},
        {"solver": "sgd", "momentum": 0.9, "learning_rate": 0.05, "random_state": 0},
        {"solver": "adam", "learning_rate": 0.05, "random_state": 0},
    ],
    ids=["newton-cg", "sgd", "adam"],
)
def test_warm_started_single_iterations_continue_one_fit(C, fit_intercept, solver_params):
    X, y = load_iris(return_X_y=True)
    params = dict(solver_params, C=C, fit_intercept=fit_intercept, tol=0.0)
    once, steps = _fit_k_ways(params, X, y, 4)
    assert steps.n_iter_.tolist() == [1]
    assert_allclose(steps.coef_, once.coef_, rtol=1e-10, atol=1e-12)
    assert_allclose(steps.intercept_, once.intercept_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "fista"])
def test_warm_start_from_the_optimum_stays_there(solver):
    # lbfgs/fista restart their memory/momentum, as scikit-learn's solvers do, but start
    # from the previous parameters: from the optimum, one more iteration stays at it.
    X, y = load_iris(return_X_y=True)
    X = scale(X)
    clf = SoftmaxRegression(solver=solver, warm_start=True, tol=1e-9, max_iter=10000).fit(X, y)
    coef = clf.coef_.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.set_params(max_iter=1).fit(X, y)
    assert_allclose(clf.coef_, coef, atol=1e-6)
    cold = SoftmaxRegression(solver=solver, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold.fit(X, y)
    assert np.abs(cold.coef_ - coef).max() > 0.1


def test_warm_start_uses_parameters_the_user_set():
    # Edited coef_/intercept_ are the start, not the previous fit's solver state.
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftmaxRegression(warm_start=True, tol=1e-8).fit(X, y)
        clf.coef_[:] = 0
        clf.intercept_[:] = 0
        clf.set_params(max_iter=1).fit(X, y)
        cold = SoftmaxRegression(max_iter=1).fit(X, y)
    assert_allclose(clf.coef_, cold.coef_, rtol=1e-12)


def test_sparsify_and_densify_keep_predictions():
    X, y = load_iris(return_X_y=True)
    X = scale(X)
    clf = SoftmaxRegression(l1_ratio=1.0, C=0.05).fit(X, y)
    dense = clf.decision_function(X)
    assert np.any(clf.coef_ == 0)
    clf.sparsify()
    assert sp.issparse(clf.coef_)
    assert_allclose(clf.decision_function(X), dense)
    assert_allclose(clf.decision_function(sp.csr_matrix(X)), dense)
    clf._validate_state()
    clf.densify()
    assert isinstance(clf.coef_, np.ndarray)
    fresh = SoftmaxRegression(l1_ratio=1.0, C=0.05).fit(X, y)
    assert_allclose(clf.predict_proba(X), fresh.predict_proba(X))

"""scikit-learn 1.9's ``LogisticRegression`` parameters in ``SoftmaxRegression``: same warnings,
same errors, same penalty, checked against scikit-learn itself."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import scale

from softreg import SoftmaxRegression
from softreg._sklearn_params import resolve_penalty, resolve_solver


@pytest.fixture(scope="module")
def iris3():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return scale(X), y


def _outcome(make, X, y):
    """``(error type or None, sorted (category, message) of the non-convergence warnings)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            make().fit(X, y)
            error = None
        except (ValueError, TypeError) as exc:
            error = type(exc)
    seen = sorted(
        {(w.category.__name__, str(w.message)) for w in caught}
        - {
            (w.category.__name__, str(w.message))
            for w in caught
            if w.category is ConvergenceWarning
        }
    )
    return error, seen


PENALTIES = ["deprecated", "l2", "l1", "elasticnet", None]
CS = [1.0, 0.5, np.inf]
L1_RATIOS = [None, 0.0, 0.5, 1.0]


@pytest.mark.parametrize(
    ("penalty", "C", "l1_ratio"), list(itertools.product(PENALTIES, CS, L1_RATIOS))
)
def test_penalty_c_l1_ratio_warn_and_fail_as_sklearn(iris3, penalty, C, l1_ratio):
    # Every combination: the same warnings (texts included) and the same refusals as
    # scikit-learn 1.9, with the solvers handling every penalty (saga / fista).
    X, y = iris3
    X, y = X[::5], y[::5]
    ours = _outcome(
        lambda: SoftmaxRegression(
            penalty=penalty, C=C, l1_ratio=l1_ratio, solver="fista", max_iter=5
        ),
        X,
        y,
    )
    ref = _outcome(
        lambda: LogisticRegression(
            penalty=penalty, C=C, l1_ratio=l1_ratio, solver="saga", max_iter=5
        ),
        X,
        y,
    )
    if (penalty, C, l1_ratio) == ("deprecated", np.inf, None):
        # scikit-learn 1.9.1 passes l1_ratio=None on to its solver and fails with a TypeError
        # (a bug: it warns that None means 0); softreg fits the unpenalised model.
        assert ref[0] is TypeError
        assert ours == (None, ref[1])
        return
    assert ours == ref


@pytest.mark.parametrize(
    ("l1_ratio", "C", "expected"),
    [
        (0.0, 1.0, ("l2", 1.0, 0.0)),
        (1.0, 2.0, ("l1", 2.0, 1.0)),
        (0.3, 2.0, ("elasticnet", 2.0, 0.3)),
        (1.0, np.inf, (None, np.inf, 0.0)),
        (0.0, np.inf, (None, np.inf, 0.0)),
    ],
)
def test_l1_ratio_alone_chooses_the_penalty(l1_ratio, C, expected):
    assert resolve_penalty("deprecated", C, l1_ratio) == expected


def test_l1_ratio_one_fits_the_l1_model_of_sklearn(iris3):
    # The silent bug: LogisticRegression(l1_ratio=1) code got an L2 model.
    X, y = iris3
    ours = SoftmaxRegression(l1_ratio=1, C=0.1, tol=1e-8, max_iter=100000).fit(X, y)
    ref = LogisticRegression(l1_ratio=1, C=0.1, solver="saga", tol=1e-12, max_iter=100000)
    ref.fit(X, y)
    assert np.count_nonzero(ours.coef_ == 0) >= 2
    assert_allclose(ours.coef_, ref.coef_, atol=2e-5)
    l2 = SoftmaxRegression(l1_ratio=0, C=0.1).fit(X, y)
    assert np.abs(l2.coef_ - ours.coef_).max() > 0.1


def test_grid_search_over_l1_ratio_changes_the_model(iris3):
    X, y = iris3
    grid = GridSearchCV(
        SoftmaxRegression(C=0.05, tol=1e-8, max_iter=10000),
        {"l1_ratio": [0.0, 1.0]},
        cv=3,
    ).fit(X, y)
    scores = grid.cv_results_["mean_test_score"]
    assert scores[0] != scores[1]


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "sgd", "adam"])
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_l2_only_solvers_refuse_an_l1_term(iris3, solver, l1_ratio):
    X, y = iris3
    name = "l1" if l1_ratio == 1 else "elasticnet"
    with pytest.raises(ValueError, match=f"Solver {solver} supports only 'l2' or None.*got {name}"):
        SoftmaxRegression(solver=solver, l1_ratio=l1_ratio).fit(X, y)
    # ... but not without a penalty, as scikit-learn: C=inf makes l1_ratio irrelevant.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # "l1_ratio parameter is only used ..."
        SoftmaxRegression(solver=solver, l1_ratio=l1_ratio, C=np.inf, max_iter=2).fit(X, y)


@pytest.mark.parametrize(
    ("solver", "equivalent"),
    [
        ("liblinear", "newton-cg"),
        ("newton-cholesky", "newton-cg"),
        ("sag", "lbfgs"),
        ("saga", "fista"),
    ],
)
def test_sklearn_only_solvers_are_refused_naming_the_equivalent(iris3, solver, equivalent):
    X, y = iris3
    with pytest.raises(ValueError, match=f"solver={solver!r}.*solver={equivalent!r}"):
        SoftmaxRegression(solver=solver).fit(X, y)
    assert resolve_solver(solver, "l2", False, {solver: equivalent}) == equivalent


@pytest.mark.parametrize("solver", ["auto", "lbfgs", "newton-cg", "fista", "sgd", "adam"])
def test_dual_true_is_refused_as_sklearn_does(iris3, solver):
    X, y = iris3
    with pytest.raises(
        ValueError, match=f"Solver {solver} supports only dual=False, got dual=True"
    ):
        SoftmaxRegression(solver=solver, dual=True).fit(X, y)


def test_intercept_scaling_has_no_effect_and_n_jobs_warns(iris3):
    X, y = iris3
    base = SoftmaxRegression().fit(X, y)
    scaled = SoftmaxRegression(intercept_scaling=10.0).fit(X, y)
    assert_allclose(scaled.coef_, base.coef_)
    assert_allclose(scaled.intercept_, base.intercept_)
    with pytest.warns(FutureWarning, match="'n_jobs' has no effect since 1.8"):
        SoftmaxRegression(n_jobs=2).fit(X, y)
    # multi_class left LogisticRegression in scikit-learn 1.7: both refuse it.
    for cls in (SoftmaxRegression, LogisticRegression):
        with pytest.raises(TypeError, match="multi_class"):
            cls(multi_class="multinomial")


def test_parameters_are_sklearns(iris3):
    # Every LogisticRegression parameter, with its default, is a SoftmaxRegression parameter.
    ours = SoftmaxRegression().get_params()
    for name, default in LogisticRegression().get_params().items():
        assert name in ours
        if name not in ("solver", "tol"):  # documented differences (README)
            assert ours[name] == default, name
    assert ours["solver"] == "auto"
    assert ours["tol"] is None


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "fista", "sgd", "adam"])
def test_max_iter_zero_keeps_the_start_and_warns(iris3, solver):
    X, y = iris3
    with pytest.warns(ConvergenceWarning, match=f"{solver} failed to converge"):
        clf = SoftmaxRegression(solver=solver, max_iter=0).fit(X, y)
    assert clf.n_iter_.dtype == np.int32
    assert clf.n_iter_.shape == (1,)
    assert clf.n_iter_[0] == 0
    assert np.all(clf.coef_ == 0)
    assert np.all(clf.intercept_ == 0)
    assert_allclose(clf.predict_proba(X), 1 / 3)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "fista", "sgd", "adam"])
def test_n_iter_is_an_int32_array_of_shape_1(iris3, solver):
    X, y = iris3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftmaxRegression(solver=solver, max_iter=7, tol=0).fit(X, y)
    assert clf.n_iter_.dtype == np.int32
    assert clf.n_iter_.shape == (1,)
    assert clf.n_iter_[0] == len(clf.history_) <= 7
    stream = SoftmaxRegression().partial_fit(X, y, classes=[0, 1, 2]).partial_fit(X, y)
    assert stream.n_iter_.dtype == np.int32
    assert stream.n_iter_.tolist() == [2]


def test_convergence_warning_text_matches_sklearns(iris3):
    X, y = iris3
    for solver in ("lbfgs", "newton-cg"):
        with pytest.warns(ConvergenceWarning, match=f"{solver} failed to converge") as record:
            SoftmaxRegression(solver=solver, max_iter=1, tol=1e-15).fit(X, y)
        assert "Increase the number of iterations" in str(record[0].message)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"penalty": "l2", "l1_ratio": None, "C": 2.0}, {"l1_ratio": 0.0, "C": 2.0}),
        ({"penalty": "l1", "l1_ratio": None, "C": 2.0}, {"l1_ratio": 1.0, "C": 2.0}),
        ({"penalty": "elasticnet", "l1_ratio": 0.3, "C": 2.0}, {"l1_ratio": 0.3, "C": 2.0}),
        ({"penalty": None, "l1_ratio": None, "C": 2.0}, {"l1_ratio": 0.0, "C": np.inf}),
    ],
)
def test_parameters_of_softreg_0_1_are_upgraded_to_the_same_model(iris3, old, new):
    # Model files and checkpoints of softreg 0.1.0 name the penalty the old way.
    upgraded = SoftmaxRegression._upgrade_params(dict(old, solver="fista", tol=1e-8))
    assert upgraded["penalty"] == "deprecated"
    assert {k: upgraded[k] for k in new} == new
    X, y = iris3
    # The same objective, so the same iterates: 30 iterations compare exactly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # penalty=None with C=2: "ignores C"
        warnings.simplefilter("ignore", FutureWarning)  # penalty=...: deprecated
        legacy_semantics = SoftmaxRegression(**dict(old, solver="fista", tol=1e-8, max_iter=30))
        legacy_semantics.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        today = SoftmaxRegression(**dict(upgraded, max_iter=30)).fit(X, y)
    assert_allclose(today.coef_, legacy_semantics.coef_, rtol=1e-12, atol=1e-14)
    assert SoftmaxRegression._upgrade_params(upgraded) == upgraded


def test_partial_fit_refuses_an_l1_term_naming_l1_ratio(iris3):
    X, y = iris3
    with pytest.raises(ValueError, match=r"partial_fit supports only an L2 penalty.*l1_ratio=1"):
        SoftmaxRegression(l1_ratio=1).partial_fit(X, y, classes=[0, 1, 2])
    # Without a penalty l1_ratio is irrelevant, as in fit.
    with pytest.warns(UserWarning, match="l1_ratio parameter is only used"):
        SoftmaxRegression(l1_ratio=0.5, C=np.inf).partial_fit(X, y, classes=[0, 1, 2])

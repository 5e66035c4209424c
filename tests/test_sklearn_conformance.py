"""scikit-learn's own ``LogisticRegression(CV)`` tests, run against ``SoftmaxRegression(CV)``.

The installed scikit-learn's ``sklearn/linear_model/tests/test_logistic.py`` (it ships in the
wheel; ``pyproject.toml`` pins the tested version in the ``dev`` extra) is imported with
``sklearn.linear_model.LogisticRegression`` replaced by :class:`SoftmaxAsLogisticRegression`
and ``LogisticRegressionCV`` by :class:`SoftmaxAsLogisticRegressionCV`, and every one of its
``test_*`` functions is collected here. The adapters are ``SoftmaxRegression`` and
``SoftmaxRegressionCV`` themselves, except that scikit-learn solver names softreg lacks are
mapped to the softreg solver minimising the same objective (``sag`` -> ``lbfgs``, ``saga`` ->
``fista``, ``newton-cholesky`` -> ``newton-cg``) instead of being refused. ``liblinear`` is not
mapped.

Tests in :data:`DESELECTED` are skipped, each with its one-line reason (shown by ``pytest
-ra``): they test scikit-learn internals (liblinear, ``_logistic_regression_path``,
``_log_reg_scoring_path``; the internals of sag, saga and newton-cholesky, which the adapter
replaces), or depend on a difference the README documents (two classes: ``coef_`` has two
rows; array API namespaces other than NumPy; ``SoftmaxRegressionCV``'s defaults and its
attribute layout for ``l1_ratios=None``). Everything else must pass. The
array API tests skip unless ``SCIPY_ARRAY_API=1`` is set (as in scikit-learn); with it, the
NumPy-namespace ones run too.

The tests run under scikit-learn's own warning configuration (see ``_SKLEARN_WARNING_CONFIG``),
not softreg's ``filterwarnings = ["error"]``: the file is written for it.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Collection
from pathlib import Path
from typing import ClassVar
from unittest import mock

import pytest
import sklearn
import sklearn.linear_model
from sklearn.utils._testing import get_pytest_filterwarning_lines

from softreg import SoftmaxRegression, SoftmaxRegressionCV

_SOLVER_ALIASES = {"sag": "lbfgs", "saga": "fista", "newton-cholesky": "newton-cg"}


class SoftmaxAsLogisticRegression(SoftmaxRegression):
    """``SoftmaxRegression``, taking scikit-learn's solver names softreg lacks as aliases."""

    _solver_equivalents: ClassVar[dict[str, str] | None] = _SOLVER_ALIASES


class SoftmaxAsLogisticRegressionCV(SoftmaxRegressionCV):
    """``SoftmaxRegressionCV``, taking scikit-learn's solver names softreg lacks as aliases."""

    _solver_equivalents: ClassVar[dict[str, str] | None] = _SOLVER_ALIASES


def _load_sklearn_tests():
    path = Path(sklearn.__file__).parent / "linear_model" / "tests" / "test_logistic.py"
    spec = importlib.util.spec_from_file_location("_sklearn_test_logistic", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # The file imports both classes from sklearn.linear_model: give it the adapters (also where
    # a class is a parametrize value, fixed when the file is executed).
    with (
        mock.patch.object(sklearn.linear_model, "LogisticRegression", SoftmaxAsLogisticRegression),
        mock.patch.object(
            sklearn.linear_model, "LogisticRegressionCV", SoftmaxAsLogisticRegressionCV
        ),
    ):
        spec.loader.exec_module(module)
    return module


# scikit-learn's strictest warning configuration (its CI's SKLEARN_WARNINGS_AS_ERRORS=1):
# deprecations are errors, other warnings (ConvergenceWarning, UserWarning) are shown. The file
# is written for it; softreg's own `filterwarnings = ["error"]` would fail tests that expect a
# warning-free run only of deprecations (e.g. a callback test fitting lbfgs with max_iter=2).
_SKLEARN_WARNING_CONFIG = [
    pytest.mark.filterwarnings(line).mark
    for line in [
        "default",
        # Shown, not raised, under scikit-learn's configuration; hidden here only to keep the
        # report short: the tests about it set their own filters (pytest.warns, "error").
        "ignore::sklearn.exceptions.ConvergenceWarning",
        *get_pytest_filterwarning_lines(),
    ]
]


def _as_in_sklearn(test):
    """``test`` under scikit-learn's warning configuration (as the lowest-precedence filters,
    so the test's own marks win), generator parametrize values made tuples (pytest 9
    deprecates generators)."""
    marks = list(getattr(test, "pytestmark", []))
    for i, mark in enumerate(marks):
        if mark.name == "parametrize" and not isinstance(mark.args[1], Collection):
            args = (mark.args[0], tuple(mark.args[1]), *mark.args[2:])
            marks[i] = getattr(pytest.mark, mark.name)(*args, **mark.kwargs).mark
    test.pytestmark = _SKLEARN_WARNING_CONFIG + marks
    return test


_sklearn_tests = _load_sklearn_tests()
pytestmark = _sklearn_tests.pytestmark
globals().update(
    {k: _as_in_sklearn(v) for k, v in vars(_sklearn_tests).items() if k.startswith("test_")}
)


@pytest.fixture(params=[42])
def global_random_seed(request):
    """scikit-learn's fixture (its conftest's default seed, 42)."""
    return request.param


_PATH = "_logistic_regression_path: scikit-learn's private fitting function"
_SCORING_PATH = "_log_reg_scoring_path: scikit-learn's private per-fold function"
_CV_DEFAULTS = (
    "SoftmaxRegressionCV's defaults (README): scoring='neg_log_loss' (scikit-learn 1.11's), "
    "l1_ratios=None and use_legacy_attributes=False, without scikit-learn 1.9's FutureWarnings "
    "(and no private _get_scorer)"
)
_CV_SQUEEZED = (
    "l1_ratios=None keeps no l1_ratio axis in scores_ / coefs_paths_ / n_iter_ (README); "
    "scikit-learn 1.9's new layout has one of length 1"
)
_CV_ORDER = (
    "the mock scorer's scores go by call count; the folds advance together along C, so the "
    "calls come C by C, not fold by fold"
)
_CV_TOL = (
    "tol=1e-3: FISTA stops at other points from the path's warm starts than cross_val_score's "
    "cold ones (3e-3 apart); at tol=1e-6 the two agree to 1e-7 (test_cv.py)"
)
_LIBLINEAR = "liblinear: scikit-learn's LIBLINEAR wrapper, which softreg does not have"
_LIBLINEAR_LOOP = "loops over scikit-learn's solvers, liblinear included (not in softreg)"
_SOLVER_INTERNALS = (
    "sag/saga/newton-cholesky internals (their own warning text, 32-bit sparse index limit, "
    "fallback to lbfgs); the adapter runs softreg's lbfgs/fista/newton-cg in their place"
)
_ARRAY_API = (
    "array API dispatch on non-NumPy arrays (torch, cupy, ...): softreg computes with NumPy "
    "(these skip anyway unless SCIPY_ARRAY_API=1)"
)
_TWO_ROWS = "two classes: coef_ has two rows and intercept_ two entries (README differences)"
_TWO_ROWS_C = (
    "two classes: the penalty is on both rows, so C is LogisticRegression's 2C (README) in "
    "OneVsRest's binary models; also calls LinearClassifierMixin's private _predict_proba_lr"
)

#: Pattern (re.fullmatch on the pytest node name) -> the one-line reason it is deselected.
DESELECTED: dict[str, str] = {
    # LogisticRegressionCV
    r"test_logistic_cv_multinomial_score\[.*\]": _SCORING_PATH,
    r"test_logistic_cv_mock_scorer": _CV_ORDER,
    r"test_multinomial_cv_iris\[False\]": _CV_SQUEEZED,
    r"test_LogisticRegressionCV_no_refit\[2-.*\]": _TWO_ROWS,
    r"test_logistic_cv\[.*\]": _LIBLINEAR,
    r"test_scores_attribute_layout_elasticnet": _CV_TOL,
    r"test_logisticregressioncv_warns_with_use_legacy_attributes": _CV_DEFAULTS,
    r"test_lr_scoring_warns|test_get_default_scorer|test_l1_ratio_None_deprecated": _CV_DEFAULTS,
    # _logistic_regression_path
    r"test_consistency_path\[.*\]|test_logistic_regression_path_.*": _PATH,
    # liblinear
    r".*liblinear.*": _LIBLINEAR,
    r"test_check_solver_option\[SoftmaxAsLogisticRegression(CV)?\]": _LIBLINEAR_LOOP,
    r"test_logistic_regression_solvers\[.*\]": _LIBLINEAR_LOOP,
    r"test_logistic_regression_class_weights\[.*\]": _LIBLINEAR_LOOP,
    r"test_logreg_l1\[.*\]": _LIBLINEAR_LOOP,
    r"test_logistic_regression_callback_support_warning": _LIBLINEAR_LOOP,
    # solvers the adapter replaces
    r"test_max_iter\[.*-(sag|saga)-.*\]": _SOLVER_INTERNALS,
    r"test_max_iter\[.*-newton-cholesky-.*-max_iter0\]": _SOLVER_INTERNALS,  # others: skipped
    r"test_large_sparse_matrix\[.*-(sag|saga)\]": _SOLVER_INTERNALS,
    r"test_newton_cholesky_fallback_to_lbfgs": _SOLVER_INTERNALS,
    # array API: the NumPy namespace runs, the others are a documented difference
    r"test_logistic_regression_array_api_\w+\[(?!numpy-).*\]": _ARRAY_API,
    # the documented two-class difference
    r"test_logistic_glmnet\[.*\]": _TWO_ROWS,
    r"test_logreg_intercept_scaling_zero": _TWO_ROWS,
    r"test_elastic_net_versus_sgd\[.*\]": _TWO_ROWS,
    r"test_zero_max_iter\[(newton-cg|newton-cholesky|sag|saga)\]": _TWO_ROWS,
    r"test_logreg_predict_proba_multinomial\[.*\]": _TWO_ROWS_C,
}


@pytest.fixture(autouse=True)
def _deselect(request):
    name = request.node.name
    for pattern, reason in DESELECTED.items():
        if re.fullmatch(pattern, name):
            pytest.skip(f"deselected: {reason}")


def test_every_deselection_names_a_test(request):
    """A pattern that no longer matches (a renamed test in a new scikit-learn) is an error."""
    here = [
        item.name
        for item in request.session.items
        if getattr(getattr(item, "module", None), "__name__", None) == __name__
    ]
    if len(here) < 600:  # a -k selection: not the whole module
        pytest.skip("needs the whole module collected")
    unused = [p for p in DESELECTED if not any(re.fullmatch(p, name) for name in here)]
    assert unused == []

"""scikit-learn 1.9's ``set_callbacks`` on ``SoftmaxRegression``: the task tree scikit-learn's
``LogisticRegression`` lays out, for every softreg solver, and stop requests honoured."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from softreg import SoftmaxRegression

pytest.importorskip("sklearn.callback")


class Recorder:
    """A callback keeping every hook call: (hook, task name, task id, fitted_estimator)."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[tuple[str, str | None, int | None, object]] = []
        self.stop_after = stop_after
        self.ends = 0

    def setup(self, estimator, context):
        self.calls.append(("setup", None, None, None))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", None, None, None))

    def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
        self.calls.append(("begin", context.task_name, context.task_id, fitted_estimator))

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.calls.append(("end", context.task_name, context.task_id, fitted_estimator))
        if "iter" in context.task_name and fitted_estimator is not None:
            self.ends += 1
            return self.stop_after is not None and self.ends >= self.stop_after
        return False

    def hooks(self, name):
        return [c for c in self.calls if c[0] == name]


@pytest.fixture(scope="module")
def data():
    return make_classification(
        n_samples=80,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )


def _fit(params, X, y, callback):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SoftmaxRegression(**params).set_callbacks(callback).fit(X, y)


@pytest.mark.parametrize("max_iter", [0, 2, 1000])
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "fista", "sgd", "adam"])
def test_task_tree_is_sklearns(data, solver, max_iter):
    X, y = data
    rec = Recorder()
    model = _fit({"solver": solver, "max_iter": max_iter, "random_state": 0}, X, y, rec)
    n_iter = int(model.n_iter_[0])
    assert [c[0] for c in rec.calls[:2]] == ["setup", "begin"]
    assert rec.calls[-1][0] == "teardown"
    # One root task, max(n_iter, 1) iteration tasks and a last empty one, as LogisticRegression.
    assert len(rec.hooks("begin")) == len(rec.hooks("end")) == 1 + max(n_iter, 1) + 1
    iter_ends = [c for c in rec.hooks("end") if c[1] == f"{solver}-iter"]
    assert [c[2] for c in iter_ends] == list(range(max(n_iter, 1) + 1))
    assert iter_ends[-1][3] is None  # the empty task


def test_fitted_estimator_is_the_fit_stopped_there(data):
    X, y = data
    rec = Recorder()
    model = _fit({"solver": "newton-cg", "tol": 1e-10}, X, y, rec)
    ends = [c[3] for c in rec.hooks("end") if c[1] == "newton-cg-iter" and c[3] is not None]
    assert len(ends) == model.n_iter_[0] >= 3
    for i, est in enumerate(ends):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            expected = SoftmaxRegression(solver="newton-cg", tol=1e-10, max_iter=i + 1).fit(X, y)
        assert_allclose(est.coef_, expected.coef_)
        assert_allclose(est.intercept_, expected.intercept_)
        assert_allclose(est.predict_proba(X), expected.predict_proba(X))
    assert_allclose(ends[-1].coef_, model.coef_)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "sgd"])
def test_a_callback_can_stop_the_fit(data, solver):
    X, y = data
    model = _fit({"solver": solver, "tol": 1e-12, "max_iter": 50}, X, y, Recorder(stop_after=2))
    assert model.n_iter_.tolist() == [2]


def test_sklearn_and_softreg_lay_out_the_same_tree(data):
    X, y = data
    ours, theirs = Recorder(), Recorder()
    _fit({"solver": "lbfgs", "max_iter": 3}, X, y, ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        LogisticRegression(solver="lbfgs", max_iter=3).set_callbacks(theirs).fit(X, y)
    shape = [(c[0], c[1] and c[1].replace("lbfgs-", ""), c[2]) for c in ours.calls]
    ref = [(c[0], c[1] and c[1].replace("lbfgs-", ""), c[2]) for c in theirs.calls]
    assert shape == ref


def test_set_callbacks_refuses_non_callbacks_and_clears():
    model = SoftmaxRegression()
    with pytest.raises(TypeError, match="FitCallback protocol"):
        model.set_callbacks(object())
    model.set_callbacks(Recorder()).set_callbacks()
    assert not hasattr(model, "_skl_callbacks")
    X, y = make_classification(
        n_samples=30, n_features=3, n_informative=2, n_redundant=0, random_state=0
    )
    assert np.isfinite(model.fit(X, y).coef_).all()

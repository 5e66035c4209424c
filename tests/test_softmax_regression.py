"""SoftmaxRegression against scikit-learn's LogisticRegression, and its own API promises."""

import gzip
import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from softreg import SoftmaxRegression
from softreg.objective import SoftmaxObjective


def assert_same_model(ours, ref, rtol=1e-4):
    """coef_/intercept_ agree to ``rtol`` relative to the largest coefficient."""
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=rtol * scale)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.mark.parametrize("C", [0.5])
def test_matches_sklearn_on_digits(digits, C):
    X, y = digits
    # Ground truth: scikit-learn at tol=1e-10 (its newton-cg: same minimiser as its default
    # lbfgs, reached in a fraction of the time).
    ref = LogisticRegression(C=C, tol=1e-10, max_iter=10000, solver="newton-cg").fit(X, y)
    ours = SoftmaxRegression(C=C, tol=1e-8).fit(X, y)
    assert_same_model(ours, ref)
    assert ours.score(X, y) == pytest.approx(ref.score(X, y), abs=2e-3)


@pytest.mark.realdata
def test_matches_sklearn_on_fashion_mnist_subset(real_fashion_mnist_dir):
    def read(name, offset):
        with gzip.open(real_fashion_mnist_dir / name) as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    X = read("train-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:600] / 255.0
    y = read("train-labels-idx1-ubyte.gz", 8)[:600]
    ref = LogisticRegression(C=0.1, tol=1e-10, max_iter=10000, solver="newton-cg").fit(X, y)
    ours = SoftmaxRegression(C=0.1, tol=1e-8).fit(X, y)
    assert_same_model(ours, ref)


@pytest.mark.parametrize("solver", ["lbfgs", "fista", "newton-cg"])
def test_solvers_agree_through_the_estimator(solver):
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    ref = SoftmaxRegression(solver="newton-cg", tol=1e-10).fit(X, y)
    ours = SoftmaxRegression(solver=solver, tol=1e-8, max_iter=20000).fit(X, y)
    assert_same_model(ours, ref, rtol=1e-5)
    assert ours.history_[-1]["grad_norm"] <= 1e-7


def test_two_classes_is_binary_logistic_regression_with_twice_c():
    X, y = load_iris(return_X_y=True)
    X, y = X[y > 0], y[y > 0]
    ours = SoftmaxRegression(C=0.5, tol=1e-10).fit(X, y)
    ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)
    assert ours.coef_.shape == (2, 4)
    np.testing.assert_allclose(ours.coef_[0], -ours.coef_[1], atol=1e-9)
    np.testing.assert_allclose(ours.coef_[1] - ours.coef_[0], ref.coef_[0], rtol=1e-5)
    assert ours.intercept_[1] - ours.intercept_[0] == pytest.approx(ref.intercept_[0], rel=1e-5)
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), rtol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-7)


def test_string_labels_and_probabilities():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    clf = SoftmaxRegression().fit(X, names)
    assert clf.classes_.dtype.kind == "U"
    assert set(clf.predict(X)) <= set(clf.classes_)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), atol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


def test_float32_stays_float32(digits):
    X, y = digits
    X32 = X.astype(np.float32)
    c32 = SoftmaxRegression(C=1.0).fit(X32, y)
    c64 = SoftmaxRegression(C=1.0).fit(X, y)
    assert c32.coef_.dtype == c32.intercept_.dtype == np.float32
    np.testing.assert_allclose(c32.coef_, c64.coef_, atol=2e-3 * np.abs(c64.coef_).max())
    assert np.mean(c32.predict(X32) == c64.predict(X)) > 0.99


def test_sparse_input_matches_dense(digits):
    X, y = digits
    dense = SoftmaxRegression(tol=1e-8).fit(X, y)
    sparse = SoftmaxRegression(tol=1e-8).fit(sp.csr_matrix(X), y)
    assert_same_model(sparse, dense, rtol=1e-6)


def test_sample_weight_equals_repetition_and_class_weight():
    X, y = load_iris(return_X_y=True)
    sw = np.random.default_rng(0).integers(0, 4, len(y))
    weighted = SoftmaxRegression(tol=1e-10).fit(X, y, sample_weight=sw)
    repeated = SoftmaxRegression(tol=1e-10).fit(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    assert_same_model(weighted, repeated, rtol=1e-7)
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    by_class = SoftmaxRegression(class_weight=cw, tol=1e-10).fit(X, y)
    by_sample = SoftmaxRegression(tol=1e-10).fit(X, y, sample_weight=np.vectorize(cw.get)(y))
    assert_same_model(by_class, by_sample, rtol=1e-7)
    ref = LogisticRegression(class_weight=cw, tol=1e-10, max_iter=10000).fit(X, y)
    assert_same_model(by_class, ref)


def test_l1_matches_sklearn_saga():
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    ours = SoftmaxRegression(l1_ratio=1.0, C=0.1, tol=1e-10, max_iter=100000).fit(X, y)
    ref = LogisticRegression(l1_ratio=1.0, C=0.1, solver="saga", tol=1e-12, max_iter=100000)
    ref.fit(X, y)
    assert np.any(ours.coef_ == 0)
    assert_same_model(ours, ref)


def test_xavier_init_reaches_the_same_optimum():
    X, y = load_iris(return_X_y=True)
    zeros = SoftmaxRegression(tol=1e-10).fit(X, y)
    xavier = SoftmaxRegression(tol=1e-10, init="xavier", random_state=0).fit(X, y)
    assert_same_model(xavier, zeros, rtol=1e-6)


def test_partial_fit_over_chunks_reaches_full_batch_sgd():
    # 3 equal chunks: each chunk's penalty uses the chunk's weight, so C_stream = 3 * C_fit
    # targets the same objective (see partial_fit). Both reach the exact optimum to 2e-2.
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    params = dict(solver="sgd", batch_size=10, learning_rate=lambda t: 0.5 / (1 + t / 100))
    full = SoftmaxRegression(C=0.05, **params, max_iter=150, tol=0.0, random_state=0).fit(X, y)
    streamed = SoftmaxRegression(C=0.15, **params, random_state=1)
    order = np.random.default_rng(0).permutation(len(y))
    for epoch in range(150):
        for chunk in np.array_split(order, 3):
            streamed.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2] if epoch == 0 else None)
    exact = SoftmaxRegression(C=0.05, tol=1e-10).fit(X, y)
    assert full.n_iter_ == 150
    assert streamed.n_iter_ == len(streamed.history_) == 450
    for model in (full, streamed):
        assert_same_model(model, exact, rtol=2e-2)
    assert_same_model(streamed, full, rtol=2e-2)


def test_callback_and_history():
    X, y = load_iris(return_X_y=True)
    scores = []

    def callback(model, record):
        scores.append(model.score(X, y))
        return record["iteration"] == 2

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = SoftmaxRegression(tol=1e-12).fit(X, y, callback=callback)
    assert len(scores) == 2
    assert clf.n_iter_ == 2
    assert [row["iteration"] for row in clf.history_] == [1, 2]
    assert all(isinstance(row["loss"], float) for row in clf.history_)
    full = SoftmaxRegression(tol=1e-8).fit(X, y)
    losses = [row["loss"] for row in full.history_]
    # Non-increasing, up to the round-off newton-cg's line search accepts near the optimum
    # (a step may raise f by at most 16 eps |f| if it shrinks the gradient).
    eps = np.finfo(np.float64).eps
    assert all(b <= a + 16 * eps * abs(a) for a, b in itertools.pairwise(losses))
    obj = SoftmaxObjective(X, y, 3, C=1.0)
    w = np.concatenate([full.coef_.ravel(), full.intercept_])
    assert losses[-1] == pytest.approx(obj.loss(w), rel=1e-12)


def test_warm_start_and_non_convergence_warning():
    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        SoftmaxRegression(solver="lbfgs", max_iter=1).fit(X, y)
    clf = SoftmaxRegression(warm_start=True, tol=1e-8).fit(X, y)
    clf.fit(X, y)
    assert clf.n_iter_ <= 1


def test_default_tol_reaches_a_tight_optimum(digits):
    X, y = digits
    clf = SoftmaxRegression().fit(X, y)
    ref = LogisticRegression(solver="newton-cg").fit(X, y)
    obj = SoftmaxObjective(X, y, 10, C=1.0)

    def objective(m):
        return obj.loss(np.concatenate([m.coef_.ravel(), m.intercept_]))

    assert objective(clf) <= objective(ref) * (1 + 1e-6)


BAD_INPUTS = [
    ({"C": -1.0}, None, "The 'C' parameter"),
    ({"solver": "sgd-ish"}, None, "The 'solver' parameter"),
    ({"solver": "saga"}, None, "solver='saga' is one of scikit-learn's solvers .*solver='fista'"),
    ({"solver": "newton-cholesky"}, None, "softreg does not implement; solver='newton-cg'"),
    ({"max_iter": -1}, None, "The 'max_iter' parameter"),
    ({"l1_ratio": 1, "solver": "lbfgs"}, None, "Solver lbfgs supports only 'l2' or None"),
    ({"l1_ratio": 0.5, "solver": "sgd"}, None, "got elasticnet penalty"),
    ({"dual": True}, None, "Solver auto supports only dual=False, got dual=True"),
    ({"intercept_scaling": 0}, None, "The 'intercept_scaling' parameter"),
    ({}, "nan", "Input X contains NaN"),
    ({}, "one_class", "only one class"),
    ({}, "empty", "0 sample"),
    ({}, "y_length", "inconsistent numbers of samples"),
    ({}, "indicator", "multi-label indicator matrix .* MLPClassifier"),
    ({}, "negative_weight", "Negative values in data passed to `sample_weight`"),
    ({}, "continuous", "Unknown label type"),
]


@pytest.mark.parametrize(("params", "case", "message"), BAD_INPUTS)
def test_bad_input_raises_specific_errors(params, case, message):
    X, y = load_iris(return_X_y=True)
    sw = None
    if case == "nan":
        X = X.copy()
        X[3, 1] = np.nan
    elif case == "one_class":
        y = np.zeros_like(y)
    elif case == "empty":
        X, y = X[:0], y[:0]
    elif case == "y_length":
        y = y[:-1]
    elif case == "indicator":
        y = np.eye(3, dtype=int)[y]
    elif case == "negative_weight":
        sw = np.ones(len(y))
        sw[0] = -1
    elif case == "continuous":
        y = y + 0.5
    with pytest.raises(ValueError, match=message):
        SoftmaxRegression(**params).fit(X, y, sample_weight=sw)


def test_bad_input_at_predict_and_partial_fit():
    X, y = load_iris(return_X_y=True)
    clf = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but SoftmaxRegression is expecting 4"):
        clf.predict(X[:, :3])
    stream = SoftmaxRegression()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        stream.partial_fit(X, y)
    stream.partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match=r"labels \[2\] not in classes_"):
        stream.partial_fit(X, y)


def test_validate_state():
    X, y = load_iris(return_X_y=True)
    clf = SoftmaxRegression().fit(X, y)
    clf._validate_state()
    clf.coef_ = clf.coef_[:, :2]
    with pytest.raises(ValueError, match="coef_ must have shape"):
        clf._validate_state()
    clf = SoftmaxRegression().fit(X, y)
    clf.intercept_ = clf.intercept_.astype(np.float32)
    with pytest.raises(ValueError, match="share a float32/float64 dtype"):
        clf._validate_state()
    clf = SoftmaxRegression().fit(X, y)
    clf.coef_[0, 0] = np.inf
    with pytest.raises(ValueError, match="finite"):
        clf._validate_state()

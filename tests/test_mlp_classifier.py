"""`softreg.MLPClassifier`: scikit-learn conformance, references, multi-label, bad input, state."""

from __future__ import annotations

import gzip
import itertools
import json
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_blobs
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import softreg
from softreg import MLPClassifier
from softreg.mlp import FASHION_MNIST_DEFAULTS

# Short fits that stop at max_epochs warn by design; tests that check the warning use pytest.warns.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# The network runs in float32 (documented), and OpenBLAS's sgemm rounds a row differently by its
# position in the kernel's row tile on some CPUs (AVX-512 kernels here): outputs then move by ~2
# float32 ULPs (2.4e-7) when rows are reordered or subset, against scikit-learn's float64
# tolerance rtol=1e-7. The same invariances are tested below at a float32 tolerance.
_FLOAT32_TOLERANCE_CHECKS = {
    "check_methods_sample_order_invariance": "float32 network: sgemm rounding depends on the "
    "row's place in the kernel tile (~2 ULP); tested at float32 tolerance below",
    "check_methods_subset_invariance": "float32 network: sgemm rounding depends on the row's "
    "place in the kernel tile (~2 ULP); tested at float32 tolerance below",
}


@parametrize_with_checks(
    [MLPClassifier(random_state=0)],
    expected_failed_checks=lambda est: _FLOAT32_TOLERANCE_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("method", ["predict_proba", "predict_log_proba", "decision_function"])
def test_outputs_invariant_to_row_order_and_subsets_at_float32_tolerance(method):
    # scikit-learn's check_methods_{sample_order,subset}_invariance, with float32's tolerance.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(203, 7))
    y = rng.integers(0, 3, size=203)
    clf = MLPClassifier((31,), max_epochs=5, random_state=0).fit(X, y)
    full = getattr(clf, method)(X)
    order = rng.permutation(len(X))
    np.testing.assert_allclose(getattr(clf, method)(X[order]), full[order], rtol=1e-5, atol=1e-6)
    for start in range(0, len(X), 17):
        part = getattr(clf, method)(X[start : start + 17])
        np.testing.assert_allclose(part, full[start : start + 17], rtol=1e-5, atol=1e-6)
    assert np.array_equal(clf.predict(X[order]), clf.predict(X)[order])


# ---------------------------------------------------------------- the notes' models


def _four_blobs(n_samples=2000):
    # The course lab: make_blobs with these four centres, cluster_std=1.0, random_state=30.
    centers = [[-5, 2], [-1, -2], [1, 2], [5, -2]]
    return make_blobs(n_samples=n_samples, centers=centers, cluster_std=1.0, random_state=30)


def test_keras_model_on_four_blobs():
    # Dense(25, relu) -> Dense(15, relu) -> Dense(4) + softmax, Adam(0.001), sparse CE, 200 epochs.
    X, y = _four_blobs()
    X_train, y_train, X_test, y_test = X[:1600], y[:1600], X[1600:], y[1600:]
    clf = MLPClassifier((25, 15), learning_rate=1e-3, max_epochs=200, random_state=0)
    clf.fit(X_train, y_train)
    assert [W.shape for W in clf.coefs_] == [(2, 25), (25, 15), (15, 4)]
    assert clf.score(X_test, y_test) >= 0.95
    assert clf.history_[-1]["loss"] < clf.history_[0]["loss"]


def test_fixed_random_state_reproduces_the_fit():
    X, y = _four_blobs(300)
    a = MLPClassifier((8,), max_epochs=5, tol=0, random_state=3).fit(X, y)
    b = MLPClassifier((8,), max_epochs=5, tol=0, random_state=3).fit(X, y)
    c = MLPClassifier((8,), max_epochs=5, tol=0, random_state=4).fit(X, y)
    for Wa, Wb, Wc in zip(a.coefs_, b.coefs_, c.coefs_, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        assert not np.array_equal(Wa, Wc)
    assert a.history_ == b.history_


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _full_batch_softmax_regression(X, y, alpha, **kw):
    # No hidden layer: J = mean CE + alpha/2 ||W||^2 is strongly convex; full-batch momentum SGD
    # runs it to its minimiser.
    params = dict(solver="sgd", learning_rate=0.5, momentum=0.9, batch_size=len(X))
    params.update(max_epochs=3000, tol=0.0, n_iter_no_change=10**6, random_state=0)
    params.update(kw)
    with pytest.warns(ConvergenceWarning):
        return MLPClassifier((), alpha=alpha, **params).fit(X, y)


def test_no_hidden_layer_is_sklearn_multinomial_logistic_regression(iris):
    X, y = iris
    alpha = 0.01
    ours = _full_batch_softmax_regression(X, y, alpha)
    # Our objective is mean CE + alpha/2 ||W||^2; LogisticRegression minimises
    # sum CE + ||W||^2 / (2C), the same minimiser for C = 1 / (alpha * n_samples).
    ref = LogisticRegression(C=1 / (alpha * len(X)), tol=1e-12, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=2e-5)
    # Coefficients of the softmax are defined up to a common shift; L2 fixes the shift at zero
    # mean over classes, so they compare directly.
    np.testing.assert_allclose(ours.coefs_[0], ref.coef_.T, atol=2e-4)


def test_no_hidden_layer_is_softreg_softmax_regression(iris):
    SoftmaxRegression = getattr(softreg, "SoftmaxRegression", None)
    if SoftmaxRegression is None:
        pytest.skip("softreg.SoftmaxRegression not available yet")
    X, y = iris
    alpha = 0.01
    ours = _full_batch_softmax_regression(X, y, alpha)
    ref = SoftmaxRegression(C=1 / (alpha * len(X)), tol=1e-10, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=2e-5)


def test_multilabel_without_hidden_layer_is_one_logistic_regression_per_label(iris):
    X, y = iris
    Y = np.stack([y == 0, y >= 1, (y == 2) | (X[:, 0] > 0)], axis=1).astype(int)
    alpha = 0.01
    ours = _full_batch_softmax_regression(X, Y, alpha)
    assert ours.out_activation_ == "logistic"
    assert ours.predict_proba(X).shape == (150, 3)
    for k in range(3):
        ref = LogisticRegression(C=1 / (alpha * len(X)), tol=1e-12, max_iter=10000)
        ref.fit(X, Y[:, k])
        np.testing.assert_allclose(
            ours.predict_proba(X)[:, k], ref.predict_proba(X)[:, 1], atol=2e-5
        )
    pred = ours.predict(X)
    assert pred.shape == Y.shape
    assert pred.dtype == Y.dtype
    np.testing.assert_array_equal(pred, (ours.predict_proba(X) > 0.5).astype(int))


# ---------------------------------------------------------------- multi-label vs multi-class


def test_multilabel_and_multiclass_never_mix():
    X, y = _four_blobs(200)
    Y = np.eye(4, dtype=int)[y]
    Y[:, 0] = 1 - Y[:, 0]
    multilabel = MLPClassifier((4,), max_epochs=1, random_state=0)
    with pytest.warns(ConvergenceWarning):
        multilabel.fit(X, Y)
    assert multilabel.classes_.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"multi-class, but .* fitted multi-label"):
        multilabel.partial_fit(X, y)
    multiclass = MLPClassifier((4,), random_state=0).partial_fit(X, y, classes=np.arange(4))
    with pytest.raises(ValueError, match=r"multi-label, but .* fitted multi-class"):
        multiclass.partial_fit(X, Y)
    with pytest.raises(ValueError, match="label columns"):
        multilabel.partial_fit(X, Y[:, :3])


def test_column_vector_y_is_multiclass_with_a_warning():
    X, y = _four_blobs(100)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf = MLPClassifier((4,), max_epochs=2, tol=0, n_iter_no_change=5).fit(X, y[:, None])
    assert clf.out_activation_ == "softmax"
    assert clf.classes_.tolist() == [0, 1, 2, 3]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("sizes", [(25, 0), (-3,), (2.5,), ("10",), (True,), 0])
def test_invalid_hidden_layer_sizes(sizes):
    X, y = _four_blobs(50)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(sizes).fit(X, y)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("activation", "softplus"),
        ("solver", "lbfgs"),
        ("learning_rate", 0.0),
        ("batch_size", 0),
        ("max_epochs", 1.5),
        ("alpha", -1.0),
        ("validation_fraction", 1.0),
    ],
)
def test_invalid_parameters_name_the_argument(param, value):
    X, y = _four_blobs(50)
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        MLPClassifier(**{param: value}).fit(X, y)


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.linspace(0, 1, 50), "Unknown label type: 'continuous'.*indicator matrix"),
        (np.tile([[0, 1, 2], [2, 1, 0]], (25, 1)), "Unknown label type: 'multiclass-multioutput'"),
        (np.ones(50), "one class"),
    ],
)
def test_bad_targets(y, match):
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match=match):
        MLPClassifier().fit(X, y)


def test_bad_X():
    X, y = _four_blobs(60)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier().fit(np.where(np.arange(2) == 0, np.nan, X), y)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        MLPClassifier().fit(np.where(np.arange(2) == 0, np.inf, X), y)
    with pytest.raises(ValueError, match="0 sample"):
        MLPClassifier().fit(np.empty((0, 2)), [])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPClassifier().fit(X, y[:-1])
    clf = MLPClassifier((3,), max_epochs=1)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 2"):
        clf.predict(np.ones((2, 3)))
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)


def test_partial_fit_labels():
    X, y = _four_blobs(80)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)
    clf = MLPClassifier(random_state=0).partial_fit(X[y < 3], y[y < 3], classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"y contains labels \[3\] not in classes_"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="differs from classes_"):
        clf.partial_fit(X[y < 3], y[y < 3], classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=.* differs"):
        clf.set_params(hidden_layer_sizes=(7,)).partial_fit(X[y < 3], y[y < 3])


def test_divergence_is_reported():
    X, y = _four_blobs(100)
    with pytest.raises(ValueError, match=r"diverged.*learning_rate"):
        MLPClassifier((50, 50), solver="sgd", learning_rate=1e6, momentum=0.0, random_state=0).fit(
            X * 1e3, y
        )


# ---------------------------------------------------------------- training behaviour


def test_partial_fit_trains_one_epoch_per_call():
    X, y = _four_blobs(400)
    clf = MLPClassifier((16,), learning_rate=1e-2, random_state=0)
    clf.partial_fit(X, y, classes=np.arange(4))
    first = clf.loss_
    for _ in range(9):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 10
    assert len(clf.history_) == 10
    assert [row["iteration"] for row in clf.history_] == list(range(1, 11))
    assert clf.loss_ < first
    assert clf.score(X, y) > 0.9


def test_callback_sees_current_model_and_can_stop():
    X, y = _four_blobs(300)
    seen = []

    def callback(model, record):
        seen.append((record["iteration"], model.score(X, y), model.coefs_[0].copy()))
        return record["iteration"] == 3

    clf = MLPClassifier((8,), random_state=0).fit(X, y, callback=callback)
    assert clf.n_iter_ == 3
    assert [s[0] for s in seen] == [1, 2, 3]
    np.testing.assert_array_equal(seen[-1][2], clf.coefs_[0])
    assert not np.array_equal(seen[0][2], seen[1][2])
    json.dumps(clf.history_)


def test_early_stopping_keeps_the_best_validation_parameters():
    X, y = _four_blobs(600)
    clf = MLPClassifier(
        (16,), early_stopping=True, validation_fraction=0.2, n_iter_no_change=3, random_state=0
    )
    clf.fit(X, y)
    scores = [row["val_score"] for row in clf.history_]
    assert clf.n_iter_ < 200
    assert all(0 <= s <= 1 for s in scores)
    assert max(scores) > 0.9


def test_warm_start_continues_from_the_fitted_weights():
    X, y = _four_blobs(400)
    kw = dict(hidden_layer_sizes=(16,), max_epochs=3, tol=0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier(warm_start=True, **kw).fit(X, y)
    first = clf.history_[-1]["loss"]
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert clf.n_iter_ == 6
    assert clf.history_[3]["loss"] < first


def test_float32_weights_string_labels_and_pickle():
    X, y = _four_blobs(200)
    names = np.array(["north", "south", "east", "west"], dtype=object)[y]
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier((6,), max_epochs=3, random_state=0).fit(X.astype(np.float64), names)
    assert clf.classes_.dtype.kind == "U"
    assert all(W.dtype == np.float32 for W in clf.coefs_ + clf.intercepts_)
    assert set(clf.predict(X)) <= set(clf.classes_)
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict_proba(X), clf.predict_proba(X))
    clone.partial_fit(X, names)
    assert clone.n_iter_ == 4


def test_predict_log_proba_is_finite_where_proba_underflows():
    X, y = _four_blobs(200)
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier((), max_epochs=1, random_state=0).fit(X, y)
    clf.coefs_[0] *= np.float32(1e4)
    log_proba = clf.predict_log_proba(X)
    assert np.all(np.isfinite(log_proba))
    assert np.any(clf.predict_proba(X) == 0)
    logits = X @ clf.coefs_[0].astype(np.float64) + clf.intercepts_[0]
    np.testing.assert_allclose(log_proba, softreg.log_softmax(logits, axis=1), rtol=1e-4, atol=1e-6)


def test_save_load_round_trip(tmp_path):
    io = pytest.importorskip("softreg.io")
    X, y = _four_blobs(200)
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier((6, 5), max_epochs=2, random_state=0).fit(X, y)
    path = io.save(clf, tmp_path / "mlp.npz")
    loaded = io.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.history_ == clf.history_
    loaded.coefs_[1] = loaded.coefs_[1][:, :4]
    with pytest.raises(ValueError, match="do not match the architecture"):
        loaded._validate_state()


def test_fashion_mnist_defaults_are_valid_parameters():
    clf = MLPClassifier(**FASHION_MNIST_DEFAULTS)
    assert clf.get_params()["hidden_layer_sizes"] == FASHION_MNIST_DEFAULTS["hidden_layer_sizes"]
    json.dumps(clf.get_params())


@pytest.mark.realdata
def test_real_fashion_mnist_subset(real_fashion_mnist_dir):
    def read(name, offset, shape):
        with gzip.open(real_fashion_mnist_dir / name) as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset).reshape(shape)

    X = read("t10k-images-idx3-ubyte.gz", 16, (-1, 784))[:8000] / np.float32(255)
    y = read("t10k-labels-idx1-ubyte.gz", 8, (-1,))[:8000]
    params = dict(FASHION_MNIST_DEFAULTS, max_epochs=3, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier(**params).fit(X[:6000], y[:6000])
    # A subset (the smaller t10k file, for speed) and 3 epochs; the full run is in bench_mlp.py.
    assert clf.score(X[6000:], y[6000:]) >= 0.80


def test_cosine_schedule_anneals_the_steps_to_zero():
    X, y = _four_blobs(400)

    def moves(schedule):
        snaps = []
        MLPClassifier(
            (8,),
            learning_rate=0.01,
            learning_rate_schedule=schedule,
            max_epochs=10,
            n_iter_no_change=100,
            random_state=0,
        ).fit(X, y, callback=lambda model, record: snaps.append(model.coefs_[0].copy()))
        return [float(np.abs(b - a).max()) for a, b in itertools.pairwise(snaps)]

    cosine, constant = moves("cosine"), moves("constant")
    # Epoch 10 runs at rates below 0.025 * learning_rate; Adam steps scale with the rate.
    assert cosine[-1] < 0.1 * cosine[0]
    assert constant[-1] > 0.1 * constant[0]


# ---------------------------------------------------------------- decision_function


def test_decision_function_is_the_binary_logit_of_logistic_regression(iris):
    X, y = iris
    X, y = X[y > 0], y[y > 0]  # versicolor vs virginica: not separable
    alpha = 0.01
    ours = _full_batch_softmax_regression(X, y, alpha)
    # Two softmax columns under alpha/2 ||W||^2 settle at w_1 = -w_0 = v/2, so z_1 - z_0 = v.x
    # with penalty alpha/4 ||v||^2: LogisticRegression's ||v||^2 / (2 C n) for C = 2/(alpha n).
    ref = LogisticRegression(C=2 / (alpha * len(X)), tol=1e-12, max_iter=10000).fit(X, y)
    scores = ours.decision_function(X)
    assert scores.shape == (len(X),)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, ref.decision_function(X), rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(ours.predict(X), ours.classes_[(scores > 0).astype(int)])
    np.testing.assert_allclose(softreg.sigmoid(scores), ours.predict_proba(X)[:, 1], rtol=1e-12)


def test_decision_function_multiclass_and_multilabel():
    X, y = _four_blobs(200)
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier((8,), max_epochs=3, random_state=0).fit(X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (200, 4)
    np.testing.assert_array_equal(clf.classes_[np.argmax(scores, axis=1)], clf.predict(X))
    np.testing.assert_allclose(
        softreg.log_softmax(scores, axis=1), clf.predict_log_proba(X), rtol=1e-12, atol=1e-12
    )
    Y = np.stack([y == 0, y >= 2, y % 2 == 1], axis=1).astype(np.int8)
    with pytest.warns(ConvergenceWarning):
        multi = MLPClassifier((8,), max_epochs=3, random_state=0).fit(X, Y)
    scores = multi.decision_function(X)
    assert scores.shape == (200, 3)
    np.testing.assert_array_equal((scores > 0).astype(np.int8), multi.predict(X))
    np.testing.assert_allclose(softreg.sigmoid(scores), multi.predict_proba(X), rtol=1e-12)

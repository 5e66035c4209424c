"""Temperature scaling: exact optimum, agreement with scikit-learn, model-file round trip."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from softreg import MLPClassifier, SoftmaxRegression, TemperatureScaling, load, save
from softreg.calibration import fit_temperature
from softreg.functional import log_softmax, softmax


def _nll(logits, y, T):
    return -np.mean(log_softmax(logits / T, axis=1)[np.arange(len(y)), y])


def _logits_case(seed, n=400, k=5, sharpen=2.0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, k))
    y = np.array([rng.choice(k, p=softmax(z / sharpen)) for z in logits])
    return logits, y


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    model = SoftmaxRegression(C=100.0).fit(X[:900], y[:900])
    return model, X[900:1350], y[900:1350], X[1350:], y[1350:]


def test_temperature_is_the_exact_minimiser():
    logits, y = _logits_case(0)
    temperature, n_iter = fit_temperature(logits, y)
    assert temperature > 1  # labels come from softer probabilities: the logits are over-confident
    assert n_iter < 10
    # The derivative in beta = 1/T vanishes to rounding: E_p[z] - z_y averages to ~0.
    p = softmax(logits / temperature, axis=1)
    slope = np.mean(np.sum(p * logits, axis=1) - logits[np.arange(len(y)), y])
    assert abs(slope) < 1e-13 * np.abs(logits).max()
    ref = minimize_scalar(lambda t: _nll(logits, y, t), bounds=(0.1, 10), method="bounded",
                          options={"xatol": 1e-12})  # fmt: skip
    assert temperature == pytest.approx(ref.x, rel=1e-5)
    assert _nll(logits, y, temperature) <= ref.fun


def test_too_few_iterations_warn_and_return_the_last_temperature(digits_split):
    # max_iter=2 used to return T = 2.17 (the optimum is 2.157) without a word.
    logits, y = _logits_case(0)
    best, n_best = fit_temperature(logits, y)
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=2"):
        temperature, n_iter = fit_temperature(logits, y, max_iter=2)
    assert n_iter == 2
    assert temperature != best
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fit_temperature(logits, y, max_iter=n_best) == (best, n_best)
    model, X_cal, y_cal, _, _ = digits_split
    with pytest.warns(ConvergenceWarning, match="max_iter=1 Newton"):
        TemperatureScaling(model, max_iter=1).fit(X_cal, y_cal)


@given(st.integers(0, 2**32 - 1), st.floats(0.2, 5.0))
def test_temperature_scales_with_the_logits_and_ignores_row_shifts(seed, c):
    logits, y = _logits_case(seed, n=100, k=3)
    T, _ = fit_temperature(logits, y)
    shift = np.random.default_rng(seed).normal(size=(100, 1)) * 50
    assert fit_temperature(logits + shift, y)[0] == pytest.approx(T, rel=1e-9)
    assert fit_temperature(c * logits, y)[0] == pytest.approx(c * T, rel=1e-9)


def test_same_temperature_as_scikit_learn_and_no_worse_nll(digits_split):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    model, X_cal, y_cal, _, _ = digits_split
    ours = TemperatureScaling(model).fit(X_cal, y_cal)
    theirs = CalibratedClassifierCV(FrozenEstimator(model), method="temperature")
    theirs.fit(X_cal, y_cal)
    T_theirs = 1.0 / float(theirs.calibrated_classifiers_[0].calibrators[0].beta_)
    assert ours.temperature_ == pytest.approx(T_theirs, abs=1e-4)
    logits = model.decision_function(X_cal)
    assert _nll(logits, y_cal, ours.temperature_) <= _nll(logits, y_cal, T_theirs) + 1e-15
    assert ours.nll_after_ == pytest.approx(_nll(logits, y_cal, ours.temperature_), rel=1e-12)
    assert ours.nll_after_ < ours.nll_before_


def test_predict_unchanged_and_proba_is_tempered_softmax(digits_split):
    model, X_cal, y_cal, X_test, _ = digits_split
    ts = TemperatureScaling(model).fit(X_cal, y_cal)
    np.testing.assert_array_equal(ts.predict(X_test), model.predict(X_test))
    logits = model.decision_function(X_test)
    np.testing.assert_allclose(ts.predict_proba(X_test), softmax(logits / ts.temperature_, 1))
    np.testing.assert_allclose(
        ts.predict_log_proba(X_test), log_softmax(logits / ts.temperature_, 1), rtol=1e-12
    )
    np.testing.assert_array_equal(ts.classes_, model.classes_)


def test_cross_validated_mode_refits_the_estimator():
    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16
    y = y[:600]
    ts = TemperatureScaling(SoftmaxRegression(C=100.0), cv=3).fit(X, y)
    assert ts.estimator_ is not ts.estimator
    np.testing.assert_allclose(
        ts.estimator_.coef_, SoftmaxRegression(C=100.0).fit(X, y).coef_, rtol=1e-10
    )
    assert ts.temperature_ > 0
    assert ts.nll_after_ <= ts.nll_before_


@pytest.mark.parametrize(
    ("logits", "y", "match"),
    [
        (np.array([[0.0, 1.0], [1.0, 0.0]]), [0, 1], "no information"),
        (np.array([[3.0, 0.0], [0.0, 3.0]]), [0, 1], "predicted perfectly"),
        (np.array([[0.0, -np.inf]]), [0], "finite"),
        (np.array([[0.0, 1.0]]), [2], "class indices"),
    ],
)
def test_degenerate_calibration_sets_raise(logits, y, match):
    with pytest.raises(ValueError, match=match):
        fit_temperature(logits, np.asarray(y))


def test_refusals(digits_split):
    model, X_cal, y_cal, _, _ = digits_split
    with pytest.raises(ValueError, match="multi-label"):
        TemperatureScaling(model).fit(X_cal, np.eye(10)[y_cal])
    with pytest.raises(Exception, match="not fitted"):
        TemperatureScaling(SoftmaxRegression()).fit(X_cal, y_cal)


def test_temperature_round_trips_through_a_model_file(tmp_path, digits_split):
    model, X_cal, y_cal, X_test, _ = digits_split
    ts = TemperatureScaling(model).fit(X_cal, y_cal)
    carried = ts.calibrated_estimator()
    assert not hasattr(model, "temperature_")  # the wrapped model is left alone
    np.testing.assert_allclose(carried.predict_proba(X_test), ts.predict_proba(X_test), rtol=1e-12)
    loaded = load(save(carried, tmp_path / "m.npz"))
    assert loaded.temperature_ == ts.temperature_
    np.testing.assert_array_equal(loaded.predict_proba(X_test), carried.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.decision_function(X_test), model.decision_function(X_test))
    # A model without a temperature still saves and loads without one.
    assert not hasattr(load(save(model, tmp_path / "plain.npz")), "temperature_")
    # Refitting drops the stale temperature.
    assert not hasattr(carried.fit(X_cal, y_cal), "temperature_")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mlp_carries_a_temperature_too(tmp_path):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    mlp = MLPClassifier((16,), max_epochs=30, random_state=0, tol=0.0, n_iter_no_change=100)
    mlp.fit(X[:800], y[:800])
    carried = TemperatureScaling(mlp).fit(X[800:1200], y[800:1200]).calibrated_estimator()
    loaded = load(save(carried, tmp_path / "mlp.npz"))
    assert loaded.temperature_ == carried.temperature_
    logits = mlp.decision_function(X[1200:])
    np.testing.assert_allclose(
        loaded.predict_proba(X[1200:]), softmax(logits / carried.temperature_, 1), rtol=1e-12
    )
    carried.temperature_ = -1.0
    with pytest.raises(ValueError, match="temperature_"):
        load(save(carried, tmp_path / "bad.npz"))


def test_sparse_input_gives_the_dense_temperature():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = sp.random(400, 3000, density=0.005, random_state=0, format="csr")
    y = rng.integers(0, 3, 400)
    y[np.asarray(X[:, :40].sum(axis=1)).ravel() > 0.2] = 0
    sparse = TemperatureScaling(SoftmaxRegression(C=10.0, tol=1e-8), cv=3).fit(X.tocsc(), y)
    dense = TemperatureScaling(SoftmaxRegression(C=10.0, tol=1e-8), cv=3).fit(X.toarray(), y)
    assert sparse.temperature_ == pytest.approx(dense.temperature_, rel=1e-5)
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X.toarray()), atol=1e-6)

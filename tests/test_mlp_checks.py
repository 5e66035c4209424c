"""`softreg.mlp.checks`: what an MLPClassifier refuses, for a fit and for prediction alike."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from softreg import MLPClassifier
from softreg.mlp.checks import PARAMETER_CONSTRAINTS, validate_fit_data, validate_X


def test_every_parameter_has_a_constraint() -> None:
    init = inspect.signature(MLPClassifier.__init__).parameters
    assert set(PARAMETER_CONSTRAINTS) == set(init) - {"self"}
    assert MLPClassifier._parameter_constraints is PARAMETER_CONSTRAINTS


def test_fit_data_is_float32_and_records_the_features() -> None:
    model = MLPClassifier()
    X, y = validate_fit_data(model, np.arange(6).reshape(3, 2), ["a", "b", "a"], reset=True)
    assert X.dtype == np.float32
    assert X.shape == (3, 2)
    assert y.tolist() == ["a", "b", "a"]
    assert model.n_features_in_ == 2


@pytest.mark.parametrize(
    ("X", "error"),
    [
        (np.array([["a", "b"]], dtype=object), TypeError),  # not numbers
        (np.array([[np.nan, 1.0]]), ValueError),  # not finite
        (np.array([[1e30, 1.0]]), ValueError),  # too large for the float32 network
    ],
)
def test_fit_and_prediction_refuse_the_same_X(X: np.ndarray, error: type[Exception]) -> None:
    with pytest.raises(error, match="X"):
        validate_fit_data(MLPClassifier(), X, [0], reset=True)
    fitted = MLPClassifier((2,), max_epochs=1).partial_fit(np.zeros((2, 2)), [0, 1], classes=[0, 1])
    with pytest.raises(error, match="X"):
        validate_X(fitted, X)


def test_prediction_needs_a_fitted_model_with_the_same_features() -> None:
    with pytest.raises(NotFittedError):
        validate_X(MLPClassifier(), np.zeros((1, 2)))
    fitted = MLPClassifier((2,), max_epochs=1).partial_fit(np.zeros((2, 2)), [0, 1], classes=[0, 1])
    assert validate_X(fitted, np.zeros((1, 2), dtype=np.float64)).dtype == np.float32
    with pytest.raises(ValueError, match="X has 3 features"):
        validate_X(fitted, np.zeros((1, 3)))

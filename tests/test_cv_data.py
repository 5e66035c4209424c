"""SoftmaxRegressionCV's inputs as fit sees them: weights, grid, folds, scorer metadata."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import KFold, StratifiedKFold

from softreg import SoftmaxRegressionCV
from softreg._cv_data import cv_data
from softreg.path import default_Cs

NO_ROUTING = {"split": {}, "score": {}}


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


def test_class_weights_multiply_the_sample_weights(iris):
    X, y = iris
    sw = np.linspace(0.5, 2.0, len(y))
    est = SoftmaxRegressionCV(class_weight={"setosa": 3.0, "versicolor": 1.0, "virginica": 0.5})
    data = cv_data(est, X, y, sw, NO_ROUTING)
    per_class = np.select([y == "setosa", y == "versicolor"], [3.0, 1.0], 0.5)
    np.testing.assert_allclose(data.sample_weight, sw * per_class, rtol=1e-15)
    np.testing.assert_array_equal(data.classes, ["setosa", "versicolor", "virginica"])
    np.testing.assert_array_equal(data.classes[data.y_enc], y)
    assert est.n_features_in_ == 4


def test_an_int_Cs_is_the_default_grid_of_the_weighted_data(iris):
    X, y = iris
    est = SoftmaxRegressionCV(Cs=7, input_scale=0.5, class_weight="balanced")
    data = cv_data(est, X, y, None, NO_ROUTING)
    expected = default_Cs(X, data.y_enc, 3, data.sample_weight, n_Cs=7, scale=0.5)
    np.testing.assert_array_equal(data.grid, expected)
    assert data.scale == 0.5
    explicit = cv_data(SoftmaxRegressionCV(Cs=[1.0, 0.1]), X, y, None, NO_ROUTING)
    np.testing.assert_array_equal(explicit.grid, [0.1, 1.0])  # sorted ascending
    assert explicit.scale == 1.0


def test_folds_come_from_the_splitter_and_uint8_fits_in_float32(iris):
    X, y = iris
    pixels = (X * 10).astype(np.uint8)
    est = SoftmaxRegressionCV(cv=KFold(3), input_scale=1 / 255)
    data = cv_data(est, pixels, y, None, NO_ROUTING)
    assert data.X.dtype == np.uint8  # kept as it is, scaled inside the passes
    assert data.sample_weight.dtype == np.float32
    assert len(data.folds) == 3
    for (train, test), (t, v) in zip(data.folds, KFold(3).split(X, y), strict=True):
        np.testing.assert_array_equal(train, t)
        np.testing.assert_array_equal(test, v)
    default = cv_data(SoftmaxRegressionCV(), X, y, None, NO_ROUTING)
    for (train, _), (t, _) in zip(default.folds, StratifiedKFold(5).split(X, y), strict=True):
        np.testing.assert_array_equal(train, t)


def test_scorer_sample_weight_is_checked_as_float64(iris):
    X, y = iris
    routed = {"split": {}, "score": {"sample_weight": [1] * len(y)}}
    data = cv_data(SoftmaxRegressionCV(), X, y, None, routed)
    assert data.score_params["sample_weight"].dtype == np.float64
    with pytest.raises(ValueError, match="sample_weight"):
        cv_data(SoftmaxRegressionCV(), X, y, None, {"split": {}, "score": {"sample_weight": [1]}})

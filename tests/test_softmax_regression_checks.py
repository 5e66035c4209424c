"""scikit-learn's estimator conformance checks on SoftmaxRegression."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from softreg import SoftmaxRegression


@parametrize_with_checks([SoftmaxRegression()])
def test_sklearn_compatible(estimator, check):
    check(estimator)

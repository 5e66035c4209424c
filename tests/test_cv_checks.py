"""scikit-learn's estimator conformance checks on SoftmaxRegressionCV."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from softreg import SoftmaxRegressionCV


@parametrize_with_checks([SoftmaxRegressionCV(Cs=3)])  # an int: the data-derived grid
def test_sklearn_compatible(estimator, check):
    check(estimator)

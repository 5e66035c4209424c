"""The separation warning (softreg._separation) of an unpenalised `softreg.stats.summary`."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

from softreg import SoftmaxRegression
from softreg.stats import SeparationWarning, SingularHessianError, summary


def test_separated_classes_warn_naming_them():
    X, y = load_iris(return_X_y=True)
    model = SoftmaxRegression(C=np.inf, tol=1e-10).fit(X, y)
    # Setosa is linearly separable: a warning names it, and the diverging direction leaves the
    # Hessian numerically singular, which raises naming the parameters of that direction. (How
    # many of its 50 rows pass 1 - 1e-10 depends on how far along the diverging ray the fit
    # stopped, i.e. on the solver's path: 50 with K-FAC alone, 46 with its exact block.)
    with (
        pytest.warns(SeparationWarning, match=r"class 0: (4\d|50) of 50"),
        pytest.raises(SingularHessianError, match=r"numerically singular.*class 1 / x0"),
    ):
        summary(model, X, y)

"""The reported parametrisations (softreg._summary_parametrization) against MNLogit.

Any reference class, the Wald test of a feature in either parametrisation, and the symmetric
parametrisation as the centred model.
"""

from __future__ import annotations

import numpy as np
import pytest

import stats_cases
from softreg.stats import summary
from stats_cases import rel_error

sm = pytest.importorskip("statsmodels.api")
fitted = stats_cases.fitted  # module-scoped: X, y, an unpenalised model and its MNLogit


def test_any_reference_class_equals_statsmodels_on_relabelled_data(fitted):
    X, y, model, _ = fitted
    result = summary(model, X, y, reference=2)
    assert result.equations == [0, 1, 3]
    relabelled = np.select([y == 2, y < 2], [0, y + 1], y)  # class 2 first, order kept
    ref = sm.MNLogit(relabelled, sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
    assert rel_error(result.params, ref.params.T) < 1e-6
    assert rel_error(result.bse, ref.bse.T) < 1e-6


def test_wald_test_of_a_feature_is_the_same_in_every_parametrisation(fitted):
    X, y, model, mnlogit = fitted
    ref = mnlogit.fit(method="newton", tol=1e-12, disp=0)
    base = summary(model, X, y)
    # statsmodels: the three equations' coefficients of x1 (column 2 of add_constant) are zero.
    names = ref.model.exog_names
    n_terms = len(names)
    R = np.zeros((3, 3 * n_terms))
    for eq in range(3):
        R[eq, eq * n_terms + 2] = 1
    b = R @ ref.params.T.ravel()
    expected = b @ np.linalg.solve(R @ ref.cov_params() @ R.T, b)
    for result in (base, summary(model, X, y, reference=3, parametrization="symmetric")):
        test = result.wald_test("x1")
        assert test.statistic == pytest.approx(expected, rel=1e-6)
        assert test.df == 3
    assert base.wald_test(2) == base.wald_test("x1")


def test_symmetric_parametrisation_is_the_centred_model(fitted):
    X, y, model, _ = fitted
    sym = summary(model, X, y, parametrization="symmetric")
    base = summary(model, X, y)
    np.testing.assert_allclose(sym.params.sum(axis=0), 0, atol=1e-10)
    # Differences of symmetric parameters are the baseline ones, with the same variance.
    np.testing.assert_allclose(sym.params[1:] - sym.params[0], base.params, atol=1e-10)
    cov = sym.cov_params().reshape(4, 4, 4, 4)
    for a in range(1, 4):
        var = cov[a, :, a, :] + cov[0, :, 0, :] - cov[a, :, 0, :] - cov[0, :, a, :]
        np.testing.assert_allclose(np.sqrt(np.diag(var)), base.bse[a - 1], rtol=1e-8)

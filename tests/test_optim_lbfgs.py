"""L-BFGS in float32: a stop where the loss no longer changes is not convergence."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning

from softreg.objective import SoftmaxObjective
from softreg.optim import minimize_lbfgs, minimize_newton_cg


def test_float32_stop_on_an_unchanged_loss_warns():
    # SciPy stops on its ftol test once a step no longer changes the point rounded to float32
    # (the loss is then identical); it calls that converged, and softreg reported it so, at
    # max|grad| = 1.2e-4 against tol = 1e-6.
    X, y = load_iris(return_X_y=True)
    obj = SoftmaxObjective(X.astype(np.float32), y, 3, C=10.0)
    w0 = np.zeros(obj.n_params, np.float32)
    with pytest.warns(ConvergenceWarning, match="no longer decreases in float32"):
        r = minimize_lbfgs(obj, w0, tol=1e-6, max_iter=1000)
    assert not r.converged
    assert r.n_iter < 1000  # stopped by SciPy, not by max_iter
    assert r.grad_norm > 1e-6
    assert r.grad_norm == np.abs(obj.loss_grad(r.x)[1]).max()
    # What the message points to: newton-cg meets the same tol on the same float32 problem.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        newton = minimize_newton_cg(obj, w0, tol=1e-6, max_iter=100)
    assert newton.converged
    assert np.abs(obj.loss_grad(newton.x)[1]).max() <= 1e-6


def test_float64_stop_on_round_off_stays_converged():
    # In float64 SciPy's ftol (64 eps) is the loss's round-off: scikit-learn's reading, kept.
    X, y = make_classification(
        n_samples=120, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0
    )
    obj = SoftmaxObjective(X, y, 3, C=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = minimize_lbfgs(obj, np.zeros(obj.n_params), tol=1e-12, max_iter=1000)
    assert r.converged
    assert r.n_iter < 1000
    assert 1e-12 < r.grad_norm <= 1e-7  # stopped by ftol, at the loss's round-off

"""The dense Hessian against finite differences of the objective's gradient and its HVP."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from softreg._hessian import dense_hessian
from softreg.objective import SoftmaxObjective


def _case(seed, n=60, d=3, k=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, k, size=n)
    y[:k] = np.arange(k)
    s = rng.uniform(0.5, 2.0, size=n)
    theta = rng.normal(scale=0.5, size=(k, d + 1))
    return X, y, s, theta


def _to_objective_order(theta, fit_intercept):
    """Our (class, [intercept, coef]) layout -> the objective's [coef.ravel(), intercept]."""
    if not fit_intercept:
        return theta.ravel()
    return np.concatenate([theta[:, 1:].ravel(), theta[:, 0]])


def _permutation(k, d, fit_intercept):
    """perm[i] = objective index of our parameter i."""
    if not fit_intercept:
        return np.arange(k * d)
    perm = []
    for c in range(k):
        perm.append(k * d + c)
        perm.extend(c * d + j for j in range(d))
    return np.array(perm)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [np.inf, 0.7])
def test_hessian_matches_finite_differences_of_the_gradient(fit_intercept, C):
    X, y, s, theta = _case(0)
    if not fit_intercept:
        theta = theta[:, 1:]
    k, d = theta.shape[0], X.shape[1]
    obj = SoftmaxObjective(X, y, k, s, C=C, fit_intercept=fit_intercept)
    S = s.sum()
    out = dense_hessian(X, y, s, theta, C=C, fit_intercept=fit_intercept)
    perm = _permutation(k, d, fit_intercept)
    w = _to_objective_order(theta, fit_intercept)
    f, g = obj.loss_grad(w)
    np.testing.assert_allclose(out.grad.ravel(), S * g[perm], rtol=1e-12, atol=1e-12)
    # Central differences of the exact gradient, column by column.
    eps = 1e-6
    fd = np.empty((len(w), len(w)))
    for i in range(len(w)):
        e = np.zeros(len(w))
        e[i] = eps
        fd[:, i] = (obj.loss_grad(w + e)[1] - obj.loss_grad(w - e)[1]) / (2 * eps)
    np.testing.assert_allclose(out.hessian, S * fd[np.ix_(perm, perm)], rtol=1e-6, atol=1e-7)
    # And against the objective's exact Hessian-vector product to rounding.
    hessp = obj.grad_hessp(w)[1]
    v = np.random.default_rng(1).normal(size=len(w))
    np.testing.assert_allclose(out.hessian @ v[perm], S * hessp(v)[perm], rtol=1e-10)
    penalty = 0.0 if np.isinf(C) else 0.5 / C * np.sum(theta[:, int(fit_intercept) :] ** 2)
    assert -out.loglik == pytest.approx(S * f - penalty, rel=1e-12)


def test_sparse_and_scaled_input_give_the_same_hessian():
    X, y, s, theta = _case(2)
    dense = dense_hessian(X, y, s, theta, C=2.0, fit_intercept=True, block_rows=7)
    scaled = dense_hessian(sp.csr_matrix(X * 4), y, s, theta, C=2.0, fit_intercept=True, scale=0.25)
    np.testing.assert_allclose(scaled.hessian, dense.hessian, rtol=1e-12)
    np.testing.assert_allclose(scaled.grad, dense.grad, rtol=1e-12, atol=1e-14)


def test_meat_is_the_sum_of_weighted_gradient_outer_products():
    X, y, s, theta = _case(3, n=25)
    out = dense_hessian(X, y, s, theta, C=np.inf, fit_intercept=True, with_meat=True)
    expected = np.zeros_like(out.meat)
    for i in range(len(y)):
        one = dense_hessian(X[i : i + 1], y[i : i + 1], s[i : i + 1], theta, C=np.inf,
                            fit_intercept=True)  # fmt: skip
        g = one.grad.ravel()
        expected += np.outer(g, g)
    np.testing.assert_allclose(out.meat, expected, rtol=1e-12, atol=1e-14)

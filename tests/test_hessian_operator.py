"""softreg._hessian_operator: the Hessian at one point as an operator, and its preconditioner."""

import numpy as np
import pytest
import scipy.sparse as sp

import softreg.objective
from softreg import _hessian_operator, _kernels
from softreg.objective import HessianOperator, SoftmaxObjective

# Every test here runs on both paths: NumPy/BLAS and numba-compiled (conftest.py).
pytestmark = pytest.mark.usefixtures("numpy_and_compiled")


def make(n=80, d=6, k=3, seed=0, sparse=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if sparse:
        X[np.abs(X) < 0.6] = 0.0
        X = sp.csr_matrix(X)
    return X, np.arange(n) % k, rng.uniform(0.5, 2.0, n)


def dense(hessp, n_params):
    return np.column_stack([hessp(e) for e in np.eye(n_params)])


def test_softreg_objective_still_exports_the_operator():
    assert softreg.objective.HessianOperator is _hessian_operator.HessianOperator
    for name in ("HessP", "KFAC_MAX_FEATURES", "L1Part", "SoftmaxObjective"):
        assert hasattr(softreg.objective, name)


@pytest.mark.parametrize("sparse", [False, True])
def test_operator_keeps_the_point_it_was_made_at(sparse):
    X, y, sw = make(sparse=sparse)
    obj = SoftmaxObjective(X, y, 3, sw, C=0.5)
    rng = np.random.default_rng(1)
    w, v = rng.standard_normal(obj.n_params), rng.standard_normal(obj.n_params)
    _, _, h = obj.loss_grad_hessp(w)
    assert isinstance(h, HessianOperator)
    assert h.objective is obj
    assert h.proba.shape == (80, 3)
    np.testing.assert_allclose(h.proba.sum(axis=1), 1.0, rtol=1e-12)
    before = h(v)
    obj.loss_grad_hessp(w + 1.0)  # another point: its probabilities are its own
    np.testing.assert_array_equal(h(v), before)
    assert h(list(v)).dtype == obj.dtype  # any array-like, in the objective's dtype


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_preconditioner_name_follows_the_kfac_feature_limit(monkeypatch, fit_intercept):
    X, y, sw = make(d=6)
    obj = SoftmaxObjective(X, y, 3, sw, fit_intercept=fit_intercept)
    _, _, h = obj.loss_grad_hessp(np.zeros(obj.n_params))
    augmented = 6 + int(fit_intercept)
    monkeypatch.setattr(_kernels.kfac, "MAX_FEATURES", augmented)
    assert h.preconditioner_name == obj.preconditioner_name == "kfac"
    monkeypatch.setattr(_kernels.kfac, "MAX_FEATURES", augmented - 1)
    assert h.preconditioner_name == obj.preconditioner_name == "diagonal"


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_diagonal_preconditioner_inverts_the_hessians_diagonal(monkeypatch, sparse, fit_intercept):
    monkeypatch.setattr(_kernels.kfac, "MAX_FEATURES", 0)
    X, y, sw = make(sparse=sparse)
    obj = SoftmaxObjective(X, y, 3, sw, C=0.5, fit_intercept=fit_intercept)
    w = np.random.default_rng(2).standard_normal(obj.n_params) * 0.3
    _, _, h = obj.loss_grad_hessp(w)
    assert h.preconditioner_name == "diagonal"
    # The data term's diagonal plus the L2 strength, which the preconditioner also puts on the
    # (unpenalised) intercept: it only damps there.
    data_diagonal = np.diag(dense(h, obj.n_params)).copy()
    data_diagonal[: 3 * 6] -= obj.l2_strength
    r = np.random.default_rng(3).standard_normal(obj.n_params)
    expected = r / (data_diagonal + obj.l2_strength)
    np.testing.assert_allclose(h.preconditioner()(r), expected, rtol=1e-5)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_kfac_preconditioner_inverts_a_small_hessian(monkeypatch, sparse, fit_intercept):
    # 7 augmented features: the exact leading block (softreg._kernels.subspace) covers every
    # direction, so the preconditioner is the inverse Hessian up to its tiny damping.
    X, y, sw = make(sparse=sparse)
    obj = SoftmaxObjective(X, y, 3, sw, C=1.0, fit_intercept=fit_intercept)
    rng = np.random.default_rng(4)
    w = rng.standard_normal(obj.n_params) * 0.3
    _, _, h = obj.loss_grad_hessp(w)
    assert h.preconditioner_name == "kfac"
    v = rng.standard_normal(obj.n_params)
    Hv = dense(h, obj.n_params) @ v

    def centred(u):  # the intercept's sum over classes is a flat direction of H
        u = u.copy()
        if fit_intercept:
            u[-3:] -= u[-3:].mean()
        return u

    out = h.preconditioner()(Hv)
    np.testing.assert_allclose(centred(out), centred(v), rtol=1e-5, atol=1e-5 * np.abs(v).max())
    assert obj.feature_basis is not None  # kept for the next point (and the next C)
    # Not vacuous: the diagonal preconditioner at the same point is far from the inverse.
    monkeypatch.setattr(_kernels.kfac, "MAX_FEATURES", 0)
    assert not np.allclose(centred(h.preconditioner()(Hv)), centred(v), rtol=1e-2)

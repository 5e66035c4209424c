"""softreg._kernels.subspace: the exact leading block against the dense Hessian, its inverse
against the exact inverse Hessian and K-FAC's, and CG with it against plain CG."""

import numpy as np
import pytest
from scipy.special import softmax

from softreg._kernels import feature_basis, inverse, subspace
from softreg.objective import SoftmaxObjective
from softreg.optim.newton_cg import _conjugate_gradient

# Every test here runs on both paths: NumPy/BLAS and numba-compiled (conftest.py).
pytestmark = pytest.mark.usefixtures("numpy_and_compiled")


def make(n=60, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    Xu = rng.integers(0, 256, (n, d)).astype(np.uint8)
    y = np.arange(n) % k
    sw = rng.uniform(0.2, 2.0, n)
    weight = sw / sw.sum()
    coef = rng.standard_normal((k, d))
    intercept = rng.standard_normal(k)
    return Xu, y, weight, coef, intercept


def dense_data_hessian(U, weight, proba):
    """``sum_i w_i M_i kron u_i u_i^T`` in the augmented class-major layout (k m, k m)."""
    return sum(
        w * np.kron(np.diag(p) - np.outer(p, p), np.outer(u, u))
        for w, p, u in zip(weight, proba, U, strict=True)
    )


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("subset", [False, True])
def test_exact_block_is_the_dense_hessian_on_the_subspace(fit_intercept, subset):
    Xu, y, weight, coef, intercept = make()
    scale, k = 1 / 255, 3
    proba = softmax(Xu * scale @ coef.T + intercept, axis=1)
    basis = feature_basis(Xu, weight, scale=scale, fit_intercept=fit_intercept)
    Vq = subspace.leading(basis, 3)
    rows = np.arange(0, 60, 3) if subset else None
    block = subspace.exact_block(
        Xu, weight, proba, Vq, scale=scale, fit_intercept=fit_intercept, rows=rows, dtype=np.float64
    )
    U = Xu * scale
    if fit_intercept:
        U = np.hstack([U, np.ones((len(y), 1))])
    keep = np.arange(60) if rows is None else rows
    w = weight[keep] * weight.sum() / weight[keep].sum()  # the subset, reweighted
    H = dense_data_hessian(U[keep], w, proba[keep])
    Q = np.kron(np.eye(k), Vq)  # columns e_c kron v_s, index c * q + s
    np.testing.assert_allclose(block, Q.T @ H @ Q, rtol=1e-10, atol=1e-14)
    # The leading directions are B's largest eigenvectors, in decreasing order.
    b, V = basis
    np.testing.assert_allclose(np.abs(Vq.T @ V[:, np.argsort(b)[::-1][:3]]), np.eye(3), atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_with_every_direction_exact_it_inverts_the_objective_hessian(fit_intercept):
    # q = m: the block is the whole Hessian, so M H v = v for the plain objective's H.
    Xu, y, weight, _, _ = make(n=80, d=4, k=3, seed=1)
    obj = SoftmaxObjective(Xu, y, 3, weight, C=0.5, scale=1 / 255, fit_intercept=fit_intercept)
    obj.dtype = np.dtype(np.float64)  # float64 arithmetic on the uint8 pixels
    w = np.random.default_rng(2).standard_normal(obj.n_params) * 0.3
    _, _, hessp = obj.loss_grad_hessp(w)
    basis = feature_basis(Xu, obj.weight, scale=1 / 255, fit_intercept=fit_intercept)
    m = 4 + int(fit_intercept)
    Vq = subspace.leading(basis, m)
    block = subspace.exact_block(
        Xu, obj.weight, hessp.proba, Vq, scale=1 / 255, fit_intercept=fit_intercept
    )
    apply = subspace.inverse(
        basis,
        block,
        Vq,
        hessp.proba,
        obj.weight,
        obj.l2_strength,
        n_features=4,
        fit_intercept=fit_intercept,
        dtype=np.float64,
    )
    v = np.random.default_rng(3).standard_normal(obj.n_params)
    # Up to the operator's tiny damping (1e-8 of the largest curvature) on the intercept's
    # flat direction: compare in the directions the Hessian sees.
    np.testing.assert_allclose(hessp(apply(hessp(v))), hessp(v), rtol=1e-6, atol=1e-6)


def test_outside_the_subspace_it_is_the_kfac_inverse_and_it_is_spd():
    Xu, _, weight, coef, intercept = make(n=70, d=6, k=3, seed=4)
    scale, k, d, q, lam = 1 / 255, 3, 6, 2, 0.02
    proba = softmax(Xu * scale @ coef.T + intercept, axis=1)
    basis = feature_basis(Xu, weight, scale=scale, fit_intercept=True)
    Vq = subspace.leading(basis, q)
    block = subspace.exact_block(Xu, weight, proba, Vq, scale=scale, fit_intercept=True)
    args = (proba, weight, lam)
    kw = {"n_features": d, "fit_intercept": True, "dtype": np.float64}
    apply = subspace.inverse(basis, block, Vq, *args, **kw)
    kfac = inverse(basis, *args, **kw)
    b, V = basis
    rest = V[:, np.argsort(b)[::-1][q:]]
    C = np.random.default_rng(5).standard_normal((k, d + 1 - q))
    C -= C.mean(axis=0)  # classes summing to zero: no component on the flat direction either
    G = C @ rest.T  # no component on the leading directions
    r = np.concatenate([G[:, :d].ravel(), G[:, d]])

    def centred(v):  # without its component on the flat 1_k kron (intercept)
        v = np.array(v, np.float64)
        v[-k:] -= v[-k:].mean()
        return v

    expected = centred(kfac(centred(r)))
    np.testing.assert_allclose(apply(r), expected, rtol=1e-10, atol=1e-12 * abs(expected).max())
    # Symmetric, positive definite but on that flat direction, which it maps to zero.
    M = np.column_stack([apply(e) for e in np.eye(k * (d + 1))])
    np.testing.assert_allclose(M, M.T, atol=1e-9 * np.abs(M).max())
    flat = np.r_[np.zeros(k * d), np.ones(k)]
    np.testing.assert_allclose(apply(flat), 0.0, atol=1e-12 * np.abs(M).max())
    eig = np.linalg.eigvalsh((M + M.T) / 2)
    assert abs(eig[0]) <= 1e-12 * eig[-1]
    assert eig[1] > 0
    # Not vacuous: on the leading directions it differs from K-FAC.
    r_top = np.random.default_rng(6).standard_normal(k * (d + 1))
    assert not np.allclose(apply(r_top), kfac(r_top), rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cg_with_the_objective_preconditioner_solves_the_newton_system(dtype):
    # The objective's own preconditioner (K-FAC with the exact leading block) against plain
    # CG and a dense solve of the plain objective's Hessian.
    rng = np.random.default_rng(7)
    X = (rng.integers(0, 256, (400, 100)) / 255).astype(dtype)
    y = np.arange(400) % 8
    obj = SoftmaxObjective(X, y, 8, C=10.0)
    assert 0 < subspace.directions(8, 101) < 101  # a leading block, not the whole Hessian
    w = (rng.standard_normal(obj.n_params) * 0.2).astype(dtype)
    _, g, hessp = obj.loss_grad_hessp(w)
    H = np.column_stack([hessp(e) for e in np.eye(obj.n_params, dtype=dtype)]).astype(np.float64)
    exact = np.linalg.solve((H + H.T) / 2, -g.astype(np.float64))
    tight = 1e-12 if dtype == np.float64 else 1e-7
    p, it = _conjugate_gradient(hessp, g, tight, 500, hessp.preconditioner())
    p0, it0 = _conjugate_gradient(hessp, g, tight, 500)
    assert p.dtype == dtype

    def centred(v):  # the unpenalised intercept's sum over classes is a flat direction of H
        v = np.array(v, np.float64)
        v[-8:] -= v[-8:].mean()
        return v

    def model(v):  # the quadratic model CG minimises, in float64
        v = np.asarray(v, np.float64)
        return float(g @ v + v @ H @ v / 2)

    for solution in (p, p0):
        if dtype == np.float64:
            np.testing.assert_allclose(
                centred(solution), centred(exact), rtol=1e-4, atol=1e-5 * abs(exact).max()
            )
        # float32 CG stops near round-off of the model: compare the model decrease.
        assert model(solution) == pytest.approx(model(exact), rel=1e-4)
    assert it < it0


def test_directions_and_rows():
    assert subspace.directions(10, 785) == 64
    assert subspace.directions(100, 785) == 0  # 6 directions: not worth a block
    assert subspace.directions(3, 5) == 5  # every direction: the whole Hessian
    assert subspace.block_rows(100) is None
    rows = subspace.block_rows(100_000, 1000)
    assert len(rows) == 1000
    assert (rows[0], rows[-1]) == (0, 99_999)
    assert np.all(np.diff(rows) > 0)


def test_without_a_block_the_preconditioner_is_kfac(monkeypatch):
    Xu, _, weight, coef, intercept = make(n=50, d=12, k=3, seed=8)
    proba = softmax(Xu / 255 @ coef.T + intercept, axis=1)
    basis = feature_basis(Xu, weight, scale=1 / 255, fit_intercept=True)
    monkeypatch.setattr(subspace, "MAX_BLOCK", 3 * 7)  # q = 7 < 8 of 13 directions: no block
    assert subspace.directions(3, 13) == 0
    apply = subspace.preconditioner(
        Xu, weight, proba, basis, 0.01, scale=1 / 255, fit_intercept=True, dtype=np.float64
    )
    kw = {"n_features": 12, "fit_intercept": True, "dtype": np.float64}
    r = np.random.default_rng(9).standard_normal(39)
    np.testing.assert_array_equal(apply(r), inverse(basis, proba, weight, 0.01, **kw)(r))

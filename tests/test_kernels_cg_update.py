"""Fused CG vector updates (softreg._kernels.cg_update) and the CG that uses them.

The kernels are compared with the NumPy expressions they replace, on vectors that span several
chunks and several threads; the dot products must not depend on the number of threads; and
:func:`softreg.optim.newton_cg._conjugate_gradient` must return the same step through the fused
loops as through its NumPy path, on a sparse objective's Hessian with its diagonal
preconditioner.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from softreg._kernels import cg_update, jacobi
from softreg.objective import SoftmaxObjective
from softreg.optim import newton_cg

pytestmark = pytest.mark.skipif(not cg_update.AVAILABLE, reason="numba is not installed")

SIZES = [1, 7, cg_update.CHUNK - 1, 3 * cg_update.CHUNK + 5, 5 * cg_update.CHUNK]


def vectors(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    d, hd, p, r, g = (rng.standard_normal(n).astype(dtype) for _ in range(5))
    m = rng.uniform(0.1, 2.0, n).astype(np.float32)
    return d, hd, p, r, g, m


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_matches_numpy(n, dtype):
    d, hd, p, r, g, m = vectors(n, dtype)
    alpha = 0.37
    p_ref = p + dtype(alpha) * d
    r_ref = r - dtype(alpha) * hd
    z_ref = np.multiply(r_ref, m, dtype=dtype)
    gp, pr, rz = cg_update.step(alpha, d, hd, p, r, g, m)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(p, p_ref, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(r, r_ref, rtol=rtol, atol=rtol)
    scale = np.sqrt(n)  # the dots are sums of n terms of order one
    assert gp == pytest.approx(float(g.astype(np.float64) @ p_ref), rel=rtol, abs=rtol * scale)
    assert pr == pytest.approx(float(p_ref.astype(np.float64) @ r_ref), rel=rtol, abs=rtol * scale)
    assert rz == pytest.approx(float(r_ref.astype(np.float64) @ z_ref), rel=rtol, abs=rtol * scale)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_direction_matches_numpy(n, dtype):
    d, _, _, r, _, m = vectors(n, dtype, seed=1)
    expected = np.multiply(r, m, dtype=dtype) + dtype(0.8) * d
    cg_update.direction(0.8, d, r, m)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(d, expected, rtol=rtol, atol=rtol)


def test_dots_do_not_depend_on_the_number_of_threads(monkeypatch):
    n = 9 * cg_update.CHUNK + 3
    results = []
    for workers in (1, 2, 3):
        monkeypatch.setattr(cg_update, "default_workers", lambda w=workers: w)
        d, hd, p, r, g, m = vectors(n, np.float64, seed=2)
        dots = cg_update.step(1.3, d, hd, p, r, g, m)
        cg_update.direction(0.5, d, r, m)
        results.append((dots, d))
    for dots, d in results[1:]:
        assert dots == results[0][0]  # bit for bit
        np.testing.assert_array_equal(d, results[0][1])


def sparse_hessian(dtype, seed=0, n=300, d=2000, k=5):
    """A text-like problem: the Hessian operator at a non-trivial point and its diagonal."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.01, random_state=seed, format="csr", dtype=np.float64)
    X.data = rng.uniform(0.1, 1.0, X.nnz)
    X = X.astype(dtype)
    y = rng.integers(0, k, n)
    obj = SoftmaxObjective(X, y, k, C=3.0)
    w = (rng.standard_normal(obj.n_params) * 0.5).astype(obj.dtype)
    _, g, hessp = obj.loss_grad_hessp(w)
    return g, hessp


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_cg_returns_the_numpy_step(dtype):
    g, hessp = sparse_hessian(dtype)
    assert hessp.preconditioner_name == "diagonal"
    precond = hessp.preconditioner()
    assert isinstance(precond, jacobi.DiagonalInverse)
    assert newton_cg._fusable_diagonal(precond, g, None) is not None

    def plain(r):  # the same operator, hidden from the fused path
        return precond(r)

    for rtol in (0.5, 0.1, 1e-3):
        fused, it_fused = newton_cg._conjugate_gradient(hessp, g, rtol, 50, precond)
        numpy, it_numpy = newton_cg._conjugate_gradient(hessp, g, rtol, 50, plain)
        assert it_fused == it_numpy > 0
        tol = 2e-4 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(fused, numpy, rtol=tol, atol=tol * np.abs(numpy).max())


def test_fused_path_is_skipped_where_it_does_not_apply():
    g, hessp = sparse_hessian(np.float64)
    precond = hessp.preconditioner()
    assert newton_cg._fusable_diagonal(lambda r: precond(r), g, None) is None
    assert newton_cg._fusable_diagonal(precond, g, []) is None  # curvature pairs wanted
    assert newton_cg._fusable_diagonal(precond, g[::2], None) is None

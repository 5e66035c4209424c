"""softreg._kernels: the fused passes against the plain formula, and the K-FAC inverse."""

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from softreg._kernels import feature_basis, hessp, inverse, loss_grad

# Every test here runs on both paths: NumPy/BLAS and numba-compiled (conftest.py).
pytestmark = pytest.mark.usefixtures("numpy_and_compiled")


def make(n=50, d=6, k=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    Xu = rng.integers(0, 256, (n, d)).astype(np.uint8)
    y = rng.integers(0, k, n)
    sw = rng.uniform(0.2, 2.0, n)
    weight = (sw / sw.sum()).astype(dtype)
    coef = rng.standard_normal((k, d)).astype(dtype)
    intercept = rng.standard_normal(k).astype(dtype)
    return Xu, y, weight, coef, intercept


def reference(X, y, weight, coef, intercept):
    """Data term and gradient written the obvious way in float64."""
    X, weight, coef = (np.asarray(a, np.float64) for a in (X, weight, coef))
    z = X @ coef.T + (0.0 if intercept is None else intercept)
    loss = np.sum(weight * (logsumexp(z, axis=1) - z[np.arange(len(y)), y]))
    R = softmax(z, axis=1)
    R[np.arange(len(y)), y] -= 1
    R *= weight[:, None]
    return loss, R.T @ X, R.sum(axis=0)


@pytest.mark.parametrize("n_workers", [1, 2, 3])
@pytest.mark.parametrize("block_rows", [7, 512])
@pytest.mark.parametrize("with_intercept", [True, False])
def test_loss_grad_matches_reference_float64(n_workers, block_rows, with_intercept):
    Xu, y, weight, coef, intercept = make()
    X = Xu / 255.0
    b = intercept if with_intercept else None
    f, gx, gb = loss_grad(
        X, y, weight, coef, b, dtype=np.float64, block_rows=block_rows, n_workers=n_workers
    )
    f_ref, gx_ref, gb_ref = reference(X, y, weight, coef, b)
    assert f == pytest.approx(f_ref, rel=1e-12)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-10, atol=1e-14)
    if with_intercept:
        np.testing.assert_allclose(gb, gb_ref, rtol=1e-10, atol=1e-14)
    else:
        assert gb is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uint8_with_scale_equals_scaled_float_input(dtype):
    # The /255 is folded into the coefficients: no float copy of X, same numbers.
    Xu, y, weight, coef, intercept = make(n=300, dtype=dtype)
    scaled = loss_grad(Xu / 255.0, y, weight, coef, intercept, dtype=dtype, block_rows=64)
    folded = loss_grad(Xu, y, weight, coef, intercept, scale=1 / 255, dtype=dtype, block_rows=64)
    f_ref, gx_ref, gb_ref = reference(Xu / 255.0, y, weight, coef, intercept)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for f, gx, gb in (scaled, folded):
        assert f == pytest.approx(f_ref, rel=rtol)
        assert gx.dtype == dtype
        assert gb.dtype == dtype
        np.testing.assert_allclose(gx, gx_ref, rtol=10 * rtol, atol=10 * rtol * abs(gx_ref).max())
        np.testing.assert_allclose(gb, gb_ref, rtol=10 * rtol, atol=10 * rtol * abs(gb_ref).max())


def test_loss_only_and_probabilities():
    Xu, y, weight, coef, intercept = make()
    proba = np.empty((len(y), coef.shape[0]))
    f, gx, gb = loss_grad(
        Xu,
        y,
        weight,
        coef,
        intercept,
        scale=0.01,
        dtype=np.float64,
        proba_out=proba,
        with_grad=False,
        block_rows=9,
    )
    assert gx is None
    assert gb is None
    assert f == pytest.approx(reference(Xu * 0.01, y, weight, coef, intercept)[0], rel=1e-12)
    np.testing.assert_allclose(proba, softmax(Xu * 0.01 @ coef.T + intercept, axis=1), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_intercept", [True, False])
def test_hessp_matches_gradient_differences(dtype, with_intercept):
    Xu, y, weight, coef, intercept = make(n=80, dtype=np.float64)
    b = intercept if with_intercept else None
    scale = 1 / 255
    proba = np.empty((len(y), coef.shape[0]))
    loss_grad(Xu, y, weight, coef, b, scale=scale, dtype=np.float64, proba_out=proba)
    rng = np.random.default_rng(5)
    V, vb = rng.standard_normal(coef.shape), rng.standard_normal(len(intercept))
    vb = vb if with_intercept else None
    hx, hb = hessp(
        Xu,
        weight.astype(dtype),
        proba.astype(dtype),
        V,
        vb,
        scale=scale,
        dtype=dtype,
        block_rows=11,
        n_workers=2,
    )
    assert hx.dtype == dtype
    # Central differences of the exact float64 gradient along (V, vb).
    h = 1e-5
    shift = (lambda s: None) if vb is None else (lambda s: b + s * vb)
    _, gp, gbp = reference(Xu * scale, y, weight, coef + h * V, shift(h))
    _, gm, gbm = reference(Xu * scale, y, weight, coef - h * V, shift(-h))
    rtol = 1e-5 if dtype == np.float32 else 1e-7
    np.testing.assert_allclose(hx, (gp - gm) / (2 * h), rtol=rtol, atol=rtol * abs(gp).max())
    if with_intercept:
        np.testing.assert_allclose(hb, (gbp - gbm) / (2 * h), rtol=rtol, atol=rtol)
    else:
        assert hb is None


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_kfac_inverse_equals_dense_inverse(fit_intercept):
    Xu, y, weight, coef, intercept = make(n=40, d=3, k=3)
    scale, lam = 1 / 255, 0.05
    proba = softmax(Xu * scale @ coef.T + intercept, axis=1)
    basis = feature_basis(Xu, weight, scale=scale, fit_intercept=fit_intercept, max_rows=10_000)
    apply = inverse(
        basis, proba, weight, lam, n_features=3, fit_intercept=fit_intercept, dtype=np.float64
    )
    # Dense A kron B in the augmented [W, b] layout, then permuted to the flat layout.
    U = Xu * scale
    if fit_intercept:
        U = np.hstack([U, np.ones((len(y), 1))])
    B = (U * weight[:, None]).T @ U / weight.sum()
    A = sum(w * (np.diag(p) - np.outer(p, p)) for w, p in zip(weight, proba, strict=True))
    m = U.shape[1]
    order = [c * m + j for c in range(3) for j in range(3)]
    if fit_intercept:
        order += [c * m + 3 for c in range(3)]
    dense = (np.kron(A, B) + lam * np.eye(3 * m))[np.ix_(order, order)]
    r = np.random.default_rng(3).standard_normal(len(order))
    expected = np.linalg.solve(dense, r)
    # Up to the operator's tiny extra damping (1e-8 of the largest curvature).
    np.testing.assert_allclose(apply(r), expected, rtol=1e-6, atol=1e-6 * abs(expected).max())
    # Not vacuous: a different damping gives a different operator.
    other = inverse(
        basis, proba, weight, 10 * lam, n_features=3, fit_intercept=fit_intercept, dtype=np.float64
    )
    assert not np.allclose(other(r), apply(r), rtol=1e-3)


def test_kfac_inverse_keeps_float32():
    Xu, _y, weight, coef, intercept = make(n=30, d=4, k=3, dtype=np.float32)
    proba = softmax(Xu / 255 @ coef.T + intercept, axis=1).astype(np.float32)
    basis = feature_basis(Xu, weight, scale=1 / 255, fit_intercept=True)
    apply = inverse(basis, proba, weight, 0.0, n_features=4, fit_intercept=True, dtype=np.float32)
    out = apply(np.ones(15, np.float32))
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
    # float32 products, same operator: agrees with the float64 one to float32 precision.
    lam = 1e-3
    r = np.random.default_rng(1).standard_normal(15)
    apply32 = inverse(basis, proba, weight, lam, n_features=4, fit_intercept=True, dtype=np.float32)
    apply64 = inverse(basis, proba, weight, lam, n_features=4, fit_intercept=True, dtype=np.float64)
    ref = apply64(r)
    np.testing.assert_allclose(
        apply32(r.astype(np.float32)), ref, rtol=1e-4, atol=1e-5 * abs(ref).max()
    )

"""softreg._kernels.passes: the fused passes (NumPy and compiled) against the plain formula."""

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from kernels_cases import make
from softreg._kernels import hessp, loss_grad

# Every test here runs on both paths: NumPy/BLAS and numba-compiled (conftest.py).
pytestmark = pytest.mark.usefixtures("numpy_and_compiled")


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

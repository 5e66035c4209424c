"""The numba-compiled passes against the NumPy/BLAS passes and a float64 reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax

from softreg._kernels import compiled, hessp, loss_grad

pytestmark = pytest.mark.skipif(not compiled.AVAILABLE, reason="numba is not installed")

TOL = {np.float32: dict(rtol=2e-5, atol=1e-7), np.float64: dict(rtol=1e-11, atol=1e-15)}


def problem(n, d, k, seed, x_dtype, scale_coef=1.0):
    rng = np.random.default_rng(seed)
    Xu = rng.integers(0, 256, (n, d))
    X = Xu.astype(x_dtype) if np.dtype(x_dtype).kind in "iub" else (Xu / 255.0).astype(x_dtype)
    y = rng.integers(0, k, n)
    sw = rng.uniform(0.2, 2.0, n)
    coef = rng.standard_normal((k, d)) * scale_coef
    intercept = rng.standard_normal(k)
    return X, y, sw / sw.sum(), coef, intercept


def reference(X, y, weight, coef, intercept, scale, v=None, vb=None):
    X = np.asarray(X, np.float64) * scale
    z = X @ coef.T + (0.0 if intercept is None else intercept)
    loss = np.sum(weight * (logsumexp(z, axis=1) - z[np.arange(len(y)), y]))
    P = softmax(z, axis=1)
    R = P.copy()
    R[np.arange(len(y)), y] -= 1
    R *= weight[:, None]
    out = (loss, R.T @ X, R.sum(axis=0), P)
    if v is None:
        return out
    dz = X @ v.T + (0.0 if vb is None else vb)
    H = weight[:, None] * P * (dz - (P * dz).sum(axis=1, keepdims=True))
    return (*out, H.T @ X, H.sum(axis=0))


CASES = [
    # n, d, k, x dtype, arithmetic dtype
    (1, 3, 2, np.float64, np.float64),
    (7, 5, 3, np.float32, np.float32),  # fewer rows than one group, odd class count
    (8, 1, 2, np.uint8, np.float32),
    (61, 13, 5, np.uint8, np.float32),
    (61, 13, 5, np.uint8, np.float64),
    (200, 31, 10, np.float32, np.float32),
    (203, 9, 7, np.float64, np.float64),
    (50, 4, 4, np.int16, np.float32),
]


@pytest.mark.parametrize("n_workers", [1, 3])
@pytest.mark.parametrize("with_intercept", [True, False])
@pytest.mark.parametrize(("n", "d", "k", "x_dtype", "dtype"), CASES)
def test_compiled_passes_match_reference_and_numpy(
    n, d, k, x_dtype, dtype, with_intercept, n_workers
):
    X, y, weight, coef, intercept = problem(n, d, k, seed=n + d + k, x_dtype=x_dtype)
    b = intercept if with_intercept else None
    scale = 1 / 255 if np.dtype(x_dtype).kind in "iub" else 1.0
    rng = np.random.default_rng(1)
    v, vb = rng.standard_normal((k, d)), (rng.standard_normal(k) if with_intercept else None)
    ref = reference(X, y, weight, coef, b, scale, v, vb)
    args = (X, y, weight.astype(dtype), coef.astype(dtype), None if b is None else b.astype(dtype))
    results = {}
    for use in (True, False):
        proba = np.empty((n, k), dtype)
        f, gx, gb = loss_grad(
            *args,
            scale=scale,
            dtype=dtype,
            proba_out=proba,
            n_workers=n_workers,
            use_compiled=use,
        )
        hx, hb = hessp(
            X, weight.astype(dtype), proba, v.astype(dtype),
            None if vb is None else vb.astype(dtype), scale=scale, dtype=dtype,
            n_workers=n_workers, use_compiled=use,
        )  # fmt: skip
        results[use] = (f, gx, gb, proba, hx, hb)
        assert gx.dtype == dtype
        assert hx.dtype == dtype
        assert proba.dtype == dtype
        assert f == pytest.approx(ref[0], rel=TOL[dtype]["rtol"])
        np.testing.assert_allclose(gx, ref[1], **TOL[dtype])
        np.testing.assert_allclose(proba, ref[3], **TOL[dtype])
        np.testing.assert_allclose(hx, ref[4], **TOL[dtype])
        if with_intercept:
            np.testing.assert_allclose(gb, ref[2], **TOL[dtype])
            np.testing.assert_allclose(hb, ref[5], **TOL[dtype])
        else:
            assert gb is None
            assert hb is None
    # The two implementations agree with each other at least as well as with the reference.
    for a, c in zip(results[True][1:], results[False][1:], strict=True):
        if a is not None:
            np.testing.assert_allclose(a, c, **TOL[dtype])


def test_loss_only_skips_the_gradient():
    X, y, weight, coef, intercept = problem(40, 6, 3, seed=0, x_dtype=np.float64)
    f, gx, gb = loss_grad(X, y, weight, coef, intercept, with_grad=False, use_compiled=True,
                          dtype=np.float64)  # fmt: skip
    assert gx is None
    assert gb is None
    assert f == pytest.approx(reference(X, y, weight, coef, intercept, 1.0)[0], rel=1e-12)


def test_float32_tiny_residuals_do_not_change_the_result():
    # Confident predictions: most probabilities are far below float32's normal range times
    # the row weight, which the compiled pass sets to zero (subnormals are slow on x86).
    X, y, weight, coef, intercept = problem(300, 20, 6, seed=3, x_dtype=np.float32)
    coef = coef * 40.0
    ref = reference(X, y, weight, coef, intercept, 1.0)
    assert ref[3].min() < 1e-30  # the case is really exercised
    args = (X, y, weight.astype(np.float32), coef.astype(np.float32))
    f, gx, _gb = loss_grad(*args, intercept.astype(np.float32), dtype=np.float32,
                          use_compiled=True)  # fmt: skip
    assert f == pytest.approx(ref[0], rel=1e-5)
    np.testing.assert_allclose(gx, ref[1], rtol=1e-4, atol=1e-6 * np.abs(ref[1]).max())


def test_large_logits_stay_finite():
    X, y, weight, coef, intercept = problem(64, 8, 4, seed=5, x_dtype=np.float64)
    coef = coef * 1e3  # logits in the thousands: exp would overflow without the max shift
    ref = reference(X, y, weight, coef, intercept, 1.0)
    f, gx, _gb = loss_grad(X, y, weight, coef, intercept, dtype=np.float64, use_compiled=True)
    assert np.isfinite(f)
    assert np.all(np.isfinite(gx))
    assert f == pytest.approx(ref[0], rel=1e-12)
    np.testing.assert_allclose(gx, ref[1], rtol=1e-9, atol=1e-9 * np.abs(ref[1]).max())


def test_use_compiled_needs_a_c_ordered_array():
    X, y, weight, coef, intercept = problem(16, 4, 3, seed=0, x_dtype=np.float64)
    with pytest.raises(ValueError, match="C-ordered"):
        loss_grad(np.asfortranarray(X), y, weight, coef, intercept, dtype=np.float64,
                  use_compiled=True)  # fmt: skip
    # Automatic choice: a Fortran-ordered X silently takes the NumPy pass, same numbers.
    auto = loss_grad(np.asfortranarray(X), y, weight, coef, intercept, dtype=np.float64)
    ref = loss_grad(X, y, weight, coef, intercept, dtype=np.float64, use_compiled=True)
    assert auto[0] == pytest.approx(ref[0], rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40),
    d=st.integers(1, 12),
    k=st.integers(2, 7),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float32, np.float64]),
    workers=st.integers(1, 4),
)
def test_compiled_equals_numpy_pass(n, d, k, seed, dtype, workers):
    X, y, weight, coef, intercept = problem(n, d, k, seed, x_dtype=np.uint8)
    args = (X, y, weight.astype(dtype), coef.astype(dtype), intercept.astype(dtype))
    kw = dict(scale=1 / 255, dtype=dtype, n_workers=workers)
    pa, pb = np.empty((n, k), dtype), np.empty((n, k), dtype)
    fa, ga, ba = loss_grad(*args, proba_out=pa, use_compiled=True, **kw)
    fb, gb_, bb = loss_grad(*args, proba_out=pb, use_compiled=False, **kw)
    assert fa == pytest.approx(fb, rel=TOL[dtype]["rtol"], abs=1e-12)
    np.testing.assert_allclose(ga, gb_, **TOL[dtype])
    np.testing.assert_allclose(ba, bb, **TOL[dtype])
    np.testing.assert_allclose(pa, pb, **TOL[dtype])
    v = np.random.default_rng(seed).standard_normal((k, d)).astype(dtype)
    ha = hessp(X, args[2], pa, v, None, use_compiled=True, **kw)
    hb = hessp(X, args[2], pa, v, None, use_compiled=False, **kw)
    np.testing.assert_allclose(ha[0], hb[0], **TOL[dtype])
    assert ha[1] is None
    assert hb[1] is None


def test_compiled_pass_refuses_what_would_index_out_of_bounds():
    # The compiled loops do not check bounds, so the wrappers do.
    X, y, weight, coef, intercept = problem(16, 4, 3, seed=0, x_dtype=np.float64)
    kw = dict(dtype=np.float64, use_compiled=True)
    with pytest.raises(ValueError, match=r"class indices in 0..2 \(n_classes=3\), got labels"):
        loss_grad(X, np.where(y == 0, 3, y), weight, coef, intercept, **kw)
    with pytest.raises(ValueError, match="class indices"):
        loss_grad(X, y - 1, weight, coef, intercept, **kw)
    with pytest.raises(ValueError, match="16 labels"):
        loss_grad(X, y[:-1], weight, coef, intercept, **kw)
    with pytest.raises(ValueError, match="proba_out"):
        loss_grad(X, y, weight, coef, intercept, proba_out=np.empty((15, 3)), **kw)
    with pytest.raises(ValueError, match="proba must have shape"):
        hessp(X, weight, np.empty((16, 2)), coef, intercept, **kw)

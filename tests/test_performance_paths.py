"""The fast paths against the plain ones: uint8 + scale, fused dense passes, preconditioned CG."""

import gzip
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from softreg import SoftmaxRegression
from softreg.objective import SoftmaxObjective
from softreg.optim import minimize_lbfgs, minimize_newton_cg


def pixels(n=120, d=20, k=4, seed=0):
    rng = np.random.default_rng(seed)
    Xu = rng.integers(0, 256, (n, d)).astype(np.uint8)
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    sw = rng.uniform(0.5, 2.0, n)
    return Xu, y, sw


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_uint8_with_scale_matches_float_objective(fit_intercept):
    Xu, y, sw = pixels()
    fast = SoftmaxObjective(Xu, y, 4, sw, C=0.5, fit_intercept=fit_intercept, scale=1 / 255)
    plain = SoftmaxObjective(
        (Xu / 255).astype(np.float32), y, 4, sw, C=0.5, fit_intercept=fit_intercept
    )
    assert fast.dtype == np.float32
    assert fast.X is Xu
    w = np.random.default_rng(1).standard_normal(fast.n_params).astype(np.float32)
    f1, g1, h1 = fast.loss_grad_hessp(w)
    f2, g2, h2 = plain.loss_grad_hessp(w)
    assert g1.dtype == np.float32
    assert f1 == pytest.approx(f2, rel=1e-5)
    assert fast.loss(w) == pytest.approx(f2, rel=1e-5)
    np.testing.assert_allclose(g1, g2, rtol=1e-4, atol=1e-5 * np.abs(g2).max())
    v = np.random.default_rng(2).standard_normal(fast.n_params).astype(np.float32)
    hv = h2(v)
    np.testing.assert_allclose(h1(v), hv, rtol=1e-4, atol=1e-5 * np.abs(hv).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_dense_pass_matches_plain_sparse_pass(dtype):
    # The sparse path is the plain blocked implementation; the dense one goes through the
    # fused kernels (with blocks split between threads). Same numbers, same dtype.
    Xu, y, sw = pixels(n=300, d=15)
    X = (Xu / 255).astype(dtype)
    dense = SoftmaxObjective(X, y, 4, sw, C=2.0, block_size=32)
    sparse = SoftmaxObjective(sp.csr_matrix(X), y, 4, sw, C=2.0)
    w = np.random.default_rng(3).standard_normal(dense.n_params).astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    fd, gd, hd = dense.loss_grad_hessp(w)
    fs, gs, hs = sparse.loss_grad_hessp(w)
    assert gd.dtype == dtype
    assert fd == pytest.approx(fs, rel=rtol)
    np.testing.assert_allclose(gd, gs, rtol=10 * rtol, atol=10 * rtol * np.abs(gs).max())
    v = np.ones(dense.n_params, dtype)
    ref = hs(v)
    np.testing.assert_allclose(hd(v), ref, rtol=10 * rtol, atol=10 * rtol * np.abs(ref).max())


def test_scale_on_float_input_equals_scaled_input():
    Xu, y, sw = pixels()
    X = Xu.astype(np.float64)
    a = SoftmaxObjective(X, y, 4, sw, scale=0.01)
    b = SoftmaxObjective(X * 0.01, y, 4, sw)
    w = np.random.default_rng(4).standard_normal(a.n_params)
    fa, ga = a.loss_grad(w)
    fb, gb = b.loss_grad(w)
    assert fa == pytest.approx(fb, rel=1e-12)
    np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, np.nan])
def test_bad_scale_is_rejected(bad):
    Xu, y, _ = pixels()
    with pytest.raises(ValueError, match="scale"):
        SoftmaxObjective(Xu, y, 4, scale=bad)


class CountingObjective:
    """Counts Hessian-vector products; optionally hides the preconditioner."""

    def __init__(self, objective, precondition):
        self.objective, self.precondition, self.hvps = objective, precondition, 0

    def __getattr__(self, name):
        return getattr(self.objective, name)

    def loss_grad_hessp(self, w):
        f, g, h = self.objective.loss_grad_hessp(w)
        counter = self

        class Operator:
            def __call__(self, v):
                counter.hvps += 1
                return h(v)

        op = Operator()
        if self.precondition:
            op.preconditioner = h.preconditioner
        return f, g, op


def test_preconditioned_newton_reaches_lbfgs_minimiser_with_fewer_hvps():
    # Digits pixels (0..16) are correlated, so the Hessian is ill-conditioned in features:
    # the Kronecker-factored preconditioner must pay for itself in Hessian-vector products.
    X, y = load_digits(return_X_y=True)
    obj = SoftmaxObjective(X, y, 10, C=10.0, scale=1 / 16)
    w0 = np.zeros(obj.n_params)
    ref = minimize_lbfgs(obj, w0, tol=1e-9, max_iter=5000)
    counts = {}
    for precondition in (True, False):
        counting = CountingObjective(obj, precondition)
        res = minimize_newton_cg(counting, w0, tol=1e-7, max_iter=100)
        assert res.converged
        assert res.grad_norm <= 1e-7
        # max|g| <= 1e-7 leaves a gap of order g^T H^-1 g / 2 to the optimum: ~1e-9 relative
        # here (the smallest curvature is 1 / (C n) ~ 6e-5), so that is the scale to compare.
        assert res.fun == pytest.approx(ref.fun, rel=1e-8)
        coef, _ = obj.unravel(res.x)
        ref_coef, _ = obj.unravel(ref.x)
        np.testing.assert_allclose(coef, ref_coef, atol=1e-4 * np.abs(ref_coef).max())
        counts[precondition] = counting.hvps
    assert counts[True] < 0.7 * counts[False]


def test_estimator_input_scale_uint8_matches_float_fit():
    Xu, y, _ = pixels(n=400, d=30, seed=5)
    fast = SoftmaxRegression(C=0.5, tol=1e-7, input_scale=1 / 255).fit(Xu, y)
    plain = SoftmaxRegression(C=0.5, tol=1e-7).fit((Xu / 255).astype(np.float32), y)
    assert fast.coef_.dtype == np.float32
    np.testing.assert_allclose(fast.coef_, plain.coef_, atol=2e-3 * np.abs(plain.coef_).max())
    np.testing.assert_allclose(fast.intercept_, plain.intercept_, atol=2e-3)
    # Prediction applies the same scale to raw pixels.
    np.testing.assert_allclose(
        fast.predict_proba(Xu), plain.predict_proba((Xu / 255).astype(np.float32)), atol=1e-3
    )
    assert fast.get_params()["input_scale"] == pytest.approx(1 / 255)


def test_estimator_rejects_bad_input_scale():
    Xu, y, _ = pixels()
    with pytest.raises(ValueError, match="input_scale"):
        SoftmaxRegression(input_scale=-1.0).fit(Xu, y)


def test_uint8_fit_makes_no_float_copy_of_X():
    # A float32 copy of X would be 4 bytes per pixel; the fit's whole traced peak stays below
    # the size of the uint8 data itself (blocks, probabilities and parameters are small).
    rng = np.random.default_rng(6)
    Xu = rng.integers(0, 256, (20000, 400)).astype(np.uint8)
    y = rng.integers(0, 5, 20000)
    model = SoftmaxRegression(max_iter=3, tol=0.0, input_scale=1 / 255)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(Xu, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < Xu.nbytes, f"peak {peak / 2**20:.1f} MiB >= uint8 data {Xu.nbytes / 2**20} MiB"


def _read_idx_gz(path):
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def test_real_fashion_mnist_uint8_fit_reaches_sklearn_minimiser(real_fashion_mnist_dir):
    images = _read_idx_gz(real_fashion_mnist_dir / "train-images-idx3-ubyte.gz")[:1500]
    labels = _read_idx_gz(real_fashion_mnist_dir / "train-labels-idx1-ubyte.gz")[:1500]
    Xu = images.reshape(len(images), -1)
    model = SoftmaxRegression(C=0.05, input_scale=1 / 255).fit(Xu, labels)
    X64 = Xu / 255.0
    ref = LogisticRegression(C=0.05, tol=1e-8, solver="newton-cg", max_iter=1000).fit(X64, labels)
    obj = SoftmaxObjective(X64, labels, 10, C=0.05)
    f_ours = obj.loss(np.concatenate([model.coef_.ravel(), model.intercept_]).astype(np.float64))
    f_ref = obj.loss(np.concatenate([ref.coef_.ravel(), ref.intercept_]))
    # Default tol=1e-4 on max|grad| plus the polishing step: within 1e-4 of the optimum.
    assert f_ref <= f_ours <= f_ref + 1e-4
    assert np.mean(model.predict(Xu) == ref.predict(X64)) > 0.99


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_other_solvers_accept_uint8_with_input_scale(solver):
    Xu, y, _ = pixels(n=300, d=12, seed=7)
    kwargs = {"solver": solver, "random_state": 0, "max_iter": 3, "tol": 0.0}
    fast = SoftmaxRegression(input_scale=1 / 255, **kwargs)
    plain = SoftmaxRegression(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 3 iterations on purpose
        fast.fit(Xu, y)
        plain.fit((Xu / 255).astype(np.float32), y)
    np.testing.assert_allclose(fast.coef_, plain.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(fast.predict(Xu), plain.predict((Xu / 255).astype(np.float32)))

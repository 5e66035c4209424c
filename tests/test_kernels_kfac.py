"""softreg._kernels.kfac: the Kronecker-factored inverse against the dense inverse."""

import numpy as np
import pytest
from scipy.special import softmax

from kernels_cases import make
from softreg._kernels import feature_basis, inverse

# Every test here runs on both paths: NumPy/BLAS and numba-compiled (conftest.py).
pytestmark = pytest.mark.usefixtures("numpy_and_compiled")


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

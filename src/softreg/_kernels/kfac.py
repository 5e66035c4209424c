"""A Kronecker-factored preconditioner for the softmax objective's Hessian.

For one row with augmented features ``u = [scale * x, 1]`` (the 1 only with an intercept) the
data Hessian in the augmented coefficients ``[W, b]`` (n_classes x (n_features + 1), raveled
row-major) is ``M_i kron u_i u_i^T`` with ``M_i = diag(p_i) - p_i p_i^T``. Summed with weights
``w_i`` and approximated as in K-FAC (Martens and Grosse, 2015) by a product of averages,

.. math::

    H \\approx A \\otimes B + \\lambda I, \\quad A = \\sum_i w_i M_i, \\quad
    B = \\sum_i w_i u_i u_i^T \\big/ \\sum_i w_i,

whose inverse is exact and cheap through the eigendecompositions ``A = U a U^T`` and
``B = V b V^T``: ``(A kron B + lambda I)^{-1} vec(G) = vec(U [(U^T G V) / (a b^T + lambda)] V^T)``.
``B`` depends only on ``X`` and is formed once from an evenly spaced subset of rows; ``A`` is
a (n_classes x n_classes) sum over the stored probabilities, formed at every Newton iterate.
Pixel features are strongly correlated, so ``B`` carries most of the Hessian's
ill-conditioning: on Fashion-MNIST, conjugate gradients preconditioned by this operator
needed about a quarter of the Hessian-vector products of plain CG to the same optimum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from softreg._kernels.threads import single_threaded_blas

Array = NDArray[Any]

# Most augmented features (n_features + intercept) the preconditioner is used for: its feature
# factor is a dense (d+1) x (d+1) matrix, its eigendecomposition O(d^3): 8 MB and ~0.2 s at
# this size. Wider X (text, one-hot) gets the diagonal one (:mod:`softreg._kernels.jacobi`).
MAX_FEATURES = 1025

# Rows used for B: the Gram matrix costs rows * (n_features + 1)^2 * 2 flops (5 GFLOP for
# 4096 rows of 785 features), a few passes' worth, once per fit.
GRAM_ROWS = 4096
_GRAM_CHUNK = 256  # rows converted to float64 at a time, so the Gram needs no copy of X


def gram_rows(n_samples: int, weight: Array, max_rows: int) -> tuple[Array, Array]:
    """The rows ``B`` is formed from (at most ``max_rows``, evenly spaced: deterministic) and
    their weights, float64, normalised to sum 1 (equal when they sum to 0)."""
    rows = np.unique(np.linspace(0, n_samples - 1, min(n_samples, max_rows)).astype(np.intp))
    w = np.asarray(weight[rows], dtype=np.float64)
    total = w.sum()
    return rows, (w / total if total > 0 else np.full(len(rows), 1.0 / len(rows)))


def feature_basis(
    X: Any, weight: Array, *, scale: float, fit_intercept: bool, max_rows: int = GRAM_ROWS
) -> tuple[Array, Array]:
    """Eigen-decomposition ``(b, V)`` of ``B``, the weighted second moment of ``[scale x, 1]``.

    Uses at most ``max_rows`` evenly spaced rows of ``X`` (deterministic; no random state).
    Returns ``b`` of shape (m,) (clipped at 0) and ``V`` of shape (m, m), float64, with
    ``m = n_features + fit_intercept``.
    """
    n, d = X.shape
    rows, w = gram_rows(n, weight, max_rows)
    m = d + int(fit_intercept)
    B = np.zeros((m, m))
    U = np.ones((_GRAM_CHUNK, m))  # the last column stays 1: the intercept's feature
    for start in range(0, len(rows), _GRAM_CHUNK):
        chunk = rows[start : start + _GRAM_CHUNK]
        Uc = U[: len(chunk)]
        Uc[:, :d] = X[chunk].toarray() if sp.issparse(X) else X[chunk]  # one chunk dense
        Uc[:, :d] *= scale
        B += (Uc * w[start : start + len(chunk), None]).T @ Uc
    b, V = np.linalg.eigh(B)
    return np.maximum(b, 0.0), V


# Above this many augmented features ``largest_eigenvalue`` does not form ``B`` (a dense
# m x m matrix: 126 GiB at the 130108 of a 20-newsgroups-shaped problem) but runs Lanczos on
# products with the rows instead.
DENSE_EIGEN_MAX = 2048


def largest_eigenvalue(
    X: Any, weight: Array, *, scale: float, fit_intercept: bool, max_rows: int = GRAM_ROWS
) -> float:
    """The largest eigenvalue of ``B`` (see :func:`feature_basis`: same rows, same weights).

    Exact (from ``B``'s eigendecomposition) for at most ``DENSE_EIGEN_MAX`` augmented
    features; above that from Lanczos iterations (``scipy.sparse.linalg.eigsh``, relative
    tolerance 1e-8) on ``v -> U^T (w * (U v))`` with ``U`` the rows ``[scale x, 1]``, never
    forming ``B``: memory O(rows + n_features) beyond the rows of X themselves.

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> round(largest_eigenvalue(X, np.ones(2), scale=1.0, fit_intercept=False), 12)
    2.0
    """
    n, d = X.shape
    m = d + int(fit_intercept)
    if m <= DENSE_EIGEN_MAX:
        b, _ = feature_basis(X, weight, scale=scale, fit_intercept=fit_intercept, max_rows=max_rows)
        return float(b.max())
    from scipy.sparse.linalg import LinearOperator, eigsh

    rows, w = gram_rows(n, weight, max_rows)
    Xr = sp.csr_matrix(X[rows], dtype=np.float64) if sp.issparse(X) else np.asarray(X[rows])

    def matvec(v: Array) -> Array:
        v = np.ravel(v)
        u = scale * np.asarray(Xr @ v[:d], dtype=np.float64)
        if fit_intercept:
            u += v[d]
        t = w * u
        out = np.empty(m)
        out[:d] = scale * np.asarray(Xr.T @ t)
        if fit_intercept:
            out[d] = t.sum()
        return out

    operator = LinearOperator((m, m), matvec=matvec, dtype=np.float64)
    start = np.ones(m) / np.sqrt(m)  # deterministic: no random start vector
    top = eigsh(operator, k=1, which="LA", tol=1e-8, v0=start, return_eigenvectors=False)
    return max(float(top[0]), 0.0)


def inverse(
    basis: tuple[Array, Array],
    proba: Array,
    weight: Array,
    l2_strength: float,
    *,
    n_features: int,
    fit_intercept: bool,
    dtype: Any,
) -> Callable[[Array], Array]:
    """``r -> (A kron B + lambda I)^{-1} r`` for flat vectors ``r`` in the objective's layout.

    ``proba`` (n_samples, n_classes) and ``weight`` (n_samples,) give ``A``. ``lambda`` is
    ``l2_strength`` plus a tiny damping, so the operator stays finite along the intercept's
    flat direction (``A 1 = 0``) and without a penalty.
    """
    P = np.asarray(proba, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    Pw = P * w[:, None]
    A = np.diag(Pw.sum(axis=0)) - Pw.T @ P
    a, U = np.linalg.eigh(A)
    b, V = basis
    a = np.maximum(a, 0.0)
    damping = l2_strength + 1e-8 * max(float(a.max()) * float(b.max()), 1e-300)
    k, d = P.shape[1], n_features
    # The products run in the objective's dtype: float32 halves their time, and rounding at
    # float32 precision is harmless in a preconditioner (the factors are computed in float64).
    work = np.dtype(np.float32) if np.dtype(dtype) == np.float32 else np.dtype(np.float64)
    inv_denom = (1.0 / (np.outer(a, b) + damping)).astype(work)
    U, V = U.astype(work), V.astype(work)

    def apply(r: Array) -> Array:
        rw = np.asarray(r, dtype=work)
        G = rw[: k * d].reshape(k, d)
        if fit_intercept:
            G = np.hstack([G, rw[k * d :, None]])
        # One BLAS thread: these products are small (k x m times m x m), and OpenBLAS's
        # worker threads keep spinning after a multi-threaded call, taking the cores from the
        # next pass's own threads (measured: Hessian-vector passes 2x slower inside a fit).
        with single_threaded_blas():
            Z = U @ ((U.T @ G @ V) * inv_denom) @ V.T
        out = Z[:, :d].ravel()
        if fit_intercept:
            out = np.concatenate([out, Z[:, d]])
        return out.astype(dtype, copy=False)

    return apply

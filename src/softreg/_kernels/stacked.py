"""Preconditioners for several softmax models fitted together on one ``X``.

The stacked objective (:mod:`softreg.objective_stacked`) has a block-diagonal Hessian, one
block per model, in the flat model-major layout ``[w_1, ..., w_M]`` (each ``w_m`` laid out as
in :mod:`softreg.objective`). These are the one-model preconditioners applied block by block:

- :func:`kfac_inverse`: each model's Kronecker-factored inverse
  (:func:`softreg._kernels.kfac.inverse`), all sharing one feature basis, so that the products
  with it are wide (every model's classes at once);
- :func:`diagonal_inverse`: each model's inverse Hessian diagonal
  (:mod:`softreg._kernels.jacobi`), for wide X where a ``d x d`` basis would not fit.

Probabilities come as (n_samples, n_models, n_classes), row weights as (n_samples, n_models)
(each column a model's ``s_im / S_m``), penalties as (n_models,).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg._kernels import jacobi
from softreg._kernels.passes import single_threaded_blas

Array = NDArray[Any]


def kfac_inverse(
    basis: tuple[Array, Array],
    proba: Array,
    weight: Array,
    l2_strength: Array,
    *,
    n_features: int,
    fit_intercept: bool,
    dtype: Any,
) -> Callable[[Array], Array]:
    """``r -> (A_m kron B + lambda_m I)^{-1} r_m`` for every model ``m``, with the shared basis
    ``B = V diag(b) V^T`` and ``A_m = sum_i w_im (diag(p_im) - p_im p_im^T)``.

    Examples
    --------
    >>> P = np.full((4, 2, 3), 1 / 3)  # 4 rows, 2 models, 3 classes
    >>> basis = (np.ones(2), np.eye(2))  # 1 feature + intercept
    >>> apply = kfac_inverse(basis, P, np.full((4, 2), 0.25), np.ones(2), n_features=1,
    ...                      fit_intercept=True, dtype=np.float64)
    >>> apply(np.ones(12)).shape
    (12,)
    """
    b, V = basis
    _, M, k = proba.shape
    d = n_features
    m = d + int(fit_intercept)
    per_model = k * m
    P = proba.astype(np.float64)
    Pw = P * weight.astype(np.float64)[:, :, None]
    A = np.einsum("imk,imj->mkj", Pw, P)
    A = np.stack([np.diag(s) for s in Pw.sum(axis=0)]) - A
    a, U = np.linalg.eigh(A)
    a = np.maximum(a, 0.0)
    bmax = max(float(b.max()), 1e-300)
    damping = l2_strength + 1e-8 * np.maximum(a.max(axis=1) * bmax, 1e-300)
    work = np.dtype(np.float32) if np.dtype(dtype) == np.float32 else np.dtype(np.float64)
    inv_denom = (1.0 / (a[:, :, None] * b[None, None, :] + damping[:, None, None])).astype(work)
    Uw, Vw = U.astype(work), V.astype(work)

    def apply(r: Array) -> Array:
        rw = np.asarray(r, dtype=work).reshape(M, per_model)
        G = np.empty((M, k, m), work)
        G[:, :, :d] = rw[:, : k * d].reshape(M, k, d)
        if fit_intercept:
            G[:, :, d] = rw[:, k * d :]
        with single_threaded_blas():
            T = np.matmul(Uw.transpose(0, 2, 1), G)  # U_m^T G_m
            T = (T.reshape(M * k, m) @ Vw).reshape(M, k, m) * inv_denom
            Z = np.matmul(Uw, (T.reshape(M * k, m) @ Vw.T).reshape(M, k, m))
        out = np.empty((M, per_model), work)
        out[:, : k * d] = Z[:, :, :d].reshape(M, k * d)
        if fit_intercept:
            out[:, k * d :] = Z[:, :, d]
        return out.ravel().astype(dtype, copy=False)

    return apply


def diagonal_inverse(
    squared_product: Callable[[Array], Array],
    proba: Array,
    weight: Array,
    l2_strength: Array,
    *,
    scale: float,
    fit_intercept: bool,
    dtype: Any,
) -> jacobi.DiagonalInverse:
    """``r -> r / (diag H + lambda)`` over all the models, in the flat model-major layout.

    Model ``m``'s entry for ``W[c, j]`` is ``sum_i w_im p_imc (1 - p_imc) (scale x_ij)^2``:
    ``squared_product(H)`` must return ``H^T (X * X)`` (n_cols, n_features) for an
    (n_samples, n_cols) ``H``, one pass over ``X``. Each model's block is
    :func:`softreg._kernels.jacobi.inverse` of its own diagonal.

    Examples
    --------
    >>> X = np.array([[1.0], [2.0]])
    >>> inv = diagonal_inverse(lambda H: H.T @ X**2, np.full((2, 1, 2), 0.5),
    ...                        np.full((2, 1), 0.5), np.zeros(1), scale=1.0,
    ...                        fit_intercept=False, dtype=np.float64)
    >>> inv.inverse_diagonal.round(4).tolist()  # 1 / (0.25 * (1 + 4) / 2) per class
    [1.6, 1.6]
    """
    n, M, k = proba.shape
    P = proba.astype(np.float64)
    H = (P * (1.0 - P) * weight.astype(np.float64)[:, :, None]).reshape(n, M * k)
    D = squared_product(H) * (scale * scale)  # (M * k, d)
    db = H.sum(axis=0).reshape(M, k)
    parts = [
        jacobi.inverse(
            (D[m * k : (m + 1) * k], db[m]),
            float(l2_strength[m]),
            fit_intercept=fit_intercept,
            dtype=dtype,
        ).inverse_diagonal
        for m in range(M)
    ]
    return jacobi.DiagonalInverse(np.concatenate(parts), np.dtype(dtype))

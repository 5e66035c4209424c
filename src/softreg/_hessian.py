"""The exact dense Hessian of the summed softmax negative log-likelihood, for inference.

Conventions
-----------
Parameters are laid out as an array ``theta`` of shape (n_classes, n_terms), row ``k`` being
class ``k``'s ``[intercept, coef_k]`` (``n_terms = n_features + 1``; without an intercept just
``coef_k``, ``n_terms = n_features``), raveled in C order: parameter ``(k, j)`` is entry
``k * n_terms + j``. With ``x~_i = [1, scale * x_i]`` the logits are ``z_i = theta x~_i``, and
the function differentiated is the *sum* (not the mean) over samples

.. math::

    F(\\theta) = \\sum_i s_i \\left[\\operatorname{logsumexp}(z_i) - z_{i, y_i}\\right]
               + \\frac{1}{2C} \\lVert W \\rVert_F^2 = S \\, f(w),

``S = sum(s)`` times :class:`softreg.objective.SoftmaxObjective`'s mean objective (L2 part only;
``C = inf``: no penalty; the intercept is never penalised). Its Hessian is

.. math::

    H = \\sum_i s_i \\left(\\operatorname{diag}(p_i) - p_i p_i^\\top\\right) \\otimes
        \\tilde x_i \\tilde x_i^\\top + \\frac{1}{C} I_{\\mathrm{coef}},

so the block of classes ``(k, l)`` is the weighted Gram matrix ``X~^T diag(c_kl) X~`` with
``c_kl = s * (p_k [k = l] - p_k p_l)``. The HC0 "meat" is ``sum_i s_i^2 g_i g_i^T`` with the
per-sample gradient ``g_i = (p_i - e_{y_i}) (x) x~_i``: blocks ``X~^T diag(s^2 r_k r_l) X~``.
Like the objective's fused passes, every quantity comes from one pass over row blocks of X
(dense or CSR, any dtype), in float64, each block read once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

Array = NDArray[Any]

#: Rows per block: the float64 block of X~ (block_rows x n_terms) stays ~32 MB at 784 features.
BLOCK_ROWS = 4096


@dataclass
class DenseHessian:
    """What one pass over the data gives; arrays in the layout of the module docstring.

    Attributes
    ----------
    hessian : ndarray of shape (n_classes * n_terms, n_classes * n_terms)
        Exact Hessian of ``F`` (penalty included).
    grad : ndarray of shape (n_classes, n_terms)
        Gradient of ``F`` (penalty included).
    loglik : float
        ``sum_i s_i log p_{i, y_i}`` (the weighted log-likelihood, no penalty).
    proba_true : ndarray of shape (n_samples,)
        Fitted probability of each sample's own class.
    meat : ndarray of shape (n_classes * n_terms, n_classes * n_terms) or None
        HC0 meat ``sum_i s_i^2 g_i g_i^T`` when asked for.
    """

    hessian: Array
    grad: Array
    loglik: float
    proba_true: Array
    meat: Array | None


def _terms(Xb: Any, scale: float, fit_intercept: bool) -> Array:
    block = Xb.toarray() if sp.issparse(Xb) else np.asarray(Xb)
    block = block.astype(np.float64) * scale
    if fit_intercept:
        block = np.hstack([np.ones((block.shape[0], 1)), block])
    return block


def dense_hessian(
    X: Any,
    y: Array,
    sample_weight: Array,
    theta: Array,
    *,
    C: float,
    fit_intercept: bool,
    scale: float = 1.0,
    with_meat: bool = False,
    block_rows: int = BLOCK_ROWS,
) -> DenseHessian:
    """Exact Hessian, gradient and log-likelihood of ``F`` at ``theta`` (module docstring).

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    y : ndarray of int of shape (n_samples,)
        Class indices.
    sample_weight : ndarray of shape (n_samples,)
    theta : ndarray of shape (n_classes, n_terms)
        ``[intercept, coef]`` per class (see the module docstring).
    C : float
        Inverse L2 strength; ``np.inf`` for none.
    fit_intercept : bool
    scale : float, default=1.0
        The model sees ``scale * X``.
    with_meat : bool, default=False
        Also accumulate the HC0 meat.
    block_rows : int, default=4096

    Returns
    -------
    DenseHessian

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> out = dense_hessian(X, np.array([0, 1, 1]), np.ones(3), np.zeros((2, 2)),
    ...                     C=np.inf, fit_intercept=True)
    >>> out.hessian.shape, round(out.loglik, 6)  # 3 log(1/2)
    ((4, 4), -2.079442)
    """
    n_samples = X.shape[0]
    n_classes, n_terms = theta.shape
    theta = np.asarray(theta, dtype=np.float64)
    s = np.asarray(sample_weight, dtype=np.float64)
    y = np.asarray(y, dtype=np.intp)
    H = np.zeros((n_classes, n_terms, n_classes, n_terms))
    M = np.zeros_like(H) if with_meat else None
    grad = np.zeros((n_classes, n_terms))
    loglik = 0.0
    proba_true = np.empty(n_samples)
    for start in range(0, n_samples, block_rows):
        stop = min(start + block_rows, n_samples)
        Xt = _terms(X[start:stop], scale, fit_intercept)
        sb, yb, rows = s[start:stop], y[start:stop], np.arange(stop - start)
        logits = Xt @ theta.T
        # Stable log_softmax: shift by the row max, so exp never overflows (never log(softmax)).
        logits -= logits.max(axis=1, keepdims=True)
        log_proba = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        proba = np.exp(log_proba)
        loglik += float(sb @ log_proba[rows, yb])
        proba_true[start:stop] = proba[rows, yb]
        residual = proba.copy()
        residual[rows, yb] -= 1
        grad += (residual * sb[:, None]).T @ Xt
        for k in range(n_classes):
            for l in range(k, n_classes):
                # d^2/dz_k dz_l [logsumexp(z) - z_y] = p_k [k = l] - p_k p_l.
                c = -sb * proba[:, k] * proba[:, l]
                if k == l:
                    c += sb * proba[:, k]
                H[k, :, l, :] += Xt.T @ (Xt * c[:, None])
                if M is not None:
                    m = sb * sb * residual[:, k] * residual[:, l]
                    M[k, :, l, :] += Xt.T @ (Xt * m[:, None])
    for target in (H, M):
        if target is None:
            continue
        for k in range(n_classes):
            for l in range(k + 1, n_classes):
                target[l, :, k, :] = target[k, :, l, :].T
    if np.isfinite(C):
        first = 1 if fit_intercept else 0
        for k in range(n_classes):
            idx = np.arange(first, n_terms)
            H[k, idx, k, idx] += 1.0 / C
        grad[:, first:] += theta[:, first:] / C
    size = n_classes * n_terms
    return DenseHessian(
        hessian=H.reshape(size, size),
        grad=grad,
        loglik=loglik,
        proba_true=proba_true,
        meat=None if M is None else M.reshape(size, size),
    )

"""The exact Hessian on the top feature eigen-subspace, on top of the K-FAC preconditioner.

:mod:`softreg._kernels.kfac` approximates the data Hessian ``sum_i w_i M_i kron u_i u_i^T``
(``M_i = diag(p_i) - p_i p_i^T``, ``u_i = [scale x_i, 1]``) by ``A kron B``, in the
eigenbasis ``V`` of ``B``. Its error is largest where the class curvature ``M_i`` and the
features are correlated, and most of that sits in the leading directions of ``B``: pixel
features put most of their variance in a few dozen of them. Here the Hessian is formed
exactly on ``span{e_c kron v_s}`` for the ``q`` leading eigenvectors ``v_s`` of ``B``,

.. math::

    H_q = \\sum_i w_i M_i \\otimes t_i t_i^T, \\qquad t_i = V_q^T u_i,

a (k q) x (k q) matrix, plus the penalty ``lambda V_q^T E V_q`` (``E`` leaves out the
intercept), and the preconditioner inverts it there and ``A kron B + lambda I`` on the other
eigen-directions (a block-diagonal inverse in the basis ``I kron V``).

Measured on full Fashion-MNIST (C=1, float32, one thread): on the Newton systems of the last
iterations, conjugate gradients took 11 to 12 iterations with q = 64 where K-FAC with
curvature pairs took 22 to 26 (q = 32: 14 to 15; q = 128: 7 to 9); a block from 7500 rows
did as well as one from all 60000, and one built at the previous iterate as well as a fresh
one (one from five iterates back did not). A randomised Nystrom preconditioner (Frangella,
Tropp and Udell, 2023) of the K-FAC-preconditioned Hessian did not help: its sketched
spectrum was flat (largest / 20th-100th eigenvalue 1 to 3), K-FAC having already taken the
decay. Over a whole fit, q = 64 from 4096 rows: 115 Hessian-vector products became 60 to 63
and the fit took 0.55 of its time (with q = 96 or 128 fewer products, but a dearer block).

Forming ``H_q`` costs ``rows (k q)^2`` multiply-adds (``q = 64``, 4096 rows: about 40 ms on
one thread, less than a Hessian-vector pass), in row chunks of the arithmetic dtype so no
copy of ``X`` is made; the rows are an evenly spaced subset, like ``B``'s. It is formed at
every Newton iterate from that iterate alone, so a run resumed from its saved state retraces
the same iterates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import NDArray

from softreg._kernels import kfac
from softreg._kernels.threads import _map_chunks, default_workers, single_threaded_blas

Array = NDArray[Any]

_CHUNK = 256  # rows per chunk: the chunk's (rows, k q) factor stays under 1 MB

# Leading eigen-directions of B kept exactly (q), capped so that the block (k q)^2 stays small
# (640^2 float64 is 3.3 MB); fewer than MIN_DIRECTIONS is not worth a block, unless that is
# every direction (then the block is the whole Hessian).
DIRECTIONS = 64
MAX_BLOCK = 640
MIN_DIRECTIONS = 8
# Rows the block is formed from (evenly spaced; all of them when there are fewer).
BLOCK_ROWS = 4096


def directions(n_classes: int, m: int) -> int:
    """``q`` for ``n_classes`` and ``m`` augmented features, or 0 when no block is used."""
    q = min(DIRECTIONS, m, MAX_BLOCK // max(n_classes, 1))
    return q if q >= min(MIN_DIRECTIONS, m) else 0


def block_rows(n_samples: int, max_rows: int | None = None) -> Array | None:
    """Evenly spaced row indices (deterministic), or None for all rows."""
    max_rows = BLOCK_ROWS if max_rows is None else max_rows
    if n_samples <= max_rows:
        return None
    return np.unique(np.linspace(0, n_samples - 1, max_rows).astype(np.intp))


def preconditioner(
    X: Any,
    weight: Array,
    proba: Array,
    basis: tuple[Array, Array],
    l2_strength: float,
    *,
    scale: float,
    fit_intercept: bool,
    dtype: Any,
) -> Callable[[Array], Array]:
    """The block formed at ``proba`` and its :func:`inverse`: K-FAC with an exact leading block.

    K-FAC's inverse alone (:func:`softreg._kernels.kfac.inverse`) where :func:`directions`
    gives no block (too many classes), or if the block cannot be factored.
    """
    k = proba.shape[1]
    args = (proba, weight, l2_strength)
    kw = {"n_features": X.shape[1], "fit_intercept": fit_intercept, "dtype": dtype}
    q = directions(k, len(basis[0]))
    if not q:
        return kfac.inverse(basis, *args, **kw)
    Vq = leading(basis, q)
    block = exact_block(
        X,
        weight,
        proba,
        Vq,
        scale=scale,
        fit_intercept=fit_intercept,
        rows=block_rows(X.shape[0]),
        dtype=dtype,
    )
    try:
        # One BLAS thread for the factorisation too: OpenBLAS's threads keep spinning after a
        # multi-threaded call and take the cores from the next pass's threads (see kfac).
        with single_threaded_blas():
            return inverse(basis, block, Vq, *args, **kw)
    except np.linalg.LinAlgError:  # not expected (see inverse's jitter): K-FAC alone
        return kfac.inverse(basis, *args, **kw)


def leading(basis: tuple[Array, Array], q: int) -> Array:
    """The ``q`` leading eigenvectors of ``B`` as an (m, q) array (largest eigenvalue first)."""
    b, V = basis
    order = np.argsort(b)[::-1][:q]
    return np.ascontiguousarray(V[:, order])


def exact_block(
    X: Any,
    weight: Array,
    proba: Array,
    Vq: Array,
    *,
    scale: float,
    fit_intercept: bool,
    rows: Array | None = None,
    dtype: Any = np.float32,
) -> Array:
    """The data Hessian on ``span{e_c kron v_s}``: ``sum_i w_i M_i kron t_i t_i^T``, float64.

    ``Vq`` (m, q) holds orthonormal directions in the augmented feature space
    (``m = n_features + fit_intercept``); the result has shape (k q, k q), indexed
    ``c * q + s`` (class-major, like the flat parameter vector). ``rows`` (sorted indices)
    restricts the sum to a subset, reweighted to the full weight: the caller's choice of
    subset only changes the preconditioner, never the objective.
    """
    n, d = X.shape
    k = proba.shape[1]
    q = Vq.shape[1]
    work: np.dtype[Any] = np.dtype(np.float32 if np.dtype(dtype) == np.float32 else np.float64)
    W_feat = (Vq[:d] * scale).astype(work)
    w_icpt = Vq[d].astype(work) if fit_intercept else None
    idx = np.arange(n) if rows is None else np.asarray(rows, dtype=np.intp)
    wsum = float(np.sum(weight, dtype=np.float64))
    wsub = float(np.sum(weight[idx], dtype=np.float64))
    boost = wsum / wsub if wsub > 0 else 0.0

    def work_rows(lo: int, hi: int) -> tuple[Array, Array]:
        out = np.zeros((k * q, k * q), work)
        diag = np.zeros((k, q, q), work)
        for start in range(lo, hi, _CHUNK):
            sel = idx[start : min(start + _CHUNK, hi)]
            contiguous = sel[-1] - sel[0] == len(sel) - 1
            Xc = X[sel[0] : sel[-1] + 1] if contiguous else X[sel]
            Xc = Xc.toarray() if sp.issparse(Xc) else np.asarray(Xc)
            T = np.asarray(Xc, dtype=work) @ W_feat
            if w_icpt is not None:
                T += w_icpt
            wc = np.asarray(weight[sel], dtype=np.float64) * boost
            P = np.asarray(proba[sel], dtype=np.float64)
            # -sum_i w_i p_i p_i^T kron t_i t_i^T: one rank-one term per row, of the row
            # R_i = sqrt(w_i) p_i kron t_i; only the blocks on and above the diagonal (c <= c2),
            # a band of q rows at a time (measured faster than BLAS's syrk here).
            R = ((np.sqrt(wc)[:, None] * P).astype(work)[:, :, None] * T[:, None, :]).reshape(
                len(sel), k * q
            )
            for c in range(k):
                out[c * q : (c + 1) * q, c * q :] -= R[:, c * q : (c + 1) * q].T @ R[:, c * q :]
            # +sum_i w_i diag(p_i) kron t_i t_i^T: one q x q block per class.
            wp = (wc[:, None] * P).astype(work)
            for c in range(k):
                diag[c] += T.T @ (T * wp[:, c, None])
        return out, diag

    with single_threaded_blas():
        parts = _map_chunks(work_rows, len(idx), default_workers(), _CHUNK)
    # In place, one (k q)^2 float64 matrix: the sum of the parts, its lower triangle from the
    # upper one (one q-row band at a time), then the diagonal blocks.
    H = parts[0][0].astype(np.float64)
    for part in parts[1:]:
        H += part[0]
    for c in range(k):
        band = slice(c * q, (c + 1) * q)
        H[band, : c * q] = H[: c * q, band].T
        H[band, band] = np.triu(H[band, band]) + np.triu(H[band, band], 1).T
        for part in parts:
            H[band, band] += part[1][c]
    return H


def _class_factor(proba: Array, weight: Array, chunk: int = 4096) -> Array:
    """K-FAC's ``A = sum_i w_i (diag(p_i) - p_i p_i^T)`` in float64, a chunk of rows at a time."""
    k = proba.shape[1]
    A = np.zeros((k, k))
    for start in range(0, proba.shape[0], chunk):
        P = np.asarray(proba[start : start + chunk], dtype=np.float64)
        Pw = P * np.asarray(weight[start : start + chunk], dtype=np.float64)[:, None]
        A += np.diag(Pw.sum(axis=0)) - Pw.T @ P
    return A


def inverse(
    basis: tuple[Array, Array],
    block: Array,
    Vq: Array,
    proba: Array,
    weight: Array,
    l2_strength: float,
    *,
    n_features: int,
    fit_intercept: bool,
    dtype: Any,
) -> Callable[[Array], Array]:
    """``r -> M r``: ``H_q^{-1}`` on the subspace of ``Vq``, K-FAC's inverse on the rest.

    ``basis`` is K-FAC's ``(b, V)`` (:func:`softreg._kernels.kfac.feature_basis`) and ``Vq``
    its ``q`` leading columns (:func:`leading`); ``block`` is :func:`exact_block`'s matrix,
    which may come from an earlier iterate (it only has to be close). ``proba`` and
    ``weight`` give K-FAC's class factor ``A`` at this point. Raises
    ``numpy.linalg.LinAlgError`` if the block plus penalty is not positive definite.
    """
    b, V = basis
    q = Vq.shape[1]
    order = np.argsort(b)[::-1]
    rest = order[q:]
    a, U = np.linalg.eigh(_class_factor(proba, weight))
    a = np.maximum(a, 0.0)
    k, d = proba.shape[1], n_features
    # K-FAC's damping (see kfac.inverse); on the block, the exact penalty lambda V_q^T E V_q
    # (E leaves out the intercept) plus the same tiny term.
    tiny = 1e-8 * max(float(a.max()) * float(b.max()), 1e-300)
    damping = l2_strength + tiny
    E = np.ones(Vq.shape[0])
    if fit_intercept:
        E[d] = 0.0
    work: np.dtype[Any] = np.dtype(np.float32 if np.dtype(dtype) == np.float32 else np.float64)
    # The data Hessian is zero along 1_k kron (anything) (all classes shifted alike), and the
    # penalty leaves out the intercept: on 1_k kron (intercept) the objective is flat, and
    # there the block gets K-FAC's curvature, the damping (``apply`` also projects that
    # direction out). Round-off in the block's sum (in the work dtype) can still put a
    # direction slightly below zero: a jitter of that size, grown if needed.
    penalty = l2_strength * (Vq.T * E) @ Vq
    flat = damping / k * (Vq.T * (1.0 - E)) @ Vq
    jitter = max(tiny, 64 * float(np.finfo(work).eps) * float(np.abs(np.diag(block)).max()))
    for _ in range(4):
        H = block.copy()
        for c in range(k):
            for c2 in range(k):
                H[c * q : (c + 1) * q, c2 * q : (c2 + 1) * q] += flat
            H[c * q : (c + 1) * q, c * q : (c + 1) * q] += penalty
        H.flat[:: k * q + 1] += jitter
        try:
            factor = scipy.linalg.cho_factor(H, lower=True, overwrite_a=True)
            break
        except np.linalg.LinAlgError:
            jitter *= 100
    else:
        raise np.linalg.LinAlgError("the subspace block is not positive definite")
    del H
    inv_denom = (1.0 / (np.outer(a, b[rest]) + damping)).astype(work)
    U = U.astype(work)
    Vr = np.ascontiguousarray(V[:, rest]).astype(work)
    Vqw = Vq.astype(work)

    def apply(r: Array) -> Array:
        rw = np.asarray(r, dtype=work)
        G = rw[: k * d].reshape(k, d)
        if fit_intercept:
            # The objective is flat along 1_k kron (intercept): shifting every intercept alike
            # changes nothing. M is applied on the complement of that direction (P M P with
            # P its projector), else near the optimum, where the residual is round-off, CG
            # could take a long step along it (measured: intercepts off by 38 on a test).
            icpt = rw[k * d :]
            G = np.hstack([G, (icpt - icpt.mean())[:, None]])
        with single_threaded_blas():
            top = G @ Vqw
            sol = scipy.linalg.cho_solve(factor, top.ravel().astype(np.float64))
            Z = (sol.reshape(k, q).astype(work)) @ Vqw.T
            Z += U @ ((U.T @ (G @ Vr)) * inv_denom) @ Vr.T
        out = Z[:, :d].ravel()
        if fit_intercept:
            out = np.concatenate([out, Z[:, d] - Z[:, d].mean()])
        return out.astype(dtype, copy=False)

    return apply

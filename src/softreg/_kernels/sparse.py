"""Fused passes over a sparse (CSR) ``X`` for the softmax objective, threaded over row ranges.

Conventions
-----------
``X`` is a ``scipy.sparse`` CSR matrix of shape (n_samples, n_features), float32 or float64;
that dtype is the arithmetic dtype (float32 stays float32, with float64 accumulators). ``scale``
multiplies ``X`` as in :mod:`softreg._kernels.passes`; ``weight`` holds each row's share
``s_i / S`` of the mean. A pass never forms anything of size ``n_samples * n_features`` nor
``n_features ** 2``: it holds ``X``, a few (n_features, n_classes) arrays (the transposed
coefficients, one float64 gradient per thread) and, for the NumPy code, one block of rows.

Why threads over row ranges: each range is a contiguous slice of ``data``/``indices``, cut so
that every thread gets about the same number of stored entries (not rows: rows of text differ
in length by orders of magnitude). Each thread adds into its own gradient; the sums are
added at the end.

Two implementations, as for dense ``X``: the numba loops of
:mod:`softreg._kernels.compiled_sparse` when numba is available (one read of each row's
entries for the logits and one for the gradient, in cache), otherwise scipy's sparse products on
blocks of rows. Both are tested against each other and against the dense passes. When X has
fewer rows than columns the column-wise passes of :mod:`softreg._kernels.sparse_columns` run
instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from softreg._kernels import compiled, compiled_sparse
from softreg._kernels.passes import _log_softmax_inplace
from softreg._kernels.threads import _pool, default_workers

Array = NDArray[Any]

# Fewest stored entries worth a thread of their own (thread start-up is ~50 us; 2**15 entries
# times 10 classes is ~100 us of work).
MIN_NNZ_PER_WORKER = 2**15

# Rows per block of the NumPy fallback: enough that scipy's per-call overhead stays small.
NUMPY_BLOCK_ROWS = 4096


def as_csr(X: Any) -> tuple[Any, str | None]:
    """``(X as CSR, the format it came in)``: CSC, COO and the rest are converted, once.

    The format is None when ``X`` already was CSR (no copy). Raises ``TypeError`` for a
    non-float sparse ``X`` and ``ValueError`` for a malformed one (indices out of range,
    ``indptr`` not non-decreasing): the compiled loops do not check bounds.
    """
    if not sp.issparse(X):
        raise TypeError(f"X must be a scipy.sparse matrix, got {type(X).__name__}")
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"X must be float32/float64 when sparse, got dtype {X.dtype}")
    converted = None
    if X.format != "csr":
        converted = X.format
        X = X.tocsr()
    n_samples, n_features = X.shape
    indptr, indices = X.indptr, X.indices
    if len(indptr) != n_samples + 1 or indptr[0] != 0 or indptr[-1] > len(indices):
        raise ValueError(
            f"X is not a valid CSR matrix: indptr has {len(indptr)} entries for {n_samples} "
            f"rows (expected {n_samples + 1}, starting at 0, ending <= {len(indices)})"
        )
    if n_samples and np.any(np.diff(indptr) < 0):
        raise ValueError("X is not a valid CSR matrix: its indptr decreases")
    if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= n_features):
        raise ValueError(
            f"X is not a valid CSR matrix: column indices must lie in 0..{n_features - 1}, got "
            f"{int(indices.min())}..{int(indices.max())}"
        )
    return X, converted


def wants_compiled(use: bool | None = None) -> bool:
    """Whether a pass runs the compiled loops: ``use``, or by default whenever numba is there."""
    if use is None:
        return bool(compiled.AVAILABLE)
    if use and not compiled.AVAILABLE:
        raise RuntimeError("use_compiled=True needs numba, which is not installed (or disabled)")
    return bool(use)


def row_ranges(
    X: Any, n_workers: int | None = None, per_major: float = 0.0
) -> list[tuple[int, int]]:
    """Contiguous ranges of ``X``'s major axis (rows of CSR, columns of CSC) of about the same
    cost each: a range costs its stored entries plus ``per_major`` for each row (column) in it.
    """
    n_major = len(X.indptr) - 1
    nnz = int(X.indptr[-1])
    n = n_workers or max(1, min(default_workers(), nnz // MIN_NNZ_PER_WORKER))
    if n <= 1 or n_major <= 1:
        return [(0, n_major)]
    cost = X.indptr if not per_major else X.indptr + per_major * np.arange(n_major + 1)
    cuts = np.searchsorted(cost, np.linspace(0, cost[-1], n + 1)[1:-1], side="left")
    bounds = [0, *sorted({int(c) for c in cuts if 0 < c < n_major}), n_major]
    return list(itertools.pairwise(bounds))


def _map(
    work: Callable[..., Any], ranges: list[tuple[int, int]], indexed: bool = False
) -> list[Any]:
    """``[work(lo, hi) for each range]`` on the worker threads (``work(t, lo, hi)`` if
    ``indexed``: ``t`` numbers the range, e.g. to pick the thread's own accumulator)."""
    args = [(t, lo, hi) if indexed else (lo, hi) for t, (lo, hi) in enumerate(ranges)]
    if len(args) == 1:
        return [work(*args[0])]
    futures = [_pool().submit(work, *a) for a in args]
    return [f.result() for f in futures]


def _column_ranges(n_features: int, n_workers: int) -> list[tuple[int, int]]:
    n = max(1, min(n_workers, n_features // 4096))
    bounds = np.linspace(0, n_features, n + 1).astype(int).tolist()
    return list(itertools.pairwise(bounds))


def _columns(coef: Array, scale: float, dtype: np.dtype[Any], compiled_loops: bool) -> Array:
    """``(scale * coef).T`` C-ordered, shape (n_features, n_classes), in ``dtype``."""
    if not compiled_loops:
        return np.ascontiguousarray((coef * dtype.type(scale)).T, dtype=dtype)
    k, d = coef.shape
    out = np.empty((d, k), dtype)
    coef = np.ascontiguousarray(coef)

    def work(lo: int, hi: int) -> None:
        compiled_sparse.transpose_scaled(coef, dtype.type(scale), lo, hi, out)

    _map(work, _column_ranges(d, default_workers()))
    return out


def _sum_transposed(
    parts: Array, scale: float, dtype: np.dtype[Any], compiled_loops: bool
) -> Array:
    """``scale * sum_t parts[t]`` of the threads' (n_features, n_classes) float64 parts, as a
    C-ordered (n_classes, n_features) array in ``dtype``."""
    n_parts, d, k = parts.shape
    if not compiled_loops:
        total = parts.sum(axis=0) if n_parts > 1 else parts[0]
        total *= scale
        return np.ascontiguousarray(total.T, dtype=dtype)
    out = np.empty((k, d), dtype)

    def work(lo: int, hi: int) -> None:
        compiled_sparse.reduce_transposed(parts, scale, lo, hi, out)

    _map(work, _column_ranges(d, default_workers()))
    return out


def _check_labels(y: NDArray[np.intp], n_samples: int, n_classes: int) -> None:
    # The compiled loop does not check bounds: a label outside 0..k-1 must not reach it.
    if len(y) != n_samples:
        raise ValueError(f"y must have {n_samples} labels (one per row of X), got {len(y)}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(
            f"y must hold class indices in 0..{n_classes - 1} (n_classes={n_classes}), got "
            f"labels from {int(y.min())} to {int(y.max())}"
        )


def loss_grad(
    X: Any,
    y: NDArray[np.intp],
    weight: Array,
    coef: Array,
    intercept: Array | None,
    *,
    scale: float = 1.0,
    with_grad: bool = True,
    proba_out: Array | None = None,
    n_workers: int | None = None,
    use_compiled: bool | None = None,
) -> tuple[float, Array | None, Array | None]:
    """Data term ``sum_i weight_i [logsumexp(z_i) - z_{i,y_i}]`` and its gradient, one pass.

    Parameters
    ----------
    X : scipy.sparse CSR matrix of shape (n_samples, n_features)
        Float32 or float64; its dtype is the arithmetic dtype.
    y : ndarray of intp of shape (n_samples,)
    weight : ndarray of shape (n_samples,)
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    scale : float, default=1.0
    with_grad : bool, default=True
    proba_out : ndarray of shape (n_samples, n_classes), default=None
        If given, receives ``softmax(z_i)``.
    n_workers : int, default=None
        Threads; by default the CPUs, at most one per 32768 stored entries.
    use_compiled : bool, default=None
        Run the numba loops (default: whenever numba is available).

    Returns
    -------
    loss : float
    grad_coef : ndarray of shape (n_classes, n_features) or None
    grad_intercept : ndarray of shape (n_classes,) or None

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.csr_matrix(np.array([[0.0, 1.0], [2.0, 0.0]]))
    >>> f, gx, gb = loss_grad(X, np.array([0, 1]), np.array([0.5, 0.5]), np.zeros((2, 2)), None)
    >>> round(f, 6), gx.shape  # log(2) at zero parameters
    (0.693147, (2, 2))
    """
    dtype = np.dtype(X.dtype)
    n_samples, n_features = X.shape
    n_classes = coef.shape[0]
    _check_labels(y, n_samples, n_classes)
    if proba_out is not None and proba_out.shape != (n_samples, n_classes):
        raise ValueError(
            f"proba_out must have shape {(n_samples, n_classes)}, got {proba_out.shape}"
        )
    ranges = row_ranges(X, n_workers)
    compiled_loops = wants_compiled(use_compiled)
    Wt = _columns(coef, scale, dtype, compiled_loops)
    b = np.zeros(n_classes) if intercept is None else np.asarray(intercept, np.float64)
    weight = np.ascontiguousarray(weight, dtype=dtype)
    # One float64 gradient per thread, (n_features, n_classes) like Wt.
    G64 = np.zeros((len(ranges), n_features, n_classes) if with_grad else (len(ranges), 1, 1))
    gb64 = np.zeros((len(ranges), n_classes))
    keep = proba_out is not None
    proba = proba_out if proba_out is not None else np.empty((1, n_classes), dtype)

    def work(t: int, lo: int, hi: int) -> float:
        if compiled_loops:
            return compiled_sparse.loss_grad_rows(
                X.data, X.indices, X.indptr, y, weight, Wt, b, lo, hi, with_grad, keep, proba,
                G64[t], gb64[t],
            )  # fmt: skip
        total = 0.0
        for start in range(lo, hi, NUMPY_BLOCK_ROWS):
            stop = min(start + NUMPY_BLOCK_ROWS, hi)
            Xb, yb, wb = X[start:stop], y[start:stop], weight[start:stop]
            z = np.asarray(Xb @ Wt, dtype=np.float64) + b
            log_proba = _log_softmax_inplace(z)
            rows = np.arange(stop - start)
            total -= float(np.dot(wb, log_proba[rows, yb]))
            if not (with_grad or keep):
                continue
            residual = np.exp(log_proba, out=log_proba)
            if keep:
                proba[start:stop] = residual
            if with_grad:
                # d/dz [logsumexp(z) - z_y] = softmax(z) - onehot(y), times the row's weight.
                residual[rows, yb] -= 1
                residual *= wb[:, None]
                G64[t] += Xb.T @ residual
                gb64[t] += residual.sum(axis=0)
        return total

    loss = float(sum(_map(work, ranges, indexed=True)))
    if not with_grad:
        return loss, None, None
    grad_coef = _sum_transposed(G64, scale, dtype, compiled_loops)
    grad_b = None if intercept is None else gb64.sum(axis=0).astype(dtype)
    return loss, grad_coef, grad_b


def _check_proba(proba: Array, weight: Array, n_samples: int, n_classes: int) -> None:
    # The compiled loops do not check bounds: the shapes must agree before they run.
    if proba.shape != (n_samples, n_classes) or weight.shape != (n_samples,):
        raise ValueError(
            f"proba must have shape {(n_samples, n_classes)} and weight {(n_samples,)}, got "
            f"{proba.shape} and {weight.shape}"
        )


def hessp(
    X: Any,
    weight: Array,
    proba: Array,
    coef_dir: Array,
    intercept_dir: Array | None,
    *,
    scale: float = 1.0,
    n_workers: int | None = None,
    use_compiled: bool | None = None,
) -> tuple[Array, Array | None]:
    """Data-term Hessian times the direction ``(coef_dir, intercept_dir)``, one pass over X.

    ``X^T [weight * p * (d - <p, d>)]`` with the direction's logits ``d = X V^T + v_b`` and the
    stored probabilities ``p`` (n_samples, n_classes). Returns ``(out_coef, out_intercept)`` of
    shapes (n_classes, n_features) and (n_classes,) (None without an intercept); the penalty's
    term is the caller's.
    """
    dtype = np.dtype(X.dtype)
    n_samples, n_features = X.shape
    n_classes = coef_dir.shape[0]
    _check_proba(proba, weight, n_samples, n_classes)
    ranges = row_ranges(X, n_workers)
    compiled_loops = wants_compiled(use_compiled)
    Vt = _columns(coef_dir, scale, dtype, compiled_loops)
    vb = np.zeros(n_classes) if intercept_dir is None else np.asarray(intercept_dir, np.float64)
    weight = np.ascontiguousarray(weight, dtype=dtype)
    proba = np.ascontiguousarray(proba, dtype=dtype)
    G64 = np.zeros((len(ranges), n_features, n_classes))
    gb64 = np.zeros((len(ranges), n_classes))

    def work(t: int, lo: int, hi: int) -> None:
        if compiled_loops:
            compiled_sparse.hessp_rows(
                X.data, X.indices, X.indptr, weight, proba, Vt, vb, lo, hi, G64[t], gb64[t]
            )
            return
        for start in range(lo, hi, NUMPY_BLOCK_ROWS):
            stop = min(start + NUMPY_BLOCK_ROWS, hi)
            Xb, pb = X[start:stop], proba[start:stop]
            d = np.asarray(Xb @ Vt, dtype=np.float64) + vb
            d -= (pb * d).sum(axis=1, keepdims=True)
            d *= pb
            d *= weight[start:stop, None]
            G64[t] += Xb.T @ d
            gb64[t] += d.sum(axis=0)

    _map(work, ranges, indexed=True)
    out_coef = _sum_transposed(G64, scale, dtype, compiled_loops)
    out_b = None if intercept_dir is None else gb64.sum(axis=0).astype(dtype)
    return out_coef, out_b


def hessian_diagonal(
    X: Any,
    weight: Array,
    proba: Array,
    *,
    scale: float = 1.0,
    n_workers: int | None = None,
    use_compiled: bool | None = None,
) -> tuple[Array, Array]:
    """The data term's Hessian diagonal at the stored probabilities, one pass over X.

    ``D[c, j] = scale^2 sum_i weight_i p_ic (1 - p_ic) x_ij^2`` (float64, shape (n_classes,
    n_features)) and the intercept's ``sum_i weight_i p_ic (1 - p_ic)`` (shape (n_classes,)).
    With duplicate entries of one (row, column) in ``X`` this is approximate (their squares add,
    not the square of their sum), which only matters for a preconditioner's quality.
    """
    n_samples, n_features = X.shape
    n_classes = proba.shape[1]
    _check_proba(proba, weight, n_samples, n_classes)
    ranges = row_ranges(X, n_workers)
    compiled_loops = wants_compiled(use_compiled)
    D64 = np.zeros((len(ranges), n_features, n_classes))
    db64 = np.zeros((len(ranges), n_classes))

    def work(t: int, lo: int, hi: int) -> None:
        if compiled_loops:
            compiled_sparse.diagonal_rows(
                X.data, X.indices, X.indptr, weight, proba, lo, hi, D64[t], db64[t]
            )
            return
        for start in range(lo, hi, NUMPY_BLOCK_ROWS):
            stop = min(start + NUMPY_BLOCK_ROWS, hi)
            Xb = X[start:stop]
            pb = np.asarray(proba[start:stop], np.float64)
            h = pb * (1.0 - pb) * np.asarray(weight[start:stop], np.float64)[:, None]
            D64[t] += Xb.multiply(Xb).T @ h
            db64[t] += h.sum(axis=0)

    _map(work, ranges, indexed=True)
    diag = _sum_transposed(D64, scale * scale, np.dtype(np.float64), compiled_loops)
    return diag, db64.sum(axis=0)

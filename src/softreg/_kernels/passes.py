"""Fused, row-blocked passes over dense ``X`` for the softmax objective.

Conventions
-----------
``X`` has shape (n_samples, n_features) and is float32, float64 or an integer type such as
uint8 (raw pixels). Arithmetic runs in ``dtype`` (float32 or float64); an integer ``X`` is
converted one block at a time into a reused buffer (exact for uint8 in float32), so no float
copy of the whole ``X`` is ever made. ``scale`` multiplies ``X``: the passes work on
``scale * X`` without forming it, since ``(scale X) W^T = X (scale W)^T`` and
``(scale X)^T R = scale (X^T R)`` (so pixels / 255 cost nothing). ``weight`` holds each row's
share ``s_i / S`` of the mean.

Why blocks: the skinny products ``X W^T`` (n_classes columns) and ``X^T R`` are bound by
reading ``X``, not by arithmetic. Each block of rows is read from memory once and used twice
(logits, then gradient) while it is still in cache. Why threads: the blocks are split between
``n_workers`` Python threads, each calling single-threaded BLAS; see
:mod:`softreg._kernels.threads` (and why not BLAS's own threads).

Two implementations of each pass: when numba is installed and ``X`` is a C-ordered array, the
loops of :mod:`softreg._kernels.compiled` run (about half the time here), on the same row
chunks and threads, through :mod:`softreg._kernels.compiled_passes`; otherwise, or with
``use_compiled=False``, the NumPy/BLAS blocks below. Both are tested against each other and
against a float64 reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg._kernels.compiled_passes import (
    _compiled_workers,
    _hessp_compiled,
    _loss_grad_compiled,
    _use_compiled,
)
from softreg._kernels.threads import _map_chunks, default_workers, single_threaded_blas

Array = NDArray[Any]

# Rows per block: 512 float32 rows of 784 features are 1.6 MB, inside a 2 MB L2 cache, and
# enough rows that per-block Python overhead stays small next to the two products.
DEFAULT_BLOCK_ROWS = 512


def _padded_columns(coef: Array, scale: float, dtype: np.dtype[Any]) -> Array:
    """``(scale * coef).T`` as a C-ordered (n_features, k_pad) array, zero beyond column k.

    OpenBLAS runs ``Xb @ C`` faster for a column count that is a multiple of 8 (measured 19%
    less time for 16 columns than for 10 on 500 x 784 float32 blocks, one thread); the extra
    logits are zero and sliced away.
    """
    k, d = coef.shape
    k_pad = -(-k // 8) * 8
    out = np.zeros((d, k_pad), dtype=dtype)
    out[:, :k] = (coef * dtype.type(scale)).T
    return out


class _BlockReader:
    """Yields ``X[start:stop]`` in blocks of ``block_rows``, in ``dtype``.

    Float input of the right dtype is sliced (views, no copy); anything else is converted into
    one buffer per reader (each worker thread makes its own reader).
    """

    def __init__(self, X: Array, dtype: np.dtype[Any], block_rows: int) -> None:
        self.X = X
        self.dtype = dtype
        self.block_rows = block_rows
        self.convert = X.dtype != dtype
        self.buffer = np.empty((block_rows, X.shape[1]), dtype) if self.convert else None

    def __call__(self, start: int, stop: int) -> Iterator[tuple[int, int, Array]]:
        for lo in range(start, stop, self.block_rows):
            hi = min(lo + self.block_rows, stop)
            if self.buffer is None:
                yield lo, hi, self.X[lo:hi]
            else:
                block = self.buffer[: hi - lo]
                np.copyto(block, self.X[lo:hi], casting="unsafe")
                yield lo, hi, block


def _log_softmax_inplace(logits: Array) -> Array:
    # Stable form: z - max(z) - log(sum(exp(z - max(z)))); the exponents are <= 0.
    logits -= logits.max(axis=1, keepdims=True)
    logits -= np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return logits


def loss_grad(
    X: Array,
    y: NDArray[np.intp],
    weight: Array,
    coef: Array,
    intercept: Array | None,
    *,
    scale: float = 1.0,
    dtype: Any = np.float32,
    with_grad: bool = True,
    proba_out: Array | None = None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    n_workers: int | None = None,
    use_compiled: bool | None = None,
) -> tuple[float, Array | None, Array | None]:
    """Data term ``sum_i weight_i [logsumexp(z_i) - z_{i,y_i}]`` and its gradient, one pass.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Float or integer data; ``scale * X`` is what is modelled.
    y : ndarray of intp of shape (n_samples,)
    weight : ndarray of shape (n_samples,)
        ``s_i / S`` per row, in ``dtype``.
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    scale : float, default=1.0
    dtype : {np.float32, np.float64}
        Arithmetic dtype; the loss is accumulated in float64.
    with_grad : bool, default=True
        False computes the loss only (one product per block instead of two).
    proba_out : ndarray of shape (n_samples, n_classes), default=None
        If given, receives ``softmax(z_i)`` (for Hessian-vector products).
    use_compiled : bool, default=None
        Run the numba-compiled pass (:mod:`softreg._kernels.compiled`); None means whenever
        numba is available and ``X`` is a C-ordered array, False forces the NumPy/BLAS pass.

    Returns
    -------
    loss : float
    grad_coef : ndarray of shape (n_classes, n_features) or None
        Gradient with respect to ``coef`` (None when ``with_grad`` is False).
    grad_intercept : ndarray of shape (n_classes,) or None
        Gradient with respect to ``intercept`` (None without one or without gradient).
    """
    dtype = np.dtype(dtype)
    n_samples = X.shape[0]
    if _use_compiled(X, use_compiled):
        return _loss_grad_compiled(
            np.asarray(X),
            y,
            weight,
            coef,
            intercept,
            scale,
            dtype,
            with_grad,
            proba_out,
            _compiled_workers(X, n_workers),
        )
    # logits of scale * X: fold the scale into the coefficients (k x d, not n x d).
    n_classes = coef.shape[0]
    coef_t = _padded_columns(coef, scale, dtype)
    b = None if intercept is None else np.asarray(intercept, dtype=dtype)

    def work(start: int, stop: int) -> tuple[float, Array | None, Array | None]:
        total = 0.0
        gx = np.zeros(coef.shape, dtype) if with_grad else None
        gb = np.zeros(n_classes, dtype) if with_grad and b is not None else None
        for lo, hi, Xb in _BlockReader(X, dtype, block_rows)(start, stop):
            z = np.ascontiguousarray((Xb @ coef_t)[:, :n_classes])
            if b is not None:
                z += b
            log_proba = _log_softmax_inplace(z)
            rows = np.arange(hi - lo)
            yb, wb = y[lo:hi], weight[lo:hi]
            total -= float(np.dot(wb, log_proba[rows, yb].astype(np.float64)))
            if gx is None and proba_out is None:
                continue
            # d/dz [logsumexp(z) - z_y] = softmax(z) - onehot(y), times the row's weight.
            residual = np.exp(log_proba, out=log_proba)
            if proba_out is not None:
                proba_out[lo:hi] = residual
            if gx is None:
                continue
            residual[rows, yb] -= 1
            residual *= wb[:, None]
            gx += residual.T @ Xb  # (k, d): measured faster than Xb.T @ residual per block
            if gb is not None:
                gb += residual.sum(axis=0)
        return total, gx, gb

    with single_threaded_blas():
        parts = _map_chunks(work, n_samples, n_workers or default_workers(), block_rows)
    loss = float(sum(p[0] for p in parts))
    if not with_grad:
        return loss, None, None
    grad_coef = np.sum([p[1] for p in parts], axis=0) * dtype.type(scale)
    grad_intercept = None if b is None else np.sum([p[2] for p in parts], axis=0)
    return loss, np.ascontiguousarray(grad_coef, dtype=dtype), grad_intercept


def hessp(
    X: Array,
    weight: Array,
    proba: Array,
    coef_dir: Array,
    intercept_dir: Array | None,
    *,
    scale: float = 1.0,
    dtype: Any = np.float32,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    n_workers: int | None = None,
    use_compiled: bool | None = None,
) -> tuple[Array, Array | None]:
    """Data-term Hessian times the direction ``(coef_dir, intercept_dir)``, one pass.

    For one row the Hessian of ``logsumexp(z) - z_y`` in ``z`` is ``diag(p) - p p^T``, so with
    the direction's logits ``d = V x + v_b`` it maps ``d`` to ``p * (d - <p, d>)``; chained
    through ``z = W x + b`` that is ``X^T [weight * p * (d - <p, d>)]``.

    Returns ``(out_coef, out_intercept)`` of shapes (n_classes, n_features) and (n_classes,)
    (None without an intercept). The penalty's ``l2 * coef_dir`` is the caller's to add.
    ``use_compiled`` chooses the pass as in :func:`loss_grad`.
    """
    dtype = np.dtype(dtype)
    if _use_compiled(X, use_compiled):
        return _hessp_compiled(
            np.asarray(X),
            weight,
            proba,
            coef_dir,
            intercept_dir,
            scale,
            dtype,
            _compiled_workers(X, n_workers),
        )
    n_classes = coef_dir.shape[0]
    dir_t = _padded_columns(coef_dir, scale, dtype)
    vb = None if intercept_dir is None else np.asarray(intercept_dir, dtype=dtype)

    def work(start: int, stop: int) -> tuple[Array, Array | None]:
        hx = np.zeros(coef_dir.shape, dtype)
        hb = None if vb is None else np.zeros(n_classes, dtype)
        for lo, hi, Xb in _BlockReader(X, dtype, block_rows)(start, stop):
            d = np.ascontiguousarray((Xb @ dir_t)[:, :n_classes])
            if vb is not None:
                d += vb
            pb = proba[lo:hi]
            d -= (pb * d).sum(axis=1, keepdims=True)
            d *= pb
            d *= weight[lo:hi, None]
            hx += d.T @ Xb
            if hb is not None:
                hb += d.sum(axis=0)
        return hx, hb

    with single_threaded_blas():
        parts = _map_chunks(work, X.shape[0], n_workers or default_workers(), block_rows)
    out_coef = np.ascontiguousarray(np.sum([p[0] for p in parts], axis=0) * dtype.type(scale))
    out_intercept = None if vb is None else np.sum([p[1] for p in parts], axis=0)
    return out_coef.astype(dtype, copy=False), out_intercept

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
``n_workers`` Python threads, each calling single-threaded BLAS (NumPy releases the GIL in
BLAS and in ufunc loops); OpenBLAS's own threads split a 10-column product badly and spin
against each other, measured several times slower on this 2-core machine for small blocks.
Each pass holds :func:`single_threaded_blas` while it runs (about 50 microseconds to enter).

Two implementations of each pass: when numba is installed and ``X`` is a C-ordered array, the
loops of :mod:`softreg._kernels.compiled` run (about half the time here), on the same row
chunks and threads; otherwise, or with ``use_compiled=False``, the NumPy/BLAS blocks below.
Both are tested against each other and against a float64 reference.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import get_blas_funcs

from softreg._kernels import compiled

Array = NDArray[Any]

# Rows per block: 512 float32 rows of 784 features are 1.6 MB, inside a 2 MB L2 cache, and
# enough rows that per-block Python overhead stays small next to the two products.
DEFAULT_BLOCK_ROWS = 512

_POOL: ThreadPoolExecutor | None = None
_CONTROLLER: Any = None


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


def axpy(a: float, x: Array, y: Array) -> None:
    """``y += a * x`` in place through BLAS, without a temporary the size of ``x``.

    With 2.6 million parameters (20 classes, 130107 features) each temporary is a fresh 21 MB
    allocation whose pages the kernel zeroes on first touch; measured on that shape, solver
    vector updates with temporaries cost about as much as the passes over a sparse X.

    Examples
    --------
    >>> y = np.ones(3)
    >>> axpy(2.0, np.arange(3.0), y)
    >>> y
    array([1., 3., 5.])
    """
    blas_ok = x.dtype == y.dtype and x.dtype in (np.float32, np.float64) and x.shape == y.shape
    if blas_ok and x.flags.c_contiguous and y.flags.c_contiguous:
        get_blas_funcs("axpy", (x, y))(x.ravel(), y.ravel(), n=x.size, a=a)
        return
    y += y.dtype.type(a) * x


def default_workers() -> int:
    """Worker threads for a pass: the CPUs this process may use, at most 8."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="softreg-pass")
    return _POOL


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit every loaded BLAS (NumPy's, SciPy's) to one thread inside the block.

    The fused passes parallelise over row blocks themselves; see the module docstring. The
    libraries are looked up once per process (a fresh lookup costs ~1 ms with PyTorch loaded,
    too much for every mini-batch); the limit itself costs ~20 microseconds.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        yield


def _chunks(n_samples: int, n_workers: int, block_rows: int) -> list[tuple[int, int]]:
    """Split ``range(n_samples)`` into at most ``n_workers`` contiguous, block-aligned chunks."""
    n_blocks = -(-n_samples // block_rows)
    n_workers = max(1, min(n_workers, n_blocks))
    per = -(-n_blocks // n_workers)
    return [
        (i * per * block_rows, min((i + 1) * per * block_rows, n_samples))
        for i in range(n_workers)
        if i * per * block_rows < n_samples
    ]


def _map_chunks(
    work: Callable[[int, int], Any], n_samples: int, n_workers: int, block_rows: int
) -> list[Any]:
    chunks = _chunks(n_samples, n_workers, block_rows)
    if len(chunks) == 1:
        return [work(*chunks[0])]
    futures = [_pool().submit(work, start, stop) for start, stop in chunks]
    return [f.result() for f in futures]


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


# -- the compiled passes ---------------------------------------------------------------------


def _use_compiled(X: Any, use_compiled: bool | None) -> bool:
    if use_compiled is None:
        return compiled.AVAILABLE and isinstance(X, np.ndarray) and X.flags.c_contiguous
    if use_compiled and not compiled.AVAILABLE:
        raise RuntimeError("use_compiled=True needs numba, which is not installed (or disabled)")
    if use_compiled and not (isinstance(X, np.ndarray) and X.flags.c_contiguous):
        raise ValueError("use_compiled=True needs X as a C-ordered ndarray")
    return bool(use_compiled)


# Fewest rows worth a thread of their own in a compiled pass. Measured (784 float32 features,
# 10 classes): 256 rows took 189 us on one thread and 263 us on two; 1024 rows 717 and 620 us.
MIN_ROWS_PER_WORKER = 512


def _compiled_workers(X: Array, n_workers: int | None) -> int:
    """``n_workers`` if given, else the CPUs, but no more than one per 512 rows."""
    if n_workers:
        return n_workers
    return max(1, min(default_workers(), X.shape[0] // MIN_ROWS_PER_WORKER))


def _direct_source(X: Array, dtype: np.dtype[Any]) -> tuple[bool, Array]:
    """``(True, X)`` when ``X`` can be read in place, else ``(False, a 1 x 1 placeholder)``."""
    if X.dtype == dtype:
        return True, X
    return False, np.zeros((1, 1), dtype)


def _class_rows(
    coef: Array, intercept: Array | None, scale: float, dtype: np.dtype[Any]
) -> tuple[Array, Array]:
    """``(scale * coef, intercept)`` padded with zero rows to an even class count."""
    k, d = coef.shape
    k_pad = k + k % 2
    Wt = np.zeros((k_pad, d), dtype)
    Wt[:k] = coef * dtype.type(scale)
    b = np.zeros(k_pad, dtype)
    if intercept is not None:
        b[:k] = intercept
    return Wt, b


def _loss_grad_compiled(
    X: Array,
    y: NDArray[np.intp],
    weight: Array,
    coef: Array,
    intercept: Array | None,
    scale: float,
    dtype: np.dtype[Any],
    with_grad: bool,
    proba_out: Array | None,
    n_workers: int,
) -> tuple[float, Array | None, Array | None]:
    k, d = coef.shape
    Wt, b = _class_rows(coef, intercept, scale, dtype)
    y = np.ascontiguousarray(y, dtype=np.intp)
    # The compiled loop does not check bounds: a label outside 0..k-1 must not reach it.
    if len(y) != X.shape[0]:
        raise ValueError(f"y must have {X.shape[0]} labels (one per row of X), got {len(y)}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= k):
        raise ValueError(
            f"y must hold class indices in 0..{k - 1} (n_classes={k}), got labels from "
            f"{int(y.min())} to {int(y.max())}"
        )
    weight = np.ascontiguousarray(weight, dtype=dtype)
    keep = proba_out is not None
    if weight.shape != (X.shape[0],) or (
        proba_out is not None and proba_out.shape != (X.shape[0], k)
    ):
        raise ValueError(
            f"weight must have shape {(X.shape[0],)} and proba_out {(X.shape[0], k)}, got "
            f"{weight.shape} and {None if proba_out is None else proba_out.shape}"
        )
    direct, xsrc = _direct_source(X, dtype)
    proba = proba_out if proba_out is not None else np.empty((1, k), dtype)

    def work(lo: int, hi: int) -> tuple[float, Array, Array]:
        G64 = np.zeros(Wt.shape)
        gb64 = np.zeros(len(b))
        loss = compiled.loss_grad_rows(
            X,
            xsrc,
            direct,
            y,
            weight,
            Wt,
            b,
            k,
            lo,
            hi,
            with_grad,
            keep,
            proba,
            np.empty((compiled.GROUP, d), dtype),
            np.zeros(Wt.shape, dtype),
            G64,
            gb64,
            compiled.TINY[dtype],
        )
        return float(loss), G64, gb64

    parts = _map_chunks(work, X.shape[0], n_workers, compiled.GROUP)
    loss = float(sum(p[0] for p in parts))
    if not with_grad:
        return loss, None, None
    grad_coef = (np.sum([p[1] for p in parts], axis=0)[:k] * scale).astype(dtype)
    grad_b = None if intercept is None else np.sum([p[2] for p in parts], axis=0)[:k].astype(dtype)
    return loss, grad_coef, grad_b


def _hessp_compiled(
    X: Array,
    weight: Array,
    proba: Array,
    coef_dir: Array,
    intercept_dir: Array | None,
    scale: float,
    dtype: np.dtype[Any],
    n_workers: int,
) -> tuple[Array, Array | None]:
    k, d = coef_dir.shape
    Vt, vb = _class_rows(coef_dir, intercept_dir, scale, dtype)
    weight = np.ascontiguousarray(weight, dtype=dtype)
    proba = np.ascontiguousarray(proba, dtype=dtype)
    # The compiled loop does not check bounds: the shapes must agree before it runs.
    if proba.shape != (X.shape[0], k) or weight.shape != (X.shape[0],):
        raise ValueError(
            f"proba must have shape {(X.shape[0], k)} and weight {(X.shape[0],)}, got "
            f"{proba.shape} and {weight.shape}"
        )
    direct, xsrc = _direct_source(X, dtype)

    def work(lo: int, hi: int) -> tuple[Array, Array]:
        G64 = np.zeros(Vt.shape)
        gb64 = np.zeros(len(vb))
        compiled.hessp_rows(
            X,
            xsrc,
            direct,
            weight,
            proba,
            Vt,
            vb,
            k,
            lo,
            hi,
            np.empty((compiled.GROUP, d), dtype),
            np.zeros(Vt.shape, dtype),
            G64,
            gb64,
            compiled.TINY[dtype],
        )
        return G64, gb64

    parts = _map_chunks(work, X.shape[0], n_workers, compiled.GROUP)
    out_coef = (np.sum([p[0] for p in parts], axis=0)[:k] * scale).astype(dtype)
    out_b = None if intercept_dir is None else np.sum([p[1] for p in parts], axis=0)[:k]
    return out_coef, None if out_b is None else out_b.astype(dtype)

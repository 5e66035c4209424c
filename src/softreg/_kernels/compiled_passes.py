"""The dense passes run through the numba-compiled loops of :mod:`softreg._kernels.compiled`.

:func:`softreg._kernels.passes.loss_grad` and :func:`~softreg._kernels.passes.hessp` hand
over to the functions here when :func:`_use_compiled` says so: by default whenever numba is
available and ``X`` is a C-ordered array. The compiled loops do not check bounds, so these
wrappers check the labels and shapes before a loop runs. They pad the classes to an even count
(the loops work on pairs of classes), let the loops read ``X`` in place when it already has the
arithmetic dtype, and split the rows between threads (:mod:`softreg._kernels.threads`) in
chunks aligned on the loops' groups of ``compiled.GROUP`` rows, each chunk adding into float64
sums of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg._kernels import compiled
from softreg._kernels.threads import _map_chunks, default_workers

Array = NDArray[Any]


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

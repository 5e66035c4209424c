"""Passes over a CSC copy of a sparse ``X``, for X with fewer rows than columns (text).

Same conventions and results as :mod:`softreg._kernels.sparse` (tested against it and against
the dense passes). A pass streams over the columns in order and accesses the
(n_samples, n_classes) logits and residuals at random, which for text stay in cache; see
:mod:`softreg._kernels.compiled_sparse`. Threads split the columns (by stored entries) for the
products and the rows for the per-row softmax. The compiled loops are required: without numba
the row-wise NumPy passes run.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg._kernels import compiled, compiled_sparse
from softreg._kernels.sparse import _check_labels, _check_proba, _map, row_ranges
from softreg._kernels.threads import default_workers

Array = NDArray[Any]

# What a column costs a column pass, besides its entries, in stored entries: a text matrix's
# frequent columns come first, each touching most rows in order (prefetched), and its rare
# columns after, each touching a few rows at random. Split by entries alone, the second of two
# threads got 124820 of the 130107 columns of the 20-newsgroups shape and took 3.5x as long as
# the first; with 7 per column both took the same time within 10% (one core, each range alone).
COLUMN_COST = 7.0


def prefer_columns(X: Any) -> bool:
    """Whether the passes should run over a CSC copy of ``X`` (see ``compiled_sparse``).

    When ``X`` has fewer rows than columns the (n_samples, n_classes) logits are the smaller
    random-access target; the compiled loops are needed (the NumPy passes stay row-wise).
    """
    return bool(compiled.AVAILABLE) and X.shape[0] < X.shape[1]


def _column_logits(Xc: Any, coef: Array, scale: float, n_workers: int | None) -> Array:
    """``X (scale coef)^T`` of shape (n_samples, n_classes), float64, threads over columns."""
    ranges = row_ranges(Xc, n_workers, COLUMN_COST)
    if scale != 1.0:
        coef = coef * coef.dtype.type(scale)
    coef = np.ascontiguousarray(coef)
    parts = np.zeros((len(ranges), Xc.shape[0], coef.shape[0]))
    kernel = compiled_sparse.csc("csc_logits")

    def work(t: int, lo: int, hi: int) -> None:
        kernel(Xc.data, Xc.indices, Xc.indptr, coef, lo, hi, parts[t])

    _map(work, ranges, indexed=True)
    return parts.sum(axis=0) if len(parts) > 1 else parts[0]


def _column_project(
    Xc: Any,
    R: Array,
    scale: float,
    dtype: Any,
    n_workers: int | None,
    square: bool = False,
    out: Array | None = None,
) -> Array:
    """``scale * R^T X`` (``X`` squared entry-wise if ``square``), (n_classes, n_features),
    written into ``out`` when given (C-ordered, of that shape and ``dtype``)."""
    shape = (R.shape[1], Xc.shape[1])
    if out is None:
        out = np.empty(shape, dtype)
    elif out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-ordered {dtype} array of shape {shape}")
    kernel = compiled_sparse.csc("csc_project")

    def work(lo: int, hi: int) -> None:
        kernel(Xc.data, Xc.indices, Xc.indptr, R, scale, square, lo, hi, out)

    _map(work, row_ranges(Xc, n_workers, COLUMN_COST))
    return out


def _row_chunks(n_samples: int, n_workers: int | None) -> list[tuple[int, int]]:
    n = max(1, min(n_workers or default_workers(), n_samples // 2048))
    bounds = np.linspace(0, n_samples, n + 1).astype(int).tolist()
    return list(itertools.pairwise(bounds))


def loss_grad(
    Xc: Any,
    y: NDArray[np.intp],
    weight: Array,
    coef: Array,
    intercept: Array | None,
    *,
    scale: float = 1.0,
    with_grad: bool = True,
    proba_out: Array | None = None,
    n_workers: int | None = None,
    out: Array | None = None,
) -> tuple[float, Array | None, Array | None]:
    """:func:`softreg._kernels.sparse.loss_grad` over ``Xc``, the CSC form of X.

    ``out`` (n_classes, n_features), if given, receives the coefficients' gradient.
    """
    dtype = np.dtype(Xc.dtype)
    n_samples = Xc.shape[0]
    n_classes = coef.shape[0]
    _check_labels(y, n_samples, n_classes)
    if proba_out is not None and proba_out.shape != (n_samples, n_classes):
        raise ValueError(
            f"proba_out must have shape {(n_samples, n_classes)}, got {proba_out.shape}"
        )
    Z = _column_logits(Xc, coef, scale, n_workers)
    b = np.zeros(n_classes) if intercept is None else np.asarray(intercept, np.float64)
    keep = proba_out is not None
    proba = proba_out if proba_out is not None else np.empty((1, n_classes), dtype)
    weight = np.ascontiguousarray(weight, dtype=dtype)
    kernel = compiled_sparse.csc("rows_residual")

    def rows(lo: int, hi: int) -> float:
        return float(kernel(Z, b, y, weight, lo, hi, keep, proba))

    loss = float(sum(_map(rows, _row_chunks(n_samples, n_workers))))
    if not with_grad:
        return loss, None, None
    grad_coef = _column_project(Xc, Z, scale, dtype, n_workers, out=out)
    grad_b = None if intercept is None else Z.sum(axis=0).astype(dtype)
    return loss, grad_coef, grad_b


def hessp(
    Xc: Any,
    weight: Array,
    proba: Array,
    coef_dir: Array,
    intercept_dir: Array | None,
    *,
    scale: float = 1.0,
    n_workers: int | None = None,
    out: Array | None = None,
) -> tuple[Array, Array | None]:
    """:func:`softreg._kernels.sparse.hessp` over ``Xc``, the CSC form of X (compiled loops only).

    ``out`` (n_classes, n_features), if given, receives the coefficients' part.
    """
    dtype = np.dtype(Xc.dtype)
    n_samples = Xc.shape[0]
    n_classes = coef_dir.shape[0]
    _check_proba(proba, weight, n_samples, n_classes)
    D = _column_logits(Xc, coef_dir, scale, n_workers)
    vb = np.zeros(n_classes) if intercept_dir is None else np.asarray(intercept_dir, np.float64)
    weight = np.ascontiguousarray(weight, dtype=dtype)
    proba = np.ascontiguousarray(proba, dtype=dtype)
    kernel = compiled_sparse.csc("rows_hessp")

    def rows(lo: int, hi: int) -> None:
        kernel(D, vb, weight, proba, lo, hi)

    _map(rows, _row_chunks(n_samples, n_workers))
    out_coef = _column_project(Xc, D, scale, dtype, n_workers, out=out)
    out_b = None if intercept_dir is None else D.sum(axis=0).astype(dtype)
    return out_coef, out_b


def hessian_diagonal(
    Xc: Any, weight: Array, proba: Array, *, scale: float = 1.0, n_workers: int | None = None
) -> tuple[Array, Array]:
    """:func:`softreg._kernels.sparse.hessian_diagonal` over ``Xc``, the CSC form of X."""
    n_classes = proba.shape[1]
    _check_proba(proba, weight, Xc.shape[0], n_classes)
    P = np.asarray(proba, np.float64)
    H = P * (1.0 - P)
    H *= np.asarray(weight, np.float64)[:, None]
    diag = _column_project(Xc, H, scale * scale, np.float64, n_workers, square=True)
    return diag, H.sum(axis=0)

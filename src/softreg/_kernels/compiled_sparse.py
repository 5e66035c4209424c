"""Numba-compiled bodies of the passes over a CSR ``X`` (optional: used when numba imports).

A CSR matrix is three arrays: ``data`` (the stored values), ``indices`` (their columns) and
``indptr`` (row ``i`` owns entries ``indptr[i]:indptr[i+1]``). Every loop here runs over the
stored entries of a row range ``[lo, hi)`` and over the classes, so a pass costs
``O(nnz * n_classes)``; nothing of size ``n_samples * n_features`` is ever formed. Indices need
not be sorted, explicit zeros and empty rows or columns cost nothing special, and duplicate
entries of one (row, column) add up, as in scipy (the products are linear in each entry).

Coefficients come transposed: ``Wt`` of shape (n_features, n_classes), so the ``n_classes``
numbers one stored entry multiplies sit side by side in memory (one cache line or two) rather
than ``n_features`` apart. Gradients are added the same way into a float64 ``G64`` of shape
(n_features, n_classes), one per thread; the caller sums and transposes them.

Per row, the logits and the residual are float64 scalars whatever the data's dtype; the
products of ``data`` with ``Wt`` run in the data's dtype. Every function releases the GIL
(``nogil``): the caller splits the rows between threads.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from softreg._kernels.compiled import _FASTMATH

# Columns per block of the column-wise (CSC) products: a (COLUMN_BLOCK, n_classes) float64
# buffer, 160 KB at 20 classes (within L2).
COLUMN_BLOCK = 1024

__all__ = [
    "diagonal_rows",
    "hessp_rows",
    "loss_grad_rows",
    "reduce_transposed",
    "transpose_scaled",
]


def _row_residual(
    z: Any, yi: int, wi: float, residual: bool, keep_proba: bool, proba_out: Any, i: int
) -> float:  # pragma: no cover - compiled
    """One row's logits ``z`` (float64): returns ``wi [logsumexp(z) - z[yi]]`` (the stable
    form). With ``residual``, ``z`` becomes ``wi (softmax(z) - onehot(yi))`` in place and, with
    ``keep_proba``, ``proba_out[i]`` receives ``softmax(z)``."""
    k = z.shape[0]
    top = -np.inf
    for c in range(k):
        if z[c] > top:
            top = z[c]
    z_y = z[yi]
    s = 0.0
    for c in range(k):
        e = math.exp(z[c] - top)  # every exponent <= 0
        z[c] = e
        s += e
    loss = wi * (top + math.log(s) - z_y)
    if not residual:
        return loss
    inv = 1.0 / s
    for c in range(k):
        p_c = z[c] * inv
        if keep_proba:
            proba_out[i, c] = p_c
        # d/dz [logsumexp(z) - z_y] = softmax(z) - onehot(y), times the row's weight.
        z[c] = wi * (p_c - 1.0) if c == yi else wi * p_c
    return loss


def _loss_grad_rows(
    data: Any,
    indices: Any,
    indptr: Any,
    y: Any,
    weight: Any,
    Wt: Any,
    b: Any,
    lo: int,
    hi: int,
    with_grad: bool,
    keep_proba: bool,
    proba_out: Any,
    G64: Any,
    gb64: Any,
) -> float:  # pragma: no cover - compiled
    """Rows ``[lo, hi)``: returns ``sum_i w_i [lse(z_i) - z_{i,y_i}]``; adds the gradient.

    ``z_i = sum_p data[p] Wt[indices[p]] + b`` over the row's entries. The gradient of the row,
    ``w_i (softmax(z_i) - onehot(y_i))``, is added to ``gb64`` and, times each entry, to the
    entry's row of ``G64``. ``proba_out[i]`` receives ``softmax(z_i)`` when ``keep_proba``.
    """
    k = Wt.shape[1]
    z = np.empty(k)
    total = 0.0
    for i in range(lo, hi):
        for c in range(k):
            z[c] = b[c]
        start, stop = indptr[i], indptr[i + 1]
        for p in range(start, stop):
            x = data[p]
            row = Wt[indices[p]]
            for c in range(k):
                z[c] += x * row[c]
        total += _row_residual(
            z, y[i], float(weight[i]), with_grad or keep_proba, keep_proba, proba_out, i
        )
        if with_grad:
            for c in range(k):
                gb64[c] += z[c]
            for p in range(start, stop):
                x = float(data[p])
                g = G64[indices[p]]
                for c in range(k):
                    g[c] += x * z[c]
    return total


def _hessp_rows(
    data: Any,
    indices: Any,
    indptr: Any,
    weight: Any,
    proba: Any,
    Vt: Any,
    vb: Any,
    lo: int,
    hi: int,
    G64: Any,
    gb64: Any,
) -> None:  # pragma: no cover - compiled
    """Rows ``[lo, hi)`` of ``X^T [w * p * (d - <p, d>)]`` with ``d = X V^T + v_b``, added.

    For one row the Hessian of ``logsumexp(z) - z_y`` is ``diag(p) - p p^T``; applied to the
    direction's logits ``d`` it gives ``p * (d - <p, d>)``. Same layout as
    :func:`_loss_grad_rows`.
    """
    k = Vt.shape[1]
    d = np.empty(k)
    for i in range(lo, hi):
        for c in range(k):
            d[c] = vb[c]
        start, stop = indptr[i], indptr[i + 1]
        for p in range(start, stop):
            x = data[p]
            row = Vt[indices[p]]
            for c in range(k):
                d[c] += x * row[c]
        mean = 0.0
        for c in range(k):
            mean += float(proba[i, c]) * d[c]
        wi = float(weight[i])
        for c in range(k):
            d[c] = wi * float(proba[i, c]) * (d[c] - mean)
            gb64[c] += d[c]
        for p in range(start, stop):
            x = float(data[p])
            g = G64[indices[p]]
            for c in range(k):
                g[c] += x * d[c]


def _diagonal_rows(
    data: Any,
    indices: Any,
    indptr: Any,
    weight: Any,
    proba: Any,
    lo: int,
    hi: int,
    D64: Any,
    db64: Any,
) -> None:  # pragma: no cover - compiled
    """Rows ``[lo, hi)`` of the Hessian's diagonal: ``D[j, c] += w_i p_ic (1 - p_ic) x_ij^2``.

    The diagonal of ``diag(p) - p p^T`` is ``p (1 - p)``; through ``z = W x + b`` the entry of
    ``W[c, j]`` picks up ``x_ij^2`` and that of ``b[c]`` a 1 (into ``db64``).
    """
    k = proba.shape[1]
    h = np.empty(k)
    for i in range(lo, hi):
        wi = float(weight[i])
        for c in range(k):
            p_c = float(proba[i, c])
            h[c] = wi * p_c * (1.0 - p_c)
            db64[c] += h[c]
        for p in range(indptr[i], indptr[i + 1]):
            x = float(data[p])
            x2 = x * x
            g = D64[indices[p]]
            for c in range(k):
                g[c] += x2 * h[c]


def _transpose_scaled(
    coef: Any, scale: float, lo: int, hi: int, out: Any
) -> None:  # pragma: no cover - compiled
    """``out[j, c] = scale * coef[c, j]`` for columns ``j`` in ``[lo, hi)``, in tiles.

    Tiles of 256 columns keep both the 256-long pieces of the ``n_classes`` rows read and the
    (256, n_classes) piece written in cache; NumPy's strided copy of the whole transpose
    costs about as much as a pass over a 130107-column X.
    """
    k = coef.shape[0]
    for j0 in range(lo, hi, 256):
        j1 = min(j0 + 256, hi)
        for c in range(k):
            for j in range(j0, j1):
                out[j, c] = coef[c, j] * scale


def _reduce_transposed(
    parts: Any, scale: float, lo: int, hi: int, out: Any
) -> None:  # pragma: no cover - compiled
    """``out[c, j] = scale * sum_t parts[t, j, c]`` for ``j`` in ``[lo, hi)``, in tiles."""
    n_parts, _, k = parts.shape
    acc = np.empty((256, k))
    for j0 in range(lo, hi, 256):
        j1 = min(j0 + 256, hi)
        for j in range(j0, j1):
            for c in range(k):
                acc[j - j0, c] = parts[0, j, c]
            for t in range(1, n_parts):
                for c in range(k):
                    acc[j - j0, c] += parts[t, j, c]
        for c in range(k):
            for j in range(j0, j1):
                out[c, j] = acc[j - j0, c] * scale


# -- column-wise (CSC) passes: for X with fewer rows than columns -----------------------------
#
# With X in CSC form (``indptr`` over columns, ``indices`` holding rows), a pass streams over
# the columns in order: column j's coefficients ``coef[:, j]`` are read once, sequentially
# across j, and the random accesses go to the (n_samples, n_classes) logits and residuals,
# which for text (11314 rows, 20 classes: 1.8 MB) stay in cache, where the row-wise form
# gathers from and scatters into (n_features, n_classes) arrays (130107 x 20: 21 MB) that do
# not. Measured on the 20-newsgroups shape: see benchmarks/bench_sparse.py.


def _csc_logits(
    data: Any, indices: Any, indptr: Any, coef: Any, lo: int, hi: int, Z: Any
) -> None:  # pragma: no cover - compiled
    """``Z[i] += sum_j x_ij coef[:, j]`` over the columns ``j`` in ``[lo, hi)``.

    ``coef[:, j]`` is a strided column of the (n_classes, n_features) coefficients; they are
    copied ``COLUMN_BLOCK`` columns at a time into a small transposed buffer (in cache), so each
    column's classes are read side by side instead of one cache line per class. Measured on
    the 20-newsgroups shape (one core): 10 ms instead of 17 ms per product.
    """
    k = coef.shape[0]
    buf = np.empty((COLUMN_BLOCK, k))
    for j0 in range(lo, hi, COLUMN_BLOCK):
        j1 = min(j0 + COLUMN_BLOCK, hi)
        if indptr[j0] == indptr[j1]:
            continue
        for c in range(k):
            row = coef[c]
            for jj in range(j1 - j0):
                buf[jj, c] = row[j0 + jj]
        for jj in range(j1 - j0):
            v = buf[jj]
            for p in range(indptr[j0 + jj], indptr[j0 + jj + 1]):
                x = float(data[p])
                z = Z[indices[p]]
                for c in range(k):
                    z[c] += x * v[c]


def _csc_project(
    data: Any,
    indices: Any,
    indptr: Any,
    R: Any,
    scale: float,
    square: bool,
    lo: int,
    hi: int,
    out: Any,
) -> None:  # pragma: no cover - compiled
    """``out[:, j] = scale * sum_i x_ij R[i]`` (``x_ij^2`` if ``square``), j in [lo, hi).

    Sums go into a transposed buffer of ``COLUMN_BLOCK`` columns and are written out one class
    row at a time (see :func:`_csc_logits`; 8 ms instead of 13 ms there).
    """
    k = R.shape[1]
    buf = np.empty((COLUMN_BLOCK, k))
    for j0 in range(lo, hi, COLUMN_BLOCK):
        j1 = min(j0 + COLUMN_BLOCK, hi)
        for jj in range(j1 - j0):
            acc = buf[jj]
            for c in range(k):
                acc[c] = 0.0
            for p in range(indptr[j0 + jj], indptr[j0 + jj + 1]):
                x = float(data[p])
                if square:
                    x = x * x
                r = R[indices[p]]
                for c in range(k):
                    acc[c] += x * r[c]
        for c in range(k):
            row = out[c]
            for jj in range(j1 - j0):
                row[j0 + jj] = buf[jj, c] * scale


def _rows_residual(
    Z: Any, b: Any, y: Any, weight: Any, lo: int, hi: int, keep_proba: bool, proba_out: Any
) -> float:  # pragma: no cover - compiled
    """Rows ``[lo, hi)`` of the logits ``Z`` (plus ``b``): returns the weighted loss and turns
    ``Z[i]`` into the residual ``w_i (softmax(z_i) - onehot(y_i))`` in place."""
    k = Z.shape[1]
    total = 0.0
    for i in range(lo, hi):
        z = Z[i]
        for c in range(k):
            z[c] += b[c]
        total += _row_residual(z, y[i], float(weight[i]), True, keep_proba, proba_out, i)
    return total


def _rows_hessp(
    D: Any, vb: Any, weight: Any, proba: Any, lo: int, hi: int
) -> None:  # pragma: no cover - compiled
    """Rows ``[lo, hi)``: the direction's logits ``d_i`` (plus ``vb``) become
    ``w_i p_i (d_i - <p_i, d_i>)`` in place (the Hessian of the row's loss applied to them)."""
    k = D.shape[1]
    for i in range(lo, hi):
        d = D[i]
        mean = 0.0
        for c in range(k):
            d[c] += vb[c]
            mean += float(proba[i, c]) * d[c]
        wi = float(weight[i])
        for c in range(k):
            d[c] = wi * float(proba[i, c]) * (d[c] - mean)


_LOCK = threading.Lock()
_JIT: dict[str, Any] = {}


def _build() -> None:
    """Compile the three row loops once per process (cached on disk, as in ``compiled``)."""
    with _LOCK:
        if _JIT:
            return
        import numba

        jit = numba.njit(nogil=True, fastmath=_FASTMATH, error_model="numpy", cache=True)
        # The shared row helper first: the entry points compile against the compiled one.
        globals()["_row_residual"] = jit(_row_residual)
        _JIT["loss_grad"] = jit(_loss_grad_rows)
        _JIT["hessp"] = jit(_hessp_rows)
        _JIT["diagonal"] = jit(_diagonal_rows)
        _JIT["transpose_scaled"] = jit(_transpose_scaled)
        for name in ("csc_logits", "csc_project", "rows_residual", "rows_hessp"):
            _JIT[name] = jit(globals()["_" + name])
        _JIT["reduce_transposed"] = jit(_reduce_transposed)


def loss_grad_rows(*args: Any) -> float:
    """Compiled :func:`_loss_grad_rows` (compiling on first use)."""
    if not _JIT:
        _build()
    return float(_JIT["loss_grad"](*args))


def hessp_rows(*args: Any) -> None:
    """Compiled :func:`_hessp_rows` (compiling on first use)."""
    if not _JIT:
        _build()
    _JIT["hessp"](*args)


def diagonal_rows(*args: Any) -> None:
    """Compiled :func:`_diagonal_rows` (compiling on first use)."""
    if not _JIT:
        _build()
    _JIT["diagonal"](*args)


def transpose_scaled(coef: Any, scale: float, lo: int, hi: int, out: Any) -> None:
    """Compiled :func:`_transpose_scaled` (compiling on first use)."""
    if not _JIT:
        _build()
    _JIT["transpose_scaled"](coef, scale, lo, hi, out)


def reduce_transposed(parts: Any, scale: float, lo: int, hi: int, out: Any) -> None:
    """Compiled :func:`_reduce_transposed` (compiling on first use)."""
    if not _JIT:
        _build()
    _JIT["reduce_transposed"](parts, scale, lo, hi, out)


def csc(name: str) -> Any:
    """The compiled column-wise function ``name`` ("csc_logits", "csc_project",
    "rows_residual" or "rows_hessp"), compiling on first use."""
    if not _JIT:
        _build()
    return _JIT[name]

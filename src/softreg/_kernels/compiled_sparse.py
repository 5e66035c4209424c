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

__all__ = ["diagonal_rows", "hessp_rows", "loss_grad_rows"]


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
        top = -np.inf
        for c in range(k):
            if z[c] > top:
                top = z[c]
        yi = y[i]
        z_y = z[yi]
        s = 0.0
        for c in range(k):
            e = math.exp(z[c] - top)  # the stable form: every exponent <= 0
            z[c] = e
            s += e
        wi = float(weight[i])
        total += wi * (top + math.log(s) - z_y)
        if not (with_grad or keep_proba):
            continue
        inv = 1.0 / s
        for c in range(k):
            p_c = z[c] * inv
            if keep_proba:
                proba_out[i, c] = p_c
            # d/dz [logsumexp(z) - z_y] = softmax(z) - onehot(y), times the row's weight.
            z[c] = wi * (p_c - 1.0) if c == yi else wi * p_c
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


_LOCK = threading.Lock()
_JIT: dict[str, Any] = {}


def _build() -> None:
    """Compile the three row loops once per process (cached on disk, as in ``compiled``)."""
    with _LOCK:
        if _JIT:
            return
        import numba

        jit = numba.njit(nogil=True, fastmath=_FASTMATH, error_model="numpy", cache=True)
        _JIT["loss_grad"] = jit(_loss_grad_rows)
        _JIT["hessp"] = jit(_hessp_rows)
        _JIT["diagonal"] = jit(_diagonal_rows)


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

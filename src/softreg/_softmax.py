"""Softmax, log-softmax and log-sum-exp with error bounds of a few ULP.

Conventions
-----------
``z`` holds logits with the classes on ``axis`` (default the last one). Every row is
shifted by its maximum ``m``, ``d_j = z_j - m <= 0``, and the row is summarised by

    s = sum_{j != argmax} exp(d_j)          (the max entry itself is left out)

so that ``logsumexp = m + log1p(s)``, ``log_softmax_j = d_j - log1p(s)`` (for the argmax entry
exactly ``-log1p(s)``, which keeps every digit when ``s`` is tiny) and
``softmax_j = exp(d_j) / (1 + s)``.

Float64: ``z_j - m`` is not exact in general (e.g. ``z = -1e3 + 1e-9``); rounding it costs
``|d| * 2**-53`` absolute, i.e. up to ~400 ULP after ``exp``. We split it exactly into
``hi + lo`` with Knuth's TwoSum and use ``exp(hi + lo) = exp(hi) * (1 + lo)``
(``|lo| <= ulp(hi)/2``, so the neglected ``lo**2/2`` is below 2**-100). Float32 (and float16)
is computed in float64, where the same formulas are exact enough, and rounded once.

Speed: rows are processed in cache-sized chunks with a reused workspace (every operation
writes in place, nothing is allocated per chunk); with few classes a chunk is transposed so
that every operation runs over long contiguous rows, and the max entry is left out of ``s``
through the exact ties ``d_j == 0`` instead of an argmax. Float32 softmax needs neither TwoSum
nor the split-off max entry (float64 has 29 bits to spare) and shifts a whole chunk by one
scalar where its row maxima are close (see ``_softmax_float32``).

logsumexp: ``m + log1p(s)`` is summed in longdouble; rows with ``m < 0`` whose result cancels
(``|result| << |m|``) are redone by :mod:`softreg._lse_exact`.

Rows whose maximum is not finite (NaN, +inf, all -inf) and rows where an intermediate
overflowed (``|z - m| > 1.8e308``) are rare: they are found from per-row values after the fast
pass and recomputed on the side, so finite inputs pay nothing for them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from softreg._lse_exact import logsumexp_cancelling

# Rows are processed in chunks of about this many elements so the float64 temporaries
# (5 of them) stay in a 4 MiB L2 cache; measured best between 2**14 and 2**17.
_CHUNK_ELEMENTS = 1 << 15
# Up to this many classes, chunks are processed transposed (classes first).
_FEW_CLASSES = 32
# exp(-600) ~ 2.6e-261 is far from float64's subnormals and exp(600) * K far from overflow.
_UNSHIFTED = 600.0
_FLOAT32_MIN_SUM = float(np.exp(-580.0))


def as_float_array(
    x: ArrayLike, name: str, upcast: bool = True
) -> tuple[NDArray[np.floating], np.dtype]:
    """Return ``(x as float64, result dtype)`` or raise a TypeError naming ``name``.

    float64 stays float64, float32/float16/bfloat16-like give float32 results (computed in
    float64, or in float32 with ``upcast=False``), booleans and integers give float64 as
    NumPy's ufuncs do.
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real numeric array, got {type(x).__name__}") from exc
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real, got complex array of dtype {arr.dtype}")
    if kind in "biu":
        return arr.astype(np.float64), np.dtype(np.float64)
    if kind == "f" or "float" in arr.dtype.name:  # "float": ml_dtypes bfloat16 and friends
        if arr.dtype.itemsize > 4:
            return arr.astype(np.float64, copy=False), np.dtype(np.float64)
        out = np.dtype(np.float32)
        compute = np.float64 if upcast else np.float32
        return arr.astype(np.float32, copy=False).astype(compute, copy=False), out
    raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")


def _rows(z: NDArray[np.floating], axis: int) -> tuple[NDArray[np.floating], Callable]:
    """View ``z`` as C-contiguous (n_rows, K) with ``axis`` last; return it and an inverse."""
    if z.ndim == 0:
        raise ValueError("z must have at least one dimension, got a 0-d array")
    if not isinstance(axis, (int, np.integer)) or not -z.ndim <= axis < z.ndim:
        raise ValueError(f"axis must be an int in [-{z.ndim}, {z.ndim}), got {axis!r}")
    moved = np.moveaxis(z, axis, -1)
    shape = moved.shape
    flat = np.ascontiguousarray(moved).reshape(int(np.prod(shape[:-1])), shape[-1])

    def back(a: NDArray, keep_last: bool = True) -> NDArray:
        if keep_last:
            return np.moveaxis(a.reshape(shape), -1, axis)
        return a.reshape(shape[:-1])

    return flat, back


def _two_diff(
    x: NDArray[np.float64],
    m: NDArray[np.float64],
    bufs: list[NDArray[np.float64]],
    exact: bool,
    careful: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """``hi = fl(x - m)`` in ``bufs[0]`` and (if ``exact``) ``lo`` in ``bufs[2]``, with
    ``hi + lo == x - m`` exactly; ``bufs[1]`` is scratch."""
    hi = np.subtract(x, m, out=bufs[0])
    if not exact:
        return hi, None
    # Knuth's TwoSum of a = x, b = -m (no branch, any magnitudes):
    #   bv = s - a, av = s - bv, lo = (a - av) + (b - bv) = (x - av) - (bv + m).
    bv = np.subtract(hi, x, out=bufs[1])
    lo = np.subtract(hi, bv, out=bufs[2])
    np.subtract(x, lo, out=lo)
    np.add(bv, m, out=bv)
    np.subtract(lo, bv, out=lo)
    if careful:  # hi = -inf (x = -inf or x - m overflowed) makes lo NaN; exp(hi) is 0 anyway
        lo[~np.isfinite(lo)] = 0.0
    return hi, lo


def _kernel(
    x: NDArray[np.float64],
    out: NDArray,
    kind: str,
    axis: int,
    exact: bool,
    careful: bool = False,
    bufs: list[NDArray[np.float64]] | None = None,
) -> NDArray[np.bool_]:
    """Fast pass over one chunk of rows with finite maxima, written into ``out``.

    ``axis`` is the class axis of ``x``: 1 for (n_rows, K) chunks, 0 for transposed (K, n_rows)
    chunks, used for few classes because NumPy's reductions along short rows and its (n, 1)
    broadcasts are slow. ``out`` has the layout of ``x`` (a view; (n_rows,) for logsumexp).
    Returns the rows that need the edge policy: NaN/inf in ``x`` or an overflow in ``x - m``
    always shows in ``m`` or in ``s``.
    """
    if bufs is None:
        bufs = [np.empty_like(x) for _ in range(4)]
    if kind == "softmax" and not exact:
        return _softmax_float32(x, out, axis, bufs[0])
    if axis == 1 and (kind != "softmax" or exact):
        idx = np.argmax(x, axis=1)[:, None]
        m = np.take_along_axis(x, idx, axis=1)
    else:
        m = np.max(x, axis=axis, keepdims=True)
    hi, lo = _two_diff(x, m, bufs, exact, careful)
    # exp(hi + lo) = exp(hi) (1 + lo + O(lo^2)), |lo| <= 2**-53 |hi|
    e = np.exp(hi, out=bufs[1])
    if lo is not None:
        e += np.multiply(e, lo, out=bufs[3])
    # s = sum of exp(d_j) over all entries but one max entry, so that the sum's rounding errors
    # stay relative to s, not to 1 + s (log1p(s) needs s to full relative precision).
    if axis == 1:
        np.put_along_axis(e, idx, 0.0, axis=1)
        s = e.sum(axis=1, keepdims=True)
    else:
        # Transposed chunks avoid an argmax along short axes: the ties d_j == 0 are exactly the
        # entries with e_j == 1 (lo = 0 there); sum the others, then add n_ties - 1 exact ones.
        ties = hi == 0
        s = np.subtract(e, ties, out=bufs[3]).sum(axis=0, keepdims=True)
        s += ties.sum(axis=0, keepdims=True, dtype=np.float64) - 1.0
    special = ~(np.isfinite(m) & np.isfinite(s)).ravel()
    if kind == "softmax":
        # exp(d_j) / (1 + s) with one rounding of 1 + s (summing the 1 with the others would
        # round it log2(K) times: measured 3.2 instead of 2.3 ULP); the max entries get
        # exactly fl(1 / (1 + s)).
        denom = 1.0 + s
        np.divide(e, denom, out=out)
        if axis == 1:
            np.put_along_axis(out, idx, 1.0 / denom, axis=1)
        return special
    log1p_s = np.log1p(s)
    if kind == "log_softmax":
        # (d_j - log1p(s)): both terms <= 0, no cancellation; the max entries (hi = lo = 0) are
        # exactly -log1p(s), where (z - max) - log(sum) loses every digit when s is tiny.
        np.subtract(hi, log1p_s, out=hi)
        if lo is None:
            np.copyto(out, hi, casting="same_kind")
        else:
            np.add(hi, lo, out=out, casting="same_kind")
        return special
    xr = x if axis == 1 else x.T
    out[...] = _lse_combine(xr, m.ravel(), s.ravel(), exact)
    return special


def _softmax_float32(
    x: NDArray[np.float64], out: NDArray, axis: int, buf: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Softmax of a float64 chunk rounded to float32: float64 has 29 bits to spare.

    No TwoSum, no argmax: ``exp(x - c) / sum(exp(x - c))`` for any shift ``c`` >= each row max
    keeps the float32 result within 0.5 ULP + 2**-40 relative as long as ``exp`` stays normal
    for every entry that can show in float32 (``z_j - max >= -104``). One shift for the whole
    chunk, its largest row max, is a scalar subtraction (NumPy's per-row ``(n, 1)`` broadcasts
    are ~3x slower); it is used when every row max is within 600 of it (``exp(-704)`` is still
    a normal float64), otherwise each row is shifted by its own max.
    """
    m = np.max(x, axis=axis, keepdims=True)
    top, bottom = m.max(), m.min()
    chunk_shift = bool(np.isfinite(top) and np.isfinite(bottom) and top - bottom <= 600.0)
    e = np.subtract(x, top if chunk_shift else m, out=buf)
    np.exp(e, out=e)
    denom = e.sum(axis=axis, keepdims=True)
    special = ~(np.isfinite(m) & np.isfinite(denom)).ravel()
    # one float64 reciprocal per row instead of K divisions: 2**-53 relative, invisible in float32
    np.multiply(e, np.reciprocal(denom, out=denom), out=out, casting="same_kind")
    return special


def _softmax_unshifted(
    chunk: NDArray[np.floating], out: NDArray, e: NDArray[np.float64], top: float
) -> NDArray[np.bool_]:
    """Softmax of a (rows, K) chunk without the max shift; returns the rows where that is exact.

    For moderate logits (the common case) ``exp(z_j) / sum_k exp(z_k)`` is the exact formula:
    ``z`` is used as given (no rounded ``z - max``), each float64 ``exp`` is within 1 ULP, the
    positive terms sum with a small relative error and one division rounds. float32 input is
    widened inside ``exp`` (no copy) and the result rounds once to float32. Rows with NaN, inf
    or large logits (the comparisons fail) are left to the caller's shifted kernel; the choice
    is per row, so a row's result never depends on its neighbours in the batch.
    """
    if out.dtype == np.float64:
        ok = (chunk.min(axis=1) >= -_UNSHIFTED) & (chunk.max(axis=1) <= top)
    np.exp(chunk, out=e, dtype=np.float64)  # float32 is widened in the loop, not rounded
    denom = e.sum(axis=1, keepdims=True)
    if out.dtype == np.float64:
        np.divide(e, denom, out=out)
        return ok
    # float32 results need only the row sum in range: sum >= exp(-580) puts the row max above
    # -587, so an entry whose exp underflowed has softmax < exp(-121), zero in float32; a
    # finite sum means no exp overflowed; NaN fails both tests.
    ok = (denom >= _FLOAT32_MIN_SUM) & (denom <= np.finfo(np.float64).max)
    # one reciprocal per row: 2**-53 relative, invisible after rounding to float32
    np.multiply(e, np.reciprocal(denom, out=denom), out=out, casting="same_kind")
    return ok.ravel()


def _log_softmax32_unshifted(
    chunk: NDArray[np.floating], out: NDArray, e: NDArray[np.float64], top: float
) -> NDArray[np.bool_]:
    """float32 ``log_softmax`` of a chunk as ``z - log(sum(exp(z)))`` in float64, no shift.

    Returns the rows where that is exact to float32. The float64 result has an absolute error
    below ``2**-52 (|z_j| + 2|L| + 2)`` (``L`` the row's logsumexp), within one float32 ULP of
    ``r_j = z_j - L`` unless ``r_j`` nearly cancels; every ``|r_j| >= |r_max|``, so the row is
    exact when ``|max z - L| >= 2**-28 (3|L| + 2)``. Rows where the dominant class takes all but
    ~1e-7 of the mass fail that test and go to the caller's ``-log1p`` kernel, as do rows whose
    exp sum is out of range (large logits, inf, NaN). ``top`` is unused (the sum is checked).
    """
    np.exp(chunk, out=e, dtype=np.float64)
    lse = e.sum(axis=1, keepdims=True)
    in_range = (lse >= _FLOAT32_MIN_SUM) & (lse <= np.finfo(np.float64).max)
    np.log(lse, out=lse)
    margin = np.max(chunk, axis=1, keepdims=True) - lse
    ok = in_range & (np.abs(margin) >= 2.0**-28 * (3.0 * np.abs(lse) + 2.0))
    if chunk.dtype == np.float32:
        # z - L in float32 arithmetic with L split as hi + lo (both float32): z - hi rounds once
        # and - lo once, each within half a float32 ULP of r_j (|lo| <= 2**-24 |L| is far below
        # |r_j| on the rows kept), which is cheaper than a mixed float32/float64 subtraction.
        hi = lse.astype(np.float32)
        lo = (lse - hi).astype(np.float32)
        np.subtract(chunk, hi, out=out)
        np.subtract(out, lo, out=out)
    else:
        np.subtract(chunk, lse, out=out, dtype=np.float64, casting="same_kind")
    return ok.ravel()


def _special_rows(x: NDArray[np.float64], kind: str) -> NDArray[np.float64]:
    """Edge policy for rows with NaN, +inf, all -inf, or an overflowing ``x - m``.

    NaN anywhere -> NaN row. +inf entries (k of them) share the mass: softmax 1/k there and 0
    elsewhere, log_softmax -log(k) there and -inf elsewhere, logsumexp +inf. All -inf: the limit
    of equal logits c -> -inf: softmax 1/K, log_softmax -log(K), logsumexp -inf. Any other row
    (finite max, some -inf or far-away entries) is recomputed with the NaN-safe correction.
    """
    out = np.empty(x.shape[0] if kind == "logsumexp" else x.shape, dtype=np.float64)
    for i, row in enumerate(x):
        if np.isnan(row).any():
            out[i] = np.nan
        elif np.isposinf(row).any() or np.isneginf(row).all():
            top = np.isposinf(row) if np.isposinf(row).any() else np.ones(row.shape, dtype=bool)
            k = float(top.sum())
            if kind == "softmax":
                out[i] = np.where(top, 1.0 / k, 0.0)
            elif kind == "log_softmax":
                out[i] = np.where(top, -np.log(k), -np.inf)
            else:
                out[i] = row.max()
        else:
            res = np.empty(1 if kind == "logsumexp" else row.shape)
            _kernel(row[None, :], res[None, :] if kind != "logsumexp" else res, kind, 1, True, True)
            out[i] = res if kind != "logsumexp" else res[0]
    return out


def _lse_combine(
    x: NDArray[np.float64], m: NDArray[np.float64], s: NDArray[np.float64], exact: bool
) -> NDArray[np.float64]:
    """``m + log1p(s)`` rounded once: per-row work in extended precision where available."""
    if not exact:  # float32 results: float64 carries 29 more bits than needed...
        out = m + np.log1p(s)
        # ...except under cancellation: an absolute error of ~2**-51 |m| must stay below
        # 2**-26 |out| (a quarter float32 ULP).
        return _fix_cancelling(x, m, out, 2.0**-21, 24)
    ext = np.longdouble
    out = (m.astype(ext) + np.log1p(s.astype(ext))).astype(np.float64)
    # The ~1 ULP error of s (each float64 exp is rounded) moves log1p(s) by up to
    # eps * s / (1 + s); relative to the result that is amplified by s / (1 + s) / |out|, which
    # exceeds 1/4 only when m is small or negative (m < 0 cancels log1p(s)). Those rows are
    # redone with the exps in extended precision (x87 80-bit on x86-64; a no-op where
    # longdouble is float64).
    redo = np.flatnonzero(s > 0.25 * np.abs(out) * (1.0 + s))
    if redo.size:
        rows = x[redo].astype(ext)
        idx = np.argmax(rows, axis=1)[:, None]
        top = np.take_along_axis(rows, idx, axis=1)
        terms = np.exp(rows - top)
        np.put_along_axis(terms, idx, 0, axis=1)
        out[redo] = (top[:, 0] + np.log1p(terms.sum(axis=1))).astype(np.float64)
    # That leaves an absolute error of ~16 eps_ext |m|; below 2**-56 |out| (1/8 ULP) unless
    # out cancels by more than eps_ext 2**60 (1/8 with x87 longdouble).
    return _fix_cancelling(x, m, out, float(np.finfo(ext).eps) * 2.0**60, 53)


def _fix_cancelling(
    x: NDArray[np.float64],
    m: NDArray[np.float64],
    out: NDArray[np.float64],
    ratio: float,
    bits: int,
) -> NDArray[np.float64]:
    """Redo the rows with ``max < 0`` where ``|out| < ratio |max|`` in double-longdouble."""
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero(np.isfinite(out) & (m < 0) & (np.abs(out) < -ratio * m))
    if rows.size:
        out[rows] = logsumexp_cancelling(x[rows], bits)
    return out


def rowwise(z: ArrayLike, axis: int, kind: str) -> tuple[NDArray, Callable, np.dtype]:
    """Run ``kind`` in {"softmax", "log_softmax", "logsumexp"} over rows of ``z``.

    Returns the result as (n_rows, K) (or (n_rows,) for logsumexp) in the dtype to return, and
    the function that restores the original layout.
    """
    x_in, out_dtype = as_float_array(z, "z", upcast=False)
    x, back = _rows(x_in, axis)
    n_rows, n_cols = x.shape
    exact = out_dtype == np.float64
    out = np.empty(n_rows if kind == "logsumexp" else x.shape, dtype=out_dtype)
    if n_cols == 0 or n_rows == 0:
        out[...] = -np.inf  # logsumexp over nothing is log(0); softmax of nothing is empty
        return out, back, out_dtype
    step = min(n_rows, max(1, _CHUNK_ELEMENTS // n_cols))
    few = n_cols <= _FEW_CLASSES
    # Workspace reused by every chunk: no allocation (and no page faults) per operation.
    work = np.empty((5, step * n_cols))
    # Unshifted softmax bound: with every entry of a chunk in [-_UNSHIFTED, _UNSHIFTED - log K],
    # exp(z) is a normal float64 with no overflow in the row sums, so no max needs subtracting.
    unshifted_top = _UNSHIFTED - np.log(n_cols)
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        for start in range(0, n_rows, step):
            chunk = x[start : start + step]
            rows = chunk.shape[0]
            unshifted = _softmax_unshifted if kind == "softmax" else _log_softmax32_unshifted
            if not few and (kind == "softmax" or (kind == "log_softmax" and not exact)):
                target = out[start : start + step]
                e = work[0, : rows * n_cols].reshape(rows, n_cols)
                ok = unshifted(chunk, target, e, unshifted_top)
                if not ok.all():  # rows with large logits, inf or NaN: the shifted kernel
                    bad = np.flatnonzero(~ok)
                    sub = chunk[bad].astype(np.float64)
                    res = np.empty_like(sub)
                    special = _kernel(sub, res, kind, 1, exact)
                    if special.any():
                        res[special] = _special_rows(sub[special], kind)
                    target[bad] = res
                continue
            shape = (n_cols, rows) if few else (rows, n_cols)
            bufs = [w[: rows * n_cols].reshape(shape) for w in work]
            xc = bufs.pop()
            if few or chunk.dtype != np.float64:
                np.copyto(xc, chunk.T if few else chunk)  # widens float32 while in cache
            else:
                xc = chunk  # read only by the kernel: no copy needed
            target = out[start : start + step]
            if few and kind != "logsumexp":
                target = target.T
            special = _kernel(xc, target, kind, 0 if few else 1, exact, bufs=bufs)
            if special.any():
                fixed = _special_rows(chunk[special].astype(np.float64), kind)
                out[start : start + step][special] = fixed
    return out, back, out_dtype

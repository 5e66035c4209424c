"""Numba-compiled bodies of the fused passes (optional: used when numba imports).

The NumPy/BLAS passes in :mod:`softreg._kernels.passes` call two skinny products per block
(``X W^T`` with n_classes columns, then ``R^T X``). OpenBLAS runs those at about a third of its
square-GEMM rate, and converting uint8 blocks, slicing logits and the row-wise softmax add
NumPy calls per block. Here one compiled loop does a group of 8 rows at a time, entirely in
cache:

1. read the 8 rows in place when ``X`` already has the arithmetic dtype; otherwise convert
   them into a small buffer (this is where uint8 pixels become floats: no converted copy of
   ``X``);
2. logits: for a pair of classes and 4 of the rows, 8 dot products of length n_features
   share each load of the rows and of the two coefficient rows (register blocking 4 rows x 2
   classes, twice per group);
3. the row-wise softmax, loss and residual ``w_i (p_i - onehot(y_i))`` in float64 scalars;
4. gradient: for a pair of classes, ``G[k] += sum_r R[r, k] x_r`` over 4 of the rows, one
   load and one store of ``G[k, j]`` per 4 multiply-adds (twice per group).

Measured on this 2-core machine (AVX-512 Xeon, one thread, 60000 x 784 float32 rows, 10
classes): step 2 took 18-19 ms and step 4 17-19 ms, against 20 ms and 23 ms for the same
products through OpenBLAS; a whole pass (two threads) takes about half the NumPy pass's time
(22-33 ms against 40-53 ms, depending on the machine's load). LLVM vectorises the loops with
256-bit registers; forcing 512-bit ones (``NUMBA_CPU_FEATURES=...,-prefer-256-bit``) gained ~10%.
Those figures are of 8 x 2 register blocks, which fit AVX-512's 32 vector registers but spill
from AVX2's 16: on a 2-core AVX2 EPYC (Zen 3), one thread, 4 x 2 blocks made the Hessian pass
about 52 ms instead of 62 and the loss+gradient pass 60 instead of 73 (medians of alternating
processes on a shared machine); they were not re-measured on the AVX-512 Xeon.

Float32 partial sums of the gradient cover at most ``_FLUSH_GROUPS`` groups of rows; they are
then added into float64 accumulators, so round-off does not grow with ``n_samples``. Only
reassociation and contraction are allowed to the compiler (``fastmath`` without ``nnan`` /
``ninf``), so infinities and NaNs propagate as in NumPy.

Every function takes a row range ``[lo, hi)`` and releases the GIL (``nogil``): the caller
splits rows between Python threads, exactly as for the NumPy passes.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from typing import Any

import numpy as np

# numba is imported on the first pass, not with softreg (it costs ~0.3 s to import).
AVAILABLE = os.environ.get("SOFTREG_DISABLE_NUMBA", "") in ("", "0") and (
    importlib.util.find_spec("numba") is not None
)

GROUP = 8  # rows per register block
_FLUSH_GROUPS = 32  # float32 partial sums cover at most 256 rows before the float64 flush
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# Per-row factors (residuals) smaller than this are set to zero before they multiply X. In
# float32 a probability such as exp(-90) times the row weight 1/60000 is subnormal, and x86
# cores take a slow microcode path (~100 cycles) for arithmetic on subnormals. Measured on
# Fashion-MNIST with a confident model (57% of the residuals subnormal): a Hessian-vector pass
# took 85 ms without this and 23-33 ms with it, a loss+gradient pass 96 ms and 24 ms. A term
# below 2^-100 (~8e-31) is far below the float32 resolution of any sum it joins. float64 keeps
# every term (subnormals there need exp(-700)).
TINY = {np.dtype(np.float32): 2.0**-100, np.dtype(np.float64): 0.0}


def _load_group(X: Any, i0: int, m: int, xb: Any) -> None:  # pragma: no cover - compiled
    """``xb[:m] = X[i0:i0+m]`` converted; rows ``m..GROUP-1`` of ``xb`` set to zero."""
    d = X.shape[1]
    for r in range(m):
        for j in range(d):
            xb[r, j] = X[i0 + r, j]
    for r in range(m, GROUP):
        for j in range(d):
            xb[r, j] = 0


def _products(xb: Any, Wt: Any, z: Any, zero: Any) -> None:  # pragma: no cover - compiled
    """``z[r, k] = <xb[r], Wt[k]>`` for the 8 rows and every (even) k, 4 x 2 at a time.

    ``zero`` is 0 in ``xb``'s dtype (the accumulators' type). Register blocks of 4 rows x 2
    classes (8 accumulators, 6 loaded vectors) fit the 16 vector registers of AVX2; 8 x 2 (16
    accumulators) spilled there: measured on an AVX2 EPYC, one thread, the whole pass 15-20%
    faster with 4 x 2 (Hessian-vector pass about 52 against 62 ms).
    """
    d = xb.shape[1]
    kp = Wt.shape[0]
    for h in range(0, GROUP, 4):
        x0, x1, x2, x3 = xb[h], xb[h + 1], xb[h + 2], xb[h + 3]
        for k in range(0, kp, 2):
            wa = Wt[k]
            wb = Wt[k + 1]
            a0 = a1 = a2 = a3 = zero
            b0 = b1 = b2 = b3 = zero
            for j in range(d):
                u = wa[j]
                v = wb[j]
                y0 = x0[j]
                y1 = x1[j]
                y2 = x2[j]
                y3 = x3[j]
                a0 += y0 * u
                a1 += y1 * u
                a2 += y2 * u
                a3 += y3 * u
                b0 += y0 * v
                b1 += y1 * v
                b2 += y2 * v
                b3 += y3 * v
            z[h, k] = a0
            z[h + 1, k] = a1
            z[h + 2, k] = a2
            z[h + 3, k] = a3
            z[h, k + 1] = b0
            z[h + 1, k + 1] = b1
            z[h + 2, k + 1] = b2
            z[h + 3, k + 1] = b3


def _accumulate(xb: Any, c: Any, G: Any) -> None:  # pragma: no cover - compiled
    """``G[k] += sum_r c[r, k] xb[r]`` over the 8 rows, for every (even) k, 4 rows x 2 classes
    at once (register blocks sized for AVX2, as in :func:`_products`)."""
    d = xb.shape[1]
    kp = G.shape[0]
    for h in range(0, GROUP, 4):
        x0, x1, x2, x3 = xb[h], xb[h + 1], xb[h + 2], xb[h + 3]
        for k in range(0, kp, 2):
            a0, a1, a2, a3 = c[h, k], c[h + 1, k], c[h + 2, k], c[h + 3, k]
            b0, b1, b2, b3 = c[h, k + 1], c[h + 1, k + 1], c[h + 2, k + 1], c[h + 3, k + 1]
            ga = G[k]
            gb = G[k + 1]
            for j in range(d):
                u0 = x0[j]
                u1 = x1[j]
                u2 = x2[j]
                u3 = x3[j]
                ga[j] += a0 * u0 + a1 * u1 + a2 * u2 + a3 * u3
                gb[j] += b0 * u0 + b1 * u1 + b2 * u2 + b3 * u3


def _flush(G: Any, G64: Any, gb: Any, gb64: Any) -> None:  # pragma: no cover - compiled
    kp, d = G.shape
    for k in range(kp):
        for j in range(d):
            G64[k, j] += G[k, j]
            G[k, j] = 0
        gb64[k] += gb[k]
        gb[k] = 0


def _group(X: Any, xsrc: Any, direct: bool, i0: int, m: int, xb: Any) -> Any:  # pragma: no cover
    """Rows ``i0 .. i0+m-1`` as a (GROUP, n_features) array in the arithmetic dtype.

    With ``direct`` a full group is a view of ``xsrc`` (``X`` itself, no copy); otherwise the
    rows are converted into ``xb`` (zero-padded to GROUP rows).
    """
    if direct and m == GROUP:
        return xsrc[i0 : i0 + GROUP]
    _load_group(X, i0, m, xb)
    return xb


def _add_group(
    xv: Any, c: Any, m: int, G: Any, G64: Any, gb: Any, gb64: Any, groups: int
) -> int:  # pragma: no cover - compiled
    """``G += c^T xv`` for one group (rows past ``m`` count as zero); flush when due.

    Returns the updated count of groups held in the float32 partial sums.
    """
    for r in range(m, GROUP):
        for k in range(c.shape[1]):
            c[r, k] = 0
    _accumulate(xv, c, G)
    groups += 1
    if groups == _FLUSH_GROUPS:
        _flush(G, G64, gb, gb64)
        groups = 0
    return groups


def _loss_grad_rows(
    X: Any,
    xsrc: Any,
    direct: bool,
    y: Any,
    weight: Any,
    Wt: Any,
    b: Any,
    n_classes: int,
    lo: int,
    hi: int,
    with_grad: bool,
    keep_proba: bool,
    proba_out: Any,
    xb: Any,
    G: Any,
    G64: Any,
    gb64: Any,
    tiny: float,
) -> float:  # pragma: no cover - compiled
    """Rows ``[lo, hi)``: returns ``sum_i w_i [lse(z_i) - z_{i,y_i}]``; adds the gradient.

    ``Wt`` (k_pad, n_features) holds ``scale * coef`` (zero rows beyond ``n_classes``), ``b``
    the intercept (k_pad,) (zeros without one). ``xb`` (GROUP, n_features) and ``G``
    (k_pad, n_features) are scratch in the arithmetic dtype; ``G64`` (k_pad, n_features) and
    ``gb64`` (k_pad,) are float64 accumulators the gradient is added into. Residuals below
    ``tiny`` in magnitude count as zero (see :data:`TINY`). With ``direct``, ``xsrc`` is ``X``
    itself (already in the arithmetic dtype) and full groups are read in place; otherwise
    ``xsrc`` is unused (any array of that dtype) and every group is converted into ``xb``.
    """
    kp = Wt.shape[0]
    z = np.empty((GROUP, kp), xb.dtype)
    c = np.zeros((GROUP, kp), xb.dtype)
    gb = np.zeros(kp, xb.dtype)
    zero = gb[0]
    expo = np.empty(kp)  # exp(z_k - max z) of one row, float64
    total = 0.0
    groups = 0
    for i0 in range(lo, hi, GROUP):
        m = min(GROUP, hi - i0)
        xv = _group(X, xsrc, direct, i0, m, xb)
        _products(xv, Wt, z, zero)
        for r in range(m):
            i = i0 + r
            top = -np.inf
            for k in range(n_classes):
                v = float(z[r, k]) + float(b[k])
                z[r, k] = v
                if v > top:
                    top = v
            s = 0.0
            for k in range(n_classes):
                e = math.exp(float(z[r, k]) - top)
                expo[k] = e
                s += e
            yi = y[i]
            wi = float(weight[i])
            total += wi * (top + math.log(s) - float(z[r, yi]))
            if with_grad or keep_proba:
                inv = 1.0 / s
                for k in range(n_classes):
                    p = expo[k] * inv
                    if keep_proba:
                        proba_out[i, k] = p
                    g = wi * (p - 1.0) if k == yi else wi * p
                    if abs(g) < tiny:
                        g = 0.0
                    c[r, k] = g
                    gb[k] += g
        if with_grad:
            groups = _add_group(xv, c, m, G, G64, gb, gb64, groups)
    if with_grad:
        _flush(G, G64, gb, gb64)
    return total


def _hessp_rows(
    X: Any,
    xsrc: Any,
    direct: bool,
    weight: Any,
    proba: Any,
    Vt: Any,
    vb: Any,
    n_classes: int,
    lo: int,
    hi: int,
    xb: Any,
    G: Any,
    G64: Any,
    gb64: Any,
    tiny: float,
) -> None:  # pragma: no cover - compiled
    """Rows ``[lo, hi)`` of ``X^T [w * p * (d - <p, d>)]`` with ``d = X V^T + v_b``, added.

    Same layout as :func:`_loss_grad_rows`: ``Vt`` is the scaled direction (k_pad,
    n_features), ``vb`` its intercept part (k_pad,).
    """
    kp = Vt.shape[0]
    z = np.empty((GROUP, kp), xb.dtype)
    c = np.zeros((GROUP, kp), xb.dtype)
    gb = np.zeros(kp, xb.dtype)
    zero = gb[0]
    groups = 0
    for i0 in range(lo, hi, GROUP):
        m = min(GROUP, hi - i0)
        xv = _group(X, xsrc, direct, i0, m, xb)
        _products(xv, Vt, z, zero)
        for r in range(m):
            i = i0 + r
            mean = 0.0
            for k in range(n_classes):
                mean += float(proba[i, k]) * (float(z[r, k]) + float(vb[k]))
            wi = float(weight[i])
            for k in range(n_classes):
                h = wi * float(proba[i, k]) * (float(z[r, k]) + float(vb[k]) - mean)
                if abs(h) < tiny:
                    h = 0.0
                c[r, k] = h
                gb[k] += h
        groups = _add_group(xv, c, m, G, G64, gb, gb64, groups)
    _flush(G, G64, gb, gb64)


def _adam_step(
    g: Any, m: Any, v: Any, u: Any, b1: Any, c1: Any, b2: Any, c2: Any, eps: Any, step: Any
) -> None:  # pragma: no cover - compiled
    """One Adam step over flat arrays, one pass: moments in place, the update into ``u``.

    ``m <- b1 m + c1 g``, ``v <- b2 v + c2 g^2``, ``u = -step m / (sqrt(v) + eps)``, with
    ``c1 = 1 - b1`` and ``c2 = 1 - b2`` (the caller folds the bias corrections into ``step``
    and ``eps``). The scalars come in the arrays' dtype, so float32 stays float32.
    """
    for i in range(g.size):
        gi = g[i]
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        u[i] = -step * mi / (np.sqrt(vi) + eps)


def _softmax_xent(logits: Any, labels: Any, dlogits: Any) -> float:  # pragma: no cover
    """Summed ``-log_softmax(z_i)[y_i]`` over rows; ``dlogits = softmax(z) - onehot(y)``.

    Per row in float64: ``lse = max + log(sum(exp(z - max)))``, loss ``lse - z_y`` (the
    log-softmax form, never ``log(softmax)``), gradient ``exp(z - lse) - [k == y]``.
    """
    n, k = logits.shape
    total = 0.0
    for i in range(n):
        top = -np.inf
        for j in range(k):
            top = max(top, float(logits[i, j]))
        s = 0.0
        for j in range(k):
            s += math.exp(float(logits[i, j]) - top)
        lse = top + math.log(s)
        yi = labels[i]
        total += lse - float(logits[i, yi])
        for j in range(k):
            dlogits[i, j] = math.exp(float(logits[i, j]) - lse)
        dlogits[i, yi] -= 1
    return total


_LOCK = threading.Lock()
_JIT: dict[str, Any] = {}  # the compiled entry points, filled by _build()


def _build() -> None:
    """Replace the Python bodies above by their compiled versions, once per process.

    The helpers are rebound as module globals before the two entry points compile, so that
    the entry points call compiled helpers. Compiled code is cached on disk (``cache=True``,
    in ``__pycache__`` or numba's cache directory), so only the first run on a machine pays
    the few seconds of compilation per input dtype.
    """
    with _LOCK:
        if _JIT:
            return
        import numba

        # error_model="numpy": a division by zero gives inf/nan instead of raising, which lets
        # LLVM vectorise loops with a division (Adam: 2.3x faster per step).
        jit = numba.njit(nogil=True, fastmath=_FASTMATH, error_model="numpy", cache=True)
        g = globals()
        for name in ("_load_group", "_products", "_accumulate", "_flush", "_group", "_add_group"):
            g[name] = jit(g[name])
        _JIT["adam"] = jit(_adam_step)
        _JIT["softmax_xent"] = jit(_softmax_xent)
        _JIT["hessp"] = jit(_hessp_rows)
        _JIT["loss_grad"] = jit(_loss_grad_rows)


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


def adam_step(
    g: Any, m: Any, v: Any, u: Any, b1: float, b2: float, eps: float, step: float
) -> None:
    """Compiled :func:`_adam_step` on 1-D arrays of one dtype (compiling on first use)."""
    if not _JIT:
        _build()
    t = m.dtype.type
    _JIT["adam"](g, m, v, u, t(b1), t(1 - b1), t(b2), t(1 - b2), t(eps), t(step))


def softmax_xent(logits: Any, labels: Any, dlogits: Any) -> float:
    """Compiled :func:`_softmax_xent` (compiling on first use)."""
    if not _JIT:
        _build()
    return float(_JIT["softmax_xent"](logits, labels, dlogits))

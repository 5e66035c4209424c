"""Log-sum-exp of rows that cancel: ``max(z) < 0`` and a result near 0.

Conventions
-----------
For a row ``z`` with ``m = max(z) < 0`` the fast formula ``m + log1p(s)`` cancels when
``log1p(s) ~ -m`` (e.g. ``z = log(p)`` for a probability vector ``p``): its absolute error,
a few ULP of ``m``, is huge relative to a result near 0. Here the result is instead

    logsumexp(z) = log(T) = log1p(U),        U = T - 1 = sum_j exp(z_j) - 1,

where ``U`` is formed in *double-longdouble* arithmetic (pairs ``hi + lo`` of ``np.longdouble``
built from error-free transforms: ~128 bits with the x87 80-bit type, ~106 bits where
longdouble is float64), with a rigorous-enough a-priori error bound ``E``. When ``|U| > E
2**14`` the relative error of ``U`` is below 2**-14 ULP of float64, and ``log1p`` of the pair
in longdouble rounds once to the final dtype: <= 1 ULP. The rare rows that cancel even deeper
(``U`` within ``E 2**14`` of 0: the exact sum of exps lands within ~2**-98 of 1) are redone with
:mod:`decimal` at adaptively doubled precision, whose ``exp``/``ln`` are correctly rounded.
"""

from __future__ import annotations

import decimal
import math

import numpy as np
from numpy.typing import NDArray

_LD = np.longdouble
_NMANT = np.finfo(_LD).nmant + 1  # 64 for x87, 53 where longdouble is float64
_SPLIT = _LD(2.0 ** ((_NMANT + 1) // 2) + 1.0)  # Dekker's splitter
_UNIT = _LD(2.0**-_NMANT)  # unit roundoff of longdouble
# Relative error of exp(z) in double-longdouble: the reduction, Taylor sum and table product
# each cost a few unit**2 (unit = 2**-_NMANT), bounded by 16 unit**2; measured against mpmath
# worst 2**-127.5 = 0.7 unit**2 with x87 longdouble. The floor covers quad longdouble.
_REL = max(2.0 ** (4 - 2 * _NMANT), 2.0**-145)
_TABLE = 256  # exp(z) = 2**(k / 256) exp(r), |r| <= ln2 / 512 < 1.4e-3
_TAYLOR = 12  # remainder r**13 / 13! below 2**-152
_DL_TERMS = 5  # Taylor terms up to r**5 / 5! in double-longdouble, the tail in longdouble
_CUT = 150.0  # exp(z) < 2**-216 is dropped (and charged to the error bound)


def _two_sum(a: NDArray, b: NDArray) -> tuple[NDArray, NDArray]:
    # Knuth: s + e == a + b exactly in round-to-nearest, any magnitudes.
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _quick_two_sum(a: NDArray, b: NDArray) -> tuple[NDArray, NDArray]:
    # Dekker, needs |a| >= |b| (or a == 0).
    s = a + b
    return s, b - (s - a)


def _split(a: NDArray) -> tuple[NDArray, NDArray]:
    c = _SPLIT * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: NDArray, b: NDArray) -> tuple[NDArray, NDArray]:
    # Dekker: p + e == a * b exactly (no FMA for longdouble in NumPy).
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _add(xh: NDArray, xl: NDArray, yh: NDArray, yl: NDArray) -> tuple[NDArray, NDArray]:
    s, e = _two_sum(xh, yh)
    return _quick_two_sum(s, e + (xl + yl))


def _mul(xh: NDArray, xl: NDArray, yh: NDArray, yl: NDArray) -> tuple[NDArray, NDArray]:
    p, e = _two_prod(xh, yh)
    return _quick_two_sum(p, e + (xh * yl + xl * yh))


def _nearest(value: decimal.Decimal) -> np.longdouble:
    """``value`` rounded to longdouble (to within its last bit): float64 then one refinement."""
    hi = _LD(float(value))
    return hi + _LD(float(value - _to_decimal(hi)))


def _constant(value: decimal.Decimal) -> tuple[NDArray, NDArray]:
    """``value`` as a double-longdouble pair (hi, lo) of 0-d arrays, ~2 * 64 bits."""
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        hi = _nearest(value)
        lo = _nearest(value - _to_decimal(hi))
    return np.asarray(hi), np.asarray(lo)


def _to_decimal(x: NDArray | np.longdouble) -> decimal.Decimal:
    """Exact decimal value of a longdouble (via its integer mantissa and exponent)."""
    mant, exp = np.frexp(_LD(x))
    scaled = int(np.ldexp(mant, _NMANT))  # exact: an integer below 2**_NMANT
    with decimal.localcontext() as ctx:
        ctx.prec = 400  # 2**-e has e decimal digits: exact for the constants used here
        return decimal.Decimal(scaled) * decimal.Decimal(2) ** (int(exp) - _NMANT)


def _make_constants() -> tuple[np.longdouble, tuple, list, tuple]:
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        step = decimal.Decimal(2).ln() / _TABLE
        l1 = decimal.Decimal(float(step))
        rest = _constant(step - l1)
        fact = [_constant(1 / decimal.Decimal(math.factorial(n))) for n in range(_TAYLOR + 1)]
        table = [
            _constant(decimal.Decimal(2) ** (decimal.Decimal(j) / _TABLE)) for j in range(_TABLE)
        ]
    hi = np.array([t[0] for t in table], dtype=_LD)
    lo = np.array([t[1] for t in table], dtype=_LD)
    return _LD(float(l1)), rest, fact, (hi, lo)


# ln2 / _TABLE = step_1 + (hi + lo of step_23), step_1 the float64 nearest; 1/n! and
# 2**(j / _TABLE) as (hi, lo) pairs.
_STEP_1, _STEP_23, _INV_FACT, _POW2 = _make_constants()


def _exp_dl(z: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    """exp(z) for float64 ``-_CUT <= z <= 0`` as (hi, lo) with relative error below _REL."""
    zl = z.astype(_LD)
    # z = k ln2 / _TABLE + r, |r| <= ln2 / (2 _TABLE); exp(z) = 2**q 2**(j / _TABLE) exp(r) with
    # k = _TABLE q + j. r to ~2 * _NMANT bits: z - fl(k step_1) is exact (Sterbenz: for k != 0
    # the two are within a factor 1.5); the rounding errors of the products come from TwoProd.
    k = np.rint(zl / _STEP_1)
    p1h, p1l = _two_prod(k, _STEP_1 + 0 * k)
    p2h, p2l = _two_prod(k, _STEP_23[0])
    rh, rl = _two_sum(zl - p1h, -p1l)  # p1l ~ 2**-64 |z| is not small next to r: exactly
    rh, rl = _add(rh, rl, -p2h, -(p2l + k * _STEP_23[1]))
    # expm1(r) = r (1 + r/2! (1 + ...)). The tail from r**6 / 6! on is below 2**-66 and needs
    # only longdouble; the first terms are Horner steps in double-longdouble.
    ph = _INV_FACT[_TAYLOR][0] + 0 * rh
    for n in range(_TAYLOR - 1, _DL_TERMS, -1):
        ph = ph * rh + _INV_FACT[n][0]
    pl = np.zeros_like(ph)
    for n in range(_DL_TERMS, 0, -1):
        ph, pl = _mul(ph, pl, rh, rl)
        ph, pl = _add(ph, pl, _INV_FACT[n][0], _INV_FACT[n][1])
    uh, ul = _mul(ph, pl, rh, rl)
    ik = k.astype(np.int64)
    j = ik % _TABLE
    th, tl = _POW2[0][j], _POW2[1][j]
    # 2**(j / _TABLE) (1 + u) = t + t u
    uh, ul = _mul(uh, ul, th, tl)
    eh, el = _add(th, tl, uh, ul)
    q = (ik - j) // _TABLE
    return np.ldexp(eh, q), np.ldexp(el, q)


def _lse_decimal(row: NDArray[np.float64]) -> float:
    """log(sum(exp(row))) for a row with a negative finite max, correct to ~1e-20 relative."""
    # terms below exp(-3000) ~ 1e-1303 are beneath the largest precision tried
    values = [decimal.Decimal(float(v)) for v in row[row >= row.max() - 3000.0]]
    digits = 40
    while True:
        with decimal.localcontext() as ctx:
            ctx.prec = digits
            ctx.traps[decimal.Underflow] = False
            terms = [v.exp() for v in values]
            ctx.prec = 3 * digits  # the sum of digits-digit terms within 2 * digits decades
            total = sum(terms, decimal.Decimal(0))
            u = total - 1
            # each exp is correctly rounded: |error| <= n 10**(1 - digits) T, plus the sum's
            bound = (len(terms) + 1) * total * decimal.Decimal(10) ** (1 - digits)
            if abs(u) > bound * 10**22 or digits >= 1280:
                ctx.prec = digits + max(0, -u.adjusted()) + 10
                return float((1 + u).ln())
        digits *= 2


def logsumexp_cancelling(x: NDArray[np.float64], bits: int = 53) -> NDArray[np.float64]:
    """``log(sum(exp(x), axis=1))`` for rows with finite ``max < 0``, within 1 ULP.

    ``x`` has shape (n_rows, K), float64 (float32 inputs widened exactly); -inf entries are
    allowed (they contribute 0). ``bits`` is the precision of the result's dtype (53 or 24):
    the float64 values returned are within ``2**-(bits + 6)`` relative of the exact result, so
    one more rounding to that dtype stays within 1 ULP.
    """
    n_rows, n_cols = x.shape
    out = np.empty(n_rows)
    keep = x >= -_CUT
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        # First try plain longdouble: each exp within ~2 unit, the sum within n_cols unit T.
        terms = np.exp(np.where(keep, x, -np.inf).astype(_LD))
        u = terms.sum(axis=1) - 1
        total = 1.0 + u.astype(np.float64)
        bound = total * ((n_cols + 4) * float(_UNIT) + n_cols * math.exp(-_CUT))
        ok = np.abs(u.astype(np.float64)) > bound * 2.0 ** (bits + 6)
        out[ok] = np.log1p(u[ok]).astype(np.float64)
        rows = np.flatnonzero(~ok)
        if not rows.size:
            return out
        sub, keep = x[rows], keep[rows]
        eh, el = _exp_dl(np.where(keep, sub, 0.0))
    eh, el = np.where(keep, eh, 0.0), np.where(keep, el, 0.0)
    uh, ul = np.full(rows.size, _LD(-1.0)), np.zeros(rows.size, dtype=_LD)
    for j in range(n_cols):
        uh, ul = _add(uh, ul, eh[:, j], el[:, j])
    total = 1.0 + uh.astype(np.float64)
    # exps: _REL each; each of the n_cols additions: ~4 unit**2 of the partial sums (<= T);
    # dropped terms: exp(-_CUT) each.
    bound = total * n_cols * (_REL + 4.0 * float(_UNIT) ** 2 + math.exp(-_CUT))
    # log1p(uh + ul) = log1p(uh) + ul / (1 + uh) + O(ul**2): longdouble, one rounding to float64
    out[rows] = (np.log1p(uh) + ul / (1 + uh)).astype(np.float64)
    deep = np.flatnonzero(np.abs(uh.astype(np.float64)) <= bound * 2.0 ** (bits + 6))
    for i in deep:
        out[rows[i]] = _lse_decimal(x[rows[i]])
    return out

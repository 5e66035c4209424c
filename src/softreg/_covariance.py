"""The parameters' covariance: Cholesky of the exact Hessian, re-parametrisations, Wald tests.

Failure is loud and specific when the Hessian is singular.

Used by :mod:`softreg.stats`. The Hessian is scaled to unit diagonal (``S = D^-1/2 H D^-1/2``,
which makes the singularity test independent of the features' units), factored ``S = L L^T``
by LAPACK ``dpotrf``, its conditioning estimated by ``dpocon``, ``L^-1`` formed by the
triangular inversion ``dtrtri`` and ``L^-T L^-1`` by ``dlauum``, all in one buffer:
``H^-1 = D^-1/2 L^-T L^-1 D^-1/2``. No general inverse is taken. A failed factorisation names
the parameter whose pivot failed and the earlier ones it depends on; a numerically singular
one names the parameters of its weakest direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import NDArray
from scipy import stats as scipy_stats

__all__ = [
    "RCOND_MIN",
    "SingularHessianError",
    "WaldTest",
    "inverse_hessian",
    "map_cov_inplace",
    "map_values",
    "wald_tests",
]

Array = NDArray[Any]
_BLOCK = 512  # rows per block of the in-place passes over the matrix

#: Reciprocal condition number (of the diagonally scaled Hessian) below which it is singular.
RCOND_MIN = 1e-13


class SingularHessianError(ValueError):
    """The Hessian is singular: some parameters are not identified by the data."""


def inverse_hessian(
    hessian: Array, grad: Array, meat: Array | None, names: list[str]
) -> tuple[Array, float]:
    """Covariance from the Hessian (and meat), and the Newton step left in SE units.

    The Hessian is scaled to unit diagonal (``D^-1/2 H D^-1/2``), factored by Cholesky
    ``L L^T`` and ``L^-1`` is formed by a triangular inversion, so ``H^-1 = D^-1/2 L^-T L^-1
    D^-1/2``; no general inverse is taken. Raises SingularHessianError naming parameters.
    """
    diag = np.diag(hessian).copy()
    dead = np.flatnonzero(~(diag > 0))
    if len(dead):
        terms = sorted({names[i].split(" / ", 1)[1] for i in dead})
        listed = ", ".join(names[i] for i in dead[:6])
        raise SingularHessianError(
            f"the Hessian is singular: {len(dead)} parameter(s) do not change the likelihood "
            f"({listed}{', ...' if len(dead) > 6 else ''}; terms {', '.join(terms[:20])}). A "
            "feature that is zero in every sample (or has zero sample weight) cannot be "
            "estimated without a penalty; drop it or fit with a finite C (L2)"
        )
    d = 1.0 / np.sqrt(diag)
    hessian *= d[:, None]
    hessian *= d[None, :]
    anorm = 0.0  # 1-norm of the scaled Hessian, a block of rows at a time (no n^2 temporary)
    col_sums = np.zeros(len(d))
    for start in range(0, len(d), _BLOCK):
        col_sums += np.abs(hessian[start : start + _BLOCK]).sum(axis=0)
    anorm = float(col_sums.max()) if len(d) else 0.0
    # LAPACK works in place only on Fortran-ordered arrays; the symmetric matrix's transpose is
    # one (the same numbers), so every factorisation below overwrites this one buffer.
    work = hessian.T if hessian.flags.c_contiguous else np.asfortranarray(hessian)
    factor, info = scipy.linalg.lapack.dpotrf(work, lower=1, clean=0, overwrite_a=1)
    if info > 0:
        raise SingularHessianError(_collinear(factor, info - 1, names))
    if info < 0:  # pragma: no cover - an argument error of LAPACK
        raise RuntimeError(f"dpotrf failed with info={info}")
    rcond, _ = scipy.linalg.lapack.dpocon(factor, anorm, uplo="L")
    if rcond < RCOND_MIN:
        raise SingularHessianError(_near_null(factor, names, rcond))
    # Newton step left, in units of each parameter's standard error.
    step = scipy.linalg.cho_solve((factor, True), grad * d, check_finite=False) * d
    inv_factor, info = scipy.linalg.lapack.dtrtri(factor, lower=1, overwrite_c=1)
    if info != 0:  # pragma: no cover - the factor was checked above
        raise SingularHessianError(f"triangular inversion failed (info={info})")
    if meat is None:
        # (L L^T)^-1 = L^-T L^-1, formed in place in the lower triangle by dlauum.
        cov, info = scipy.linalg.lapack.dlauum(inv_factor, lower=1, overwrite_c=1)
        if info != 0:  # pragma: no cover
            raise RuntimeError(f"dlauum failed with info={info}")
        _mirror_lower(cov)
    else:
        # Sandwich: H^-1 G H^-1 with H^-1 = D L^-T L^-1 D (D = diag(d)).
        inv_factor = np.tril(inv_factor)
        half = inv_factor.T @ (inv_factor @ (meat * d[:, None] * d[None, :]))
        cov = (half @ inv_factor.T) @ inv_factor
    cov *= d[:, None]
    cov *= d[None, :]
    bse = np.sqrt(np.diag(cov))
    step_se = float(np.max(np.abs(step) / bse)) if len(step) else 0.0
    return cov, step_se


def _mirror_lower(a: Array) -> None:
    """Copy the lower triangle of square ``a`` onto its upper one, in place, block by block."""
    n = a.shape[0]
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        block = a[start:stop, start:stop]
        block[...] = np.tril(block) + np.tril(block, -1).T
        a[start:stop, stop:] = a[stop:, start:stop].T


def _collinear(factor: Array, j: int, names: list[str]) -> str:
    """Message for a Cholesky failure at pivot ``j``: parameter ``j`` and its partners."""
    text = (
        f"the Hessian is singular: parameter {names[j]} is numerically a linear "
        "combination of the parameters before it"
    )
    if j > 0:
        # The upper triangle still holds the scaled Hessian's column j; the lower one L[:j, :j].
        coef = scipy.linalg.cho_solve((factor[:j, :j], True), factor[:j, j])
        top = [i for i in np.argsort(-np.abs(coef))[:3] if abs(coef[i]) > 1e-3]
        if top:
            text += f", mainly of {', '.join(names[i] for i in top)}"
    return text + (
        ". Typical causes: duplicated or collinear features, a constant feature beside the "
        "intercept, or (without a penalty) separated classes; drop features or use a finite C "
        "(L2)"
    )


def _near_null(factor: Array, names: list[str], rcond: float) -> str:
    """Message for a numerically singular Hessian: the parameters of its weakest direction."""
    rng = np.random.default_rng(0)
    v = np.asarray(rng.standard_normal(size=factor.shape[0]))
    for _ in range(30):  # inverse iteration: converges to the smallest eigenvector
        v = scipy.linalg.cho_solve((factor, True), v)
        v /= np.linalg.norm(v)
    top = np.argsort(-np.abs(v))[:4]
    listed = ", ".join(f"{names[i]} ({v[i]:+.2f})" for i in top)
    return (
        f"the Hessian is numerically singular (reciprocal condition number {rcond:.2g} after "
        f"scaling); its weakest direction moves mainly {listed}. Typical causes: (quasi-)"
        "separated classes without a penalty, or nearly collinear features; use a finite C (L2) "
        "or drop features"
    )


@dataclass(frozen=True)
class WaldTest:
    """Wald test that a term's coefficients are equal in every class (it has no effect)."""

    term: str
    statistic: float
    df: int
    pvalue: float


def map_values(theta: Array, map_coef: Array, map_int: Array, fit_intercept: bool) -> Array:
    out = map_coef @ theta
    if fit_intercept:
        out[:, 0] = map_int @ theta[:, 0]
    return out


def map_cov_inplace(
    cov: Array, shift_coef: Array, shift_int: Array, fit_intercept: bool, drop: int | None
) -> Array:
    """``M cov M^T`` for ``M = (I - 1 v^T)`` on the class axes, then without class ``drop``.

    ``cov`` has shape (n_classes, n_terms, n_classes, n_terms) and is overwritten; ``v`` is
    ``shift_int`` on the intercept column and ``shift_coef`` on the others. The baseline map
    ``theta_k - theta_ref`` is ``v = e_ref`` followed by dropping ``ref``; centring is
    ``v = 1 / n_classes``. Only temporaries of ``1 / n_classes`` of ``cov`` are made.
    """
    first = 1 if fit_intercept else 0
    parts = [(shift_coef, slice(first, None))]
    if fit_intercept:
        parts.append((shift_int, slice(0, 1)))
    for shift, cols in parts:
        if np.any(shift):
            rows = cov[:, cols]
            rows -= np.tensordot(shift, rows, axes=(0, 0))[None]
    for shift, cols in parts:
        if np.any(shift):
            columns = cov[:, :, :, cols]
            columns -= np.tensordot(columns, shift, axes=(2, 0))[:, :, None, :]
    if drop is None:
        return cov
    keep = np.delete(np.arange(cov.shape[0]), drop)
    terms = np.arange(cov.shape[1])
    return cov[np.ix_(keep, terms, keep, terms)]


def wald_tests(theta: Array, cov: Array, terms: list[str], ref: int) -> dict[str, WaldTest]:
    """Per term: all classes' coefficients equal, tested on the contrasts to ``ref``."""
    n_classes = theta.shape[0]
    contrast = np.delete(np.eye(n_classes), ref, axis=0)
    contrast[:, ref] = -1.0
    out = {}
    for j, term in enumerate(terms):
        value = contrast @ theta[:, j]
        block = contrast @ cov[:, j, :, j] @ contrast.T
        try:
            stat = float(value @ scipy.linalg.solve(block, value, assume_a="pos"))
        except (np.linalg.LinAlgError, ValueError):
            stat = math.nan
        df = n_classes - 1
        out[term] = WaldTest(term, stat, df, float(scipy_stats.chi2.sf(stat, df)))
    return out


# The public module that documents and exports these: its name in reprs,
# tracebacks and pickles (which then survive a move of the code between private modules).
SingularHessianError.__module__ = "softreg.stats"
WaldTest.__module__ = "softreg.stats"

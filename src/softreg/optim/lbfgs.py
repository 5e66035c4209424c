"""L-BFGS through SciPy (``L-BFGS-B`` without bounds) on a fused loss+gradient."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.optimize
from numpy.typing import NDArray

from softreg.optim._guards import NonFiniteError, require_finite
from softreg.optim._result import Callback, SolverResult, max_abs, record, warn_not_converged


class _StopIteration(Exception):
    pass


def minimize_lbfgs(
    objective: Any,
    w0: NDArray[Any],
    *,
    tol: float = 1e-4,
    max_iter: int = 100,
    callback: Callback | None = None,
    memory: int = 10,
) -> SolverResult:
    """Minimise ``objective.loss_grad`` with SciPy's L-BFGS from ``w0``.

    Stops when ``max|g| <= tol`` (SciPy's ``gtol``) or the relative decrease of ``f`` falls
    below ``64 * eps`` (SciPy's ``ftol``, as scikit-learn sets it). Works in float64 internally
    (SciPy's L-BFGS-B is float64); the objective is evaluated in its own dtype and ``x`` is
    returned in that dtype.

    In float64 either stop is convergence (``ftol`` then means ``f`` is at its round-off, as
    scikit-learn takes it). In float32 only ``max|g| <= tol`` is: there ``f`` stops changing
    once a step no longer moves the point rounded to float32, far from the minimiser, and a
    stop by ``ftol`` with ``max|g| > tol`` warns like any unconverged run, saying so. SciPy
    calls it converged, and so did softreg: float32 iris (``C = 10``, ``tol = 1e-6``) was
    reported converged after 137 iterations at ``max|grad| = 1.2e-4`` (newton-cg takes that
    problem to 6.8e-8 in float32).

    SciPy bounds its line search (``maxls=50``). A loss or gradient that is not finite at the
    start point raises :class:`~softreg.optim._guards.NonFiniteError` (a ``ValueError``), and
    so does a run that met non-finite values at trial points and then stopped without
    converging (SciPy's line search gives up on them; before, the start was returned with
    only a warning).
    """
    dtype = np.asarray(w0).dtype
    last: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    nonfinite: list[float] = []  # losses of trial points where f or g was not finite

    def fun(w: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        f, g = objective.loss_grad(w.astype(dtype, copy=False))
        if not (np.isfinite(f) and np.all(np.isfinite(g))):
            if not last:
                require_finite("lbfgs", "at the start point", f, g)
            nonfinite.append(float(f))
        last.update(x=w.copy(), f=f, g=g)
        return f, np.asarray(g, dtype=np.float64)

    def on_iteration(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        w = intermediate_result.x
        if "x" in last and np.array_equal(last["x"], w):
            f, g = last["f"], last["g"]
        else:
            f, g = fun(w)
        row = record(len(history) + 1, f, max_abs(g))
        history.append(row)
        if callback is not None and callback(w.astype(dtype), row):
            raise _StopIteration

    x0 = np.asarray(w0, dtype=np.float64)
    status = -1
    if max_iter == 0:  # SciPy would still take a step; max_iter=0 means none (w0 as it is)
        f, g = objective.loss_grad(np.asarray(w0))
        if max_abs(g) > tol:
            warn_not_converged("lbfgs", 0, f" (max|grad| = {max_abs(g):.3g} > tol = {tol:g})")
        return SolverResult(np.array(w0, copy=True), f, max_abs(g), 0, max_abs(g) <= tol, [])
    try:
        res = scipy.optimize.minimize(
            fun,
            x0,
            jac=True,
            method="L-BFGS-B",
            callback=on_iteration,
            options={
                "maxiter": max_iter,
                "gtol": tol,
                "ftol": 64 * np.finfo(np.float64).eps,
                "maxcor": memory,
                "maxls": 50,
            },
        )
        x, stopped, status = res.x, False, int(res.status)
    except _StopIteration:
        x, stopped = last["x"], True
    f, g = objective.loss_grad(x.astype(dtype))
    gnorm = max_abs(g)
    # status 0: SciPy's own test met: gtol, or the relative decrease of f below ftol, which is
    # convergence only in float64 (see the docstring).
    converged = stopped or gnorm <= tol or (status == 0 and dtype != np.float32)
    flat = not converged and status == 0
    if nonfinite and not converged and status not in (0, 1):  # status 1: max_iter reached
        raise NonFiniteError(
            f"lbfgs: the line search met a non-finite loss ({nonfinite[-1]}) at "
            f"{len(nonfinite)} trial points and stopped after {len(history)} iterations "
            f"without converging (max|grad| = {gnorm:.3g}); the data (X, sample_weight) hold "
            "values too large for floating-point arithmetic; scale the features (e.g. "
            "StandardScaler, or pixels / 255)"
        )
    if not converged:
        why = ""
        if flat:
            why = (
                f"; stopped after {len(history)}: the loss no longer decreases in float32 "
                "arithmetic; solver='newton-cg' gets further"
            )
        warn_not_converged("lbfgs", max_iter, f" (max|grad| = {gnorm:.3g} > tol = {tol:g}{why})")
    return SolverResult(np.asarray(x, dtype=dtype), f, gnorm, len(history), converged, history)

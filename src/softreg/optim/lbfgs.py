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
    below ``64 * eps`` (as scikit-learn does). Works in float64 internally (SciPy's L-BFGS-B is
    float64); the objective is evaluated in its own dtype and ``x`` is returned in that dtype.

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
    # status 0: SciPy's own test met (gtol, or the relative decrease of f below ftol).
    converged = stopped or gnorm <= tol or status == 0
    if nonfinite and not converged and status != 1:  # status 1: max_iter reached
        raise NonFiniteError(
            f"lbfgs: the line search met a non-finite loss ({nonfinite[-1]}) at "
            f"{len(nonfinite)} trial points and stopped after {len(history)} iterations "
            f"without converging (max|grad| = {gnorm:.3g}); the data (X, sample_weight) hold "
            "values too large for floating-point arithmetic; scale the features (e.g. "
            "StandardScaler, or pixels / 255)"
        )
    if not converged:
        warn_not_converged("lbfgs", max_iter, f" (max|grad| = {gnorm:.3g} > tol = {tol:g})")
    return SolverResult(np.asarray(x, dtype=dtype), f, gnorm, len(history), converged, history)

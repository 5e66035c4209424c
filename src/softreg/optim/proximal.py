"""FISTA (accelerated proximal gradient) for the L1 / elastic-net objective."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg.optim._guards import NonFiniteError, require_finite
from softreg.optim._result import Callback, SolverResult, max_abs, record, warn_not_converged

MAX_BACKTRACKS = 60


def minimize_fista(
    objective: Any,
    w0: NDArray[Any],
    *,
    tol: float = 1e-4,
    max_iter: int = 100,
    callback: Callback | None = None,
) -> SolverResult:
    """Minimise ``objective.loss(w) + objective.l1_penalty(w)`` by FISTA.

    Beck & Teboulle (2009) with backtracking on the Lipschitz estimate ``L`` (it also shrinks
    by 0.9 per iteration, so a pessimistic early estimate does not slow the end) and adaptive
    restart (O'Donoghue & Candès, 2015: momentum is reset when the objective rises). Stops
    when the gradient mapping ``L * max|prox(y - g/L) - y|`` is at most ``tol``; at a
    minimiser it is zero, and without L1 it is the gradient itself.

    Every loop is bounded: the step-size search doubles ``L`` at most ``MAX_BACKTRACKS``
    times per iteration (a factor ``2**60 ~ 1e18``) and stops as soon as ``L`` stops being
    finite. A loss or gradient that is not finite at the start point, or a search that finds
    no step, raises :class:`~softreg.optim._guards.NonFiniteError` (a ``ValueError``). An
    extrapolated point whose loss is not finite is not an error: the momentum is dropped and
    the search restarts from the current iterate (where the loss is finite).
    """
    x = np.array(w0, copy=True)
    dtype = x.dtype
    y = x.copy()
    t = 1.0
    lipschitz = 1.0
    f_y, g_y = objective.loss_grad(y)
    require_finite("fista", "at the start point", f_y, g_y)
    big_f = f_y + objective.l1_penalty(x)
    history: list[dict[str, Any]] = []
    converged = False
    n_iter = 0
    gmap = np.inf
    while n_iter < max_iter:
        n_iter += 1
        for halvings in range(MAX_BACKTRACKS + 1):  # noqa: B007 (named in the error)
            x_new = objective.prox_l1(y - dtype.type(1 / lipschitz) * g_y, 1 / lipschitz)
            d = (x_new - y).astype(np.float64)
            f_new = objective.loss(x_new)
            bound = f_y + float(g_y.astype(np.float64) @ d) + 0.5 * lipschitz * float(d @ d)
            # Written so that a NaN loss or bound fails the test (and backtracks).
            if f_new <= bound + 1e-12 * abs(f_y):
                break
            lipschitz *= 2.0
            if not np.isfinite(lipschitz):
                break
        else:
            lipschitz = np.inf
        if not (np.isfinite(lipschitz) and np.isfinite(f_new)):
            raise NonFiniteError(
                f"fista: the step-size search found no step at iteration {n_iter} after "
                f"{halvings + 1} halvings (the loss at the last trial point is {f_new}); "
                "the data (X, sample_weight) hold values too large for floating-point "
                "arithmetic, or the loss is not smooth there; scale the features (e.g. "
                "StandardScaler, or pixels / 255)"
            )
        gmap = lipschitz * max_abs(d)
        big_f_new = f_new + objective.l1_penalty(x_new)
        if big_f_new > big_f:  # adaptive restart: drop the momentum
            t = 1.0
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        y = x_new + dtype.type((t - 1.0) / t_new) * (x_new - x)
        x, t, big_f = x_new, t_new, big_f_new
        row = record(n_iter, big_f, gmap)
        history.append(row)
        if gmap <= tol:
            converged = True
            break
        if callback is not None and callback(x, row):
            converged = True
            break
        lipschitz *= 0.9
        f_y, g_y = objective.loss_grad(y)
        if not (np.isfinite(f_y) and np.all(np.isfinite(g_y))):
            # The extrapolation overshot into overflow: drop the momentum, restart from x.
            y, t = x.copy(), 1.0
            f_y, g_y = objective.loss_grad(y)
            require_finite("fista", f"at iteration {n_iter}", f_y, g_y)
    if not converged:
        warn_not_converged("fista", max_iter, f" (gradient mapping {gmap:.3g} > tol = {tol:g})")
    return SolverResult(x, big_f, gmap, n_iter, converged, history)

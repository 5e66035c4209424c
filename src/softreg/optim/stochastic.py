"""Mini-batch stochastic solvers: epochs of a gradient transformation over shuffled batches."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg.optim._guards import check_divergence, require_finite
from softreg.optim._result import Callback, SolverResult, max_abs, record, warn_not_converged
from softreg.optim.transforms import GradientTransformation, apply_updates


def minimize_stochastic(
    objective: Any,
    w0: NDArray[Any],
    optimizer: GradientTransformation,
    *,
    batch_size: int = 200,
    tol: float = 1e-4,
    max_iter: int = 100,
    shuffle: bool = True,
    random_state: int | np.random.Generator | None = None,
    callback: Callback | None = None,
    state: Any = None,
    warn: bool = True,
    name: str = "stochastic solver",
    learning_rate: Any = None,
) -> SolverResult:
    """Run epochs of ``optimizer`` over mini-batches of ``objective`` (``objective.subset``).

    The epoch cost is the weight-averaged mini-batch objective over the epoch (free: no extra
    pass over X). The notes' stop rule: stop when the epoch cost improves by less than ``tol``
    on the previous epoch; ``tol=0`` disables it (run exactly ``max_iter`` epochs, no
    warning). ``grad_norm`` in the history is the max-abs of the epoch's averaged
    mini-batch gradient. ``state`` resumes the optimiser (for ``partial_fit``); the final
    state is returned in ``SolverResult.state``. ``learning_rate`` is only named in errors.

    "Stopped improving" is not "blew up": an epoch cost that is non-finite or more than 10
    times the start loss (the first mini-batch's, at ``w0``; see :mod:`softreg.optim._guards`)
    raises, whatever ``tol``; below that, a cost that rose counts as stopped improving.

    Raises
    ------
    DivergenceError
        (a ``ValueError`` and ``FloatingPointError``) If the fit blew up, naming the learning
        rate.
    """
    rng = np.random.default_rng(random_state)
    params: tuple[NDArray[Any], ...] = (np.array(w0, copy=True),)
    if state is None:
        state = optimizer.init(params)
    n = objective.n_samples
    weight = objective.weight.astype(np.float64)
    history: list[dict[str, Any]] = []
    previous = np.inf
    converged = False
    n_iter = 0
    cost, grad_avg = np.inf, np.zeros(params[0].shape, np.float64)
    start_loss = None  # the loss at w0 (first mini-batch): the divergence test's reference
    while n_iter < max_iter:
        n_iter += 1
        order = rng.permutation(n) if shuffle else None
        cost, grad_avg = 0.0, np.zeros(params[0].shape, np.float64)
        for start in range(0, n, batch_size):
            rows = (
                order[start : start + batch_size]
                if order is not None
                else slice(start, start + batch_size)
            )
            batch_weight = float(weight[rows].sum())
            if batch_weight == 0:
                continue
            f, g = objective.subset(rows).loss_grad(params[0])
            if start_loss is None:  # not the learning rate's fault if already non-finite
                require_finite(name, "at the start point (first mini-batch)", f, g)
                start_loss = float(f)
            cost += batch_weight * f
            grad_avg += batch_weight * g
            updates, state = optimizer.update((g,), state, params)
            params = apply_updates(params, updates)
        check_divergence(
            cost,
            np.inf if start_loss is None else start_loss,
            solver=name,
            learning_rate=learning_rate,
            epoch=n_iter,
        )
        row = record(n_iter, cost, max_abs(grad_avg))
        history.append(row)
        if tol > 0 and previous - cost < tol:  # stopped improving (blowing up raised above)
            converged = True
        previous = cost
        if callback is not None and callback(params[0], row):
            converged = True
        if converged:
            break
    if warn and tol > 0 and not converged:
        warn_not_converged(name, max_iter, f" (epoch cost still improving by >= tol = {tol:g})")
    return SolverResult(params[0], cost, max_abs(grad_avg), n_iter, converged, history, state=state)

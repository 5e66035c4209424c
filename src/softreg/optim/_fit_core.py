"""The one training loop: fit an objective from a start state, calling hooks after each iteration.

Every fit of a linear softreg model goes through `fit_core`, as every fit of scikit-learn's
logistic models goes through ``_logistic_regression_path``: ``SoftmaxRegression.fit`` in memory
and on Dask shards, warm starts, ``partial_fit`` (one epoch), and a resume from a checkpoint
(whose saved `FitState` is the start). What differs between them is the objective, the start and
the hooks, never the loop.

* **Objective**: anything with the interface of :class:`softreg.objective.SoftmaxObjective`
  (``loss_grad``, ``loss_grad_hessp``, ``n_params``, ``dtype``; ``subset`` and ``weight`` for
  the stochastic solvers). An objective may bring its own epoch for ``"sgd"``/``"adam"`` as a
  ``stochastic_epoch(w, method, rng, state, learning_rate=, momentum=, batch_size=)`` method
  returning ``(w, state, record)`` (the Dask one averages one local epoch per shard).
* **Start**: a `FitState`: parameters, iterations already done, their history, the optimiser
  state and the shuffling generator.
* **Hooks** (Keras / Lightning callbacks): objects with ``on_iteration(state) -> bool | None``
  (True stops the fit, without a warning) and ``on_fit_end(state)``; checkpointing, progress
  and user callbacks are hooks. The loop never knows which hooks exist.

Resuming is bit for bit for ``"sgd"``, ``"adam"`` and ``"newton-cg"`` (whose curvature pairs are
part of the state); ``"lbfgs"`` and ``"fista"`` restart their memory / momentum at the start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from softreg.optim._guards import check_divergence
from softreg.optim._result import warn_not_converged
from softreg.optim.newton_cg import NewtonCGState, newton_cg_state
from softreg.optim.solve import STOCHASTIC, minimize
from softreg.optim.transforms import Schedule

__all__ = ["FitState", "Hook", "fit_core"]


@dataclass
class FitState:
    """Where a fit stands: after ``n_iter`` iterations, or the start point of a fit.

    Attributes
    ----------
    w : ndarray of shape (n_params,)
        Flat parameters, in the objective's dtype.
    n_iter : int
        Iterations (epochs for stochastic solvers) done, counting those before a resume.
    history : list of dict
        One record per iteration ``{"iteration", "loss", "grad_norm"}``, numbered from 1.
    optimizer_state : object
        Stochastic solvers' moments, newton-cg's curvature pairs (a list of ``(d, Hd)``), or None.
    rng : numpy.random.Generator or None
        The shuffling generator (its state is part of the fit's state).
    converged : bool
        Whether the stop test (or a hook) ended the fit; False for a start.
    """

    w: NDArray[Any]
    n_iter: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    optimizer_state: Any = None
    rng: np.random.Generator | None = None
    converged: bool = False


class Hook(Protocol):
    """What the loop calls: after every iteration (True stops), and once at the end."""

    def on_iteration(self, state: Any) -> bool | None: ...

    def on_fit_end(self, state: Any) -> None: ...


def call_hooks(hooks: Sequence[Hook], state: Any) -> bool:
    """Run every hook's ``on_iteration`` in order; whether any asked to stop."""
    stop = False
    for hook in hooks:
        stop = bool(hook.on_iteration(state)) or stop
    return stop


def fit_core(
    objective: Any,
    start: FitState,
    method: str,
    *,
    tol: float,
    max_iter: int,
    hooks: Sequence[Hook] = (),
    learning_rate: float | Schedule = 0.06,
    momentum: float = 0.0,
    batch_size: int = 200,
    refresh: int = 1,
) -> FitState:
    """Minimise ``objective`` with ``method`` from ``start`` until ``max_iter`` iterations in all.

    Parameters
    ----------
    objective : objective
        See the module docstring.
    start : FitState
        Start point; ``start.n_iter`` iterations count as done (a resume or a warm start).
    method : {"newton-cg", "lbfgs", "fista", "sgd", "adam"}
        Solver, as for :func:`softreg.optim.minimize`.
    tol : float
        Full-batch: stop when ``max|grad| <= tol``; stochastic: when the epoch cost improves by
        less than ``tol`` on the previous epoch (``tol <= 0``: never).
    max_iter : int
        Total iterations (epochs), ``start.n_iter`` included.
    hooks : sequence of Hook
        Called after every iteration with the current `FitState`, and at the end.
    learning_rate, momentum, batch_size
        Settings of the stochastic methods.
    refresh : int, default=1
        newton-cg: build the preconditioner every ``refresh`` iterations (see
        :func:`softreg.optim.newton_cg.minimize_newton_cg`; above 1 a resume from a saved
        state no longer retraces the run bit for bit).

    Returns
    -------
    FitState
        The final state: a warm start or a resume of another fit starts from it.

    Warns
    -----
    ConvergenceWarning
        If ``tol > 0`` and the stop test was not met in ``max_iter`` iterations.

    Examples
    --------
    >>> import numpy as np
    >>> from softreg.objective import SoftmaxObjective
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    >>> obj = SoftmaxObjective(X, np.array([0, 1, 1, 0]), n_classes=2, C=1.0)
    >>> state = fit_core(obj, FitState(np.zeros(obj.n_params)), "newton-cg", tol=1e-8, max_iter=50)
    >>> state.converged, state.n_iter == len(state.history)
    (True, True)
    """
    if method in STOCHASTIC:
        state = _stochastic(
            objective, start, method, tol, max_iter, hooks, learning_rate, momentum, batch_size
        )
    else:
        state = _full_batch(objective, start, method, tol, max_iter, hooks, refresh)
    for hook in hooks:
        hook.on_fit_end(state)
    return state


def _full_batch(
    objective: Any,
    start: FitState,
    method: str,
    tol: float,
    max_iter: int,
    hooks: Sequence[Hook],
    refresh: int = 1,
) -> FitState:
    state = FitState(
        start.w, start.n_iter, list(start.history), start.optimizer_state, start.rng, False
    )
    remaining = max_iter - start.n_iter
    if remaining < 0 or (remaining == 0 and start.n_iter > 0):  # a finished fit: nothing to do
        return state
    # remaining == 0 from scratch (max_iter=0): the solver only reports, with scikit-learn's
    # ConvergenceWarning, that no iteration was allowed.
    # newton-cg carries curvature pairs from one iteration to the next and updates this list in
    # place: saved with the state, they make a resumed fit repeat the uninterrupted one bit for
    # bit. The snapshot is a new list of the same (immutable) arrays.
    # Whether its final (polishing) step was taken goes with them (NewtonCGState): a resumed
    # or warm-started run that already polished stops once max|grad| <= tol, as the
    # uninterrupted one did, instead of polishing again (a different model).
    pairs: list[Any] | None = None
    polished = False
    if method == "newton-cg":
        previous = newton_cg_state(start.optimizer_state)
        pairs, polished = [tuple(pair) for pair in previous.pairs], previous.polished

    def snapshot() -> Any:
        return None if pairs is None else NewtonCGState(tuple(pairs), polished)

    def on_iteration(w: NDArray[Any], row: dict[str, Any]) -> bool:
        nonlocal polished
        polished = polished or bool(row.get("polish", False))
        state.w, state.n_iter = w, start.n_iter + int(row["iteration"])
        state.history.append(dict(row, iteration=state.n_iter))
        state.optimizer_state = snapshot()
        return call_hooks(hooks, state)

    result = minimize(
        objective,
        start.w,
        method,
        tol=tol,
        max_iter=remaining,
        callback=on_iteration,
        state=pairs,
        polished=polished,
        refresh=refresh,
    )
    state.w, state.n_iter = result.x, start.n_iter + int(result.n_iter)
    # At the end the solver's own state is the truth (a polish whose line search failed leaves
    # no row to snapshot from, yet counts as taken).
    state.optimizer_state = result.state if method == "newton-cg" else snapshot()
    state.converged = bool(result.converged)
    return state


def _stochastic(
    objective: Any,
    start: FitState,
    method: str,
    tol: float,
    max_iter: int,
    hooks: Sequence[Hook],
    learning_rate: float | Schedule,
    momentum: float,
    batch_size: int,
) -> FitState:
    rng = start.rng if start.rng is not None else np.random.default_rng()
    state = FitState(start.w, start.n_iter, list(start.history), start.optimizer_state, rng, False)
    epoch = getattr(objective, "stochastic_epoch", None)
    previous = state.history[-1]["loss"] if state.history else np.inf
    # Divergence across epochs: each epoch checks itself against its first mini-batch
    # (minimize_stochastic); here every later epoch is checked against the first epoch.
    reference = state.history[0]["loss"] if state.history else None
    ran = False
    settings: dict[str, Any] = {
        "learning_rate": learning_rate,
        "momentum": momentum,
        "batch_size": batch_size,
    }
    while state.n_iter < max_iter:
        if epoch is not None:
            w, opt_state, row = epoch(state.w, method, rng, state.optimizer_state, **settings)
        else:
            w, opt_state, row = _in_memory_epoch(
                objective, state.w, method, rng, state.optimizer_state, **settings
            )
        ran = True
        state.w, state.optimizer_state, state.n_iter = w, opt_state, state.n_iter + 1
        row = dict(row, iteration=state.n_iter)
        reference = row["loss"] if reference is None else reference
        check_divergence(
            row["loss"], reference, solver=method, learning_rate=learning_rate, epoch=state.n_iter
        )
        state.history.append(row)
        # The notes' stop rule, across epochs: the epoch cost improved by less than tol.
        stop = tol > 0 and previous - row["loss"] < tol
        previous = row["loss"]
        stop = call_hooks(hooks, state) or stop
        if stop:
            state.converged = True
            break
    if (ran or start.n_iter == max_iter == 0) and tol > 0 and not state.converged:
        warn_not_converged(method, max_iter, f" (epoch cost still improving by >= tol = {tol:g})")
    return state


def _in_memory_epoch(
    objective: Any,
    w: NDArray[Any],
    method: str,
    rng: np.random.Generator,
    state: Any,
    *,
    learning_rate: float | Schedule,
    momentum: float,
    batch_size: int,
) -> tuple[NDArray[Any], Any, dict[str, Any]]:
    """One shuffled epoch of ``method`` over ``objective``'s mini-batches (no stop rule)."""
    result = minimize(
        objective,
        w,
        method,
        tol=-np.inf,
        max_iter=1,
        learning_rate=learning_rate,
        momentum=momentum,
        batch_size=batch_size,
        random_state=rng,
        state=state,
        warn=False,
    )
    return result.x, result.state, result.history[-1]

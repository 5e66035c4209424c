"""What every solver returns, and the per-iteration callback protocol they share."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning

# ``callback(w, record)`` after every iteration (epoch for stochastic solvers); ``record`` is
# ``{"iteration": int (1-based), "loss": float, "grad_norm": float}``. Returning True stops.
Callback = Callable[[NDArray[Any], dict[str, Any]], "bool | None"]


@dataclass
class SolverResult:
    """Outcome of a solver run.

    Attributes
    ----------
    x : ndarray of shape (n_params,)
        Final point, in the objective's dtype.
    fun : float
        Objective at ``x`` (smooth part plus L1 term where the solver handles it).
    grad_norm : float
        Max-abs gradient (or gradient mapping, for proximal solvers) at ``x``.
    n_iter : int
        Iterations (epochs for stochastic solvers) performed.
    converged : bool
        Whether the stopping test was met (a callback stop counts as converged).
    history : list of dict
        One record per iteration, as passed to the callback.
    message : str
        Why the solver stopped early, if it did.
    state : object
        Optimiser state to resume from: stochastic solvers' moments, newton-cg's curvature
        pairs; None for the others.
    """

    x: NDArray[Any]
    fun: float
    grad_norm: float
    n_iter: int
    converged: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    state: Any = None


def record(iteration: int, loss: float, grad_norm: float) -> dict[str, Any]:
    """A history row with plain Python types (JSON-able)."""
    return {"iteration": int(iteration), "loss": float(loss), "grad_norm": float(grad_norm)}


def max_abs(g: NDArray[Any]) -> float:
    """``||g||_inf`` as a Python float (0 for an empty vector)."""
    return float(np.max(np.abs(g), initial=0.0))


def warn_not_converged(solver: str, max_iter: int, detail: str = "") -> None:
    """Emit scikit-learn's ``ConvergenceWarning`` naming the solver and what to change.

    The text starts as scikit-learn's does (``"lbfgs failed to converge"``, ``"... Increase the
    number of iterations"``), so filters and tests written for ``LogisticRegression`` match.
    """
    warnings.warn(
        f"{solver} failed to converge in max_iter={max_iter} iterations{detail}. Increase the "
        "number of iterations (max_iter), loosen tol, or scale the data (e.g. StandardScaler or "
        "pixels / 255).",
        ConvergenceWarning,
        stacklevel=3,
    )


# The public module that documents and exports it: its name in reprs,
# tracebacks and pickles (which then survive a move of the code between private modules).
SolverResult.__module__ = "softreg.optim"

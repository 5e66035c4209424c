"""One entry point over the solvers: ``minimize(objective, w0, method=...)``."""

from __future__ import annotations

from typing import Any

from numpy.typing import NDArray

from softreg._kernels import single_threaded_blas
from softreg.optim._result import Callback, SolverResult
from softreg.optim.lbfgs import minimize_lbfgs
from softreg.optim.newton_cg import minimize_newton_cg
from softreg.optim.proximal import minimize_fista
from softreg.optim.stochastic import minimize_stochastic
from softreg.optim.transforms import Schedule, adam, sgd

FULL_BATCH = ("lbfgs", "newton-cg", "fista")
STOCHASTIC = ("sgd", "adam")
METHODS = FULL_BATCH + STOCHASTIC


def minimize(
    objective: Any,
    w0: NDArray[Any],
    method: str = "newton-cg",
    *,
    tol: float = 1e-4,
    max_iter: int = 100,
    callback: Callback | None = None,
    learning_rate: float | Schedule = 0.06,
    momentum: float = 0.0,
    batch_size: int = 200,
    random_state: Any = None,
    state: Any = None,
    warn: bool = True,
    polished: bool = False,
    refresh: int = 1,
) -> SolverResult:
    """Minimise ``objective`` from ``w0`` with ``method``.

    ``"lbfgs"``, ``"newton-cg"`` and ``"fista"`` use the full objective and stop on
    ``max|grad| <= tol`` (gradient mapping for ``"fista"``, the only one handling the L1 term);
    ``"sgd"`` and ``"adam"`` run mini-batch epochs and stop when the epoch cost improves by less
    than ``tol``. ``learning_rate``, ``momentum``, ``batch_size``, ``random_state`` and ``warn``
    only concern the stochastic methods; ``state`` those and ``"newton-cg"``, ``polished`` and
    ``refresh`` only ``"newton-cg"`` (see :func:`softreg.optim.newton_cg.minimize_newton_cg`).

    Examples
    --------
    >>> import numpy as np
    >>> from softreg.objective import SoftmaxObjective
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    >>> obj = SoftmaxObjective(X, np.array([0, 1, 1, 0]), n_classes=2, C=1.0)
    >>> res = minimize(obj, np.zeros(obj.n_params), "newton-cg", tol=1e-8)
    >>> res.converged, res.grad_norm <= 1e-8
    (True, True)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method in STOCHASTIC:
        optimizer = (
            sgd(learning_rate, momentum=momentum) if method == "sgd" else adam(learning_rate)
        )
        return minimize_stochastic(
            objective,
            w0,
            optimizer,
            batch_size=batch_size,
            tol=tol,
            max_iter=max_iter,
            random_state=random_state,
            callback=callback,
            state=state,
            warn=warn,
            name=method,
            learning_rate=learning_rate,
        )
    solver = {"lbfgs": minimize_lbfgs, "newton-cg": minimize_newton_cg, "fista": minimize_fista}
    # One BLAS thread for the whole solve: the passes over X run their own threads, and
    # OpenBLAS's workers keep spinning after any multi-threaded call in between (SciPy's
    # L-BFGS-B, the preconditioner's small products), taking the cores from the next pass.
    kwargs = (
        {"state": state, "polished": polished, "refresh": refresh} if method == "newton-cg" else {}
    )
    with single_threaded_blas():
        return solver[method](
            objective, w0, tol=tol, max_iter=max_iter, callback=callback, **kwargs
        )

"""Solvers and optimisers that see only an objective (functions of a flat vector) and a start."""

from softreg.optim._result import SolverResult
from softreg.optim.lbfgs import minimize_lbfgs
from softreg.optim.newton_cg import minimize_newton_cg
from softreg.optim.proximal import minimize_fista
from softreg.optim.solve import METHODS, minimize
from softreg.optim.stochastic import minimize_stochastic
from softreg.optim.transforms import (
    GradientTransformation,
    adam,
    add_decayed_weights,
    apply_updates,
    chain,
    scale,
    scale_by_adam,
    scale_by_schedule,
    sgd,
    trace,
)

__all__ = [
    "METHODS",
    "GradientTransformation",
    "SolverResult",
    "adam",
    "add_decayed_weights",
    "apply_updates",
    "chain",
    "minimize",
    "minimize_fista",
    "minimize_lbfgs",
    "minimize_newton_cg",
    "minimize_stochastic",
    "scale",
    "scale_by_adam",
    "scale_by_schedule",
    "sgd",
    "trace",
]

"""Solvers and optimisers that see only an objective (functions of a flat vector) and a start."""

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
    "GradientTransformation",
    "adam",
    "add_decayed_weights",
    "apply_updates",
    "chain",
    "scale",
    "scale_by_adam",
    "scale_by_schedule",
    "sgd",
    "trace",
]

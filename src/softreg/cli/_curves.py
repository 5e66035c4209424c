"""``softreg train``'s learning curves: the fit's callback that writes history.csv's rows.

After every iteration (or epoch) of the fit, the estimator's own record (``iteration``, ``loss``,
...) gains the accuracy on a fixed subset of the training images, the accuracy on the test set
and the seconds since the start, and the progress bar shows them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CURVE_TRAIN_SAMPLES", "LearningCurves", "curve_sample", "step_name"]

#: Training accuracy in the learning curves is measured on at most this many training images
#: (a fixed random subset) so that the per-epoch bookkeeping stays cheap next to the fit.
CURVE_TRAIN_SAMPLES = 10_000


def curve_sample(n_samples: int) -> np.ndarray:
    """Indices of the training images the curves score: a fixed random subset (seed 0), sorted."""
    rng = np.random.default_rng(0)
    return np.sort(rng.permutation(n_samples)[:CURVE_TRAIN_SAMPLES])


def step_name(params: dict[str, Any]) -> str:
    """What one history row counts: an epoch (MLP, stochastic solvers) or an iteration."""
    stochastic = "max_epochs" in params or params.get("solver") in ("sgd", "adam")
    return "epoch" if stochastic else "iteration"


@dataclass(eq=False)
class LearningCurves:
    """``callback(model, record)`` of the fit: appends one row to `rows`, never stops the fit.

    ``X_train[train_sample]`` are the training images scored (see `curve_sample`); ``start`` is the
    `time.perf_counter` reading at the start of the fit; ``bar`` the progress bar to update.
    """

    X_train: Any
    y_train: np.ndarray
    train_sample: np.ndarray
    X_test: Any
    y_test: np.ndarray
    bar: Any
    start: float
    rows: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, current: Any, record: dict[str, Any]) -> bool:
        idx = self.train_sample
        row = dict(record)
        row["train_accuracy"] = float(current.score(self.X_train[idx], self.y_train[idx]))
        row["test_accuracy"] = float(current.score(self.X_test, self.y_test))
        row["elapsed_s"] = round(time.perf_counter() - self.start, 3)
        self.rows.append(row)
        self.bar.update(
            1, loss=row["loss"], train_acc=row["train_accuracy"], test_acc=row["test_accuracy"]
        )
        return False

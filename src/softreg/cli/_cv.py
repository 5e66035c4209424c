"""``softreg train --C auto``: what choosing C by cross-validation adds to a run.

`SoftmaxRegressionCV` fits the whole path of C per fold and refits the chosen C; the run records
that path in metrics.json (`cv_record`), draws it as cv_curve.png (`write_cv_plot`) and names the
choice in the summary (`cv_summary`). The refit model is what is scored and saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cv_record", "cv_summary", "write_cv_plot"]


def cv_record(cv_model: Any) -> dict[str, Any]:
    """The cross-validated path for metrics.json: per C, mean and standard error."""
    res = cv_model.cv_results_

    def floats(key: str) -> list[float | None]:
        return [None if np.isnan(v) else float(v) for v in res[key]]

    return {
        "n_folds": len(cv_model.scores_),
        "selection": cv_model.selection,
        "C": float(cv_model.C_),
        "C_1se": float(cv_model.C_1se_),
        "path": {
            "C": [float(c) for c in res["C"]],
            "mean_log_loss": floats("mean_test_log_loss"),
            "sem_log_loss": floats("sem_test_log_loss"),
            "mean_accuracy": floats("mean_test_accuracy"),
            "sem_accuracy": floats("sem_test_accuracy"),
            "n_iter": [int(n) for n in res["n_iter"]],
            "fitted": [bool(f) for f in res["fitted"]],
        },
    }


def cv_summary(cv_model: Any) -> str:
    """The summary line of the choice: C, the number of folds and of values tried."""
    return (
        f"C = {cv_model.C_:.4g} chosen by {len(cv_model.scores_)}-fold cross-validation "
        f"over {len(cv_model.Cs_)} values (path in metrics.json, cv_curve.png)"
    )


def write_cv_plot(stage: Path, cv_model: Any, dataset: str) -> str:
    """Write ``cv_curve.png`` (the cross-validated path) and return its name."""
    from softreg import plotting

    res = cv_model.cv_results_
    axes = plotting.plot_cv_curve(
        res["C"],
        (res["mean_test_log_loss"], res["sem_test_log_loss"]),
        (res["mean_test_accuracy"], res["sem_test_accuracy"]),
        cv_model.C_,
        C_1se=cv_model.C_1se_,
        title=f"SoftmaxRegressionCV on {dataset}: {len(cv_model.scores_)}-fold "
        "cross-validation, mean ± standard error",
    )
    return plotting.save_figure(axes, stage / "cv_curve.png").name

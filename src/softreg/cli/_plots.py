"""The PNG plots of a ``softreg train`` run directory, drawn by :mod:`softreg.plotting`.

Learning curves (when the fit recorded any), the test set's confusion matrix, the weights (per
class, or the first layer's units of a network), a grid of test predictions and, for a network,
its diagram. Without matplotlib the plots are skipped with a note on stderr; the run goes on.
The plots of cross-validation and calibration are drawn by :mod:`softreg.cli._cv` and
:mod:`softreg.cli._calibrate`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from softreg.cli._curves import step_name

__all__ = ["N_PREDICTION_PANELS", "write_plots"]

#: Test images shown in predictions.png (a fixed random subset, seed 0).
N_PREDICTION_PANELS = 24


def write_plots(
    stage: Path,
    model: Any,
    rows: list[dict[str, Any]],
    test_record: dict[str, Any],
    test_images: np.ndarray,
    y_test: np.ndarray,
    y_pred: np.ndarray,
    names: list[str],
    dataset: str,
    prep: dict[str, Any],
) -> list[str]:
    """Write the plots of ``model`` into ``stage``; the file names written (none without
    matplotlib)."""
    try:
        from softreg import plotting
    except ImportError as exc:
        print(f"softreg train: plots skipped: {exc}", file=sys.stderr)
        return []
    written = []
    title = f"{type(model).__name__} on {dataset}"
    if rows:
        ax = plotting.plot_learning_curves(
            rows,
            xlabel=step_name(model.get_params(deep=False)),
            title=f"Learning curves: {title}",
        )
        written.append(plotting.save_figure(ax, stage / "learning_curves.png").name)
    ax = plotting.plot_confusion_matrix(
        test_record["confusion_matrix"],
        names,
        title=f"Confusion matrix on the test set (accuracy {test_record['accuracy']:.3f})",
    )
    written.append(plotting.save_figure(ax, stage / "confusion_matrix.png").name)
    shape = tuple(prep["image_shape"])
    if hasattr(model, "coef_"):
        axes = plotting.plot_class_weights(
            model.coef_, shape, names, title=f"Learned weights per class: {title}"
        )
    else:
        first = np.asarray(model.coefs_[0]).T  # (n_units, n_features)
        n_units = first.shape[0]
        shown = min(n_units, 20)
        unit_names = names if len(model.coefs_) == 1 else [f"unit {k}" for k in range(shown)]
        axes = plotting.plot_class_weights(
            first[:shown],
            shape,
            unit_names,
            title=f"First-layer weights ({shown} of {n_units} units): {title}",
        )
    written.append(plotting.save_figure(axes, stage / "weights.png").name)
    rng = np.random.default_rng(0)
    pick = np.sort(rng.permutation(len(y_test))[:N_PREDICTION_PANELS])
    label_names = {c: n for c, n in zip(model.classes_.tolist(), names, strict=True)}
    axes = plotting.plot_predictions(
        test_images[pick], y_test[pick].tolist(), y_pred[pick].tolist(), label_names
    )
    written.append(plotting.save_figure(axes, stage / "predictions.png").name)
    if hasattr(model, "coefs_"):
        sizes = [model.coefs_[0].shape[0], *(w.shape[1] for w in model.coefs_)]
        ax = plotting.plot_network(sizes, title=f"{' - '.join(map(str, sizes))} network: {title}")
        written.append(plotting.save_figure(ax, stage / "network.png").name)
    return written

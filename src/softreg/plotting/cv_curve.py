"""The cross-validation curve: validation log-loss and accuracy against ``C``, chosen C marked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from softreg.plotting._axes import axes_grid

__all__ = ["plot_cv_curve"]


def plot_cv_curve(
    Cs: Sequence[float],
    log_loss: tuple[Sequence[float], Sequence[float]],
    accuracy: tuple[Sequence[float], Sequence[float]],
    chosen_C: float,
    ax: Any = None,
    *,
    C_1se: float | None = None,
    title: str | None = None,
) -> np.ndarray:
    """Cross-validated log-loss and accuracy against ``C`` (log axis), mean ± standard error.

    Parameters
    ----------
    Cs : sequence of float of shape (n_Cs,)
    log_loss, accuracy : pair of sequences of shape (n_Cs,)
        ``(mean, standard error)`` over the folds (e.g. ``cv_results_["mean_test_log_loss"]``
        and ``["sem_test_log_loss"]``); NaN marks a ``C`` not fitted (drawn as a gap).
    chosen_C : float
        Marked by a vertical line on both panels.
    ax : array of two Axes, optional
        Log-loss on the first, accuracy on the second; a new figure when None.
    C_1se : float, optional
        The one-standard-error ``C``, marked by a dotted line.
    title : str, optional

    Returns
    -------
    ndarray of two Axes

    Examples
    --------
    >>> axes = plot_cv_curve([0.1, 1, 10], ([0.5, 0.4, 0.45], [0.01] * 3),
    ...                      ([0.8, 0.85, 0.84], [0.01] * 3), chosen_C=1)
    >>> axes[0].get_xscale(), axes[0].get_ylabel()
    ('log', 'validation log-loss')
    """
    xs = np.asarray(Cs, dtype=float)
    if xs.ndim != 1 or xs.size == 0 or not np.all(xs > 0):
        raise ValueError(f"Cs must be a non-empty 1-d sequence of values > 0, got {Cs!r}")
    axes = axes_grid(ax, 2, 2, 4.0) if ax is not None else None
    if axes is None:
        fig = Figure(figsize=(9.6, 3.8), layout="constrained")
        axes = np.asarray(fig.subplots(1, 2), dtype=object)
    panels = (("validation log-loss", log_loss, "C0"), ("validation accuracy", accuracy, "C1"))
    for axis, (label, pair, color) in zip(axes, panels, strict=True):
        mean, sem = np.asarray(pair[0], dtype=float), np.asarray(pair[1], dtype=float)
        if mean.shape != xs.shape or sem.shape != xs.shape:
            raise ValueError(
                f"{label}: mean and standard error must have shape {xs.shape}, got "
                f"{mean.shape} and {sem.shape}"
            )
        axis.errorbar(xs, mean, yerr=sem, color=color, marker="o", markersize=3, capsize=3)
        axis.axvline(chosen_C, color="k", linewidth=1, label=f"chosen C = {chosen_C:.3g}")
        if C_1se is not None:
            axis.axvline(
                C_1se, color="k", linestyle=":", linewidth=1, label=f"1-SE C = {C_1se:.3g}"
            )
        axis.set_xscale("log")
        axis.set_xlabel("C (inverse regularisation strength)")
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
        axis.legend(loc="best", fontsize="small")
    axes[0].figure.suptitle(title or "Cross-validation: mean ± standard error over folds")
    return axes

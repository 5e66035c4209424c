"""The reliability diagram: accuracy per confidence bin over a histogram of the confidences.

Its data is `softreg.metrics.calibration_table`; this module only draws it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from softreg.metrics import calibration_table
from softreg.plotting._axes import MISTAKE

__all__ = ["reliability_diagram"]


def reliability_diagram(
    y: Any,
    proba: Any,
    *,
    proba_after: Any = None,
    labels: Any = None,
    n_bins: int = 15,
    names: tuple[str, str] = ("before", "after"),
    ax: Any = None,
    title: str | None = None,
) -> np.ndarray:
    """Top-label reliability diagram with the confidence histogram, before and after calibration.

    Top panel: accuracy per confidence bin (bars) against the diagonal of perfect calibration;
    bottom panel: how many samples fall in each bin. ``proba_after`` (e.g. after temperature
    scaling) is overlaid as outlined bars. The title gives the ECE of each
    (:func:`softreg.metrics.expected_calibration_error`, equal-width bins closed on the right).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True labels (column indices of ``proba`` unless ``labels`` is given).
    proba : array-like of shape (n_samples, n_classes)
    proba_after : array-like of shape (n_samples, n_classes), optional
    labels : array-like of shape (n_classes,), optional
        The class of each column (e.g. ``model.classes_``).
    n_bins : int, default=15
    names : (str, str), default=("before", "after")
        Legend names of ``proba`` and ``proba_after``.
    ax : array of 2 Axes, optional
        Diagram and histogram axes; a new figure when None.
    title : str, optional
        Prefix of the title.

    Returns
    -------
    ndarray of 2 Axes

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    >>> axes = reliability_diagram([0, 1, 1], proba, proba_after=np.full((3, 2), 0.5))
    >>> axes[0].get_title()
    'ECE before 0.300, after 0.167'
    """
    tables = [calibration_table(y, proba, n_bins=n_bins, labels=labels)]
    if proba_after is not None:
        tables.append(calibration_table(y, proba_after, n_bins=n_bins, labels=labels))
    if ax is None:
        fig = Figure(figsize=(6.0, 6.5), layout="constrained")
        axes = np.asarray(fig.subplots(2, 1, sharex=True, height_ratios=[3, 1]), dtype=object)
    else:
        axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
        if len(axes) < 2:
            raise ValueError(f"ax must hold 2 axes (diagram, histogram), got {len(axes)}")
    diagram, histogram = axes[0], axes[1]
    diagram.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1, label="perfect")
    styles = [
        {"color": "#1f77b4", "alpha": 0.75},
        {"facecolor": "none", "edgecolor": MISTAKE, "linewidth": 1.5},
    ]
    for table, name, style in zip(tables, names, styles, strict=False):
        left, width = table.edges[:-1], np.diff(table.edges)
        full = table.count > 0
        diagram.bar(
            left[full], table.accuracy[full], width=width[full], align="edge", label=name, **style
        )
        histogram.bar(left, table.count, width=width, align="edge", label=name, **style)
    diagram.set_xlim(0, 1)
    diagram.set_ylim(0, 1)
    diagram.set_ylabel("accuracy")
    diagram.legend(loc="upper left", fontsize=8)
    histogram.set_xlabel("confidence (top-label probability)")
    histogram.set_ylabel("samples")
    ece = ", ".join(f"{n} {t.ece:.3f}" for t, n in zip(tables, names, strict=False))
    diagram.set_title(f"{title}\nECE {ece}" if title else f"ECE {ece}", fontsize=10)
    return axes

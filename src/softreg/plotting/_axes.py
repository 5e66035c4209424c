"""The axes every plot draws on: a new figure's, or a grid of panels; the colours plots share.

Figures are made with `matplotlib.figure.Figure` directly, never through pyplot (the package
docstring of `softreg.plotting` says why).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

MISTAKE = "#d62728"
CORRECT = "#2c7a2c"


def new_axes(figsize: tuple[float, float]) -> Axes:
    """The one axes of a new constrained-layout figure of ``figsize`` (inches)."""
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def axes_grid(ax: Any, n: int, n_cols: int, panel: float) -> np.ndarray:
    """``n`` axes: a new figure's grid when ``ax`` is None, else the first ``n`` of ``ax``."""
    if ax is None:
        n_rows = math.ceil(n / n_cols)
        fig = Figure(figsize=(panel * n_cols, panel * n_rows * 1.15), layout="constrained")
        axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    else:
        axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
        if len(axes) < n:
            raise ValueError(f"ax must hold at least {n} axes for {n} panels, got {len(axes)}")
    for extra in axes[n:]:
        extra.set_axis_off()
    return axes

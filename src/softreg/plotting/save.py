"""Saving a figure: a PNG written atomically, from a Figure, an Axes or an array of Axes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib.figure
import numpy as np
from matplotlib.axes import Axes

from softreg._atomic import atomic_path

__all__ = ["save_figure"]


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int = 110) -> Path:
    """Write a figure (or the figure of an Axes / array of Axes) to a PNG file atomically.

    Parameters
    ----------
    fig : Figure, Axes or array of Axes
    path : str or path-like
    dpi : int, default=110

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> from softreg.plotting import plot_confusion_matrix
    >>> ax = plot_confusion_matrix([[5, 1], [0, 4]])
    >>> path = save_figure(ax, os.path.join(tempfile.mkdtemp(), "confusion.png"))
    >>> path.read_bytes()[:4]
    b'\x89PNG'
    """
    if isinstance(fig, np.ndarray):
        fig = fig.ravel()[0]
    if isinstance(fig, Axes):
        fig = fig.figure
    if not isinstance(fig, matplotlib.figure.Figure):
        raise TypeError(f"fig must be a Figure, an Axes or an array of Axes, got {type(fig)}")
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi)
    return path

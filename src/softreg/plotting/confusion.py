"""The confusion matrix as a heat map, coloured by the fraction of each true class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from softreg.plotting._axes import new_axes

__all__ = ["plot_confusion_matrix"]


def plot_confusion_matrix(
    confusion: Any,
    class_names: Sequence[str] | None = None,
    ax: Axes | None = None,
    *,
    title: str | None = None,
) -> Axes:
    """A confusion matrix as a heat map with the count in every cell.

    Parameters
    ----------
    confusion : array-like of shape (n_classes, n_classes)
        Counts, rows the true class and columns the predicted class
        (as `sklearn.metrics.confusion_matrix`).
    class_names : sequence of str, optional
        Tick labels; the class indices when None.
    ax : Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_confusion_matrix([[5, 1], [0, 4]], ["cat", "dog"])
    >>> [t.get_text() for t in ax.texts], [t.get_text() for t in ax.get_xticklabels()]
    (['5', '1', '0', '4'], ['cat', 'dog'])
    """
    cm = np.asarray(confusion)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion must be a square 2-D array, got shape {cm.shape}")
    n = cm.shape[0]
    names = [str(i) for i in range(n)] if class_names is None else [str(c) for c in class_names]
    if len(names) != n:
        raise ValueError(f"class_names must have {n} entries, got {len(names)}")
    if ax is None:
        size = max(4.5, 0.62 * n + 2.5)
        ax = new_axes((size + 1.0, size))
    # Colour by the fraction of each true class so small and large classes read alike.
    totals = cm.sum(axis=1, keepdims=True)
    fraction = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)
    image = ax.imshow(fraction, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="fraction of true class")
    fontsize = 9 if n <= 10 else 7
    for i in range(n):
        for j in range(n):
            colour = "white" if fraction[i, j] > 0.5 else "black"
            ax.text(
                j, i, f"{cm[i, j]:g}", ha="center", va="center", color=colour, fontsize=fontsize
            )
    ax.set_xticks(range(n), names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "Confusion matrix")
    return ax

"""Image grids: one panel per image, either a class's weight template or a labelled test image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from softreg.plotting._axes import CORRECT, MISTAKE, axes_grid

__all__ = ["plot_class_weights", "plot_predictions"]


def plot_class_weights(
    coef: Any,
    image_shape: tuple[int, int],
    class_names: Sequence[str] | None = None,
    ax: Any = None,
    *,
    n_cols: int = 5,
    title: str | None = None,
) -> np.ndarray:
    """Each row of a weight matrix as an image: the template a linear classifier matches.

    Red pixels raise the class score, blue ones lower it; white is zero. One symmetric colour
    scale is shared by all panels so their strengths compare.

    Parameters
    ----------
    coef : array-like of shape (n_classes, n_features)
        E.g. ``SoftmaxRegression.coef_`` or the transposed first-layer weights of an MLP;
        ``n_features`` must equal ``image_shape[0] * image_shape[1]``.
    image_shape : (int, int)
    class_names : sequence of str, optional
        Panel titles; the row indices when None.
    ax : Axes or array of Axes, optional
        At least ``n_classes`` axes; a new figure when None.
    n_cols : int, default=5
    title : str, optional
        Figure title.

    Returns
    -------
    ndarray of Axes

    Examples
    --------
    >>> import numpy as np
    >>> axes = plot_class_weights(np.arange(8.0).reshape(2, 4), (2, 2), ["a", "b"])
    >>> axes.shape, [a.get_title() for a in axes]
    ((2,), ['a', 'b'])
    """
    W = np.asarray(coef, dtype=float)
    h, w = (int(s) for s in image_shape)
    if W.ndim != 2 or W.shape[1] != h * w:
        raise ValueError(
            f"coef must have shape (n_classes, {h * w}) for image_shape {(h, w)}, got {W.shape}"
        )
    n = W.shape[0]
    names = [str(i) for i in range(n)] if class_names is None else [str(c) for c in class_names]
    if len(names) != n:
        raise ValueError(f"class_names must have {n} entries, got {len(names)}")
    axes = axes_grid(ax, n, min(n_cols, n), panel=1.9)
    # A few rarely-lit border pixels get extreme weights; clip the shared scale at the 99.5th
    # percentile of |W| so the templates themselves stay visible (the colour bar says so).
    limit = float(np.percentile(np.abs(W), 99.5)) or float(np.max(np.abs(W))) or 1.0
    image = None
    for k in range(n):
        image = axes[k].imshow(W[k].reshape(h, w), cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[k].set_title(names[k], fontsize=10)
        axes[k].set_xticks([])
        axes[k].set_yticks([])
    fig = axes[0].figure
    fig.colorbar(image, ax=list(axes[:n]), shrink=0.8, label="weight", extend="both")
    fig.suptitle(title or "Learned weights per class")
    return axes[:n]


def plot_predictions(
    images: Any,
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    class_names: Sequence[str] | Mapping[Any, str] | None = None,
    ax: Any = None,
    *,
    n_cols: int = 6,
    title: str | None = None,
) -> np.ndarray:
    """A grid of images titled with their true and predicted labels; mistakes in red.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width)
    y_true, y_pred : sequence of labels, length n_images
    class_names : sequence or mapping, optional
        Label -> name (a sequence is indexed by the label); the labels themselves when None.
    ax : Axes or array of Axes, optional
        At least ``n_images`` axes; a new figure when None.
    n_cols : int, default=6
    title : str, optional

    Returns
    -------
    ndarray of Axes

    Examples
    --------
    >>> import numpy as np
    >>> axes = plot_predictions(np.zeros((2, 4, 4), np.uint8), [0, 1], [0, 2], ["a", "b", "c"])
    >>> [a.get_title().splitlines() for a in axes]
    [['true: a', 'pred: a'], ['true: b', 'pred: c']]
    """
    imgs = np.asarray(images)
    if imgs.ndim != 3:
        raise ValueError(f"images must have shape (n_images, height, width), got {imgs.shape}")
    n = imgs.shape[0]
    if len(y_true) != n or len(y_pred) != n:
        raise ValueError(
            f"y_true and y_pred must have {n} labels (one per image), "
            f"got {len(y_true)} and {len(y_pred)}"
        )

    def name(label: Any) -> str:
        if class_names is None:
            return str(label)
        if isinstance(class_names, Mapping):
            return str(class_names.get(label, label))
        return str(class_names[int(label)])

    axes = axes_grid(ax, n, min(n_cols, n), panel=1.75)
    for k in range(n):
        wrong = y_true[k] != y_pred[k]
        axes[k].imshow(imgs[k], cmap="gray_r")
        axes[k].set_title(
            f"true: {name(y_true[k])}\npred: {name(y_pred[k])}",
            fontsize=8,
            color=MISTAKE if wrong else CORRECT,
        )
        axes[k].set_xticks([])
        axes[k].set_yticks([])
        for spine in axes[k].spines.values():
            spine.set_visible(bool(wrong))
            spine.set_color(MISTAKE)
            spine.set_linewidth(2.5)
    n_wrong = sum(bool(t != p) for t, p in zip(y_true, y_pred, strict=True))
    axes[0].figure.suptitle(title or f"Test images: {n - n_wrong}/{n} correct (mistakes in red)")
    return axes[:n]

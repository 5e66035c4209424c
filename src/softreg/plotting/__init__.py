"""Pictures of a classifier: learning curves, confusion matrix, class weights, predictions, network.

Every function takes arrays (never an estimator or a dataset), an optional ``ax`` and returns what
it drew on, so it works the same in a notebook (pass your own axes) and in the CLI (``ax=None``
makes a new figure). Figures are made with `matplotlib.figure.Figure` directly, never through
pyplot: they render with the Agg canvas whatever the session's backend, need no display and are
not kept alive by pyplot's figure registry. `save_figure` writes a PNG atomically.

matplotlib is optional (``pip install softreg[plot]``); importing this module without it raises an
ImportError that says so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from softreg._atomic import atomic_path
from softreg.metrics import calibration_table

try:
    import matplotlib
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("softreg.plotting needs matplotlib: pip install 'softreg[plot]'") from exc

__all__ = [
    "plot_class_weights",
    "plot_confusion_matrix",
    "plot_cv_curve",
    "plot_learning_curves",
    "plot_network",
    "plot_predictions",
    "reliability_diagram",
    "save_figure",
]

_MISTAKE = "#d62728"
_CORRECT = "#2c7a2c"


def _new_axes(figsize: tuple[float, float]) -> Axes:
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _axes_grid(ax: Any, n: int, n_cols: int, panel: float) -> np.ndarray:
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


def plot_learning_curves(
    history: Sequence[Mapping[str, Any]],
    ax: Axes | None = None,
    *,
    x: str = "iteration",
    loss: str = "loss",
    accuracies: Sequence[str] = ("train_accuracy", "test_accuracy"),
    xlabel: str | None = None,
    title: str | None = None,
) -> Axes:
    """Training loss (left axis) and accuracies (right axis) per iteration or epoch.

    Parameters
    ----------
    history : sequence of dict
        One row per iteration/epoch, e.g. an estimator's ``history_`` extended with accuracies.
        Rows need ``x`` and ``loss``; accuracy keys that are missing are skipped.
    ax : Axes, optional
        Where to draw the loss; the accuracies go on ``ax.twinx()``. A new figure when None.
    x, loss : str
        Keys of the x values and of the training loss.
    accuracies : sequence of str
        Keys of the accuracy curves (values in [0, 1]).
    xlabel : str, optional
        Label of the x axis (e.g. "epoch"); ``x`` when None.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        The loss axes (``ax.figure`` is the figure).

    Examples
    --------
    >>> ax = plot_learning_curves([{"iteration": i, "loss": 1 / i, "test_accuracy": 1 - 1 / (i + 1)}
    ...                            for i in range(1, 6)])
    >>> [line.get_label() for line in ax.get_lines()]
    ['loss']
    """
    if len(history) == 0:
        raise ValueError("history must hold at least one row, got an empty sequence")
    if ax is None:
        ax = _new_axes((6.4, 4.0))
    xs = [row[x] for row in history]
    marker = "o" if len(xs) <= 30 else None
    (loss_line,) = ax.plot(
        xs, [row[loss] for row in history], color="C0", marker=marker, markersize=3, label="loss"
    )
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel("training loss", color="C0")
    ax.tick_params(axis="y", colors="C0")
    ax.grid(True, alpha=0.3)
    handles = [loss_line]
    present = [k for k in accuracies if all(k in row for row in history)]
    if present:
        acc_ax = ax.twinx()
        for i, key in enumerate(present):
            (line,) = acc_ax.plot(
                xs,
                [row[key] for row in history],
                color=f"C{i + 1}",
                marker=marker,
                markersize=3,
                linestyle="--" if i else "-",
                label=key.replace("_", " "),
            )
            handles.append(line)
        acc_ax.set_ylabel("accuracy")
        top = max(max(row[k] for row in history) for k in present)
        bottom = min(min(row[k] for row in history) for k in present)
        acc_ax.set_ylim(max(0.0, bottom - 0.05), min(1.0, top + 0.02) + 0.005)
    ax.legend(handles, [str(h.get_label()) for h in handles], loc="center right")
    ax.set_title(title or "Learning curves")
    return ax


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
        ax = _new_axes((size + 1.0, size))
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
    axes = _axes_grid(ax, n, min(n_cols, n), panel=1.9)
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

    axes = _axes_grid(ax, n, min(n_cols, n), panel=1.75)
    for k in range(n):
        wrong = y_true[k] != y_pred[k]
        axes[k].imshow(imgs[k], cmap="gray_r")
        axes[k].set_title(
            f"true: {name(y_true[k])}\npred: {name(y_pred[k])}",
            fontsize=8,
            color=_MISTAKE if wrong else _CORRECT,
        )
        axes[k].set_xticks([])
        axes[k].set_yticks([])
        for spine in axes[k].spines.values():
            spine.set_visible(bool(wrong))
            spine.set_color(_MISTAKE)
            spine.set_linewidth(2.5)
    n_wrong = sum(bool(t != p) for t, p in zip(y_true, y_pred, strict=True))
    axes[0].figure.suptitle(title or f"Test images: {n - n_wrong}/{n} correct (mistakes in red)")
    return axes[:n]


def plot_network(
    layer_sizes: Sequence[int],
    ax: Axes | None = None,
    *,
    layer_names: Sequence[str] | None = None,
    max_nodes: int = 10,
    title: str | None = None,
) -> Axes:
    """A diagram of a fully connected network: one column of neurons per layer, all links drawn.

    Layers wider than ``max_nodes`` show their first and last neurons around a vertical ellipsis;
    the true width is written under every column.

    Parameters
    ----------
    layer_sizes : sequence of int
        Widths from the input to the output layer, e.g. ``(10, 7, 5)`` or ``(784, 256, 10)``.
    ax : Axes, optional
    layer_names : sequence of str, optional
        Column captions; "input", "hidden 1", ..., "output" when None.
    max_nodes : int, default=10
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_network([10, 7, 5])
    >>> len(ax.patches)                   # one circle per neuron
    22
    """
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer_sizes must hold at least two positive widths, got {sizes}")
    if max_nodes < 3:
        raise ValueError(f"max_nodes must be at least 3, got {max_nodes}")
    if layer_names is None:
        layer_names = ["input"] + [f"hidden {i}" for i in range(1, len(sizes) - 1)] + ["output"]
    if len(layer_names) != len(sizes):
        raise ValueError(f"layer_names must have {len(sizes)} entries, got {len(layer_names)}")
    from matplotlib.patches import Circle

    shown_max = min(max(sizes), max_nodes)
    step = 3.0  # horizontal distance between layers, in neuron spacings
    if ax is None:
        # Half an inch per neuron spacing, so circles keep their size whatever the layer count.
        width = max(4.0, 0.5 * ((len(sizes) - 1) * step + 2.0))
        ax = _new_axes((width, 0.5 * (shown_max + 3.0)))
    radius = 0.3
    # Per layer, the vertical slots of its drawn neurons and of its ellipsis (if any), centred.
    columns: list[list[tuple[float, bool]]] = []
    for size in sizes:
        if size <= max_nodes:
            gaps = [False] * size
        else:  # the first neurons, an ellipsis, the last neurons
            head = (max_nodes - 1) // 2
            gaps = [False] * head + [True] + [False] * (max_nodes - 1 - head)
        offset = (shown_max - len(gaps)) / 2.0
        columns.append([(offset + i, gap) for i, gap in enumerate(gaps)])
    colours = ["#9ecae1"] + ["#fdd49e"] * (len(sizes) - 2) + ["#a1d99b"]
    for layer in range(len(sizes) - 1):
        for y0, gap0 in columns[layer]:
            for y1, gap1 in columns[layer + 1]:
                if not (gap0 or gap1):
                    ax.plot(
                        [layer * step, (layer + 1) * step],
                        [-y0, -y1],
                        color="0.6",
                        linewidth=0.5,
                        alpha=0.6,
                        zorder=1,
                    )
    for layer, slots in enumerate(columns):
        x = layer * step
        for y, gap in slots:
            if gap:
                ax.text(x, -y, "⋮", ha="center", va="center", fontsize=16, zorder=3)
            else:
                ax.add_patch(
                    Circle(
                        (x, -y),
                        radius,
                        facecolor=colours[layer],
                        edgecolor="0.25",
                        linewidth=0.8,
                        zorder=2,
                    )
                )
        ax.text(
            x, 0.6, f"{layer_names[layer]}\n{sizes[layer]}", ha="center", va="bottom", fontsize=10
        )
    ax.set_xlim(-0.8, (len(sizes) - 1) * step + 0.8)
    ax.set_ylim(-(shown_max - 1) - 0.8, 2.2)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title or " - ".join(str(s) for s in sizes) + " network")
    return ax


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
    axes = _axes_grid(ax, 2, 2, 4.0) if ax is not None else None
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
        {"facecolor": "none", "edgecolor": _MISTAKE, "linewidth": 1.5},
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

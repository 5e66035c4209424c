"""Learning curves: training loss and accuracies per iteration or epoch, on twin y axes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes

from softreg.plotting._axes import new_axes

__all__ = ["plot_learning_curves"]


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
        ax = new_axes((6.4, 4.0))
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

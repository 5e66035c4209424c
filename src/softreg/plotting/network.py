"""The diagram of a fully connected network: a column of neurons per layer, every link drawn."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes

from softreg.plotting._axes import new_axes

__all__ = ["plot_network"]


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
        ax = new_axes((width, 0.5 * (shown_max + 3.0)))
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

"""plot_network: a circle per drawn neuron, a caption per layer, an ellipsis for wide layers."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
from plotting_png import decode_png
from softreg import plotting


@pytest.mark.parametrize(("sizes", "n_circles"), [([10, 7, 5], 22), ([784, 32, 10], 9 + 9 + 10)])
def test_network_diagram(tmp_path: Path, sizes: list[int], n_circles: int) -> None:
    ax = plotting.plot_network(sizes)
    assert len(ax.patches) == n_circles
    captions = [t.get_text() for t in ax.texts if "\n" in t.get_text()]
    assert [c.split("\n")[1] for c in captions] == [str(s) for s in sizes]
    # Wide layers get an ellipsis instead of all their neurons.
    assert sum(t.get_text() == "⋮" for t in ax.texts) == sum(s > 10 for s in sizes)
    decode_png(plotting.save_figure(ax.figure, tmp_path / "net.png"))
    with pytest.raises(ValueError, match="layer_sizes"):
        plotting.plot_network([5])

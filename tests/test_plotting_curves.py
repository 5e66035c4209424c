"""plot_learning_curves: loss and every accuracy series on twin axes; no empty history."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from plotting_png import decode_png
from softreg import plotting


def test_learning_curves_draw_every_series(tmp_path: Path) -> None:
    history = [
        {"iteration": i, "loss": 2.0 / i, "train_accuracy": 0.5 + i / 40, "test_accuracy": 0.5}
        for i in range(1, 11)
    ]
    ax = plotting.plot_learning_curves(history)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [2.0 / i for i in range(1, 11)])
    (acc_ax,) = [other for other in ax.figure.axes if other is not ax]
    labels = [line.get_label() for line in acc_ax.get_lines()]
    assert labels == ["train accuracy", "test accuracy"]
    np.testing.assert_allclose(acc_ax.get_lines()[0].get_xdata(), range(1, 11))
    image = decode_png(plotting.save_figure(ax, tmp_path / "curves.png"))
    assert image.size[0] > 300


def test_learning_curves_without_accuracies_and_empty() -> None:
    ax = plotting.plot_learning_curves(
        [{"iteration": 1, "loss": 1.0}, {"iteration": 2, "loss": 0.5}]
    )
    assert len(ax.figure.axes) == 1
    with pytest.raises(ValueError, match="history"):
        plotting.plot_learning_curves([])

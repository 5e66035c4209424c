"""Image grids: class weights as images on one colour scale, predictions with mistakes in red."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from plotting_png import decode_png
from softreg import plotting


def test_class_weights_show_each_row_as_an_image(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    coef = rng.normal(size=(10, 28 * 28))
    axes = plotting.plot_class_weights(coef, (28, 28), [f"class {k}" for k in range(10)])
    assert len(axes) == 10
    for k, ax in enumerate(axes):
        np.testing.assert_array_equal(ax.images[0].get_array(), coef[k].reshape(28, 28))
        assert ax.get_title() == f"class {k}"
    # One symmetric colour scale shared by all panels.
    limit = np.percentile(np.abs(coef), 99.5)
    assert {ax.images[0].get_clim() for ax in axes} == {(-limit, limit)}
    decode_png(plotting.save_figure(axes, tmp_path / "weights.png"))
    with pytest.raises(ValueError, match=r"coef must have shape \(n_classes, 64\)"):
        plotting.plot_class_weights(coef, (8, 8))


def test_predictions_mark_mistakes() -> None:
    images = np.arange(6 * 4 * 4, dtype=np.uint8).reshape(6, 4, 4)
    y_true = [0, 1, 2, 0, 1, 2]
    y_pred = [0, 2, 2, 0, 0, 2]
    fig = Figure()
    given = fig.subplots(2, 4)
    axes = plotting.plot_predictions(images, y_true, y_pred, ["zero", "one", "two"], ax=given)
    assert len(axes) == 6
    wrong = [bool(t != p) for t, p in zip(y_true, y_pred, strict=True)]
    for ax, is_wrong, t, p in zip(axes, wrong, y_true, y_pred, strict=True):
        assert to_rgba(ax.title.get_color()) == to_rgba("#d62728" if is_wrong else "#2c7a2c")
        assert (
            ax.get_title()
            == f"true: {['zero', 'one', 'two'][t]}\npred: {['zero', 'one', 'two'][p]}"
        )
    assert not given.ravel()[7].axison  # unused panels are hidden
    assert "4/6 correct" in fig.get_suptitle()
    with pytest.raises(ValueError, match="one per image"):
        plotting.plot_predictions(images, y_true[:3], y_pred)
    with pytest.raises(ValueError, match="at least 6 axes"):
        plotting.plot_predictions(images, y_true, y_pred, ax=fig.subplots(1, 2))

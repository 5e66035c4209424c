"""plot_cv_curve: draws what its arrays say, on a log axis, with the chosen C marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image

from softreg import plotting


def test_draws_means_errors_and_the_chosen_c(tmp_path: Path) -> None:
    Cs = [0.01, 0.1, 1.0, 10.0]
    loss = ([0.9, 0.5, 0.45, np.nan], [0.02, 0.01, 0.01, np.nan])  # last C not fitted
    acc = ([0.7, 0.82, 0.84, np.nan], [0.01, 0.01, 0.02, np.nan])
    axes = plotting.plot_cv_curve(Cs, loss, acc, chosen_C=1.0, C_1se=0.1)
    assert len(axes) == 2
    for ax, (mean, _) in zip(axes, (loss, acc), strict=True):
        assert ax.get_xscale() == "log"
        lines = ax.get_lines()
        np.testing.assert_allclose(lines[0].get_xdata(), Cs)
        np.testing.assert_allclose(lines[0].get_ydata(), mean)
        vertical = [line.get_xdata()[0] for line in lines[-2:]]  # after the error caps
        assert vertical == [1.0, 0.1]
    path = plotting.save_figure(axes, tmp_path / "cv.png")
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG"


def test_bad_shapes_are_named() -> None:
    with pytest.raises(ValueError, match="validation log-loss: mean and standard error"):
        plotting.plot_cv_curve([1.0, 2.0], ([1.0], [0.1]), ([1.0, 1.0], [0, 0]), chosen_C=1.0)
    with pytest.raises(ValueError, match="Cs must be"):
        plotting.plot_cv_curve([], ([], []), ([], []), chosen_C=1.0)

"""plot_confusion_matrix: a count in every cell, coloured by the fraction of its true class."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from softreg import plotting


def test_confusion_matrix_annotates_counts_on_given_axes() -> None:
    cm = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    fig = Figure()
    ax = fig.add_subplot()
    assert plotting.plot_confusion_matrix(cm, ["a", "b", "c"], ax=ax) is ax
    texts = [t.get_text() for t in ax.texts]
    assert texts == [str(v) for v in cm.ravel()]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    # Colour is the row fraction: cell (2, 2) is the darkest, and its text is white.
    np.testing.assert_allclose(ax.images[0].get_array(), cm / cm.sum(1, keepdims=True))
    assert to_rgba(ax.texts[8].get_color()) == to_rgba("white")
    with pytest.raises(ValueError, match="square"):
        plotting.plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="class_names"):
        plotting.plot_confusion_matrix(cm, ["a"])

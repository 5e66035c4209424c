"""Plots: each function draws what its arrays say, accepts ``ax`` and saves a decodable PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from PIL import Image

from softreg import plotting


def _decode(path: Path) -> Image.Image:
    image = Image.open(path)
    image.load()  # raises on a truncated or corrupt PNG
    assert image.format == "PNG"
    return image


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
    image = _decode(plotting.save_figure(ax, tmp_path / "curves.png"))
    assert image.size[0] > 300


def test_learning_curves_without_accuracies_and_empty() -> None:
    ax = plotting.plot_learning_curves(
        [{"iteration": 1, "loss": 1.0}, {"iteration": 2, "loss": 0.5}]
    )
    assert len(ax.figure.axes) == 1
    with pytest.raises(ValueError, match="history"):
        plotting.plot_learning_curves([])


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
    _decode(plotting.save_figure(axes, tmp_path / "weights.png"))
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


@pytest.mark.parametrize(("sizes", "n_circles"), [([10, 7, 5], 22), ([784, 32, 10], 9 + 9 + 10)])
def test_network_diagram(tmp_path: Path, sizes: list[int], n_circles: int) -> None:
    ax = plotting.plot_network(sizes)
    assert len(ax.patches) == n_circles
    captions = [t.get_text() for t in ax.texts if "\n" in t.get_text()]
    assert [c.split("\n")[1] for c in captions] == [str(s) for s in sizes]
    # Wide layers get an ellipsis instead of all their neurons.
    assert sum(t.get_text() == "⋮" for t in ax.texts) == sum(s > 10 for s in sizes)
    _decode(plotting.save_figure(ax.figure, tmp_path / "net.png"))
    with pytest.raises(ValueError, match="layer_sizes"):
        plotting.plot_network([5])


def test_save_figure_is_atomic_and_typed(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="fig must be"):
        plotting.save_figure("not a figure", tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_reliability_diagram_draws_both_tables_and_the_histogram(tmp_path: Path) -> None:
    from softreg.metrics import calibration_table

    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3, size=(300, 4))
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    soft = np.exp(logits / 3) / np.exp(logits / 3).sum(1, keepdims=True)
    y = rng.integers(0, 4, size=300)
    axes = plotting.reliability_diagram(y, proba, proba_after=soft, title="toy")
    before, after = calibration_table(y, proba), calibration_table(y, soft)
    assert axes[0].get_title() == f"toy\nECE before {before.ece:.3f}, after {after.ece:.3f}"
    heights = [p.get_height() for p in axes[0].patches]
    expected = [*before.accuracy[before.count > 0], *after.accuracy[after.count > 0]]
    np.testing.assert_allclose(heights, expected)
    counts = [p.get_height() for p in axes[1].patches]
    np.testing.assert_array_equal(counts, [*before.count, *after.count])
    _decode(plotting.save_figure(axes, tmp_path / "calibration.png"))
    with pytest.raises(ValueError, match="2 axes"):
        plotting.reliability_diagram(y, proba, ax=[axes[0]])

"""reliability_diagram: bars and counts of both calibration tables, ECEs in the title."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from plotting_png import decode_png
from softreg import plotting


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
    decode_png(plotting.save_figure(axes, tmp_path / "calibration.png"))
    with pytest.raises(ValueError, match="2 axes"):
        plotting.reliability_diagram(y, proba, ax=[axes[0]])

"""save_figure: refuses what is not a figure, and then leaves no file behind."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from softreg import plotting


def test_save_figure_is_atomic_and_typed(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="fig must be"):
        plotting.save_figure("not a figure", tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []

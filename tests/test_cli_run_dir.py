"""`softreg.cli._run_dir`: a run directory appears whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from softreg.cli._errors import UsageError
from softreg.cli._run_dir import check_out, staged, write_history, write_text


def test_a_finished_run_replaces_the_old_one(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "r"
    out.mkdir(parents=True)
    (out / "stale.txt").write_text("old run")
    with staged(out) as stage:
        assert stage.parent == out.parent
        assert stage.name.startswith(".r.partial-")
        write_text(stage / "metrics.json", "{}\n")
        assert (out / "stale.txt").exists()  # the old run stays until the very end
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["r"]


def test_a_failed_run_leaves_nothing(tmp_path: Path) -> None:
    def interrupted_run() -> None:
        with staged(tmp_path / "r") as stage:
            write_text(stage / "metrics.json", "{}\n")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_run()
    assert list(tmp_path.iterdir()) == []


def test_an_existing_run_needs_overwrite(tmp_path: Path) -> None:
    check_out(tmp_path / "new", overwrite=False)
    with pytest.raises(UsageError, match="--overwrite"):
        check_out(tmp_path, overwrite=False)
    check_out(tmp_path, overwrite=True)


def test_history_has_a_column_for_every_key(tmp_path: Path) -> None:
    rows = [{"iteration": 1, "loss": 0.5}, {"iteration": 2, "loss": 0.25, "val_score": 0.9}]
    write_history(tmp_path / "history.csv", rows)
    assert (tmp_path / "history.csv").read_text().splitlines() == [
        "iteration,loss,val_score",
        "1,0.5,",
        "2,0.25,0.9",
    ]

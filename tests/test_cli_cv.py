"""``softreg train --C auto``: C chosen by SoftmaxRegressionCV, its path in the run directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image

from softreg import SoftmaxRegressionCV, io
from softreg.cli import main
from softreg.cli._data import load_split


@pytest.fixture(scope="module")
def cv_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "digits-cv"
    argv = ["train", "--dataset", "digits", "--C", "auto", "--cv", "3", "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    return out


def test_train_auto_writes_the_path_and_the_cv_curve(cv_run: Path) -> None:
    with Image.open(cv_run / "cv_curve.png") as image:
        image.load()
        assert image.format == "PNG"
        assert min(image.size) > 200
    metrics = json.loads((cv_run / "metrics.json").read_text())
    cv = metrics["cv"]
    assert cv["n_folds"] == 3
    path = cv["path"]
    assert len(path["C"]) == 10
    assert all(len(path[key]) == 10 for key in ("mean_log_loss", "sem_log_loss", "mean_accuracy"))
    best = int(np.argmin(path["mean_log_loss"]))
    assert cv["C"] == pytest.approx(path["C"][best])
    assert cv["C_1se"] <= cv["C"]
    assert metrics["test"]["accuracy"] > 0.9


def test_train_auto_equals_the_library_and_saves_the_refit(cv_run: Path) -> None:
    images, labels = load_split("digits", "train")
    X = images.reshape(len(images), -1)
    library = SoftmaxRegressionCV(cv=3, input_scale=1 / 16).fit(X, labels)
    metrics = json.loads((cv_run / "metrics.json").read_text())
    assert metrics["cv"]["C"] == pytest.approx(library.C_)
    model = io.load(cv_run / "model.npz")
    assert type(model).__name__ == "SoftmaxRegression"
    assert pytest.approx(library.C_) == model.C
    np.testing.assert_allclose(model.coef_, library.coef_, atol=1e-5)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cv", "3"], "--cv applies only with --C auto"),
        (["--C", "auto", "--cv", "1"], "argument --cv: expected an integer >= 2 (folds), got '1'"),
        (["--C", "auto", "--checkpoint", "ck.npz"], "do not apply to --C auto"),
    ],
)
def test_bad_combinations_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["train", "--dataset", "digits", "--out", str(tmp_path / "run"), "--quiet", *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_checkpoint_with_auto_is_refused_before_any_data_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An empty --data-dir: the data error used to come first, after reading the splits.
    empty = tmp_path / "no-data"
    empty.mkdir()
    argv = ["train", "--dataset", "fashion-mnist", "--data-dir", str(empty), "--C", "auto"]
    assert main([*argv, "--resume", "ck.npz", "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert "--checkpoint and --resume do not apply to --C auto" in capsys.readouterr().err


def test_c_must_be_positive_or_auto(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--dataset", "digits", "--out", str(tmp_path / "r"), "--C", "-1"]) == 2
    assert "expected a number > 0 or 'auto'" in capsys.readouterr().err


def test_train_auto_without_matplotlib_skips_the_plots_and_still_writes_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The CV curve was drawn even when the other plots were skipped for want of matplotlib:
    # the run failed with an ImportError instead of noting the skip.
    import sys

    import softreg

    monkeypatch.delattr(softreg, "plotting", raising=False)
    monkeypatch.setitem(sys.modules, "softreg.plotting", None)  # import raises ImportError
    out = tmp_path / "run"
    argv = ["train", "--dataset", "digits", "--C", "auto", "--cv", "3", "--out", str(out)]
    assert main([*argv, "--quiet", "--max-samples", "400"]) == 0
    assert "plots skipped" in capsys.readouterr().err
    assert not list(out.glob("*.png"))
    assert json.loads((out / "metrics.json").read_text())["cv"]["n_folds"] == 3

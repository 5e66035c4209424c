"""Run directories for the report tests: real digits runs of `softreg train`, plus extras.

Imported by tests/test_report.py and tests/test_report_browser.py (module-scoped fixtures).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from softreg.cli import main
from softreg.report import write_report

# -- fixtures: real run directories of `softreg train`, plus the optional extras ------------------


@pytest.fixture(scope="module")
def softmax_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "digits-softmax"
    assert main(["train", "--dataset", "digits", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "digits-mlp"
    argv = ["train", "--dataset", "digits", "--model", "mlp", "--epochs", "3", "--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    return out


def _png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (120, 80), "white")
    ImageDraw.Draw(image).line([(5, 75), (115, 5)], fill=colour, width=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# The records `softreg train --C auto --cv K` and `--calibrate` put into metrics.json.
CV = {
    "n_folds": 5,
    "selection": "min",
    "C": 1.0,
    "C_1se": 0.1,
    "path": {
        "C": [0.01, 0.1, 1.0, 10.0, 100.0],
        "mean_log_loss": [0.61, 0.42, 0.37, 0.39, None],  # None: a C the path stopped before
        "sem_log_loss": [0.01, 0.01, 0.008, 0.009, None],
        "mean_accuracy": [0.80, 0.84, 0.85, 0.85, None],
        "n_iter": [5, 6, 8, 9, 0],
        "fitted": [True, True, True, True, False],
    },
}
CALIBRATION = {
    "method": "temperature scaling (Guo et al. 2017), fitted on the validation split",
    "temperature": 1.31,
    "validation_samples": 135,
    "validation_nll": {"before": 0.452, "after": 0.431},
    "n_bins": 15,
    "test": {
        "before": {
            "ece": 0.0412,
            "mce": 0.21,
            "classwise_ece": 0.011,
            "nll": 0.4498,
            "brier": 0.22,
        },
        "after": {"ece": 0.0123, "mce": 0.09, "classwise_ece": 0.007, "nll": 0.4311, "brier": 0.21},
    },
}
INFERENCE = [
    {"class": "1", "feature": "pixel 0", "coef": 0.12, "std_err": 0.05, "z": 2.4, "p_value": 0.016},
    {"class": "1", "feature": "pixel 1", "coef": -0.3, "std_err": 0.2, "z": -1.5, "p_value": 0.13},
]


@pytest.fixture(scope="module")
def full_run(softmax_run, tmp_path_factory) -> Path:
    """The softmax run with every optional part: CV, calibration, inference, an ONNX export."""
    pytest.importorskip("onnxruntime")
    out = tmp_path_factory.mktemp("runs") / "digits-full"
    shutil.copytree(softmax_run, out)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics.update(cv=CV, calibration=CALIBRATION, inference=INFERENCE)
    (out / "metrics.json").write_text(json.dumps(metrics))
    (out / "calibration.png").write_bytes(_png((164, 22, 26)))
    argv = ["export", "--model", str(out / "model.npz"), "--out", str(out / "model.onnx")]
    assert main([*argv, "--quiet"]) == 0
    assert write_report(out).name == "report.html"
    return out

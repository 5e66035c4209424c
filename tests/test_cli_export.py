"""``softreg export`` and ``softreg predict --model M.onnx`` on a digits run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from softreg.cli import main
from softreg.datasets import load


@pytest.fixture(scope="module", params=["softmax", "mlp"])
def run_dir(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / request.param
    argv = ["train", "--dataset", "digits", "--out", str(out), "--quiet", "--no-plots"]
    if request.param == "mlp":
        argv += ["--model", "mlp", "--epochs", "3"]
    assert main(argv) == 0
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_export_checks_parity_on_the_test_split(run_dir, dtype, capsys) -> None:
    out = run_dir / f"model-{dtype}.onnx"
    argv = ["export", "--model", str(run_dir / "model.npz"), "--format", "onnx"]
    assert main([*argv, "--out", str(out), "--dtype", dtype, "-q"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert "parity: passed on 450 inputs (digits test split)" in printed
    record = json.loads(Path(str(out) + ".parity.json").read_text())
    assert record["parity"]["passed"] is True
    assert record["parity"]["max_abs_diff"] <= {"float32": 1e-5, "float64": 1e-12}[dtype]
    assert record["input_scale"] == pytest.approx(1 / 16)


def test_predict_with_the_onnx_file_prints_what_the_npz_prints(run_dir, tmp_path, capsys):
    onnx_path = run_dir / "model-u8.onnx"
    argv = ["export", "--model", str(run_dir / "model.npz"), "--out", str(onnx_path)]
    assert main([*argv, "--input-dtype", "uint8", "--check-on", "random"]) == 0
    assert "random integer inputs in [0, 16]" in capsys.readouterr().out
    images, _ = load("digits")
    np.save(tmp_path / "batch.npy", images[:20])
    batch = str(tmp_path / "batch.npy")
    assert main(["predict", "--model", str(run_dir / "model.npz"), batch, "--json"]) == 0
    from_npz = json.loads(capsys.readouterr().out)["predictions"]
    assert main(["predict", "--model", str(onnx_path), batch, "--json"]) == 0
    from_onnx = json.loads(capsys.readouterr().out)["predictions"]
    for a, b in zip(from_npz, from_onnx, strict=True):
        assert [t["label"] for t in a["top"]] == [t["label"] for t in b["top"]]
        assert [t["name"] for t in a["top"]] == [t["name"] for t in b["top"]]
        np.testing.assert_allclose(
            [t["probability"] for t in a["top"]], [t["probability"] for t in b["top"]], atol=1e-5
        )


def test_export_errors_are_one_line(run_dir, tmp_path, capsys) -> None:
    model = str(run_dir / "model.npz")
    assert main(["export", "--model", model, "--out", str(tmp_path / "no" / "m.onnx")]) == 1
    assert "directory" in capsys.readouterr().err
    assert main(["export", "--model", model, "--out", str(tmp_path / "m.onnx"), "--opset", "9"])
    err = capsys.readouterr().err
    assert err.startswith("softreg export: error: opset=9 is too old")
    assert err.count("\n") == 1
    assert main(["export", "--model", model, "--out", "x.onnx", "--format", "tflite"]) == 2
    assert list(tmp_path.iterdir()) == []


def test_evaluate_and_inspect_refuse_onnx_files_clearly(run_dir, capsys) -> None:
    out = run_dir / "model-check.onnx"
    assert main(["export", "--model", str(run_dir / "model.npz"), "--out", str(out), "-q"]) == 0
    for command in (["evaluate", "--dataset", "digits"], ["inspect"]):
        assert main([*command, "--model", str(out)]) == 1
        assert "an ONNX export; this command reads softreg model files" in capsys.readouterr().err

"""The ``softreg`` command line, driven in-process through ``main`` and as the installed script."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image

from cli_runs import run
from softreg import SoftmaxRegression, datasets, io
from softreg.cli import main
from softreg.cli._data import DIGITS_TEST_FRACTION, load_split

PLOTS = ("learning_curves.png", "confusion_matrix.png", "weights.png", "predictions.png")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One softmax run on digits, shared by the read-only tests below."""
    out = tmp_path_factory.mktemp("runs") / "digits"
    assert main(["train", "--dataset", "digits", "--out", str(out), "--quiet"]) == 0
    return out


def _digits_features(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    images, labels = load_split("digits", split)
    return images, images.reshape(len(images), -1).astype(np.float32) / np.float32(16), labels


def test_train_writes_a_complete_run_directory(digits_run: Path) -> None:
    for name in ("model.npz", "metrics.json", "history.csv", *PLOTS):
        assert (digits_run / name).is_file(), name
    for name in PLOTS:
        with Image.open(digits_run / name) as image:
            image.load()
            assert image.format == "PNG"
            assert min(image.size) > 200
    assert not (digits_run / "network.png").exists()  # softmax has no layer diagram
    metrics = json.loads((digits_run / "metrics.json").read_text())
    assert metrics["model"] == "SoftmaxRegression"
    assert metrics["command"].startswith("softreg train --dataset digits")
    assert set(metrics["versions"]) >= {"softreg", "numpy", "scipy", "scikit-learn", "python"}
    for split in ("train", "test"):
        record = metrics[split]
        assert record["error_rate"] == pytest.approx(1 - record["accuracy"])
        assert len(record["per_class_accuracy"]) == 10
    n_test = math.ceil(1797 * DIGITS_TEST_FRACTION)  # scikit-learn rounds the test size up
    assert metrics["test"]["n_samples"] == n_test
    assert metrics["test"]["accuracy"] > 0.9
    with open(digits_run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == metrics["n_iter"]
    assert [int(r["iteration"]) for r in rows] == list(range(1, len(rows) + 1))
    assert float(rows[-1]["test_accuracy"]) == pytest.approx(metrics["test"]["accuracy"])


def test_model_matches_the_library_and_reloads_identically(digits_run: Path) -> None:
    _, X_train, y_train = _digits_features("train")
    _, X_test, _ = _digits_features("test")
    reference = SoftmaxRegression().fit(X_train, y_train)
    model = io.load(digits_run / "model.npz")
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(model.predict(X_test), reference.predict(X_test))
    again = io.load(digits_run / "model.npz")
    np.testing.assert_array_equal(again.predict_proba(X_test), model.predict_proba(X_test))
    header = io.read_header(digits_run / "model.npz")
    assert header["metadata"]["preprocessing"]["pixel_max"] == 16
    assert header["metadata"]["training_data"]["n_samples"] == len(y_train)


def test_evaluate_json_agrees_with_metrics(
    digits_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(digits_run / "model.npz")
    status, out, _ = run(capsys, "evaluate", "--model", model, "--dataset", "digits", "--json")
    assert status == 0
    record = json.loads(out)
    metrics = json.loads((digits_run / "metrics.json").read_text())
    assert record["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert record["n_samples"] == metrics["test"]["n_samples"]
    assert np.sum(record["confusion_matrix"]) == record["n_samples"]
    status, out, _ = run(capsys, "evaluate", "--model", model, "--dataset", "digits")
    assert status == 0
    assert f"accuracy    {record['accuracy']:.4f}" in out
    assert "confusion matrix" in out


def test_predict_png_npy_and_idx(
    digits_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, X_test, _ = _digits_features("test")
    model = io.load(digits_run / "model.npz")
    expected = model.predict(X_test[:5])
    np.save(tmp_path / "batch.npy", images[:5])
    datasets.write_idx(tmp_path / "batch-idx3-ubyte", images[:5])
    # PNG pixels are 0..255 and become features png / 255, the same [0, 1] range as pixels / 16.
    png = np.round(images[0] * (255 / 16)).astype(np.uint8)
    Image.fromarray(png).save(tmp_path / "one.png")
    png_label = model.predict(png.reshape(1, -1).astype(np.float32) / np.float32(255))[0]
    status, out, err = run(
        capsys,
        "predict",
        "--model",
        str(digits_run / "model.npz"),
        str(tmp_path / "one.png"),
        str(tmp_path / "batch.npy"),
        str(tmp_path / "batch-idx3-ubyte"),
        "--json",
        "--top",
        "2",
    )
    assert status == 0, err
    predictions = json.loads(out)["predictions"]
    assert len(predictions) == 11
    labels = [p["top"][0]["label"] for p in predictions]
    assert labels == [png_label, *expected, *expected]
    for p in predictions:
        probs = [t["probability"] for t in p["top"]]
        assert len(probs) == 2
        assert probs[0] >= probs[1]
        assert sum(probs) <= 1 + 1e-6
    status, out, _ = run(
        capsys, "predict", "--model", str(digits_run / "model.npz"), str(tmp_path / "batch.npy")
    )
    assert status == 0
    assert out.splitlines()[0].startswith(f"{tmp_path / 'batch.npy'}[0]: {expected[0]} ")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: Image.new("L", (28, 28)).save(p / "x.png"), "expects 8x8.*--fit"),
        (lambda p: Image.new("RGB", (9, 8)).save(p / "x.png"), "9x8 pixels"),
        (lambda p: np.save(p / "x.npy", np.zeros((3, 7, 7))), "not 8x8 images"),
        (lambda p: np.save(p / "x.npy", np.full((8, 8), 40.0)), r"must lie in \[0, 16\]"),
        (lambda p: (p / "x.png").write_bytes(b"not an image"), "not a readable PNG"),
        (lambda p: (p / "x.bin").write_bytes(b"\x00\x00\x08"), "not a PNG/JPEG image"),
        (lambda p: Image.new("I;16", (9, 9)).save(p / "x.png"), "9x9 pixels"),
        (lambda p: (p / "x.png").write_bytes(b""), "empty file"),
    ],
)
def test_predict_refuses_bad_inputs(
    digits_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    make(tmp_path)
    (path,) = tmp_path.iterdir()
    status, out, err = run(capsys, "predict", "--model", str(digits_run / "model.npz"), str(path))
    assert status == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert re.search(message, err), err


def test_inspect(digits_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = str(digits_run / "model.npz")
    status, out, _ = run(capsys, "inspect", "--model", model)
    assert status == 0
    assert "SoftmaxRegression" in out
    assert "8x8 images, pixels / 16 -> 64 features" in out
    assert "coef_: float32 (10, 64)" in out
    status, out, _ = run(capsys, "inspect", "--model", model, "--json")
    header = json.loads(out)
    assert header["estimator"] == "SoftmaxRegression"
    assert header["metadata"]["metrics"]["test_accuracy"] > 0.9


def test_usage_errors_exit_2(
    tmp_path: Path, digits_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            capsys,
        )[0]
        == 2
    )
    assert run(capsys, "train", "--dataset", "cifar", "--out", str(tmp_path / "r"))[0] == 2
    status, _, err = run(capsys, "train", "--dataset", "digits", "--out", str(digits_run))
    assert status == 2
    assert "already exists; pass --overwrite" in err
    status, _, err = run(
        capsys,
        "train",
        "--dataset",
        "digits",
        "--batch-size",
        "8",
        "--out",
        str(tmp_path / "r"),
        "--model",
        "softmax",
        "--param",
        "nope=1",
    )
    assert status == 2
    assert "--param 'nope=1'" in err
    assert run(capsys, "--help")[0] == 0


def test_tampered_model_fails_with_one_line(
    digits_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "model.npz"
    raw = (digits_run / "model.npz").read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])
    for argv in (["inspect"], ["evaluate", "--dataset", "digits"]):
        status, out, err = run(capsys, *argv, "--model", str(bad))
        assert status == 1
        assert out == ""
        assert err.count("\n") == 1
        assert "not a valid softreg model file" in err
    status, _, err = run(capsys, "inspect", "--model", str(bad), "--debug")
    assert status == 1
    assert "Traceback" in err


def test_missing_data_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(
        capsys,
        "train",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        str(tmp_path / "nowhere"),
        "--out",
        str(tmp_path / "r"),
    )
    assert status == 1
    assert "apt-get install dataset-fashion-mnist" in err
    assert "--data-dir" in err
    assert not (tmp_path / "r").exists()


def test_interrupted_training_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fit = SoftmaxRegression.fit

    def interrupted(self: Any, X: Any, y: Any, callback: Any = None, **kwargs: Any) -> Any:
        def ctrl_c_after_first_iteration(model: Any, record: dict[str, Any]) -> None:
            callback(model, record)
            raise KeyboardInterrupt

        return fit(self, X, y, callback=ctrl_c_after_first_iteration, **kwargs)

    monkeypatch.setattr(SoftmaxRegression, "fit", interrupted)
    status, _, err = run(capsys, "train", "--dataset", "digits", "--out", str(tmp_path / "r"))
    assert status == 130
    assert "interrupted" in err
    assert list(tmp_path.iterdir()) == []  # no run directory, no staging folder


def test_overwrite_replaces_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    out.mkdir()
    (out / "stale.txt").write_text("old run")
    status, stdout, _ = run(
        capsys,
        "train",
        "--dataset",
        "digits",
        "--out",
        str(out),
        "--overwrite",
        "--no-plots",
        "--epochs",
        "3",
        "--quiet",
    )
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "history.csv",
        "metrics.json",
        "model.npz",
        "report.html",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    assert "run directory" in stdout


def _synthetic_mnist(folder: Path, n_train: int = 300, n_test: int = 100) -> None:
    """A learnable MNIST-layout folder: class k lights up row block k of a 28x28 image."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(labels):
            images[i, 2 * k + 4 : 2 * k + 6, 4:24] = 250
        datasets.write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        datasets.write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)


def test_mlp_on_a_synthetic_idx_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _synthetic_mnist(data)
    out = tmp_path / "mlp"
    status, _, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        str(data),
        "--model",
        "mlp",
        "--epochs",
        "4",
        "--seed",
        "0",
        "--param",
        "hidden_layer_sizes=[16]",
        "--out",
        str(out),
    )
    assert status == 0, err
    assert "train mlp" in err  # plain progress lines: stderr is not a terminal here
    assert (out / "network.png").is_file()
    model = io.load(out / "model.npz")
    assert type(model).__name__ == "MLPClassifier"
    assert model.hidden_layer_sizes == [16] or tuple(model.hidden_layer_sizes) == (16,)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_iter"] == 4
    status, out_json, _ = run(
        capsys,
        "evaluate",
        "--model",
        str(out / "model.npz"),
        "--dataset",
        "mnist",
        "--data-dir",
        str(data),
        "--json",
        "--quiet",
    )
    assert json.loads(out_json)["accuracy"] == pytest.approx(metrics["test"]["accuracy"])


def _script() -> str:
    found = shutil.which("softreg", path=os.path.dirname(sys.executable))
    if found is None:
        pytest.skip("the softreg console script is not installed next to this Python")
    return found


def test_installed_script(tmp_path: Path) -> None:
    script = _script()
    out = tmp_path / "run"
    done = subprocess.run(
        [script, "train", "--dataset", "digits", "--epochs", "3", "--no-plots", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "train softmax: 1/3" in done.stderr  # plain progress lines when stderr is a pipe
    assert f"run directory: {out}" in done.stdout
    digits_run = out
    done = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith("softreg ")
    done = subprocess.run(
        [
            script,
            "evaluate",
            "--model",
            str(digits_run / "model.npz"),
            "--dataset",
            "digits",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    metrics = json.loads((out / "metrics.json").read_text())
    assert record["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    done = subprocess.run(
        [script, "inspect", "--model", "/nonexistent/model.npz"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == "softreg inspect: error: /nonexistent/model.npz: no such model file\n"


@pytest.mark.realdata
def test_real_fashion_mnist_subset(
    real_fashion_mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fm"
    status, _, err = run(
        capsys,
        "train",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        str(real_fashion_mnist_dir),
        "--max-samples",
        "2000",
        "--no-plots",
        "--solver",
        "lbfgs",
        "--epochs",
        "60",
        "--quiet",
        "--out",
        str(out),
    )
    assert status == 0, err
    status, stdout, _ = run(
        capsys,
        "evaluate",
        "--model",
        str(out / "model.npz"),
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        str(real_fashion_mnist_dir),
        "--json",
    )
    record = json.loads(stdout)
    assert record["n_samples"] == 10_000
    assert record["accuracy"] > 0.75


@pytest.mark.parametrize(
    ("argv", "option", "value"),
    [
        (["predict", "--top", "0", "x.npy"], "--top", "0"),
        (["evaluate", "--dataset", "digits", "--max-samples", "-5"], "--max-samples", "-5"),
        (
            ["train", "--dataset", "digits", "--max-samples", "0", "--out", "r"],
            "--max-samples",
            "0",
        ),
        (["train", "--dataset", "digits", "--epochs", "two", "--out", "r"], "--epochs", "two"),
        (["train", "--dataset", "digits", "--batch-size", "0", "--out", "r"], "--batch-size", "0"),
    ],
)
def test_counts_must_be_positive(
    digits_run: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    option: str,
    value: str,
) -> None:
    # A negative --max-samples used to drop the last images and --top 0 to show one class.
    if argv[0] != "train":
        argv = [*argv, "--model", str(digits_run / "model.npz")]
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert f"argument {option}: expected a positive integer, got '{value}'" in err


def test_resume_from_a_checkpoint_ends_where_an_uninterrupted_run_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--dataset", "digits", "--solver", "adam", "--batch-size", "64", "--seed", "3"]
    common += ["--param", "tol=1e-12", "--no-plots", "--quiet"]
    checkpoint = tmp_path / "ck.npz"
    first = ["train", *common, "--epochs", "3", "--checkpoint", str(checkpoint)]
    assert run(capsys, *first, "--out", str(tmp_path / "a"))[0] == 0
    assert checkpoint.exists()
    resumed = ["train", *common, "--epochs", "6", "--resume", str(checkpoint)]
    assert run(capsys, *resumed, "--out", str(tmp_path / "b"))[0] == 0
    straight = ["train", *common, "--epochs", "6"]
    assert run(capsys, *straight, "--out", str(tmp_path / "c"))[0] == 0
    b, c = io.load(tmp_path / "b" / "model.npz"), io.load(tmp_path / "c" / "model.npz")
    np.testing.assert_array_equal(b.coef_, c.coef_)
    np.testing.assert_array_equal(b.intercept_, c.intercept_)


def test_resume_from_a_foreign_checkpoint_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = tmp_path / "ck.npz"
    args = ["train", "--dataset", "digits", "--solver", "adam", "--epochs", "2", "--quiet"]
    assert (
        run(
            capsys,
            *args,
            "--no-plots",
            "--checkpoint",
            str(checkpoint),
            "--out",
            str(tmp_path / "a"),
        )[0]
        == 0
    )
    status, _, err = run(
        capsys,
        *args,
        "--C",
        "0.5",
        "--no-plots",
        "--resume",
        str(checkpoint),
        "--out",
        str(tmp_path / "b"),
    )
    assert status == 1
    assert len(err.strip().splitlines()) == 1
    assert "checkpoint" in err.lower()
    assert not (tmp_path / "b").exists()


def test_train_calibrate_holds_out_validation_and_reports_before_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from softreg import metrics

    out = tmp_path / "cal"
    status, stdout, _ = run(
        capsys, "train", "--dataset", "digits", "--calibrate", "0.2", "--out", str(out), "-q"
    )
    assert status == 0
    assert (out / "calibration.png").exists()
    record = json.loads((out / "metrics.json").read_text())
    cal = record["calibration"]
    train_images, _ = load_split("digits", "train")
    assert cal["validation_samples"] == math.ceil(0.2 * len(train_images))  # as scikit-learn
    assert cal["validation_nll"]["after"] <= cal["validation_nll"]["before"]
    model = io.load(out / "model.npz")
    assert model.temperature_ == cal["temperature"]
    assert (
        io.read_header(out / "model.npz")["metadata"]["metrics"]["temperature"]
        == (cal["temperature"])
    )
    # The "after" numbers are the saved model's; the "before" ones the same model at T = 1.
    _, X_test, y_test = _digits_features("test")
    after = cal["test"]["after"]
    assert after["ece"] == pytest.approx(
        metrics.expected_calibration_error(y_test, model.predict_proba(X_test)), rel=1e-6
    )
    assert after["nll"] == pytest.approx(record["test"]["log_loss"], rel=1e-6)
    del model.temperature_
    before = cal["test"]["before"]
    assert before["brier"] == pytest.approx(
        metrics.brier_score(y_test, model.predict_proba(X_test)), rel=1e-6
    )
    assert f"test ECE {before['ece']:.4f} -> {after['ece']:.4f}" in stdout
    status, _, stderr = run(
        capsys, "train", "--dataset", "digits", "--calibrate", "1.5", "--out", str(tmp_path / "x")
    )
    assert status == 2
    assert "expected a fraction in (0, 1), got '1.5'" in stderr

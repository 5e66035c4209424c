"""``softreg predict``: several inputs with per-input errors, and ``--fit`` for real photos."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_runs import run
from softreg import io
from test_cli import _digits_features, digits_run  # noqa: F401 (a fixture)


def photo_of_digit(image: np.ndarray, path: Path) -> None:
    """A 'photo' of a digits image: dark ink on white paper, 240x320, RGB JPEG."""
    ink = 255 - np.round(image * (255 / 16)).astype(np.uint8)
    big = np.asarray(Image.fromarray(ink).resize((160, 160), Image.Resampling.BICUBIC))
    paper = np.full((240, 320), 255, np.uint8)
    paper[30:190, 100:260] = big
    Image.fromarray(np.dstack([paper] * 3)).save(path, quality=95)


def test_each_bad_input_gets_its_own_line_and_the_others_are_predicted(
    digits_run,  # noqa: F811
    tmp_path,
    capsys,
):
    images, X_test, _ = _digits_features("test")
    model = io.load(digits_run / "model.npz")
    expected = model.predict(X_test[:2])
    good = np.round(images[0] * (255 / 16)).astype(np.uint8)
    Image.fromarray(good).save(tmp_path / "good.png")
    np.save(tmp_path / "two.npy", images[:2])
    photo_of_digit(images[0], tmp_path / "photo.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("not a picture")
    inputs = ["photo.jpg", "good.png", "empty.png", "two.npy", "notes.jpg", "missing.png"]
    argv = ["predict", "--model", str(digits_run / "model.npz")]
    status, out, err = run(capsys, *argv, *(str(tmp_path / name) for name in inputs))
    assert status == 1
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        str(tmp_path / "good.png"),
        str(tmp_path / "two.npy") + "[0]",
        str(tmp_path / "two.npy") + "[1]",
    ]
    assert lines[1].split(": ")[1].startswith(f"{expected[0]} ")
    assert lines[2].split(": ")[1].startswith(f"{expected[1]} ")
    errors = err.splitlines()
    assert len(errors) == 4
    for line, name, what in zip(
        errors,
        ["photo.jpg", "empty.png", "notes.jpg", "missing.png"],
        ["320x240 pixels.*--fit", "empty file", "not a readable PNG/JPEG", "no such input"],
        strict=True,
    ):
        assert line.startswith(f"softreg predict: error: {tmp_path / name}: ")
        assert re.search(what, line), line


def test_fit_predicts_a_photo_and_json_records_what_was_done(
    digits_run,  # noqa: F811
    tmp_path,
    capsys,
):
    images, X_test, _ = _digits_features("test")
    model = io.load(digits_run / "model.npz")
    agree = 0
    for index in range(20):
        photo_of_digit(images[index], tmp_path / f"p{index}.jpg")
    (tmp_path / "p0").write_bytes((tmp_path / "p0.jpg").read_bytes())  # known by content
    argv = ["predict", "--model", str(digits_run / "model.npz"), "--fit", "--json"]
    status, out, err = run(capsys, *argv, *(str(tmp_path / f"p{i}.jpg") for i in range(20)))
    assert status == 0, err
    record = json.loads(out)
    assert record["errors"] == []
    for index, prediction in enumerate(record["predictions"]):
        fit = prediction["fit"]
        assert fit["source"] == {"format": "JPEG", "mode": "RGB", "size": [320, 240]}
        assert fit["inverted"] is True
        assert max(fit["resized_to"]) == 8
        assert "grayscale" in fit["steps"]
        agree += prediction["top"][0]["label"] == model.predict(X_test[index : index + 1])[0]
    # The photo is trimmed and re-centred, so not pixel-identical to the original: most agree.
    assert agree >= 15, agree
    # Plain output: one line per photo.
    status, out, _ = run(
        capsys,
        "predict",
        "--model",
        str(digits_run / "model.npz"),
        "--fit",
        str(tmp_path / "p0"),
    )
    assert status == 0
    assert out.startswith(f"{tmp_path / 'p0'}: ")
    assert len(out.splitlines()) == 1


def test_fit_json_lists_errors_beside_predictions(digits_run, tmp_path, capsys):  # noqa: F811
    Image.new("L", (30, 30), 255).save(tmp_path / "blank.png")
    frames = [Image.new("L", (30, 30), value) for value in (0, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    photo_of_digit(_digits_features("test")[0][0], tmp_path / "ok.jpg")
    argv = ["predict", "--model", str(digits_run / "model.npz"), "--fit", "--json"]
    names = ("blank.png", "ok.jpg", "anim.gif")
    status, out, err = run(capsys, *argv, *(str(tmp_path / n) for n in names))
    assert status == 1
    record = json.loads(out)
    assert [p["input"] for p in record["predictions"]] == [str(tmp_path / "ok.jpg")]
    assert [e["input"] for e in record["errors"]] == [
        str(tmp_path / "blank.png"),
        str(tmp_path / "anim.gif"),
    ]
    assert "blank image" in record["errors"][0]["error"]
    assert "animated GIF (2 frames)" in record["errors"][1]["error"]
    assert len(err.splitlines()) == 2


@pytest.mark.parametrize("fit", [False, True])
def test_arrays_are_not_fitted(digits_run, tmp_path, capsys, fit):  # noqa: F811
    images, X_test, _ = _digits_features("test")
    np.save(tmp_path / "one.npy", images[0])
    argv = [
        "predict",
        "--model",
        str(digits_run / "model.npz"),
        "--json",
        str(tmp_path / "one.npy"),
    ]
    status, out, _ = run(capsys, *argv, *(["--fit"] if fit else []))
    assert status == 0
    (prediction,) = json.loads(out)["predictions"]
    model = io.load(digits_run / "model.npz")
    assert prediction["top"][0]["label"] == model.predict(X_test[:1])[0]
    assert ("fit" in prediction) is fit

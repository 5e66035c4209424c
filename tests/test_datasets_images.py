"""Photos to model input: fit_image against Fashion-MNIST's own images, formats, bad files."""

from __future__ import annotations

import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageFile

from softreg.datasets import load_fashion_mnist
from softreg.datasets.images import ImageError, fit_image, is_image_file, read_image


def photo_of(item: np.ndarray, scale: int, canvas: tuple[int, int], at: tuple[int, int]):
    """A 'product photo' of a Fashion-MNIST item: dark on white, enlarged, off-centre, RGB."""
    big = np.asarray(
        Image.fromarray(255 - item).resize(
            (item.shape[1] * scale, item.shape[0] * scale), Image.Resampling.BICUBIC
        )
    )
    photo = np.full((*canvas, 3), 255, np.uint8)
    y, x = at
    photo[y : y + big.shape[0], x : x + big.shape[1]] = big[..., None]
    return photo


@pytest.mark.realdata
def test_a_photo_of_a_training_image_comes_back_as_that_image(real_fashion_mnist_dir, tmp_path):
    """The reference: Fashion-MNIST's own images, 'photographed' (inverted, enlarged 12x, moved,
    JPEG-compressed), come back close enough to be recognised among 500 of them."""
    images, labels = load_fashion_mnist("test", real_fashion_mnist_dir, cache=False)
    pool = images[:500].reshape(500, -1).astype(np.float64)
    found, correlations = [], []
    for index in range(30):
        item = images[index]
        path = tmp_path / f"item{index}.jpg"
        Image.fromarray(photo_of(item, 12, (480, 640), (50, 200))).save(path, quality=92)
        fitted, record = fit_image(path)
        assert record["inverted"] is True
        nearest = int(np.abs(pool - fitted.reshape(-1).astype(np.float64)).mean(axis=1).argmin())
        found.append(nearest)
        correlations.append(np.corrcoef(fitted.reshape(-1), item.reshape(-1))[0, 1])
    # Trimming and centring may move an item by a pixel (its original placement rounds the
    # other way), so compare by identity and correlation, not pixel by pixel.
    assert sum(f == i for i, f in enumerate(found)) >= 27, found
    assert all(labels[f] == labels[i] for i, f in enumerate(found)), found
    assert np.median(correlations) > 0.9, correlations


@given(
    height=st.integers(3, 120),
    width=st.integers(3, 120),
    top=st.integers(0, 40),
    left=st.integers(0, 40),
    background=st.integers(0, 255),
    ink=st.integers(0, 255),
)
def test_trim_invert_resize_centre_on_rectangles(height, width, top, left, background, ink):
    if abs(background - ink) < 40:  # not an object: within Fashion-MNIST's 5% tolerance
        ink = (background + 128) % 256
    photo = np.full((top + height + 17, left + width + 23), background, np.uint8)
    photo[top : top + height, left : left + width] = ink
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rect.png"
        Image.fromarray(photo).save(path)
        fitted, record = fit_image(path)
    assert record["trim_box"] == [left, top, left + width, top + height]
    assert record["inverted"] == (ink < background)
    new_w, new_h = record["resized_to"]
    assert max(new_w, new_h) == 28
    assert abs(new_w / new_h - width / height) <= 1 / min(new_w, new_h) * (width / height) + 0.05
    # Centred: the object's box is in the middle of the canvas (to half a pixel).
    x0, y0 = record["offset"]
    assert (x0, y0) == ((28 - new_w) // 2, (28 - new_h) // 2)
    outside = np.ones((28, 28), bool)
    outside[y0 : y0 + new_h, x0 : x0 + new_w] = False
    assert fitted[outside].max(initial=0) == 0  # background is black, object light
    # Inside: the contrast to the background, stretched so that the background level is 0.
    level = 255 - background if ink < background else background
    expected = abs(ink - background) * 255 / (255 - level)
    assert abs(int(fitted[y0 + new_h // 2, x0 + new_w // 2]) - expected) <= 1


def shirt(background=(255, 255, 255), ink=(20, 40, 160)) -> np.ndarray:
    photo = np.zeros((90, 150, 3), np.uint8)
    photo[:] = background
    photo[10:70, 40:100] = ink
    photo[10:30, 20:120] = ink  # sleeves
    return photo


def test_colour_alpha_palette_and_16_bit_give_the_same_image(tmp_path):
    rgb = shirt()
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    reference, record = fit_image(tmp_path / "rgb.png")
    assert record["trim_box"] == [20, 10, 120, 70]
    # Transparent background: composited over white, same result.
    rgba = np.dstack([rgb, np.where((rgb == 255).all(axis=-1), 0, 255).astype(np.uint8)])
    rgba[..., :3][rgba[..., 3] == 0] = (0, 0, 0)  # hidden colour must not matter
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    got, record = fit_image(tmp_path / "rgba.png")
    assert "transparency composited over white" in record["steps"]
    np.testing.assert_array_equal(got, reference)
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    np.testing.assert_allclose(fit_image(tmp_path / "p.png")[0], reference, atol=3)
    # 16-bit grayscale: the 8-bit luma times 257 (65535 / 255).
    luma = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.uint16)
    Image.fromarray(luma * 257).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as g16:
        assert g16.mode.startswith("I")
    got, record = fit_image(tmp_path / "g16.png")
    assert "16-bit pixels scaled to 8 bits" in record["steps"]
    np.testing.assert_allclose(got.astype(int), reference.astype(int), atol=1)


def test_dark_background_is_not_inverted_and_exif_rotation_applies(tmp_path):
    Image.fromarray(shirt((0, 0, 0), (230, 230, 230))).save(tmp_path / "dark.png")
    dark, record = fit_image(tmp_path / "dark.png")
    assert record["inverted"] is False
    white, _ = fit_image(_save(tmp_path / "white.png", shirt((255,) * 3, (25,) * 3)))
    np.testing.assert_allclose(dark.astype(int), white.astype(int), atol=2)
    # A phone photo stored sideways with EXIF orientation 6 (rotate 90 degrees clockwise).
    sideways = Image.fromarray(np.rot90(shirt(), 1).copy())
    exif = sideways.getexif()
    exif[0x0112] = 6
    sideways.save(tmp_path / "side.jpg", exif=exif, quality=95)
    upright, record = fit_image(tmp_path / "side.jpg")
    assert "rotated upright (EXIF orientation)" in record["steps"]
    reference, _ = fit_image(_save(tmp_path / "up.jpg", shirt(), quality=95))
    # JPEG ringing may widen the trimmed box by a pixel: compare the shapes' overlap.
    a, b = upright > 100, reference > 100
    assert (a & b).sum() / (a | b).sum() > 0.9


def _save(path: Path, array: np.ndarray, **kwargs) -> Path:
    Image.fromarray(array).save(path, **kwargs)
    return path


def test_large_photo_is_reduced_first(tmp_path):
    big = np.asarray(Image.fromarray(shirt()).resize((3000, 1800), Image.Resampling.NEAREST))
    fitted, record = fit_image(_save(tmp_path / "big.png", big))
    assert any(step.startswith("reduced 3000x1800 -> 1024x614") for step in record["steps"])
    reference, _ = fit_image(_save(tmp_path / "small.png", shirt()))
    np.testing.assert_allclose(fitted.astype(int), reference.astype(int), atol=12)
    # A large JPEG is decoded at a reduced scale straight away.
    fitted, record = fit_image(_save(tmp_path / "big.jpg", big, quality=95))
    assert "decoded at reduced scale 1500x900 (JPEG)" in record["steps"]
    assert record["source"]["size"] == [3000, 1800]
    a, b = fitted > 100, reference > 100
    assert (a & b).sum() / (a | b).sum() > 0.9


def bomb_png(path: Path, width: int, height: int) -> Path:
    """A valid PNG header claiming width x height, with a tiny (incomplete) IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def test_bad_pictures_each_get_a_clear_error(tmp_path, monkeypatch):
    loads = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self))
    with pytest.raises(ImageError, match=r"bomb\.png: refused before decoding.*400000000 pixels"):
        fit_image(bomb_png(tmp_path / "bomb.png", 20000, 20000))
    with pytest.raises(ImageError, match=r"12000x12000 pixels.*refused before decoding"):
        read_image(bomb_png(tmp_path / "bomb2.png", 12000, 12000), (28, 28))
    assert loads == []  # refused from the header: no pixel was decoded
    monkeypatch.undo()
    frames = [Image.new("L", (30, 30), value) for value in (0, 128, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageError, match=r"anim\.gif: animated GIF \(3 frames\)"):
        fit_image(tmp_path / "anim.gif")
    frames[0].save(tmp_path / "still.gif")
    with pytest.raises(ImageError, match=r"a GIF image; predict reads PNG or JPEG"):
        fit_image(tmp_path / "still.gif")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.png: empty file \(0 bytes\)"):
        fit_image(tmp_path / "empty.png")
    (tmp_path / "text.jpg").write_text("not a picture")
    with pytest.raises(ImageError, match=r"text\.jpg: not a readable PNG/JPEG"):
        fit_image(tmp_path / "text.jpg")
    _save(tmp_path / "cut.png", shirt())
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut\.png: damaged or truncated PNG"):
        fit_image(tmp_path / "cut.png")
    _save(tmp_path / "blank.png", np.full((40, 40), 200, np.uint8))
    with pytest.raises(ImageError, match=r"blank\.png: blank image"):
        fit_image(tmp_path / "blank.png")


def test_read_image_refuses_a_wrong_size_and_names_fit(tmp_path):
    _save(tmp_path / "x.png", np.zeros((10, 12), np.uint8))
    with pytest.raises(ImageError, match=r"x\.png: image is 12x10 pixels.*--fit"):
        read_image(tmp_path / "x.png", (28, 28))
    np.testing.assert_array_equal(read_image(tmp_path / "x.png", (10, 12)), np.zeros((10, 12)))


def test_pictures_are_recognised_by_content(tmp_path):
    _save(tmp_path / "photo.dat", shirt(), format="PNG")
    assert is_image_file(tmp_path / "photo.dat")
    (tmp_path / "data.bin").write_bytes(b"\x00\x00\x08\x01")
    assert not is_image_file(tmp_path / "data.bin")
    assert is_image_file(tmp_path / "missing.JPG")  # by suffix: the reader names the problem

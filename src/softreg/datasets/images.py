"""Photos to model input: read a PNG or JPEG, and fit it the way Fashion-MNIST was made.

Zalando built Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017, section 2) from product photos on a
light background: trim the edges close to the corner colour, shrink the longer side to 28
pixels, centre the result on a 28x28 canvas, negate, convert to 8-bit grayscale. :func:`fit_image`
repeats those steps for any photo, recording each one:

1. orientation from the EXIF tag applied (phone photos are often stored sideways);
2. transparency composited over white, 16-bit pixels scaled to 8 bits;
3. background = median colour of the border pixels; the image is trimmed to the box of pixels
   that differ from it by more than 5% of full scale in some channel (the paper's rule);
4. grayscale (ITU-R 601-2 luma, Pillow's ``convert("L")``);
5. inverted when the object is darker than its background (a light background, as product
   photos have), so the object is light on dark as in the training data, and levelled so that
   the background is 0 (an off-white photo background becomes the pure black of the training
   images);
6. longer side resized to the model's size (Lanczos, antialiased), aspect ratio kept, centred.

:func:`read_image` only reads (no resizing): the picture must already have the model's size.

Pictures are opened lazily: the header's size is checked before any pixel is decoded, so a
decompression bomb (a small file that decodes to gigabytes) is refused cheaply.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FIT_BACKGROUND_TOLERANCE",
    "IMAGE_FORMATS",
    "MAX_PIXELS",
    "ImageError",
    "fit_image",
    "is_image_file",
    "read_image",
]

#: Formats accepted: still PNG and JPEG images.
IMAGE_FORMATS = ("PNG", "JPEG")
#: Largest picture accepted, in pixels (width x height), checked before decoding: 100
#: megapixels holds any phone or camera photo; a 20000x20000 PNG (400 MP) is refused.
MAX_PIXELS = 100_000_000
#: A pixel is background when no channel differs from the background colour by more than this
#: fraction of full scale (Fashion-MNIST's trimming rule).
FIT_BACKGROUND_TOLERANCE = 0.05
# Pictures are first reduced to this longer side: trimming a 50-megapixel photo needs no more
# precision than this for a 28-pixel result, and it bounds the memory used.
_WORK_SIDE = 1024
_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF87a": "GIF", b"GIF89a": "GIF"}
_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif"}


class ImageError(ValueError):
    """A file that cannot be turned into a model image; the message names the file."""


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` should be read as a picture: by its suffix or its first bytes."""
    where = Path(path)
    if where.suffix.lower() in _SUFFIXES:
        return True
    try:
        with open(where, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return any(head.startswith(magic) for magic in _MAGIC)


def _open(path: Path) -> Any:
    """The picture, opened (header only) and checked: format, frames, size. Caller closes it."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:  # pragma: no cover - Pillow comes with the plot extra
        raise ImportError("reading PNG/JPEG needs Pillow: pip install 'softreg[plot]'") from exc
    size = path.stat().st_size
    if size == 0:
        raise ImageError(f"{path}: empty file (0 bytes), not a PNG/JPEG image")
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own limit and raises above twice it; we decide below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: refused before decoding, a decompression bomb ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: not a readable PNG/JPEG image ({exc})") from None
    try:
        width, height = picture.size
        frames = int(getattr(picture, "n_frames", 1))
        if frames > 1:
            raise ImageError(
                f"{path}: animated {picture.format} ({frames} frames); give one frame as a "
                "still PNG or JPEG"
            )
        if picture.format not in IMAGE_FORMATS:
            raise ImageError(f"{path}: a {picture.format} image; predict reads PNG or JPEG")
        if width * height > MAX_PIXELS:
            raise ImageError(
                f"{path}: {width}x{height} pixels, more than {MAX_PIXELS:,} allowed: refused "
                "before decoding (a decompression bomb, or a picture to shrink first)"
            )
    except BaseException:
        picture.close()
        raise
    return picture


def _decode(path: Path, picture: Any, work_side: int | None) -> tuple[Any, list[str]]:
    """Decode ``picture`` to an 8-bit RGB or L image; the steps taken, for the record."""
    from PIL import Image, ImageOps

    steps = []
    size = picture.size
    if work_side is not None and picture.format == "JPEG":
        # Decode at 1/2, 1/4 or 1/8 scale when the longer side stays >= work_side: fast.
        longer = max(size)
        picture.draft("RGB", (size[0] * work_side // longer, size[1] * work_side // longer))
    try:
        picture.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: damaged or truncated {picture.format} image ({exc})") from None
    if picture.size != size:
        steps.append(f"decoded at reduced scale {picture.size[0]}x{picture.size[1]} (JPEG)")
    if work_side is not None and picture.getexif().get(0x0112, 1) not in (1, None):
        picture = ImageOps.exif_transpose(picture)
        steps.append("rotated upright (EXIF orientation)")
    mode = picture.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):  # a 16-bit grayscale PNG
        values = np.asarray(picture, dtype=np.float64)
        steps.append("16-bit pixels scaled to 8 bits")
        return Image.fromarray(np.rint(values * (255.0 / 65535.0)).astype(np.uint8), "L"), steps
    if mode == "F":
        raise ImageError(f"{path}: floating-point pixels; save it as 8-bit or 16-bit")
    has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in picture.info)
    if has_alpha:
        rgba = picture.convert("RGBA")
        if work_side is not None:
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            picture = Image.alpha_composite(white, rgba).convert("RGB")
            steps.append("transparency composited over white")
        else:
            picture = rgba.convert("RGB")  # alpha dropped, as convert("L") always did
    elif mode not in ("L", "RGB"):
        picture = picture.convert("RGB")
        steps.append(f"{mode} converted to RGB")
    return picture, steps


def read_image(path: str | os.PathLike[str], shape: tuple[int, int]) -> np.ndarray:
    """The picture at ``path`` as grayscale pixels 0..255, which must have ``shape`` already.

    Parameters
    ----------
    path : path-like
        A still PNG or JPEG (grayscale, RGB, RGBA or palette; 8 or 16 bits).
    shape : tuple of (int, int)
        ``(height, width)`` the model takes.

    Returns
    -------
    ndarray of shape (height, width), dtype float64
        Luma, 0..255, with no other change (no inversion, no resizing).

    Raises
    ------
    ImageError
        Not a readable still PNG/JPEG, too large, or of another size than ``shape``.
    """
    where = Path(path)
    with _open(where) as picture:
        image, _ = _decode(where, picture, None)
        gray = image.convert("L") if image.mode != "L" else image
        if gray.size != (shape[1], shape[0]):
            raise ImageError(
                f"{where}: image is {gray.size[0]}x{gray.size[1]} pixels ({picture.mode}), the "
                f"model expects {shape[1]}x{shape[0]}; pass --fit to trim, resize and centre "
                "it as Fashion-MNIST's images were made (no silent resizing)"
            )
        return np.asarray(gray, dtype=np.float64)


def _trim_box(rgb: np.ndarray, tolerance: float) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """Box ``(left, top, right, bottom)`` of the pixels that differ from the border's colour."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    background = np.median(border, axis=0)
    differs = (np.abs(rgb - background) > tolerance).any(axis=-1)
    rows, cols = np.flatnonzero(differs.any(axis=1)), np.flatnonzero(differs.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0), background
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1), background


def fit_image(
    path: str | os.PathLike[str], shape: tuple[int, int] = (28, 28)
) -> tuple[np.ndarray, dict[str, Any]]:
    """Read any PNG/JPEG photo and turn it into a model image as Fashion-MNIST's were made.

    Parameters
    ----------
    path : path-like
        A still PNG or JPEG of any size up to :data:`MAX_PIXELS`: grayscale, RGB, RGBA or
        palette, 8 or 16 bits.
    shape : tuple of (int, int), default=(28, 28)
        ``(height, width)`` of the result.

    Returns
    -------
    image : ndarray of shape (height, width), dtype uint8
        The object light on a black background, its longer side filling the canvas.
    record : dict
        What was done: ``source`` (format, mode, size), ``steps`` (list of str),
        ``background`` (RGB of the border), ``trim_box``, ``inverted``, ``resized_to``
        (width, height) and ``offset`` (x, y) on the canvas.

    Raises
    ------
    ImageError
        Not a readable still PNG/JPEG, too large, or blank (nothing differs from the
        background).

    Examples
    --------
    A dark (30) 60x30 bar on a white 200x100 photo becomes a light (225) 28x14 bar on black:

    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> from softreg.datasets.images import fit_image
    >>> photo = np.full((100, 200, 3), 255, np.uint8)
    >>> photo[20:50, 70:130] = 30
    >>> path = tempfile.mkdtemp() + "/bar.png"
    >>> Image.fromarray(photo).save(path)
    >>> image, record = fit_image(path)
    >>> image.shape, record["inverted"], record["trim_box"], record["resized_to"]
    ((28, 28), True, [70, 20, 130, 50], [28, 14])
    >>> int(image[14, 14]), int(image[0, 0])
    (225, 0)
    """
    from PIL import Image

    where = Path(path)
    height, width = shape
    with _open(where) as picture:
        source = {"format": picture.format, "mode": picture.mode, "size": list(picture.size)}
        image, steps = _decode(where, picture, _WORK_SIDE)
    if max(image.size) > _WORK_SIDE:
        before = image.size
        image.thumbnail((_WORK_SIDE, _WORK_SIDE), Image.Resampling.BOX)
        steps.append(f"reduced {before[0]}x{before[1]} -> {image.size[0]}x{image.size[1]}")
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    tolerance = FIT_BACKGROUND_TOLERANCE * 255.0
    box, background = _trim_box(rgb, tolerance)
    if box[2] <= box[0]:
        raise ImageError(
            f"{where}: blank image: no pixel differs from the background colour "
            f"{tuple(int(c) for c in np.rint(background))} by more than "
            f"{FIT_BACKGROUND_TOLERANCE:.0%}"
        )
    steps.append(f"trimmed to the box {list(box)} around what differs from the background")
    gray = np.asarray(image.convert("L").crop(box), dtype=np.float64)
    steps.append("grayscale")
    # The background's luma, by the same formula as convert("L") (ITU-R 601-2). The object is
    # what differs from it; invert when the object is the darker (a light background, as on
    # product photos), so that it ends light on dark as in the training images.
    level = float(np.dot(background, [0.299, 0.587, 0.114]))
    differs = (np.abs(rgb[box[1] : box[3], box[0] : box[2]] - background) > tolerance).any(-1)
    inverted = bool(gray[differs].mean() < level)
    if inverted:
        gray, level = 255.0 - gray, 255.0 - level
        steps.append("inverted (object darker than its background)")
    if level > 0:
        # Background to 0, full scale kept: (v - level) * 255 / (255 - level), clipped.
        gray = np.clip((gray - level) * (255.0 / (255.0 - level)), 0.0, 255.0)
        steps.append(f"background levelled from {level:.0f} to 0")
    crop_w, crop_h = box[2] - box[0], box[3] - box[1]
    scale = min(width / crop_w, height / crop_h)
    new_w = max(1, min(width, round(crop_w * scale)))
    new_h = max(1, min(height, round(crop_h * scale)))
    small = Image.fromarray(np.rint(gray).astype(np.uint8), "L").resize(
        (new_w, new_h), Image.Resampling.LANCZOS
    )
    steps.append(f"resized {crop_w}x{crop_h} -> {new_w}x{new_h} (aspect ratio kept)")
    canvas = np.zeros((height, width), dtype=np.uint8)
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = np.asarray(small)
    steps.append(f"centred on {width}x{height} at ({x0}, {y0})")
    record = {
        "source": source,
        "steps": steps,
        "background": [round(float(c), 1) for c in background],
        "trim_box": list(box),
        "inverted": inverted,
        "resized_to": [new_w, new_h],
        "offset": [x0, y0],
    }
    return canvas, record

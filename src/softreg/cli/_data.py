"""What the CLI feeds a model: dataset splits, the pixel scaling, and images read from files.

The preprocessing is one rule, recorded in every model file the CLI writes so that `predict` on
raw images repeats it exactly: ``features = pixels.reshape(n, -1).astype(float32) / pixel_max``,
where ``pixel_max`` is the dataset's largest pixel value (255 for MNIST-like data, 16 for digits).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from softreg import datasets
from softreg.datasets import images as images_module

__all__ = [
    "DIGITS_TEST_FRACTION",
    "fingerprint",
    "load_split",
    "preprocessing_for",
    "read_inputs",
    "to_features",
]

#: digits ships one set of 1,797 images: the CLI holds out this stratified fraction as "test"
#: (always the same images: the split's seed is fixed, independent of ``--seed``).
DIGITS_TEST_FRACTION = 0.25


class InputError(ValueError):
    """An input file for `predict` that cannot be turned into the model's images."""


def load_split(
    name: str,
    split: str,
    data_dir: str | None = None,
    *,
    progress: bool = True,
    max_samples: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, H, W) uint8 and labels (n,) of one split, optionally only the first samples."""
    if name == "digits":
        if data_dir is not None:
            raise ValueError("--data-dir: the digits dataset is bundled with scikit-learn")
        from sklearn.model_selection import train_test_split

        images, labels = datasets.load("digits")
        train_images, test_images, train_labels, test_labels = train_test_split(
            images, labels, test_size=DIGITS_TEST_FRACTION, stratify=labels, random_state=0
        )
        images, labels = (
            (train_images, train_labels) if split == "train" else (test_images, test_labels)
        )
    else:
        # The library's data-folder policy: a folder the user names may hold any data in MNIST
        # layout (structure checked, no checksum); files softreg finds are checksummed.
        try:
            images, labels = datasets.load(name, split, data_dir, progress=progress)
        except (OSError, datasets.DownloadError) as exc:
            raise _with_hint(exc, name) from exc
    if max_samples is not None:
        images, labels = images[:max_samples], labels[:max_samples]
    return images, labels


def _with_hint(exc: BaseException, name: str) -> Exception:
    """The loader's error, completed with the ways of getting the data when it lacks them."""
    message = " ".join(str(exc).split())
    if "apt-get" not in message:
        package = f"apt-get install dataset-{name}" if name == "fashion-mnist" else None
        ways = [w for w in (package, "--data-dir DIR with the IDX files") if w]
        message += f" (to get {name}: {', or '.join(ways)}, or run without --data-dir to download)"
    return type(exc)(message) if isinstance(exc, FileNotFoundError) else OSError(message)


def preprocessing_for(name: str) -> dict[str, Any]:
    """The JSON record of the pixel scaling used for dataset ``name``."""
    info = datasets.info(name)
    return {
        "pixel_max": int(info.pixel_max),
        "scale": 1.0 / info.pixel_max,
        "image_shape": [int(s) for s in info.image_shape],
        "flatten": "C",
        "dtype": "float32",
    }


def to_features(images: np.ndarray, preprocessing: dict[str, Any]) -> np.ndarray:
    """Flatten (n, H, W) raw pixels to float32 features in [0, 1] as recorded at training."""
    shape = tuple(preprocessing["image_shape"])
    if images.shape[1:] != shape:
        raise ValueError(
            f"images must be {shape[0]}x{shape[1]} as the model was trained on, "
            f"got {images.shape[1]}x{images.shape[2] if images.ndim > 2 else '?'}"
        )
    flat = images.reshape(len(images), -1).astype(np.float32)
    return flat * np.float32(1.0 / preprocessing["pixel_max"])


def fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of the training arrays (dtype, shape and bytes of images, then of labels)."""
    digest = hashlib.sha256()
    for array in (images, labels):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def read_inputs(
    path: str, preprocessing: dict[str, Any], *, fit: bool = False
) -> tuple[np.ndarray, dict[str, Any] | None]:
    """Raw images (n, H, W) as float64 in the training data's pixel units, from one input file.

    Pictures (still PNG/JPEG, recognised by suffix or content: grayscale, RGB, RGBA or palette,
    8 or 16 bits) are converted to grayscale and rescaled from 0..255 to 0..pixel_max. Without
    ``fit`` they must already have the model's size (no silent resizing); with ``fit`` they are
    trimmed, inverted where the background is light, resized and centred as Fashion-MNIST's
    images were made (:func:`softreg.datasets.images.fit_image`), and the record of what was
    done is returned. ``.npy`` files hold raw pixels (0..pixel_max) as one image (H, W), a
    batch (n, H, W) or flattened rows (H*W,) / (n, H*W). Any other file is read as IDX.
    """
    shape = tuple(int(s) for s in preprocessing["image_shape"])
    pixel_max = float(preprocessing["pixel_max"])
    where = Path(path)
    if not where.is_file():
        raise FileNotFoundError(f"{path}: no such input file")
    record = None
    if images_module.is_image_file(where):
        if fit:
            picture, record = images_module.fit_image(where, (shape[0], shape[1]))
        else:
            picture = images_module.read_image(where, (shape[0], shape[1]))
        images = picture[None].astype(np.float64) * (pixel_max / 255.0)
    elif where.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    elif where.suffix.lower() == ".npy":
        try:
            array = np.load(where, allow_pickle=False)
        except ValueError as exc:
            raise InputError(f"{path}: not a readable numeric .npy array ({exc})") from None
        images = _as_images(array, shape, path)
    else:
        try:
            array = datasets.read_idx(where)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(
                f"{path}: not a PNG/JPEG image, a .npy array or an IDX file ({exc})"
            ) from None
        images = _as_images(array, shape, path)
    if images.size == 0:
        raise InputError(f"{path}: holds no images (array of shape {images.shape})")
    finite = np.isfinite(images)
    if not np.all(finite):
        raise InputError(
            f"{path}: {int(images.size - finite.sum())} of {images.size} pixel values are "
            "NaN or infinite; pixels must be numbers in "
            f"[0, {pixel_max:g}] (raw pixels as in the training data)"
        )
    if images.min() < 0 or images.max() > pixel_max:
        raise InputError(
            f"{path}: pixel values must lie in [0, {pixel_max:g}] (raw pixels as in the "
            f"training data), got [{images.min():g}, {images.max():g}]"
        )
    if fit and record is None:
        record = {"steps": ["none: not a picture, read as raw pixels"]}
    return images, record


def _as_images(
    array: np.ndarray, shape: tuple[int, ...], path: str | os.PathLike[str]
) -> np.ndarray:
    if array.dtype.kind not in "biuf":
        raise InputError(f"{path}: pixels must be numbers, got dtype {array.dtype}")
    n_pixels = shape[0] * shape[1]
    if array.shape == shape or array.shape == (n_pixels,):
        array = array.reshape(1, *shape)
    elif array.ndim == 3 and array.shape[1:] == shape:
        pass
    elif array.ndim == 2 and array.shape[1] == n_pixels:
        array = array.reshape(-1, *shape)
    else:
        raise InputError(
            f"{path}: array of shape {array.shape} is not {shape[0]}x{shape[1]} images; expected "
            f"{shape}, (n, {shape[0]}, {shape[1]}), ({n_pixels},) or (n, {n_pixels})"
        )
    return array.astype(np.float64)

"""MNIST and Fashion-MNIST from IDX files: find, download, check, decode once, cache.

The data-folder policy, the same for the library and the CLI:

* files softreg finds itself (``$SOFTREG_DATA``, the user cache, a system package; the search
  order is in :mod:`softreg.datasets.sources`) or downloads are checked against the official
  SHA-256; a folder whose files fail is skipped, and the next place (finally a download from
  the official mirrors, or ``$SOFTREG_MIRROR``) is tried;
* a folder the user names (``data_dir=``, CLI ``--data-dir``) is trusted for its content (it may
  hold any data in MNIST layout) but still checked for structure: magic number, dimensions,
  lengths, matching counts and the label range;
* ``verify=True`` forces the checksum check on a named folder too; ``verify=False`` turns it off
  everywhere (structure checks only).

Files may be gzip-compressed or raw. Every checksum error names the file and the dataset and says
how to go on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from softreg.datasets.cache import cache_root, lookup, npy_allocator, store
from softreg.datasets.checksums import ChecksumError, check, verify_download
from softreg.datasets.decode import decode_idx
from softreg.datasets.download import DownloadError, download, mirrors_from_env
from softreg.datasets.header import IdxHeader
from softreg.datasets.registry import FASHION_MNIST, MNIST, SPLITS, DatasetSpec
from softreg.datasets.sources import (
    DataNotFoundError,
    Location,
    candidates,
    check_data_dir,
    find_sources,
)

__all__ = ["ChecksumError", "load_fashion_mnist", "load_mnist"]

#: Seconds without progress after which a download attempt counts as stalled.
DEFAULT_TIMEOUT = 20.0


def _check_split(split: object) -> str:
    if split not in SPLITS:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    return str(split)


def _validate(images: np.ndarray, labels: np.ndarray, spec: DatasetSpec, sources: dict) -> None:
    info = spec.info
    if images.ndim != 3 or images.shape[1:] != info.image_shape or images.dtype != np.uint8:
        raise ValueError(
            f"{sources['images']}: expected uint8 images of shape (n, "
            f"{info.image_shape[0]}, {info.image_shape[1]}), got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(
            f"{sources['labels']}: expected uint8 labels of shape (n,), "
            f"got {labels.dtype} {labels.shape}"
        )
    if len(images) == 0:
        raise ValueError(f"{sources['images']}: holds no images")
    if len(images) != len(labels):
        raise ValueError(
            f"{sources['images']} holds {len(images)} images but {sources['labels']} holds "
            f"{len(labels)} labels"
        )
    if labels.size and int(labels.max()) >= info.n_classes:
        raise ValueError(
            f"{sources['labels']}: labels out of range: max {int(labels.max())}, expected "
            f"0..{info.n_classes - 1}"
        )


def _memory(header: IdxHeader) -> np.ndarray:
    return np.empty(header.shape, dtype=header.dtype)


def _decode(
    spec: DatasetSpec, split: str, sources: dict[str, Path], verify: bool, cache: bool
) -> tuple[np.ndarray, np.ndarray]:
    folder = cache_root() / spec.info.name
    if cache:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            cache = False  # read-only home: decode into memory every time
    split_spec = spec.splits[split]
    files = {"images": split_spec.images, "labels": split_spec.labels}
    if cache:
        hit = lookup(folder, split, sources, verified=verify)
        if hit is not None:
            return hit["images"], hit["labels"]
    allocator = npy_allocator(folder) if cache else contextlib.nullcontext(_memory)
    with allocator as allocate:
        decoded = {part: decode_idx(path, allocate) for part, path in sources.items()}
        if verify:
            errors = []
            for part, item in decoded.items():
                try:
                    check(item, files[part], spec.info.name)
                except ChecksumError as exc:
                    errors.append(exc)
            if errors:
                raise ChecksumError(
                    "\n".join(str(e) for e in errors), [p for e in errors for p in e.paths]
                )
        _validate(decoded["images"].array, decoded["labels"].array, spec, sources)
        if cache:
            arrays = store(folder, split, decoded, verified=verify)
        else:
            arrays = {part: item.array for part, item in decoded.items()}
    return arrays["images"], arrays["labels"]


def _spec(name: str) -> DatasetSpec:
    # Looked up at call time (not bound at import), so tests can swap in a synthetic spec.
    return {"mnist": MNIST, "fashion-mnist": FASHION_MNIST}[name]


def locate(
    name: str,
    split: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download_missing: bool = True,
    progress: bool = True,
    mirrors: Sequence[str] | None = None,
    verify: bool | None = None,
    cache: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[np.ndarray, np.ndarray, Location]:
    """Images, labels and :class:`Location` of one split, following the data-folder policy.

    Raises DataNotFoundError when nothing is found and ``download_missing`` is False.
    """
    spec = _spec(name)
    split = _check_split(split)
    split_spec = spec.splits[split]
    if data_dir is not None:
        folder = check_data_dir(data_dir, split_spec)
        sources = find_sources(folder, split_spec)
        checked = verify is True
        images, labels = _decode(spec, split, sources, checked, cache)
        return images, labels, _location(spec, split, folder, "data_dir", checked, sources)
    checked = verify is not False
    bad: list[Path] = []
    rejected: list[str] = []
    for folder, origin in candidates(spec):
        try:
            sources = find_sources(folder, split_spec)
        except (FileNotFoundError, PermissionError):
            continue  # not here: try the next place
        try:
            images, labels = _decode(spec, split, sources, checked, cache)
        except (ValueError, OSError) as exc:
            # Another dataset's files, damaged or truncated ones: look further, and download
            # over them when they are the cache's own.
            bad.extend(exc.paths if isinstance(exc, ChecksumError) else sources.values())
            rejected.append(" ".join(str(exc).split()))
            continue
        return images, labels, _location(spec, split, folder, origin, checked, sources)
    skipped = f" (skipped: {'; '.join(rejected)})" if rejected else ""
    if not download_missing:
        places = ", ".join(str(folder) for folder, _ in candidates(spec))
        raise DataNotFoundError(f"{name} {split} is in none of {places}{skipped}")
    target = cache_root() / spec.info.name
    target.mkdir(parents=True, exist_ok=True)
    bases = tuple(mirrors) if mirrors is not None else mirrors_from_env(spec.mirrors)
    for file_spec in (split_spec.labels, split_spec.images):
        dest = target / file_spec.filename
        verify_part = verify_download(file_spec, spec.info.name, checked)
        if dest.exists() and dest not in bad:
            try:
                verify_part(dest)  # e.g. the other file of the split was missing: keep this one
                continue
            except ValueError:
                pass  # truncated or damaged: download it again
        urls = [base.rstrip("/") + "/" + file_spec.filename for base in bases]
        try:
            download(urls, dest, verify=verify_part, progress=progress, timeout=timeout)
        except DownloadError as exc:
            raise DownloadError(f"{exc}{skipped}") from None
    sources = find_sources(target, split_spec)
    images, labels = _decode(spec, split, sources, checked, cache)
    return images, labels, _location(spec, split, target, "download", checked, sources)


def _location(
    spec: DatasetSpec,
    split: str,
    folder: Path,
    origin: str,
    checked: bool,
    sources: dict[str, Path],
) -> Location:
    files = (sources["labels"], sources["images"])
    return Location(spec.info.name, split, folder, origin, checked, files)


def load_mnist(
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    mirrors: Sequence[str] | None = None,
    verify: bool | None = None,
    cache: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST (LeCun, Cortes and Burges' handwritten digits).

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        60,000 training or 10,000 test images.
    data_dir : path-like, optional
        Your folder holding the standard file names (``train-images-idx3-ubyte.gz`` etc.,
        gzip or raw): any data in MNIST layout, checked for structure only (unless
        ``verify=True``). Default: search ``$SOFTREG_DATA``, the user cache and system
        packages, then download, checking every file against the official SHA-256.
    progress : bool, default=True
        Show download progress on stderr.
    mirrors : sequence of str, optional
        Base URLs to download from (default ``$SOFTREG_MIRROR`` or the official mirrors).
    verify : bool, optional
        None (default): the data-folder policy of the module docstring, checksums for the
        files softreg finds or downloads, none for ``data_dir``. True: checksums for
        ``data_dir`` too. False: no checksums anywhere (structure only). MNIST is checked by
        the official ``.gz`` archives' SHA-256; a raw, decompressed MNIST file cannot be and
        is checked for structure only.
    cache : bool, default=True
        Keep a decoded, memory-mapped ``.npy`` copy in the user cache so that later loads
        take milliseconds.
    timeout : float, default=20.0
        Seconds a download may go without progress (no byte, or under 16 KiB) before the
        attempt counts as stalled and the next attempt or mirror is tried.

    Returns
    -------
    images : ndarray of shape (n_samples, 28, 28), dtype uint8
        Pixel values 0..255 (memory-mapped copy-on-write when cached).
    labels : ndarray of shape (n_samples,), dtype uint8
        Digits 0..9.

    Raises
    ------
    FileNotFoundError
        ``data_dir`` does not exist, is a file, is empty or lacks one of the split's files.
    PermissionError
        ``data_dir`` cannot be read.
    ValueError
        A file is corrupt, truncated or inconsistent (the message names the file).
    softreg.datasets.ChecksumError
        With ``verify=True``, a file of ``data_dir`` is not the official one; the message
        names the file and the dataset and says how to go on.
    softreg.datasets.DownloadError
        No file found locally and every mirror failed.

    Examples
    --------
    Any folder with the standard names works, e.g. your own data in MNIST format:

    >>> import tempfile, numpy as np
    >>> from softreg.datasets import load_mnist, write_idx
    >>> folder = tempfile.mkdtemp()
    >>> write_idx(folder + "/t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    >>> write_idx(folder + "/t10k-labels-idx1-ubyte", np.array([7, 2, 1], np.uint8))
    >>> images, labels = load_mnist("test", folder, cache=False)
    >>> images.shape, labels
    ((3, 28, 28), array([7, 2, 1], dtype=uint8))
    """
    images, labels, _ = locate(
        "mnist",
        split,
        data_dir,
        progress=progress,
        mirrors=mirrors,
        verify=verify,
        cache=cache,
        timeout=timeout,
    )
    return images, labels


def load_fashion_mnist(
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    mirrors: Sequence[str] | None = None,
    verify: bool | None = None,
    cache: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST (Zalando's article images; class names in ``FASHION_MNIST_CLASSES``).

    Same parameters, data-folder policy, caching and errors as :func:`load_mnist`; the
    SHA-256 of the decompressed content is checked, so gzip, raw and repackaged (Debian's
    ``dataset-fashion-mnist``) files all verify.

    Returns
    -------
    images : ndarray of shape (n_samples, 28, 28), dtype uint8
        60,000 training or 10,000 test images, pixel values 0..255.
    labels : ndarray of shape (n_samples,), dtype uint8
        Classes 0..9, 6,000 (train) or 1,000 (test) of each.

    Examples
    --------
    >>> from softreg.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist
    >>> images, labels = load_fashion_mnist("test")  # doctest: +SKIP
    >>> images.shape, FASHION_MNIST_CLASSES[labels[0]]  # doctest: +SKIP
    ((10000, 28, 28), 'Ankle boot')
    """
    images, labels, _ = locate(
        "fashion-mnist",
        split,
        data_dir,
        progress=progress,
        mirrors=mirrors,
        verify=verify,
        cache=cache,
        timeout=timeout,
    )
    return images, labels

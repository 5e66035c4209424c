"""MNIST and Fashion-MNIST from IDX files: find, download, verify, decode once, cache.

Search order when no ``data_dir`` is given: ``$SOFTREG_DATA/<name>``, ``$SOFTREG_DATA``,
the user cache ``~/.cache/softreg/<name>`` (``$XDG_CACHE_HOME`` respected), the Debian
package's folder (``/usr/share/datasets/fashion-mnist``), and finally a download into the
user cache from the official mirrors (``$SOFTREG_MIRROR`` or ``mirrors=`` override them).
A folder whose files fail their checksum is skipped in this search (an explicit
``data_dir`` raises instead). Files may be gzip-compressed or raw.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from softreg.datasets.cache import cache_root, lookup, npy_allocator, store
from softreg.datasets.decode import DecodedFile, decode_idx
from softreg.datasets.download import download, mirrors_from_env
from softreg.datasets.header import IdxHeader
from softreg.datasets.registry import (
    FASHION_MNIST,
    MNIST,
    SPLITS,
    DatasetSpec,
    FileSpec,
    SplitSpec,
)

__all__ = ["ChecksumError", "load_fashion_mnist", "load_mnist"]


class ChecksumError(ValueError):
    """A file's SHA-256 differs from the known value of the official file."""

    def __init__(self, message: str, paths: Sequence[Path]):
        super().__init__(message)
        self.paths = list(paths)  # the files that failed


def _check_split(split: object) -> str:
    if split not in SPLITS:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    return str(split)


def _find(folder: Path, spec: FileSpec) -> Path | None:
    for name in (spec.filename, spec.filename.removesuffix(".gz")):
        if (folder / name).is_file():
            return folder / name
    return None


def _sources(folder: Path, split: SplitSpec) -> dict[str, Path]:
    """The split's label and image files in ``folder``; FileNotFoundError names missing ones."""
    found = {"labels": _find(folder, split.labels), "images": _find(folder, split.images)}
    sources = {part: path for part, path in found.items() if path is not None}
    if len(sources) < len(found):
        missing = [
            spec.filename for spec in (split.labels, split.images) if not _find(folder, spec)
        ]
        raise FileNotFoundError(f"data_dir: {folder} lacks {' and '.join(missing)} (gzip or raw)")
    return sources


def _candidates(spec: DatasetSpec) -> list[Path]:
    folders = []
    if env := os.environ.get("SOFTREG_DATA"):
        folders += [Path(env) / spec.info.name, Path(env)]
    folders.append(cache_root() / spec.info.name)
    folders += [Path(d) for d in spec.system_dirs]
    return folders


def _mismatch(
    path: Path, what: str, actual: str, expected: str, spec: FileSpec, dataset: str
) -> ChecksumError:
    return ChecksumError(
        f"{path}: checksum mismatch: SHA-256 of the {what} is {actual}, expected {expected} "
        f"for {dataset}'s {spec.filename} (a damaged file, or another dataset's?)",
        [path],
    )


def _check(decoded: DecodedFile, spec: FileSpec, dataset: str) -> None:
    """Raise ChecksumError unless ``decoded`` is the official file (or a known repackaging)."""
    if decoded.gzip and decoded.file_sha256 in spec.archive_sha256:
        return  # fast path: a known .gz, hashed while it was read
    if spec.content_sha256 is not None:
        actual = decoded.content_sha256()
        if actual != spec.content_sha256:
            raise _mismatch(
                decoded.source, "decompressed content", actual, spec.content_sha256, spec, dataset
            )
    elif spec.archive_sha256 and decoded.gzip:
        raise _mismatch(
            decoded.source,
            "gzip file",
            str(decoded.file_sha256),
            " or ".join(spec.archive_sha256),
            spec,
            dataset,
        )
    # else: a raw file whose content checksum is unknown (MNIST): structural checks only


def _verify_download(spec: FileSpec, dataset: str) -> Callable[[Path], None]:
    def verify(part: Path) -> None:
        _check(decode_idx(part, _memory), spec, dataset)

    return verify


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
                    _check(item, files[part], spec.info.name)
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


def _load(
    spec: DatasetSpec,
    split: str,
    data_dir: str | os.PathLike[str] | None,
    progress: bool,
    mirrors: Sequence[str] | None,
    verify: bool,
    cache: bool,
) -> tuple[np.ndarray, np.ndarray]:
    split = _check_split(split)
    split_spec = spec.splits[split]
    if data_dir is not None:
        folder = Path(data_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"data_dir: {folder} is not a directory")
        return _decode(spec, split, _sources(folder, split_spec), verify, cache)
    bad: list[Path] = []
    for folder in _candidates(spec):
        try:
            sources = _sources(folder, split_spec)
        except FileNotFoundError:
            continue  # not here: try the next place
        try:
            return _decode(spec, split, sources, verify, cache)
        except ChecksumError as exc:
            bad.extend(exc.paths)  # another dataset's files, or damaged: look further
    target = cache_root() / spec.info.name
    target.mkdir(parents=True, exist_ok=True)
    bases = tuple(mirrors) if mirrors is not None else mirrors_from_env(spec.mirrors)
    for file_spec in (split_spec.labels, split_spec.images):
        dest = target / file_spec.filename
        if dest.exists() and dest not in bad:
            continue
        urls = [base.rstrip("/") + "/" + file_spec.filename for base in bases]
        verify_part = _verify_download(file_spec, spec.info.name) if verify else None
        download(urls, dest, verify=verify_part, progress=progress)
    return _decode(spec, split, _sources(target, split_spec), verify, cache)


def load_mnist(
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    mirrors: Sequence[str] | None = None,
    verify: bool = True,
    cache: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST (LeCun, Cortes and Burges' handwritten digits).

    Parameters
    ----------
    split : {"train", "test"}, default="train"
        60,000 training or 10,000 test images.
    data_dir : path-like, optional
        A folder holding the standard file names (``train-images-idx3-ubyte.gz`` etc., gzip
        or raw). Default: search as described in the module docstring, then download.
    progress : bool, default=True
        Show download progress on stderr.
    mirrors : sequence of str, optional
        Base URLs to download from (default ``$SOFTREG_MIRROR`` or the official mirrors).
    verify : bool, default=True
        Check the SHA-256 of the official files (archive checksums for MNIST; a raw,
        decompressed file cannot be checked and is only validated structurally). Set False
        for your own data in MNIST format.
    cache : bool, default=True
        Keep a decoded, memory-mapped ``.npy`` copy in the user cache so that later loads
        take milliseconds.

    Returns
    -------
    images : ndarray of shape (n_samples, 28, 28), dtype uint8
        Pixel values 0..255 (memory-mapped copy-on-write when cached).
    labels : ndarray of shape (n_samples,), dtype uint8
        Digits 0..9.

    Raises
    ------
    FileNotFoundError
        ``data_dir`` lacks one of the split's files.
    ValueError
        A file is corrupt, truncated or inconsistent, or fails its checksum (the message
        names the file).
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
    >>> images, labels = load_mnist("test", folder, verify=False, cache=False)
    >>> images.shape, labels
    ((3, 28, 28), array([7, 2, 1], dtype=uint8))
    """
    return _load(MNIST, split, data_dir, progress, mirrors, verify, cache)


def load_fashion_mnist(
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    mirrors: Sequence[str] | None = None,
    verify: bool = True,
    cache: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST (Zalando's article images; class names in ``FASHION_MNIST_CLASSES``).

    Same parameters, search order, caching and errors as :func:`load_mnist`; the SHA-256 of
    the decompressed content is checked, so gzip, raw and repackaged files all verify.

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
    return _load(FASHION_MNIST, split, data_dir, progress, mirrors, verify, cache)

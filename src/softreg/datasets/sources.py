"""Where the IDX files of a dataset are: the folders searched, the files found, the result.

Search order when no ``data_dir`` is named: ``$SOFTREG_DATA/<name>``, ``$SOFTREG_DATA``, the
user cache ``~/.cache/softreg/<name>`` (``$XDG_CACHE_HOME`` respected), then the folders of
system packages (Debian's ``dataset-fashion-mnist`` installs ``/usr/share/datasets/fashion-mnist``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from softreg.datasets.cache import cache_root
from softreg.datasets.registry import DatasetSpec, FileSpec, SplitSpec

__all__ = ["DataNotFoundError", "Location", "candidates", "check_data_dir", "find_sources"]

#: ``Location.origin`` values.
ORIGINS = ("data_dir", "$SOFTREG_DATA", "cache", "system package", "download")


class DataNotFoundError(FileNotFoundError):
    """The dataset is on none of the searched folders (and no download was allowed)."""


@dataclass(frozen=True)
class Location:
    """Where one split of a dataset was found and how far it was checked.

    Attributes
    ----------
    dataset : str
        ``"mnist"`` or ``"fashion-mnist"``.
    split : str
        ``"train"`` or ``"test"``.
    folder : Path
        The folder holding the files.
    origin : str
        How softreg came to it: ``"data_dir"`` (named by the user), ``"$SOFTREG_DATA"``,
        ``"cache"`` (an earlier download), ``"system package"`` or ``"download"`` (just now).
    checked : bool
        True when the files were checked against the official SHA-256; False when only their
        structure was (a user-named folder, or ``verify=False``).
    files : tuple of Path
        The label and image files.
    """

    dataset: str
    split: str
    folder: Path
    origin: str
    checked: bool
    files: tuple[Path, ...]

    @property
    def nbytes(self) -> int:
        """Size of the files on disk, in bytes."""
        return sum(path.stat().st_size for path in self.files)


def candidates(spec: DatasetSpec) -> list[tuple[Path, str]]:
    """The folders searched for ``spec``'s files, in order, each with its origin."""
    folders = []
    if env := os.environ.get("SOFTREG_DATA"):
        folders += [(Path(env) / spec.info.name, "$SOFTREG_DATA"), (Path(env), "$SOFTREG_DATA")]
    folders.append((cache_root() / spec.info.name, "cache"))
    folders += [(Path(d), "system package") for d in spec.system_dirs]
    return folders


def _find(folder: Path, spec: FileSpec) -> Path | None:
    for name in (spec.filename, spec.filename.removesuffix(".gz")):
        if (folder / name).is_file():
            return folder / name
    return None


def find_sources(folder: Path, split: SplitSpec) -> dict[str, Path]:
    """The split's label and image files in ``folder``; FileNotFoundError names missing ones."""
    found = {"labels": _find(folder, split.labels), "images": _find(folder, split.images)}
    sources = {part: path for part, path in found.items() if path is not None}
    if len(sources) < len(found):
        missing = [
            spec.filename for spec in (split.labels, split.images) if not _find(folder, spec)
        ]
        raise FileNotFoundError(f"data_dir: {folder} lacks {' and '.join(missing)} (gzip or raw)")
    return sources


def check_data_dir(data_dir: str | os.PathLike[str], split: SplitSpec) -> Path:
    """``data_dir`` as a Path after checking that it is a readable, non-empty folder.

    Raises
    ------
    FileNotFoundError
        It does not exist, is a file, or is empty.
    PermissionError
        It cannot be listed.
    """
    folder = Path(data_dir)
    expected = f"a folder with {split.images.filename} and {split.labels.filename}"
    if not folder.exists():
        raise FileNotFoundError(f"data_dir: {folder} does not exist; expected {expected}")
    if not folder.is_dir():
        raise FileNotFoundError(f"data_dir: {folder} is a file, not a folder; expected {expected}")
    try:
        with os.scandir(folder) as entries:
            empty = next(entries, None) is None
    except PermissionError:
        raise PermissionError(
            f"data_dir: {folder} cannot be read (permission denied); expected {expected}"
        ) from None
    if empty:
        raise FileNotFoundError(f"data_dir: {folder} is empty; expected {expected}")
    return folder

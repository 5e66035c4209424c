"""``fetch(name)``: make sure a dataset is on this machine, checked, and say where it is."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from softreg.datasets.mnist import DEFAULT_TIMEOUT, locate
from softreg.datasets.registry import SPLITS, _canonical
from softreg.datasets.sources import Location

__all__ = ["fetch"]


def _digits_location() -> Location:
    from importlib.resources import files

    path = Path(str(files("sklearn.datasets") / "data" / "digits.csv.gz"))
    return Location("digits", "train", path.parent, "scikit-learn", False, (path,))


def fetch(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    progress: bool = True,
    mirrors: Sequence[str] | None = None,
    verify: bool | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Location]:
    """Find (or download) both splits of ``name``, check them, and say where they are.

    The same search, data-folder policy and checks as :func:`load_mnist`; the splits are
    decoded into the cache as a load would, so the next load takes milliseconds.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "digits"}
        Dataset. "digits" is bundled with scikit-learn: never downloaded or checked.
    data_dir : path-like, optional
        Your folder in MNIST layout (checked for structure only, unless ``verify=True``).
    download : bool, default=True
        Download what is not found. With False, :class:`DataNotFoundError` instead.
    progress : bool, default=True
        Download progress on stderr.
    mirrors : sequence of str, optional
        Base URLs to download from (default ``$SOFTREG_MIRROR`` or the official mirrors).
    verify : bool, optional
        As in :func:`load_mnist`.
    timeout : float, default=20.0
        Seconds without progress after which a download attempt counts as stalled.

    Returns
    -------
    list of Location
        One per split ("train", "test"; "digits": one), with the folder, how softreg came to
        it (``origin``), whether the official SHA-256 was checked and the size on disk.

    Raises
    ------
    DataNotFoundError
        ``download=False`` and a split is in none of the searched folders.
    softreg.datasets.DownloadError
        A split is not on this machine and every mirror failed.

    Examples
    --------
    >>> from softreg.datasets import fetch
    >>> [(place.dataset, place.origin, place.checked) for place in fetch("digits")]
    [('digits', 'scikit-learn', False)]
    """
    key = _canonical(name)
    if key == "digits":
        return [_digits_location()]
    places = []
    for split in SPLITS:
        _, _, place = locate(
            key,
            split,
            data_dir,
            download_missing=download,
            progress=progress,
            mirrors=mirrors,
            verify=verify,
            timeout=timeout,
        )
        places.append(place)
    return places

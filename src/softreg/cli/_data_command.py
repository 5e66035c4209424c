"""``softreg data fetch NAME`` and ``softreg data list``: where the datasets are, and getting them.

``fetch`` says in one line what it does: found on this machine (where, checked or not, size),
or downloading, then downloaded. When the data is nowhere and no download works it exits with
status 3 (not 1), after one line naming the failure and, unless ``--brief``, the three ways to
get the data; ``make run`` uses the status to fall back to Debian's package when it can.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from softreg import datasets
from softreg.datasets.cache import cache_root
from softreg.datasets.download import mirrors_from_env
from softreg.datasets.registry import DATASETS

__all__ = ["NOT_AVAILABLE", "add_data_parser", "run_data"]

#: Exit status of ``data fetch`` when the data is nowhere on this machine and no download worked.
NOT_AVAILABLE = 3
NAMES = ("fashion-mnist", "mnist", "digits")
_ORIGINS = {
    "data_dir": "your folder",
    "$SOFTREG_DATA": "$SOFTREG_DATA",
    "cache": "the download cache",
    "system package": "a system package",
    "download": "downloaded just now",
    "scikit-learn": "bundled with scikit-learn",
}


def add_data_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``data`` with its ``fetch`` and ``list`` sub-commands to ``sub``."""
    data = sub.add_parser(
        "data",
        help="get a dataset, or list where each one is",
        description="Get a dataset onto this machine (found, else downloaded) or list where "
        "each one is. Files softreg finds or downloads are checked against the official SHA-256; "
        "a folder you name with --data-dir is checked for structure only, unless --verify.",
    )
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = actions.add_parser(
        "fetch",
        parents=[common],
        help="find or download a dataset and check it",
        description="Find NAME on this machine ($SOFTREG_DATA, the download cache, Debian's "
        "package folder) or download it, check it, and decode it into the cache. Exit status 3 "
        "when it is nowhere and no download works.",
    )
    fetch.add_argument("name", choices=NAMES, metavar="NAME", help=", ".join(NAMES))
    fetch.add_argument("--data-dir", metavar="DIR", help="your folder in MNIST file layout")
    fetch.add_argument(
        "--verify",
        action="store_true",
        help="check --data-dir's files against the official SHA-256",
    )
    fetch.add_argument("--offline", action="store_true", help="never download")
    fetch.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        metavar="S",
        help="seconds without progress before a download attempt counts as stalled (default 20)",
    )
    fetch.add_argument(
        "--brief", action="store_true", help="on failure, one line without the ways to get the data"
    )
    listing = actions.add_parser(
        "list",
        parents=[common],
        help="where each dataset is, whether it was checked, its size",
        description="For each dataset and split: where it was found, whether it was checked "
        "against the official SHA-256, and its size on disk. Downloads nothing.",
    )
    listing.add_argument("--json", action="store_true", help="print one JSON object")


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB"


def _describe(place: datasets.Location) -> str:
    checked = "official SHA-256 checked" if place.checked else "structure checked, no checksum"
    if place.origin == "scikit-learn":
        checked = "1797 images, no checksum"
    return f"{place.folder} ({_ORIGINS.get(place.origin, place.origin)}), {checked}"


def ways(name: str) -> str:
    """The three ways to get ``name`` onto this machine, as a short paragraph."""
    mirrors = " ".join(DATASETS[name].mirrors)
    lines = [
        f"Three ways to get {name}:",
        f"  1. internet access to {mirrors} (or a mirror in $SOFTREG_MIRROR), then "
        f"`softreg data fetch {name}`",
    ]
    if name == "fashion-mnist":
        lines.append("  2. as root: apt-get install dataset-fashion-mnist (`make run` does it)")
    else:
        lines.append(f"  2. copy the four IDX files into ~/.cache/softreg/{name}")
    lines.append(
        "  3. a folder of your own with the four IDX files: SOFTREG_DATA=DIR, or --data-dir DIR"
    )
    return "\n".join(lines)


def _fetch(args: argparse.Namespace) -> int:
    name = args.name
    if args.data_dir is not None:  # your folder: errors are about it, never a download
        verify = True if args.verify else None
        places = datasets.fetch(name, args.data_dir, download=False, verify=verify)
        return _report(name, places)
    try:
        places = datasets.fetch(name, download=False, progress=False)
    except datasets.DataNotFoundError as exc:
        if args.offline:
            return _not_available(name, exc, args.brief)
        into = cache_root() / name
        mirrors = " ".join(mirrors_from_env(DATASETS[name].mirrors))
        print(f"{name}: not on this machine; downloading from {mirrors} into {into}", flush=True)
        try:
            places = datasets.fetch(name, progress=not args.quiet, timeout=args.timeout)
        except datasets.DownloadError as exc:
            return _not_available(name, exc, args.brief)
    return _report(name, places)


def _report(name: str, places: list[datasets.Location]) -> int:
    folders = {place.folder for place in places}
    total = sum(place.nbytes for place in places)
    if len(folders) == 1:
        print(f"{name}: {_describe(places[0])}, {_size(total)}")
    else:
        for place in places:
            print(f"{name} {place.split}: {_describe(place)}, {_size(place.nbytes)}")
    return 0


def _not_available(name: str, exc: BaseException, brief: bool) -> int:
    reason = " ".join(str(exc).split())
    print(
        f"softreg data: {name} is not on this machine and could not be fetched: {reason}",
        file=sys.stderr,
    )
    if not brief:
        print(ways(name), file=sys.stderr)
    return NOT_AVAILABLE


def _list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for name in NAMES:
        try:
            places = datasets.fetch(name, download=False, progress=False)
        except (datasets.DataNotFoundError, datasets.DownloadError, ValueError) as exc:
            rows.append(
                {
                    "dataset": name,
                    "split": None,
                    "found": False,
                    "reason": " ".join(str(exc).split()),
                }
            )
            continue
        for place in places:
            rows.append(
                {
                    "dataset": name,
                    "split": place.split if name != "digits" else "all",
                    "found": True,
                    "folder": str(place.folder),
                    "origin": place.origin,
                    "checked": place.checked,
                    "bytes": place.nbytes,
                }
            )
    if args.json:
        print(json.dumps({"datasets": rows}))
        return 0
    for row in rows:
        if not row["found"]:
            # Files that were found but failed their check are named: they are why.
            skipped = row["reason"].partition(" (skipped: ")[2].rstrip(")")
            why = f"; skipped: {skipped}" if skipped else ""
            print(
                f"{row['dataset']:<14} -      not found (softreg data fetch {row['dataset']}){why}"
            )
            continue
        checked = "sha256-checked" if row["checked"] else "not-checksummed"
        print(
            f"{row['dataset']:<14} {row['split']:<6} {_size(row['bytes']):>8}  {checked:<15}  "
            f"{row['folder']} ({_ORIGINS.get(row['origin'], row['origin'])})"
        )
    return 0


def run_data(args: argparse.Namespace) -> int:
    """``softreg data fetch`` or ``softreg data list``."""
    if args.data_command == "fetch":
        return _fetch(args)
    return _list(args)

"""Whether an IDX file is the official one: SHA-256 checks and the errors they raise.

The data-folder policy (see :mod:`softreg.datasets.mnist`) decides *when* a file is checked;
this module only says *how*: a known ``.gz`` is recognised by the hash of its bytes (computed
while it is decoded), anything else by the hash of its decompressed content.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from softreg.datasets.decode import DecodedFile, decode_idx
from softreg.datasets.header import IdxHeader
from softreg.datasets.registry import FileSpec

__all__ = ["ChecksumError", "check", "verify_download"]


class ChecksumError(ValueError):
    """A file's SHA-256 differs from the known value of the official file.

    Attributes
    ----------
    paths : list of Path
        The files that failed.
    """

    def __init__(self, message: str, paths: Sequence[Path]):
        super().__init__(message)
        self.paths = list(paths)


def _mismatch(
    path: Path, what: str, actual: str, expected: str, spec: FileSpec, dataset: str
) -> ChecksumError:
    return ChecksumError(
        f"{path}: checksum mismatch: the SHA-256 of its {what} is {actual}, not {expected} as "
        f"in {dataset}'s official {spec.filename}, so it is damaged or other data. To go on: "
        f"delete it and run `softreg data fetch {dataset}` for the official file, or, if it is "
        "your own data in MNIST layout, load its folder with data_dir= (CLI: --data-dir) "
        "without verify=True (CLI: --verify)",
        [path],
    )


def check(decoded: DecodedFile, spec: FileSpec, dataset: str) -> None:
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


def _memory(header: IdxHeader) -> np.ndarray:
    return np.empty(header.shape, dtype=header.dtype)


def verify_download(spec: FileSpec, dataset: str, checksum: bool) -> Callable[[Path], None]:
    """``verify(part)`` for :func:`~softreg.datasets.download.download`.

    The complete download must decode as IDX (a truncated or garbled file never reaches its
    final name) and, when ``checksum``, be the official file.
    """

    def verify(part: Path) -> None:
        decoded = decode_idx(part, _memory, sha256=checksum)
        if checksum:
            check(decoded, spec, dataset)

    return verify

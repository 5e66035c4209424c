"""The file format softreg's model files and checkpoints share: an ``.npz`` of arrays and a
JSON header, written atomically and verified when read. It knows no estimator and no optimiser.

Layout
------
A NumPy ``.npz`` archive (uncompressed, written with ``allow_pickle=False``) holding

* ``__header__``: a 1-D uint8 array, the UTF-8 bytes of a JSON object with at least
  ``{"format": <name>, "format_version": <int>, "softreg_version": ..., "arrays": {...}}``,
  where ``arrays`` maps every other member to ``{"dtype", "shape", "sha256"}``;
* one array per entry of ``header["arrays"]``, of a numeric, bool or ``'U'`` dtype.

`write_archive` adds ``arrays`` (and ``softreg_version``) to a header and writes the file
atomically (a temporary file in the same folder, synced, then ``os.replace``: the path holds
the previous complete file or the new one, never half of one). `read_archive` refuses, through
the caller's ``fail``, anything else: an unreadable or truncated archive, a missing or invalid
header, another format, a newer version, unexpected or missing arrays, refused dtypes, and
arrays whose dtype, shape or SHA-256 differ from the header. `to_json` / `from_json` and
`encode_tree` / `decode_tree` turn parameters and nested states into header JSON and arrays.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from softreg._atomic import atomic_path
from softreg._npz import MAX_ARCHIVE_BYTES, NpzReader
from softreg._version import __version__

__all__ = [
    "DIGEST_KEY",
    "HEADER_KEY",
    "array_digest",
    "checked_array",
    "decode_tree",
    "encode_tree",
    "from_json",
    "header_digest",
    "read_archive",
    "to_json",
    "write_archive",
]

HEADER_KEY = "__header__"
DIGEST_KEY = "digest"
_ALLOWED_KINDS = frozenset("biufcU")


# --- JSON encoding of parameters and small state (tuples and non-string-keyed dicts are tagged) ---


def to_json(value: Any, where: str) -> Any:
    """``value`` as JSON, tuples and dicts with non-string keys tagged (see `from_json`).

    ``where`` names the value in the TypeError raised for anything not JSON-able.

    Examples
    --------
    >>> to_json({"sizes": (3, 2), 1: "a"}, "params")
    {'__items__': [['sizes', {'__tuple__': [3, 2]}], [1, 'a']]}
    >>> from_json(to_json({"sizes": (3, 2), 1: "a"}, "params"))
    {'sizes': (3, 2), 1: 'a'}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.str_):
        return str(value)
    if isinstance(value, tuple):
        return {"__tuple__": [to_json(v, where) for v in value]}
    if isinstance(value, list):
        return [to_json(v, where) for v in value]
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value) and "__tuple__" not in value:
            return {k: to_json(v, f"{where}[{k!r}]") for k, v in value.items()}
        return {"__items__": [[to_json(k, where), to_json(v, where)] for k, v in value.items()]}
    raise TypeError(
        f"{where} must be JSON-able (None, bool, int, float, str, list, tuple, dict) to be saved, "
        f"got {type(value).__name__}"
    )


def from_json(value: Any) -> Any:
    """The inverse of `to_json`."""
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(from_json(v) for v in value["__tuple__"])
        if set(value) == {"__items__"}:
            return {_hashable(from_json(k)): from_json(v) for k, v in value["__items__"]}
        return {k: from_json(v) for k, v in value.items()}
    return value


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def array_digest(array: np.ndarray) -> str:
    """SHA-256 (hex) of an array's dtype, shape and C-order bytes."""
    digest = hashlib.sha256()
    digest.update(f"{array.dtype.str}|{array.shape}|".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def checked_array(value: np.ndarray, where: str) -> np.ndarray:
    """``value`` as a contiguous array, if its dtype can be saved without pickle (TypeError)."""
    if value.dtype.kind not in _ALLOWED_KINDS:
        raise TypeError(
            f"{where} must have a numeric, bool or str ('U') dtype to be saved without pickle, "
            f"got dtype {value.dtype}"
        )
    return np.ascontiguousarray(value)


# --- nested states <-> (JSON tree, named arrays) -----------------------------------------------


def encode_tree(
    value: Any,
    key: str,
    arrays: dict[str, np.ndarray],
    named_tuples: Mapping[str, type] | None = None,
) -> Any:
    """A JSON tree for nested tuples / lists / named tuples of arrays and JSON values.

    Each array goes into ``arrays`` under a key derived from ``key`` and is referenced from
    the tree as ``{"array": name}``; named tuples of a class in ``named_tuples`` keep their
    class name. `decode_tree` rebuilds the value.

    Examples
    --------
    >>> arrays = {}
    >>> tree = encode_tree((np.zeros(2), [1, 2]), "state", arrays)
    >>> tree, sorted(arrays)
    ({'tuple': [{'array': 'state.0'}, {'json': [1, 2]}]}, ['state.0'])
    >>> decode_tree(tree, arrays, set())
    (array([0., 0.]), [1, 2])
    """
    named = named_tuples or {}
    if isinstance(value, np.ndarray):
        arrays[key] = checked_array(value, key)
        return {"array": key}
    if isinstance(value, tuple) and type(value).__name__ in named:
        items = [encode_tree(v, f"{key}.{i}", arrays, named) for i, v in enumerate(value)]
        return {"namedtuple": type(value).__name__, "items": items}
    if isinstance(value, (tuple, list)) and any(
        isinstance(v, (np.ndarray, tuple, list)) for v in value
    ):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {kind: [encode_tree(v, f"{key}.{i}", arrays, named) for i, v in enumerate(value)]}
    if isinstance(value, tuple):
        return {"tuple": [encode_tree(v, f"{key}.{i}", arrays, named) for i, v in enumerate(value)]}
    if isinstance(value, np.random.Generator):
        raise TypeError(f"{key}: a Generator is saved through rng, not as a value")
    return {"json": to_json(value, key)}


def decode_tree(
    tree: Any,
    arrays: Mapping[str, np.ndarray],
    used: set[str],
    named_tuples: Mapping[str, type] | None = None,
) -> Any:
    """The value `encode_tree` encoded; the array names it refers to are added to ``used``.

    Raises ValueError for a malformed tree, a missing array or an unknown named tuple.
    """
    named = named_tuples or {}
    if not isinstance(tree, dict) or len(tree) not in (1, 2):
        raise ValueError(f"malformed state entry {tree!r}")
    if "array" in tree:
        key = tree["array"]
        if key not in arrays:
            raise ValueError(f"state names a missing array {key!r}")
        used.add(key)
        return arrays[key]
    if "namedtuple" in tree:
        cls = named.get(tree["namedtuple"])
        if cls is None:
            raise ValueError(f"unknown optimiser state type {tree['namedtuple']!r}")
        return cls(*(decode_tree(v, arrays, used, named) for v in tree["items"]))
    if "tuple" in tree:
        return tuple(decode_tree(v, arrays, used, named) for v in tree["tuple"])
    if "list" in tree:
        return [decode_tree(v, arrays, used, named) for v in tree["list"]]
    if "json" in tree:
        return from_json(tree["json"])
    raise ValueError(f"malformed state entry {tree!r}")


# --- writing and reading -------------------------------------------------------------------------


def write_archive(
    path: str | os.PathLike[str], header: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> Path:
    """Write ``arrays`` and ``header`` (plus ``softreg_version`` and ``arrays``) atomically.

    Parameters
    ----------
    path : str or path-like
        Destination, written exactly as given; a previous file there is replaced in one step.
    header : mapping
        JSON-able header fields, among them ``format`` and ``format_version``.
    arrays : mapping of str to ndarray
        The members (names other than ``__header__``), of dtypes `checked_array` accepts.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> _ = write_archive(path, {"format": "demo", "format_version": 1}, {"x": np.arange(3)})
    >>> header, arrays = read_archive(path, "demo", 1, ValueError)
    >>> header["arrays"]["x"]["shape"], arrays["x"].tolist()
    ([3], [0, 1, 2])
    """
    if HEADER_KEY in arrays:
        raise ValueError(f"arrays must not contain the reserved name {HEADER_KEY!r}")
    checked = {name: checked_array(np.asarray(a), name) for name, a in arrays.items()}
    full = {"softreg_version": __version__, **header}
    full["arrays"] = {
        k: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": array_digest(a)}
        for k, a in checked.items()
    }
    full.pop(DIGEST_KEY, None)
    full[DIGEST_KEY] = header_digest(full)
    raw = np.frombuffer(json.dumps(full).encode("utf-8"), dtype=np.uint8)
    target = Path(path)
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        np.savez(f, allow_pickle=False, **{HEADER_KEY: raw}, **checked)
        f.flush()
        os.fsync(f.fileno())
    return target


def header_digest(header: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of every header field but ``digest`` itself.

    The header lists each array's SHA-256, so this one digest covers the header and every
    array: editing any field (a preprocessing constant, an epoch) or any byte is refused.
    It is a checksum, not a signature: whoever rewrites a file on purpose can recompute it.

    Examples
    --------
    >>> header_digest({"b": 1, "a": [1, 2]}) == header_digest({"a": [1, 2], "b": 1})
    True
    """
    body = {k: v for k, v in header.items() if k != DIGEST_KEY}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _declared_arrays(declared: Any, fail: Callable[[str], Exception], limit: int) -> dict:
    """The header's ``arrays`` as ``{name: (dtype, shape, sha256)}``; impossible ones refused.

    Shapes are checked before any member is read: non-negative integers whose byte count,
    summed over the arrays, stays within ``limit`` (so ``(10**12,)`` costs nothing).
    """
    if not isinstance(declared, dict):
        raise fail("header field 'arrays' must be a JSON object")
    specs: dict[str, tuple[np.dtype, tuple[int, ...], str]] = {}
    total = 0
    for key, spec in declared.items():
        if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "sha256"}:
            raise fail(f"malformed header entry for array {key!r}")
        try:
            dtype = np.dtype(spec["dtype"]) if isinstance(spec["dtype"], str) else None
        except (TypeError, ValueError):
            dtype = None
        if dtype is None or dtype.hasobject or dtype.kind not in _ALLOWED_KINDS:
            raise fail(f"array {key!r} has refused dtype {spec['dtype']!r} in the header")
        shape = spec["shape"]
        if not (
            isinstance(shape, list)
            and len(shape) <= 32
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise fail(f"array {key!r} has an invalid shape {shape!r} in the header")
        count = 1
        for d in shape:
            count *= d
        total += count * dtype.itemsize
        if total > limit:
            raise fail(
                f"array {key!r} of shape {tuple(shape)} brings the declared size over "
                f"{limit} bytes; refused before reading"
            )
        if not isinstance(spec["sha256"], str):
            raise fail(f"malformed header entry for array {key!r}")
        specs[key] = (dtype, tuple(shape), spec["sha256"])
    return specs


def read_archive(
    path: str | os.PathLike[str],
    format_name: str,
    format_version: int,
    fail: Callable[[str], Exception],
    *,
    digest_since: int | None = None,
    max_bytes: int = MAX_ARCHIVE_BYTES,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify an archive of ``format_name``, versions 1 to ``format_version``.

    Returns ``(header, arrays)``, every array checked against the header's dtype, shape and
    SHA-256, and the header against its ``digest``. Any problem raises ``fail(problem)`` (the
    caller's exception type and wording), whatever layer it comes from (file system, zip,
    ``.npy``, JSON): see :mod:`softreg._npz` for the zip checks.

    Parameters
    ----------
    digest_since : int, optional
        First format version whose files must carry a ``digest`` (default: ``format_version``);
        older files, written before the digest existed, are read without it. A ``digest``
        present is always checked.
    max_bytes : int
        Limit on the archive's total uncompressed size, checked against the zip directory
        and the header's shapes before anything is inflated.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    """
    where = os.fspath(path)
    if not os.path.isfile(where):
        raise FileNotFoundError(where)
    with NpzReader(where, max_bytes=max_bytes, fail=fail) as archive:
        if HEADER_KEY not in archive.names:
            raise fail(f"no valid header: no {HEADER_KEY!r} entry")
        raw = archive.read(HEADER_KEY)
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise fail(
                f"no valid header: {HEADER_KEY!r} must be a 1-D uint8 array, "
                f"got {raw.dtype} {raw.shape}"
            )
        try:
            header = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise fail(f"no valid header: header is not UTF-8 JSON ({exc})") from None
        if not isinstance(header, dict) or header.get("format") != format_name:
            raise fail(f"no valid header: it does not declare format {format_name!r}")
        version = header.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise fail(f"invalid format_version {version!r}")
        if version > format_version:
            raise fail(
                f"format version {version} (written by softreg {header.get('softreg_version')}) "
                f"is newer than this softreg reads ({format_version}); upgrade softreg"
            )
        specs = _declared_arrays(header.get("arrays"), fail, max_bytes)
        members = set(archive.names) - {HEADER_KEY}
        extra = sorted(members - set(specs))
        if extra:
            raise fail(f"unexpected array(s) {', '.join(map(repr, extra))}")
        absent = sorted(set(specs) - members)
        if absent:
            raise fail(f"missing array(s) {', '.join(map(repr, absent))}")
        digest = header.get(DIGEST_KEY)
        needed = format_version if digest_since is None else digest_since
        if digest is None and version >= needed:
            raise fail(
                f"no digest in a format-version-{version} header (every such file has one; "
                "the header was edited)"
            )
        if digest is not None and digest != header_digest(header):
            raise fail(
                "the header does not match its digest (the file was modified after it was written)"
            )
        contents: dict[str, np.ndarray] = {}
        for key, (dtype, shape, sha256) in specs.items():
            array = archive.read(key, dtype=dtype, shape=shape)
            if array_digest(array) != sha256:
                raise fail(f"array {key!r} does not match its SHA-256 (the file was modified)")
            contents[key] = array
    return header, contents

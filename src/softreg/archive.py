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
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from softreg._atomic import atomic_path
from softreg._version import __version__

__all__ = [
    "HEADER_KEY",
    "array_digest",
    "checked_array",
    "decode_tree",
    "encode_tree",
    "from_json",
    "read_archive",
    "to_json",
    "write_archive",
]

HEADER_KEY = "__header__"
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
            return {k: to_json(v, where) for k, v in value.items()}
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
    raw = np.frombuffer(json.dumps(full).encode("utf-8"), dtype=np.uint8)
    target = Path(path)
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        np.savez(f, allow_pickle=False, **{HEADER_KEY: raw}, **checked)
        f.flush()
        os.fsync(f.fileno())
    return target


def read_archive(
    path: str | os.PathLike[str],
    format_name: str,
    format_version: int,
    fail: Callable[[str], Exception],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify an archive of ``format_name``, versions 1 to ``format_version``.

    Returns ``(header, arrays)``, every array checked against the header's dtype, shape and
    SHA-256. Any problem raises ``fail(problem)`` (the caller's exception type and wording).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    """
    where = os.fspath(path)
    if not os.path.isfile(where):
        raise FileNotFoundError(where)
    contents: dict[str, np.ndarray] | None = None
    try:
        # Open the file ourselves: np.load leaks its handle when the zip directory is unreadable.
        with open(where, "rb") as handle:
            archive = np.load(handle, allow_pickle=False)
            if isinstance(archive, np.lib.npyio.NpzFile):
                with archive:
                    contents = {key: archive[key] for key in archive.files}
    except zipfile.BadZipFile as exc:
        raise fail(f"unreadable or truncated archive (BadZipFile: {exc})") from None
    except ValueError as exc:
        if "pickle" in str(exc):
            raise fail(
                "it holds an object array (refused: softreg files never use pickle)"
            ) from None
        raise fail(f"unreadable or truncated archive (unreadable array: {exc})") from None
    except (OSError, EOFError, KeyError) as exc:
        raise fail(f"unreadable or truncated archive ({type(exc).__name__}: {exc})") from None
    if contents is None:
        raise fail("it is a single .npy array, not an .npz archive")

    raw = contents.pop(HEADER_KEY, None)
    if raw is None:
        raise fail(f"no valid header: no {HEADER_KEY!r} entry")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise fail(
            f"no valid header: {HEADER_KEY!r} must be a 1-D uint8 array, "
            f"got {raw.dtype} {raw.shape}"
        )
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    declared = header.get("arrays")
    if not isinstance(declared, dict):
        raise fail("header field 'arrays' must be a JSON object")
    extra = sorted(set(contents) - set(declared))
    if extra:
        raise fail(f"unexpected array(s) {', '.join(map(repr, extra))}")
    absent = sorted(set(declared) - set(contents))
    if absent:
        raise fail(f"missing array(s) {', '.join(map(repr, absent))}")
    for key, array in contents.items():
        spec = declared[key]
        if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "sha256"}:
            raise fail(f"malformed header entry for array {key!r}")
        if array.dtype.kind not in _ALLOWED_KINDS:
            raise fail(f"array {key!r} has refused dtype {array.dtype}")
        if array.dtype.str != spec["dtype"] or list(array.shape) != spec["shape"]:
            raise fail(
                f"array {key!r} is {array.dtype.str} {list(array.shape)}, "
                f"the header says {spec['dtype']} {spec['shape']}"
            )
        if array_digest(array) != spec["sha256"]:
            raise fail(f"array {key!r} does not match its SHA-256 (the file was modified)")
    return header, contents

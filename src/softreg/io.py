"""Model files: `save` a fitted softreg estimator to ``.npz`` and `load` it back, never with pickle.

File format (version 1)
-----------------------
A NumPy ``.npz`` archive written with ``allow_pickle=False`` holding

* ``__header__``: a uint8 array, the UTF-8 bytes of a JSON object::

      {"format": "softreg-model", "format_version": 1, "softreg_version": "0.1.0",
       "estimator": "SoftmaxRegression",          # a name from the allow-list, never an import path
       "params": {...},                           # get_params(), JSON with tagged tuples/dicts
       "state": {"coef_": {"array": "coef_"},     # fitted attributes: arrays, lists of arrays, JSON
                 "coefs_": {"arrays": ["coefs_.0", "coefs_.1"]},
                 "n_iter_": {"json": 12}, ...},
       "arrays": {"coef_": {"dtype": "<f8", "shape": [10, 784], "sha256": "..."}, ...},
       "metadata": {...}}                         # free JSON: preprocessing, training data, metrics

* one array per entry of ``header["arrays"]``.

Besides the estimator's ``_state_attributes``, ``feature_names_in_`` (set by scikit-learn's
validation when a model is fitted on a DataFrame with string column names) is saved when present,
as a ``'U'`` array, and restored as the object array scikit-learn keeps, so a loaded model checks
the column names of the DataFrames it predicts on just as the original does.

`load` refuses anything else with a one-line `ModelFileError` (a `ValueError`): an unreadable,
truncated or corrupted archive, a header that is not this JSON, a future format version, an
estimator outside the allow-list, unknown or missing parameters, unexpected or missing arrays,
object or structured dtypes, arrays whose dtype, shape or SHA-256 differ from the header, and a
state the estimator's own ``_validate_state`` rejects. Files are written atomically (a temporary
file in the same folder, then `os.replace`), so an interrupted `save` leaves no half-written model.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from softreg._atomic import atomic_path

__all__ = ["FORMAT_VERSION", "ModelFileError", "load", "read_header", "register_estimator", "save"]

FORMAT_VERSION = 1
_FORMAT_NAME = "softreg-model"
_HEADER_KEY = "__header__"
_ALLOWED_KINDS = frozenset("biufcU")
_REGISTRY: dict[str, Any] = {}
#: Fitted attributes saved when the model has them, whatever its ``_state_attributes``.
_OPTIONAL_STATE = ("feature_names_in_",)


class ModelFileError(ValueError):
    """Not a valid softreg model file (the message names the file and the problem)."""


def register_estimator(cls: type, name: str | None = None) -> type:
    """Allow `load` to rebuild estimators of class ``cls`` (softreg's own are allowed already).

    The class must provide ``_state_attributes``, ``_validate_state`` and ``get_params``.
    A model file only names one of the registered classes; it never carries code or import paths.
    """
    for hook in ("_state_attributes", "_validate_state", "get_params"):
        if not hasattr(cls, hook):
            raise TypeError(f"cls must define {hook!r} to be saved and loaded, got {cls!r}")
    _REGISTRY[name or cls.__name__] = cls
    return cls


def _registry() -> dict[str, Any]:
    # Each estimator registers itself where it is defined (softreg's own on ``import softreg``):
    # this module sits beside the estimators and imports none of them.
    return _REGISTRY


# --- JSON encoding of parameters and small state (tuples and non-string-keyed dicts are tagged) ---


def _to_json(value: Any, where: str) -> Any:
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
        return {"__tuple__": [_to_json(v, where) for v in value]}
    if isinstance(value, list):
        return [_to_json(v, where) for v in value]
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value) and "__tuple__" not in value:
            return {k: _to_json(v, where) for k, v in value.items()}
        return {"__items__": [[_to_json(k, where), _to_json(v, where)] for k, v in value.items()]}
    raise TypeError(
        f"{where} must be JSON-able (None, bool, int, float, str, list, tuple, dict) to be saved, "
        f"got {type(value).__name__}"
    )


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_from_json(v) for v in value["__tuple__"])
        if set(value) == {"__items__"}:
            return {_hashable(_from_json(k)): _from_json(v) for k, v in value["__items__"]}
        return {k: _from_json(v) for k, v in value.items()}
    return value


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _array_digest(array: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(f"{array.dtype.str}|{array.shape}|".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _checked_array(value: np.ndarray, where: str) -> np.ndarray:
    if value.dtype.kind not in _ALLOWED_KINDS:
        raise TypeError(
            f"{where} must have a numeric, bool or str ('U') dtype to be saved without pickle, "
            f"got dtype {value.dtype}"
        )
    return np.ascontiguousarray(value)


def _feature_names_array(value: Any) -> np.ndarray:
    """``feature_names_in_`` (object array of str) as a 1-D ``'U'`` array: no pickle needed."""
    names = np.asarray(value)
    if names.ndim != 1 or not all(isinstance(n, str) for n in names.tolist()):
        raise TypeError(
            "model.feature_names_in_ must be a 1-D array of str to be saved, got "
            f"{names.dtype} array of shape {names.shape}"
        )
    return names.astype(str)


def save(
    model: Any, path: str | os.PathLike[str], *, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write a fitted estimator to ``path`` as a pickle-free ``.npz`` model file, atomically.

    Parameters
    ----------
    model : estimator
        A fitted softreg estimator (or a class registered with `register_estimator`).
    path : str or path-like
        Destination, written exactly as given (conventionally ending in ``.npz``).
    metadata : mapping, optional
        JSON-able extra information kept in the header, e.g. the preprocessing applied to the
        inputs, a fingerprint of the training data and test metrics. Read it with `read_header`.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from softreg import SoftmaxRegression, load, save
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SoftmaxRegression().fit(X, y)
    >>> path = save(model, os.path.join(tempfile.mkdtemp(), "model.npz"), metadata={"note": "iris"})
    >>> loaded = load(path)
    >>> bool((loaded.predict_proba(X) == model.predict_proba(X)).all())
    True
    """
    name = type(model).__name__
    cls = _registry().get(name)
    if cls is not type(model):
        raise TypeError(
            f"model must be a softreg estimator ({', '.join(sorted(_registry()))}), "
            f"got {type(model).__module__}.{name}"
        )
    missing = [a for a in cls._state_attributes if not hasattr(model, a)]
    if missing:
        raise ValueError(f"model is not fitted: it has no {', '.join(missing)}; call fit first")
    params = _to_json(model.get_params(deep=False), "model parameters")
    arrays: dict[str, np.ndarray] = {}
    state: dict[str, Any] = {}
    optional = [a for a in _OPTIONAL_STATE if hasattr(model, a) and a not in cls._state_attributes]
    for attr in (*cls._state_attributes, *optional):
        value = getattr(model, attr)
        if attr == "feature_names_in_":
            value = _feature_names_array(value)
        if isinstance(value, np.ndarray):
            arrays[attr] = _checked_array(value, f"model.{attr}")
            state[attr] = {"array": attr}
        elif (
            isinstance(value, (list, tuple))
            and value
            and all(isinstance(v, np.ndarray) for v in value)
        ):
            keys = [f"{attr}.{i}" for i in range(len(value))]
            for key, v in zip(keys, value, strict=True):
                arrays[key] = _checked_array(v, f"model.{attr}[{key.rsplit('.', 1)[1]}]")
            state[attr] = {"arrays": keys}
        else:
            state[attr] = {"json": _to_json(value, f"model.{attr}")}
    from softreg import __version__

    header = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "softreg_version": __version__,
        "estimator": name,
        "params": params,
        "state": state,
        "arrays": {
            k: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": _array_digest(a)}
            for k, a in arrays.items()
        },
        "metadata": _to_json(dict(metadata or {}), "metadata"),
    }
    header_bytes = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    return _write_atomically(Path(path), {_HEADER_KEY: header_bytes, **arrays})


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` as an uncompressed ``.npz`` to ``path`` atomically, synced to disk."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, allow_pickle=False, **arrays)
        f.flush()
        os.fsync(f.fileno())
    return path


# --- reading -------------------------------------------------------------------------------------


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and check the archive and header; return (header, arrays). Raises ModelFileError."""
    where = os.fspath(path)

    def fail(problem: str) -> ModelFileError:
        return ModelFileError(f"{where}: not a valid softreg model file: {problem}")

    if not os.path.isfile(where):
        raise FileNotFoundError(f"{where}: no such model file")
    try:
        # Open the file ourselves: np.load leaks its handle when the zip directory is unreadable.
        with open(where, "rb") as handle:
            archive = np.load(handle, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise fail("it is a single .npy array, not an .npz archive")
            with archive:
                contents = {key: archive[key] for key in archive.files}
    except ModelFileError:
        raise
    except zipfile.BadZipFile as exc:
        raise fail(f"truncated or corrupted archive ({exc})") from None
    except ValueError as exc:
        if "pickle" in str(exc):
            raise fail("it holds an object array (refused: model files never use pickle)") from None
        raise fail(f"unreadable array ({exc})") from None
    except (OSError, EOFError, KeyError) as exc:
        raise fail(f"truncated or unreadable ({type(exc).__name__}: {exc})") from None

    raw = contents.pop(_HEADER_KEY, None)
    if raw is None:
        raise fail(f"no {_HEADER_KEY!r} entry")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise fail(f"{_HEADER_KEY!r} must be a 1-D uint8 array, got {raw.dtype} {raw.shape}")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"header is not UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT_NAME:
        raise fail(f"header does not declare format {_FORMAT_NAME!r}")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail(f"invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise fail(
            f"format version {version} (written by softreg {header.get('softreg_version')}) "
            f"is newer than this softreg reads ({FORMAT_VERSION}); upgrade softreg"
        )
    for key, kind in (("params", dict), ("state", dict), ("arrays", dict), ("metadata", dict)):
        if not isinstance(header.get(key), kind):
            raise fail(f"header field {key!r} must be a JSON object")

    declared = header["arrays"]
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
        if _array_digest(array) != spec["sha256"]:
            raise fail(f"array {key!r} does not match its SHA-256 (the file was modified)")
    return header, contents


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the checked JSON header of a model file (estimator, params, arrays, metadata).

    The archive and its arrays are verified as in `load`, but no estimator is built.

    Parameters
    ----------
    path : str or path-like
        A model file written by `save`.

    Returns
    -------
    dict
        ``format``, ``format_version``, ``softreg_version``, ``estimator``, ``params``,
        ``state``, ``arrays`` (dtype, shape and SHA-256 of each) and ``metadata``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from softreg import SoftmaxRegression, save
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> path = save(SoftmaxRegression().fit(X, y), os.path.join(tempfile.mkdtemp(), "m.npz"),
    ...             metadata={"note": "toy"})
    >>> header = read_header(path)
    >>> header["estimator"], header["arrays"]["coef_"]["shape"], header["metadata"]
    ('SoftmaxRegression', [2, 1], {'note': 'toy'})
    """
    header, _ = _read(path)
    header["metadata"] = _from_json(header["metadata"])
    return header


def load(path: str | os.PathLike[str]) -> Any:
    """Load an estimator written by `save`, refusing any file that is not exactly such a model.

    Parameters
    ----------
    path : str or path-like
        A model file written by `save`.

    Returns
    -------
    estimator
        A fitted estimator equal to the one saved: same parameters, same arrays (bit for bit),
        so ``predict`` and ``predict_proba`` give identical results.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        (a `ValueError`) if the file is truncated, corrupted, modified, from a future format
        version, names an unknown estimator or parameter, or holds an inconsistent state.
    """
    header, arrays = _read(path)
    where = os.fspath(path)

    def fail(problem: str) -> ModelFileError:
        return ModelFileError(f"{where}: not a valid softreg model file: {problem}")

    registry = _registry()
    name = header.get("estimator")
    cls = registry.get(name) if isinstance(name, str) else None
    if cls is None:
        raise fail(f"unknown estimator {name!r}; expected one of {', '.join(sorted(registry))}")
    params = _from_json(header["params"])
    expected = set(cls().get_params(deep=False))
    unknown = sorted(set(params) - expected)
    if unknown:
        raise fail(f"unknown parameter(s) for {name}: {', '.join(unknown)}")
    missing = sorted(expected - set(params))
    if missing:
        raise fail(f"missing parameter(s) for {name}: {', '.join(missing)}")
    state = header["state"]
    attributes = tuple(cls._state_attributes)
    if set(state) - set(_OPTIONAL_STATE) != set(attributes) - set(_OPTIONAL_STATE):
        raise fail(
            f"state attributes {sorted(state)} differ from those of {name} {sorted(attributes)}"
        )
    attributes += tuple(a for a in _OPTIONAL_STATE if a in state and a not in attributes)
    used: set[str] = set()
    try:
        model = cls(**params)
    except (TypeError, ValueError) as exc:
        raise fail(f"invalid parameters ({exc})") from None
    for attr in attributes:
        entry = state[attr]
        if not isinstance(entry, dict) or len(entry) != 1:
            raise fail(f"malformed state entry for {attr!r}")
        ((kind, value),) = entry.items()
        if kind == "array" and isinstance(value, str) and value in arrays:
            setattr(model, attr, arrays[value])
            used.add(value)
        elif (
            kind == "arrays"
            and isinstance(value, list)
            and value
            and all(isinstance(k, str) and k in arrays for k in value)
        ):
            setattr(model, attr, [arrays[k] for k in value])
            used.update(value)
        elif kind == "json":
            setattr(model, attr, _from_json(value))
        else:
            raise fail(f"malformed state entry for {attr!r}")
    if used != set(arrays):
        raise fail(f"array(s) not used by the state: {', '.join(sorted(set(arrays) - used))}")
    if "feature_names_in_" in state:
        names = getattr(model, "feature_names_in_", None)
        n_features = getattr(model, "n_features_in_", None)
        if not (
            isinstance(names, np.ndarray)
            and names.dtype.kind == "U"
            and names.shape == (n_features,)
        ):
            raise fail(
                f"feature_names_in_ must be a 'U' array of n_features_in_={n_features} names, "
                f"got {getattr(names, 'dtype', type(names).__name__)} "
                f"of shape {getattr(names, 'shape', None)}"
            )
        model.feature_names_in_ = names.astype(object)  # the dtype scikit-learn sets in fit
    try:
        model._validate_state()
    except (ValueError, TypeError) as exc:
        raise fail(f"inconsistent {name} state ({exc})") from None
    return model

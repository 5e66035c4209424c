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

This module knows no estimator class: the archive format (atomic write, hashes, verification)
is :mod:`softreg.archive`'s, shared with checkpoints, and each estimator declares its state
(``_state_attributes``, ``_validate_state``) and registers itself by name
(`register_estimator`) where it is defined.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from softreg.archive import checked_array, from_json, read_archive, to_json, write_archive

__all__ = [
    "FORMAT_VERSION",
    "ModelFileError",
    "load",
    "read_header",
    "register_estimator",
    "registered_estimators",
    "save",
]

FORMAT_VERSION = 2  # 2: the header's digest covers it and every array (version 1 is read)
_FORMAT_NAME = "softreg-model"
_REGISTRY: dict[str, Any] = {}
#: Fitted attributes saved when the model has them, whatever its ``_state_attributes``; an
#: estimator adds its own in ``_optional_state_attributes`` (e.g. a calibrated ``temperature_``).
_OPTIONAL_STATE = ("feature_names_in_",)


def _optional_state(cls: Any) -> tuple[str, ...]:
    return _OPTIONAL_STATE + tuple(getattr(cls, "_optional_state_attributes", ()))


class ModelFileError(ValueError):
    """Not a valid softreg model file (the message names the file and the problem)."""


def register_estimator(cls: type, name: str | None = None) -> type:
    """Allow `load` to rebuild estimators of class ``cls``, found by ``name`` (its class name).

    softreg's estimators register themselves where they are defined. The class must provide
    ``_state_attributes`` (the fitted attributes a file holds), ``_validate_state`` (raises
    ValueError for an inconsistent restored state) and ``get_params``. A model file only names
    one of the registered classes; it never carries code or import paths.
    """
    for hook in ("_state_attributes", "_validate_state", "get_params"):
        if not hasattr(cls, hook):
            raise TypeError(f"cls must define {hook!r} to be saved and loaded, got {cls!r}")
    _REGISTRY[name or cls.__name__] = cls
    return cls


def registered_estimators() -> dict[str, Any]:
    """The estimator classes model files and checkpoints may name, by name (a copy)."""
    return dict(_registry())


#: Where softreg's own estimators are defined (and register themselves). ``import softreg`` is
#: lazy (its names load on first use, so the CLI starts fast), so a file naming one of these
#: imports its module here, by name: this module still imports no estimator.
_BUILTIN_MODULES = {
    "SoftmaxRegression": "softreg.softmax_regression",
    "MLPClassifier": "softreg.mlp.classifier",
}


def _registry() -> dict[str, Any]:
    for name, module in _BUILTIN_MODULES.items():
        if name not in _REGISTRY:
            importlib.import_module(module)
    return _REGISTRY


def _feature_names_array(value: Any) -> np.ndarray:
    """``feature_names_in_`` (object array of str) as a 1-D ``'U'`` array: no pickle needed."""
    names = np.asarray(value)
    if names.ndim != 1 or not all(isinstance(n, str) for n in names.tolist()):
        raise TypeError(
            "model.feature_names_in_ must be a 1-D array of str to be saved, got "
            f"{names.dtype} array of shape {names.shape}"
        )
    return names.astype(str)


_CSR_PARTS = ("data", "indices", "indptr")


def _is_csr_entry(value: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> bool:
    shape = value.get("shape")
    return (
        set(value) == {*_CSR_PARTS, "shape"}
        and all(isinstance(value[p], str) and value[p] in arrays for p in _CSR_PARTS)
        and isinstance(shape, list)
        and len(shape) == 2
        and all(isinstance(n, int) and n >= 0 for n in shape)
    )


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
    params = to_json(model.get_params(deep=False), "model parameters")
    arrays: dict[str, np.ndarray] = {}
    state: dict[str, Any] = {}
    optional = [
        a for a in _optional_state(cls) if hasattr(model, a) and a not in cls._state_attributes
    ]
    for attr in (*cls._state_attributes, *optional):
        value = getattr(model, attr)
        if attr == "feature_names_in_":
            value = _feature_names_array(value)
        if isinstance(value, np.ndarray):
            arrays[attr] = checked_array(value, f"model.{attr}")
            state[attr] = {"array": attr}
        elif sp.issparse(value):  # a sparsified coef_: its CSR arrays and shape
            csr = sp.csr_matrix(value)
            names = {part: f"{attr}.{part}" for part in _CSR_PARTS}
            for part, name_ in names.items():
                arrays[name_] = checked_array(getattr(csr, part), f"model.{attr}.{part}")
            state[attr] = {"csr": {**names, "shape": list(csr.shape)}}
        elif (
            isinstance(value, (list, tuple))
            and value
            and all(isinstance(v, np.ndarray) for v in value)
        ):
            keys = [f"{attr}.{i}" for i in range(len(value))]
            for key, v in zip(keys, value, strict=True):
                arrays[key] = checked_array(v, f"model.{attr}[{key.rsplit('.', 1)[1]}]")
            state[attr] = {"arrays": keys}
        else:
            state[attr] = {"json": to_json(value, f"model.{attr}")}
    header = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "estimator": name,
        "params": params,
        "state": state,
        "metadata": to_json(dict(metadata or {}), "metadata"),
    }
    return write_archive(path, header, arrays)


# --- reading -------------------------------------------------------------------------------------


def _read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and check the archive and header; return (header, arrays). Raises ModelFileError."""
    where = os.fspath(path)

    def fail(problem: str) -> ModelFileError:
        return ModelFileError(f"{where}: not a valid softreg model file: {problem}")

    if not os.path.isfile(where):
        raise FileNotFoundError(f"{where}: no such model file")
    header, contents = read_archive(where, _FORMAT_NAME, FORMAT_VERSION, fail, digest_since=2)
    for key, kind in (("params", dict), ("state", dict), ("metadata", dict)):
        if not isinstance(header.get(key), kind):
            raise fail(f"header field {key!r} must be a JSON object")
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
    header["metadata"] = from_json(header["metadata"])
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
    params = from_json(header["params"])
    upgrade = getattr(cls, "_upgrade_params", None)  # parameters saved by an older softreg
    if upgrade is not None:
        params = upgrade(params)
    expected = set(cls().get_params(deep=False))
    unknown = sorted(set(params) - expected)
    if unknown:
        raise fail(f"unknown parameter(s) for {name}: {', '.join(unknown)}")
    missing = sorted(expected - set(params))
    if missing:
        raise fail(f"missing parameter(s) for {name}: {', '.join(missing)}")
    state = header["state"]
    attributes = tuple(cls._state_attributes)
    optional = set(_optional_state(cls))
    if set(state) - optional != set(attributes) - optional:
        raise fail(
            f"state attributes {sorted(state)} differ from those of {name} {sorted(attributes)}"
        )
    attributes += tuple(a for a in _optional_state(cls) if a in state and a not in attributes)
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
            setattr(model, attr, from_json(value))
        elif kind == "csr" and isinstance(value, dict) and _is_csr_entry(value, arrays):
            parts = tuple(arrays[value[part]] for part in _CSR_PARTS)
            try:
                matrix = sp.csr_matrix(parts, shape=tuple(value["shape"]))
                matrix.check_format(full_check=True)
            except ValueError as exc:
                raise fail(f"malformed sparse state entry for {attr!r} ({exc})") from None
            setattr(model, attr, matrix)
            used.update(value[part] for part in _CSR_PARTS)
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

"""The classic ``mnist.pkl.gz``, read with an unpickler that can only build arrays.

``pickle`` runs whatever callable a file names, so a downloaded pickle is code. This
unpickler resolves only the handful of globals that NumPy array pickles need and refuses
everything else before it is called; the result must then be NumPy arrays (not of object
dtype) nested in tuples.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_mnist_pickle"]

_ALLOWED = {
    # NumPy array pickles, old (numpy.core) and new (numpy._core) module names.
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,  # type: ignore[attr-defined]
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,  # type: ignore[attr-defined]
    # Protocol 5 rebuilds arrays from an in-band buffer.
    ("numpy.core.numeric", "_frombuffer"): np._core.numeric._frombuffer,  # type: ignore[attr-defined]
    ("numpy._core.numeric", "_frombuffer"): np._core.numeric._frombuffer,  # type: ignore[attr-defined]
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Protocol-2 pickles written by Python 3 store bytes as _codecs.encode(str, "latin1").
    ("_codecs", "encode"): __import__("codecs").encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused global '{module}.{name}': only NumPy arrays and tuples are allowed"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refused persistent id: only NumPy arrays are allowed")


# Tuples nest at most this deep (the classic file nests 2): deeper is refused, not recursed.
MAX_DEPTH = 32


def _check_tree(obj: object, where: str) -> None:
    """Raise ValueError unless ``obj`` is non-object NumPy arrays nested in tuples.

    Iterative, with a depth limit: a pickle of 200,000 nested tuples is refused by name
    rather than by a RecursionError.
    """
    stack: list[tuple[object, str, int]] = [(obj, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, tuple):
            if depth >= MAX_DEPTH:
                raise ValueError(
                    f"{path}: tuples nested more than {MAX_DEPTH} deep refused (a dataset "
                    "pickle nests 2 or 3)"
                )
            stack.extend((x, f"{path}[{i}]", depth + 1) for i, x in enumerate(item))
        elif type(item) is np.ndarray:
            if item.dtype.hasobject:
                raise ValueError(f"{path}: array of object dtype refused")
        else:
            raise ValueError(
                f"{path}: expected NumPy arrays nested in tuples, got {type(item).__name__}"
            )


def load_mnist_pickle(path: str | os.PathLike[str]) -> Any:
    """Load ``mnist.pkl.gz`` (or any pickle of arrays in tuples) without running its code.

    Parameters
    ----------
    path : path-like
        gzip-compressed or plain pickle. Python 2 pickles (the original file) are read
        with ``encoding="latin1"``.

    Returns
    -------
    tuple
        As stored; for the classic file ``((X_train, y_train), (X_valid, y_valid),
        (X_test, y_test))`` with ``X_*`` float32 of shape (n_samples, 784) in [0, 1] and
        ``y_*`` int64 of shape (n_samples,), n_samples = 50,000, 10,000, 10,000.

    Raises
    ------
    ValueError
        Naming the file, when it refers to anything but NumPy arrays and tuples (e.g. a
        planted ``os.system``), or is not a valid pickle.

    Examples
    --------
    >>> import gzip, pickle, tempfile, numpy as np
    >>> from softreg.datasets import load_mnist_pickle
    >>> path = tempfile.mkdtemp() + "/mnist.pkl.gz"
    >>> with gzip.open(path, "wb") as f:
    ...     pickle.dump(((np.zeros((2, 784), np.float32), np.array([3, 1])),), f, protocol=2)
    >>> (X, y), = load_mnist_pickle(path)
    >>> X.shape, y
    ((2, 784), array([3, 1]))
    """
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        result = _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not loaded: {exc}") from exc
    except (RecursionError, MemoryError) as exc:
        raise ValueError(
            f"{path}: not loaded: the pickle nests too deep or is too large to unpickle "
            f"({type(exc).__name__})"
        ) from None
    if not isinstance(result, tuple):
        raise ValueError(f"{path}: expected a tuple of arrays, got {type(result).__name__}")
    try:
        _check_tree(result, "pickle")
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return result

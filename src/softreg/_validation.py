"""Shared checks of targets, labels and sample weights for softreg's estimators.

Thin layers over scikit-learn's own validation, so error messages read as scikit-learn users
expect, plus the checks scikit-learn leaves to each estimator (multi-label targets, unseen labels
in ``partial_fit``, label arrays that can be saved without pickle).
"""

from __future__ import annotations

import warnings
from numbers import Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from sklearn.utils.multiclass import type_of_target


def is_real_number(value: Any) -> bool:
    """Whether ``value`` is a real number: Python's or NumPy's, but not a bool.

    >>> [is_real_number(v) for v in (0.5, np.float32(2), True, np.bool_(True), "1")]
    [True, True, False, False, False]
    """
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def is_dense_integer(X: Any) -> bool:
    """Whether ``X`` is a NumPy array of integers (raw pixels), which ``input_scale`` keeps."""
    return isinstance(X, np.ndarray) and np.issubdtype(X.dtype, np.integer)


def reject_multilabel(y: Any, estimator: str, alternative: str) -> None:
    """Raise ValueError if ``y`` is a multi-label indicator matrix, naming what to use instead.

    Examples
    --------
    >>> reject_multilabel([[0, 1], [1, 1]], "SoftmaxRegression", "MLPClassifier")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: y is a multi-label indicator matrix of shape (2, 2); ... Use MLPClassifier ...
    """
    try:
        ndim: int | None = np.ndim(y)
    except (ValueError, TypeError):  # ragged sequences, array-likes refusing __array_function__
        ndim = None
    if not sp.issparse(y) and ndim is not None and ndim != 2:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kind = type_of_target(y, input_name="y")
    except (ValueError, TypeError):
        return  # left to validate_data, which words these errors itself
    if kind == "multilabel-indicator":
        shape = np.shape(y)
        raise ValueError(
            f"y is a multi-label indicator matrix of shape {shape}; {estimator} predicts exactly "
            f"one class per sample. Use {alternative} for multi-label targets."
        )


def as_label_array(labels: ArrayLike) -> NDArray[Any]:
    """Sorted unique labels as a NumPy array; object arrays of str become dtype 'U'.

    'U' arrays can be saved with ``allow_pickle=False``; other object arrays are returned
    unchanged (they are still valid labels, just not savable without pickle).

    Examples
    --------
    >>> as_label_array(np.array(["b", "a", "b"], dtype=object))
    array(['a', 'b'], dtype='<U1')
    """
    classes = np.unique(np.asarray(labels))
    if classes.dtype == object and all(isinstance(c, str) for c in classes):
        classes = classes.astype(str)
    return classes


def encode_labels(y: NDArray[Any], classes: NDArray[Any]) -> NDArray[np.intp]:
    """Indices of ``y`` in the sorted ``classes``; ValueError naming any label not in ``classes``.

    Examples
    --------
    >>> encode_labels(np.array(["b", "a"]), np.array(["a", "b"]))
    array([1, 0])
    """
    y = np.asarray(y)
    if y.dtype == object and classes.dtype.kind == "U":
        y = y.astype(str)
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, len(classes) - 1)
    unseen = classes[idx] != y
    if np.any(unseen):
        missing = np.unique(y[unseen])[:10].tolist()
        raise ValueError(
            f"y contains labels {missing} not in classes_ {classes.tolist()}; pass every label "
            "in `classes` on the first call to partial_fit."
        )
    return idx.astype(np.intp)


# -- X: dtypes that are not numbers, and magnitudes that overflow -------------------------------

_NUMBER_KINDS = "biuf"  # bool, signed, unsigned, float (complex is refused by scikit-learn)
_KIND_WORDS = {
    "U": "strings",
    "S": "bytes",
    "a": "bytes",
    "M": "datetime64",
    "m": "timedelta64",
    "V": "structured records",
    "O": "Python objects",
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(
        value, (np.datetime64, np.timedelta64)
    )


def _column_problem(values: Any, dtype: Any) -> str | None:
    """Why a column of ``dtype`` is not numeric, or None if it is."""
    if isinstance(dtype, np.dtype):
        if dtype.kind in _NUMBER_KINDS:
            return None
        if dtype.kind != "O":
            return f"has dtype {dtype} ({_KIND_WORDS.get(dtype.kind, 'not numbers')})"
        flat = np.ravel(values)
        where = next((i for i, v in enumerate(flat) if not _is_number(v)), None)
        if where is None:
            return None
        bad = flat[where]
        return f"has dtype object holding a {type(bad).__name__} value ({bad!r})"
    # pandas extension dtypes: nullable Int64/Float64/boolean are numeric; category, string,
    # datetime with a time zone, period and interval are not.
    kind = getattr(dtype, "kind", "O")
    name = getattr(dtype, "name", str(dtype))
    if kind in _NUMBER_KINDS and name != "category":
        return None
    return f"has dtype {name}"


def check_numeric_X(X: Any, name: str = "X") -> None:
    """Raise TypeError naming the first column of ``X`` that does not hold numbers.

    NumPy would convert numeric strings and datetimes to floats silently, and report other
    problems in its own words without the column; this check names the argument and the
    column. Accepts arrays, sparse matrices, array-likes and pandas DataFrames (columns by
    position and name). Object columns are scanned for their first non-number.

    Examples
    --------
    >>> check_numeric_X(np.zeros((2, 3)))
    >>> check_numeric_X(np.array([["1", "2"]]))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: X has dtype <U1 (strings): convert it to numbers ...
    """
    if sp.issparse(X):
        dtype = X.dtype
        if dtype.kind not in _NUMBER_KINDS and dtype.kind != "c":
            raise TypeError(f"{name} is a sparse matrix of dtype {dtype}: convert it to numbers")
        return
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(X, "columns") and hasattr(X, "iloc"):  # a DataFrame
        for i, (column, dtype) in enumerate(zip(X.columns, dtypes, strict=True)):
            problem = _column_problem(X.iloc[:, i].to_numpy(), dtype)
            if problem is not None:
                raise TypeError(
                    f"{name} column {i} ({column!r}) {problem}: convert it to numbers (e.g. "
                    "OneHotEncoder for categories, a timestamp or day count for dates)"
                )
        return
    if isinstance(X, np.ndarray):
        array = X
    else:
        if hasattr(X, "__array__") or hasattr(X, "__dask_graph__"):
            dtype = getattr(X, "dtype", None)
            if isinstance(dtype, np.dtype) and dtype.kind in _NUMBER_KINDS:
                return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                array = np.asarray(X)
        except (ValueError, TypeError):
            return  # ragged and other shapes: left to validate_data, which words them
    dtype = array.dtype
    if dtype.kind in _NUMBER_KINDS or dtype.kind == "c":
        return
    if dtype.kind == "O" and array.ndim == 2:
        for i in range(array.shape[1]):
            problem = _column_problem(array[:, i], dtype)
            if problem is not None:
                # Worded to keep scikit-learn's "argument must be a string or a number" hint.
                raise TypeError(
                    f"{name} column {i} {problem}: every argument must be a real number, not a "
                    "string or another non-number; convert it to numbers"
                )
        return
    problem = _column_problem(array, dtype)
    if problem is not None:
        raise TypeError(
            f"{name} {problem}: convert it to numbers (numeric strings and dates are not "
            "converted silently)"
        )


def report_sparse_format(X: Any, estimator: str, verbose: Any) -> None:
    """Say, when ``verbose``, that a sparse ``X`` other than CSR is converted to CSR for a fit.

    The conversion copies X's entries once (the passes read CSR); scikit-learn's
    ``validate_data`` does it silently.

    Examples
    --------
    >>> report_sparse_format(sp.eye(3, format="csc"), "SoftmaxRegression", verbose=1)
    [SoftmaxRegression] X is a sparse CSC matrix: converted to CSR once (a copy of its 3 entries)
    >>> report_sparse_format(sp.eye(3, format="csr"), "SoftmaxRegression", verbose=1)
    """
    if verbose and sp.issparse(X) and X.format != "csr":
        print(
            f"[{estimator}] X is a sparse {X.format.upper()} matrix: converted to CSR once "
            f"(a copy of its {X.nnz} entries)"
        )


def check_magnitude(X: Any, scale: float = 1.0, name: str = "X") -> None:
    """Raise ValueError if ``|scale * X|`` is too large for the fit's floating-point arithmetic.

    The softmax objective's Hessian holds products ``x_i x_j`` summed over the features, so
    ``max|X|**2 * n_features`` must stay well inside the dtype's range: the limit is
    ``sqrt(finfo.max / (1e4 * n_features))`` of X's float dtype (float32 for integer input),
    about 4.8e150 for float64 and 6.6e15 for float32 with 784 features. Finite values only
    (non-finite ones are scikit-learn's to refuse). One pass over X (min and max, no copy).

    Examples
    --------
    >>> check_magnitude(np.array([[1.0, 2.0]]))
    >>> check_magnitude(np.array([[1e300, 2.0]]))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X contains values too large for float64 arithmetic: max |X| = 1e+300 (limit ...
    """
    data = X.data if sp.issparse(X) else X
    if not isinstance(data, np.ndarray) or data.size == 0 or data.dtype.kind not in "iuf":
        return
    dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float32)
    n_features = X.shape[1] if X.ndim == 2 else 1
    with np.errstate(over="ignore", invalid="ignore"):
        largest = max(abs(float(data.max())), abs(float(data.min()))) * abs(float(scale))
    limit = float(np.sqrt(float(np.finfo(dtype).max) / (1e4 * max(n_features, 1))))
    if not largest <= limit:
        raise ValueError(
            f"{name} contains values too large for {dtype} arithmetic: max |{name}| = "
            f"{largest:.2g} (limit {limit:.2g} for {n_features} features); scale the features "
            "(e.g. StandardScaler, or pixels / 255)"
        )


def check_validation_split(
    n_samples: int, n_classes: int, validation_fraction: float, stratified: bool
) -> None:
    """Raise ValueError unless ``early_stopping`` can hold out ``validation_fraction`` of rows.

    The held-out part is ``ceil(validation_fraction * n_samples)`` rows and the rest trains;
    a stratified split needs at least one row per class in each.

    Examples
    --------
    >>> check_validation_split(1797, 10, 0.1, stratified=True)
    >>> check_validation_split(1797, 10, 0.001, stratified=True)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: validation_fraction=0.001 holds out 2 of 1797 samples, fewer than the 10 classes...
    """
    n_val = int(np.ceil(validation_fraction * n_samples))
    n_train = n_samples - n_val
    need = n_classes if stratified else 1
    if n_val < need:
        smallest = need / n_samples
        raise ValueError(
            f"validation_fraction={validation_fraction:g} holds out {n_val} of {n_samples} "
            f"samples, fewer than the {need} {'classes' if stratified else 'sample'} "
            f"early_stopping needs in the validation set; use validation_fraction >= "
            f"{smallest:.3g}, more samples, or early_stopping=False"
        )
    if n_train < need:
        raise ValueError(
            f"validation_fraction={validation_fraction:g} leaves {n_train} of {n_samples} "
            f"samples to train on, fewer than the {need} needed; lower validation_fraction"
        )

"""Shared checks of targets, labels and sample weights for softreg's estimators.

Thin layers over scikit-learn's own validation, so error messages read as scikit-learn users
expect, plus the checks scikit-learn leaves to each estimator (multi-label targets, unseen labels
in ``partial_fit``, label arrays that can be saved without pickle).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from sklearn.utils.multiclass import type_of_target


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

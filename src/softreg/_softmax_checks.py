"""What a `SoftmaxRegression` refuses: the checks of what it is handed.

Functions of the estimator (passed as ``model``; this module imports none): ``X`` and ``y`` for
a fit (``fit``, ``partial_fit``, :func:`softreg.stats.summary`) and ``X`` for prediction, side
by side so both accept the same data; the settings ``partial_fit`` cannot use; and fitted
attributes restored from a file (:func:`softreg.io.load` calls ``_validate_state``). The data
checks wrap :mod:`softreg._validation`'s and scikit-learn's ``validate_data``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from softreg._sklearn_params import n_iter_array
from softreg._softmax_fit import dense_coef, scale_of
from softreg._validation import (
    check_magnitude,
    check_numeric_X,
    is_dense_integer,
    reject_multilabel,
    report_sparse_format,
)


def accepted_dtypes(model: Any, X: Any) -> Any:
    """Accepted dtypes: also X's own integer dtype when ``input_scale`` is set (no copy)."""
    if model.input_scale is not None and is_dense_integer(X):
        return None
    return [np.float64, np.float32]


def validate_fit_data(
    model: Any,
    X: Any,
    y: Any,
    reset: bool,
    multilabel_hint: str = "MLPClassifier or OneVsRestClassifier",
) -> tuple[Any, NDArray[Any]]:
    """``X`` (CSR if sparse) and ``y`` checked for a fit of ``model``; ``reset`` as in
    scikit-learn's ``validate_data`` (sets ``n_features_in_``, ``feature_names_in_``).
    ``multilabel_hint`` names what to use instead when ``y`` is multi-label."""
    reject_multilabel(y, type(model).__name__, multilabel_hint)
    check_numeric_X(X)
    report_sparse_format(X, type(model).__name__, model.verbose)
    X, y = validate_data(
        model, X, y, accept_sparse="csr", dtype=accepted_dtypes(model, X), reset=reset
    )
    check_magnitude(X, scale_of(model))
    check_classification_targets(y)
    if X.shape[0] == 0:
        raise ValueError("X has 0 samples; at least one is required.")
    return X, y


def validate_X(model: Any, X: Any) -> Any:
    """``X`` (CSR if sparse) checked for prediction by the fitted ``model``."""
    check_numeric_X(X)
    X = validate_data(model, X, accept_sparse="csr", dtype=accepted_dtypes(model, X), reset=False)
    check_magnitude(X, scale_of(model))
    return X


def check_fit_classes(classes: NDArray[Any], estimator: str) -> None:
    """Raise ValueError unless ``classes`` (the sorted labels of a fit's ``y``) are >= 2."""
    if len(classes) < 2:
        raise ValueError(
            f"{estimator} needs samples of at least 2 classes in y, but y "
            f"contains only one class: {classes[0]!r}."
        )


def check_stream_classes(classes: NDArray[Any]) -> None:
    """Raise ValueError unless ``classes`` (``partial_fit``'s, sorted) are >= 2 labels."""
    if len(classes) < 2:
        raise ValueError(f"classes must contain at least 2 labels, got {classes.tolist()}.")


def check_partial_fit_penalty(model: Any, l1_ratio: float) -> None:
    """Raise ValueError unless the resolved penalty (its ``l1_ratio``) is L2 or none."""
    if l1_ratio > 0:
        raise ValueError(
            "partial_fit supports only an L2 penalty or none (l1_ratio=0 or C=np.inf), got "
            f"l1_ratio={model.l1_ratio!r} with penalty={model.penalty!r}."
        )


def check_state(model: Any) -> None:
    """Raise ValueError if restored fitted attributes of ``model`` are inconsistent."""
    classes = np.asarray(model.classes_)
    if classes.ndim != 1 or len(classes) < 2 or classes.dtype == object:
        raise ValueError(f"classes_ must be a 1-d non-object array of >= 2 labels, got {classes!r}")
    k, d = len(classes), int(model.n_features_in_)
    coef, intercept = dense_coef(model), np.asarray(model.intercept_)
    if coef.shape != (k, d) or intercept.shape != (k,):
        raise ValueError(
            f"coef_ must have shape {(k, d)} and intercept_ {(k,)}, got {coef.shape} and "
            f"{intercept.shape}"
        )
    if coef.dtype not in (np.float32, np.float64) or intercept.dtype != coef.dtype:
        raise ValueError(
            f"coef_ and intercept_ must share a float32/float64 dtype, got {coef.dtype} "
            f"and {intercept.dtype}"
        )
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise ValueError("coef_ and intercept_ must be finite")
    n_iter = np.asarray(model.n_iter_)
    if (
        n_iter.size != 1
        or n_iter.dtype.kind not in "iu"
        or int(n_iter.reshape(())) < 0
        or not isinstance(model.history_, list)
    ):
        raise ValueError(
            "n_iter_ must be a non-negative integer (an int32 array of shape (1,)) and "
            f"history_ a list of dicts, got n_iter_={model.n_iter_!r}"
        )
    model.n_iter_ = n_iter_array(n_iter)  # model files of softreg 0.1.0 hold a plain int


def check_temperature(model: Any) -> None:
    """Raise ValueError unless an optional ``temperature_`` is a finite float > 0."""
    temperature = getattr(model, "temperature_", None)
    if temperature is not None and not (
        isinstance(temperature, (float, int)) and np.isfinite(temperature) and temperature > 0
    ):
        raise ValueError(f"temperature_ must be a finite float > 0, got {temperature!r}")

"""What an `MLPClassifier` refuses: settings out of range, and an ``X`` it cannot use.

:data:`PARAMETER_CONSTRAINTS` is the estimator's ``_parameter_constraints``: the types and ranges
that scikit-learn's ``_fit_context`` checks before a fit looks at the data (its
``InvalidParameterError`` names the parameter). The checks of ``X`` for a fit and for prediction
sit side by side so both accept the same data: numeric
(:func:`softreg._validation.check_numeric_X`), then scikit-learn's ``validate_data`` as float32,
then magnitudes the float32 network can take (:func:`softreg._validation.check_magnitude`).
Functions of the estimator (passed as ``model``; this module imports none). The checks of a
restored network are in :mod:`softreg.mlp.state`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from softreg._validation import check_magnitude, check_numeric_X
from softreg.mlp.layers import ACTIVATIONS

__all__ = ["PARAMETER_CONSTRAINTS", "validate_X", "validate_fit_data"]

#: ``MLPClassifier._parameter_constraints``: what each parameter of ``__init__`` may be.
PARAMETER_CONSTRAINTS: dict[str, list[Any]] = {
    "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "solver": [StrOptions({"adam", "sgd"})],
    "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
    "learning_rate_schedule": [StrOptions({"constant", "cosine"})],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
    "alpha": [Interval(numbers.Real, 0, None, closed="left")],
    "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "random_state": ["random_state", np.random.Generator],
    "warm_start": ["boolean"],
    "verbose": ["verbose"],
}


def validate_fit_data(
    model: Any, X: ArrayLike, y: ArrayLike, *, reset: bool
) -> tuple[NDArray[np.float32], NDArray[Any]]:
    """``X`` as float32 and ``y`` as an array (labels or an indicator matrix) for a fit.

    ``reset``: record ``n_features_in_`` (a new fit) rather than check against it (a fit that
    continues the fitted network).
    """
    check_numeric_X(X)
    X_checked, y_checked = validate_data(
        model, X, y, reset=reset, dtype=np.float32, multi_output=True, y_numeric=False
    )
    X = np.asarray(X_checked)
    check_magnitude(X)
    return X, np.asarray(y_checked)


def validate_X(model: Any, X: ArrayLike) -> NDArray[np.float32]:
    """``X`` as float32 for prediction by the fitted ``model`` (its features as in the fit)."""
    check_is_fitted(model)
    check_numeric_X(X)
    X_checked = np.asarray(validate_data(model, X, reset=False, dtype=np.float32))
    check_magnitude(X_checked)
    return X_checked

"""What ``SoftmaxRegressionCV.fit`` fits on: the checked data, weights, grid and folds.

``SoftmaxRegression``'s checks run on ``X`` and ``y`` before any fold is fitted (a magnitude
that overflows the Hessian gave "Eigenvalues did not converge" from the first fold's
preconditioner); then the fits' sample weights (``class_weight`` included), the grid of ``C``
(:func:`softreg.path.default_Cs` when ``Cs`` is an int) and the folds
(:func:`softreg._cv_path.checked_folds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils.validation import _check_sample_weight

from softreg._cv_path import checked_folds
from softreg._softmax_checks import check_fit_classes, validate_fit_data
from softreg._softmax_fit import sample_weights
from softreg._validation import as_label_array, encode_labels
from softreg.path import check_Cs, check_weighted_classes, default_Cs

Array = NDArray[Any]


@dataclass
class CVData:
    """The inputs of one cross-validated fit (see :func:`cv_data`).

    Attributes
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        The labels.
    y_enc : ndarray of int of shape (n_samples,)
        Their indices in ``classes``.
    classes : ndarray of shape (n_classes,)
    sample_weight : ndarray of shape (n_samples,)
        The fits' weights: ``sample_weight`` times the class weights, in the arithmetic dtype.
    grid : ndarray of shape (n_Cs,)
    folds : list of (ndarray of int, ndarray of int)
        Training and validation rows.
    score_params : dict
        The scorer's metadata, its ``"sample_weight"`` checked (float64).
    scale : float
        ``input_scale`` (1 when None).
    """

    X: Any
    y: Array
    y_enc: Array
    classes: Array
    sample_weight: Array
    grid: Array
    folds: list[tuple[Array, Array]]
    score_params: dict[str, Any]
    scale: float


def cv_data(
    estimator: Any, X: Any, y: ArrayLike, sample_weight: ArrayLike | None, routed: dict[str, Any]
) -> CVData:
    """``SoftmaxRegressionCV`` ``estimator``'s inputs, checked (it sets ``n_features_in_`` and
    ``classes_``).

    ``routed`` is :func:`softreg._cv_params.routed_params`'s: its ``"split"`` metadata goes to
    the splitter, its ``"score"`` metadata to the scorer.
    """
    X, y_arr = validate_fit_data(
        estimator, X, y, reset=True, multilabel_hint="OneVsRestClassifier(SoftmaxRegressionCV())"
    )
    y = np.asarray(y_arr)
    classes = estimator.classes_ = as_label_array(y)
    check_fit_classes(classes, type(estimator).__name__)
    y_enc = encode_labels(y, classes)
    k = len(classes)
    sw = sample_weights(estimator, sample_weight, X, y_enc)  # SoftmaxRegression's, as its fits
    check_weighted_classes(y_enc, k, sw)
    scale = 1.0 if estimator.input_scale is None else float(estimator.input_scale)
    grid = check_Cs(estimator.Cs)
    if isinstance(grid, int):
        grid = default_Cs(
            X, y_enc, k, sw, n_Cs=grid, scale=scale, fit_intercept=estimator.fit_intercept
        )
    folds = checked_folds(
        estimator.cv, X, y, sw, keep_oof=estimator.keep_oof, split_params=routed["split"]
    )
    score_params = routed["score"]
    if score_params.get("sample_weight") is not None:
        score_params["sample_weight"] = _check_sample_weight(
            score_params["sample_weight"], X, dtype=np.float64
        )
    return CVData(X, y, y_enc, classes, sw, grid, folds, score_params, scale)

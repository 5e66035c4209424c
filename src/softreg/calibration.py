"""Temperature scaling (Guo et al. 2017): one scalar ``T`` that makes softmax probabilities honest.

Conventions
-----------
For held-out logits ``z_i`` of shape (n_classes,) and labels ``y_i``, temperature scaling
predicts ``softmax(z_i / T)``: the ranking (hence ``predict``) is unchanged, the confidence is
sharpened (``T < 1``) or softened (``T > 1``). ``T`` minimises the held-out mean negative
log-likelihood, written in the inverse temperature ``beta = 1 / T``:

.. math::

    f(\\beta) = \\frac{1}{S} \\sum_i s_i \\left[\\operatorname{logsumexp}(\\beta z_i)
               - \\beta z_{i, y_i}\\right], \\qquad
    f'(\\beta) = \\frac{1}{S} \\sum_i s_i \\left(\\mathbb{E}_{p_i}[z_i] - z_{i, y_i}\\right),
    \\qquad f''(\\beta) = \\frac{1}{S} \\sum_i s_i \\operatorname{Var}_{p_i}[z_i] \\ge 0,

with ``p_i = softmax(beta z_i)``: ``f`` is convex in ``beta`` (a log-partition function plus a
linear term), so a safeguarded 1-D Newton iteration reaches its minimiser to machine precision
in a handful of steps (:func:`fit_temperature`). The minimiser is finite and positive exactly
when ``f'(0) < 0`` (the logits rank the true class above their average) and ``f'`` turns
positive somewhere (some sample is not predicted perfectly); otherwise a ``ValueError`` says
which of the two fails.
"""

from __future__ import annotations

import copy
import warnings
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d

from softreg._validation import as_label_array, encode_labels
from softreg.functional import log_softmax, softmax

__all__ = ["TemperatureScaling", "fit_temperature"]

Array = NDArray[Any]


def _moments(z: Array, y: Array, w: Array, beta: float) -> tuple[float, float, float]:
    """``(f, f', f'')`` at ``beta`` for row-max-shifted logits ``z`` (see the module doc)."""
    bz = beta * z
    log_p = log_softmax(bz, axis=1)
    p = np.exp(log_p)
    rows = np.arange(len(y))
    mean = np.sum(p * z, axis=1)
    var = np.sum(p * (z - mean[:, None]) ** 2, axis=1)
    return (
        float(-np.dot(w, log_p[rows, y])),
        float(np.dot(w, mean - z[rows, y])),
        float(np.dot(w, var)),
    )


def fit_temperature(
    logits: ArrayLike,
    y: ArrayLike,
    sample_weight: ArrayLike | None = None,
    *,
    max_iter: int = 100,
) -> tuple[float, int]:
    """The temperature minimising the mean NLL of ``softmax(logits / T)``, by 1-D Newton.

    Parameters
    ----------
    logits : array-like of shape (n_samples, n_classes)
        Held-out logits (any per-row shift: ``log_proba`` works too).
    y : array-like of int of shape (n_samples,)
        Class indices (columns of ``logits``).
    sample_weight : array-like of shape (n_samples,), optional
    max_iter : int, default=100
        Newton iterations at most (convergence typically takes 5-8). A run that ends there
        unconverged warns (``ConvergenceWarning``) and returns its last temperature.

    Returns
    -------
    temperature : float
        ``T > 0``, to machine precision in ``1 / T``.
    n_iter : int
        Newton iterations used.

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.array([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0], [0.0, 4.0]])
    >>> T, _ = fit_temperature(logits, [0, 1, 1, 1])  # one confident mistake: soften
    >>> round(T, 6), round(4 / T, 6)  # sigmoid(4 / T) = 3/4, so 4 / T = log(3)
    (3.640957, 1.098612)
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"logits must have shape (n_samples, n_classes >= 2), got {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits must be finite (log-probabilities of exactly 0 are -inf)")
    y = np.asarray(y)
    if y.shape != (len(z),) or y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(
            f"y must be {len(z)} class indices in [0, {z.shape[1] - 1}], got {y.dtype} {y.shape}"
        )
    w = np.ones(len(z)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if w.shape != (len(z),) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"sample_weight must be {len(z)} finite non-negative weights, not all 0")
    w = w / w.sum()
    z = z - z.max(axis=1, keepdims=True)  # no change to f; keeps exp(beta z) <= 1
    y = y.astype(np.intp)

    rows = np.arange(len(y))
    _, slope0, _ = _moments(z, y, w, 0.0)
    if slope0 >= 0:
        raise ValueError(
            "the logits carry no information about y on this calibration set (on average the "
            "true class scores no higher than the mean logit), so the NLL falls as T -> inf; "
            "check that logits and labels belong together"
        )
    others = z.copy()
    others[rows, y] = -np.inf
    if np.all(w[z[rows, y] <= others.max(axis=1)] == 0):
        # f'(beta) < 0 for every beta: the NLL keeps falling as T -> 0.
        raise ValueError(
            "every calibration sample is predicted perfectly (its class has the strictly "
            "largest logit), so the NLL falls as T -> 0 without a minimum; calibrate on more "
            "(held-out) data"
        )
    lo, hi = 0.0, 1.0
    while _moments(z, y, w, hi)[1] < 0:  # bracket the root of f': f'(lo) < 0 <= f'(hi)
        lo, hi = hi, 2 * hi
    # f' is a weighted mean of terms of size <= max|z|: below this it is rounding noise.
    noise = 16 * np.finfo(float).eps * float(np.dot(w, -z.min(axis=1)))
    beta = min(max(1.0, lo), hi)
    n_iter, converged, step = 0, False, np.inf
    while n_iter < max_iter:
        n_iter += 1
        _, slope, curvature = _moments(z, y, w, beta)
        if slope < 0:
            lo = beta
        else:
            hi = beta
        new = beta - slope / curvature if curvature > 0 else np.inf
        if not lo <= new <= hi:  # Newton left the bracket: bisect instead
            new = 0.5 * (lo + hi)
        step = abs(new - beta)
        converged = bool(abs(slope) <= noise or step <= 4 * np.finfo(float).eps * beta)
        beta = new
        if converged:
            break
    if not converged:
        warnings.warn(
            f"the temperature did not converge in max_iter={max_iter} Newton iterations "
            f"(its last step changed 1/T by {step:.3g}); increase max_iter",
            ConvergenceWarning,
            stacklevel=2,
        )
    return 1.0 / beta, n_iter


def _logits_of(estimator: Any, X: Any) -> Array:
    """An ``(n_samples, n_classes)`` logit array from a fitted classifier (any row shift)."""
    if hasattr(estimator, "decision_function"):
        scores = np.asarray(estimator.decision_function(X), dtype=np.float64)
    else:
        scores = np.asarray(estimator.predict_log_proba(X), dtype=np.float64)
    return _as_logits(scores)


def _as_logits(scores: Array) -> Array:
    # A binary decision function is z_1 - z_0: the logits [0, z] give the same softmax.
    if scores.ndim == 1:
        return np.column_stack([np.zeros_like(scores), scores])
    return scores


class TemperatureScaling(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Calibrate a classifier's probabilities with one temperature (a scikit-learn meta-estimator).

    ``predict`` is the wrapped classifier's; ``predict_proba`` is ``softmax(logits / T)`` with
    the classifier's logits (``decision_function``, else ``predict_log_proba``).

    Parameters
    ----------
    estimator : classifier
        A softreg model or any scikit-learn classifier with ``decision_function`` or
        ``predict_log_proba``.
    cv : "prefit", int or cross-validation splitter, default="prefit"
        ``"prefit"``: ``estimator`` is already fitted and ``fit(X, y)`` only fits ``T`` on the
        held-out ``(X, y)`` given. Otherwise ``T`` is fitted on out-of-fold logits of clones
        of ``estimator`` (``cross_val_predict``) and ``estimator_`` is a clone refitted on all
        of ``(X, y)``.
    max_iter : int, default=100
        Newton iterations at most.

    Attributes
    ----------
    estimator_ : classifier
        The fitted classifier (``estimator`` itself when prefit).
    temperature_ : float
        ``T``.
    classes_ : ndarray of shape (n_classes,)
    n_iter_ : int
        Newton iterations.
    nll_before_, nll_after_ : float
        Mean NLL of the calibration logits at ``T = 1`` and at ``temperature_``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from softreg import SoftmaxRegression, TemperatureScaling
    >>> X, y = load_digits(return_X_y=True)
    >>> model = SoftmaxRegression(C=100.0).fit(X[:1000] / 16, y[:1000])
    >>> calibrated = TemperatureScaling(model).fit(X[1000:] / 16, y[1000:])
    >>> bool(calibrated.nll_after_ <= calibrated.nll_before_)
    True
    >>> bool((calibrated.predict(X / 16) == model.predict(X / 16)).all())
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimator": [HasMethods(["fit", "predict"])],
        "cv": [StrOptions({"prefit"}), "cv_object"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, estimator: Any = None, *, cv: Any = "prefit", max_iter: int = 100):
        self.estimator = estimator
        self.cv = cv
        self.max_iter = max_iter

    def fit(
        self, X: Any, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> TemperatureScaling:
        """Fit ``T`` (and, unless prefit, the classifier); returns ``self``."""
        self._validate_params()
        if self.estimator is None:
            raise ValueError("estimator must be a classifier, got None")
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            raise ValueError(
                f"y must be 1-D class labels: temperature scaling calibrates one softmax over "
                f"classes, not multi-label outputs; got y of shape {y.shape}"
            )
        y = column_or_1d(y, warn=True)
        if self.cv == "prefit":
            check_is_fitted(self.estimator, "classes_")
            self.estimator_ = self.estimator
            logits = _logits_of(self.estimator_, X)
        else:
            cv = check_cv(self.cv, y, classifier=True)
            params = {} if sample_weight is None else {"sample_weight": sample_weight}
            method = (
                "decision_function"
                if hasattr(self.estimator, "decision_function")
                else "predict_log_proba"
            )
            logits = _as_logits(
                np.asarray(
                    cross_val_predict(
                        clone(self.estimator), X, y, cv=cv, method=method, params=params
                    ),
                    dtype=np.float64,
                )
            )
            self.estimator_ = clone(self.estimator).fit(X, y, **params)
        self.classes_ = as_label_array(self.estimator_.classes_)
        if logits.shape[1] != len(self.classes_):
            raise ValueError(
                f"the estimator gives {logits.shape[1]} logits per sample for "
                f"{len(self.classes_)} classes; temperature scaling needs one per class"
            )
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        y_enc = encode_labels(np.asarray(y), self.classes_)
        self.temperature_, self.n_iter_ = fit_temperature(
            logits, y_enc, sample_weight, max_iter=self.max_iter
        )
        w = None if sample_weight is None else np.asarray(sample_weight, np.float64)
        rows = np.arange(len(y_enc))
        self.nll_before_ = float(-np.average(log_softmax(logits, axis=1)[rows, y_enc], weights=w))
        after = log_softmax(logits / self.temperature_, axis=1)[rows, y_enc]
        self.nll_after_ = float(-np.average(after, weights=w))
        return self

    def _calibrated_logits(self, X: Any) -> Array:
        check_is_fitted(self, "temperature_")
        return _logits_of(self.estimator_, X) / self.temperature_

    def decision_function(self, X: Any) -> Array:
        """Calibrated logits ``logits / T``, shape (n_samples, n_classes); for two classes
        ``(z_1 - z_0) / T`` of shape (n_samples,), as scikit-learn's binary classifiers."""
        logits = self._calibrated_logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X: Any) -> Array:
        """``softmax(logits / T)``, shape (n_samples, n_classes)."""
        return np.asarray(softmax(self._calibrated_logits(X), axis=1))

    def predict_log_proba(self, X: Any) -> Array:
        """``log_softmax(logits / T)`` (stable form), shape (n_samples, n_classes)."""
        return np.asarray(log_softmax(self._calibrated_logits(X), axis=1))

    def predict(self, X: Any) -> Array:
        """The wrapped classifier's predictions (a temperature never changes the argmax)."""
        check_is_fitted(self, "temperature_")
        return np.asarray(self.estimator_.predict(X))

    def calibrated_estimator(self) -> Any:
        """A copy of ``estimator_`` carrying ``temperature_``, to save in a model file.

        Only softreg's estimators know the attribute (their ``predict_proba`` divides the
        logits by it and `softreg.save` stores it); others raise ``TypeError``.
        """
        check_is_fitted(self, "temperature_")
        if "temperature_" not in getattr(self.estimator_, "_optional_state_attributes", ()):
            raise TypeError(
                f"{type(self.estimator_).__name__} cannot carry a temperature; keep the "
                "TemperatureScaling wrapper instead"
            )
        model = copy.deepcopy(self.estimator_)
        model.temperature_ = float(self.temperature_)
        return model

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

"""Statistical inference for a fitted `SoftmaxRegression`: standard errors, tests, a summary table.

``summary(model, X, y)`` answers what statsmodels' ``MNLogit(...).fit().summary()`` answers, from
the exact Hessian of softreg's own objective, for unpenalised and L2-penalised fits, and at
Fashion-MNIST size (7850 parameters).

What the standard errors mean
-----------------------------
The covariance is the inverse of the exact Hessian of ``F = sum_i s_i loss_i + ||W||^2 / (2C)``
at the fitted parameters (:mod:`softreg._hessian`), factored by Cholesky after a symmetric
diagonal scaling; no explicit inverse of the Hessian is formed.

* no penalty (``C=np.inf``): the usual maximum-likelihood (Wald) inference. The softmax
  parameters are not identified (adding one vector to every class changes nothing), so the
  inverse is taken in the baseline-category parametrisation, class ``reference`` fixed at 0;
  ``params``, ``bse``, ``pvalues`` and ``llf`` then equal statsmodels' ``MNLogit`` ones.
* an L2 penalty (``l1_ratio=0``, the default): the inverse of the *penalised* Hessian, i.e.
  the covariance of the Laplace
  (Gaussian) approximation to the posterior under the prior ``coef ~ N(0, C I)`` (flat on the
  intercept). These are Bayesian posterior standard deviations around the MAP estimate, not
  frequentist standard errors of an unbiased estimator: the penalty shrinks both the
  coefficients and their spread. ``cov_type="HC0"`` gives the sandwich
  ``H^{-1} (sum_i s_i^2 g_i g_i^T) H^{-1}`` instead, the frequentist covariance of the
  penalised estimator (robust to a misspecified model, and to the prior). The intercepts are
  still identified only up to a common shift, so they are handled as in the unpenalised case.

``cov_type="HC0"`` is the same sandwich for unpenalised fits (statsmodels' ``cov_type="HC0"``).

Parametrisations
----------------
``parametrization="baseline"`` (default) reports, for every class ``k`` other than
``reference``, ``beta_k = theta_k - theta_reference`` (``theta_k = [intercept_k, coef_k]``);
this is MNLogit's parametrisation when ``reference`` is the first class. ``"symmetric"``
reports softreg's own parameters for every class, centred over the classes where they are not
identified (the intercepts; also the coefficients when unpenalised). Their covariance is then
singular (rows sum to zero over classes) but every standard error is well defined. Both are
exact linear maps of the same fitted model, so predictions and tests do not depend on the
choice; the Wald test of a feature (all classes' coefficients equal, ``n_classes - 1``
degrees of freedom) is the same in both.

Limits and failures
-------------------
The dense Hessian has ``(n_classes * (n_features + 1))**2`` float64 entries; more than
``max_params`` parameters (default 16384, 2 GiB per matrix) is refused with an error naming the
limit (a sparse input with a huge number of features, for example). A singular or numerically
singular Hessian raises :class:`SingularHessianError` naming the parameters involved; an
unpenalised fit whose data look separated warns with :class:`SeparationWarning` naming the
classes; a model that is not at the optimum of its objective warns with a
``ConvergenceWarning``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as scipy_stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from softreg._covariance import (
    SingularHessianError,
    WaldTest,
    inverse_hessian,
    map_cov_inplace,
    map_values,
    wald_tests,
)
from softreg._hessian import DenseHessian, dense_hessian
from softreg._separation import SEPARATED as SEPARATED  # importable from here, as it always was
from softreg._separation import SeparationWarning, warn_separation
from softreg._summary_likelihood import likelihood_measures
from softreg._summary_names import class_label, param_names, term_names
from softreg._summary_parametrization import ReportedMaps, embedded, identified, reported_maps
from softreg._summary_result import Summary, check_alpha
from softreg._summary_text import STEP_SE_MAX
from softreg._validation import encode_labels

__all__ = [
    "MAX_PARAMS",
    "SeparationWarning",
    "SingularHessianError",
    "Summary",
    "WaldTest",
    "summary",
]

Array = NDArray[Any]

#: Largest number of parameters whose dense Hessian ``summary`` builds (2 GiB per matrix).
MAX_PARAMS = 16_384


def summary(
    model: Any,
    X: Any,
    y: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    cov_type: str = "nonrobust",
    parametrization: str = "baseline",
    reference: Any = None,
    alpha: float = 0.05,
    feature_names: list[str] | None = None,
    max_params: int = MAX_PARAMS,
) -> Summary:
    """Standard errors, z, p-values, intervals and likelihood tests of a fitted model.

    Parameters
    ----------
    model : SoftmaxRegression
        Fitted without a penalty (``C=np.inf``) or with L2 (see the module docstring for
        what each gives).
    X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        The data the model was fitted on (the same preprocessing; ``input_scale`` applies).
    y : array-like of shape (n_samples,)
        Its labels (values of ``model.classes_``).
    sample_weight : array-like of shape (n_samples,), optional
        The weights of the fit (``class_weight`` is applied as the model does).
    cov_type : {"nonrobust", "HC0"}, default="nonrobust"
        Inverse Hessian, or the sandwich.
    parametrization : {"baseline", "symmetric"}, default="baseline"
    reference : label, optional
        Baseline class; default ``model.classes_[0]``.
    alpha : float, default=0.05
        Confidence intervals are ``1 - alpha``.
    feature_names : list of str, optional
        Default ``model.feature_names_in_`` when present, else ``x0, x1, ...``.
    max_params : int, default=16384
        Refuse models with more parameters than this (the Hessian is dense).

    Returns
    -------
    Summary

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from softreg import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SoftmaxRegression(C=10.0, tol=1e-10).fit(X[:, :2], y)
    >>> result = summary(model, X[:, :2], y)
    >>> result.params.shape, result.equations, result.terms
    ((2, 3), [1, 2], ['intercept', 'x0', 'x1'])
    >>> round(result.llf, 3), round(result.prsquared, 3)
    (-58.685, 0.644)
    """
    C = _checked_penalty(model)
    if cov_type not in ("nonrobust", "HC0"):
        raise ValueError(f"cov_type must be 'nonrobust' or 'HC0', got {cov_type!r}")
    if parametrization not in ("baseline", "symmetric"):
        raise ValueError(
            f"parametrization must be 'baseline' or 'symmetric', got {parametrization!r}"
        )
    alpha = check_alpha(alpha)
    classes = np.asarray(model.classes_)
    n_classes, n_features = len(classes), int(model.n_features_in_)
    fit_intercept = bool(model.fit_intercept)
    n_terms = n_features + int(fit_intercept)
    _check_size(n_classes, n_terms, max_params)
    ref = _reference_index(classes, reference)
    names = term_names(model, feature_names, n_features, fit_intercept)

    # The exact Hessian of the objective at the fitted parameters, on the data of the fit.
    X, y_enc, weight = _fit_data(model, X, y, sample_weight, classes)
    theta = _fitted_theta(model, fit_intercept)
    scale = 1.0 if model.input_scale is None else float(model.input_scale)
    parts = dense_hessian(
        X, y_enc, weight, theta, C=C, fit_intercept=fit_intercept, scale=scale,
        with_meat=cov_type == "HC0",
    )  # fmt: skip
    if math.isinf(C):
        warn_separation(parts.proba_true, y_enc, classes)

    # Covariance of the identified parameters, then of the reported ones.
    flat = identified(n_classes, n_terms, ref, C, fit_intercept)
    cov_flat, step_se = _identified_covariance(
        parts, flat, param_names(classes, names, flat, n_terms)
    )
    if step_se > STEP_SE_MAX:
        warnings.warn(
            f"the model is not at the optimum of its objective: a Newton step of "
            f"{step_se:.3g} standard errors remains; refit with a smaller tol (e.g. 1e-8) "
            "for trustworthy inference",
            ConvergenceWarning,
            stacklevel=2,
        )
    maps = reported_maps(parametrization, classes, ref, C)
    fitted = embedded(theta, ref, C, fit_intercept)
    params = map_values(fitted, maps.map_coef, maps.map_int, fit_intercept)
    cov, wald = _reported_covariance(cov_flat, fitted, maps, names, ref, fit_intercept)
    del cov_flat  # mapped in place into cov (or copied without the reference's row)
    bse = _standard_errors(cov, maps.equations, names)
    zvalues = params / bse
    pvalues = 2 * scipy_stats.norm.sf(np.abs(zvalues))

    return Summary(
        params=params,
        bse=bse,
        zvalues=zvalues,
        pvalues=pvalues,
        equations=maps.equations,
        terms=names,
        alpha=alpha,
        **likelihood_measures(parts.loglik, y_enc, weight, n_classes, n_features, fit_intercept),
        newton_step_se=step_se,
        cov_type=cov_type,
        parametrization=parametrization,
        reference=classes[ref].item() if hasattr(classes[ref], "item") else classes[ref],
        penalty="none" if math.isinf(C) else f"l2 (C={model.C:g})",
        model_name=type(model).__name__,
        _cov=cov,
        _wald=wald,
    )


# -- the steps of summary, in order ---------------------------------------------------------------


def _checked_penalty(model: Any) -> float:
    """``C`` of a fitted ``SoftmaxRegression`` with an L2 penalty or none; refuses any other."""
    from softreg import _softmax_fit
    from softreg.softmax_regression import SoftmaxRegression

    if not isinstance(model, SoftmaxRegression):
        raise TypeError(
            "model must be a fitted softreg SoftmaxRegression (a linear softmax model), got "
            f"{type(model).__name__}"
        )
    check_is_fitted(model)
    C, l1_ratio = _softmax_fit.penalty_args(model)
    if l1_ratio != 0:
        raise ValueError(
            f"summary needs an L2 penalty or none, got an L1 share l1_ratio={l1_ratio!r}: "
            "standard errors of an L1 (lasso) or elastic-net fit are not defined by its Hessian"
        )
    return C


def _check_size(n_classes: int, n_terms: int, max_params: int) -> None:
    """Refuse more than ``max_params`` parameters, naming the memory of the dense Hessian."""
    n_params = n_classes * n_terms
    if n_params > max_params:
        gib = n_params**2 * 8 / 2**30
        raise ValueError(
            f"summary builds the dense Hessian of all {n_params} parameters ({n_classes} classes "
            f"x {n_terms} terms, {gib:.1f} GiB per matrix), over the limit max_params="
            f"{max_params}; select fewer features or raise max_params if memory allows"
        )


def _reference_index(classes: Array, reference: Any) -> int:
    """Index in ``classes`` of the baseline class ``reference`` (None: the first class)."""
    if reference is None:
        return 0
    hits = np.flatnonzero(classes == reference)
    if len(hits) != 1:
        raise ValueError(f"reference must be one of {classes.tolist()}, got {reference!r}")
    return int(hits[0])


def _fit_data(
    model: Any, X: Any, y: ArrayLike, sample_weight: ArrayLike | None, classes: Array
) -> tuple[Any, Array, Array]:
    """``X`` as the model's fit sees it, ``y`` as class indices, and the fit's sample weights."""
    from softreg import _softmax_checks, _softmax_fit

    X, y_checked = _softmax_checks.validate_fit_data(model, X, y, reset=False)
    y_enc = encode_labels(y_checked, classes)
    weight = np.asarray(
        _softmax_fit.sample_weights(model, sample_weight, X, y_enc), dtype=np.float64
    )
    return X, y_enc, weight


def _fitted_theta(model: Any, fit_intercept: bool) -> Array:
    """The fitted parameters as ``theta`` of shape (n_classes, n_terms): ``[intercept, coef]``."""
    theta = np.asarray(model.coef_, dtype=np.float64)
    if fit_intercept:
        theta = np.hstack([np.asarray(model.intercept_, np.float64)[:, None], theta])
    return theta


def _identified_covariance(
    parts: DenseHessian, flat: Array, names: list[str]
) -> tuple[Array, float]:
    """Covariance of all parameters, 0 outside the identified ones ``flat``; the step left.

    Takes the identified block of ``parts.hessian`` (and ``parts.meat``) and frees the full
    matrices, so that no more than two matrices of the full size are alive at once. The step
    is the Newton step left at the fitted parameters in units of its standard error.
    """
    n_params = parts.hessian.shape[0]
    hessian = parts.hessian[np.ix_(flat, flat)]
    meat = None if parts.meat is None else parts.meat[np.ix_(flat, flat)]
    del parts.hessian, parts.meat  # the full matrices are no longer needed
    cov_kept, step_se = inverse_hessian(hessian, parts.grad.ravel()[flat], meat, names)
    del hessian, meat
    cov_flat = np.zeros((n_params, n_params))
    cov_flat[np.ix_(flat, flat)] = cov_kept
    return cov_flat, step_se


def _reported_covariance(
    cov_flat: Array,
    fitted: Array,
    maps: ReportedMaps,
    names: list[str],
    ref: int,
    fit_intercept: bool,
) -> tuple[Array, dict[str, WaldTest]]:
    """Wald tests of every term, then the reported parameters' covariance, raveled row-major.

    The tests read ``cov_flat`` before it is mapped to the reported parametrisation in place.
    """
    n_classes, n_terms = fitted.shape
    cov_full = cov_flat.reshape(n_classes, n_terms, n_classes, n_terms)
    wald = wald_tests(fitted, cov_full, names, ref)
    cov = map_cov_inplace(cov_full, maps.shift_coef, maps.shift_int, fit_intercept, maps.drop)
    n_eq = len(maps.equations)
    return cov.reshape(n_eq * n_terms, n_eq * n_terms), wald


def _standard_errors(cov: Array, equations: list[Any], names: list[str]) -> Array:
    """Square roots of the variances, shape (n_equations, n_terms); refuses any not positive."""
    variance = np.diag(cov).reshape(len(equations), len(names)).copy()
    if not np.all(variance > 0):  # never a silent z of inf or NaN
        bad = np.argwhere(~(variance > 0))[:5]
        listed = ", ".join(f"class {class_label(equations[a])} / {names[j]}" for a, j in bad)
        raise SingularHessianError(
            f"the covariance has non-positive variances ({listed}); the Hessian is "
            "numerically singular"
        )
    return np.sqrt(variance)

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
from softreg._hessian import dense_hessian
from softreg._summary_text import STEP_SE_MAX, ci_names, render
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
#: A sample whose own class is predicted with probability above ``1 - SEPARATED`` is taken as
#: perfectly predicted: a finite maximum-likelihood fit needs a logit gap above 23 for that.
SEPARATED = 1e-10


class SeparationWarning(UserWarning):
    """An unpenalised fit predicts some samples perfectly: the MLE may not exist."""


class Summary:
    """Result of :func:`summary`; arrays have shape (n_equations, n_terms).

    Attributes
    ----------
    params, bse, zvalues, pvalues : ndarray of shape (n_equations, n_terms)
        Estimates, standard errors, ``params / bse`` and two-sided normal p-values.
    equations : list
        The class of each row (every class but ``reference`` in the baseline parametrisation).
    terms : list of str
        ``"intercept"`` (when fitted) followed by the feature names.
    llf, llnull, llr, llr_pvalue, prsquared, aic, bic : float
        Log-likelihood (weighted, without the penalty), of the intercept-only model (uniform
        without intercept), the LR statistic ``2 (llf - llnull)`` with its chi-squared p-value on
        ``df_model`` degrees of freedom, McFadden's ``1 - llf / llnull``,
        ``-2 llf + 2 k_params`` and ``-2 llf + log(nobs) k_params``.
    nobs, df_model, k_params : int
        Samples, slope parameters ``(n_classes - 1) n_features`` and identified parameters
        ``(n_classes - 1) n_terms``. For an L2 fit these are nominal counts (the penalty makes
        the effective number smaller), as are AIC, BIC and the LR test.
    newton_step_se : float
        Largest remaining Newton step in units of its standard error (0 at the exact optimum).
    """

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    params: Array
    bse: Array
    zvalues: Array
    pvalues: Array
    equations: list[Any]
    terms: list[str]
    alpha: float
    llf: float
    llnull: float
    llr: float
    llr_pvalue: float
    prsquared: float
    aic: float
    bic: float
    nobs: int
    df_model: int
    k_params: int
    newton_step_se: float
    cov_type: str
    parametrization: str
    reference: Any
    penalty: str
    model_name: str
    _cov: Array
    _wald: dict[str, WaldTest]

    def cov_params(self) -> Array:
        """Covariance of the raveled ``params`` (row-major), shape (n_params, n_params)."""
        return self._cov

    def conf_int(self, alpha: float | None = None) -> Array:
        """Normal ``1 - alpha`` intervals, shape (n_equations, n_terms, 2); default ``alpha``."""
        alpha = self.alpha if alpha is None else _check_alpha(alpha)
        q = scipy_stats.norm.ppf(1 - alpha / 2)
        return np.stack([self.params - q * self.bse, self.params + q * self.bse], axis=-1)

    def wald_test(self, term: Any) -> WaldTest:
        """Wald test that ``term`` (a name or a column index) has no effect on any class."""
        if isinstance(term, (int, np.integer)) and not isinstance(term, bool):
            if not 0 <= term < len(self.terms):
                raise ValueError(f"term index must be in [0, {len(self.terms) - 1}], got {term}")
            term = self.terms[term]
        if term not in self._wald:
            raise ValueError(f"term must be one of {self.terms[:8]}..., got {term!r}")
        return self._wald[term]

    def to_frame(self) -> Any:
        """A pandas DataFrame, one row per (equation, term): coef, std err, z, P>|z|, CI."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is a dev dependency
            raise ImportError("Summary.to_frame needs pandas: pip install pandas") from exc
        ci = self.conf_int()
        lo, hi = ci_names(self.alpha)
        index = pd.MultiIndex.from_product([self.equations, self.terms], names=["class", "term"])
        return pd.DataFrame(
            {
                "coef": self.params.ravel(),
                "std err": self.bse.ravel(),
                "z": self.zvalues.ravel(),
                "P>|z|": self.pvalues.ravel(),
                lo: ci[..., 0].ravel(),
                hi: ci[..., 1].ravel(),
            },
            index=index,
        )

    def __str__(self) -> str:
        return render(self)

    def __repr__(self) -> str:
        return (
            f"<Summary {self.model_name}: {len(self.equations)} equations x {len(self.terms)} "
            f"terms, llf={self.llf:.6g}, cov_type={self.cov_type!r}>"
        )


def _check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"alpha must be a float in (0, 1), got {alpha!r}")
    return float(alpha)


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
    from softreg import _softmax_checks, _softmax_fit
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
    if cov_type not in ("nonrobust", "HC0"):
        raise ValueError(f"cov_type must be 'nonrobust' or 'HC0', got {cov_type!r}")
    if parametrization not in ("baseline", "symmetric"):
        raise ValueError(
            f"parametrization must be 'baseline' or 'symmetric', got {parametrization!r}"
        )
    alpha = _check_alpha(alpha)
    classes = np.asarray(model.classes_)
    n_classes, n_features = len(classes), int(model.n_features_in_)
    fit_intercept = bool(model.fit_intercept)
    n_terms = n_features + int(fit_intercept)
    n_params = n_classes * n_terms
    if n_params > max_params:
        gib = n_params**2 * 8 / 2**30
        raise ValueError(
            f"summary builds the dense Hessian of all {n_params} parameters ({n_classes} classes "
            f"x {n_terms} terms, {gib:.1f} GiB per matrix), over the limit max_params="
            f"{max_params}; select fewer features or raise max_params if memory allows"
        )
    if reference is None:
        ref = 0
    else:
        hits = np.flatnonzero(classes == reference)
        if len(hits) != 1:
            raise ValueError(f"reference must be one of {classes.tolist()}, got {reference!r}")
        ref = int(hits[0])
    names = _term_names(model, feature_names, n_features, fit_intercept)

    X, y_checked = _softmax_checks.validate_fit_data(model, X, y, reset=False)
    y_enc = encode_labels(y_checked, classes)
    weight = np.asarray(
        _softmax_fit.sample_weights(model, sample_weight, X, y_enc), dtype=np.float64
    )
    scale = 1.0 if model.input_scale is None else float(model.input_scale)
    theta = np.asarray(model.coef_, dtype=np.float64)
    if fit_intercept:
        theta = np.hstack([np.asarray(model.intercept_, np.float64)[:, None], theta])

    parts = dense_hessian(
        X, y_enc, weight, theta, C=C, fit_intercept=fit_intercept, scale=scale,
        with_meat=cov_type == "HC0",
    )  # fmt: skip
    if math.isinf(C):
        _warn_separation(parts.proba_true, y_enc, classes)

    # Identified parameters: with C = inf a whole class (the reference) is fixed at 0; with a
    # penalty only its intercept (the penalty pins the coefficients' common shift).
    keep = np.ones((n_classes, n_terms), dtype=bool)
    if math.isinf(C):
        keep[ref, :] = False
    elif fit_intercept:
        keep[ref, 0] = False
    flat = np.flatnonzero(keep.ravel())
    hessian = parts.hessian[np.ix_(flat, flat)]
    meat = None if parts.meat is None else parts.meat[np.ix_(flat, flat)]
    del parts.hessian, parts.meat  # the full matrices are no longer needed
    cov_kept, step_se = inverse_hessian(
        hessian, parts.grad.ravel()[flat], meat, _param_names(classes, names, flat, n_terms)
    )
    del hessian, meat
    if step_se > STEP_SE_MAX:
        warnings.warn(
            f"the model is not at the optimum of its objective: a Newton step of "
            f"{step_se:.3g} standard errors remains; refit with a smaller tol (e.g. 1e-8) "
            "for trustworthy inference",
            ConvergenceWarning,
            stacklevel=2,
        )

    # The fitted parameters in that identified form, then mapped to the reported ones.
    embedded = theta.copy()
    if math.isinf(C):
        embedded -= theta[ref]
    elif fit_intercept:
        embedded[:, 0] -= theta[ref, 0]
    cov_flat = np.zeros((n_params, n_params))
    cov_flat[np.ix_(flat, flat)] = cov_kept
    del cov_kept
    cov_full = cov_flat.reshape(n_classes, n_terms, n_classes, n_terms)
    centre = np.eye(n_classes) - 1.0 / n_classes
    uniform, none = np.full(n_classes, 1.0 / n_classes), np.zeros(n_classes)
    if parametrization == "baseline":
        equations = [c for k, c in enumerate(classes.tolist()) if k != ref]
        map_coef = np.delete(np.eye(n_classes), ref, axis=0)
        map_coef[:, ref] = -1.0
        map_int = map_coef
        shift_coef = shift_int = np.eye(n_classes)[ref]
        drop: int | None = ref
    else:
        equations = classes.tolist()
        map_coef = centre if math.isinf(C) else np.eye(n_classes)
        map_int = centre
        shift_coef = uniform if math.isinf(C) else none
        shift_int, drop = uniform, None
    params = map_values(embedded, map_coef, map_int, fit_intercept)
    wald = wald_tests(embedded, cov_full, names, ref)
    cov = map_cov_inplace(cov_full, shift_coef, shift_int, fit_intercept, drop)
    del cov_full, cov_flat
    n_eq = len(equations)
    cov = cov.reshape(n_eq * n_terms, n_eq * n_terms)
    variance = np.diag(cov).reshape(n_eq, n_terms).copy()
    if not np.all(variance > 0):  # never a silent z of inf or NaN
        bad = np.argwhere(~(variance > 0))[:5]
        listed = ", ".join(f"class {_label(equations[a])} / {names[j]}" for a, j in bad)
        raise SingularHessianError(
            f"the covariance has non-positive variances ({listed}); the Hessian is "
            "numerically singular"
        )
    bse = np.sqrt(variance)
    zvalues = params / bse
    pvalues = 2 * scipy_stats.norm.sf(np.abs(zvalues))

    llf = parts.loglik
    llnull = _null_loglik(y_enc, weight, n_classes, fit_intercept)
    df_model = (n_classes - 1) * n_features
    k_params = (n_classes - 1) * n_terms
    nobs = int(X.shape[0])
    llr = 2 * (llf - llnull)
    return Summary(
        params=params,
        bse=bse,
        zvalues=zvalues,
        pvalues=pvalues,
        equations=equations,
        terms=names,
        alpha=alpha,
        llf=llf,
        llnull=llnull,
        llr=llr,
        llr_pvalue=float(scipy_stats.chi2.sf(llr, df_model)) if df_model else math.nan,
        prsquared=1 - llf / llnull if llnull < 0 else math.nan,
        aic=-2 * llf + 2 * k_params,
        bic=-2 * llf + math.log(nobs) * k_params,
        nobs=nobs,
        df_model=df_model,
        k_params=k_params,
        newton_step_se=step_se,
        cov_type=cov_type,
        parametrization=parametrization,
        reference=classes[ref].item() if hasattr(classes[ref], "item") else classes[ref],
        penalty="none" if math.isinf(C) else f"l2 (C={model.C:g})",
        model_name=type(model).__name__,
        _cov=cov,
        _wald=wald,
    )


# -- pieces ---------------------------------------------------------------------------------------


def _term_names(
    model: Any, feature_names: list[str] | None, n_features: int, fit_intercept: bool
) -> list[str]:
    if feature_names is None:
        given = getattr(model, "feature_names_in_", None)
        feature_names = [f"x{j}" for j in range(n_features)] if given is None else list(given)
    names = [str(n) for n in feature_names]
    if len(names) != n_features:
        raise ValueError(
            f"feature_names must have {n_features} names (one per feature), got {len(names)}"
        )
    return (["intercept"] if fit_intercept else []) + names


def _param_names(classes: Array, terms: list[str], flat: Array, n_terms: int) -> list[str]:
    return [f"class {_label(classes[i // n_terms])} / {terms[i % n_terms]}" for i in flat]


def _label(value: Any) -> str:
    """A class label as its user wrote it: ``1``, ``'cat'`` (not ``np.int64(1)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _warn_separation(proba_true: Array, y_enc: Array, classes: Array) -> None:
    perfect = proba_true > 1 - SEPARATED
    if not perfect.any():
        return
    counts = np.bincount(y_enc[perfect], minlength=len(classes))
    totals = np.bincount(y_enc, minlength=len(classes))
    detail = ", ".join(
        f"class {_label(classes[k])}: {counts[k]} of {totals[k]}" for k in np.flatnonzero(counts)
    )
    kind = "complete" if perfect.all() else "quasi-complete"
    warnings.warn(
        f"{kind} separation: {int(perfect.sum())} of {len(perfect)} samples are predicted "
        f"with probability above 1 - {SEPARATED:g} for their class ({detail}); the "
        "unpenalised maximum-likelihood estimate may not exist (coefficients diverge), and its "
        "standard errors are then meaningless. Fit with a finite C (an L2 penalty) instead",
        SeparationWarning,
        stacklevel=3,
    )


def _null_loglik(y_enc: Array, weight: Array, n_classes: int, fit_intercept: bool) -> float:
    """Log-likelihood of the intercept-only model (class shares), or the uniform one."""
    total = float(weight.sum())
    if not fit_intercept:
        return total * math.log(1.0 / n_classes)
    mass = np.bincount(y_enc, weights=weight, minlength=n_classes)
    present = mass > 0
    return float(np.sum(mass[present] * np.log(mass[present] / total)))

"""The likelihood rows of a summary: the null model, the LR test, McFadden's R², AIC and BIC.

``llf`` is the fitted model's weighted log-likelihood (without the penalty). The null model is
the intercept-only one (each class predicted with its weighted share), or the uniform one when
the model has no intercept. For an L2 fit the parameter counts are nominal (the penalty makes
the effective number smaller), and so are AIC, BIC and the LR test.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as scipy_stats

__all__ = ["likelihood_measures", "null_loglik"]

Array = NDArray[Any]


def likelihood_measures(
    llf: float, y_enc: Array, weight: Array, n_classes: int, n_features: int, fit_intercept: bool
) -> dict[str, Any]:
    """The :class:`softreg.stats.Summary` fields from ``llf`` to ``k_params``, in its order.

    ``llnull``, the LR statistic ``llr = 2 (llf - llnull)`` with its chi-squared p-value on
    ``df_model = (n_classes - 1) n_features`` degrees of freedom, McFadden's ``1 - llf / llnull``,
    ``aic = -2 llf + 2 k_params`` and ``bic = -2 llf + log(nobs) k_params``, where ``k_params =
    (n_classes - 1) n_terms`` counts the identified parameters and ``nobs`` the samples.
    """
    llnull = null_loglik(y_enc, weight, n_classes, fit_intercept)
    df_model = (n_classes - 1) * n_features
    k_params = (n_classes - 1) * (n_features + int(fit_intercept))
    nobs = len(y_enc)
    llr = 2 * (llf - llnull)
    return {
        "llf": llf,
        "llnull": llnull,
        "llr": llr,
        "llr_pvalue": float(scipy_stats.chi2.sf(llr, df_model)) if df_model else math.nan,
        "prsquared": 1 - llf / llnull if llnull < 0 else math.nan,
        "aic": -2 * llf + 2 * k_params,
        "bic": -2 * llf + math.log(nobs) * k_params,
        "nobs": nobs,
        "df_model": df_model,
        "k_params": k_params,
    }


def null_loglik(y_enc: Array, weight: Array, n_classes: int, fit_intercept: bool) -> float:
    """Log-likelihood of the intercept-only model (class shares), or the uniform one."""
    total = float(weight.sum())
    if not fit_intercept:
        return total * math.log(1.0 / n_classes)
    mass = np.bincount(y_enc, weights=weight, minlength=n_classes)
    present = mass > 0
    return float(np.sum(mass[present] * np.log(mass[present] / total)))

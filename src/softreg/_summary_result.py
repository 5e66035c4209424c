"""The result of :func:`softreg.stats.summary`: estimates, standard errors and tests, by name.

A :class:`Summary` holds the reported parameters and their covariance; it answers intervals
(:meth:`Summary.conf_int`), per-term Wald tests (:meth:`Summary.wald_test`), a pandas table
(:meth:`Summary.to_frame`) and a printed one (``str``, laid out by :mod:`softreg._summary_text`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as scipy_stats

from softreg._covariance import WaldTest
from softreg._summary_text import ci_names, render

__all__ = ["Summary", "check_alpha"]

Array = NDArray[Any]


class Summary:
    """Result of :func:`softreg.stats.summary`; arrays have shape (n_equations, n_terms).

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
        alpha = self.alpha if alpha is None else check_alpha(alpha)
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


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float, for ``1 - alpha`` intervals; a ValueError unless it is in (0, 1)."""
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"alpha must be a float in (0, 1), got {alpha!r}")
    return float(alpha)


# The public module that documents and exports it: its name in reprs,
# tracebacks and pickles (which then survive a move of the code between private modules).
Summary.__module__ = "softreg.stats"

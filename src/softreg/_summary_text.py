"""The printed table of :class:`softreg.stats.Summary`, laid out like statsmodels' summary()."""

from __future__ import annotations

from typing import Any

STEP_SE_MAX = 1e-2


def ci_names(alpha: float) -> tuple[str, str]:
    """Column names of the ``1 - alpha`` interval bounds, e.g. ``("[0.025", "0.975]")``."""
    return f"[{alpha / 2:.3g}", f"{1 - alpha / 2:.3g}]"


def render(result: Any) -> str:
    width = 86
    left = [
        ("Model:", result.model_name),
        ("Penalty:", result.penalty),
        ("Parametrisation:", _param_label(result)),
        ("Covariance Type:", result.cov_type),
        ("No. Observations:", str(result.nobs)),
        ("Df Model:", str(result.df_model)),
    ]
    right = [
        ("Pseudo R-squ.:", f"{result.prsquared:.4f}"),
        ("Log-Likelihood:", f"{result.llf:.6g}"),
        ("LL-Null:", f"{result.llnull:.6g}"),
        ("LLR p-value:", f"{result.llr_pvalue:.4g}"),
        ("AIC:", f"{result.aic:.6g}"),
        ("BIC:", f"{result.bic:.6g}"),
    ]
    lines = [
        "softreg inference results".center(width),
        "=" * width,
    ]
    for (name_l, value_l), (name_r, value_r) in zip(left, right, strict=True):
        lines.append(f"{name_l:<18}{value_l:>24}   {name_r:<18}{value_r:>23}")
    lines.append("=" * width)
    lo, hi = ci_names(result.alpha)
    ci = result.conf_int()
    header = f"{'':<20}{'coef':>11}{'std err':>11}{'z':>9}{'P>|z|':>9}{lo:>13}{hi:>13}"
    for a, equation in enumerate(result.equations):
        lines.append(f"{'class=' + str(equation):<20}" + header[20:])
        lines.append("-" * width)
        for j, term in enumerate(result.terms):
            lines.append(
                f"{term[:19]:<20}{result.params[a, j]:>11.4f}{result.bse[a, j]:>11.4f}"
                f"{result.zvalues[a, j]:>9.3f}{result.pvalues[a, j]:>9.3f}"
                f"{ci[a, j, 0]:>13.4f}{ci[a, j, 1]:>13.4f}"
            )
        lines.append("=" * width)
    if result.newton_step_se > STEP_SE_MAX:
        lines.append(
            f"Warning: the fit is {result.newton_step_se:.3g} standard errors from the optimum."
        )
    return "\n".join(lines)


def _param_label(result: Any) -> str:
    if result.parametrization == "baseline":
        return f"baseline (ref {result.reference!r})"
    return "symmetric (centred)"

"""``softreg train --inference``: standard errors of the coefficients, for the run directory.

After the fit, :func:`softreg.stats.summary` gives each coefficient its standard error, z
statistic, two-sided p-value and 95% interval (the inverse Hessian at the optimum; with an L2
penalty the penalised Hessian's, see :mod:`softreg.stats` for what that means). The table,
one row per (class, term) in the baseline parametrisation, is written as ``inference.csv``,
which ``softreg report`` and the run's HTML page show; ``metrics.json`` records the
likelihood figures and the file's name.

Only a linear softmax model with an L2 penalty or none has such a table: ``--model mlp`` and an
L1 share are refused before any data is read, and a model whose dense Hessian would exceed
``softreg.stats.MAX_PARAMS`` parameters once the data's shape is known, before the fit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from softreg import stats
from softreg._summary_text import ci_names
from softreg._validation import is_real_number
from softreg.cli._errors import UsageError

__all__ = ["INFERENCE_CSV", "check_inference_model", "check_inference_size", "inference"]

INFERENCE_CSV = "inference.csv"


def check_inference_model(model: Any, model_name: str) -> None:
    """Refuse ``--inference`` for a model that cannot have the table (before the data loads).

    Examples
    --------
    >>> from softreg import SoftmaxRegression
    >>> check_inference_model(SoftmaxRegression(l1_ratio=0.5), "softmax")
    Traceback (most recent call last):
    ...
    softreg.cli._errors.UsageError: --inference needs an L2 penalty or none (the standard errors \
of an L1 or elastic-net fit are not defined by its Hessian), got l1_ratio=0.5
    """
    params = model.get_params(deep=False)
    if model_name != "softmax":
        raise UsageError(
            f"--inference applies to --model softmax (a linear model), not --model {model_name}"
        )
    # Only numbers are judged here; anything else is the estimator's to refuse, in its words.
    for name in ("l1_ratio", "l1_ratios"):
        value = params.get(name)
        values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
        if any(is_real_number(v) and v != 0 for v in values):
            raise UsageError(
                "--inference needs an L2 penalty or none (the standard errors of an L1 or "
                f"elastic-net fit are not defined by its Hessian), got {name}={value!r}"
            )


def check_inference_size(n_classes: int, n_features: int, fit_intercept: bool) -> None:
    """Refuse ``--inference`` when the dense Hessian is over ``stats.MAX_PARAMS`` (before the fit).

    Examples
    --------
    >>> check_inference_size(10, 784, True)  # Fashion-MNIST: 7850 parameters
    >>> check_inference_size(10, 3072, True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    softreg.cli._errors.UsageError: --inference: the dense Hessian of all 30730 parameters ...
    """
    n_params = n_classes * (n_features + int(fit_intercept))
    if n_params > stats.MAX_PARAMS:
        raise UsageError(
            f"--inference: the dense Hessian of all {n_params} parameters ({n_classes} classes "
            f"x {n_features + int(fit_intercept)} terms, {n_params**2 * 8 / 2**30:.1f} GiB) is "
            f"over softreg.stats.MAX_PARAMS = {stats.MAX_PARAMS}; from Python, "
            "softreg.stats.summary(model, X, y, max_params=...) takes more where memory allows"
        )


def inference(
    model: Any, X: Any, y: np.ndarray, class_names: Sequence[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """``(csv_text, record)``: the coefficient table of ``model`` fitted on ``(X, y)``.

    ``csv_text`` has the columns ``class, term, coef, std err, z, P>|z|, [0.025, 0.975]``,
    floats written with all their digits; ``class`` is the name in ``class_names`` (one per
    ``model.classes_``) when given, else the label. ``record`` is what ``metrics.json`` keeps
    under ``"inference"``: the file's name and the summary's scalar figures (``reference``,
    the baseline class, named the same way).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from softreg import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SoftmaxRegression(C=10.0, tol=1e-10).fit(X[:, :2], y)
    >>> text, record = inference(model, X[:, :2], y)
    >>> text.splitlines()[0]
    'class,term,coef,std err,z,P>|z|,[0.025,0.975]'
    >>> len(text.splitlines()), record["file"], record["nobs"]
    (7, 'inference.csv', 150)
    """
    result = stats.summary(model, X, y)
    classes = list(np.asarray(model.classes_).tolist())
    names = list(class_names) if class_names is not None else [str(c) for c in classes]

    def name_of(label: Any) -> str:
        return names[classes.index(_plain(label))]

    lo_name, hi_name = ci_names(result.alpha)
    ci = result.conf_int()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["class", "term", "coef", "std err", "z", "P>|z|", lo_name, hi_name])
    for e, label in enumerate(result.equations):
        name = name_of(label)
        for t, term in enumerate(result.terms):
            values = (
                result.params[e, t],
                result.bse[e, t],
                result.zvalues[e, t],
                result.pvalues[e, t],
                ci[e, t, 0],
                ci[e, t, 1],
            )
            writer.writerow([name, term, *(repr(float(v)) for v in values)])
    record = {
        "file": INFERENCE_CSV,
        "cov_type": result.cov_type,
        "penalty": result.penalty,
        "reference": name_of(result.reference),
        "nobs": int(result.nobs),
        "llf": float(result.llf),
        "llnull": float(result.llnull),
        "prsquared": float(result.prsquared),
        "aic": float(result.aic),
        "bic": float(result.bic),
        "newton_step_se": float(result.newton_step_se),
    }
    return out.getvalue(), record


def _plain(value: Any) -> Any:
    """A class label as JSON can hold it (NumPy scalars as Python ones)."""
    return value.item() if isinstance(value, np.generic) else value

"""scikit-learn 1.9 ``LogisticRegression`` parameter semantics for ``SoftmaxRegression``.

Which penalty ``penalty``, ``C`` and ``l1_ratio`` choose, which solver may fit it, and the
warnings and errors scikit-learn 1.9.1 gives on the way (texts as in
``sklearn/linear_model/_logistic.py``, so code and tests matching them keep working):

* ``l1_ratio`` alone chooses the penalty (0: L2, 1: L1, in between: elastic net) and
  ``C=np.inf`` means none; ``penalty`` is deprecated (a ``FutureWarning``) but still obeyed, with
  ``UserWarning`` s where it contradicts ``l1_ratio`` or ``C``; ``l1_ratio=None`` is deprecated
  (a ``FutureWarning``) and means L2.
* ``dual=True`` is refused (only scikit-learn's liblinear has a dual); ``intercept_scaling`` is
  accepted and, as in scikit-learn for every solver but liblinear, has no effect;
  ``n_jobs`` other than None gives scikit-learn's ``FutureWarning`` ("has no effect").
* scikit-learn's solvers that softreg does not implement (``liblinear``, ``sag``, ``saga``,
  ``newton-cholesky``) are refused with the softreg solver that minimises the same objective.

Each function takes plain values and returns plain values; the estimator calls them first thing
in ``fit``, before looking at the data, as scikit-learn does. :data:`PARAMETER_CONSTRAINTS`
is the estimator's ``_parameter_constraints``: the types and ranges scikit-learn's
``_fit_context`` checks before that.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Hidden, Interval, StrOptions

#: scikit-learn solvers softreg lacks -> the softreg solver minimising the same objective.
SKLEARN_SOLVER_EQUIVALENTS = {
    "liblinear": "newton-cg",
    "newton-cholesky": "newton-cg",
    "sag": "lbfgs",
    "saga": "fista",
}

#: ``SoftmaxRegression._parameter_constraints``: what each parameter may be, checked by
#: scikit-learn's ``_fit_context`` (its ``InvalidParameterError`` names the parameter).
PARAMETER_CONSTRAINTS: dict[str, list[Any]] = {
    "penalty": [
        StrOptions({"l2", "l1", "elasticnet"}),
        None,
        Hidden(StrOptions({"deprecated"})),
    ],
    "C": [Interval(Real, 0, None, closed="right")],
    "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
    "dual": ["boolean"],
    "fit_intercept": ["boolean"],
    "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
    "class_weight": [dict, StrOptions({"balanced"}), None],
    "solver": [
        StrOptions({"auto", "newton-cg", "lbfgs", "fista", "sgd", "adam"}),
        # scikit-learn's own: refused in fit with the softreg solver to use instead.
        Hidden(StrOptions(set(SKLEARN_SOLVER_EQUIVALENTS))),
    ],
    "max_iter": [Interval(Integral, 0, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left"), None],
    "warm_start": ["boolean"],
    "n_jobs": [None, Integral],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "learning_rate": [Interval(Real, 0, None, closed="neither"), callable, None],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "init": [StrOptions({"zeros", "xavier"})],
    "input_scale": [Interval(Real, 0, None, closed="neither"), None],
}
#: Solvers (softreg's and scikit-learn's) that handle an L1 term; the others take L2 or none.
_L1_SOLVERS = ("auto", "fista", "saga", "liblinear")
#: Solvers for elastic net (liblinear does L1 or L2, not both).
_ELASTICNET_SOLVERS = ("auto", "fista", "saga")

_PENALTY_DEPRECATED = (
    "'penalty' was deprecated in version 1.8 and will be removed in"
    " 1.10. To avoid this warning, leave 'penalty' set to its default"
    " value and use 'l1_ratio' or 'C' instead."
    " Use l1_ratio=0 instead of penalty='l2',"
    " l1_ratio=1 instead of penalty='l1',"
    " l1_ratio set to a float between 0 and 1 instead of"
    " penalty='elasticnet', and C=np.inf instead of penalty=None."
)


def resolve_penalty(
    penalty: Any, C: float, l1_ratio: float | None
) -> tuple[str | None, float, float]:
    """The penalty that ``penalty``, ``C`` and ``l1_ratio`` choose, as scikit-learn 1.9 does.

    Parameters
    ----------
    penalty : {"deprecated", "l2", "l1", "elasticnet"} or None
        ``"deprecated"`` (the default) lets ``l1_ratio`` and ``C`` choose; any other value is
        obeyed with scikit-learn's ``FutureWarning``.
    C : float
        Inverse regularisation strength; ``np.inf`` for no penalty.
    l1_ratio : float in [0, 1] or None
        L1 share of the penalty; None (deprecated) means 0.

    Returns
    -------
    name : {"l2", "l1", "elasticnet"} or None
        The penalty in scikit-learn's words (None: no penalty), for messages.
    C : float
        ``C`` for :class:`softreg.objective.SoftmaxObjective` (``np.inf``: no penalty).
    l1_ratio : float
        ``l1_ratio`` for the objective: 0 for L2 or none, 1 for L1.

    Examples
    --------
    >>> resolve_penalty("deprecated", 1.0, 1.0)
    ('l1', 1.0, 1.0)
    >>> resolve_penalty("deprecated", 0.5, 0.25)
    ('elasticnet', 0.5, 0.25)
    >>> resolve_penalty("deprecated", float("inf"), 0.0)
    (None, inf, 0.0)
    """
    if penalty == "deprecated":
        if l1_ratio is None:
            warnings.warn(
                "'l1_ratio=None' was deprecated in version 1.8 and will "
                "trigger an error in 1.10. Use 0<=l1_ratio<=1 instead.",
                FutureWarning,
                stacklevel=3,
            )
        if l1_ratio is None or l1_ratio == 0:
            name: str | None = "l2"
        elif l1_ratio == 1:
            name = "l1"
        else:
            name = "elasticnet"
        if np.inf == C:
            name = None
    else:
        name = penalty
        warnings.warn(_PENALTY_DEPRECATED, FutureWarning, stacklevel=3)
    if name != "elasticnet" and l1_ratio is not None and 0 < l1_ratio < 1:
        warnings.warn(
            f"l1_ratio parameter is only used when penalty is 'elasticnet'. Got (penalty={name})",
            UserWarning,
            stacklevel=3,
        )
    if (penalty == "l2" and l1_ratio != 0) or (penalty == "l1" and l1_ratio != 1):
        warnings.warn(
            f"Inconsistent values: penalty={penalty} with l1_ratio={l1_ratio}. penalty is "
            "deprecated. Please use l1_ratio only.",
            UserWarning,
            stacklevel=3,
        )
    if name == "elasticnet" and l1_ratio is None:
        raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
    if penalty is None and C != 1.0:
        warnings.warn(
            "Setting penalty=None will ignore the C and l1_ratio parameters",
            UserWarning,
            stacklevel=3,
        )
    if name is None:
        return None, np.inf, 0.0
    if name == "l2":
        return name, float(C), 0.0
    if name == "l1":
        return name, float(C), 1.0
    assert l1_ratio is not None  # checked above
    return name, float(C), float(l1_ratio)


def resolve_solver(
    solver: str,
    penalty_name: str | None,
    dual: bool,
    equivalents: dict[str, str] | None = None,
) -> str:
    """The softreg solver for ``solver`` and the resolved penalty, or a ValueError.

    Refuses, in scikit-learn 1.9's words, what its ``_check_solver`` refuses (an L1 or
    elastic-net penalty for a solver that handles only L2, ``dual=True``), then scikit-learn's
    solvers that softreg does not have, naming the softreg solver for the same objective
    (``equivalents`` maps such names to softreg solvers instead; the conformance tests use it).
    ``"auto"`` is ``"fista"`` for an L1 term and ``"newton-cg"`` otherwise.

    Examples
    --------
    >>> resolve_solver("auto", "l1", dual=False)
    'fista'
    >>> resolve_solver("lbfgs", "l1", dual=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Solver lbfgs supports only 'l2' or None penalties, got l1 penalty; ...
    """
    if penalty_name not in ("l2", None) and solver not in _L1_SOLVERS:
        raise ValueError(
            f"Solver {solver} supports only 'l2' or None penalties, got {penalty_name} "
            "penalty; use solver='fista' (or 'auto') for an L1 or elastic-net penalty "
            "(0 < l1_ratio)."
        )
    if dual:
        raise ValueError(
            f"Solver {solver} supports only dual=False, got dual={dual}: softreg solves the "
            "primal problem only (scikit-learn's dual is liblinear's)."
        )
    if penalty_name == "elasticnet" and solver not in _ELASTICNET_SOLVERS:
        raise ValueError(
            f"Only 'saga' solver supports elasticnet penalty, got solver={solver}; softreg's "
            "is solver='fista' (or 'auto')."
        )
    if solver in SKLEARN_SOLVER_EQUIVALENTS:
        if equivalents is not None and solver in equivalents:
            return equivalents[solver]
        raise ValueError(
            f"solver={solver!r} is one of scikit-learn's solvers that softreg does not "
            f"implement; solver={SKLEARN_SOLVER_EQUIVALENTS[solver]!r} minimises the same "
            "objective (or leave solver='auto')."
        )
    if solver == "auto":
        return "newton-cg" if penalty_name in ("l2", None) else "fista"
    return solver


def warn_n_jobs(n_jobs: int | None) -> None:
    """scikit-learn 1.9's ``FutureWarning`` for ``n_jobs`` other than None (it has no effect)."""
    if n_jobs is not None:
        warnings.warn(
            "'n_jobs' has no effect since 1.8 and will be removed in 1.10. "
            f"You provided 'n_jobs={n_jobs}', please leave it unspecified.",
            FutureWarning,
            stacklevel=3,
        )


def n_iter_array(n_iter: Any) -> np.ndarray:
    """``n_iter_`` as scikit-learn keeps it: an int32 array of shape (1,).

    >>> n_iter_array(7)
    array([7], dtype=int32)
    """
    return np.asarray(n_iter, dtype=np.int32).reshape(1)


#: Parameters softreg 0.1.0 lacked, with the value that keeps its behaviour.
_ADDED_PARAMS = {"dual": False, "intercept_scaling": 1, "n_jobs": None}


def upgrade_legacy_params(params: dict[str, Any]) -> dict[str, Any]:
    """``SoftmaxRegression`` parameters saved by softreg 0.1.0 (before scikit-learn 1.9's
    semantics) as today's parameters for the same model; other dicts are returned as they are.

    0.1.0 files lack ``dual``, ``intercept_scaling`` and ``n_jobs``, and chose the penalty by
    ``penalty`` alone (``l1_ratio`` counted only for ``"elasticnet"``): that penalty becomes
    ``l1_ratio`` (and ``C=np.inf`` for None), with ``penalty`` left at its default.

    >>> upgrade_legacy_params({"penalty": "l1", "C": 2.0, "l1_ratio": None})
    {'penalty': 'deprecated', 'C': 2.0, 'l1_ratio': 1.0, 'dual': False,
     'intercept_scaling': 1, 'n_jobs': None}
    """
    if "dual" in params or "penalty" not in params:
        return params
    upgraded = dict(params)
    penalty, l1_ratio = upgraded["penalty"], upgraded.get("l1_ratio")
    upgraded["penalty"] = "deprecated"
    if penalty is None:
        upgraded["C"], upgraded["l1_ratio"] = np.inf, 0.0
    elif penalty == "elasticnet" and l1_ratio is not None:
        upgraded["l1_ratio"] = float(l1_ratio)
    else:
        upgraded["l1_ratio"] = 1.0 if penalty == "l1" else 0.0
    return {**upgraded, **_ADDED_PARAMS}

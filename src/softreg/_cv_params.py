"""scikit-learn 1.9 ``LogisticRegressionCV`` parameter semantics for ``SoftmaxRegressionCV``.

``penalty`` (deprecated), ``l1_ratios``, ``solver`` and ``dual`` choose the path's penalties and
solvers as in ``sklearn/linear_model/_logistic.py`` 1.9.1, with its warnings and errors (texts
kept, so code and tests matching them keep working); :func:`legacy_attributes` is the layout
``use_legacy_attributes=True`` asks for; :func:`cv_router` and :func:`routed_params` route
``fit``'s and ``score``'s metadata (scikit-learn's metadata routing); ``PARAMETER_CONSTRAINTS``
are the estimator's parameter checks.
``intercept_scaling`` (liblinear's) and ``n_jobs`` have no effect, as
:mod:`softreg._sklearn_params` says for ``SoftmaxRegression``.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import get_scorer_names
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)

from softreg._sklearn_params import SKLEARN_SOLVER_EQUIVALENTS, resolve_solver
from softreg.path import solver_for

Array = NDArray[Any]

_PENALTY_DEPRECATED = (
    "'penalty' was deprecated in version 1.8 and will be removed in"
    " 1.10. To avoid this warning, leave 'penalty' set to its default"
    " value and use 'l1_ratios' and 'Cs' instead."
    " Use l1_ratios=(0,) instead of penalty='l2',"
    " l1_ratios=(1,) instead of penalty='l1',"
    " l1_ratios set to floats between 0 and 1 instead of"
    " penalty='elasticnet', and Cs=(np.inf,) instead of penalty=None."
)


def check_l1_ratios(l1_ratios: Any) -> Array | None:
    """``l1_ratios`` as a float array of values in [0, 1], None as None, or a ValueError."""
    if l1_ratios is None:
        return None
    try:
        ratios = np.asarray(l1_ratios, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        ratios = np.array([np.nan])
    if ratios.size == 0 or not np.all((ratios >= 0) & (ratios <= 1)):
        raise ValueError(
            "l1_ratios must be an array-like of numbers between 0 and 1; got "
            f"(l1_ratios={l1_ratios!r})"
        )
    return ratios


def resolve_cv_penalty(penalty: Any, l1_ratios: Any) -> tuple[str, Array]:
    """The penalty's name and the L1 shares the path fits, as ``LogisticRegressionCV`` 1.9.

    Parameters
    ----------
    penalty : {"deprecated", "l2", "l1", "elasticnet"} or None
        ``"deprecated"`` (the default) lets ``l1_ratios`` choose (None or all 0: L2, all 1:
        L1, else elastic net). Any other value is obeyed with scikit-learn's
        ``FutureWarning``; ``"l2"`` and ``"l1"`` override ``l1_ratios`` (a ``UserWarning`` if
        given: one path per entry, all with the penalty's share). None is refused: every ``C``
        would fit the same unpenalised model, so there is nothing to cross-validate.
    l1_ratios : array-like of float in [0, 1] or None

    Returns
    -------
    name : {"l2", "l1", "elasticnet"}
    ratios : ndarray of shape (n_l1_ratios,)
        ``[0.0]`` for None.

    Examples
    --------
    >>> resolve_cv_penalty("deprecated", None)
    ('l2', array([0.]))
    >>> resolve_cv_penalty("deprecated", [0.0, 0.5])
    ('elasticnet', array([0. , 0.5]))
    """
    ratios = check_l1_ratios(l1_ratios) if penalty in ("deprecated", "elasticnet") else None
    if penalty == "deprecated":
        if ratios is None or np.all(ratios == 0):
            name = "l2"
        elif np.all(ratios == 1):
            name = "l1"
        else:
            name = "elasticnet"
        return name, np.zeros(1) if ratios is None else ratios
    warnings.warn(_PENALTY_DEPRECATED, FutureWarning, stacklevel=3)
    if penalty is None:
        raise ValueError(
            "penalty=None leaves no C to choose: every C of the grid would fit the same "
            "unpenalised model. Fit SoftmaxRegression(C=np.inf) instead, or leave penalty unset."
        )
    if penalty == "elasticnet":
        if ratios is None:
            raise ValueError(
                "l1_ratios must be an array-like of numbers between 0 and 1; got (l1_ratios=None)"
            )
        return "elasticnet", ratios
    share = 1.0 if penalty == "l1" else 0.0
    if l1_ratios is None:
        return str(penalty), np.array([share])
    warnings.warn(
        f"l1_ratios parameter is only used when penalty is 'elasticnet'. Got (penalty={penalty})",
        UserWarning,
        stacklevel=3,
    )
    return str(penalty), np.full(np.size(l1_ratios), share)


def resolve_cv_solver(
    solver: str, penalty_name: str, dual: bool, equivalents: dict[str, str] | None
) -> str:
    """The softreg solver for the path (``"auto"`` stays ``"auto"``: one per L1 share).

    scikit-learn's refusals (an L2-only solver with an L1 term, ``dual=True``, its solvers
    that softreg lacks, named with the one to use) come from
    :func:`softreg._sklearn_params.resolve_solver`.

    >>> resolve_cv_solver("auto", "elasticnet", False, None)
    'auto'
    >>> resolve_cv_solver("saga", "l1", False, {"saga": "fista"})
    'fista'
    """
    resolved = resolve_solver(solver, penalty_name, dual, equivalents)
    return "auto" if solver == "auto" else resolved


def path_solvers(solver: str, ratios: Array) -> list[str]:
    """The solver of each L1 share's path (see :func:`softreg.path.solver_for`)."""
    return [solver_for(float(r), solver) for r in ratios]


def legacy_attributes(
    classes: Array,
    scores: Array,
    coefs_paths: Array,
    n_iter: Array,
    C: float,
    l1_ratio: float,
    squeeze: bool,
) -> dict[str, Any]:
    """The attributes in ``LogisticRegressionCV``'s legacy layout (``use_legacy_attributes``).

    Takes the new layout with its l1_ratio axis: ``scores`` (n_folds, n_l1, n_Cs),
    ``coefs_paths`` (n_folds, n_l1, n_Cs, n_classes, n_dof), ``n_iter`` (n_folds, n_l1,
    n_Cs). Returns ``scores_`` and ``coefs_paths_`` as dicts keyed by class, each value
    (n_folds, n_Cs) and (n_folds, n_Cs, n_dof), with an n_l1 axis before the last unless
    ``squeeze`` (``l1_ratios=None``); ``n_iter_`` (1, n_folds, n_Cs[, n_l1]); ``C_`` and
    ``l1_ratio_`` repeated per class. Two classes give one entry, for ``classes[1]``, as
    scikit-learn's binary model does: its coefficients are those of ``decision_function``,
    ``coef[1] - coef[0]``, and ``C_`` and ``l1_ratio_`` have shape (1,).

    >>> s, c, n = np.zeros((2, 1, 3)), np.zeros((2, 1, 3, 3, 5)), np.ones((2, 1, 3), int)
    >>> a = legacy_attributes(np.arange(3), s, c, n, 0.1, 0.0, squeeze=True)
    >>> a["scores_"][0].shape, a["coefs_paths_"][2].shape, a["n_iter_"].shape, a["C_"]
    ((2, 3), (2, 3, 5), (1, 2, 3), array([0.1, 0.1, 0.1]))
    """
    scores = np.moveaxis(scores, 1, 2)  # (n_folds, n_Cs, n_l1)
    paths = np.moveaxis(coefs_paths, 1, 2)  # (n_folds, n_Cs, n_l1, k, n_dof)
    iters = np.moveaxis(n_iter, 1, 2)[None]  # (1, n_folds, n_Cs, n_l1)
    if len(classes) == 2:
        keys, per_class = list(classes[1:]), (paths[..., 1, :] - paths[..., 0, :])[None]
    else:
        keys, per_class = list(classes), np.moveaxis(paths, 3, 0)
    if squeeze:
        scores, per_class, iters = scores[..., 0], per_class[:, :, :, 0], iters[..., 0]
    paths_by_class = {key: np.ascontiguousarray(p) for key, p in zip(keys, per_class, strict=True)}
    return {
        "scores_": {key: scores.copy() for key in keys},
        "coefs_paths_": paths_by_class,
        "n_iter_": iters,
        "C_": np.full(len(keys), C),
        "l1_ratio_": np.full(len(keys), l1_ratio),
    }


def routed_params(
    estimator: Any, method: str, sample_weight: Any, params: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Where ``method``'s metadata go, as ``LogisticRegressionCV`` 1.9 routes them.

    Without metadata routing enabled, ``params`` beyond ``sample_weight`` are refused
    (scikit-learn's ValueError: "... is only supported if enable_metadata_routing=True") and
    ``sample_weight``, when given, goes to the scorer. With it, scikit-learn's
    ``process_routing`` (the estimator's ``get_metadata_routing``) decides: ``groups`` to the
    splitter, ``sample_weight`` to the scorer only if it requests it.

    Returns ``{"split": ..., "score": ...}``: the splitter's ``split`` and the scorer's
    parameters (``"split"`` empty for ``method="score"``).
    """
    _raise_for_params(params, estimator, method)
    if not _routing_enabled():
        score = {} if sample_weight is None else {"sample_weight": sample_weight}
        return {"split": {}, "score": score}
    if sample_weight is not None:
        params = {**params, "sample_weight": sample_weight}
    routed = process_routing(estimator, method, **params)
    split = dict(routed.splitter.split) if method == "fit" else {}
    return {"split": split, "score": dict(routed.scorer.score)}


def cv_router(estimator: Any, splitter: Any, scorer: Any) -> MetadataRouter:
    """``estimator``'s metadata router: its own requests, ``fit`` -> the splitter's ``split``,
    ``fit`` and ``score`` -> the scorer's ``score`` (``LogisticRegressionCV``'s routes)."""
    return (
        MetadataRouter(owner=estimator)
        .add_self_request(estimator)
        .add(splitter=splitter, method_mapping=MethodMapping().add(caller="fit", callee="split"))
        .add(
            scorer=scorer,
            method_mapping=MethodMapping()
            .add(caller="score", callee="score")
            .add(caller="fit", callee="score"),
        )
    )


#: ``SoftmaxRegressionCV``'s parameter constraints (scikit-learn's ``_param_validation``).
PARAMETER_CONSTRAINTS: dict[str, list[Any]] = {
    "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
    "l1_ratios": ["array-like", None],
    "fit_intercept": ["boolean"],
    "cv": ["cv_object"],
    "dual": ["boolean"],
    "penalty": [
        StrOptions({"l2", "l1", "elasticnet"}),
        None,
        Hidden(StrOptions({"deprecated"})),
    ],
    "scoring": [StrOptions(set(get_scorer_names())), callable, None],
    "solver": [
        StrOptions({"auto", "newton-cg", "lbfgs", "fista"}),
        Hidden(StrOptions(set(SKLEARN_SOLVER_EQUIVALENTS))),
    ],
    "tol": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "class_weight": [dict, StrOptions({"balanced"}), None],
    "n_jobs": [None, Integral],
    "refit": ["boolean"],
    "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
    "random_state": ["random_state"],
    "use_legacy_attributes": ["boolean"],
    "selection": [StrOptions({"min", "1se"})],
    "keep_oof": ["boolean"],
    "early_stopping": ["boolean"],
    "input_scale": [Interval(Real, 0, None, closed="neither"), None],
    "verbose": ["verbose"],
}

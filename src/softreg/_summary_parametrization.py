"""Which parameters a summary can estimate, and the linear maps to the ones it reports.

Parameters are ``theta`` of shape (n_classes, n_terms), row ``k`` being class ``k``'s
``[intercept_k, coef_k]``. Adding one vector to every row changes no prediction, so not all of
them are identified: without a penalty (``C = inf``) the whole reference row is pinned at 0;
with an L2 penalty only the reference intercept is (the penalty pins the coefficients' common
shift). The covariance is computed for the identified parameters (:func:`identified`), at the
fitted values written in that form (:func:`embedded`), and then mapped to the reported
parametrisation (:func:`reported_maps`, applied by :func:`softreg._covariance.map_values` and
:func:`softreg._covariance.map_cov_inplace`); see :mod:`softreg.stats` for what each reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["ReportedMaps", "embedded", "identified", "reported_maps"]

Array = NDArray[Any]


def identified(n_classes: int, n_terms: int, ref: int, C: float, fit_intercept: bool) -> Array:
    """Indices, into the raveled (n_classes, n_terms) grid, of the identified parameters."""
    # Identified parameters: with C = inf a whole class (the reference) is fixed at 0; with a
    # penalty only its intercept (the penalty pins the coefficients' common shift).
    keep = np.ones((n_classes, n_terms), dtype=bool)
    if math.isinf(C):
        keep[ref, :] = False
    elif fit_intercept:
        keep[ref, 0] = False
    return np.flatnonzero(keep.ravel())


def embedded(theta: Array, ref: int, C: float, fit_intercept: bool) -> Array:
    """The fitted ``theta`` in the identified form: the reference's pinned entries moved to 0."""
    out = theta.copy()
    if math.isinf(C):
        out -= theta[ref]
    elif fit_intercept:
        out[:, 0] -= theta[ref, 0]
    return out


@dataclass(frozen=True)
class ReportedMaps:
    """The reported parameters as linear maps of the embedded ones.

    Attributes
    ----------
    equations : list
        The class of each reported row.
    map_coef, map_int : ndarray of shape (n_equations, n_classes)
        Reported coefficients are ``map_coef @ theta``; the intercept column uses ``map_int``.
    shift_coef, shift_int : ndarray of shape (n_classes,)
        The same maps in the form ``I - 1 v^T`` (``v`` the shift) followed by dropping the row
        ``drop`` (None: no row dropped), as :func:`softreg._covariance.map_cov_inplace` takes.
    drop : int or None
    """

    equations: list[Any]
    map_coef: Array
    map_int: Array
    shift_coef: Array
    shift_int: Array
    drop: int | None


def reported_maps(parametrization: str, classes: Array, ref: int, C: float) -> ReportedMaps:
    """The maps of the ``"baseline"`` or the ``"symmetric"`` parametrisation.

    ``"baseline"`` reports ``theta_k - theta_ref`` for every class ``k != ref``; ``"symmetric"``
    every class, centred over the classes where its parameters are not identified (the
    intercepts; also the coefficients when unpenalised).
    """
    n_classes = len(classes)
    if parametrization == "baseline":
        map_coef = np.delete(np.eye(n_classes), ref, axis=0)
        map_coef[:, ref] = -1.0
        shift = np.eye(n_classes)[ref]
        equations = [c for k, c in enumerate(classes.tolist()) if k != ref]
        return ReportedMaps(equations, map_coef, map_coef, shift, shift, ref)
    centre = np.eye(n_classes) - 1.0 / n_classes
    uniform, none = np.full(n_classes, 1.0 / n_classes), np.zeros(n_classes)
    return ReportedMaps(
        equations=classes.tolist(),
        map_coef=centre if math.isinf(C) else np.eye(n_classes),
        map_int=centre,
        shift_coef=uniform if math.isinf(C) else none,
        shift_int=uniform,
        drop=None,
    )

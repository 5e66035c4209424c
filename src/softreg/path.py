"""Regularisation paths: the default grid of ``C``, and fits along it with warm starts.

The grid rule (:func:`default_Cs`)
----------------------------------
At the *null model* (``coef = 0``, the intercept at the log class frequencies, or 0 without
an intercept) every row has the same probabilities ``p0``, so the Hessian of the data term in
the augmented coefficients ``[W, b]`` is exactly the Kronecker product

.. math::

    H_0 = \\big(\\operatorname{diag}(p_0) - p_0 p_0^T\\big) \\otimes
          \\sum_i \\frac{s_i}{S} u_i u_i^T, \\qquad u_i = [\\text{scale} \\cdot x_i, 1],

whose largest eigenvalue ``h_max`` is the product of the two factors' largest eigenvalues.
The L2 penalty adds ``lambda = 1 / (C S)`` to every eigenvalue, and a direction of curvature
``h`` is shrunk by the factor ``h / (h + lambda)``. The grid starts where the penalty equals
the largest curvature, ``C_min = 1 / (S h_max)``: every direction of the fit is shrunk by at
least half, a model close to the null one. It ends six decades weaker, at
``C_max = 1e6 C_min``, and is log-spaced in between. The rule follows the data's scale and
size: multiplying ``X`` by ``a`` divides the grid by ``a^2``, doubling the sample weights
halves it. (On Fashion-MNIST, pixels / 255 with 5-fold training sets, it spans about 4e-6 to
4; cross-validation picks about 0.05.)

Fitting along a grid (:func:`follow_path`) goes from strong to weak penalty (ascending
``C``), each fit starting from the previous one's solution and curvature pairs
(:func:`path_step`): the optimum moves little between neighbouring ``C``, so the later fits
need a few Newton iterations each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_array, check_consistent_length

from softreg import _kernels
from softreg._validation import (
    as_label_array,
    check_magnitude,
    check_numeric_X,
    encode_labels,
    is_dense_integer,
    is_real_number,
    reject_multilabel,
)
from softreg.objective import SoftmaxObjective, flat_params
from softreg.optim._fit_core import FitState, fit_core
from softreg.optim.newton_cg import carried_to_new_fit

Array = NDArray[Any]

#: Decades between the strongest and the weakest penalty of the default grid.
GRID_DECADES = 6.0

#: newton-cg's preconditioner is built every PATH_REFRESH iterations of a path's fit (see
#: :func:`path_step`).
PATH_REFRESH = 3


def null_model_curvature(
    X: Any,
    y: NDArray[np.intp],
    n_classes: int,
    sample_weight: ArrayLike | None = None,
    *,
    scale: float = 1.0,
    fit_intercept: bool = True,
) -> float:
    """``h_max``: the largest eigenvalue of the data term's Hessian at the null model.

    See the module docstring. The feature factor is formed from at most 4096 evenly spaced
    rows (:func:`softreg._kernels.feature_basis`), exact below that; with more than 2047
    features its largest eigenvalue comes from Lanczos iterations instead
    (:func:`softreg._kernels.kfac.largest_eigenvalue`), without the ``d x d`` matrix.
    """
    sw = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    total = float(sw.sum())
    if fit_intercept:
        p0 = np.bincount(y, weights=sw, minlength=n_classes) / total
    else:
        p0 = np.full(n_classes, 1.0 / n_classes)
    a_max = float(np.linalg.eigvalsh(np.diag(p0) - np.outer(p0, p0)).max())
    if hasattr(X, "toarray"):  # a sparse X: its first rows (densified only when narrow)
        X = X[: _kernels.kfac.GRAM_ROWS]
        sw = sw[: X.shape[0]]
    b_max = _kernels.kfac.largest_eigenvalue(X, sw, scale=scale, fit_intercept=fit_intercept)
    return a_max * b_max


def default_Cs(
    X: Any,
    y: NDArray[np.intp],
    n_classes: int,
    sample_weight: ArrayLike | None = None,
    *,
    n_Cs: int = 10,
    scale: float = 1.0,
    fit_intercept: bool = True,
) -> Array:
    """The default grid: ``n_Cs`` values log-spaced from ``1 / (S h_max)`` over six decades.

    ``S`` is the total sample weight of ``X`` (cross-validation uses the whole data's grid
    for every fold, as for the refit), ``h_max`` the
    :func:`null_model_curvature`; see the module docstring for why.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    >>> Cs = default_Cs(X, np.array([0, 1, 1, 0]), 2, n_Cs=4)
    >>> np.round(np.log10(Cs[1:] / Cs[:-1]), 6)  # six decades in three steps
    array([2., 2., 2.])
    """
    if not (isinstance(n_Cs, Integral) and n_Cs >= 1):
        raise ValueError(f"n_Cs must be an int >= 1, got {n_Cs!r}")
    sw = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    check_weighted_classes(y, n_classes, sw)
    h_max = null_model_curvature(X, y, n_classes, sw, scale=scale, fit_intercept=fit_intercept)
    if not (np.isfinite(h_max) and h_max > 0):
        raise ValueError(
            "cannot derive a grid of C from X: its features have no variation (the data "
            "term's curvature at the null model is 0); pass Cs explicitly"
        )
    c_min = 1.0 / (float(sw.sum()) * h_max)
    if n_Cs == 1:
        return np.array([c_min * 10 ** (GRID_DECADES / 2)])
    return c_min * np.logspace(0.0, GRID_DECADES, int(n_Cs))


def check_weighted_classes(y: NDArray[np.intp], n_classes: int, sample_weight: Array) -> None:
    """Raise ValueError unless at least two classes have a positive total sample weight."""
    totals = np.bincount(y, weights=sample_weight, minlength=n_classes)
    if np.count_nonzero(totals > 0) < 2:
        raise ValueError(
            "y must contain at least 2 classes with positive total sample_weight, got "
            f"{np.count_nonzero(totals > 0)} class with positive weight"
        )


def check_Cs(Cs: Any) -> Array | int:
    """``Cs`` as an int >= 1 (a grid size) or a sorted 1-d float array of finite values > 0."""
    if isinstance(Cs, Integral) and not isinstance(Cs, bool):
        if Cs < 1:
            raise ValueError(f"Cs must be an int >= 1 or a list of floats > 0, got {Cs!r}")
        return int(Cs)
    try:
        grid = np.asarray(Cs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Cs must be an int or a list of floats > 0, got {Cs!r}") from exc
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid) & (grid > 0)):
        raise ValueError(f"Cs must be a non-empty 1-d list of finite floats > 0, got {Cs!r}")
    return np.sort(grid)


#: The solvers a path may use: deterministic ones, whose fits stop at ``max|grad| <= tol``.
PATH_SOLVERS = ("auto", "newton-cg", "lbfgs", "fista")


def solver_for(l1_ratio: float, solver: str = "auto") -> str:
    """The solver of a path's fits with L1 share ``l1_ratio``, or a ValueError.

    ``"auto"`` is FISTA when any of the penalty is L1, else Newton-CG (as
    ``SoftmaxRegression``); ``"newton-cg"`` and ``"lbfgs"`` take no L1 term.

    >>> solver_for(0.0), solver_for(0.5), solver_for(0.0, "lbfgs")
    ('newton-cg', 'fista', 'lbfgs')
    """
    if solver not in PATH_SOLVERS:
        raise ValueError(f"solver must be one of {PATH_SOLVERS}, got {solver!r}")
    if solver == "auto":
        return "fista" if l1_ratio > 0 else "newton-cg"
    if l1_ratio > 0 and solver != "fista":
        raise ValueError(
            f"solver={solver!r} takes no L1 term, got l1_ratio={l1_ratio!r}; use solver='fista' "
            "(or 'auto')"
        )
    return solver


def path_step(
    objective: Any,
    previous: FitState | None,
    *,
    solver: str = "newton-cg",
    tol: float = 1e-4,
    max_iter: int = 100,
) -> FitState:
    """One fit of a path: ``objective`` minimised from the previous ``C``'s final state.

    The start is ``previous``'s parameters and, for newton-cg, its last curvature pairs
    (``FitState.optimizer_state``): they precondition the first Newton system at the new
    ``C``, whose Hessian differs from the old one by a point moved a little and a smaller
    penalty. Measured on a 48000-row Fashion-MNIST fold over ``logspace(-4, 4, 10)``: 1305
    Hessian-vector products (28.9 s) without them, 630 (15.4 s) with them, the same ``f`` at
    each ``C`` within the tolerance. Zeros when ``previous`` is None. ``max_iter`` counts
    this ``C``'s iterations only.

    newton-cg builds its preconditioner (K-FAC with the exact leading block, about two
    Hessian-vector products' worth on a 48000-row fold) every ``PATH_REFRESH`` = 3 iterations
    and applies the last one in between, rather than one per iteration as a single fit does
    (where a resume from a checkpoint must retrace the run bit for bit; a path is never
    resumed). The preconditioner of the previous iterate does as well as a fresh one
    (:mod:`softreg._kernels.subspace`). Measured on ``bench_cv.py``'s early-stopped path
    (5 folds, ``C`` from 1e-4 to 0.36): on all 60000 Fashion-MNIST rows 99 builds became 57 and
    410 Hessian-vector products 403 with a build every 2 iterations, each mean validation
    score the same within 5e-6; on the first 15000 rows 110 builds became 61, and the fold
    paths took 9.4 s instead of 11.6 s (means of three runs). With the later folds' moved
    starts (:func:`softreg._cv_start.shifted_start`), a build every 3 iterations against 2: on
    all rows 30 builds instead of 48 and 360 products instead of 357; on the first 15000
    rows' whole path (``C`` up to 1e4, where the fits take more iterations) 84 builds instead
    of 124 and 4279 products instead of 5603 (45.6 s against 66.0 s). Every 4 iterations, or
    once per fit, needed more products on all rows (369 and 383).
    """
    start = (
        FitState(np.zeros(objective.n_params, dtype=objective.dtype))
        if previous is None
        else FitState(previous.w, optimizer_state=carried_to_new_fit(previous.optimizer_state))
    )
    return fit_core(objective, start, solver, tol=tol, max_iter=max_iter, refresh=PATH_REFRESH)


def follow_path(
    objective_at: Callable[[float], Any],
    Cs: Array,
    *,
    solver: str = "newton-cg",
    tol: float = 1e-4,
    max_iter: int = 100,
    on_C: Callable[[int, Any, FitState], bool] | None = None,
    start: FitState | None = None,
) -> FitState | None:
    """Minimise ``objective_at(C)`` for each ``C`` of ``Cs`` in turn, warm-started.

    Each fit is one :func:`path_step` (one call of the fit core,
    :func:`softreg.optim._fit_core.fit_core`) from the previous ``C``'s final state, the first
    from ``start`` (zeros when None). ``Cs`` should be ascending (strong to weak penalty).
    After the fit at ``Cs[j]``, ``on_C(j, objective, state)`` sees it; returning True stops
    the path there.
    Returns the last fit's state (None for an empty ``Cs``).
    """
    state = start
    for j, C in enumerate(Cs):
        objective = objective_at(float(C))
        state = path_step(objective, state, solver=solver, tol=tol, max_iter=max_iter)
        if on_C is not None and on_C(j, objective, state):
            break
    return state


def _flat_start(coef_init: ArrayLike, k: int, d: int, objective: SoftmaxObjective) -> Array:
    """``coef_init`` (k, d + fit_intercept) as the objective's flat parameter vector."""
    shape = (k, d + int(objective.fit_intercept))
    try:
        start = np.asarray(coef_init, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"coef_init must be an array of floats, got {coef_init!r}") from exc
    if start.shape != shape:
        raise ValueError(
            f"coef_init must have shape {shape} (n_classes, n_features + fit_intercept), got "
            f"{start.shape}"
        )
    with np.errstate(over="ignore"):  # a value too large for float32 is caught below
        flat = flat_params(start[:, :d], start[:, d:].ravel(), objective)
    if not np.all(np.isfinite(flat)):  # NaN, infinity, or too large for X's float32
        raise ValueError(f"coef_init must be finite in {flat.dtype}, got NaN or infinity")
    return flat


@dataclass
class RegularizationPath:
    """Coefficients along a grid of ``C``, from :func:`regularization_path`.

    Attributes
    ----------
    Cs : ndarray of shape (n_Cs,)
        The grid, ascending (strong to weak penalty).
    coef : ndarray of shape (n_Cs, n_classes, n_features)
    intercept : ndarray of shape (n_Cs, n_classes)
        Centred to sum to zero (only differences matter), zeros without an intercept.
    n_iter : ndarray of int of shape (n_Cs,)
        Solver iterations at each ``C``.
    classes : ndarray of shape (n_classes,)
    """

    Cs: Array
    coef: Array
    intercept: Array
    n_iter: Array
    classes: Array


def regularization_path(
    X: Any,
    y: ArrayLike,
    Cs: int | ArrayLike = 10,
    *,
    sample_weight: ArrayLike | None = None,
    class_weight: dict[Any, float] | str | None = None,
    l1_ratio: float = 0.0,
    fit_intercept: bool = True,
    max_iter: int = 100,
    tol: float = 1e-4,
    input_scale: float | None = None,
    coef_init: ArrayLike | None = None,
    solver: str = "auto",
) -> RegularizationPath:
    """Fit softmax regression at every ``C`` of a grid, each fit warm-started from the last.

    The model at each ``C`` is :class:`softreg.SoftmaxRegression`'s (same objective, same
    solvers: by default ``"newton-cg"`` for L2, ``"fista"`` when ``l1_ratio > 0``).

    Parameters
    ----------
    X : array-like or CSR matrix of shape (n_samples, n_features)
        Float data, or integer data with ``input_scale`` (kept without a float copy).
    y : array-like of shape (n_samples,)
    Cs : int or array-like of float, default=10
        A grid (sorted ascending here), or its size for :func:`default_Cs`.
    sample_weight : array-like of shape (n_samples,), default=None
    class_weight : dict, "balanced" or None, default=None
    l1_ratio : float in [0, 1], default=0.0
    fit_intercept : bool, default=True
    max_iter : int, default=100
        Solver iterations per ``C``.
    tol : float, default=1e-4
        Stop each fit at ``max|grad| <= tol``.
    input_scale : float or None, default=None
        The model sees ``input_scale * X``.
    coef_init : array-like of shape (n_classes, n_features + fit_intercept), default=None
        Where the first fit starts, the intercept in the last column (for instance a model
        fitted on part of the rows at the first ``C``); zeros when None. Only the start
        changes: each fit still stops at ``max|grad| <= tol`` of its own objective.
    solver : {"auto", "newton-cg", "lbfgs", "fista"}, default="auto"
        The solver of every fit (see :func:`solver_for`); ``"newton-cg"`` carries its
        curvature pairs from one ``C`` to the next.

    Returns
    -------
    RegularizationPath

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> path = regularization_path(X, y, [0.01, 0.1, 1.0])
    >>> path.coef.shape, path.intercept.shape
    ((3, 3, 4), (3, 3))
    >>> bool(abs(path.coef[0]).sum() < abs(path.coef[-1]).sum())  # weaker penalty, larger coef
    True
    """
    # Numbers must be numbers (not bools or strings: fit_intercept="no" was True, and
    # l1_ratio="a" gave NumPy's "could not convert string to float").
    if not (is_real_number(l1_ratio) and 0.0 <= float(l1_ratio) <= 1.0):
        raise ValueError(f"l1_ratio must be a float in [0, 1], got {l1_ratio!r}")
    path_solver = solver_for(float(l1_ratio), solver)
    if input_scale is not None and not (
        is_real_number(input_scale) and np.isfinite(input_scale) and input_scale > 0
    ):
        raise ValueError(f"input_scale must be a finite float > 0 or None, got {input_scale!r}")
    if not (isinstance(max_iter, Integral) and not isinstance(max_iter, bool) and max_iter >= 1):
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
    if not (is_real_number(tol) and tol >= 0):
        raise ValueError(f"tol must be a float >= 0, got {tol!r}")
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise ValueError(f"fit_intercept must be True or False, got {fit_intercept!r}")
    # SoftmaxRegression's checks: a one-hot y reached the compiled passes (a numba TypingError),
    # a string in X NumPy's "could not convert", a huge X a NaN loss after the first pass.
    reject_multilabel(y, "regularization_path", "MLPClassifier or OneVsRestClassifier")
    check_numeric_X(X)
    X = check_array(
        X,
        accept_sparse="csr",
        dtype=None if is_dense_integer(X) and input_scale is not None else [np.float64, np.float32],
    )
    check_magnitude(X, 1.0 if input_scale is None else float(input_scale))
    y = np.asarray(y)
    check_consistent_length(X, y)
    check_classification_targets(y)
    classes = as_label_array(y)
    if len(classes) < 2:
        raise ValueError(f"y must contain at least 2 classes, got only {classes.tolist()}")
    y_enc = encode_labels(y, classes)
    dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float32)
    sw = _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)
    if class_weight is not None:
        sw = sw * compute_class_weight(class_weight, classes=classes, y=y)[y_enc].astype(dtype)
    scale = 1.0 if input_scale is None else float(input_scale)
    grid = check_Cs(Cs)
    k = len(classes)
    if isinstance(grid, int):
        grid = default_Cs(X, y_enc, k, sw, n_Cs=grid, scale=scale, fit_intercept=fit_intercept)
    base = SoftmaxObjective(
        X, y_enc, k, sw, C=1.0, l1_ratio=l1_ratio, fit_intercept=fit_intercept, scale=scale
    )
    n_Cs, d = len(grid), X.shape[1]
    coef = np.zeros((n_Cs, k, d), dtype=base.dtype)
    intercept = np.zeros((n_Cs, k), dtype=base.dtype)
    n_iter = np.zeros(n_Cs, dtype=np.intp)

    def record(j: int, objective: SoftmaxObjective, state: FitState) -> bool:
        c, b = objective.unravel(state.w)
        coef[j] = c
        if b is not None:
            intercept[j] = b - b.mean(dtype=np.float64)
        n_iter[j] = state.n_iter
        return False

    follow_path(
        base.with_C,
        grid,
        solver=path_solver,
        tol=float(tol),
        max_iter=int(max_iter),
        on_C=record,
        start=None if coef_init is None else FitState(_flat_start(coef_init, k, d, base)),
    )
    return RegularizationPath(grid, coef, intercept, n_iter, classes)

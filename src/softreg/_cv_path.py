"""Every fold's model along a grid of ``C``: the fitting half of ``SoftmaxRegressionCV``.

The folds advance together along the grid, ascending ``C`` (strong to weak penalty): at each
``C`` every fold's model is fitted on its training rows, warm-started from its own solution
and curvature pairs at the previous ``C`` (:func:`softreg.path.path_step`: the objective
and fit core of :class:`softreg.SoftmaxRegression`), each later fold's solution moved by
the first fold's step to the new ``C`` where that lowers its objective
(:func:`softreg._cv_start.shifted_start`), then scored on its validation rows
(:class:`softreg._cv_scores.ScoreTable`), whose mean decides an early stop. At the first
``C`` the first fold starts from zeros and every later fold from the first fold's solution
(its coefficients, not its curvature pairs): the folds' solutions at the strongest penalty
are close. On all 60000 Fashion-MNIST rows (48000-row folds, ``C = 1e-4``) that took 3 Newton
iterations per later fold instead of 7; on the first 15000 rows, 3 or 4 instead of 6.
Each fold's rows are slices of one reordered copy of ``X`` where the folds allow
(:mod:`softreg._cv_rows`).

``SoftmaxRegressionCV.fit`` runs :func:`fit_fold_paths` and :func:`refit` with BLAS limited
to one thread (:func:`softreg._kernels.single_threaded_blas`), as each solver already runs:
the passes over ``X`` parallelise over rows themselves. Each fold's scoring product
(``X_valid @ coef.T``) ran outside the solvers on every core, and OpenBLAS's threads keep
spinning for a while after a call, taking a core from the next fit's passes: right after one
12000 x 784 by 784 x 10 product a loss pass on a 48000-row fold took 41-47 ms instead of 24,
the exact preconditioner block 56-61 ms instead of 32-34. The early-stopped path
(``bench_cv.py``'s grid and folds, no refit, medians of three interleaved runs) took 6.14 s
instead of 7.29 on the first 15000 Fashion-MNIST rows and 15.56 s instead of 16.61 on all
60000, with the same scores.

Why not one Newton-CG run over all the folds stacked in one objective (one wide product per
pass, which softreg did before): their Newton systems shared one conjugate-gradient
recursion, whose convergence is that of the union of their spectra, one step length and
one stop, and the stacked models had no exact leading-block preconditioner
(:mod:`softreg._kernels.subspace`). Measured on all 60000 Fashion-MNIST rows,
``logspace(-4, 4, 10)``, 5 folds: the stacked path took 344 s (176 s at ``C = 167``), one
fold's path alone 29 s, and 15 s with the curvature pairs carried along the path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import check_cv
from sklearn.utils.validation import _check_method_params

from softreg._cv_rows import FoldRows, validated_once
from softreg._cv_scores import ScoreTable
from softreg._cv_start import Evaluated, shifted_start
from softreg._softmax_fit import in_memory_objective
from softreg._validation import encode_labels
from softreg.objective import SoftmaxObjective, flat_params
from softreg.optim._fit_core import FitState
from softreg.path import follow_path, path_step, solver_for
from softreg.softmax_regression import SoftmaxRegression

Array = NDArray[Any]


@dataclass
class FoldPaths:
    """What :func:`fit_fold_paths` found; NaN (and 0 iterations) where the path stopped early.

    Attributes
    ----------
    table : ScoreTable
    coefs : ndarray of shape (n_folds, n_l1_ratios, n_Cs, n_classes, n_features + fit_intercept)
        Each fold's coefficients, the intercept last and centred.
    n_iter : ndarray of int of shape (n_folds, n_l1_ratios, n_Cs)
    oof : ndarray of shape (n_samples, n_l1_ratios, n_Cs, n_classes) or None
        Out-of-fold probabilities, when asked for.
    shifted : ndarray of bool of shape (n_l1_ratios, n_Cs)
        Whether every later fold started from the first fold's step
        (:func:`softreg._cv_start.shifted_start`) at that ``C``.
    basis : tuple of ndarray or None
        The K-FAC feature basis that preconditioned every fold (None if none was needed).
    """

    table: ScoreTable
    coefs: Array
    n_iter: Array
    oof: Array | None
    shifted: Array
    basis: Any = None


def fit_fold_paths(
    X: Any,
    y: Array,
    y_enc: Array,
    classes: Array,
    sw: Array,
    folds: list[tuple[Array, Array]],
    grid: Array,
    l1_ratios: Array,
    *,
    model_at: Callable[[Array, Array | None, float, float], Any],
    solvers: list[str] | None = None,
    scoring: Any,
    fit_intercept: bool,
    scale: float,
    tol: float,
    max_iter: int,
    keep_oof: bool = False,
    early_stopping: bool = False,
    verbose: int = 0,
    score_params: dict[str, Any] | None = None,
) -> FoldPaths:
    """Fit and score every fold's model at every (l1_ratio, ``C``); see the module docstring.

    ``y`` holds the labels, ``y_enc`` their indices in ``classes``; ``sw`` the fit's sample
    weights (class weights included). ``model_at(coef, intercept, C, l1_ratio)`` makes the
    fitted estimator whose
    ``predict_log_proba`` scores the validation rows (and that a custom scorer is given).
    ``solvers[i]`` fits the paths of ``l1_ratios[i]`` (None: :func:`softreg.path.solver_for`'s
    ``"auto"`` choice).
    ``score_params``: the metadata the scorer gets (of length n_samples; each fold is given
    its validation rows' share): its ``"sample_weight"`` weights every validation score
    (:class:`softreg._cv_scores.ScoreTable`), the rest goes to a scorer as it is.
    """
    k = len(classes)
    n_folds, n_Cs, n_l1, d = len(folds), len(grid), len(l1_ratios), X.shape[1]
    dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float32)
    table = ScoreTable(n_folds, n_l1, n_Cs, scoring, classes)
    n_iter = np.zeros((n_folds, n_l1, n_Cs), dtype=np.intp)
    shifted = np.zeros((n_l1, n_Cs), dtype=bool)
    coefs = np.full((n_folds, n_l1, n_Cs, k, d + int(fit_intercept)), np.nan, dtype)
    oof = np.full((X.shape[0], n_l1, n_Cs, k), np.nan, dtype) if keep_oof else None
    # The K-FAC feature basis (kfac.feature_basis, from 4096 evenly spaced training rows) that
    # the first fold's first fit computes serves every fold: it only preconditions. On all of
    # Fashion-MNIST (early-stopped path, C up to 0.36) 403 Hessian-vector products became 405,
    # and four of the five bases (0.25 s each) were not computed.
    basis: Any = None
    rows = FoldRows(X, folds)
    for i, l1_ratio in enumerate(l1_ratios):
        solver = solver_for(float(l1_ratio)) if solvers is None else solvers[i]
        states: list[FitState | None] = [None] * n_folds
        fitted: list[Evaluated | None] = [None] * n_folds  # each fold's objective, as fitted
        for j, C in enumerate(grid):
            before = states[0]  # the first fold's solution at the previous C
            shifted[i, j] = j > 0 and n_folds > 1
            for f in range(n_folds):
                X_train, train = rows.train(f)
                objective = SoftmaxObjective(
                    X_train,
                    y_enc[train],
                    k,
                    sw[train],
                    C=float(C),
                    l1_ratio=float(l1_ratio),
                    fit_intercept=fit_intercept,
                    scale=scale,
                    feature_basis=basis,
                )
                previous, first = states[f], states[0]
                to_fit = Evaluated(objective)
                if previous is None and first is not None:  # the first C, a later fold:
                    previous = FitState(first.w)  # from the first fold's solution
                elif f and previous is not None and first is not None and before is not None:
                    start, to_fit = shifted_start(objective, previous, before.w, first.w, fitted[f])
                    shifted[i, j] &= start is not previous
                    previous = start
                fitted[f] = to_fit
                states[f] = state = path_step(
                    to_fit, previous, solver=solver, tol=tol, max_iter=max_iter
                )
                basis = objective.feature_basis if basis is None else basis
                coef, intercept = objective.unravel(state.w)
                coefs[f, i, j, :, :d] = coef
                if intercept is not None:
                    coefs[f, i, j, :, d] = intercept - intercept.mean()
                model = model_at(coef, intercept, float(C), float(l1_ratio))
                X_test, test = rows.test(f)
                params = _check_method_params(X, params=score_params or {}, indices=test)
                log_proba = model.predict_log_proba(X_test)
                table.record(
                    f,
                    i,
                    j,
                    log_proba,
                    y_enc[test],
                    model=model,
                    X=X_test,
                    y=y[test],
                    sample_weight=params.pop("sample_weight", None),
                    params=params,
                )
                if oof is not None:
                    oof[test, i, j] = np.exp(log_proba)
                n_iter[f, i, j] = state.n_iter
            if verbose:
                print(
                    f"[SoftmaxRegressionCV] l1_ratio={l1_ratio:g} C={C:.4g}: mean score "
                    f"{table.mean_score(i, j):.6g} ({n_iter[:, i, j].sum()} iterations over "
                    "the folds)"
                )
            if early_stopping and table.passed_best(i):
                break
    return FoldPaths(table, coefs, n_iter, oof, shifted, basis)


def checked_folds(
    cv: Any,
    X: Any,
    y: Array,
    sw: Array,
    *,
    keep_oof: bool = False,
    split_params: dict[str, Any] | None = None,
) -> list[tuple[Array, Array]]:
    """The (train, validation) row indices of ``cv`` (scikit-learn's ``check_cv``), checked.

    ``split_params`` (e.g. ``groups``) go to the splitter's ``split``.

    Each index set becomes an int array of rows in ``[0, n_samples)``: a boolean mask (of
    length n_samples) by its True rows, a negative index counting from the end, as NumPy
    (and so scikit-learn) reads them. Refused: indices that are neither ints nor such a mask,
    or out of range (the rows are copied with ``np.take``, which would clip them to a wrong
    row), no split at all, a fold without validation rows or without training rows of
    positive weight in ``sw``, and with ``keep_oof`` validation sets that do not partition
    the rows.
    """
    n = X.shape[0]
    folds = [
        (_row_indices(train, n, f, "training"), _row_indices(test, n, f, "validation"))
        for f, (train, test) in enumerate(
            check_cv(cv, y, classifier=True).split(X, y, **(split_params or {}))
        )
    ]
    if not folds:
        raise ValueError(f"cv must give at least one train/validation split, got none from {cv!r}")
    if keep_oof and not validated_once(folds, n):
        raise ValueError(
            "keep_oof=True needs cv folds whose validation sets partition the rows "
            "(each row validated exactly once), as KFold / StratifiedKFold give"
        )
    for f, (train, test) in enumerate(folds):
        if not sw[train].sum() > 0:
            raise ValueError(f"fold {f} has no training rows with positive sample_weight")
        if len(test) == 0:
            raise ValueError(f"fold {f} has no validation rows: its score would be undefined")
    return folds


def _row_indices(rows: Any, n: int, f: int, which: str) -> Array:
    """Fold ``f``'s ``which`` rows as int indices in ``[0, n)`` (see :func:`checked_folds`)."""
    rows = np.asarray(rows)
    if rows.dtype == bool and rows.shape == (n,):
        return np.flatnonzero(rows)
    if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
        raise ValueError(
            f"cv fold {f}'s {which} rows must be a 1-d array of int indices or a boolean mask "
            f"of length {n}, got an array of dtype {rows.dtype} and shape {rows.shape}"
        )
    rows = rows.astype(np.intp)
    if rows.size and not (-n <= rows.min() and rows.max() < n):
        bad = rows[(rows < -n) | (rows >= n)][0]
        raise ValueError(f"cv fold {f}'s {which} rows hold index {bad}, but X has {n} rows")
    return np.where(rows < 0, rows + n, rows)


def refit(
    best: SoftmaxRegression,
    X: Any,
    y: Array,
    sample_weight: Any,
    classes: Array,
    before: Array,
    first: Array,
    moved_to: Array | None = None,
    feature_basis: Any = None,
) -> None:
    """Fit ``best`` on all of ``X``, warm-started from the full-data path over ``before``.

    ``X`` and ``y`` are validated (as ``SoftmaxRegressionCV.fit`` leaves them), ``classes``
    the labels. ``before`` holds the grid's ``C`` to fit on all the rows before the chosen
    one (:func:`softreg.path.follow_path` on ``best``'s objective, with its settings and
    solver; empty: ``best`` is fitted from zeros); the path starts from ``first``, a model of
    (n_classes, n_features + fit_intercept). ``SoftmaxRegressionCV`` passes the ``C`` just
    before the chosen one and the first fold's model there: the folds' solutions are close to
    the full data's (that is why each later fold starts from the first fold's at the first
    ``C``), so the path need not start at the grid's strongest penalty. On all 60000
    Fashion-MNIST rows (``bench_cv.py``'s early-stopped grid, ``C = 0.0464`` chosen) the refit
    took 2.2 s instead of 3.8 s with the path from the first ``C``, with the same test
    accuracy (0.8452) and test log-loss (0.43624). It runs only after the choice, so the
    weaker ``C`` are never fitted on all the rows.

    ``moved_to``, when given, is the first fold's model at the chosen ``C``: the final fit
    then starts from the path's model at ``before[-1]`` moved by the first fold's step from
    ``first`` to ``moved_to``, as the later folds start
    (:func:`softreg._cv_start.shifted_start`). ``SoftmaxRegressionCV`` gives it where every
    later fold kept that start at the chosen ``C``, the evidence that the step carries over
    between overlapping row sets there. On the benchmark above the final fit took 2 Newton
    iterations instead of 4, and the refit 1.4 s instead of 2.2 s, with the same test
    log-loss (0.43624; test accuracy 0.8451, one test image more wrong: both fits stop at
    ``max|grad| <= 1e-4``).

    ``feature_basis``: the folds' K-FAC feature basis (from the first fold's training rows),
    which preconditions the path and the final fit instead of one computed from all the rows
    for each (0.26 s each on all of Fashion-MNIST, 0.29 s on its first 15000 rows). On the
    benchmark above the refit took 0.99 s instead of 1.60 s; test log-loss 0.43622, test
    accuracy 0.8450 (one more test image wrong again, within the same stop test).
    """
    best.classes_ = classes
    if len(before):
        l1_ratio = float(cast(float, best.l1_ratio))  # a float: SoftmaxRegressionCV sets it
        objective = in_memory_objective(
            best, X, encode_labels(y, classes), sample_weight, before[-1], l1_ratio, feature_basis
        )
        d = objective.n_features
        state = follow_path(
            objective.with_C,
            before,
            solver=solver_for(l1_ratio, str(best.solver)),
            tol=float(cast(float, best.tol)),
            max_iter=int(best.max_iter),
            start=FitState(flat_params(first[:, :d], first[:, d:].ravel(), objective)),
        )
        assert state is not None  # before is not empty
        coef, intercept = objective.unravel(state.w)
        best.coef_ = coef.copy()
        best.intercept_ = (
            np.zeros(len(classes), coef.dtype)
            if intercept is None
            else intercept - intercept.mean()
        )  # centred: the same model
        if moved_to is not None:
            best.coef_ += moved_to[:, :d] - first[:, :d]
            if best.fit_intercept:
                best.intercept_ += moved_to[:, d] - first[:, d]
        best.set_params(warm_start=True)
        feature_basis = objective.feature_basis  # computed here if none was given
    best._fit(X, y, sample_weight, None, None, 1, None, feature_basis=feature_basis)

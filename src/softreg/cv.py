"""``SoftmaxRegressionCV``: ``C`` chosen by cross-validation along a warm-started path.

How it fits. Every fold's model follows the grid, ascending ``C`` (strong to weak penalty),
each warm-started from its own previous solution (:mod:`softreg._cv_path`); the scores
(:mod:`softreg._cv_scores`) choose ``C``. The refit runs after the choice: a full-data fit at
the ``C`` before the chosen one (from the first fold's model there), from which a
:class:`softreg.SoftmaxRegression` at the chosen ``C`` is warm-started (never from an average
of fold coefficients), so the weaker ``C`` are never fitted on all the rows.
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics import check_scoring
from sklearn.utils.metadata_routing import UNUSED
from sklearn.utils.validation import check_is_fitted

from softreg._cv_data import cv_data
from softreg._cv_params import (
    PARAMETER_CONSTRAINTS,
    cv_router,
    legacy_attributes,
    path_solvers,
    resolve_cv_penalty,
    resolve_cv_solver,
    routed_params,
)
from softreg._cv_path import fit_fold_paths, refit
from softreg._cv_scores import labelled_scorer
from softreg._kernels import single_threaded_blas
from softreg._sklearn_params import n_iter_array
from softreg._softmax_checks import validate_X
from softreg.softmax_regression import SoftmaxRegression

Array = NDArray[Any]


class SoftmaxRegressionCV(ClassifierMixin, BaseEstimator):
    """Softmax regression with ``C`` (and ``l1_ratio``) chosen by cross-validation.

    Takes :class:`sklearn.linear_model.LogisticRegressionCV`'s parameters where they apply;
    the folds follow the grid together, each warm-started along it (see :mod:`softreg.cv`).
    Holds the rows once more, ordered so that every fold's rows are a slice (1.8 ``X`` with
    5 folds, up to 1 GiB; beyond that, or where the folds do not partition the rows, one
    fold's rows at a time: :mod:`softreg._cv_rows`).

    Parameters
    ----------
    Cs : int or array-like of float, default=10
        The grid of ``C`` (sorted ascending), or its size for the data-derived grid of
        :func:`softreg.path.default_Cs` (from the penalty that halves the data term's largest
        curvature at the null model, six decades towards weaker penalty).
    l1_ratios : array-like of float in [0, 1] or None, default=None
        Elastic-net mixing values tried; None is pure L2 (and keeps ``scores_`` etc. without
        an l1_ratio axis).
    fit_intercept : bool, default=True
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn: None is 5-fold, an int ``StratifiedKFold`` (not shuffled).
    dual : bool, default=False
        Only False: softreg solves the primal problem (True is refused, as scikit-learn
        refuses it for every solver but liblinear).
    penalty : {"l2", "l1", "elasticnet"}, deprecated
        As in scikit-learn 1.9 (a ``FutureWarning``): leave it unset and use ``l1_ratios``.
        ``"l2"`` / ``"l1"`` fit L1 share 0 / 1 whatever ``l1_ratios`` holds; None (no penalty,
        so no ``C`` to choose) is refused.
    scoring : str, callable or None, default="neg_log_loss"
        Validation score, higher is better; also what :meth:`score` returns.
        ``"neg_log_loss"`` and ``"accuracy"`` (None: the accuracy, as in scikit-learn) are
        computed from the fold model's log-probabilities; any other scorer is called on a
        ``SoftmaxRegression`` holding the fold's coefficients, with ``labels=classes_`` where
        its metric takes them (a fold may lack a class), as ``LogisticRegressionCV`` does.
        With ``sample_weight`` every validation score is weighted by the rows' weights (a
        scorer gets ``sample_weight=``), as ``LogisticRegressionCV`` 1.9 passes it to its
        scorer without metadata routing (with it, only if the scorer requests it);
        ``class_weight`` weighs the fits only. A scorer runs with BLAS limited to one thread,
        as the fits do (see :mod:`softreg._cv_path`).
    solver : {"auto", "newton-cg", "lbfgs", "fista"}, default="auto"
        The solver of every fit, the refit's included. ``"auto"``: Newton-CG for L2 (carrying
        its curvature pairs along the path), FISTA with an L1 term. scikit-learn's
        ``"liblinear"``, ``"newton-cholesky"``, ``"sag"`` and ``"saga"`` are refused, naming
        the softreg solver for the same objective.
    tol : float, default=1e-4
        Each fit along the path stops at ``max|grad| <= tol`` (per model).
    max_iter : int, default=100
        Solver iterations per ``C``.
    class_weight : dict, "balanced" or None, default=None
    n_jobs : int or None, default=None
        Accepted for ``LogisticRegressionCV`` parity; no effect on the result or the time.
        The folds are fitted one after another, each pass over the rows on every core. Two
        folds at once, one thread each, was 1.13x faster on 15000 Fashion-MNIST rows but not
        kept: the weak-penalty models then depended on the thread split (the summation order).
    refit : bool, default=True
        Refit on all data at the chosen ``C``, warm-started from the full-data path. When
        False, ``coef_`` is the mean of the fold models' coefficients at the chosen ``C`` (as
        scikit-learn does, but at the one ``C`` chosen on the mean score).
    intercept_scaling : float > 0, default=1
        No effect (liblinear's, as in scikit-learn for every other solver).
    random_state : None, default=None
        Unused (the solvers are deterministic); accepted for ``LogisticRegressionCV`` parity.
    use_legacy_attributes : bool, default=False
        False: the layout below (scikit-learn 1.9's ``use_legacy_attributes=False``, its
        default from 1.10; softreg's ``scores_`` etc. keep no l1_ratio axis when
        ``l1_ratios=None``). True: ``LogisticRegressionCV``'s legacy layout
        (:func:`softreg._cv_params.legacy_attributes`): ``scores_`` and ``coefs_paths_``
        dicts keyed by class, ``n_iter_`` (1, n_folds, n_Cs), ``C_`` and ``l1_ratio_`` arrays
        with one entry per class (one, for ``classes_[1]``, with two classes).
    selection : {"min", "1se"}, default="min"
        ``"min"``: the ``C`` of the best mean score. ``"1se"``: the smallest ``C`` (strongest
        penalty) whose mean score is within one standard error of the best (glmnet's rule).
    keep_oof : bool, default=False
        Keep out-of-fold probabilities ``oof_proba_`` (needs folds that partition the rows).
    early_stopping : bool, default=False
        Stop the path once it has clearly passed its best: the two newest ``C`` score below
        the best mean minus its standard error, or the newest does and is also below the best
        fold by fold (a one-sided paired t-test of its folds' score differences to the best's,
        at 5%; not with a single fold). The ``C`` not fitted get NaN in ``scores_``,
        ``coefs_paths_`` and ``cv_results_`` (``cv_results_["fitted"]`` says which).
    input_scale : float > 0 or None, default=None
        The model sees ``input_scale * X``; integer ``X`` (uint8 pixels) is kept as it is.
    verbose : int, default=0
        Print one line per ``C`` when > 0 (and a line when a sparse X other than CSR is
        converted to CSR).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)
    C_ : float
        The chosen ``C``.
    C_1se_ : float
        The one-standard-error ``C`` (whatever ``selection`` is).
    l1_ratio_ : float
    Cs_ : ndarray of shape (n_Cs,)
        The grid, ascending.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
    scores_ : ndarray of shape (n_folds, n_Cs) or (n_folds, n_l1_ratios, n_Cs)
        Validation score of each fold's model at each ``C``.
    coefs_paths_ : ndarray of shape (n_folds, n_Cs, n_classes, n_features + fit_intercept)
        Each fold's coefficients (intercept last, centred) along the path; with
        ``l1_ratios`` an l1_ratio axis after the folds'.
    n_iter_ : ndarray of int of shape (n_folds, n_Cs) or (n_folds, n_l1_ratios, n_Cs)
        Newton (or FISTA) iterations of each fold's fit at each ``C``.
    cv_results_ : dict of ndarray
        One entry per (l1_ratio, C): ``"C"``, ``"l1_ratio"``, ``"mean_test_score"``,
        ``"std_test_score"`` (ddof 0), ``"sem_test_score"`` (standard error: ddof 1 over
        ``sqrt(n_folds)``), ``"rank_test_score"``, ``"split{i}_test_score"``, the same
        mean/std/sem for ``"log_loss"`` and ``"accuracy"``, ``"n_iter"`` (summed over the
        folds) and ``"fitted"``.
    oof_proba_ : ndarray of shape (n_samples, n_Cs, n_classes)
        Only with ``keep_oof=True`` (an l1_ratio axis before ``n_Cs`` with ``l1_ratios``).
    best_estimator_ : SoftmaxRegression
        The model that predicts.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxRegressionCV(Cs=[0.01, 0.1, 1.0, 10.0], cv=3).fit(X, y)
    >>> clf.scores_.shape, float(clf.C_)
    ((3, 4), 10.0)
    >>> round(clf.score(X, y), 2)  # the scoring's: minus the log-loss
    -0.06
    >>> round(clf.best_estimator_.score(X, y), 2)  # the refit model's accuracy
    0.98
    """

    classes_: Array
    coef_: Array
    intercept_: Array
    C_: float
    C_1se_: float
    l1_ratio_: float
    Cs_: Array
    scores_: Array
    coefs_paths_: Array
    n_iter_: Array
    cv_results_: dict[str, Array]
    best_estimator_: SoftmaxRegression

    #: ``score``'s ``sample_weight`` is the scorer's to request, not the estimator's own
    #: (scikit-learn's routing then refuses it when the scorer does not ask for it).
    __metadata_request__score: ClassVar[dict[str, Any]] = {"sample_weight": UNUSED}

    #: scikit-learn solver names mapped to softreg's instead of refused (None: refused).
    _solver_equivalents: ClassVar[dict[str, str] | None] = None

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = PARAMETER_CONSTRAINTS

    def __init__(
        self,
        Cs: int | ArrayLike = 10,
        *,
        l1_ratios: ArrayLike | None = None,
        fit_intercept: bool = True,
        cv: Any = None,
        dual: bool = False,
        penalty: str | None = "deprecated",
        scoring: Any = "neg_log_loss",
        solver: str = "auto",
        tol: float = 1e-4,
        max_iter: int = 100,
        class_weight: dict[Any, float] | str | None = None,
        n_jobs: int | None = None,
        refit: bool = True,
        intercept_scaling: float = 1.0,
        random_state: Any = None,
        use_legacy_attributes: bool = False,
        selection: str = "min",
        keep_oof: bool = False,
        early_stopping: bool = False,
        input_scale: float | None = None,
        verbose: int = 0,
    ) -> None:
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.dual = dual
        self.penalty = penalty
        self.scoring = scoring
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.refit = refit
        self.intercept_scaling = intercept_scaling
        self.random_state = random_state
        self.use_legacy_attributes = use_legacy_attributes
        self.selection = selection
        self.keep_oof = keep_oof
        self.early_stopping = early_stopping
        self.input_scale = input_scale
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- fitting -------------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: Any, y: ArrayLike, sample_weight: ArrayLike | None = None, **params: Any
    ) -> Any:
        """Cross-validate the path on ``X`` (n_samples, n_features) and ``y``; refit.

        ``params``: metadata for the splitter (``groups``) and the scorer, only with
        scikit-learn's metadata routing enabled (:func:`softreg._cv_params.routed_params`).
        """
        routed = routed_params(self, "fit", sample_weight, params)
        # scikit-learn's parameter semantics first, before the data (as it does).
        penalty_name, ratios = resolve_cv_penalty(self.penalty, self.l1_ratios)
        solver = resolve_cv_solver(
            str(self.solver), penalty_name, bool(self.dual), self._solver_equivalents
        )
        solvers = path_solvers(solver, ratios)
        data = cv_data(self, X, y, sample_weight, routed)  # sets n_features_in_, classes_
        X, y, grid = data.X, data.y, data.grid

        # The fold paths (fits and scoring) and the refit run with BLAS on one thread: see
        # softreg._cv_path's docstring.
        with single_threaded_blas():
            fitted = fit_fold_paths(
                X,
                y,
                data.y_enc,
                self.classes_,
                data.sample_weight,
                data.folds,
                grid,
                ratios,
                model_at=partial(self._model, solver=solver),
                solvers=solvers,
                scoring=self.scoring,
                fit_intercept=self.fit_intercept,
                scale=data.scale,
                tol=float(self.tol),
                max_iter=int(self.max_iter),
                keep_oof=self.keep_oof,
                early_stopping=self.early_stopping,
                verbose=self.verbose,
                score_params=data.score_params,
            )
        table, paths, n_iter, oof = fitted.table, fitted.coefs, fitted.n_iter, fitted.oof

        self.Cs_ = grid
        self.l1_ratios_ = ratios
        self.cv_results_ = table.results(grid, ratios, n_iter)
        i_best, j_best, j_1se = table.select()
        self.C_1se_ = float(grid[j_1se])
        j_sel = j_best if self.selection == "min" else j_1se
        self.C_ = float(grid[j_sel])
        self.l1_ratio_ = float(ratios[i_best])
        squeeze = self.l1_ratios is None
        self.scores_ = table.score[:, 0] if squeeze else table.score
        self.coefs_paths_ = paths[:, 0] if squeeze else paths
        self.n_iter_ = n_iter[:, 0] if squeeze else n_iter
        if oof is not None:
            self.oof_proba_ = oof[:, 0] if squeeze else oof

        if self.refit:
            best = self._new_model(self.C_, self.l1_ratio_, solver)
            # The full-data path runs from the C before the chosen one, started from the first
            # fold's model there, and moves by the first fold's step (see _cv_path.refit).
            j0 = max(j_sel - 1, 0)
            moved_to = paths[0, i_best, j_sel] if fitted.shifted[i_best, j_sel] else None
            with single_threaded_blas():
                refit(
                    best, X, y, sample_weight, self.classes_, grid[j0:j_sel],
                    paths[0, i_best, j0], moved_to, fitted.basis,
                )  # fmt: skip
        else:  # scikit-learn's refit=False: the mean of the fold models at the chosen C
            mean = paths[:, i_best, j_sel].mean(axis=0).astype(paths.dtype)
            d = X.shape[1]
            intercept = mean[:, d] if self.fit_intercept else None
            best = self._model(mean[:, :d], intercept, self.C_, self.l1_ratio_, solver)
        self.best_estimator_ = best
        self.coef_, self.intercept_ = best.coef_, best.intercept_
        if self.use_legacy_attributes:
            legacy = legacy_attributes(
                self.classes_, table.score, paths, n_iter, self.C_, self.l1_ratio_, squeeze
            )
            for name, value in legacy.items():
                setattr(self, name, value)
        return self

    def _new_model(self, C: float, l1_ratio: float, solver: str) -> SoftmaxRegression:
        # scikit-learn 1.9's API: l1_ratio alone chooses L2 / L1 / elastic net; the solver is
        # softreg's name ("auto" chooses per l1_ratio as the path did).
        return SoftmaxRegression(
            C=C,
            l1_ratio=float(l1_ratio),
            fit_intercept=self.fit_intercept,
            intercept_scaling=self.intercept_scaling,
            class_weight=self.class_weight,
            solver=solver,
            tol=self.tol,
            max_iter=self.max_iter,
            input_scale=self.input_scale,
        )

    def _model(
        self, coef: Array, intercept: Array | None, C: float, l1_ratio: float, solver: str
    ) -> SoftmaxRegression:
        """A fitted ``SoftmaxRegression`` holding one fold's model at ``C`` (for scoring)."""
        model = self._new_model(C, l1_ratio, solver)
        model.classes_ = self.classes_
        model.coef_ = np.array(coef, copy=True)
        k = coef.shape[0]
        model.intercept_ = (
            np.zeros(k, coef.dtype) if intercept is None else np.array(intercept, copy=True)
        )
        model.n_features_in_ = coef.shape[1]
        model.n_iter_ = n_iter_array(0)
        model.history_ = []
        return model

    # -- prediction ----------------------------------------------------------------------------

    def _validated(self, X: Any) -> Any:
        check_is_fitted(self)
        return validate_X(self, X)

    def decision_function(self, X: Any) -> Array:
        """Logits, shape (n_samples, n_classes); for two classes ``z_1 - z_0`` (n_samples,)."""
        X = self._validated(X)
        return self.best_estimator_.decision_function(X)

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities, shape (n_samples, n_classes)."""
        X = self._validated(X)
        return self.best_estimator_.predict_proba(X)

    def predict_log_proba(self, X: Any) -> Array:
        """Log class probabilities (stable ``log_softmax``), shape (n_samples, n_classes)."""
        X = self._validated(X)
        return self.best_estimator_.predict_log_proba(X)

    def predict(self, X: Any) -> Array:
        """Most probable class label, shape (n_samples,)."""
        X = self._validated(X)
        return self.best_estimator_.predict(X)

    def score(
        self, X: Any, y: ArrayLike, sample_weight: ArrayLike | None = None, **score_params: Any
    ) -> float:
        """The ``scoring`` score on ``X`` (n_samples, n_features) and ``y`` (the accuracy for
        ``scoring=None``), weighted by ``sample_weight``, as ``LogisticRegressionCV.score``.

        A metric that takes ``labels`` (log-loss among them) is given every class of
        ``classes_``, so ``y`` may lack some. ``score_params`` (and ``sample_weight``) are
        routed to the scorer as in :meth:`fit`.
        """
        kwargs = routed_params(self, "score", sample_weight, score_params)["score"]
        check_is_fitted(self)
        scorer = labelled_scorer(self._scoring(), self.classes_)
        return float(scorer(self, X, y, **kwargs))

    # -- metadata routing ----------------------------------------------------------------------

    def _scoring(self) -> Any:
        return "accuracy" if self.scoring is None else self.scoring

    def get_metadata_routing(self) -> Any:
        """scikit-learn's metadata routing, as ``LogisticRegressionCV``'s: ``fit``'s metadata
        (``groups``) to the splitter's ``split``; ``fit``'s and ``score``'s to the scorer."""
        return cv_router(self, self.cv, check_scoring(self, scoring=self._scoring()))

"""``SoftmaxRegression``: multinomial logistic regression as a scikit-learn classifier."""

from __future__ import annotations

import os
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.linear_model._base import SparseCoefMixin
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from softreg._sklearn_callbacks import CallbackSupportMixin, open_callbacks
from softreg._sklearn_params import (
    SKLEARN_SOLVER_EQUIVALENTS,
    n_iter_array,
    resolve_penalty,
    resolve_solver,
    warn_n_jobs,
)
from softreg._validation import as_label_array, encode_labels, reject_multilabel
from softreg.functional import log_softmax, softmax
from softreg.objective import SoftmaxObjective
from softreg.optim import minimize
from softreg.optim._result import SolverResult

_DEFAULT_LEARNING_RATE = {"sgd": 0.06, "adam": 1e-3}


class SoftmaxRegression(CallbackSupportMixin, ClassifierMixin, SparseCoefMixin, BaseEstimator):
    """Multinomial logistic (softmax) regression, a drop-in for ``LogisticRegression``.

    Minimises, over ``coef`` ``W`` (n_classes, n_features) and ``intercept`` ``b`` (n_classes,),
    the mean weighted cross-entropy of ``softmax(W x + b)`` plus
    ``(1 - l1_ratio) ||W||^2 / (2 C S) + l1_ratio ||W||_1 / (C S)`` (``S`` the sum of sample
    weights), whose minimiser is scikit-learn's ``LogisticRegression(C=C)``'s for more than two
    classes (see :mod:`softreg.objective`). Beyond it: ``partial_fit`` streams, float32 input
    gives float32 parameters and arithmetic, and ``history_`` records each iteration.

    **Two classes.** ``coef_`` keeps both rows. Since ``softmax(z)_1 = sigmoid(z_1 - z_0)``,
    the model is binary logistic regression on ``w = coef_[1] - coef_[0]``,
    ``c = intercept_[1] - intercept_[0]``; at the L2 optimum ``coef_[0] = -coef_[1]`` (the data
    gradient sums to zero over classes), so the penalty is ``||w||^2 / 2`` and ``(w, c)`` equals
    ``LogisticRegression(C=2 * C)``'s ``coef_[0], intercept_[0]``. ``decision_function`` returns
    ``z_1 - z_0`` of shape (n_samples,), as scikit-learn's binary classifiers do.

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        Penalty on ``coef_`` (never on ``intercept_``); None is the same as ``C=np.inf``.
    C : float, default=1.0
        Inverse regularisation strength, > 0; ``np.inf`` for no penalty.
    l1_ratio : float in [0, 1] or None, default=None
        L1 share of the elastic-net penalty; required for ``penalty="elasticnet"``.
    fit_intercept : bool, default=True
        Whether to fit ``intercept_`` (zeros otherwise).
    class_weight : dict, "balanced" or None, default=None
        Weights multiplying ``sample_weight`` per class, as in scikit-learn.
    solver : {"auto", "newton-cg", "lbfgs", "fista", "sgd", "adam"}, default="auto"
        ``"auto"`` is ``"newton-cg"`` (truncated Newton on the exact Hessian-vector product,
        ~10-20 iterations to a tight optimum) for L2 / no penalty and ``"fista"`` for L1 and
        elastic net (the only solver handling them).
    max_iter : int, default=100
        Maximum iterations (epochs for ``"sgd"``/``"adam"``).
    tol : float or None, default=None
        Full-batch solvers stop when ``max|grad| <= tol``; stochastic ones when the epoch cost
        improves by less than ``tol`` (``tol=0``: run all ``max_iter`` epochs). None means
        1e-4 for ``"newton-cg"``, 1e-6 for ``"lbfgs"``/``"fista"`` and 1e-4 for stochastic
        solvers. On Fashion-MNIST (C=1) ``max|grad| <= 1e-4`` alone left the objective up to
        ~3e-3 (relative) above the optimum and 1e-6 leaves ~1e-7; newton-cg's final polishing
        Newton step (see :func:`softreg.optim.minimize_newton_cg`) took that to ~6e-5, below
        scikit-learn's lbfgs and newton-cg results, for a fraction of the passes over X that
        1e-6 needs.
    warm_start : bool, default=False
        Start from the previous ``coef_``/``intercept_`` when classes and shapes match.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the Xavier initialisation and the mini-batch shuffling.
    verbose : int, default=0
        Print one line per iteration when > 0.
    batch_size : int, default=200
        Mini-batch size of ``"sgd"``/``"adam"`` and ``partial_fit``.
    learning_rate : float, callable or None, default=None
        Step size of the stochastic solvers, or a schedule ``step -> float``; None means 0.06
        for ``"sgd"`` (the notes' value for pixels / 255) and 1e-3 for ``"adam"``.
    momentum : float in [0, 1), default=0.0
        Heavy-ball momentum of ``"sgd"``.
    init : {"zeros", "xavier"}, default="zeros"
        Start point: zeros, or Xavier-uniform ``U(-a, a)`` with ``a = sqrt(6 / (n_features +
        n_classes))`` for ``coef`` (the intercept always starts at zero). The objective is
        convex, so the optimum does not depend on it (with a penalty).
    input_scale : float > 0 or None, default=None
        If set, the model sees ``input_scale * X`` in ``fit`` and in prediction (e.g.
        ``1 / 255`` for raw uint8 pixels), and an integer ``X`` is kept as it is: the scale is
        folded into the coefficients, the arithmetic runs in float32 one block of rows at a
        time, and no float copy of ``X`` is made. ``coef_`` is then the same as a fit on the
        float array ``input_scale * X`` (float32) would give.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels (strings as dtype 'U').
    coef_ : ndarray of shape (n_classes, n_features)
        Weights, in X's floating dtype (float32 or float64).
    intercept_ : ndarray of shape (n_classes,)
        Biases, same dtype.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X had string column names.
    n_iter_ : int
        Iterations (epochs) run by the last ``fit``; epochs so far for ``partial_fit``.
    history_ : list of dict
        One row per iteration/epoch: ``{"iteration", "loss", "grad_norm"}`` (plain floats);
        ``grad_norm`` is ``max|grad|`` (stochastic solvers: of the epoch's mean gradient).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxRegression(C=1.0).fit(X, y)
    >>> clf.coef_.shape, clf.intercept_.shape
    ((3, 4), (3,))
    >>> round(clf.score(X, y), 2)
    0.97
    """

    # Fitted attributes (annotations only: they exist after fit).
    classes_: NDArray[Any]
    coef_: NDArray[Any]
    intercept_: NDArray[Any]
    n_iter_: NDArray[np.int32]
    history_: list[dict[str, Any]]
    #: scikit-learn solver names mapped to softreg's instead of refused (the conformance tests'
    #: adapter sets it; see :func:`softreg._sklearn_params.resolve_solver`).
    _solver_equivalents: ClassVar[dict[str, str] | None] = None

    _state_attributes: ClassVar[tuple[str, ...]] = (
        "classes_",
        "coef_",
        "intercept_",
        "n_features_in_",
        "n_iter_",
        "history_",
    )

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
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

    def __init__(
        self,
        penalty: str | None = "deprecated",
        *,
        C: float = 1.0,
        l1_ratio: float | None = 0.0,
        dual: bool = False,
        tol: float | None = None,
        fit_intercept: bool = True,
        intercept_scaling: float = 1,
        class_weight: dict[Any, float] | str | None = None,
        random_state: Any = None,
        solver: str = "auto",
        max_iter: int = 100,
        verbose: int = 0,
        warm_start: bool = False,
        n_jobs: int | None = None,
        batch_size: int = 200,
        learning_rate: float | Callable[[int], float] | None = None,
        momentum: float = 0.0,
        init: str = "zeros",
        input_scale: float | None = None,
    ) -> None:
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.init = init
        self.input_scale = input_scale

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- configuration -----------------------------------------------------------------------

    def _penalty_args(self) -> tuple[float, float]:
        """``(C, l1_ratio)`` for the objective, chosen as scikit-learn 1.9 does (with its
        warnings; see :func:`softreg._sklearn_params.resolve_penalty`)."""
        _, C, l1_ratio = resolve_penalty(self.penalty, self.C, self.l1_ratio)
        return C, l1_ratio

    def _solver(self, l1_ratio: float) -> str:
        """The softreg solver for the objective's ``l1_ratio`` (ValueError if it cannot)."""
        name = "l2" if l1_ratio == 0 else "l1" if l1_ratio == 1 else "elasticnet"
        return resolve_solver(self.solver, name, bool(self.dual), self._solver_equivalents)

    def _tol(self, solver: str) -> float:
        if self.tol is None:
            return 1e-4 if solver in ("sgd", "adam", "newton-cg") else 1e-6
        return float(self.tol)

    def _learning_rate(self, solver: str) -> Any:
        if self.learning_rate is None:
            return _DEFAULT_LEARNING_RATE.get(solver, _DEFAULT_LEARNING_RATE["sgd"])
        return self.learning_rate

    def _epoch(
        self, objective: Any, w: NDArray[Any], solver: str, rng: Any, state: Any
    ) -> SolverResult:
        """One epoch of ``solver`` ("sgd" or "adam") from ``w`` with this model's settings.

        Shared by ``partial_fit`` and the checkpointed loop of :mod:`softreg.resume`; the stop
        rule across epochs is the caller's (``tol=-inf`` here).
        """
        return minimize(
            objective,
            w,
            solver,
            tol=-np.inf,
            max_iter=1,
            learning_rate=self._learning_rate(solver),
            momentum=float(self.momentum),
            batch_size=int(self.batch_size),
            random_state=rng,
            state=state,
            warn=False,
        )

    # -- fitting -----------------------------------------------------------------------------

    def _validate_fit_data(self, X: Any, y: Any, reset: bool) -> tuple[Any, NDArray[Any]]:
        reject_multilabel(y, type(self).__name__, "MLPClassifier or OneVsRestClassifier")
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=self._dtypes(X), reset=reset)
        check_classification_targets(y)
        if X.shape[0] == 0:
            raise ValueError("X has 0 samples; at least one is required.")
        return X, y

    def _dtypes(self, X: Any) -> Any:
        """Accepted dtypes: also X's own integer dtype when ``input_scale`` is set (no copy)."""
        if self.input_scale is not None and _is_dense_integer(X):
            return None
        return [np.float64, np.float32]

    def _scale(self) -> float:
        return 1.0 if self.input_scale is None else float(self.input_scale)

    def _sample_weight(self, sample_weight: Any, X: Any, y_enc: NDArray[np.intp]) -> NDArray[Any]:
        dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float32)
        sw = _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)
        if self.class_weight is not None:
            cw = compute_class_weight(
                self.class_weight, classes=self.classes_, y=self.classes_[y_enc]
            )
            sw = sw * cw[y_enc].astype(dtype)
        return sw

    def _set_classes(self, y: NDArray[Any]) -> NDArray[np.intp]:
        """Set ``classes_`` from ``y`` (at least two) and return ``y`` as class indices."""
        self.classes_ = as_label_array(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y, but y "
                f"contains only one class: {self.classes_[0]!r}."
            )
        return encode_labels(y, self.classes_)

    def _objective(
        self, X: Any, y_enc: NDArray[np.intp], sample_weight: Any, C: float, l1_ratio: float = 0.0
    ) -> SoftmaxObjective:
        """The objective of this model's settings on ``X`` and class indices ``y_enc``."""
        return SoftmaxObjective(
            X,
            y_enc,
            len(self.classes_),
            self._sample_weight(sample_weight, X, y_enc),
            C=C,
            l1_ratio=l1_ratio,
            fit_intercept=self.fit_intercept,
            scale=self._scale(),
        )

    def _initial_params(self, objective: SoftmaxObjective, rng: np.random.Generator) -> Any:
        k, d = objective.n_classes, objective.n_features
        w0 = np.zeros(objective.n_params, dtype=objective.dtype)
        if self.init == "xavier":
            bound = np.sqrt(6.0 / (d + k))
            w0[: k * d] = rng.uniform(-bound, bound, size=k * d)
        return w0

    def _current_params(self, objective: SoftmaxObjective) -> Any:
        parts = [np.asarray(self.coef_, dtype=objective.dtype).ravel()]
        if objective.fit_intercept:
            parts.append(np.asarray(self.intercept_, dtype=objective.dtype))
        return np.concatenate(parts)

    def _store(self, w: NDArray[Any], objective: SoftmaxObjective) -> None:
        coef, intercept = objective.unravel(w)
        self.coef_ = np.array(coef, copy=True)
        if objective.l1_strength == 0 or objective.n_classes == 2:
            # softmax(z + c) = softmax(z) also for c = x . v: adding v to every row of coef
            # leaves the data term unchanged. Centring (v = -mean of the rows) then keeps the
            # loss and lowers an L2 penalty (||W - 1 m||^2 = ||W||^2 - k ||m||^2), and for two
            # classes any penalty (|a| + |b| >= 2 |(b - a) / 2|), so it never moves away from
            # the optimum; without a penalty it picks scikit-learn's zero-sum representative
            # (the one an L2 optimum has, Zhu and Hastie 2004). Not for L1 with k > 2 classes.
            self.coef_ -= self.coef_.mean(axis=0, dtype=np.float64).astype(self.coef_.dtype)
        if intercept is None:
            self.intercept_ = np.zeros(objective.n_classes, dtype=objective.dtype)
        else:
            # softmax(z + c) = softmax(z): only intercept differences matter. Centring picks
            # the zero-sum representative (what gradient methods from zero keep anyway; Adam
            # drifts along the flat direction), so the fitted intercept_ is unique.
            self.intercept_ = intercept - intercept.mean(dtype=np.float64).astype(intercept.dtype)

    def _make_callback(self, objective: SoftmaxObjective, user: Any, offset: int = 0) -> Any:
        def on_iteration(w: NDArray[Any], row: dict[str, Any]) -> bool:
            row = dict(row, iteration=row["iteration"] + offset)
            self._store(w, objective)
            self.history_.append(row)
            self.n_iter_ = row["iteration"]
            if self.verbose:
                print(
                    f"[SoftmaxRegression] iteration {row['iteration']}: loss={row['loss']:.8g} "
                    f"grad_norm={row['grad_norm']:.3g}"
                )
            bridge = getattr(self, "_callback_bridge", None)  # set_callbacks' hooks, if any
            stop = bridge.iteration_end() if bridge is not None else False
            user_stop = bool(user(self, row)) if user is not None else False
            return user_stop or stop

        return on_iteration

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: Any,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        callback: Callable[[SoftmaxRegression, dict[str, Any]], Any] | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 1,
        resume_from: str | os.PathLike[str] | None = None,
    ) -> SoftmaxRegression:
        """Fit the model to ``X`` (n_samples, n_features) and labels ``y`` (n_samples,).

        ``callback(model, record)`` runs after every iteration (epoch), with ``model`` holding
        the current parameters; returning True stops training without a warning.
        ``checkpoint`` (a path) is written atomically every ``checkpoint_every`` iterations;
        ``resume_from`` continues from such a file (see :mod:`softreg.resume`; the
        stochastic solvers and ``"newton-cg"`` then end bit for bit as an uninterrupted fit).
        A ``dask.array`` ``X`` trains on its shards where they live (:mod:`softreg.dask`).
        With ``warm_start=True`` the fit continues the previous one: from its parameters and,
        if ``coef_``/``intercept_`` are as it left them, its solver state (``"newton-cg"``'s
        curvature pairs, the stochastic solvers' moments and shuffling), so ``k`` fits of one
        iteration end where one fit of ``k`` iterations does (``"lbfgs"`` and ``"fista"``
        restart their memory/momentum, as scikit-learn's solvers do). Returns ``self``.
        """
        warn_n_jobs(self.n_jobs)
        if hasattr(X, "__dask_graph__"):
            from softreg.dask import fit_dask

            fit_dask(
                self,
                X,
                y,
                sample_weight,
                callback=callback,
                checkpoint=checkpoint,
                checkpoint_every=checkpoint_every,
                resume_from=resume_from,
            )
            self.n_iter_ = n_iter_array(self.n_iter_)
            return self
        if checkpoint is not None or resume_from is not None:
            from softreg.resume import fit_resumable

            fit_resumable(
                self,
                X,
                y,
                sample_weight,
                checkpoint=checkpoint,
                checkpoint_every=checkpoint_every,
                resume_from=resume_from,
                callback=callback,
            )
            self.n_iter_ = n_iter_array(self.n_iter_)
            return self
        C, l1_ratio = self._penalty_args()
        solver = self._solver(l1_ratio)
        X, y = self._validate_fit_data(X, y, reset=True)
        previous_classes = (
            self.classes_ if self.warm_start and hasattr(self, "coef_") else None
        )
        y_enc = self._set_classes(y)
        objective = self._objective(X, y_enc, sample_weight, C, l1_ratio)
        rng = np.random.default_rng(_seed(self.random_state))
        w0, state = self._initial_params(objective, rng), None
        if previous_classes is not None and np.array_equal(previous_classes, self.classes_):
            w0, state, rng = self._warm_start_point(objective, solver, w0, rng)
        self._store(w0, objective)
        self.history_ = []
        self.n_iter_ = 0
        bridge = open_callbacks(self, X, y, sample_weight, solver, int(self.max_iter))
        try:
            if bridge is not None:
                self._callback_bridge = bridge
                bridge.begin()
            result: SolverResult = minimize(
                objective,
                w0,
                solver,
                tol=self._tol(solver),
                max_iter=int(self.max_iter),
                callback=self._make_callback(objective, callback),
                learning_rate=self._learning_rate(solver),
                momentum=float(self.momentum),
                batch_size=int(self.batch_size),
                random_state=rng,
                state=state,
            )
            self._store(result.x, objective)
            self.n_iter_ = n_iter_array(result.n_iter)
            if bridge is not None:
                bridge.close()
        finally:
            self.__dict__.pop("_callback_bridge", None)
        self._optimizer_state = result.state
        # What a warm start continues from (see the docstring): the solver's own end point
        # (before _store's centring) and generator, and the parameters that fit stored.
        self._warm_start_state = {
            "x": result.x,
            "solver": solver,
            "rng": rng,
            "coef_": self.coef_.copy(),
            "intercept_": self.intercept_.copy(),
        }
        return self

    def _warm_start_point(
        self, objective: SoftmaxObjective, solver: str, w0: NDArray[Any], rng: Any
    ) -> tuple[NDArray[Any], Any, Any]:
        """``(w0, solver_state, rng)`` continuing the previous fit (``warm_start=True``).

        The previous fit's end point, solver state and generator when ``coef_`` and
        ``intercept_`` are still what it stored and the problem has the same shape, dtype and
        solver; else the current ``coef_``/``intercept_`` (a user may have set them) and a
        fresh solver state; else (another shape) the usual start ``w0``.
        """
        coef = self.coef_.toarray() if sp.issparse(self.coef_) else np.asarray(self.coef_)
        if coef.shape != (objective.n_classes, objective.n_features):
            return w0, None, rng
        saved = getattr(self, "_warm_start_state", None)
        if (
            saved is not None
            and saved["solver"] == solver
            and saved["x"].shape == w0.shape
            and saved["x"].dtype == w0.dtype
            and np.array_equal(saved["coef_"], coef)
            and np.array_equal(saved["intercept_"], self.intercept_)
        ):
            state = getattr(self, "_optimizer_state", None)
            if isinstance(state, list):  # newton-cg's pairs: minimize updates the list in place
                state = list(state)
            return np.array(saved["x"], copy=True), state, saved["rng"]
        self.coef_ = coef
        return self._current_params(objective), None, rng

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self,
        X: Any,
        y: ArrayLike,
        classes: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
    ) -> SoftmaxRegression:
        """One epoch of mini-batch ``"sgd"`` (``"adam"`` if that is the solver) over this chunk.

        ``classes`` (every label of the stream) is required on the first call; later calls may
        only contain those labels. The optimiser state (momentum, Adam moments) carries over.
        The total weight of the stream is unknown, so each chunk's objective uses its own:
        penalty ``||W||^2 / (2 C S_chunk)``. Streaming ``k`` equal chunks with ``C`` therefore
        approaches ``fit`` with ``C / k`` (pass ``C = k * C_fit`` to match a ``fit``).
        Returns ``self``.
        """
        first = _check_partial_fit_first_call(
            self, None if classes is None else as_label_array(classes)
        )
        C, l1_ratio = self._penalty_args()
        if l1_ratio > 0:
            raise ValueError(
                f"partial_fit supports only penalty 'l2' or None, got penalty={self.penalty!r}."
            )
        X, y = self._validate_fit_data(X, y, reset=first)
        if first:
            self.classes_ = as_label_array(self.classes_)
            if len(self.classes_) < 2:
                raise ValueError(
                    f"classes must contain at least 2 labels, got {self.classes_.tolist()}."
                )
        objective = self._objective(X, encode_labels(y, self.classes_), sample_weight, C)
        solver = "adam" if self.solver == "adam" else "sgd"
        if first or not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(_seed(self.random_state))
        if first:
            w0 = self._initial_params(objective, self._rng)
            self.history_ = []
            self.n_iter_ = n_iter_array(0)
            self._optimizer_state = None
        else:
            w0 = self._current_params(objective)
        result = self._epoch(
            objective, w0, solver, self._rng, getattr(self, "_optimizer_state", None)
        )
        self._store(result.x, objective)
        self._optimizer_state = result.state
        self.n_iter_ = n_iter_array(self.n_iter_ + 1)
        self.history_.append(dict(result.history[-1], iteration=int(self.n_iter_[0])))
        return self

    # -- prediction --------------------------------------------------------------------------

    def _logits(self, X: Any) -> NDArray[Any]:
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=self._dtypes(X), reset=False)
        coef = self.coef_  # dense, or sparse after sparsify()
        if self.input_scale is not None:  # (s X) W^T = X (s W)^T: no scaled copy of X
            coef = coef * coef.dtype.type(self.input_scale)
        return np.asarray(safe_sparse_dot(X, coef.T, dense_output=True)) + self.intercept_

    def decision_function(self, X: Any) -> NDArray[Any]:
        """Logits ``X @ coef_.T + intercept_``, shape (n_samples, n_classes); for two classes
        the binary logit ``z_1 - z_0`` of shape (n_samples,)."""
        if hasattr(X, "__dask_graph__"):  # a dask array in, a lazy dask array out
            from softreg import dask as softreg_dask

            return softreg_dask.decision_function(self, X)
        logits = self._logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_proba(self, X: Any) -> NDArray[Any]:
        """Class probabilities ``softmax(logits)``, shape (n_samples, n_classes)."""
        if hasattr(X, "__dask_graph__"):  # a dask array in, a lazy dask array out
            from softreg import dask as softreg_dask

            return softreg_dask.predict_proba(self, X)
        return np.asarray(softmax(self._logits(X), axis=1))

    def predict_log_proba(self, X: Any) -> NDArray[Any]:
        """``log_softmax(logits)`` (stable form), shape (n_samples, n_classes)."""
        if hasattr(X, "__dask_graph__"):  # a dask array in, a lazy dask array out
            from softreg import dask as softreg_dask

            return softreg_dask.predict_log_proba(self, X)
        return np.asarray(log_softmax(self._logits(X), axis=1))

    def predict(self, X: Any) -> NDArray[Any]:
        """Most probable class label per sample, shape (n_samples,)."""
        if hasattr(X, "__dask_graph__"):  # a dask array in, a lazy dask array out
            from softreg import dask as softreg_dask

            return softreg_dask.predict(self, X)
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    # -- persistence hook (softreg.io) -------------------------------------------------------

    def _validate_state(self) -> None:
        """Raise ValueError if restored fitted attributes are inconsistent."""
        classes = np.asarray(self.classes_)
        if classes.ndim != 1 or len(classes) < 2 or classes.dtype == object:
            raise ValueError(
                f"classes_ must be a 1-d non-object array of >= 2 labels, got {classes!r}"
            )
        k, d = len(classes), int(self.n_features_in_)
        coef = self.coef_.toarray() if sp.issparse(self.coef_) else np.asarray(self.coef_)
        intercept = np.asarray(self.intercept_)
        if coef.shape != (k, d) or intercept.shape != (k,):
            raise ValueError(
                f"coef_ must have shape {(k, d)} and intercept_ {(k,)}, got {coef.shape} and "
                f"{intercept.shape}"
            )
        if coef.dtype not in (np.float32, np.float64) or intercept.dtype != coef.dtype:
            raise ValueError(
                f"coef_ and intercept_ must share a float32/float64 dtype, got {coef.dtype} "
                f"and {intercept.dtype}"
            )
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            raise ValueError("coef_ and intercept_ must be finite")
        n_iter = np.asarray(self.n_iter_)
        if (
            n_iter.size != 1
            or n_iter.dtype.kind not in "iu"
            or int(n_iter.reshape(())) < 0
            or not isinstance(self.history_, list)
        ):
            raise ValueError(
                "n_iter_ must be a non-negative integer (an int32 array of shape (1,)) and "
                f"history_ a list of dicts, got n_iter_={self.n_iter_!r}"
            )
        self.n_iter_ = n_iter_array(n_iter)  # files of softreg <= 0.1.0 kept a plain int


def _is_dense_integer(X: Any) -> bool:
    """Whether ``X`` is a NumPy array of integers (raw pixels), which ``input_scale`` keeps."""
    return isinstance(X, np.ndarray) and np.issubdtype(X.dtype, np.integer)


def _seed(random_state: Any) -> Any:
    """A seed for ``np.random.default_rng`` from scikit-learn style ``random_state``."""
    if isinstance(random_state, np.random.RandomState):
        return random_state.randint(np.iinfo(np.int32).max)
    return random_state

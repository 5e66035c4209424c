"""``SoftmaxRegression``: multinomial logistic regression as a scikit-learn classifier.

The estimator validates input, keeps fitted state and predicts. Its settings become an objective,
a start point and hooks in :mod:`softreg._softmax_fit`, and every fit (in memory or on Dask
shards, warm-started, resumed from a checkpoint, or one ``partial_fit`` epoch) is one call of
the training loop :func:`softreg.optim._fit_core.fit_core`. What it accepts is checked in
:mod:`softreg._softmax_checks` (data, restored state) and :mod:`softreg._sklearn_params`
(parameters, as scikit-learn's ``LogisticRegression`` checks them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.linear_model._base import SparseCoefMixin
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import check_is_fitted

from softreg import _softmax_fit as setup
from softreg._sklearn_callbacks import CallbackSupportMixin, open_callbacks
from softreg._sklearn_params import PARAMETER_CONSTRAINTS, upgrade_legacy_params, warn_n_jobs
from softreg._softmax_checks import (
    check_fit_classes,
    check_partial_fit_penalty,
    check_state,
    check_stream_classes,
    check_temperature,
    validate_fit_data,
    validate_X,
)
from softreg._validation import as_label_array, encode_labels
from softreg.functional import log_softmax, softmax
from softreg.io import register_estimator
from softreg.resume import check_checkpoint_every


class SoftmaxRegression(CallbackSupportMixin, ClassifierMixin, SparseCoefMixin, BaseEstimator):
    """Multinomial logistic (softmax) regression, a drop-in for ``LogisticRegression``.

    Minimises, over ``coef`` ``W`` (n_classes, n_features) and ``intercept`` ``b`` (n_classes,),
    the mean weighted cross-entropy of ``softmax(W x + b)`` plus
    ``(1 - l1_ratio) ||W||^2 / (2 C S) + l1_ratio ||W||_1 / (C S)`` (``S`` the sum of sample
    weights), whose minimiser is scikit-learn's ``LogisticRegression(C=C, l1_ratio=l1_ratio)``'s
    for more than two classes (see :mod:`softreg.objective`). It takes every parameter of
    scikit-learn 1.9's ``LogisticRegression``, with its meaning, warnings and errors (see
    :mod:`softreg._sklearn_params`; the README lists the deliberate differences), and its
    ``n_iter_``, ``sparsify``/``densify`` and ``set_callbacks``. Beyond it: ``partial_fit``
    streams, float32 input gives float32 parameters and arithmetic, and ``history_`` records
    each iteration.

    **Two classes.** ``coef_`` keeps both rows. Since ``softmax(z)_1 = sigmoid(z_1 - z_0)``,
    the model is binary logistic regression on ``w = coef_[1] - coef_[0]``,
    ``c = intercept_[1] - intercept_[0]``, and ``coef_`` is the centred split
    ``coef_[1] = -coef_[0] = w / 2`` (any other split of the same ``w`` has a larger penalty).
    The penalty is then ``(1 - r) ||w||^2 / 4 + r ||w||_1`` (``r = l1_ratio``, over ``C S``),
    so ``(w, c)`` equals ``LogisticRegression``'s ``coef_[0], intercept_[0]`` with

    - L2 (``l1_ratio=0``): ``C' = 2 C``;
    - L1 (``l1_ratio=1``): ``C' = C``;
    - elastic net: ``C' = 2 C / (1 + r)`` and ``l1_ratio' = 2 r / (1 + r)``.

    ``decision_function`` returns ``z_1 - z_0`` of shape (n_samples,), as scikit-learn's binary
    classifiers do.

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet"} or None, default="deprecated"
        Deprecated as in scikit-learn 1.8+ (a ``FutureWarning``): ``l1_ratio`` and ``C``
        choose the penalty. If given, it is obeyed as scikit-learn obeys it.
    C : float, default=1.0
        Inverse regularisation strength, > 0; ``np.inf`` for no penalty.
    l1_ratio : float in [0, 1], default=0.0
        L1 share of the penalty: 0 is L2, 1 is L1, in between elastic net (``None`` is
        deprecated and means 0). An L1 term needs ``solver="fista"`` or ``"auto"``.
    dual : bool, default=False
        Only False: softreg solves the primal problem (``True`` raises, as scikit-learn does
        for every solver but liblinear).
    tol : float or None, default=None
        Full-batch solvers stop when ``max|grad| <= tol``; stochastic ones when the epoch cost
        improves by less than ``tol`` (``tol=0``: run all ``max_iter`` epochs). None (a
        deliberate difference from scikit-learn's 1e-4 for every solver) means 1e-4 for
        ``"newton-cg"``, 1e-6 for ``"lbfgs"``/``"fista"`` and 1e-4 for stochastic solvers. On
        Fashion-MNIST (C=1) ``max|grad| <= 1e-4`` alone left the objective up to ~3e-3
        (relative) above the optimum and 1e-6 leaves ~1e-7; newton-cg's final polishing
        Newton step (see :func:`softreg.optim.minimize_newton_cg`) took that to ~6e-5, below
        scikit-learn's lbfgs and newton-cg results, for a fraction of the passes over X that
        1e-6 needs.
    fit_intercept : bool, default=True
        Whether to fit ``intercept_`` (zeros otherwise).
    intercept_scaling : float > 0, default=1
        Accepted for scikit-learn compatibility; as there for every solver but liblinear, it
        has no effect (the intercept is never penalised).
    class_weight : dict, "balanced" or None, default=None
        Weights multiplying ``sample_weight`` per class, as in scikit-learn.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the Xavier initialisation and the mini-batch shuffling.
    solver : {"auto", "newton-cg", "lbfgs", "fista", "sgd", "adam"}, default="auto"
        ``"auto"`` is ``"newton-cg"`` (truncated Newton on the exact Hessian-vector product,
        ~10-20 iterations to a tight optimum) for L2 / no penalty and ``"fista"`` for L1 and
        elastic net (the only solver handling them). scikit-learn's ``"liblinear"``,
        ``"sag"``, ``"saga"`` and ``"newton-cholesky"`` raise a ValueError naming the softreg
        solver for the same objective.
    max_iter : int >= 0, default=100
        Maximum iterations (epochs for ``"sgd"``/``"adam"``); 0 keeps the start point (with a
        ``ConvergenceWarning``).
    verbose : int, default=0
        Print one line per iteration when > 0 (and a line when a sparse X other than CSR is
        converted to CSR).
    warm_start : bool, default=False
        Continue the previous fit when classes and shapes match: from its ``coef_`` and
        ``intercept_`` and, if they are as it left them, its solver state (``"newton-cg"``'s
        curvature pairs, the stochastic solvers' moments and shuffling generator), so ``k``
        fits of one iteration end where one fit of ``k`` iterations does. ``"lbfgs"`` and
        ``"fista"`` restart their memory / momentum, as scikit-learn's solvers do.
    n_jobs : None, default=None
        Has no effect; other values give scikit-learn 1.9's ``FutureWarning``.
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
        Weights, in X's floating dtype (float32 or float64); a CSR matrix after
        ``sparsify()``. Without an L1 term (and always for two classes) the rows sum to zero
        over classes, scikit-learn's representative of the flat direction ``coef_ + 1 v^T``.
    intercept_ : ndarray of shape (n_classes,)
        Biases, same dtype, summing to zero over classes.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X had string column names.
    n_iter_ : ndarray of shape (1,), dtype int32
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
    #: Fitted attributes that exist only sometimes; saved by softreg.io when present.
    #: ``temperature_`` is set by ``TemperatureScaling.calibrated_estimator``.
    _optional_state_attributes: ClassVar[tuple[str, ...]] = ("temperature_",)

    #: The types and ranges of the parameters (see :mod:`softreg._sklearn_params`).
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = PARAMETER_CONSTRAINTS

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

    @staticmethod
    def _upgrade_params(params: dict[str, Any]) -> dict[str, Any]:
        """Parameters saved by an older softreg (model files, checkpoints) as today's."""
        return upgrade_legacy_params(params)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- fitting -----------------------------------------------------------------------------

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
        ``checkpoint`` (a path) is written atomically every ``checkpoint_every`` iterations and
        at the end; ``resume_from`` continues from such a file (see :mod:`softreg.resume`; the
        stochastic solvers and ``"newton-cg"`` then end bit for bit as an uninterrupted fit).
        A ``dask.array`` ``X`` trains on its shards where they live (:mod:`softreg.dask`).
        Returns ``self``.
        """
        return self._fit(X, y, sample_weight, callback, checkpoint, checkpoint_every, resume_from)

    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        callback: Any,
        checkpoint: Any,
        checkpoint_every: int,
        resume_from: Any,
        client: Any = None,
        feature_basis: Any = None,
    ) -> SoftmaxRegression:
        """`fit`, also for :func:`softreg.dask.fit_dask` (which names a Dask ``client``) and
        ``SoftmaxRegressionCV``'s refit (which gives the folds' K-FAC ``feature_basis``, used
        for an ``X`` in memory)."""
        check_checkpoint_every(checkpoint_every)
        warn_n_jobs(self.n_jobs)
        C, l1_ratio = setup.penalty_args(self)
        solver = setup.solver_for(self, l1_ratio)
        previous = setup.previous_fit(self)
        run = setup.Run(callback, checkpoint, checkpoint_every, resume_from)
        if hasattr(X, "__dask_graph__"):
            callbacks = open_callbacks(self, X, y, sample_weight, solver, int(self.max_iter))
            setup.run_sharded(
                self, X, y, sample_weight, C, l1_ratio, solver, previous, run, client, callbacks
            )
            return self
        X, y = validate_fit_data(self, X, y, reset=True)
        self.classes_ = as_label_array(y)
        check_fit_classes(self.classes_, type(self).__name__)
        y_enc = encode_labels(y, self.classes_)
        objective = setup.in_memory_objective(
            self, X, y_enc, sample_weight, C, l1_ratio, feature_basis
        )
        callbacks = open_callbacks(self, X, y, sample_weight, solver, int(self.max_iter))
        setup.run(self, objective, solver, X.shape, previous, run, callbacks)
        return self

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
        C, l1_ratio = setup.penalty_args(self)
        check_partial_fit_penalty(self, l1_ratio)
        X, y = validate_fit_data(self, X, y, reset=first)
        if first:
            self.classes_ = as_label_array(self.classes_)
            check_stream_classes(self.classes_)
        y_enc = encode_labels(y, self.classes_)
        objective = setup.in_memory_objective(self, X, y_enc, sample_weight, C)
        setup.run_epoch(self, objective, first)
        return self

    # -- prediction --------------------------------------------------------------------------

    def _logits(self, X: Any) -> NDArray[Any]:
        check_is_fitted(self)
        X = validate_X(self, X)
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

    def _tempered(self, logits: NDArray[Any]) -> NDArray[Any]:
        """``logits / temperature_`` when the model carries a calibrated temperature."""
        temperature = getattr(self, "temperature_", None)
        return logits if temperature is None else logits / logits.dtype.type(temperature)

    def predict_proba(self, X: Any) -> NDArray[Any]:
        """Class probabilities ``softmax(logits / temperature_)`` (``T = 1`` unless calibrated
        by :class:`softreg.TemperatureScaling`), shape (n_samples, n_classes)."""
        if hasattr(X, "__dask_graph__"):  # a dask array in, a lazy dask array out
            from softreg import dask as softreg_dask

            return softreg_dask.predict_proba(self, X)
        return np.asarray(softmax(self._tempered(self._logits(X)), axis=1))

    def predict_log_proba(self, X: Any) -> NDArray[Any]:
        """``log_softmax(logits / temperature_)`` (stable form), shape (n_samples, n_classes)."""
        if hasattr(X, "__dask_graph__"):  # a dask array in, a lazy dask array out
            from softreg import dask as softreg_dask

            return softreg_dask.predict_log_proba(self, X)
        return np.asarray(log_softmax(self._tempered(self._logits(X)), axis=1))

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
        check_state(self)
        check_temperature(self)


register_estimator(SoftmaxRegression)

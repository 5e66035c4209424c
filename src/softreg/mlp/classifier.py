"""`MLPClassifier`: a feed-forward network, softmax head (multi-class) or sigmoids (multi-label).

The maths (forward beside backward, the two losses) lives in :mod:`softreg.mlp.layers`, the
mini-batch loop in :mod:`softreg.mlp.training` and the consistency checks of a restored network
in :mod:`softreg.mlp.state`; this module validates input, keeps fitted state and predicts.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from softreg.checkpoint import load_checkpoint
from softreg.functional import log_sigmoid, log_softmax, sigmoid, softmax
from softreg.io import register_estimator
from softreg.mlp.layers import ACTIVATIONS, init_params, predict_logits
from softreg.mlp.state import (
    check_hidden_layer_sizes,
    check_network_state,
    check_same_hidden_layers,
)
from softreg.mlp.targets import Targets, as_labels, encode_targets, ravel_column, read_targets
from softreg.mlp.training import (
    CallbackHook,
    EpochState,
    make_optimizer,
    make_rng,
    run_epoch,
    train,
)
from softreg.optim._fit_core import Hook
from softreg.resume import Checkpointer, Run, check_checkpoint_every

#: Network the CLI trains on Fashion-MNIST (``softreg train --model mlp``, pixels / 255). Chosen
#: by validation accuracy (20 epochs on 50,000 training images, scored on the other 10,000; see
#: ``benchmarks/bench_mlp.py --accuracy``) among hidden (256,), (256, 128), (512, 256), batch 128
#: or 64, alpha 0 or 1e-4, constant or cosine learning rate: 0.9035 for this one, 0.8995 with a
#: constant rate. Trained on all 60,000 images for 20 epochs it scored 0.9044 on the test set
#: (measured once, after the choice), and 0.9047 after the compiled Adam step and softmax head
#: changed the rounding (2026-11-22, 119 s).
FASHION_MNIST_DEFAULTS: dict[str, Any] = {
    "hidden_layer_sizes": (512, 256),
    "activation": "relu",
    "solver": "adam",
    "learning_rate": 1e-3,
    "learning_rate_schedule": "cosine",
    "batch_size": 64,
    "max_epochs": 20,
    "alpha": 0.0,
}

#: Batches smaller than this run their matrix products on one BLAS thread. Such products are too
#: small to gain much from threads on a few cores, and BLAS threads that spin-wait for CPUs taken
#: by other processes slow each step down many times (measured 16x on a shared 2-core machine).
SINGLE_THREAD_BATCH_SIZE = 1024

Callback = Callable[["MLPClassifier", dict[str, Any]], Any]


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Multilayer perceptron classifier trained by mini-batch Adam or SGD, in float32.

    Forward pass ``Z_l = A_{l-1} W_l + b_l``, ``A_l = f(Z_l)`` with ``A_0 = X``; the last layer's
    ``Z_L`` are logits. With 1-D labels the head is a softmax trained on cross-entropy (computed
    from ``log_softmax``); with a 2-D 0/1 indicator matrix it is one independent sigmoid per label
    trained on binary cross-entropy (multi-label). The objective of a batch of ``n`` rows is the
    mean loss plus ``(alpha/2) sum_l ||W_l||^2``; ``hidden_layer_sizes=()`` is plain softmax
    regression, whose minimiser equals ``SoftmaxRegression(C=1/(alpha*n_samples))``.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(25, 15)
        Units of each hidden layer; ``()`` for none.
    activation : {"relu", "tanh", "sigmoid", "identity"}, default="relu"
        Hidden activation. Weights start He-uniform for ReLU, Xavier-uniform otherwise (and for
        the output layer); biases start at zero.
    solver : {"adam", "sgd"}, default="adam"
        Optimiser from :mod:`softreg.optim.transforms`.
    learning_rate : float, default=1e-3
    learning_rate_schedule : {"constant", "cosine"}, default="constant"
        ``"cosine"``: in `fit`, step ``t`` of ``T = max_epochs * ceil(n_samples / batch_size)``
        uses ``learning_rate * (1 + cos(pi t / T)) / 2``, annealing to 0 at the last epoch (and
        with early stopping, over the training rows). `partial_fit` always uses the constant rate.
    batch_size : int, default=32
        Rows per update (clipped to the number of training rows).
    max_epochs : int, default=200
        Epochs (passes over the training rows) per call to `fit`.
    alpha : float, default=0.0
        L2 strength on the weights (not the biases).
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    tol : float, default=1e-4
        Training stops when the epoch loss (or, with early stopping, the validation accuracy) has
        not improved by ``tol`` for ``n_iter_no_change`` consecutive epochs.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified), stop on their accuracy and keep
        the best parameters seen.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    random_state : int, Generator or None, default=None
        Seeds initialisation, shuffling and the validation split.
    warm_start : bool, default=False
        Continue from the fitted weights on the next `fit` (fresh optimiser state).
    verbose : bool, default=False
        Print one line per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; ``arange(n_labels)`` for multi-label.
    coefs_ : list of ndarray of shape (n_in, n_out)
    intercepts_ : list of ndarray of shape (n_out,)
    n_outputs_ : int
        Output units: n_classes (softmax, even for two classes) or n_labels (sigmoid).
    out_activation_ : {"softmax", "logistic"}
    indicator_dtype_ : str or None
        dtype of the training indicator matrix (multi-label), that `predict` returns.
    n_features_in_ : int
    n_iter_ : int
        Epochs trained so far.
    loss_ : float
        Training loss of the last epoch.
    history_ : list of dict
        One row per epoch: ``iteration`` (1-based), ``loss`` and, with early stopping,
        ``val_score``.

    Examples
    --------
    >>> import numpy as np
    >>> from softreg import MLPClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)).astype(np.float32)
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(int)           # XOR: not linearly separable
    >>> clf = MLPClassifier((16,), learning_rate=0.03, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> clf.coefs_[0].dtype
    dtype('float32')
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"adam", "sgd"})],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "learning_rate_schedule": [StrOptions({"constant", "cosine"})],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    classes_: NDArray[Any]
    coefs_: list[NDArray[np.float32]]
    intercepts_: list[NDArray[np.float32]]
    n_outputs_: int
    out_activation_: str
    indicator_dtype_: str | None
    n_features_in_: int
    n_iter_: int
    loss_: float
    history_: list[dict[str, Any]]
    _rng: np.random.Generator
    _opt_state: Any

    _state_attributes: ClassVar[tuple[str, ...]] = (
        "classes_",
        "coefs_",
        "intercepts_",
        "n_outputs_",
        "out_activation_",
        "indicator_dtype_",
        "n_features_in_",
        "n_iter_",
        "loss_",
        "history_",
    )

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (25, 15),
        activation: str = "relu",
        solver: str = "adam",
        learning_rate: float = 1e-3,
        learning_rate_schedule: str = "constant",
        batch_size: int = 32,
        max_epochs: int = 200,
        alpha: float = 0.0,
        momentum: float = 0.9,
        tol: float = 1e-4,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        random_state: int | np.random.Generator | None = None,
        warm_start: bool = False,
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.alpha = alpha
        self.momentum = momentum
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    # ------------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        *,
        callback: Callback | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 1,
        resume_from: str | os.PathLike[str] | None = None,
    ) -> MLPClassifier:
        """Train for up to ``max_epochs`` epochs (fewer when the stop rule fires).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs, converted to float32.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (softmax head), or a 0/1 indicator matrix (multi-label, sigmoids).
        callback : callable, optional
            ``callback(model, record)`` after every epoch, with the model holding the current
            parameters and ``record`` the row just appended to ``history_``; returning True
            stops training (without a ConvergenceWarning).
        checkpoint : path-like, optional
            Written atomically every ``checkpoint_every`` epochs (:mod:`softreg.checkpoint`;
            not with ``early_stopping``).
        checkpoint_every : int, default=1
        resume_from : path-like, optional
            A checkpoint to continue from, bit for bit.

        Returns
        -------
        self : MLPClassifier
        """
        check_checkpoint_every(checkpoint_every)
        run = Run(callback, checkpoint, checkpoint_every, resume_from)
        if checkpoint is not None or resume_from is not None:
            if self.early_stopping:
                raise ValueError(
                    "checkpoint and resume_from do not support early_stopping=True (the "
                    "held-out split is not checkpointed); use early_stopping=False"
                )
            # A checkpointed fit starts afresh (or from its checkpoint), never warm.
            return self._fit(X, y, classes=None, resume=False, incremental=False, run=run)
        resume = self.warm_start and hasattr(self, "coefs_")
        return self._fit(X, y, classes=None, resume=resume, incremental=False, run=run)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None
    ) -> MLPClassifier:
        """One epoch over ``X``, ``y``, continuing from the current parameters and optimiser state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            As in `fit`; later calls must give the same kind of ``y``.
        classes : array-like of shape (n_classes,), optional
            Every label that will ever appear: required on the first call for class labels,
            optional for an indicator matrix; later calls may repeat it.

        Returns
        -------
        self : MLPClassifier

        Examples
        --------
        >>> import numpy as np
        >>> from softreg import MLPClassifier
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]], dtype=np.float32)
        >>> clf = MLPClassifier((4,), random_state=0)
        >>> for _ in range(3):
        ...     clf = clf.partial_fit(X, [0, 0, 1, 1], classes=[0, 1])
        >>> clf.n_iter_, [row["iteration"] for row in clf.history_]
        (3, [1, 2, 3])
        """
        resume = hasattr(self, "coefs_")
        return self._fit(X, y, classes=classes, resume=resume, incremental=True, run=None)

    def _fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        *,
        classes: ArrayLike | None,
        resume: bool,
        incremental: bool,
        run: Run | None,
    ) -> MLPClassifier:
        sizes = check_hidden_layer_sizes(self.hidden_layer_sizes)
        X_checked, y_checked = validate_data(
            self, X, y, reset=not resume, dtype=np.float32, multi_output=True, y_numeric=False
        )
        X = np.asarray(X_checked)
        target = self._encode_targets(
            np.asarray(y_checked), classes, resume=resume, incremental=incremental
        )
        if not resume:
            self._rng = make_rng(self.random_state)
            layer_sizes = (X.shape[1], *sizes, self.n_outputs_)
            params = init_params(layer_sizes, self.activation, self._rng)
            self.coefs_, self.intercepts_ = list(params[0::2]), list(params[1::2])
            self.n_iter_, self.loss_, self.history_ = 0, float("nan"), []
        else:
            check_same_hidden_layers(self.coefs_, sizes)
            if not hasattr(self, "_rng"):
                self._rng = make_rng(self.random_state)
            self.coefs_ = [np.require(W, np.float32, ["C", "W"]) for W in self.coefs_]
            self.intercepts_ = [np.require(b, np.float32, ["C", "W"]) for b in self.intercepts_]
        params = self._params()
        # Only the optimiser's state (arrays) is kept on the model: its functions are closures,
        # rebuilt from the parameters on each call, so the model stays picklable.
        n_fit = (
            X.shape[0]
            if not self.early_stopping
            else X.shape[0] - max(1, int(np.ceil(self.validation_fraction * X.shape[0])))
        )
        total_steps = self.max_epochs * -(-n_fit // min(self.batch_size, n_fit))
        optimizer = make_optimizer(
            self.solver,
            self.learning_rate,
            schedule=self.learning_rate_schedule,
            momentum=self.momentum,
            total_steps=None if incremental else total_steps,
        )
        if not incremental or not hasattr(self, "_opt_state"):
            self._opt_state = optimizer.init(params)

        threads = 1 if min(self.batch_size, X.shape[0]) < SINGLE_THREAD_BATCH_SIZE else None
        if incremental:
            with threadpool_limits(limits=threads, user_api="blas"):
                self._record_epoch(run_epoch(self, optimizer, params, X, target), None)
            return self
        validation = None
        if self.early_stopping:
            stratify = target if self.out_activation_ == "softmax" else None
            seed = int(self._rng.integers(2**31 - 1))
            X_fit, X_val, target, target_val = train_test_split(
                X, target, test_size=self.validation_fraction, stratify=stratify, random_state=seed
            )
            X, validation = np.asarray(X_fit), (np.asarray(X_val), np.asarray(target_val))
        assert run is not None
        hooks: list[Hook] = [] if run.callback is None else [CallbackHook(self, run.callback)]
        start, end = None, None
        if run.resume_from is not None:
            start = self._restore_checkpoint(run.resume_from, X.shape)
            params, end = self._params(), self.max_epochs  # resumed: max_epochs in all
        if run.checkpoint is not None:
            hooks.append(
                Checkpointer(
                    run.checkpoint,
                    run.checkpoint_every,
                    self,
                    (int(X.shape[0]), int(X.shape[1])),
                    self.classes_,
                    self._checkpoint_contents,
                )
            )
        with threadpool_limits(limits=threads, user_api="blas"):
            train(self, optimizer, params, X, target, validation, hooks, start=start, end_epoch=end)
        return self

    def _restore_checkpoint(self, path: Any, shape: tuple[int, ...]) -> EpochState:
        """Set the fitted state, optimiser state and RNG saved at ``path``; its loop state."""
        data_shape = (int(shape[0]), int(shape[1]))
        ck = load_checkpoint(path, self, data_shape=data_shape, classes=self.classes_)
        ck.restore(self)
        self.coefs_ = [np.require(W, np.float32, ["C", "W"]) for W in self.coefs_]
        self.intercepts_ = [np.require(b, np.float32, ["C", "W"]) for b in self.intercepts_]
        self._rng = ck.make_rng() or self._rng
        self._opt_state = ck.optimizer_state
        best, stale = float(ck.extra["best"]), int(ck.extra["stale"])
        return EpochState(
            self.n_iter_, dict(self.history_[-1]) if self.history_ else {}, best, stale
        )

    def _checkpoint_contents(self, state: EpochState) -> dict[str, Any]:
        """What a checkpoint of this network's fit holds (see :mod:`softreg.resume`)."""
        return {
            "optimizer_state": self._opt_state,
            "rng": self._rng,
            "model_state": {a: getattr(self, a) for a in self._state_attributes},
            "extra": {"best": state.best, "stale": state.stale},
        }

    def _record_epoch(self, loss: float, val_score: float | None) -> dict[str, Any]:
        self.n_iter_ += 1
        self.loss_ = float(loss)
        record: dict[str, Any] = {"iteration": self.n_iter_, "loss": self.loss_}
        if val_score is not None:
            record["val_score"] = val_score
        self.history_.append(record)
        if self.verbose:
            extra = f", val_score = {val_score:.4f}" if val_score is not None else ""
            print(f"Epoch {self.n_iter_}, loss = {loss:.6f}{extra}")
        return record

    def _params(self) -> tuple[NDArray[np.float32], ...]:
        """``(W_1, b_1, ..., W_L, b_L)``: the arrays of ``coefs_``/``intercepts_`` themselves."""
        return tuple(a for pair in zip(self.coefs_, self.intercepts_, strict=True) for a in pair)

    # ------------------------------------------------------------------ targets

    def _encode_targets(
        self, y: NDArray[Any], classes: ArrayLike | None, *, resume: bool, incremental: bool
    ) -> NDArray[Any]:
        """Class indices (multi-class) or a float32 indicator matrix (multi-label)."""
        y = ravel_column(y, stacklevel=5)
        if not resume:
            targets = read_targets(y, classes, require_classes=incremental)
            self.out_activation_, self.classes_ = targets.out_activation, targets.classes
            self.indicator_dtype_, self.n_outputs_ = targets.indicator_dtype, len(targets.classes)
            return encode_targets(y, targets)
        fitted = Targets(self.out_activation_, self.classes_, self.indicator_dtype_)
        if classes is not None and not np.array_equal(
            as_labels(np.unique(np.asarray(classes))), self.classes_
        ):
            raise ValueError(
                f"classes={np.asarray(classes).tolist()!r} differs from classes_ "
                f"{self.classes_.tolist()!r} of the fitted model"
            )
        return encode_targets(y, fitted)

    # ------------------------------------------------------------------ prediction

    def _logits(self, X: ArrayLike) -> NDArray[np.float32]:
        check_is_fitted(self)
        X_checked = np.asarray(validate_data(self, X, reset=False, dtype=np.float32))
        return predict_logits(self._params(), X_checked, self.activation)

    def _decode(self, X: NDArray[np.float32]) -> NDArray[Any]:
        """Predicted class indices (multi-class) or a 0/1 matrix (multi-label) for validated X."""
        logits = predict_logits(self._params(), X, self.activation)
        if self.out_activation_ == "logistic":
            return (logits > 0).astype(np.float32)
        return np.argmax(logits, axis=1)

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """The network's logits, widened to float64, as scikit-learn's linear classifiers give them.

        Shape (n_samples, n_classes) (softmax head, three or more classes) or (n_samples,
        n_labels) (multi-label: one logit per label, positive where `predict` says 1); for two
        classes the binary logit ``z_1 - z_0`` of shape (n_samples,), positive where `predict`
        says ``classes_[1]``, with ``sigmoid(z_1 - z_0) == predict_proba(X)[:, 1]``. (scikit-learn's
        own MLPClassifier has no ``decision_function``; softreg's estimators share one.)

        Examples
        --------
        >>> import numpy as np
        >>> from softreg import MLPClassifier
        >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]], dtype=np.float32)
        >>> clf = MLPClassifier((), learning_rate=0.1, tol=1e-2, random_state=0)
        >>> clf = clf.fit(X, ["no", "no", "yes", "yes"])
        >>> scores = clf.decision_function(X)
        >>> scores.shape, bool(np.all((scores > 0) == (clf.predict(X) == "yes")))
        ((4,), True)
        """
        logits = self._logits(X).astype(np.float64)
        if self.out_activation_ == "softmax" and logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Predicted labels for ``X`` of shape (n_samples, n_features).

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_`` (softmax head), or a 0/1 indicator matrix of the training
            ``y``'s dtype (multi-label).
        """
        logits = self._logits(X)
        if self.out_activation_ == "logistic":
            return (logits > 0).astype(np.dtype(self.indicator_dtype_))
        return self.classes_[np.argmax(logits, axis=1)]

    def predict_proba(self, X: ArrayLike) -> NDArray[np.floating]:
        """Class probabilities for ``X`` of shape (n_samples, n_features).

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples, n_labels), float64
            Softmax of the logits (rows sum to 1), or one sigmoid per label (multi-label).
            The network runs in float32; its logits are widened to float64 before the
            softmax, so that ``log(predict_proba)`` and `predict_log_proba` agree near
            probability 1 (in float32 ``exp(-1e-8)`` rounds to 1 and its log to 0).
        """
        logits = self._logits(X).astype(np.float64)
        return sigmoid(logits) if self.out_activation_ == "logistic" else softmax(logits, axis=1)

    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.floating]:
        """Log-probabilities from ``log_softmax`` / ``log_sigmoid`` of the logits, never ``log(p)``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples, n_labels), float64
            Finite even where `predict_proba` underflows to 0.
        """
        logits = self._logits(X).astype(np.float64)
        if self.out_activation_ == "logistic":
            return log_sigmoid(logits)
        return log_softmax(logits, axis=1)

    # ------------------------------------------------------------------ persistence

    def _validate_state(self) -> None:
        """Raise ValueError if restored attributes do not describe one consistent network."""
        check_network_state(
            hidden_layer_sizes=self.hidden_layer_sizes,
            out_activation=self.out_activation_,
            coefs=self.coefs_,
            intercepts=self.intercepts_,
            classes=self.classes_,
            n_features_in=self.n_features_in_,
            n_outputs=self.n_outputs_,
        )


register_estimator(MLPClassifier)

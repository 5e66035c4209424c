"""`MLPClassifier`: a feed-forward network, softmax head (multi-class) or sigmoids (multi-label).

The maths (forward beside backward, the two losses) lives in :mod:`softreg.mlp.layers`, how a
fit is set up in :mod:`softreg.mlp.fitting`, the one epoch loop (with its hooks: callbacks,
checkpoints) in :mod:`softreg.mlp.training`, the checks of its parameters and input in
:mod:`softreg.mlp.checks` and the consistency checks of a restored network in
:mod:`softreg.mlp.state`; this module holds the parameters and fitted state, and predicts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context

from softreg.functional import log_sigmoid, log_softmax, sigmoid, softmax
from softreg.io import register_estimator
from softreg.mlp.checks import PARAMETER_CONSTRAINTS, validate_X
from softreg.mlp.fitting import fit_network
from softreg.mlp.layers import predict_logits
from softreg.mlp.state import check_network_state, check_temperature
from softreg.resume import Run, check_checkpoint_every

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
        Continue from the fitted weights on the next `fit` (fresh optimiser state), with or
        without ``checkpoint``; ``max_epochs`` more epochs.
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

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = PARAMETER_CONSTRAINTS

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
    #: Fitted attributes that exist only sometimes; saved by softreg.io when present.
    #: ``temperature_`` is set by ``TemperatureScaling.calibrated_estimator``.
    _optional_state_attributes: ClassVar[tuple[str, ...]] = ("temperature_",)

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
        if (checkpoint is not None or resume_from is not None) and self.early_stopping:
            raise ValueError(
                "checkpoint and resume_from do not support early_stopping=True (the "
                "held-out split is not checkpointed); use early_stopping=False"
            )
        # A warm start continues from the fitted weights (a checkpointed one too: the checkpoint
        # records the epoch it started from); resume_from restores everything from the file.
        resume = resume_from is None and self.warm_start and hasattr(self, "coefs_")
        fit_network(self, X, y, classes=None, resume=resume, incremental=False, run=run)
        return self

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
        fit_network(self, X, y, classes=classes, resume=resume, incremental=True, run=None)
        return self

    def _params(self) -> tuple[NDArray[np.float32], ...]:
        """``(W_1, b_1, ..., W_L, b_L)``: the arrays of ``coefs_``/``intercepts_`` themselves."""
        return tuple(a for pair in zip(self.coefs_, self.intercepts_, strict=True) for a in pair)

    # ------------------------------------------------------------------ prediction

    def _logits(self, X: ArrayLike) -> NDArray[np.float32]:
        X_checked = validate_X(self, X)  # first: an unfitted model has no _params()
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
        if self.out_activation_ == "logistic":
            return sigmoid(logits)
        return softmax(self._tempered(logits), axis=1)

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
        return log_softmax(self._tempered(logits), axis=1)

    def _tempered(self, logits: NDArray[np.float64]) -> NDArray[np.float64]:
        """``logits / temperature_`` when the softmax head carries a calibrated temperature."""
        temperature = getattr(self, "temperature_", None)
        return logits if temperature is None else logits / temperature

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
        check_temperature(self.out_activation_, getattr(self, "temperature_", None))


register_estimator(MLPClassifier)

"""Checkpoints as hooks on the training loop, and resuming as starting from a saved state.

A `Checkpointer` is a hook of the one training loop (:func:`softreg.optim._fit_core.fit_core`
for the linear models, :func:`softreg.mlp.training.train` for the MLP), as Keras's
``ModelCheckpoint`` is: every ``every`` iterations (epochs), and once more at the end of the fit,
it writes a checkpoint (:mod:`softreg.checkpoint`) atomically over the previous one. Resuming is
not a second loop: `start_from_checkpoint` reads the saved `FitState` that the loop then starts
from. For the stochastic solvers (``"sgd"``, ``"adam"``, MLP epochs) and ``"newton-cg"`` a
resumed fit ends bit for bit where the uninterrupted one does (same parameters, optimiser state
and shuffling RNG state); ``"lbfgs"`` and ``"fista"`` restart their curvature memory / momentum
at the checkpoint, so they reach the same optimum within ``tol`` but not the same bits.

This module knows no estimator: the estimators build their checkpointer and pass it to the loop.
`fit_resumable` is ``model.fit`` with the checkpoint arguments, for any estimator that has them.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from softreg.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from softreg.io import registered_estimators
from softreg.optim._fit_core import FitState

__all__ = [
    "Checkpointer",
    "Run",
    "check_checkpoint_every",
    "fit_resumable",
    "start_from_checkpoint",
]


class Run(NamedTuple):
    """The options of one ``fit`` beyond its data: user callback, checkpointing, resuming."""

    callback: Callable[[Any, dict[str, Any]], Any] | None
    checkpoint: str | os.PathLike[str] | None
    checkpoint_every: int
    resume_from: str | os.PathLike[str] | None


def check_checkpoint_every(checkpoint_every: Any) -> int:
    """``checkpoint_every`` as an int >= 1, or a TypeError / ValueError naming it."""
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, (int, np.integer)):
        raise TypeError(f"checkpoint_every must be an int >= 1, got {checkpoint_every!r}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be an int >= 1, got {checkpoint_every}")
    return int(checkpoint_every)


class Checkpointer:
    """A training-loop hook writing a checkpoint every ``every`` iterations and at the end.

    Parameters
    ----------
    path : str or path-like
        The checkpoint file, replaced atomically at each write.
    every : int
        Iterations (epochs) between checkpoints.
    model : estimator
        The model being trained (its class name and ``get_params()`` are recorded).
    data_shape : tuple of int
        ``(n_samples, n_features)`` of the training data.
    classes : ndarray of shape (n_classes,)
    contents : callable
        ``contents(state)`` -> the keyword arguments ``solver_params``, ``optimizer_state``,
        ``rng``, ``model_state`` and ``extra`` of :func:`softreg.checkpoint.save_checkpoint`
        for the loop's state (whose ``n_iter`` is the epoch saved).
    data_fingerprint : str, optional
        Fingerprint of the training data, recorded so that resuming on other data is refused.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from softreg import SoftmaxRegression
    >>> from softreg.checkpoint import load_checkpoint
    >>> from softreg.optim._fit_core import FitState
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> hook = Checkpointer(path, 2, SoftmaxRegression(), (10, 3), np.array([0, 1]),
    ...                     lambda state: {"solver_params": (state.w,)})
    >>> for n_iter in (1, 2, 3):
    ...     _ = hook.on_iteration(FitState(np.zeros(8), n_iter))
    >>> load_checkpoint(path).epoch
    2
    >>> hook.on_fit_end(FitState(np.zeros(8), 3))
    >>> load_checkpoint(path).epoch
    3
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        every: int,
        model: Any,
        data_shape: tuple[int, int],
        classes: NDArray[Any],
        contents: Callable[[Any], Mapping[str, Any]],
        data_fingerprint: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.data_fingerprint = data_fingerprint
        self.every = check_checkpoint_every(every)
        self.model, self.data_shape, self.classes = model, data_shape, classes
        self.contents = contents
        self.last_written: int | None = None

    def write(self, state: Any) -> None:
        """Write ``state`` now."""
        save_checkpoint(
            self.path,
            self.model,
            epoch=int(state.n_iter),
            data_shape=self.data_shape,
            classes=self.classes,
            data_fingerprint=self.data_fingerprint,
            **self.contents(state),
        )
        self.last_written = int(state.n_iter)

    def on_iteration(self, state: Any) -> bool:
        if state.n_iter % self.every == 0:
            self.write(state)
        return False

    def on_fit_end(self, state: Any) -> None:
        # The final state is always saved: after max_iter, a stop rule or a callback's stop.
        if self.last_written != int(state.n_iter):
            self.write(state)


def start_from_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    *,
    data_shape: tuple[int, int],
    classes: NDArray[Any],
    n_params: int,
    dtype: Any,
    rng: np.random.Generator,
    data_fingerprint: str | None = None,
) -> FitState:
    """The `FitState` saved in a checkpoint of a flat-parameter fit, checked against this fit.

    ``rng`` is used when the checkpoint saved no generator state. Raises
    :class:`softreg.checkpoint.CheckpointError` if the checkpoint belongs to another model,
    hyper-parameters, data shape, classes or data (``data_fingerprint``), or its parameters
    are not of shape (n_params,).
    """
    ck = load_checkpoint(
        path, model, data_shape=data_shape, classes=classes, data_fingerprint=data_fingerprint
    )
    if len(ck.solver_params) != 1 or ck.solver_params[0].shape != (n_params,):
        raise CheckpointError(
            f"{os.fspath(path)}: cannot resume from this checkpoint: its parameters "
            f"do not have shape ({n_params},)"
        )
    return FitState(
        w=ck.solver_params[0].astype(dtype, copy=False),
        n_iter=ck.epoch,
        history=list(ck.model_state.get("history_", [])),
        optimizer_state=ck.optimizer_state,
        rng=ck.make_rng() or rng,
    )


def fit_resumable(
    model: Any,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1,
    resume_from: str | os.PathLike[str] | None = None,
    callback: Any = None,
) -> Any:
    """``model.fit(X, y)`` writing a checkpoint every ``checkpoint_every`` epochs, or resuming.

    Parameters
    ----------
    model : SoftmaxRegression or MLPClassifier
        The estimator to train (MLP: no ``early_stopping``).
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    sample_weight : array-like of shape (n_samples,), optional
        `SoftmaxRegression` only.
    checkpoint : str or path-like, optional
        Where to write checkpoints (atomically, replacing the previous one); also written after
        the last epoch.
    checkpoint_every : int, default=1
        Epochs (iterations for full-batch solvers) between checkpoints.
    resume_from : str or path-like, optional
        A checkpoint of the same model class, hyper-parameters (``max_iter``/``max_epochs`` may
        differ), data shape and classes; training continues after its epoch.
    callback : callable, optional
        ``callback(model, record)`` after every epoch, as for ``fit``; True stops.

    Returns
    -------
    model
        The fitted estimator, equal (bit for bit for ``"sgd"``, ``"adam"``, ``"newton-cg"``
        and MLP epochs) to an uninterrupted ``fit`` with the same ``random_state``.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from softreg import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> params = dict(solver="adam", learning_rate=0.05, max_iter=6, tol=0, random_state=0)
    >>> _ = fit_resumable(SoftmaxRegression(**params).set_params(max_iter=3),
    ...                   X, y, checkpoint=path)
    >>> resumed = fit_resumable(SoftmaxRegression(**params), X, y, resume_from=path)
    >>> direct = SoftmaxRegression(**params).fit(X, y)
    >>> resumed.n_iter_, bool((resumed.coef_ == direct.coef_).all())
    (6, True)
    """
    check_checkpoint_every(checkpoint_every)
    name = type(model).__name__
    resumable = tuple(
        cls
        for cls in registered_estimators().values()
        if "checkpoint" in inspect.signature(cls.fit).parameters
    )
    if not isinstance(model, resumable):
        raise TypeError(
            "model must be a SoftmaxRegression or MLPClassifier (a registered estimator whose "
            f"fit takes checkpoint=), got {name}"
        )
    if getattr(model, "early_stopping", False):
        raise ValueError(
            "fit_resumable does not support early_stopping=True (the held-out split is not "
            "checkpointed); use early_stopping=False"
        )
    options = {
        "checkpoint": checkpoint,
        "checkpoint_every": checkpoint_every,
        "resume_from": resume_from,
        "callback": callback,
    }
    if sample_weight is None:
        return model.fit(X, y, **options)
    if "sample_weight" not in inspect.signature(model.fit).parameters:
        raise TypeError(f"sample_weight is not supported by {name}")
    return model.fit(X, y, sample_weight, **options)

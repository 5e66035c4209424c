"""Resumable training: fits that write a checkpoint every few epochs and continue from one.

`fit_resumable` trains a `SoftmaxRegression` or `MLPClassifier`, writing a checkpoint (the file
format of :mod:`softreg.checkpoint`) every ``checkpoint_every`` epochs, and continues from one:
for the stochastic solvers (``"sgd"``, ``"adam"``, MLP epochs) and ``"newton-cg"`` the resumed
fit ends bit for bit where the uninterrupted one does (same parameters, optimiser state and
shuffling RNG state); ``"lbfgs"`` and ``"fista"`` restart their curvature memory / momentum at
the checkpoint, so they reach the same optimum within ``tol`` but not the same bits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["fit_resumable", "save_softmax_checkpoint", "train_softmax"]


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
        The estimator to train (``warm_start`` is ignored; MLP: no ``early_stopping``).
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
    >>> _ = fit_resumable(SoftmaxRegression(**params, warm_start=True).set_params(max_iter=3),
    ...                   X, y, checkpoint=path)
    >>> resumed = fit_resumable(SoftmaxRegression(**params), X, y, resume_from=path)
    >>> direct = SoftmaxRegression(**params).fit(X, y)
    >>> resumed.n_iter_, bool((resumed.coef_ == direct.coef_).all())
    (6, True)
    """
    from softreg.mlp import MLPClassifier
    from softreg.softmax_regression import SoftmaxRegression

    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int):
        raise TypeError(f"checkpoint_every must be an int >= 1, got {checkpoint_every!r}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be an int >= 1, got {checkpoint_every}")
    writer = _Writer(checkpoint, checkpoint_every)
    if isinstance(model, SoftmaxRegression):
        return _fit_softmax(model, X, y, sample_weight, writer, resume_from, callback)
    if isinstance(model, MLPClassifier):
        if sample_weight is not None:
            raise TypeError("sample_weight is not supported by MLPClassifier")
        return _fit_mlp(model, X, y, writer, resume_from, callback)
    raise TypeError(
        f"model must be a SoftmaxRegression or MLPClassifier, got {type(model).__name__}"
    )


@dataclass
class _Writer:
    path: str | os.PathLike[str] | None
    every: int

    def due(self, epoch: int, last: bool) -> bool:
        return self.path is not None and (last or epoch % self.every == 0)


def _fit_softmax(
    model: Any, X: Any, y: Any, sample_weight: Any, writer: _Writer, resume_from: Any, callback: Any
) -> Any:
    from softreg.softmax_regression import _seed

    C, l1_ratio = model._penalty_args()
    solver = model._solver(l1_ratio)
    X, y = model._validate_fit_data(X, y, reset=True)
    objective = model._objective(X, model._set_classes(y), sample_weight, C, l1_ratio)
    rng = np.random.default_rng(_seed(model.random_state))
    w0 = model._initial_params(objective, rng)
    return train_softmax(model, objective, w0, rng, solver, X.shape, writer, resume_from, callback)


def save_softmax_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    data_shape: tuple[int, int],
    w: NDArray[Any],
    optimizer_state: Any,
    rng: np.random.Generator,
) -> None:
    """Checkpoint a `SoftmaxRegression` fit at ``model.n_iter_``: its flat parameters ``w``, the
    solver's state, the shuffling RNG and ``history_`` (in process and on Dask alike)."""
    save_checkpoint(
        path,
        model,
        epoch=model.n_iter_,
        data_shape=data_shape,
        classes=model.classes_,
        solver_params=(w,),
        optimizer_state=optimizer_state,
        rng=rng,
        model_state={"history_": model.history_},
    )


def train_softmax(
    model: Any,
    objective: Any,
    w0: NDArray[Any],
    rng: np.random.Generator,
    solver: str,
    data_shape: tuple[int, int],
    writer: _Writer,
    resume_from: Any,
    callback: Any,
) -> Any:
    """Run ``solver`` on ``objective`` for ``model``, with checkpoints (also used by Dask)."""
    from softreg.optim import minimize
    from softreg.optim._result import warn_not_converged

    state: Any = None
    history: list[dict[str, Any]] = []
    epoch = 0
    if resume_from is not None:
        ck = load_checkpoint(resume_from, model, data_shape=data_shape, classes=model.classes_)
        if len(ck.solver_params) != 1 or ck.solver_params[0].shape != (objective.n_params,):
            raise CheckpointError(
                f"{os.fspath(resume_from)}: cannot resume from this checkpoint: its parameters "
                f"do not have shape ({objective.n_params},)"
            )
        w0 = ck.solver_params[0].astype(objective.dtype, copy=False)
        state, epoch = ck.optimizer_state, ck.epoch
        rng = ck.make_rng() or rng
        history = list(ck.model_state.get("history_", []))
    model._store(w0, objective)
    model.history_, model.n_iter_ = history, epoch

    def save(w: NDArray[Any], opt_state: Any) -> None:
        assert writer.path is not None
        save_softmax_checkpoint(writer.path, model, data_shape, w, opt_state, rng)

    max_iter, tol = int(model.max_iter), model._tol(solver)
    if solver in ("sgd", "adam"):
        w, converged = w0, False
        previous = history[-1]["loss"] if history else np.inf
        while model.n_iter_ < max_iter:
            res = model._epoch(objective, w, solver, rng, state)
            w, state, row = res.x, res.state, res.history[-1]
            # The stop rule of minimize_stochastic, across calls: epoch cost gain below tol.
            converged = tol > 0 and previous - row["loss"] < tol
            previous = row["loss"]
            stop = model._make_callback(objective, callback, offset=model.n_iter_)(w, row)
            converged = converged or stop
            if writer.due(model.n_iter_, converged or model.n_iter_ == max_iter):
                save(w, state)
            if converged:
                break
        if tol > 0 and not converged and epoch < max_iter:
            warn_not_converged("stochastic solver", max_iter, f" (tol = {tol:g})")
        model._store(w, objective)
        model._optimizer_state = state
        return model

    on_iteration = model._make_callback(objective, callback, offset=epoch)
    remaining = max_iter - epoch

    # newton-cg carries curvature pairs from one iteration to the next: they are saved with
    # each checkpoint (as a list of (d, Hd) pairs) so that a resumed fit repeats the
    # uninterrupted one bit for bit. The solver updates this list in place.
    solver_state: list[Any] | None = None
    if solver == "newton-cg":
        solver_state = [tuple(pair) for pair in state] if isinstance(state, list) else []

    def saved_state() -> Any:
        return None if solver_state is None else [tuple(pair) for pair in solver_state]

    def on_checkpointed_iteration(w: NDArray[Any], row: dict[str, Any]) -> bool:
        stop = bool(on_iteration(w, row))
        if writer.due(model.n_iter_, stop or model.n_iter_ == max_iter):
            save(w, saved_state())
        return stop

    if remaining > 0:
        result = minimize(
            objective,
            w0,
            solver,
            tol=tol,
            max_iter=remaining,
            callback=on_checkpointed_iteration,
            state=solver_state,
        )
        model._store(result.x, objective)
        model.n_iter_ = epoch + int(result.n_iter)
        if writer.path is not None and result.n_iter == 0:
            save(result.x, saved_state())
    model._optimizer_state = None
    return model


def _fit_mlp(model: Any, X: Any, y: Any, writer: _Writer, resume_from: Any, callback: Any) -> Any:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    if model.early_stopping:
        raise ValueError(
            "fit_resumable does not support early_stopping=True (the held-out split is not "
            "checkpointed); use early_stopping=False"
        )
    X, y = np.asarray(X), np.asarray(y)
    data_shape = (int(X.shape[0]), int(np.prod(X.shape[1:], dtype=np.int64)))
    best, stale = -np.inf, 0
    if resume_from is not None:
        ck = load_checkpoint(resume_from, model, data_shape=data_shape)
        ck.restore(model)
        model._rng = ck.make_rng()
        model._opt_state = ck.optimizer_state
        best, stale = float(ck.extra["best"]), int(ck.extra["stale"])
    else:
        classes = np.unique(y) if y.ndim == 1 else None
        for attr in ("coefs_", "_opt_state", "_rng"):
            if hasattr(model, attr):
                delattr(model, attr)
        model.partial_fit(X, y, classes=classes)
    first_pending = resume_from is None
    stopped = False
    while True:
        if not first_pending:
            if model.n_iter_ >= model.max_epochs:
                break
            model.partial_fit(X, y)
        first_pending = False
        record = model.history_[-1]
        # MLPClassifier's stop rule: no gain of `tol` in -loss for n_iter_no_change epochs.
        score = -record["loss"]
        stale = stale + 1 if score < best + model.tol else 0
        best = max(best, score)
        stopped = bool(callback(model, record)) if callback is not None else False
        stopped = stopped or stale >= model.n_iter_no_change
        if writer.due(model.n_iter_, stopped or model.n_iter_ >= model.max_epochs):
            assert writer.path is not None
            save_checkpoint(
                writer.path,
                model,
                epoch=model.n_iter_,
                data_shape=data_shape,
                classes=model.classes_,
                optimizer_state=model._opt_state,
                rng=model._rng,
                model_state={a: getattr(model, a) for a in model._state_attributes},
                extra={"best": best, "stale": stale},
            )
        if stopped:
            break
    if not stopped:
        warnings.warn(
            f"MLPClassifier: max_epochs={model.max_epochs} reached and the stop rule (tol="
            f"{model.tol}, n_iter_no_change={model.n_iter_no_change}) did not fire; "
            "increase max_epochs.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return model

"""How an `MLPClassifier` fit runs: from its settings and data to the epoch loop.

Functions of the estimator (passed as ``model``; this module imports none): validation and
target encoding through the model, initial or continued parameters, the optimiser, the
held-out split of early stopping, the hooks (user callback, checkpointer), and resuming from a
checkpoint as starting the loop from the saved state. The loop is
:func:`softreg.mlp.training.train`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from softreg._fingerprint import data_fingerprint
from softreg._validation import check_validation_split
from softreg.checkpoint import load_checkpoint
from softreg.mlp.checks import validate_fit_data
from softreg.mlp.layers import init_params
from softreg.mlp.state import check_hidden_layer_sizes, check_same_hidden_layers
from softreg.mlp.targets import Targets, as_labels, encode_targets, ravel_column, read_targets
from softreg.mlp.training import (
    CallbackHook,
    EpochState,
    make_optimizer,
    make_rng,
    record_epoch,
    run_epoch,
    train,
)
from softreg.optim._fit_core import Hook
from softreg.resume import Checkpointer, Run

__all__ = ["SINGLE_THREAD_BATCH_SIZE", "checkpoint_contents", "fit_network", "restore_checkpoint"]

#: Batches smaller than this run their matrix products on one BLAS thread. Such products are too
#: small to gain much from threads on a few cores, and BLAS threads that spin-wait for CPUs taken
#: by other processes slow each step down many times (measured 16x on a shared 2-core machine).
SINGLE_THREAD_BATCH_SIZE = 1024


def fit_network(
    model: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    classes: ArrayLike | None,
    resume: bool,
    incremental: bool,
    run: Run | None,
) -> None:
    """Validate, initialise or continue, and train ``model`` (an `MLPClassifier`) in place.

    ``incremental``: one epoch (``partial_fit``); otherwise the epoch loop `train` with the
    hooks of ``run`` (callback, checkpointer), starting from ``run.resume_from`` if given.
    """
    # New parameters invalidate a temperature calibrated for the old ones.
    model.__dict__.pop("temperature_", None)
    sizes = check_hidden_layer_sizes(model.hidden_layer_sizes)
    X, y_checked = validate_fit_data(model, X, y, reset=not resume)
    target = encode_fit_targets(model, y_checked, classes, resume=resume, incremental=incremental)
    if model.early_stopping and not incremental:
        softmax = model.out_activation_ == "softmax"
        check_validation_split(
            X.shape[0], len(model.classes_) if softmax else 1, model.validation_fraction, softmax
        )
    if not resume:
        model._rng = make_rng(model.random_state)
        layer_sizes = (X.shape[1], *sizes, model.n_outputs_)
        params = init_params(layer_sizes, model.activation, model._rng)
        model.coefs_, model.intercepts_ = list(params[0::2]), list(params[1::2])
        model.n_iter_, model.loss_, model.history_ = 0, float("nan"), []
    else:
        check_same_hidden_layers(model.coefs_, sizes)
        if not hasattr(model, "_rng"):
            model._rng = make_rng(model.random_state)
        model.coefs_ = [np.require(W, np.float32, ["C", "W"]) for W in model.coefs_]
        model.intercepts_ = [np.require(b, np.float32, ["C", "W"]) for b in model.intercepts_]
    params = model._params()
    # Only the optimiser's state (arrays) is kept on the model: its functions are closures,
    # rebuilt from the parameters on each call, so the model stays picklable.
    n_fit = (
        X.shape[0]
        if not model.early_stopping
        else X.shape[0] - max(1, int(np.ceil(model.validation_fraction * X.shape[0])))
    )
    total_steps = model.max_epochs * -(-n_fit // min(model.batch_size, n_fit))
    optimizer = make_optimizer(
        model.solver,
        model.learning_rate,
        schedule=model.learning_rate_schedule,
        momentum=model.momentum,
        total_steps=None if incremental else total_steps,
    )
    if not incremental or not hasattr(model, "_opt_state"):
        model._opt_state = optimizer.init(params)

    threads = 1 if min(model.batch_size, X.shape[0]) < SINGLE_THREAD_BATCH_SIZE else None
    if incremental:
        with threadpool_limits(limits=threads, user_api="blas"):
            record_epoch(model, run_epoch(model, optimizer, params, X, target), None)
        return
    validation = None
    if model.early_stopping:
        stratify = target if model.out_activation_ == "softmax" else None
        seed = int(model._rng.integers(2**31 - 1))
        X_fit, X_val, target, target_val = train_test_split(
            X, target, test_size=model.validation_fraction, stratify=stratify, random_state=seed
        )
        X, validation = np.asarray(X_fit), (np.asarray(X_val), np.asarray(target_val))
    assert run is not None
    hooks: list[Hook] = [] if run.callback is None else [CallbackHook(model, run.callback)]
    start, end = None, None
    # The epoch this fit started from: 0, or where a warm start continues. A checkpoint keeps
    # it, so a resumed fit ends where the uninterrupted one would (max_epochs after it).
    first_epoch = int(model.n_iter_)
    fingerprint = None
    if run.resume_from is not None or run.checkpoint is not None:
        # Once per fit (one read of X): checkpoints are refused for other data.
        fingerprint = data_fingerprint(X, target)
    if run.resume_from is not None:
        start, first_epoch = restore_checkpoint(model, run.resume_from, X.shape, fingerprint)
        params, end = model._params(), first_epoch + model.max_epochs
    if run.checkpoint is not None:
        hooks.append(
            Checkpointer(
                run.checkpoint,
                run.checkpoint_every,
                model,
                (int(X.shape[0]), int(X.shape[1])),
                model.classes_,
                partial(checkpoint_contents, model, first_epoch=first_epoch),
                data_fingerprint=fingerprint,
            )
        )
    with threadpool_limits(limits=threads, user_api="blas"):
        train(model, optimizer, params, X, target, validation, hooks, start=start, end_epoch=end)
    return


def restore_checkpoint(
    model: Any, path: Any, shape: tuple[int, ...], data_fingerprint: str | None = None
) -> tuple[EpochState, int]:
    """Set the fitted state, optimiser state and RNG saved at ``path``; its loop state and the
    epoch its fit started from (0 for checkpoints of softreg <= 0.4, which saved none)."""
    data_shape = (int(shape[0]), int(shape[1]))
    ck = load_checkpoint(
        path,
        model,
        data_shape=data_shape,
        classes=model.classes_,
        data_fingerprint=data_fingerprint,
    )
    ck.restore(model)
    model.coefs_ = [np.require(W, np.float32, ["C", "W"]) for W in model.coefs_]
    model.intercepts_ = [np.require(b, np.float32, ["C", "W"]) for b in model.intercepts_]
    model._rng = ck.make_rng() or model._rng
    model._opt_state = ck.optimizer_state
    best, stale = float(ck.extra["best"]), int(ck.extra["stale"])
    state = EpochState(
        model.n_iter_, dict(model.history_[-1]) if model.history_ else {}, best, stale
    )
    return state, int(ck.extra.get("first_epoch", 0))


def checkpoint_contents(model: Any, state: EpochState, *, first_epoch: int = 0) -> dict[str, Any]:
    """What a checkpoint of this network's fit holds (see :mod:`softreg.resume`); the fit
    started at epoch ``first_epoch`` (0, or where a warm start continued)."""
    return {
        "optimizer_state": model._opt_state,
        "rng": model._rng,
        "model_state": {a: getattr(model, a) for a in model._state_attributes},
        "extra": {"best": state.best, "stale": state.stale, "first_epoch": first_epoch},
    }


def encode_fit_targets(
    model: Any, y: NDArray[Any], classes: ArrayLike | None, *, resume: bool, incremental: bool
) -> NDArray[Any]:
    """Class indices (multi-class) or a float32 indicator matrix (multi-label)."""
    y = ravel_column(y, stacklevel=5)
    if not resume:
        targets = read_targets(y, classes, require_classes=incremental)
        model.out_activation_, model.classes_ = targets.out_activation, targets.classes
        model.indicator_dtype_, model.n_outputs_ = targets.indicator_dtype, len(targets.classes)
        return encode_targets(y, targets)
    fitted = Targets(model.out_activation_, model.classes_, model.indicator_dtype_)
    if classes is not None and not np.array_equal(
        as_labels(np.unique(np.asarray(classes))), model.classes_
    ):
        raise ValueError(
            f"classes={np.asarray(classes).tolist()!r} differs from classes_ "
            f"{model.classes_.tolist()!r} of the fitted model"
        )
    return encode_targets(y, fitted)

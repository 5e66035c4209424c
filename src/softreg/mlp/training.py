"""The one mini-batch training loop of `MLPClassifier`: optimiser, epochs, stop rule, hooks.

The estimator (:mod:`softreg.mlp.classifier`) owns the fitted state; the functions here update
that state in place, one epoch at a time (`record_epoch` counts each), with the optimisers of
:mod:`softreg.optim.transforms` and the gradients of :mod:`softreg.mlp.layers`. As in
:func:`softreg.optim._fit_core.fit_core`, user callbacks and checkpoints are hooks of `train`
(``on_iteration(state)``, True stops; ``on_fit_end(state)``), and resuming a fit is starting
`train` from a saved `EpochState`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning

from softreg.mlp.layers import loss_and_grad
from softreg.optim._fit_core import Hook, call_hooks
from softreg.optim._guards import check_divergence
from softreg.optim.transforms import GradientTransformation, adam_inplace, sgd

__all__ = [
    "CallbackHook",
    "EpochState",
    "make_optimizer",
    "make_rng",
    "record_epoch",
    "run_epoch",
    "train",
]

# The estimator being trained (an MLPClassifier; typed loosely: this module imports none).
MLPClassifier = Any

Params = tuple[NDArray[np.float32], ...]


def make_rng(random_state: Any) -> np.random.Generator:
    """A Generator from ``random_state`` (None, int, Generator or legacy RandomState)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)


def make_optimizer(
    solver: str,
    learning_rate: float,
    *,
    schedule: str = "constant",
    momentum: float = 0.9,
    total_steps: int | None = None,
) -> GradientTransformation:
    """``adam_inplace`` or ``sgd``; with a cosine schedule over ``total_steps`` if asked for.

    The cosine schedule uses ``learning_rate * (1 + cos(pi t / T)) / 2`` at step ``t`` of
    ``T = total_steps`` (held at 0 after ``T``); without ``total_steps`` the rate is constant.

    Examples
    --------
    >>> import numpy as np
    >>> params = (np.ones(2, dtype=np.float32),)
    >>> opt = make_optimizer("sgd", 0.5, momentum=0.0)
    >>> updates, _ = opt.update((np.ones(2, dtype=np.float32),), opt.init(params), params)
    >>> updates[0]
    array([-0.5, -0.5], dtype=float32)
    """
    base = float(learning_rate)
    rate: float | Callable[[int], float] = base
    if schedule == "cosine" and total_steps:

        def rate(step: int) -> float:
            return base * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))

    if solver == "adam":
        return adam_inplace(rate)
    return sgd(rate, momentum=momentum)


def run_epoch(
    model: MLPClassifier,
    optimizer: GradientTransformation,
    params: Params,
    X: NDArray[np.float32],
    target: NDArray[Any],
) -> float:
    """One shuffled pass of mini-batch updates of ``params`` (in place); the mean batch objective.

    ``X`` is of shape (n_samples, n_features), ``target`` of shape (n_samples,) (class indices)
    or (n_samples, n_labels) (float32 indicator matrix). Shuffles with ``model._rng`` and
    advances ``model._opt_state``.
    """
    n_samples = X.shape[0]
    batch_size = min(model.batch_size, n_samples)
    order = model._rng.permutation(n_samples)
    total = 0.0
    # Overflow in a diverging fit is reported below as one specific error, not as warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, n_samples, batch_size):
            # Sorted indices: the gather reads X in memory order; the batch is the same set.
            rows = np.sort(order[start : start + batch_size])
            loss, grads = loss_and_grad(
                params,
                X[rows],
                target[rows],
                activation=model.activation,
                head=model.out_activation_,
                alpha=model.alpha,
            )
            if not np.isfinite(loss):
                raise ValueError(
                    f"training diverged (loss={loss}) in epoch {model.n_iter_ + 1}; lower "
                    f"learning_rate (got {model.learning_rate}) or scale X"
                )
            updates, model._opt_state = optimizer.update(grads, model._opt_state, params)
            for p, u in zip(params, updates, strict=True):
                p += u
            total += loss * len(rows)
    return total / n_samples


def record_epoch(model: MLPClassifier, loss: float, val_score: float | None) -> dict[str, Any]:
    """Count one more epoch on ``model``: ``n_iter_``, ``loss_`` and the row of ``history_``
    (``val_score`` with early stopping), which is returned; one line printed if ``verbose``."""
    model.n_iter_ += 1
    model.loss_ = float(loss)
    record: dict[str, Any] = {"iteration": model.n_iter_, "loss": model.loss_}
    if val_score is not None:
        record["val_score"] = val_score
    model.history_.append(record)
    if model.verbose:
        extra = f", val_score = {val_score:.4f}" if val_score is not None else ""
        print(f"Epoch {model.n_iter_}, loss = {loss:.6f}{extra}")
    return record


@dataclass
class EpochState:
    """Where the epoch loop stands: what its hooks see, and what a checkpoint saves.

    Attributes
    ----------
    n_iter : int
        Epochs done (the model's ``n_iter_``).
    record : dict
        The history row of the last epoch.
    best : float
        Best score of the stop rule so far (``-loss``, or validation accuracy).
    stale : int
        Epochs since the best score improved by ``tol``.
    """

    n_iter: int = 0
    record: dict[str, Any] = field(default_factory=dict)
    best: float = -np.inf
    stale: int = 0


class CallbackHook:
    """A user's ``callback(model, record)`` as a hook of `train` (True stops)."""

    def __init__(self, model: MLPClassifier, callback: Callable[[Any, dict[str, Any]], Any]):
        self.model, self.callback = model, callback

    def on_iteration(self, state: EpochState) -> bool:
        return bool(self.callback(self.model, state.record))

    def on_fit_end(self, state: EpochState) -> None:
        pass


def _start_loss(
    model: MLPClassifier, params: Params, X: NDArray[np.float32], target: NDArray[Any]
) -> float:
    """The loss of the first mini-batch's rows at the start point (divergence reference)."""
    rows = slice(0, min(model.batch_size, X.shape[0]))
    with np.errstate(over="ignore", invalid="ignore"):
        loss, _ = loss_and_grad(
            params,
            X[rows],
            target[rows],
            activation=model.activation,
            head=model.out_activation_,
            alpha=model.alpha,
        )
    return float(loss) if np.isfinite(loss) else np.inf


def train(
    model: MLPClassifier,
    optimizer: GradientTransformation,
    params: Params,
    X: NDArray[np.float32],
    target: NDArray[Any],
    validation: tuple[NDArray[np.float32], NDArray[Any]] | None,
    hooks: Sequence[Hook] = (),
    *,
    start: EpochState | None = None,
    end_epoch: int | None = None,
) -> EpochState:
    """Epochs of `run_epoch` until ``end_epoch`` (default: ``max_epochs`` more), the stop rule
    or a hook's stop.

    With ``validation`` (held-out ``X_val``, ``target_val``) the stop rule watches their
    accuracy and the best parameters seen are written back into ``params`` at the end.
    ``start`` continues a saved loop (its stop-rule counters); the final state is returned.
    """
    state = EpochState(model.n_iter_) if start is None else start
    end = model.n_iter_ + model.max_epochs if end_epoch is None else end_epoch
    best_params = [p.copy() for p in params] if validation is not None else []
    stopped = False
    start_loss = _start_loss(model, params, X, target)
    while model.n_iter_ < end:
        loss = run_epoch(model, optimizer, params, X, target)
        # "Blew up" (loss far above its start) is an error naming the learning rate, never a
        # "converged" stop: see softreg.optim._guards.
        check_divergence(
            loss,
            start_loss,
            solver=f"MLPClassifier(solver={model.solver!r})",
            learning_rate=model.learning_rate,
            epoch=model.n_iter_ + 1,
        )
        val_score = None
        if validation is not None:
            X_val, target_val = validation
            hits = model._decode(X_val) == target_val
            val_score = float(np.mean(hits.all(axis=1) if hits.ndim == 2 else hits))
        state.record = record_epoch(model, loss, val_score)
        state.n_iter = model.n_iter_
        # Stop rule (as scikit-learn's MLP): no improvement by `tol` for n_iter_no_change
        # epochs, on the validation accuracy if early stopping, else on the training loss.
        score = val_score if val_score is not None else -loss
        state.stale = state.stale + 1 if score < state.best + model.tol else 0
        if score > state.best:
            state.best = score
            if validation is not None:
                best_params = [p.copy() for p in params]
        stopped = call_hooks(hooks, state) or state.stale >= model.n_iter_no_change
        if stopped:
            break
    if not stopped:
        warnings.warn(
            f"MLPClassifier: max_epochs={model.max_epochs} reached and the stop rule (tol="
            f"{model.tol}, n_iter_no_change={model.n_iter_no_change}) did not fire; "
            "increase max_epochs.",
            ConvergenceWarning,
            stacklevel=5,
        )
    if validation is not None:
        # Keep the parameters of the best validation score (as scikit-learn does).
        for p, p_best in zip(params, best_params, strict=True):
            p[...] = p_best
    for hook in hooks:
        hook.on_fit_end(state)
    return state

"""The mini-batch training loop of `MLPClassifier`: optimiser, epochs, stop rule.

The estimator (:mod:`softreg.mlp.classifier`) validates input and owns the fitted state; the
functions here update that state in place, one epoch at a time, with the optimisers of
:mod:`softreg.optim.transforms` and the gradients of :mod:`softreg.mlp.layers`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning

from softreg.mlp.layers import loss_and_grad
from softreg.optim._guards import check_divergence
from softreg.optim.transforms import GradientTransformation, adam_inplace, sgd

if TYPE_CHECKING:
    from softreg.mlp.classifier import MLPClassifier

__all__ = ["make_optimizer", "make_rng", "run_epoch", "train"]

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
    callback: Callable[[MLPClassifier, dict[str, Any]], Any] | None,
) -> None:
    """Up to ``model.max_epochs`` epochs of `run_epoch`, with the stop rule and the callback.

    With ``validation`` (held-out ``X_val``, ``target_val``) the stop rule watches their
    accuracy and the best parameters seen are written back into ``params`` at the end.
    """
    best, best_params, stale = -np.inf, [p.copy() for p in params], 0
    start = _start_loss(model, params, X, target)
    for _ in range(model.max_epochs):
        loss = run_epoch(model, optimizer, params, X, target)
        # "Blew up" (loss far above its start) is an error naming the learning rate, never a
        # "converged" stop: see softreg.optim._guards.
        check_divergence(
            loss,
            start,
            solver=f"MLPClassifier(solver={model.solver!r})",
            learning_rate=model.learning_rate,
            epoch=model.n_iter_ + 1,
        )
        val_score = None
        if validation is not None:
            X_val, target_val = validation
            hits = model._decode(X_val) == target_val
            val_score = float(np.mean(hits.all(axis=1) if hits.ndim == 2 else hits))
        record = model._record_epoch(loss, val_score)
        # Stop rule (as scikit-learn's MLP): no improvement by `tol` for n_iter_no_change
        # epochs, on the validation accuracy if early stopping, else on the training loss.
        score = val_score if val_score is not None else -loss
        stale = stale + 1 if score < best + model.tol else 0
        if score > best:
            best = score
            if validation is not None:
                best_params = [p.copy() for p in params]
        if callback is not None and callback(model, record):
            break
        if stale >= model.n_iter_no_change:
            break
    else:
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

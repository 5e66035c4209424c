"""What runs on the workers: building a shard's objective and evaluating it.

Every function here is module-level (so process workers can unpickle it by name) and gets one
shard's NumPy blocks; only small results (a float, a gradient of ``n_params`` entries, per-class
sums) travel back to the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg._validation import encode_labels
from softreg.objective import HessianOperator, SoftmaxObjective
from softreg.optim import minimize


@dataclass
class RawShard:
    """One shard's rows: ``X`` (n_rows, n_features), encoded labels and sample weights."""

    X: NDArray[Any]
    y: NDArray[np.intp]
    sample_weight: NDArray[Any]
    first_row: int


def make_raw_shard(
    X: Any, y: Any, sample_weight: Any, classes: NDArray[Any], first_row: int
) -> RawShard:
    """Validate one block of rows and encode its labels against the global ``classes``."""
    X = np.ascontiguousarray(X)
    last = first_row + X.shape[0] - 1
    if not np.all(np.isfinite(X)):
        raise ValueError(f"X contains NaN or infinity (in rows {first_row}..{last})")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"y block of rows {first_row}..{last} has shape {y.shape}, expected ({X.shape[0]},)"
        )
    dtype = np.float32 if X.dtype.kind in "biu" else X.dtype  # integer pixels: float32 maths
    if sample_weight is None:
        sw = np.ones(X.shape[0], dtype=dtype)
    else:
        sw = np.asarray(sample_weight, dtype=dtype)
        if not np.all(np.isfinite(sw)) or np.any(sw < 0):
            raise ValueError(
                f"sample_weight must be finite and non-negative (rows {first_row}..{last})"
            )
    return RawShard(X, encode_labels(y, classes), sw, first_row)


def class_sums(raw: RawShard, n_classes: int) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Per-class sums of sample weights and per-class counts of one shard."""
    weights = np.bincount(raw.y, weights=raw.sample_weight, minlength=n_classes)
    return weights.astype(np.float64), np.bincount(raw.y, minlength=n_classes)


class Resident:
    """Holds a value that should stay on its worker, reporting the size of its arrays.

    Dask's scheduler moves a task to another worker when it thinks the inputs are cheap to
    copy; a plain object reports a few bytes (``sys.getsizeof``), so without this a shard of
    hundreds of MB could be shipped between workers on every evaluation.
    """

    def __init__(self, value: Any, nbytes: int) -> None:
        self.value = value
        self.nbytes = int(nbytes)

    def __sizeof__(self) -> int:
        return self.nbytes


def build_objective(
    raw: RawShard,
    class_weight: NDArray[Any],
    total_weight: float,
    C: float,
    l1_ratio: float,
    fit_intercept: bool,
    scale: float = 1.0,
) -> Resident:
    """The shard's objective: its own weighted mean data term plus the *global* L2 term.

    With ``S`` the total and ``S_i`` the shard's weight, ``C_i = C S / S_i`` makes the shard's
    penalty ``(1 - rho) ||W||^2 / (2 C S)``, so ``sum_i (S_i / S) f_i = f`` exactly (also for
    gradients and Hessian-vector products), and a shard is also the right objective for local
    SGD epochs (as ``SoftmaxObjective.subset`` is for a mini-batch).
    """
    dtype = raw.sample_weight.dtype
    sw = raw.sample_weight * class_weight[raw.y].astype(dtype)
    shard_weight = float(np.sum(sw, dtype=np.float64))
    C_shard = C if np.isinf(C) else C * total_weight / shard_weight
    objective = SoftmaxObjective(
        raw.X,
        raw.y,
        len(class_weight),
        sw,
        C=C_shard,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        scale=scale,
    )
    return Resident(objective, raw.X.nbytes + raw.y.nbytes + 2 * sw.nbytes)


def shard_loss(shard: Resident, w: NDArray[Any]) -> float:
    return float(shard.value.loss(w))


def shard_loss_grad(shard: Resident, w: NDArray[Any]) -> tuple[float, NDArray[Any]]:
    f, g = shard.value.loss_grad(w)
    return float(f), g


def shard_loss_grad_hessp(shard: Resident, w: NDArray[Any]) -> Resident:
    """``(f, g, hessp)`` at ``w``; kept on the worker (the operator holds the probabilities)."""
    f, g, hessp = shard.value.loss_grad_hessp(w)
    assert isinstance(hessp, HessianOperator)
    return Resident((float(f), g, hessp), hessp.proba.nbytes + shard.nbytes)


def loss_grad_part(kept: Resident) -> tuple[float, NDArray[Any]]:
    """The small part of ``shard_loss_grad_hessp``'s result (the operator stays put)."""
    return kept.value[0], kept.value[1]


def apply_hessp(kept: Resident, v: NDArray[Any]) -> NDArray[Any]:
    return kept.value[2](v)


def shard_epoch(
    shard: Resident,
    w: NDArray[Any],
    solver: str,
    learning_rate: Any,
    momentum: float,
    batch_size: int,
    seed: int,
    state: Any,
) -> tuple[NDArray[Any], Any, float, float]:
    """One local epoch of ``solver`` from ``w``: ``(w_new, state, epoch_cost, grad_norm)``."""
    result = minimize(
        shard.value,
        w,
        solver,
        tol=-np.inf,
        max_iter=1,
        learning_rate=learning_rate,
        momentum=momentum,
        batch_size=batch_size,
        random_state=np.random.default_rng(seed),
        state=state,
        warn=False,
    )
    row = result.history[-1]
    return result.x, result.state, float(row["loss"]), float(row["grad_norm"])

"""``fit_dask``: fit a `SoftmaxRegression` on ``dask.array`` data without gathering it."""

from __future__ import annotations

import concurrent.futures
import os
from typing import Any

import dask
import dask.array as da
import numpy as np
from numpy.typing import NDArray
from sklearn.utils.class_weight import compute_class_weight

from softreg._validation import as_label_array
from softreg.checkpoint import load_checkpoint
from softreg.dask import _shards
from softreg.dask.objective import (
    ShardedObjective,
    _Executor,
    compute,
    gather,
    resolve_client,
    submit_each,
)
from softreg.optim._result import record, warn_not_converged
from softreg.optim.transforms import AdamState
from softreg.resume import _Writer, save_softmax_checkpoint, train_softmax


def fit_dask(
    model: Any,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    *,
    client: Any = None,
    callback: Any = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1,
    resume_from: str | os.PathLike[str] | None = None,
) -> Any:
    """Fit ``model`` (a `SoftmaxRegression`) on a ``dask.array`` ``X`` with labels ``y``.

    Parameters
    ----------
    model : SoftmaxRegression
        Its parameters choose the solver, penalty and stopping rule as for ``fit``.
    X : dask.array.Array of shape (n_samples, n_features)
        Sharded by its row chunks (column chunks are merged); float32 stays float32.
    y : dask.array.Array or array-like of shape (n_samples,)
        Labels, rechunked to ``X``'s row chunks.
    sample_weight : dask.array.Array or array-like of shape (n_samples,), optional
    client : distributed.Client or str, optional
        Cluster (or scheduler address) to train on; by default the current client, else
        ``DASK_SCHEDULER_ADDRESS``, else the shards are evaluated in this process.
    callback : callable, optional
        ``callback(model, record)`` after every iteration / epoch; True stops.
    checkpoint, checkpoint_every, resume_from
        As for :func:`softreg.resume.fit_resumable`.

    Returns
    -------
    model
        Fitted in place: ``coef_`` (n_classes, n_features), ``intercept_``, ``classes_``...

    Raises
    ------
    ConnectionError
        No scheduler answers at the given address.
    RuntimeError
        The cluster lost workers beyond Dask's retries; the last checkpoint stays usable.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import load_iris
    >>> from softreg import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> Xd, yd = da.from_array(X, chunks=(50, 4)), da.from_array(y, chunks=50)
    >>> sharded = fit_dask(SoftmaxRegression(tol=1e-8), Xd, yd)
    >>> in_memory = SoftmaxRegression(tol=1e-8).fit(X, y)
    >>> bool(abs(sharded.coef_ - in_memory.coef_).max() < 1e-6)
    True
    """
    from softreg.softmax_regression import SoftmaxRegression, _seed

    if not isinstance(model, SoftmaxRegression):
        raise TypeError(f"model must be a SoftmaxRegression, got {type(model).__name__}")
    model._validate_params()
    writer = _Writer(checkpoint, checkpoint_every)
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int):
        raise TypeError(f"checkpoint_every must be an int >= 1, got {checkpoint_every!r}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be an int >= 1, got {checkpoint_every}")
    C, l1_ratio = model._penalty_args()
    solver = model._solver(l1_ratio)
    X, y, sample_weight = _check_inputs(X, y, sample_weight, model.input_scale is not None)
    client, owned = resolve_client(client)
    try:
        objective: Any = _sharded_objective(model, client, X, y, sample_weight, C, l1_ratio)
        rng = np.random.default_rng(_seed(model.random_state))
        w0 = model._initial_params(objective, rng)
        shape = (int(X.shape[0]), int(X.shape[1]))
        try:
            if solver in ("sgd", "adam"):
                _averaged_epochs(
                    model, objective, w0, rng, solver, shape, writer, resume_from, callback
                )
            else:
                train_softmax(
                    model, objective, w0, rng, solver, shape, writer, resume_from, callback
                )
        except (OSError, concurrent.futures.CancelledError, _killed_worker()) as exc:
            where = (
                f"; the last checkpoint {os.fspath(writer.path)!r} is intact" if writer.path else ""
            )
            raise RuntimeError(
                f"the Dask cluster failed during the fit after {model.n_iter_} iterations "
                f"({type(exc).__name__}: {exc}){where}; resume with resume_from="
            ) from exc
    finally:
        if owned:
            client.close()
    return model


def _killed_worker() -> type[BaseException]:
    try:
        from distributed import KilledWorker

        return KilledWorker
    except ImportError:  # pragma: no cover
        return concurrent.futures.CancelledError


def _check_inputs(X: Any, y: Any, sample_weight: Any, keep_integers: bool) -> tuple[Any, Any, Any]:
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask.array.Array, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must hold numbers, got dtype {X.dtype}")
        if not (keep_integers and X.dtype.kind in "biu"):  # as SoftmaxRegression with input_scale
            X = X.astype(np.float64)
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    X = X.rechunk({1: -1})
    n = int(X.shape[0])
    if n == 0:
        raise ValueError("X has 0 samples; at least one is required.")

    def rows_like_x(name: str, v: Any) -> Any:
        if not isinstance(v, da.Array):
            v = np.asarray(v)
        if v.ndim != 1:
            raise ValueError(
                f"{name} must be 1-D of shape ({n},), got shape {v.shape}"
                + (" (multi-label y: use MLPClassifier)" if name == "y" and v.ndim == 2 else "")
            )
        if isinstance(v, da.Array) and any(np.isnan(c) for c in v.chunks[0]):
            v = v.compute_chunk_sizes()
        if v.shape[0] != n:
            raise ValueError(f"{name} has {v.shape[0]} rows but X has {n}")
        if isinstance(v, da.Array):
            return v.rechunk((X.chunks[0],))
        return da.from_array(v, chunks=(X.chunks[0],))

    y = rows_like_x("y", y)
    if sample_weight is not None:
        sample_weight = rows_like_x("sample_weight", sample_weight)
    return X, y, sample_weight


def _class_weight(model: Any, classes: NDArray[Any], counts: NDArray[Any]) -> NDArray[Any]:
    if model.class_weight is None:
        return np.ones(len(classes))
    if model.class_weight == "balanced":
        return counts.sum() / (len(classes) * counts.astype(np.float64))
    return compute_class_weight(model.class_weight, classes=classes, y=classes)


def _sharded_objective(
    model: Any, client: Any, X: Any, y: Any, sw: Any, C: float, l1_ratio: float
) -> ShardedObjective:
    """Validate, encode and place the shards; the client keeps only their handles."""
    (labels,) = compute(client, [da.unique(y)])
    classes = as_label_array(gather(client, [labels])[0])
    if len(classes) < 2:
        raise ValueError(f"y contains only one class: {classes[0]!r}; need at least 2.")
    k = len(classes)
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]])
    sw_blocks = sw.to_delayed().ravel() if sw is not None else [None] * len(starts)
    raw = compute(
        client,
        [
            dask.delayed(_shards.make_raw_shard)(xb, yb, sb, classes, int(start))
            for xb, yb, sb, start in zip(
                X.to_delayed().ravel(), y.to_delayed().ravel(), sw_blocks, starts, strict=True
            )
        ],
    )
    sums = gather(client, submit_each(client, _shards.class_sums, raw, k))
    class_weight = _class_weight(model, classes, sum(c for _, c in sums))
    shard_weight = np.array([float(np.dot(class_weight, w)) for w, _ in sums])
    total = float(shard_weight.sum())
    if not total > 0:
        raise ValueError("sample_weight sums to zero: no sample has a positive weight")
    keep = [i for i in range(len(raw)) if shard_weight[i] > 0]  # zero-weight shards add nothing
    shard_objectives = submit_each(
        client,
        _shards.build_objective,
        [raw[i] for i in keep],
        class_weight,
        total,
        C,
        l1_ratio,
        bool(model.fit_intercept),
        model._scale(),
    )
    model.classes_ = classes
    model.n_features_in_ = int(X.shape[1])
    if hasattr(model, "feature_names_in_"):
        del model.feature_names_in_
    return ShardedObjective(
        _Executor(client, shard_objectives, sources=raw),
        shard_weight[keep] / total,
        n_samples=int(X.shape[0]),
        n_features=int(X.shape[1]),
        n_classes=k,
        dtype=np.float32 if X.dtype.kind in "biu" else X.dtype,
        fit_intercept=bool(model.fit_intercept),
        l1_strength=0.0 if np.isinf(C) else l1_ratio / (C * total),
    )


def _average(states: list[Any], fractions: NDArray[np.float64]) -> Any:
    """Weighted average of per-shard optimiser states (step counts: the largest)."""
    first = states[0]
    if isinstance(first, np.ndarray):
        total = sum(f * s.astype(np.float64) for f, s in zip(fractions, states, strict=True))
        return np.asarray(total).astype(first.dtype)
    if isinstance(first, AdamState):
        return AdamState(*(_average(list(parts), fractions) for parts in zip(*states, strict=True)))
    if isinstance(first, tuple):
        return tuple(_average(list(parts), fractions) for parts in zip(*states, strict=True))
    if isinstance(first, (int, np.integer)):
        return max(int(s) for s in states)
    return first


def _averaged_epochs(
    model: Any,
    objective: ShardedObjective,
    w: NDArray[Any],
    rng: np.random.Generator,
    solver: str,
    data_shape: tuple[int, int],
    writer: _Writer,
    resume_from: Any,
    callback: Any,
) -> None:
    """Local-SGD: every shard runs one epoch from the same model; the client averages.

    One exchange per epoch (never per batch). The history's ``loss`` is the shard-weighted
    epoch cost and ``grad_norm`` the shard-weighted mean of the shards' epoch-gradient norms
    (an upper bound on the norm of the averaged epoch gradient).
    """
    state: Any = None
    model.history_, model.n_iter_ = [], 0
    if resume_from is not None:
        ck = load_checkpoint(resume_from, model, data_shape=data_shape, classes=model.classes_)
        w = ck.solver_params[0].astype(objective.dtype)
        state, rng = ck.optimizer_state, ck.make_rng() or rng
        model.history_, model.n_iter_ = list(ck.model_state.get("history_", [])), ck.epoch
    model._store(w, objective)
    max_iter, tol = int(model.max_iter), model._tol(solver)
    previous = model.history_[-1]["loss"] if model.history_ else np.inf
    fractions, executor = objective.fractions, objective.executor
    converged = False
    while model.n_iter_ < max_iter:
        seeds = rng.integers(0, 2**63 - 1, size=len(fractions))
        parts = executor.map_each(
            _shards.shard_epoch,
            [
                (
                    w,
                    solver,
                    model._learning_rate(solver),
                    float(model.momentum),
                    int(model.batch_size),
                    int(s),
                    state,
                )
                for s in seeds
            ],
        )
        w = _average([p[0] for p in parts], fractions)
        state = _average([p[1] for p in parts], fractions)
        cost = float(np.dot(fractions, [p[2] for p in parts]))
        if not np.isfinite(cost):
            raise FloatingPointError(
                f"the epoch cost became {cost}: lower learning_rate or scale the features"
            )
        row = record(1, cost, float(np.dot(fractions, [p[3] for p in parts])))
        converged = tol > 0 and previous - cost < tol
        previous = cost
        stop = model._make_callback(objective, callback, offset=model.n_iter_)(w, row)
        converged = converged or bool(stop)
        if writer.due(model.n_iter_, converged or model.n_iter_ == max_iter):
            assert writer.path is not None
            save_softmax_checkpoint(writer.path, model, data_shape, w, state, rng)
        if converged:
            break
    if tol > 0 and not converged and model.history_:
        warn_not_converged("model-averaging stochastic solver", max_iter, f" (tol = {tol:g})")
    model._store(w, objective)
    model._optimizer_state = state

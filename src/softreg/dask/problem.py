"""The sharded objective of a ``dask.array`` dataset: validate, encode and place the shards.

What a `SoftmaxRegression` fit on Dask data needs from this package: `sharded_objective` turns
``X``, ``y`` and ``sample_weight`` into a :class:`ShardedObjective` whose shards stay on the
workers, and `cluster_session` picks the cluster and turns its failures into one clear error.
The training loop is the estimator's own (:func:`softreg.optim._fit_core.fit_core`).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dask
import dask.array as da
import numpy as np
from numpy.typing import NDArray
from sklearn.utils.class_weight import compute_class_weight

from softreg._validation import as_label_array
from softreg.dask import _shards
from softreg.dask.objective import (
    ShardedObjective,
    _Executor,
    compute,
    gather,
    resolve_client,
    submit_each,
)

__all__ = ["check_inputs", "cluster_session", "sharded_objective"]


@contextmanager
def cluster_session(client: Any, progress: Callable[[], str]) -> Iterator[Any]:
    """The client to train on (see `resolve_client`), closed on exit if this opened it.

    A cluster failure inside the block (lost workers beyond Dask's retries, a dropped
    connection) becomes a ``RuntimeError`` that says how far the fit got (``progress()``).
    """
    client, owned = resolve_client(client)
    try:
        yield client
    except FileNotFoundError:  # a missing resume_from file is not a cluster failure
        raise
    except (OSError, concurrent.futures.CancelledError, _killed_worker()) as exc:
        raise RuntimeError(
            f"the Dask cluster failed during the fit after {progress()} "
            f"({type(exc).__name__}: {exc}); resume with resume_from="
        ) from exc
    finally:
        if owned:
            client.close()


def _killed_worker() -> type[BaseException]:
    try:
        from distributed import KilledWorker

        return KilledWorker
    except ImportError:  # pragma: no cover
        return concurrent.futures.CancelledError


def check_inputs(X: Any, y: Any, sample_weight: Any, keep_integers: bool) -> tuple[Any, Any, Any]:
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


def _class_weight(
    class_weight: Any, classes: NDArray[Any], counts: NDArray[Any]
) -> NDArray[np.float64]:
    if class_weight is None:
        return np.ones(len(classes))
    if class_weight == "balanced":
        return counts.sum() / (len(classes) * counts.astype(np.float64))
    return np.asarray(compute_class_weight(class_weight, classes=classes, y=classes))


def sharded_objective(
    client: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    *,
    C: float,
    l1_ratio: float,
    class_weight: Any = None,
    fit_intercept: bool = True,
    scale: float = 1.0,
) -> tuple[ShardedObjective, NDArray[Any]]:
    """Validate, encode and place the shards; the client keeps only their handles.

    Parameters
    ----------
    client : distributed.Client or None
        Where the shards live (None: in this process).
    X : dask.array.Array of shape (n_samples, n_features)
        As returned by `check_inputs`.
    y, sample_weight : dask.array.Array of shape (n_samples,)
        As returned by `check_inputs` (``sample_weight`` may be None).
    C, l1_ratio, class_weight, fit_intercept, scale
        As for :class:`softreg.objective.SoftmaxObjective` and ``SoftmaxRegression``.

    Returns
    -------
    objective : ShardedObjective
    classes : ndarray of shape (n_classes,)
        The sorted labels found in ``y``.
    """
    (labels,) = compute(client, [da.unique(y)])
    classes = as_label_array(gather(client, [labels])[0])
    if len(classes) < 2:
        raise ValueError(f"y contains only one class: {classes[0]!r}; need at least 2.")
    k = len(classes)
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]])
    sw = sample_weight
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
    weights = _class_weight(class_weight, classes, sum(c for _, c in sums))
    shard_weight = np.array([float(np.dot(weights, w)) for w, _ in sums])
    total = float(shard_weight.sum())
    if not total > 0:
        raise ValueError("sample_weight sums to zero: no sample has a positive weight")
    keep = [i for i in range(len(raw)) if shard_weight[i] > 0]  # zero-weight shards add nothing
    shard_objectives = submit_each(
        client,
        _shards.build_objective,
        [raw[i] for i in keep],
        weights,
        total,
        C,
        l1_ratio,
        bool(fit_intercept),
        float(scale),
    )
    objective = ShardedObjective(
        _Executor(client, shard_objectives, sources=raw),
        shard_weight[keep] / total,
        n_samples=int(X.shape[0]),
        n_features=int(X.shape[1]),
        n_classes=k,
        dtype=np.float32 if X.dtype.kind in "biu" else X.dtype,
        fit_intercept=bool(fit_intercept),
        l1_strength=0.0 if np.isinf(C) else l1_ratio / (C * total),
    )
    return objective, classes

"""``fit_dask``: fit a `SoftmaxRegression` on ``dask.array`` data without gathering it.

``SoftmaxRegression.fit`` does the same for a ``dask.array`` ``X``; this function adds the
choice of cluster. The objective is :func:`softreg.dask.problem.sharded_objective`'s; the loop
is the estimator's one training loop.
"""

from __future__ import annotations

import os
from typing import Any

import dask.array as da

from softreg.io import registered_estimators

__all__ = ["fit_dask"]


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
        As for ``SoftmaxRegression.fit``.

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
    cls = registered_estimators().get("SoftmaxRegression")
    if cls is None or not isinstance(model, cls):
        raise TypeError(f"model must be a SoftmaxRegression, got {type(model).__name__}")
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask.array.Array, got {type(X).__name__}")
    model._validate_params()
    return model._fit(
        X, y, sample_weight, callback, checkpoint, checkpoint_every, resume_from, client
    )

"""Predictions of a fitted softreg model on a ``dask.array``: lazy dask arrays, block by block."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np


def _rows(X: Any, model: Any) -> Any:
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask.array.Array, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        raise ValueError(f"{type(model).__name__} is not fitted yet; call fit first")
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(model).__name__} is expecting "
            f"{n_features} features as input"
        )
    return X.rechunk({1: -1})


def _per_class(model: Any, X: Any, method: str) -> Any:
    X = _rows(X, model)
    k = len(model.classes_)
    meta = getattr(model, method)(np.zeros((1, X.shape[1]), dtype=X.dtype))
    return X.map_blocks(
        getattr(model, method), chunks=(X.chunks[0], (k,)), dtype=meta.dtype, meta=meta[:0]
    )


def predict(model: Any, X: Any) -> Any:
    """``model.predict`` per row block: a dask array of shape (n_samples,).

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import load_iris
    >>> from softreg import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SoftmaxRegression().fit(X, y)
    >>> labels = predict(model, da.from_array(X, chunks=(50, 4)))
    >>> type(labels).__name__, labels.shape, bool((labels.compute() == model.predict(X)).all())
    ('Array', (150,), True)
    """
    X = _rows(X, model)
    meta = model.predict(np.zeros((1, X.shape[1]), dtype=X.dtype))
    return X.map_blocks(model.predict, drop_axis=1, dtype=meta.dtype, meta=meta[:0])


def predict_proba(model: Any, X: Any) -> Any:
    """``model.predict_proba`` per row block: a dask array of shape (n_samples, n_classes)."""
    return _per_class(model, X, "predict_proba")


def predict_log_proba(model: Any, X: Any) -> Any:
    """``model.predict_log_proba`` per row block: shape (n_samples, n_classes)."""
    return _per_class(model, X, "predict_log_proba")


def decision_function(model: Any, X: Any) -> Any:
    """``model.decision_function`` per row block (1-D for two classes, as the model returns)."""
    X = _rows(X, model)
    meta = model.decision_function(np.zeros((1, X.shape[1]), dtype=X.dtype))
    if meta.ndim == 1:
        return X.map_blocks(model.decision_function, drop_axis=1, dtype=meta.dtype, meta=meta[:0])
    return X.map_blocks(
        model.decision_function,
        chunks=(X.chunks[0], (meta.shape[1],)),
        dtype=meta.dtype,
        meta=meta[:0],
    )

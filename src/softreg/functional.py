"""Pure numerics on logits (placeholder: being replaced by the exact implementation)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def logsumexp(z: ArrayLike, axis: int = -1, keepdims: bool = False) -> NDArray[np.floating]:
    z = np.asarray(z, dtype=np.result_type(np.asarray(z).dtype, np.float32))
    m = np.max(z, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(z: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    z = np.asarray(z, dtype=np.result_type(np.asarray(z).dtype, np.float32))
    return z - logsumexp(z, axis=axis, keepdims=True)


def softmax(z: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    return np.exp(log_softmax(z, axis=axis))


def sigmoid(z: ArrayLike) -> NDArray[np.floating]:
    z = np.asarray(z, dtype=np.result_type(np.asarray(z).dtype, np.float32))
    return np.exp(-np.logaddexp(0, -z))


def log_sigmoid(z: ArrayLike) -> NDArray[np.floating]:
    z = np.asarray(z, dtype=np.result_type(np.asarray(z).dtype, np.float32))
    return -np.logaddexp(0, -z)

"""Losses on logits and on regression outputs, each beside its gradient.

Conventions
-----------
``logits`` has shape (n_samples, n_classes). ``reduction`` is ``"mean"`` (weighted mean over
samples: ``sum_i s_i l_i / sum_i s_i``; for the element-wise losses the mean over all entries),
``"sum"`` (``sum_i s_i l_i``) or ``"none"`` (``s_i l_i`` per sample). A ``*_grad`` function
returns the gradient of the value its twin returns with respect to its first argument (for
``"none"``: of each sample's own term, i.e. of their sum). ``0 * log(0)`` counts as 0, so a
class with no target mass never turns ``-inf`` log-probabilities into NaN. float32 inputs are
computed in float64 and the result rounded to float32.
"""

from __future__ import annotations

import numpy as np
import scipy.special
from numpy.typing import ArrayLike, NDArray

from softreg._softmax import as_float_array, rowwise

# A loss value: a 0-d NumPy float for "mean"/"sum", an array for "none".
LossValue = np.floating | NDArray[np.floating]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _nonneg_vector(w: ArrayLike | None, name: str, size: int) -> NDArray[np.float64] | None:
    if w is None:
        return None
    arr = as_float_array(w, name)[0].astype(np.float64)
    if arr.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative, got min {arr.min()}")
    return arr


def _reduce(
    values: NDArray[np.float64], sw: NDArray[np.float64] | None, reduction: str
) -> NDArray[np.float64]:
    """Apply sample weights (``0 * inf`` counts as 0) along axis 0, then reduce."""
    if sw is not None:
        shaped = sw.reshape((-1,) + (1,) * (values.ndim - 1))
        values = np.where(shaped != 0, values * shaped, 0.0)
    if reduction == "none":
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    return total / _mean_denominator(values.shape, sw)


def _mean_denominator(shape: tuple[int, ...], sw: NDArray[np.float64] | None) -> float:
    per_sample = int(np.prod(shape[1:], dtype=np.int64))
    denom = float(shape[0] if sw is None else sw.sum()) * per_sample
    if denom <= 0:
        raise ValueError(
            "reduction='mean' needs at least one sample with positive sample_weight, "
            f"got {shape[0]} samples"
        )
    return denom


def _scale_grad(
    grad: NDArray[np.float64],
    sw: NDArray[np.float64] | None,
    reduction: str,
    shape: tuple[int, ...],
) -> NDArray[np.float64]:
    if sw is not None:
        grad = grad * sw.reshape((-1,) + (1,) * (grad.ndim - 1))
    if reduction == "mean":
        grad = grad / _mean_denominator(shape, sw)
    return grad


def _ce_inputs(logits, target, class_weight, sample_weight, label_smoothing, reduction):
    """Validate; return float64 logits, the coefficient matrix W, weights and result dtype.

    Per-sample loss ``l_i = -sum_k W_ik log p_ik`` with ``W_ik = c_k t'_ik``, ``c`` the class
    weights and ``t' = (1 - eps) t + eps / K`` the smoothed target distribution.
    """
    _check_reduction(reduction)
    x, dtype = as_float_array(logits, "logits")
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"logits must have shape (n_samples, n_classes >= 1), got {x.shape}")
    n, k = x.shape
    try:
        eps = float(label_smoothing)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"label_smoothing must be a float in [0, 1), got {label_smoothing!r}"
        ) from exc
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
    t_arr = np.asarray(target)
    if t_arr.dtype.kind not in "biuf":
        raise TypeError(f"target must be integer labels or probabilities, got {t_arr.dtype}")
    if t_arr.ndim == 1:
        if t_arr.shape != (n,):
            raise ValueError(f"target labels must have shape ({n},), got {t_arr.shape}")
        if t_arr.dtype.kind in "fb" and not np.all(np.mod(t_arr, 1) == 0):
            raise ValueError("target labels must be integers, got non-integral values")
        if n and (t_arr.min() < 0 or t_arr.max() >= k):
            raise ValueError(
                f"target labels must be in [0, {k}), got range [{t_arr.min()}, {t_arr.max()}]"
            )
        t = np.zeros((n, k))
        t[np.arange(n), t_arr.astype(np.intp)] = 1.0
    elif t_arr.ndim == 2:
        if t_arr.shape != (n, k):
            raise ValueError(f"target probabilities must have shape {(n, k)}, got {t_arr.shape}")
        t = t_arr.astype(np.float64)
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise ValueError("target probabilities must be finite and non-negative")
    else:
        raise ValueError(f"target must be 1-D labels or 2-D probabilities, got ndim={t_arr.ndim}")
    if eps:
        t = (1.0 - eps) * t + eps / k
    cw = _nonneg_vector(class_weight, "class_weight", k)
    sw = _nonneg_vector(sample_weight, "sample_weight", n)
    coef = t if cw is None else t * cw
    return x, coef, sw, dtype


def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    class_weight: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> LossValue:
    """Softmax cross-entropy ``l_i = -sum_k c_k t'_ik log_softmax(logits)_ik``.

    Parameters
    ----------
    logits : array-like of shape (n_samples, n_classes)
    target : array-like of shape (n_samples,) of int labels in [0, n_classes), or of shape
        (n_samples, n_classes) of non-negative class probabilities
    class_weight : array-like of shape (n_classes,), optional
        Non-negative ``c_k`` (PyTorch's ``weight``).
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative ``s_i``.
    label_smoothing : float in [0, 1), default=0.0
        ``t' = (1 - eps) t + eps / n_classes``.
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"mean"`` is ``sum_i s_i l_i / sum_i s_i`` (PyTorch divides by ``sum_i c_{y_i}``
        instead when ``class_weight`` is given with labels; ``"sum"`` agrees with it).

    Returns
    -------
    float (0-d) or ndarray of shape (n_samples,) for ``"none"``

    Examples
    --------
    >>> cross_entropy([[1000.0, 0.0], [0.0, 0.0]], [0, 1])
    np.float64(0.34657359027997264)
    """
    x, coef, sw, dtype = _ce_inputs(
        logits, target, class_weight, sample_weight, label_smoothing, reduction
    )
    log_proba, _, _ = rowwise(x, -1, "log_softmax")
    with np.errstate(invalid="ignore"):
        per_sample = -np.sum(np.where(coef != 0, coef * log_proba, 0.0), axis=1)
    return _reduce(per_sample, sw, reduction).astype(dtype)[()]


def cross_entropy_grad(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    class_weight: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> NDArray[np.floating]:
    """Gradient of :func:`cross_entropy` (same arguments) with respect to ``logits``.

    ``d l_i / d z_ij = -sum_k W_ik (delta_kj - p_ij) = p_ij sum_k W_ik - W_ij``, ``W = c t'``
    (``softmax - onehot`` in the plain case), times ``s_i`` (and ``1 / sum s`` for the mean).

    Returns
    -------
    ndarray of shape (n_samples, n_classes)

    Examples
    --------
    >>> cross_entropy_grad([[0.0, 0.0]], [1])
    array([[ 0.5, -0.5]])
    """
    x, coef, sw, dtype = _ce_inputs(
        logits, target, class_weight, sample_weight, label_smoothing, reduction
    )
    proba, _, _ = rowwise(x, -1, "softmax")
    grad = proba * coef.sum(axis=1, keepdims=True) - coef
    return _scale_grad(grad, sw, reduction, x.shape[:1]).astype(dtype)


def _bce_inputs(logits, targets, sample_weight, reduction):
    _check_reduction(reduction)
    x, dtype = as_float_array(logits, "logits")
    y, _ = as_float_array(targets, "targets")
    if x.ndim == 0 or y.shape != x.shape:
        raise ValueError(
            f"targets must have the shape of logits (at least 1-D) {x.shape}, got {y.shape}"
        )
    if not np.all((y >= 0) & (y <= 1)):
        raise ValueError("targets must be in [0, 1] (finite), got values outside")
    sw = _nonneg_vector(sample_weight, "sample_weight", x.shape[0])
    return x, y, sw, dtype


def binary_cross_entropy(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> LossValue:
    """Sigmoid cross-entropy for multi-label problems, elementwise on logits.

    ``l = -(y log sigmoid(z) + (1 - y) log sigmoid(-z))`` with ``log sigmoid`` computed directly
    (``scipy.special.log_expit``), never as ``log(sigmoid)``.

    Parameters
    ----------
    logits : array-like of shape (n_samples, n_labels) (any shape with samples first)
    targets : array-like of the same shape, values in [0, 1]
    sample_weight : array-like of shape (n_samples,), optional
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"mean"`` divides by ``n_labels * sum_i s_i`` (PyTorch's mean without weights).

    Returns
    -------
    float (0-d) or ndarray of the logits' shape for ``"none"``

    Examples
    --------
    >>> binary_cross_entropy([[100.0, -100.0]], [[1.0, 0.0]])
    np.float64(3.720075976020836e-44)
    """
    x, y, sw, dtype = _bce_inputs(logits, targets, sample_weight, reduction)
    with np.errstate(invalid="ignore"):
        pos = np.where(y != 0, y * scipy.special.log_expit(x), 0.0)
        neg = np.where(y != 1, (1.0 - y) * scipy.special.log_expit(-x), 0.0)
    return _reduce(-(pos + neg), sw, reduction).astype(dtype)[()]


def binary_cross_entropy_grad(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    reduction: str = "mean",
) -> NDArray[np.floating]:
    """Gradient of :func:`binary_cross_entropy` with respect to ``logits``.

    ``d l / d z = -y sigmoid(-z) + (1 - y) sigmoid(z) = sigmoid(z) - y``.

    Examples
    --------
    >>> binary_cross_entropy_grad([[0.0, 0.0]], [[1.0, 0.0]], reduction="sum")
    array([[-0.5,  0.5]])
    """
    x, y, sw, dtype = _bce_inputs(logits, targets, sample_weight, reduction)
    grad = scipy.special.expit(x) - y
    return _scale_grad(grad, sw, reduction, x.shape).astype(dtype)


def _regression_inputs(pred, target, reduction):
    _check_reduction(reduction)
    p, dtype = as_float_array(pred, "pred")
    t, _ = as_float_array(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"target must have the shape of pred {p.shape}, got {t.shape}")
    if reduction == "mean" and p.size == 0:
        raise ValueError("reduction='mean' needs a non-empty pred, got size 0")
    return p, t, dtype


def _elementwise_reduce(values: NDArray[np.float64], reduction: str) -> NDArray[np.float64]:
    if reduction == "none":
        return values
    return values.sum() if reduction == "sum" else values.mean()


def _check_delta(delta: float) -> float:
    if not isinstance(delta, (int, float, np.integer, np.floating)) or isinstance(delta, bool):
        raise TypeError(f"delta must be a positive finite float, got {delta!r}")
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be a positive finite float, got {delta!r}")
    return float(delta)


def mse_loss(pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean") -> LossValue:
    """Squared error ``(pred - target)**2``, reduced over all entries.

    Examples
    --------
    >>> mse_loss([1.0, 2.0], [0.0, 0.0])
    np.float64(2.5)
    """
    p, t, dtype = _regression_inputs(pred, target, reduction)
    return _elementwise_reduce((p - t) ** 2, reduction).astype(dtype)[()]


def mse_loss_grad(
    pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
) -> NDArray[np.floating]:
    """Gradient of :func:`mse_loss` w.r.t. ``pred``: ``2 (pred - target)`` (/ size for mean).

    Examples
    --------
    >>> mse_loss_grad([1.0, 2.0], [0.0, 0.0])
    array([1., 2.])
    """
    p, t, dtype = _regression_inputs(pred, target, reduction)
    grad = 2.0 * (p - t)
    return (grad / p.size if reduction == "mean" else grad).astype(dtype)


def l1_loss(pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean") -> LossValue:
    """Absolute error ``|pred - target|``, reduced over all entries.

    Examples
    --------
    >>> l1_loss([1.0, -2.0], [0.0, 0.0])
    np.float64(1.5)
    """
    p, t, dtype = _regression_inputs(pred, target, reduction)
    return _elementwise_reduce(np.abs(p - t), reduction).astype(dtype)[()]


def l1_loss_grad(
    pred: ArrayLike, target: ArrayLike, *, reduction: str = "mean"
) -> NDArray[np.floating]:
    """Gradient of :func:`l1_loss`: ``sign(pred - target)`` (0 at a tie, as PyTorch).

    Examples
    --------
    >>> l1_loss_grad([1.0, -2.0, 0.0], [0.0, 0.0, 0.0], reduction="sum")
    array([ 1., -1.,  0.])
    """
    p, t, dtype = _regression_inputs(pred, target, reduction)
    grad = np.sign(p - t)
    return (grad / p.size if reduction == "mean" else grad).astype(dtype)


def huber_loss(
    pred: ArrayLike, target: ArrayLike, delta: float = 1.0, *, reduction: str = "mean"
) -> LossValue:
    """Huber loss: ``d**2 / 2`` for ``|d| <= delta``, else ``delta (|d| - delta / 2)``.

    ``d = pred - target``; the two pieces meet with equal value and slope at ``|d| = delta``
    (PyTorch's ``HuberLoss``).

    Examples
    --------
    >>> huber_loss([0.5, 3.0], [0.0, 0.0], reduction="none")
    array([0.125, 2.5  ])
    """
    p, t, dtype = _regression_inputs(pred, target, reduction)
    delta = _check_delta(delta)
    d = np.abs(p - t)
    values = np.where(d <= delta, 0.5 * d**2, delta * (d - 0.5 * delta))
    return _elementwise_reduce(values, reduction).astype(dtype)[()]


def huber_loss_grad(
    pred: ArrayLike, target: ArrayLike, delta: float = 1.0, *, reduction: str = "mean"
) -> NDArray[np.floating]:
    """Gradient of :func:`huber_loss`: ``clip(pred - target, -delta, delta)``.

    Examples
    --------
    >>> huber_loss_grad([0.5, 3.0], [0.0, 0.0], reduction="sum")
    array([0.5, 1. ])
    """
    p, t, dtype = _regression_inputs(pred, target, reduction)
    delta = _check_delta(delta)
    grad = np.clip(p - t, -delta, delta)
    return (grad / p.size if reduction == "mean" else grad).astype(dtype)

"""Proper scoring rules of predicted probabilities: the multiclass Brier score and log-loss.

Both compare each sample's whole probability row with its class (log-loss only through the
probability of the true class); the conventions for ``proba``, ``labels`` and
``sample_weight`` are those of :mod:`softreg.metrics`, which exports these functions.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from softreg._metrics_inputs import check_proba, class_indices, prepare, sample_weights

__all__ = ["brier_score", "log_loss"]


def brier_score(
    y: ArrayLike,
    proba: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Multiclass Brier score (Brier 1950): mean of ``sum_k (p_ik - [y_i = k])^2``, in [0, 2].

    Equals scikit-learn's ``brier_score_loss`` for more than two classes; for two classes it is
    twice the binary score (both columns count).

    Examples
    --------
    >>> import numpy as np
    >>> brier_score([0, 1], np.array([[0.75, 0.25], [0.5, 0.5]]))  # (0.125 + 0.5) / 2
    0.3125
    """
    idx, p, w = prepare(y, proba, labels, sample_weight)
    residual = p.copy()
    residual[np.arange(len(p)), idx] -= 1
    return float(np.average(np.sum(residual**2, axis=1), weights=w))


def log_loss(
    y: ArrayLike,
    proba: ArrayLike | None = None,
    *,
    log_proba: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Mean negative log-likelihood ``-mean_i log p_{i, y_i}`` (natural log).

    Give exactly one of ``proba`` and ``log_proba``; prefer ``log_proba`` (e.g.
    ``model.predict_log_proba(X)``, computed as ``log_softmax``): it stays exact where a
    probability underflows to 0. No clipping: a true class of probability exactly 0 gives
    ``inf``, which is the true value.

    Examples
    --------
    >>> import numpy as np
    >>> round(log_loss([0, 1], np.array([[0.5, 0.5], [0.25, 0.75]])), 6)  # -(ln .5 + ln .75)/2
    0.490415
    >>> log_loss([0], log_proba=np.array([[-1000.0, 0.0]]))  # p = exp(-1000) underflows
    1000.0
    """
    if (proba is None) == (log_proba is None):
        raise ValueError("log_loss needs exactly one of proba and log_proba")
    if log_proba is not None:
        lp = np.asarray(log_proba)
        if lp.ndim != 2 or lp.shape[1] < 2 or lp.dtype.kind != "f":
            raise ValueError(
                f"log_proba must be a float array of shape (n_samples, n_classes >= 2), got "
                f"{lp.dtype} {lp.shape}"
            )
        lp = lp.astype(np.float64, copy=False)
        if np.any(np.isnan(lp)) or np.any(lp > 1e-6):
            raise ValueError("log_proba must be <= 0 and not NaN (log-probabilities)")
        # Checked against the probabilities it implies: rows of exp(log_proba) sum to 1.
        check_proba(np.exp(lp), "exp(log_proba)")
        picked_from = lp
    else:
        assert proba is not None
        p = check_proba(proba)
        with np.errstate(divide="ignore"):
            picked_from = np.log(p)
    idx = class_indices(y, picked_from.shape[1], labels)
    if len(idx) != len(picked_from) or len(idx) == 0:
        raise ValueError(
            f"y has {len(idx)} samples and the probabilities {len(picked_from)} rows; "
            "they must match and be at least 1"
        )
    w = sample_weights(sample_weight, len(idx))
    return float(-np.average(picked_from[np.arange(len(idx)), idx], weights=w))

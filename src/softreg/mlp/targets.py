"""What the network learns from ``y``: class labels (softmax) or an indicator matrix (sigmoids).

Multi-class and multi-label never mix silently: the kind of ``y`` is read once, at the first fit,
and every later ``y`` (``partial_fit``, ``warm_start``) must be of the same kind and labels.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import type_of_target


class Targets(NamedTuple):
    """The output layer a ``y`` calls for.

    ``out_activation`` is ``"softmax"`` (``classes`` are the sorted labels) or ``"logistic"``
    (``classes`` is ``arange(n_labels)`` and ``indicator_dtype`` the dtype ``predict`` returns).
    """

    out_activation: str
    classes: NDArray[Any]
    indicator_dtype: str | None


def as_labels(y: NDArray[Any]) -> NDArray[Any]:
    """Object arrays of strings become 'U' arrays, which `softreg.io` saves without pickle."""
    if y.dtype == object and all(isinstance(v, str) for v in y.ravel()):
        return y.astype(str)
    return y


def ravel_column(y: NDArray[Any], stacklevel: int = 2) -> NDArray[Any]:
    """A column vector ``y`` of shape (n, 1) holds labels: ravel it, with scikit-learn's warning."""
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; y is raveled to shape "
            "(n_samples,). Pass a 2-D 0/1 indicator matrix only for multi-label.",
            DataConversionWarning,
            stacklevel=stacklevel + 1,
        )
        return y.ravel()
    return y


def _kind(y: NDArray[Any]) -> str:
    """``"softmax"`` for 1-D class labels, ``"logistic"`` for a 0/1 indicator matrix."""
    kind = type_of_target(y, input_name="y")
    if kind == "multilabel-indicator":
        return "logistic"
    if kind in ("binary", "multiclass"):
        return "softmax"
    raise ValueError(
        f"Unknown label type: {kind!r}. y must be 1-D class labels (multi-class) or a 2-D 0/1 "
        f"indicator matrix (multi-label, one column per label); got y of shape {y.shape} and "
        f"dtype {y.dtype}"
    )


def read_targets(
    y: NDArray[Any], classes: ArrayLike | None = None, *, require_classes: bool = False
) -> Targets:
    """The `Targets` of a first fit on ``y``; ``classes`` (all labels ever) overrides ``y``'s."""
    if _kind(y) == "logistic":
        return Targets("logistic", np.arange(y.shape[1]), y.dtype.str)
    if classes is None and require_classes:
        raise ValueError(
            "classes must be passed on the first call to partial_fit (every label that will "
            "ever appear in y)"
        )
    labels = as_labels(np.unique(y) if classes is None else np.unique(np.asarray(classes)))
    if len(labels) < 2:
        raise ValueError(
            f"y has one class ({labels.tolist()!r}); a classifier needs at least two classes"
        )
    return Targets("softmax", labels, None)


def encode_targets(y: NDArray[Any], targets: Targets) -> NDArray[Any]:
    """Class indices in ``0..n_classes-1`` (softmax) or a float32 indicator matrix (logistic).

    Raises ValueError if ``y`` is of the other kind, has unseen labels or another label count.
    """
    out_activation = _kind(y)
    if out_activation != targets.out_activation:
        names = {"softmax": "multi-class", "logistic": "multi-label"}
        raise ValueError(
            f"y is {names[out_activation]}, but this model was fitted "
            f"{names[targets.out_activation]}; the two never mix"
        )
    if out_activation == "logistic":
        if y.shape[1] != len(targets.classes):
            raise ValueError(
                f"y has {y.shape[1]} label columns, but this model was fitted with "
                f"{len(targets.classes)}"
            )
        return y.astype(np.float32)
    y = as_labels(y)
    unseen = np.setdiff1d(y, targets.classes)
    if unseen.size:
        raise ValueError(
            f"y contains labels {unseen.tolist()!r} not in classes_ "
            f"{targets.classes.tolist()!r}; pass every label in `classes` on the first call "
            "to partial_fit"
        )
    return np.searchsorted(targets.classes, y)

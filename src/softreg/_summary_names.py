"""How :func:`softreg.stats.summary` names classes, terms and parameters in its tables and errors.

A *term* is a column of the parameters ``theta = [intercept, coef]`` (``"intercept"`` when fitted,
then one name per feature); a *parameter* is one class's term, named ``class <label> / <term>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["class_label", "param_names", "term_names"]

Array = NDArray[Any]


def term_names(
    model: Any, feature_names: list[str] | None, n_features: int, fit_intercept: bool
) -> list[str]:
    """``"intercept"`` (when fitted), then the feature names: given, the model's, or ``x0, ...``."""
    if feature_names is None:
        given = getattr(model, "feature_names_in_", None)
        feature_names = [f"x{j}" for j in range(n_features)] if given is None else list(given)
    names = [str(n) for n in feature_names]
    if len(names) != n_features:
        raise ValueError(
            f"feature_names must have {n_features} names (one per feature), got {len(names)}"
        )
    return (["intercept"] if fit_intercept else []) + names


def param_names(classes: Array, terms: list[str], flat: Array, n_terms: int) -> list[str]:
    """``class <label> / <term>`` for each index ``flat`` into the raveled (class, term) grid."""
    return [f"class {class_label(classes[i // n_terms])} / {terms[i % n_terms]}" for i in flat]


def class_label(value: Any) -> str:
    """A class label as its user wrote it: ``1``, ``'cat'`` (not ``np.int64(1)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)

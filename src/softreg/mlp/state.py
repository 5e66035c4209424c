"""Checks that an `MLPClassifier`'s architecture and (restored) fitted state are consistent.

Used when fitting (``hidden_layer_sizes``) and by :func:`softreg.io.load`, which calls
``MLPClassifier._validate_state`` on a model rebuilt from a file.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "check_hidden_layer_sizes",
    "check_network_state",
    "check_same_hidden_layers",
    "check_temperature",
]


def check_hidden_layer_sizes(hidden_layer_sizes: Any) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of positive ints (an int means one hidden layer).

    Examples
    --------
    >>> check_hidden_layer_sizes(8), check_hidden_layer_sizes([16, 4]), check_hidden_layer_sizes(())
    ((8,), (16, 4), ())
    """
    sizes = (
        (hidden_layer_sizes,)
        if isinstance(hidden_layer_sizes, numbers.Integral)
        else tuple(np.asarray(hidden_layer_sizes, dtype=object).ravel())
    )
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive integers (one per hidden "
                f"layer, () for none), got {hidden_layer_sizes!r}"
            )
    return tuple(int(s) for s in sizes)


def check_same_hidden_layers(coefs: Sequence[NDArray[Any]], sizes: tuple[int, ...]) -> None:
    """Raise ValueError unless the fitted ``coefs`` have hidden layers of widths ``sizes``.

    Continuing a fit (``warm_start``, ``partial_fit``) keeps the architecture.
    """
    fitted = tuple(W.shape[1] for W in coefs[:-1])
    if fitted != sizes:
        raise ValueError(
            f"hidden_layer_sizes={sizes!r} differs from the fitted network's {fitted!r}; "
            "set warm_start=False (or use a new estimator) to change the architecture"
        )


def check_network_state(
    *,
    hidden_layer_sizes: Any,
    out_activation: str,
    coefs: Sequence[NDArray[Any]],
    intercepts: Sequence[NDArray[Any]],
    classes: NDArray[Any],
    n_features_in: int,
    n_outputs: int,
) -> None:
    """Raise ValueError unless the arrays describe one network of the given architecture.

    ``coefs[l]`` must be float32 of shape (n_in, n_out) and ``intercepts[l]`` float32 of shape
    (n_out,), finite, chaining ``(n_features_in, *hidden_layer_sizes, n_outputs)``; ``classes``
    must have ``n_outputs`` entries (at least 2 for a softmax head).
    """
    if out_activation not in ("softmax", "logistic"):
        raise ValueError(f"out_activation_ must be 'softmax' or 'logistic', got {out_activation!r}")
    if len(coefs) != len(intercepts) or not coefs:
        raise ValueError(
            f"coefs_ and intercepts_ must be non-empty lists of equal length, got "
            f"{len(coefs)} and {len(intercepts)}"
        )
    sizes = check_hidden_layer_sizes(hidden_layer_sizes)
    expected = (int(n_features_in), *sizes, int(n_outputs))
    for layer, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        shape = (expected[layer], expected[layer + 1]) if layer + 1 < len(expected) else None
        if W.shape != shape or b.shape != (W.shape[1],):
            raise ValueError(
                f"layer {layer}: coefs_ {W.shape} / intercepts_ {b.shape} do not match the "
                f"architecture {expected} (n_features_in_, *hidden_layer_sizes, n_outputs_)"
            )
        if W.dtype != np.float32 or b.dtype != np.float32:
            raise ValueError(f"layer {layer}: parameters must be float32, got {W.dtype}/{b.dtype}")
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise ValueError(f"layer {layer}: parameters contain NaN or inf")
    if len(expected) - 1 != len(coefs):
        raise ValueError(
            f"{len(coefs)} layers stored, architecture {expected} needs {len(expected) - 1}"
        )
    if len(classes) != n_outputs or (out_activation == "softmax" and len(classes) < 2):
        raise ValueError(f"classes_ has {len(classes)} entries for n_outputs_={n_outputs}")


def check_temperature(out_activation: str, temperature: Any) -> None:
    """Raise ValueError unless ``temperature`` (an optional ``temperature_``, None if absent) is
    a finite float > 0 on a softmax head.

    ``TemperatureScaling.calibrated_estimator`` sets it; the softmax head divides its logits by it.
    """
    if temperature is not None and not (
        out_activation == "softmax"
        and isinstance(temperature, (float, int))
        and np.isfinite(temperature)
        and temperature > 0
    ):
        raise ValueError(
            f"temperature_ must be a finite float > 0 on a softmax head, got {temperature!r}"
        )

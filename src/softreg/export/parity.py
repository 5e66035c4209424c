"""Parity of an exported ONNX model with the softreg model it came from, run in onnxruntime.

The reference is the model's own prediction on the same inputs:

* ``dtype="float32"``: ``model.predict_proba`` on the features exactly as ``predict`` gets them
  (``input * input_scale`` in float32, as ``softreg.cli`` scales pixels);
* ``dtype="float64"``: the same maths in float64 (``predict_proba`` of a copy of the model with
  float64 parameters for ``SoftmaxRegression``; the float64 forward pass of the network for
  ``MLPClassifier``, whose ``predict_proba`` always runs in float32), since a float32 model's
  own rounding (~1e-7) would hide any export error at the 1e-12 level.

Passing means ``max |p_onnx - p_ref| <= tol`` (1e-5 for float32, 1e-12 for float64) and identical
labels except where the reference's top two probabilities lie within ``tol`` of each other (a
near-tie that rounding may break either way; for multi-label, a probability within ``tol`` of
0.5).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg.functional import sigmoid, softmax

__all__ = ["TOLERANCE", "ParityError", "check_parity", "reference_proba", "run_onnx"]

#: max |Δp| allowed, per dtype of the export.
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


class ParityError(AssertionError):
    """The exported graph does not reproduce the model's predictions (nothing is written)."""


def _runtime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            "the parity check runs the export in onnxruntime: pip install 'softreg[onnx]' "
            "(or export with check=False)"
        ) from exc
    return onnxruntime


def run_onnx(model_bytes: bytes, X: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """``(label, probabilities)`` of a serialized ONNX model on ``X``, in onnxruntime (CPU)."""
    ort = _runtime()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings on stderr
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {"input": X})
    return np.asarray(label), np.asarray(proba)


def reference_proba(model: Any, X: NDArray[Any], input_scale: float, dtype: str) -> NDArray[Any]:
    """The model's probabilities on raw inputs ``X`` scaled by ``input_scale``, in ``dtype``."""
    from softreg.mlp import MLPClassifier
    from softreg.mlp.layers import predict_logits

    kind = np.dtype(dtype)
    features = np.asarray(X).astype(kind)
    if input_scale != 1.0:
        features = features * kind.type(input_scale)
    if kind == np.float32:
        return np.asarray(model.predict_proba(features), dtype=np.float64)
    if isinstance(model, MLPClassifier):
        params = tuple(
            np.asarray(a, dtype=np.float64)
            for pair in zip(model.coefs_, model.intercepts_, strict=True)
            for a in pair
        )
        logits = predict_logits(params, features, model.activation)
        if model.out_activation_ == "logistic":
            return np.asarray(sigmoid(logits))
        return np.asarray(softmax(logits, axis=1))
    wide = copy.deepcopy(model)
    wide.coef_ = np.asarray(model.coef_, dtype=np.float64)
    wide.intercept_ = np.asarray(model.intercept_, dtype=np.float64)
    return np.asarray(wide.predict_proba(features))


def check_parity(
    model: Any,
    model_bytes: bytes,
    X: NDArray[Any],
    *,
    input_scale: float,
    dtype: str,
    input_dtype: str,
    data: str,
) -> dict[str, Any]:
    """Run the export on ``X`` and compare with the model; the JSON-able record, or ParityError.

    Parameters
    ----------
    model : fitted SoftmaxRegression or MLPClassifier
    model_bytes : bytes
        The serialized ONNX model.
    X : ndarray of shape (n_samples, n_features)
        Inputs as the export takes them (before ``input_scale``).
    input_scale, dtype, input_dtype
        As given to :func:`softreg.export_onnx`.
    data : str
        What ``X`` is, for the record (e.g. ``"fashion-mnist test split"``).

    Returns
    -------
    dict
        ``dtype``, ``data``, ``n_samples``, ``max_abs_diff`` (of the probabilities), ``tolerance``,
        ``label_mismatches`` (all), ``near_ties`` (mismatches excused as near-ties), ``passed``.
    """
    tol = TOLERANCE[dtype]
    X_in = np.asarray(X).astype(input_dtype)
    label, proba = run_onnx(model_bytes, X_in)
    ref = reference_proba(model, X_in, input_scale, dtype)
    diff = float(np.max(np.abs(proba.astype(np.float64) - ref))) if ref.size else 0.0
    classes = np.asarray(model.classes_)
    if getattr(model, "out_activation_", "softmax") == "logistic":
        expected = (ref > 0.5).astype(np.int64)
        wrong = label != expected
        tie = np.abs(ref - 0.5) <= tol
        mismatches, near = int(wrong.sum()), int((wrong & tie).sum())
    else:
        expected = classes[np.argmax(ref, axis=1)]
        got = label.astype(classes.dtype) if classes.dtype.kind == "U" else label
        wrong = got != expected
        top2 = np.sort(ref, axis=1)[:, -2:]
        tie = (top2[:, 1] - top2[:, 0]) <= tol
        mismatches, near = int(wrong.sum()), int((wrong & tie).sum())
    record = {
        "dtype": dtype,
        "data": data,
        "n_samples": len(X_in),
        "max_abs_diff": diff,
        "tolerance": tol,
        "label_mismatches": mismatches,
        "near_ties": near,
        "passed": bool(diff <= tol and mismatches == near),
    }
    if not record["passed"]:
        raise ParityError(
            f"ONNX export does not match the model on {len(X_in)} inputs ({data}): "
            f"max |Δp| = {diff:.3g} (allowed {tol:g}), {mismatches - near} label(s) differ "
            "outside near-ties; nothing was written"
        )
    return record

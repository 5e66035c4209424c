"""The ONNX graph of a fitted softreg classifier, built with ``onnx.helper`` alone.

Conventions
-----------
* One input, ``input``, of shape ``("batch", n_features)`` and type ``input_dtype``; a ``Cast`` to
  the graph's ``dtype`` follows when the two differ (e.g. raw ``uint8`` pixels).
* ``input_scale`` ``s`` is folded into the first layer's weights, ``(s x) W = x (s W)``, so the
  graph takes the inputs that the model's ``predict`` takes *before* the scaling (raw pixels when
  ``s = 1 / pixel_max``) and no multiplication of the input happens at run time.
* Two outputs, plain tensors with a symbolic batch dimension (no ``ZipMap``, no sequence of maps):

  - ``probabilities``: ``(batch, n_classes)`` of ``dtype``: ``Softmax`` of the logits (one
    ``Sigmoid`` per label for a multi-label MLP);
  - ``label``: ``(batch,)`` holding ``classes_[argmax(logits)]`` (``ArgMax`` then ``Gather`` from
    a constant tensor of the classes: int64, double or string; ``ArgMax`` alone when the classes
    are ``0..n_classes-1``), or for a multi-label MLP the
    ``(batch, n_labels)`` int64 indicator ``logits > 0``, which is ``probabilities > 0.5``
    without the rounding of the sigmoid (as ``MLPClassifier.predict`` decides).

* ``SoftmaxRegression``: ``MatMul(x, (s W)^T) + b -> Softmax``; ``MLPClassifier``: one ``Gemm``
  per layer, ``Relu``/``Tanh``/``Sigmoid`` between them (nothing for ``"identity"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "build_graph", "check_estimator", "check_opset"]

#: Opset written by default: supported by every onnxruntime since 1.12 (2022) and by
#: onnxruntime-web/-mobile, newer than every operator definition the graph relies on.
DEFAULT_OPSET = 17
#: Oldest opset whose definitions the graph is written against, per operator (the version that
#: introduced the semantics used here). Softmax before 13 flattened its input to 2-D around
#: ``axis`` (same numbers for 2-D, different definition) and ``Gather``/``ArgMax``/``Cast``/
#: ``Greater``/``Gemm``/``MatMul`` changed types or broadcasting up to 13.
OP_MIN_OPSET = {
    "Cast": 13,
    "MatMul": 13,
    "Add": 13,
    "Gemm": 13,
    "Relu": 13,
    "Tanh": 13,
    "Sigmoid": 13,
    "Softmax": 13,
    "ArgMax": 13,
    "Gather": 13,
    "Greater": 13,
}
MIN_OPSET = max(OP_MIN_OPSET.values())

_ACTIVATION_OPS = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "identity": None}
_FLOAT_DTYPES = ("float32", "float64")
_INPUT_DTYPES = ("float32", "float64", "uint8")


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "ONNX export needs the onnx package: pip install 'softreg[onnx]'"
        ) from exc
    return onnx


def check_opset(opset: int, ops: set[str]) -> None:
    """Raise ValueError unless every op in ``ops`` has the semantics used here at ``opset``."""
    onnx = _onnx()
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"opset must be an int, got {opset!r}")
    if opset > newest:
        raise ValueError(
            f"opset={opset} is newer than the installed onnx {onnx.__version__} knows "
            f"(at most {newest})"
        )
    too_new = sorted(op for op in ops if OP_MIN_OPSET[op] > opset)
    if too_new:
        raise ValueError(
            f"opset={opset} is too old for the operators this model uses: "
            + ", ".join(f"{op} needs opset >= {OP_MIN_OPSET[op]}" for op in too_new)
        )


def _classes_tensor(classes: NDArray[Any]) -> tuple[Any, int]:
    """The constant tensor that ``Gather`` maps class indices through, and its element type."""
    onnx = _onnx()
    kind = classes.dtype.kind
    if kind in "iub":
        values = classes.astype(np.int64)
        if not np.array_equal(values, classes):
            raise ValueError(f"classes_ {classes.tolist()!r} do not fit in int64")
        elem = onnx.TensorProto.INT64
    elif kind == "f":
        values, elem = classes.astype(np.float64), onnx.TensorProto.DOUBLE
    elif kind == "U":
        values, elem = classes.astype(object), onnx.TensorProto.STRING
    else:
        raise TypeError(
            f"classes_ of dtype {classes.dtype} cannot be ONNX labels; expected integer, float "
            "or string labels"
        )
    tensor = onnx.helper.make_tensor(
        "classes",
        elem,
        [len(values)],
        [str(v).encode() for v in values] if elem == onnx.TensorProto.STRING else values.tolist(),
    )
    return tensor, elem


def check_estimator(model: Any) -> None:
    """Raise TypeError unless ``model`` is an estimator this module can export."""
    from softreg.mlp import MLPClassifier
    from softreg.softmax_regression import SoftmaxRegression

    if not isinstance(model, (SoftmaxRegression, MLPClassifier)):
        raise TypeError(
            f"export_onnx supports softreg's SoftmaxRegression and MLPClassifier, got "
            f"{type(model).__module__}.{type(model).__name__}"
        )


def _layers(model: Any) -> tuple[list[tuple[NDArray[Any], NDArray[Any]]], str | None, str]:
    """``[(W_in_out, b), ...]``, the hidden activation and the head of a fitted model."""
    from softreg.softmax_regression import SoftmaxRegression

    check_estimator(model)
    if isinstance(model, SoftmaxRegression):
        coef = np.asarray(model.coef_, dtype=np.float64)
        if model.input_scale is not None:
            coef = coef * float(model.input_scale)
        return [(coef.T, np.asarray(model.intercept_, dtype=np.float64))], None, "softmax"
    layers = [
        (np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
        for W, b in zip(model.coefs_, model.intercepts_, strict=True)
    ]
    return layers, model.activation, model.out_activation_


def build_graph(
    model: Any,
    *,
    dtype: str,
    input_dtype: str,
    input_scale: float,
    opset: int,
) -> Any:
    """The ``onnx.ModelProto`` of fitted ``model`` (not yet checked; no metadata).

    Parameters
    ----------
    model : SoftmaxRegression or MLPClassifier, fitted
    dtype : {"float32", "float64"}
        Type of the weights, the arithmetic and ``probabilities``.
    input_dtype : {"float32", "float64", "uint8"}
        Type of ``input``.
    input_scale : float > 0
        Extra factor on the input, folded into the first layer (the model's own
        ``input_scale``, if any, is folded too).
    opset : int
        ``ai.onnx`` opset version written.
    """
    onnx = _onnx()
    helper, TensorProto = onnx.helper, onnx.TensorProto
    if dtype not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be one of {_FLOAT_DTYPES}, got {dtype!r}")
    if input_dtype not in _INPUT_DTYPES:
        raise ValueError(f"input_dtype must be one of {_INPUT_DTYPES}, got {input_dtype!r}")
    layers, activation, head = _layers(model)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    in_elem = helper.np_dtype_to_tensor_dtype(np.dtype(input_dtype))
    n_features = layers[0][0].shape[0]
    nodes: list[Any] = []
    inits: list[Any] = []
    ops: set[str] = set()

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        ops.add(op)
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def const(name: str, value: NDArray[Any]) -> str:
        inits.append(onnx.numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name))
        return name

    current = "input"
    if input_dtype != dtype:
        current = node("Cast", [current], "input_cast", to=elem)
    act_op = _ACTIVATION_OPS[activation] if activation is not None else None
    for k, (W, b) in enumerate(layers):
        if k == 0:
            W = W * float(input_scale)  # (s x) W = x (s W): the scaling costs nothing at run time
        last = k == len(layers) - 1
        name = "logits" if last else f"hidden{k}_pre"
        if len(layers) == 1:
            prod = node("MatMul", [current, const("coef", W)], "scores")
            current = node("Add", [prod, const("intercept", b)], name)
        else:
            current = node("Gemm", [current, const(f"W{k}", W), const(f"b{k}", b)], name)
        if not last and act_op is not None:
            current = node(act_op, [current], f"hidden{k}")

    classes = np.asarray(model.classes_)
    n_out = layers[-1][0].shape[1]
    if head == "logistic":  # multi-label: independent sigmoids, label = logit > 0
        node("Sigmoid", ["logits"], "probabilities")
        zero = const("zero", np.zeros((), dtype=dtype))
        positive = node("Greater", ["logits", zero], "positive")
        node("Cast", [positive], "label", to=TensorProto.INT64)
        label_type = helper.make_tensor_value_info("label", TensorProto.INT64, ["batch", n_out])
    else:
        node("Softmax", ["logits"], "probabilities", axis=1)
        if classes.dtype.kind in "iu" and np.array_equal(classes, np.arange(len(classes))):
            # Labels 0..k-1 are their own indices: ArgMax's int64 output is the label.
            node("ArgMax", ["logits"], "label", axis=1, keepdims=0)
            label_elem = TensorProto.INT64
        else:
            index = node("ArgMax", ["logits"], "label_index", axis=1, keepdims=0)
            table, label_elem = _classes_tensor(classes)
            inits.append(table)
            node("Gather", ["classes", index], "label", axis=0)
        label_type = helper.make_tensor_value_info("label", label_elem, ["batch"])
    check_opset(opset, ops)

    graph = helper.make_graph(
        nodes,
        f"softreg_{type(model).__name__}",
        [helper.make_tensor_value_info("input", in_elem, ["batch", n_features])],
        [label_type, helper.make_tensor_value_info("probabilities", elem, ["batch", n_out])],
        initializer=inits,
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", int(opset))],
        producer_name="softreg",
        ir_version=_ir_version(opset),
    )


def _ir_version(opset: int) -> int:
    """The IR version that goes with ``opset`` (older runtimes reject newer IR versions)."""
    onnx = _onnx()
    table = onnx.helper.VERSION_TABLE  # (release, ir_version, ai.onnx opset, ...)
    matches = [row[1] for row in table if row[2] == opset]
    return min(matches) if matches else onnx.IR_VERSION

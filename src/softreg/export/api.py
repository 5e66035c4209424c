"""`export_onnx`: write a fitted softreg classifier as a checked ONNX file, parity proven first."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from softreg._atomic import atomic_path
from softreg.export.onnx_graph import DEFAULT_OPSET, _onnx, build_graph, check_estimator
from softreg.export.parity import check_parity

__all__ = ["export_onnx", "read_metadata"]

#: Rows of random inputs the parity check uses when no ``check_data`` is given.
N_RANDOM_CHECK = 1000

#: Most entries of the dense matrix the parity check runs (2**24: 128 MB in float64). A wider
#: model (text, one-hot) is checked on fewer rows: ``max(16, MAX_CHECK_ENTRIES // n_features)``.
MAX_CHECK_ENTRIES = 1 << 24

#: Above this many features the random check inputs are sparse rows with
#: ``RANDOM_ENTRIES_PER_ROW`` non-zero entries, as text and one-hot rows are. Dense standard
#: normal rows over 130107 features (a 20-newsgroups-shaped model) have logits in the
#: hundreds, whose float32 rounding alone moved probabilities by 2e-5 > the 1e-5 allowed.
WIDE_FEATURES = 4096
RANDOM_ENTRIES_PER_ROW = 64


def _runtime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def export_onnx(
    model: Any,
    path: str | os.PathLike[str],
    *,
    dtype: str = "float32",
    opset: int | None = None,
    input_dtype: str | None = None,
    input_scale: float | None = None,
    check: bool | None = None,
    check_data: ArrayLike | None = None,
    check_data_name: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write fitted ``model`` to ``path`` as an ONNX model, after checking it.

    ``SoftmaxRegression`` becomes ``MatMul + Add + Softmax`` (labels by ``ArgMax`` and
    ``Gather``), ``MLPClassifier`` one ``Gemm`` per layer with ``Relu``/``Tanh``/``Sigmoid``
    between them and a softmax head (or sigmoids, labels ``logit > 0``, for multi-label). The
    graph has one input ``input`` of shape (batch, n_features) and two plain tensor outputs,
    ``label`` (batch,) in the model's classes and ``probabilities`` (batch, n_classes); see
    :mod:`softreg.export.onnx_graph`. It is built with ``onnx.helper`` alone and checked with
    ``onnx.checker.check_model(full_check=True)``. The file is written atomically.

    Parameters
    ----------
    model : SoftmaxRegression or MLPClassifier, fitted
    path : path-like
        Output file; its directory must exist.
    dtype : {"float32", "float64"}, default="float32"
        Weights, arithmetic and ``probabilities``.
    opset : int or None, default=None
        ``ai.onnx`` opset; None is `DEFAULT_OPSET` (17). Older than 13 raises ValueError.
    input_dtype : {"float32", "float64", "uint8"} or None, default=None
        Type of ``input`` (None: ``dtype``); a ``Cast`` follows when it differs, so raw uint8
        pixels go in directly.
    input_scale : float > 0 or None, default=None
        Factor applied to the input before the model (e.g. ``1 / 255`` for a model fitted on
        ``pixels / 255``), folded into the first layer's weights. A ``SoftmaxRegression``'s own
        ``input_scale`` is always folded in as well.
    check : bool or None, default=None
        Run the export in onnxruntime against the model (see :mod:`softreg.export.parity`) and
        write nothing if it fails. None: when onnxruntime is installed.
    check_data : array-like or scipy.sparse matrix of shape (n_samples, n_features) or None
        Inputs (as the export takes them) for the check; a sparse matrix is densified, its
        first ``max(16, 2**24 // n_features)`` rows at most. None draws 1000 random rows (that
        many at most, too): integers in ``[0, 1/input_scale]`` when an input scale is set,
        else standard normal; above 4096 features each row has 64 such entries, the rest 0.
    check_data_name : str or None
        What ``check_data`` is, for the record.
    metadata : dict or None
        Extra ``metadata_props`` (values JSON-encoded unless already str), e.g.
        ``{"class_names": [...], "preprocessing": {...}}``.

    Returns
    -------
    dict
        ``path``, ``opset``, ``dtype``, ``input_dtype``, ``input_scale``, ``n_bytes`` and
        ``parity`` (the record of :func:`softreg.export.parity.check_parity`, or None).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from softreg import SoftmaxRegression, export_onnx
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.integers(0, 256, size=(60, 4)), np.repeat([0, 1, 2], 20)
    >>> clf = SoftmaxRegression(input_scale=1 / 255).fit(X, y)
    >>> out = export_onnx(clf, tempfile.mkdtemp() + "/clf.onnx", input_dtype="uint8")
    >>> out["parity"]["passed"], out["parity"]["max_abs_diff"] <= 1e-5
    (True, True)
    """
    onnx = _onnx()
    check_estimator(model)
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise NotFittedError(
            f"export_onnx: this {type(model).__name__} is not fitted yet; call fit first"
        ) from None
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"export_onnx: cannot write {path}: directory {path.parent} does not exist"
        )
    if input_scale is not None and not (np.isfinite(input_scale) and input_scale > 0):
        raise ValueError(f"input_scale must be a finite number > 0, got {input_scale!r}")
    extra_scale = 1.0 if input_scale is None else float(input_scale)
    opset = DEFAULT_OPSET if opset is None else opset
    input_dtype = dtype if input_dtype is None else input_dtype
    proto = build_graph(
        model, dtype=dtype, input_dtype=input_dtype, input_scale=extra_scale, opset=opset
    )
    total_scale = extra_scale * float(getattr(model, "input_scale", None) or 1.0)
    props = {
        "softreg.version": _version(),
        "softreg.estimator": type(model).__name__,
        "softreg.classes": json.dumps(np.asarray(model.classes_).tolist()),
        "softreg.head": getattr(model, "out_activation_", "softmax"),
        "softreg.input": json.dumps(
            {"dtype": input_dtype, "scale_folded": total_scale, "n_features": model.n_features_in_}
        ),
    }
    for key, value in (metadata or {}).items():
        props[f"softreg.{key}"] = value if isinstance(value, str) else json.dumps(value)
    onnx.helper.set_model_props(proto, props)
    proto.doc_string = (
        f"softreg {type(model).__name__}: input (batch, {model.n_features_in_}) {input_dtype}"
        f" x {total_scale:g} folded in; outputs label, probabilities ({dtype})"
    )
    onnx.checker.check_model(proto, full_check=True)

    if check is None:
        check = _runtime_available()
    parity = None
    if check:
        X, name = _check_inputs(model, check_data, check_data_name, total_scale, input_dtype)
        parity = check_parity(
            model,
            proto.SerializeToString(),
            X,
            input_scale=extra_scale,
            dtype=dtype,
            input_dtype=input_dtype,
            data=name,
        )
        onnx.helper.set_model_props(proto, {**props, "softreg.parity": json.dumps(parity)})
    data = proto.SerializeToString()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return {
        "path": str(path),
        "opset": int(opset),
        "dtype": dtype,
        "input_dtype": input_dtype,
        "input_scale": total_scale,
        "n_bytes": len(data),
        "parity": parity,
    }


def _version() -> str:
    from softreg._version import __version__

    return str(__version__)


def _check_inputs(
    model: Any, data: Any, name: str | None, scale: float, input_dtype: str
) -> tuple[np.ndarray, str]:
    """The parity check's inputs as a dense array, and what they are, for the record.

    Sparse ``data`` is densified, at most ``MAX_CHECK_ENTRIES // n_features`` rows of it (the
    first ones; the record says how many of how many).
    """
    d = int(model.n_features_in_)
    max_rows = max(16, MAX_CHECK_ENTRIES // d)
    if data is not None and sp.issparse(data):
        if len(data.shape) != 2 or data.shape[1] != d or data.shape[0] == 0:
            raise ValueError(
                f"check_data must have shape (n_samples >= 1, {d}), got a sparse matrix of "
                f"shape {data.shape}"
            )
        n = int(data.shape[0])
        rows = min(n, max_rows)
        X = sp.csr_matrix(data)[:rows].toarray()
        what = f"{rows} given sparse inputs, densified" + (
            f" (the first {rows} of {n}: at most {MAX_CHECK_ENTRIES} entries)" if rows < n else ""
        )
        return X, name or what
    if data is not None:
        X = np.asarray(data)
        if X.ndim != 2 or X.shape[1] != d or len(X) == 0:
            raise ValueError(f"check_data must have shape (n_samples >= 1, {d}), got {X.shape}")
        return X, name or f"{len(X)} given inputs"
    rng = np.random.default_rng(0)
    rows = min(N_RANDOM_CHECK, max_rows)
    if scale != 1.0 or input_dtype == "uint8":
        high = round(1.0 / scale) if scale != 1.0 else 255
        high = min(high, 255) if input_dtype == "uint8" else high

        def draw(size: Any) -> np.ndarray:
            return rng.integers(0, high + 1, size=size)

        values = f"integer inputs in [0, {high}]"
    else:

        def draw(size: Any) -> np.ndarray:
            return rng.standard_normal(size)

        values = "standard normal inputs"
    if d <= WIDE_FEATURES:
        return draw((rows, d)), f"{rows} random {values}"
    X = np.zeros((rows, d), dtype=np.float64 if scale == 1.0 and input_dtype != "uint8" else int)
    for row in X:
        row[rng.choice(d, RANDOM_ENTRIES_PER_ROW, replace=False)] = draw(RANDOM_ENTRIES_PER_ROW)
    return X, (
        f"{rows} random sparse rows of {values} ({RANDOM_ENTRIES_PER_ROW} non-zero of {d} "
        "features each)"
    )


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``softreg.*`` metadata of an exported file, JSON values decoded (key prefix dropped).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from softreg import SoftmaxRegression, export_onnx
    >>> X, y = np.eye(3), np.array(["a", "b", "c"])
    >>> path = tempfile.mkdtemp() + "/m.onnx"
    >>> _ = export_onnx(SoftmaxRegression().fit(X, y), path, check=False)
    >>> read_metadata(path)["classes"]
    ['a', 'b', 'c']
    """
    onnx = _onnx()
    try:
        proto = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as exc:
        raise ValueError(f"{path}: not a readable ONNX model ({exc})") from None
    found: dict[str, Any] = {}
    for prop in proto.metadata_props:
        if not prop.key.startswith("softreg."):
            continue
        try:
            found[prop.key[len("softreg.") :]] = json.loads(prop.value)
        except json.JSONDecodeError:
            found[prop.key[len("softreg.") :]] = prop.value
    if "estimator" not in found:
        raise ValueError(f"{path}: an ONNX model, but not one exported by softreg")
    return found

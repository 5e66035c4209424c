"""`softreg.export_onnx`: the graph, its parity with the model in onnxruntime, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from softreg import MLPClassifier, SoftmaxRegression, export_onnx  # noqa: E402
from softreg.datasets import load  # noqa: E402
from softreg.export import ParityError, read_metadata  # noqa: E402
from softreg.export import parity as parity_module  # noqa: E402


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load("digits")
    return images.reshape(len(images), -1), labels  # uint8 pixels 0..16


@pytest.fixture(scope="module")
def softmax_model(digits) -> SoftmaxRegression:
    X, y = digits
    return SoftmaxRegression(input_scale=1 / 16, random_state=0).fit(X, y)


def _run(path: Path, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"], {"input": X})
    return label, proba


def _ops(path: Path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("input_dtype", [None, "uint8"])
def test_softmax_regression_matches_predict_on_raw_pixels(
    softmax_model, digits, tmp_path, dtype, input_dtype
) -> None:
    X, _ = digits
    path = tmp_path / "m.onnx"
    out = export_onnx(softmax_model, path, dtype=dtype, input_dtype=input_dtype, check_data=X)
    onnx.checker.check_model(str(path), full_check=True)
    kind = input_dtype or dtype
    label, proba = _run(path, X.astype(kind))
    # Independent of the parity module: compare with the estimator's own answers on raw pixels.
    tol = {"float32": 1e-5, "float64": 1e-12}[dtype]
    reference = softmax_model.predict_proba(X.astype(dtype))
    assert proba.dtype == np.dtype(dtype)
    assert np.max(np.abs(proba - reference)) <= tol
    np.testing.assert_array_equal(label, softmax_model.predict(X))
    assert out["parity"]["passed"]
    assert out["parity"]["max_abs_diff"] <= tol
    # Classes 0..9 are their own indices: no Gather.
    assert _ops(path) == [*(["Cast"] if input_dtype else []), "MatMul", "Add", "Softmax", "ArgMax"]


def test_graph_is_plain_tensors_with_symbolic_batch(softmax_model, tmp_path) -> None:
    path = tmp_path / "m.onnx"
    export_onnx(softmax_model, path, check=False)
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["input"]
    assert [o.name for o in graph.output] == ["label", "probabilities"]
    for value in [*graph.input, *graph.output]:
        assert value.type.HasField("tensor_type")  # no sequence of maps (ZipMap)
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert "ZipMap" not in _ops(path)
    assert onnx.load(str(path)).opset_import[0].version == 17


def test_metadata_records_classes_names_preprocessing_and_version(softmax_model, tmp_path) -> None:
    import softreg

    path = tmp_path / "m.onnx"
    names = [f"digit {k}" for k in range(10)]
    export_onnx(
        softmax_model,
        path,
        metadata={"class_names": names, "preprocessing": {"pixel_max": 16}},
    )
    meta = read_metadata(path)
    assert meta["classes"] == list(range(10))
    assert meta["class_names"] == names
    assert meta["preprocessing"] == {"pixel_max": 16}
    assert meta["version"] == softreg.__version__
    assert meta["estimator"] == "SoftmaxRegression"
    assert meta["input"]["scale_folded"] == pytest.approx(1 / 16)
    assert meta["parity"]["passed"] is True


@pytest.mark.parametrize(
    "labels",
    [np.array(["cat", "dog", "emu"]), np.array([-3, 7, 40]), np.array([1.0, 2.0, 4.0])],
    ids=["str", "int", "float"],
)
def test_labels_map_back_to_the_classes(tmp_path, labels) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 5))
    y = labels[np.argmax(X[:, :3], axis=1)]
    model = SoftmaxRegression().fit(X, y)
    path = tmp_path / "m.onnx"
    export_onnx(model, path, dtype="float64", check_data=X)
    assert "Gather" in _ops(path)
    label, _ = _run(path, X)
    got = label.astype(str) if labels.dtype.kind == "U" else label
    np.testing.assert_array_equal(got, model.predict(X))


def test_binary_softmax_regression(tmp_path) -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 3)).astype(np.float32)
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=80) > 0, "yes", "no")
    model = SoftmaxRegression().fit(X, y)
    path = tmp_path / "m.onnx"
    export_onnx(model, path, check_data=X)
    label, proba = _run(path, X)
    assert proba.shape == (80, 2)
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(label.astype(str), model.predict(X))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "identity"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mlp_matches_predict(digits, tmp_path, activation, dtype) -> None:
    X, y = digits
    model = MLPClassifier((12, 8), activation=activation, max_epochs=3, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_epochs=3 reached"):
        model.fit(X / np.float32(16), y)
    path = tmp_path / "m.onnx"
    out = export_onnx(model, path, dtype=dtype, input_scale=1 / 16, check_data=X)
    act_op = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "identity": None}[activation]
    ops = _ops(path)
    assert ops.count("Gemm") == 3
    hidden_ops = [op for op in ops if op in ("Relu", "Tanh", "Sigmoid")]
    assert hidden_ops == ([act_op] * 2 if act_op else [])
    label, proba = _run(path, X.astype(dtype))
    features = (X.astype(np.float32) * np.float32(1 / 16)).astype(np.float32)
    assert np.max(np.abs(proba - model.predict_proba(features))) <= 1e-5
    assert np.mean(label == model.predict(features)) >= 0.999
    assert out["parity"]["max_abs_diff"] <= {"float32": 1e-5, "float64": 1e-12}[dtype]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multilabel_mlp_has_sigmoids_thresholded_at_half(tmp_path, dtype) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0, X[:, 3] > 0.5], axis=1).astype(int)
    model = MLPClassifier((8,), learning_rate=0.01, max_epochs=40, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_epochs=40 reached"):
        model.fit(X, Y)
    path = tmp_path / "m.onnx"
    export_onnx(model, path, dtype=dtype, check_data=X)
    assert "Sigmoid" in _ops(path)
    assert "Softmax" not in _ops(path)
    label, proba = _run(path, X.astype(dtype))
    assert label.shape == (200, 3)
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(label, model.predict(X))


@settings(max_examples=15, deadline=None)
@given(
    n_classes=st.integers(2, 5),
    n_features=st.integers(1, 6),
    scale=st.floats(1e-3, 1e3),
    seed=st.integers(0, 2**16),
)
def test_float64_parity_for_any_weights(tmp_path_factory, n_classes, n_features, scale, seed):
    """Any finite weights, any scale: the float64 export reproduces predict_proba to 1e-12."""
    rng = np.random.default_rng(seed)
    model = SoftmaxRegression()
    model.classes_ = np.arange(n_classes)
    model.coef_ = rng.normal(scale=3, size=(n_classes, n_features))
    model.intercept_ = rng.normal(size=n_classes)
    model.n_features_in_ = n_features
    model.n_iter_, model.history_ = 0, []
    X = rng.normal(size=(50, n_features))
    path = tmp_path_factory.mktemp("h") / "m.onnx"
    out = export_onnx(model, path, dtype="float64", input_scale=scale, check_data=X)
    _, proba = _run(path, X)
    np.testing.assert_allclose(proba, model.predict_proba(X * scale), rtol=0, atol=1e-12)
    assert out["parity"]["passed"]


def test_failed_parity_writes_nothing(softmax_model, digits, tmp_path, monkeypatch) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    real = parity_module.run_onnx

    def off_by_a_little(model_bytes, X):
        label, proba = real(model_bytes, X)
        return label, proba + np.float32(1e-4)

    monkeypatch.setattr(parity_module, "run_onnx", off_by_a_little)
    with pytest.raises(ParityError, match=r"max \|Δp\| = .* nothing was written"):
        export_onnx(softmax_model, path, check_data=digits[0])
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_random_check_inputs_when_no_data(softmax_model, tmp_path) -> None:
    out = export_onnx(softmax_model, tmp_path / "m.onnx")
    assert out["parity"]["data"] == "1000 random integer inputs in [0, 16]"
    assert out["parity"]["n_samples"] == 1000


def test_bad_input_gets_clear_errors(softmax_model, digits, tmp_path) -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        export_onnx(SoftmaxRegression(), tmp_path / "m.onnx")
    with pytest.raises(NotFittedError, match="not fitted"):
        export_onnx(MLPClassifier(), tmp_path / "m.onnx")
    fitted = LogisticRegression(max_iter=5000).fit(digits[0] / 16, digits[1])
    with pytest.raises(TypeError, match=r"SoftmaxRegression and MLPClassifier, got .*Logistic"):
        export_onnx(fitted, tmp_path / "m.onnx")
    with pytest.raises(FileNotFoundError, match="missing"):
        export_onnx(softmax_model, tmp_path / "missing" / "m.onnx")
    with pytest.raises(ValueError, match=r"opset=12 is too old.*Softmax needs opset >= 13"):
        export_onnx(softmax_model, tmp_path / "m.onnx", opset=12)
    with pytest.raises(ValueError, match="newer than the installed onnx"):
        export_onnx(softmax_model, tmp_path / "m.onnx", opset=10_000)
    with pytest.raises(ValueError, match="dtype must be one of"):
        export_onnx(softmax_model, tmp_path / "m.onnx", dtype="float16")
    with pytest.raises(ValueError, match="input_scale must be"):
        export_onnx(softmax_model, tmp_path / "m.onnx", input_scale=-1.0)
    with pytest.raises(ValueError, match=r"check_data must have shape \(n_samples >= 1, 64\)"):
        export_onnx(softmax_model, tmp_path / "m.onnx", check_data=np.zeros((3, 5)))
    assert list(tmp_path.iterdir()) == []


def test_read_metadata_refuses_foreign_files(tmp_path) -> None:
    (tmp_path / "x.onnx").write_bytes(b"not onnx at all")
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        read_metadata(tmp_path / "x.onnx")
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    onnx.save(onnx.helper.make_model(graph), str(tmp_path / "y.onnx"))
    with pytest.raises(ValueError, match="not one exported by softreg"):
        read_metadata(tmp_path / "y.onnx")


def test_parity_record_is_json(softmax_model, tmp_path) -> None:
    out = export_onnx(softmax_model, tmp_path / "m.onnx")
    assert json.loads(json.dumps(out)) == out


def test_agrees_with_skl2onnx_on_the_same_coefficients(softmax_model, digits, tmp_path) -> None:
    """A second, independent converter: skl2onnx's LinearClassifier of a LogisticRegression
    holding the same (scaled) coefficients gives the same probabilities and labels."""
    skl2onnx = pytest.importorskip("skl2onnx")
    X, _ = digits
    twin = LogisticRegression()
    twin.coef_ = softmax_model.coef_.astype(np.float64) / 16
    twin.intercept_ = softmax_model.intercept_.astype(np.float64)
    twin.classes_ = softmax_model.classes_
    twin.n_features_in_ = X.shape[1]
    theirs = skl2onnx.to_onnx(
        twin, X[:1].astype(np.float32), options={id(twin): {"zipmap": False}}, target_opset=17
    )
    session = ort.InferenceSession(theirs.SerializeToString(), providers=["CPUExecutionProvider"])
    their_label, their_proba = session.run(None, {session.get_inputs()[0].name: X.astype("f4")})
    path = tmp_path / "m.onnx"
    export_onnx(softmax_model, path, check=False)
    label, proba = _run(path, X.astype(np.float32))
    np.testing.assert_allclose(proba, their_proba, atol=1e-5)
    np.testing.assert_array_equal(label, their_label)


@pytest.fixture(scope="module")
def wide_sparse():
    """A text-shaped problem: 300 L2-normalised sparse rows over 20000 features, 4 classes."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = sp.random(300, 20_000, density=0.003, random_state=0, format="csr")
    X = sp.csr_matrix(X.multiply(1 / np.sqrt(X.multiply(X).sum(axis=1) + 1e-12)))
    y = rng.integers(0, 4, 300)
    return X, y, SoftmaxRegression(C=100.0).fit(X, y)


def test_wide_sparse_model_is_checked_on_sparse_rows(wide_sparse, tmp_path) -> None:
    from softreg.export import api

    X, _, model = wide_sparse
    path = tmp_path / "m.onnx"
    out = export_onnx(model, path)
    rows = max(16, api.MAX_CHECK_ENTRIES // 20_000)
    assert out["parity"]["passed"]
    assert out["parity"]["n_samples"] == rows
    assert out["parity"]["data"] == (
        f"{rows} random sparse rows of standard normal inputs (64 non-zero of 20000 features each)"
    )
    dense = X[:50].toarray().astype(np.float32)
    label, proba = _run(path, dense)
    np.testing.assert_allclose(proba, model.predict_proba(X[:50]), atol=1e-5)
    np.testing.assert_array_equal(label, model.predict(X[:50]))


def test_sparse_check_data_is_densified_in_bounded_rows(wide_sparse, tmp_path, monkeypatch):
    from softreg.export import api

    X, _, model = wide_sparse
    out = export_onnx(model, tmp_path / "a.onnx", check_data=X[:40].tocsc())
    assert out["parity"]["data"] == "40 given sparse inputs, densified"
    monkeypatch.setattr(api, "MAX_CHECK_ENTRIES", 20 * 20_000)
    out = export_onnx(model, tmp_path / "b.onnx", check_data=X)
    assert out["parity"]["n_samples"] == 20
    assert out["parity"]["data"] == (
        f"20 given sparse inputs, densified (the first 20 of 300: at most {20 * 20_000} entries)"
    )
    with pytest.raises(ValueError, match=r"\(n_samples >= 1, 20000\), got a sparse matrix of"):
        export_onnx(model, tmp_path / "c.onnx", check_data=X[:, :100])

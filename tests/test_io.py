"""Model files: round trips, atomic writes, and refusal of every kind of bad file."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import softreg
from softreg.archive import header_digest
from softreg.io import FORMAT_VERSION, ModelFileError, load, read_header, register_estimator, save


class TinyClassifier:
    """Nearest-centroid classifier with the contract's persistence hooks (arrays, list, JSON)."""

    _state_attributes: ClassVar[tuple[str, ...]] = (
        "classes_",
        "centroids_",
        "layers_",
        "n_features_in_",
        "history_",
    )

    def __init__(
        self,
        shrink: float = 0.0,
        hidden: tuple[int, ...] = (3, 2),
        class_weight: dict[Any, float] | None = None,
    ) -> None:
        self.shrink = shrink
        self.hidden = hidden
        self.class_weight = class_weight

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"shrink": self.shrink, "hidden": self.hidden, "class_weight": self.class_weight}

    def fit(self, X: Any, y: Any) -> TinyClassifier:
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.centroids_ = np.stack([X[y == c].mean(axis=0) for c in self.classes_])
        self.layers_ = [np.ones((X.shape[1], h), np.float32) for h in self.hidden]
        self.n_features_in_ = X.shape[1]
        self.history_ = [{"iteration": 1, "loss": 0.5}]
        return self

    def predict(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        d = ((X[:, None, :] - self.centroids_[None]) ** 2).sum(-1)
        return self.classes_[d.argmin(1)]

    def _validate_state(self) -> None:
        if self.centroids_.shape != (len(self.classes_), self.n_features_in_):
            raise ValueError(
                f"centroids_ has shape {self.centroids_.shape}, expected "
                f"({len(self.classes_)}, {self.n_features_in_})"
            )
        if not np.all(np.isfinite(self.centroids_)):
            raise ValueError("centroids_ must be finite")


register_estimator(TinyClassifier)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=60)
    X[np.arange(60), y] += 3
    return X, y


@pytest.fixture
def model_file(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> Path:
    X, y = data
    model = TinyClassifier(shrink=0.25, class_weight={0: 1.0, 2: 3.0}).fit(X, y)
    return save(model, tmp_path / "model.npz", metadata={"preprocessing": {"scale": 1 / 255}})


def _rewrite(path: Path, arrays: dict[str, np.ndarray]) -> None:
    np.savez(path, allow_pickle=False, **arrays)  # type: ignore[arg-type]


def _contents(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _header(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    return json.loads(arrays["__header__"].tobytes())


def _with_header(arrays: dict[str, np.ndarray], header: dict[str, Any]) -> dict[str, np.ndarray]:
    # A deliberate rewrite that also recomputes the digest: the checks behind it must hold.
    # (An edit that does not recompute it is refused for that: see tests/test_bad_inputs.py.)
    header = {**header, "digest": header_digest(header)}
    return {**arrays, "__header__": np.frombuffer(json.dumps(header).encode(), np.uint8)}


def test_round_trip_is_exact(model_file: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    original = TinyClassifier(shrink=0.25, class_weight={0: 1.0, 2: 3.0}).fit(X, y)
    loaded = load(model_file)
    assert type(loaded) is TinyClassifier
    assert loaded.get_params() == original.get_params()  # tuple and int-keyed dict survive
    assert isinstance(loaded.hidden, tuple)
    np.testing.assert_array_equal(loaded.centroids_, original.centroids_)
    assert loaded.centroids_.dtype == np.float32
    assert [a.shape for a in loaded.layers_] == [(4, 3), (4, 2)]
    assert loaded.history_ == original.history_
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    header = read_header(model_file)
    assert header["format_version"] == FORMAT_VERSION
    assert header["softreg_version"] == softreg.__version__
    assert header["estimator"] == "TinyClassifier"
    assert header["metadata"]["preprocessing"]["scale"] == 1 / 255


def test_string_classes_round_trip(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    labels = np.array(["cat", "dog", "emu"])[y]
    model = TinyClassifier().fit(X, labels)
    loaded = load(save(model, tmp_path / "m.npz"))
    assert loaded.classes_.dtype.kind == "U"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_file_has_no_pickle(model_file: Path) -> None:
    with zipfile.ZipFile(model_file) as z:
        names = set(z.namelist())
    assert "__header__.npy" in names
    arrays = _contents(model_file)  # np.load's default allow_pickle=False reads everything
    assert all(a.dtype.kind != "O" for a in arrays.values())


def test_save_refuses_unfitted_and_foreign(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not fitted"):
        save(TinyClassifier(), tmp_path / "m.npz")

    class Other:
        pass

    with pytest.raises(TypeError, match="softreg estimator"):
        save(Other(), tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_save_refuses_object_arrays_and_unjsonable(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    model = TinyClassifier().fit(*data)
    model.classes_ = model.classes_.astype(object)
    with pytest.raises(TypeError, match="classes_"):
        save(model, tmp_path / "m.npz")
    model = TinyClassifier(shrink=np.random.default_rng()).fit(*data)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Generator"):
        save(model, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_save_is_atomic_when_interrupted(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(b"previous")

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(TinyClassifier().fit(*data), path)
    assert path.read_bytes() == b"previous"  # untouched, and no temporary left behind
    assert os.listdir(tmp_path) == ["model.npz"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load(tmp_path / "absent.npz")


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.9, 0.999])
def test_truncated_file(model_file: Path, keep: float) -> None:
    raw = model_file.read_bytes()
    model_file.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(ModelFileError, match="not a valid softreg model file"):
        load(model_file)


def _member_data_ranges(path: Path) -> list[range]:
    """Byte ranges of the stored data of each archive member (after its local header)."""
    raw = path.read_bytes()
    ranges = []
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            start = info.header_offset
            name_len = int.from_bytes(raw[start + 26 : start + 28], "little")
            extra_len = int.from_bytes(raw[start + 28 : start + 30], "little")
            data = start + 30 + name_len + extra_len
            ranges.append(range(data, data + info.compress_size))
    return ranges


def test_changed_data_bytes_are_detected(model_file: Path) -> None:
    raw = model_file.read_bytes()
    # Every member (header and arrays, .npy preamble and data), several positions each.
    for member in _member_data_ranges(model_file):
        for position in [*member[:: max(1, len(member) // 7)], member[-1]]:
            corrupted = bytearray(raw)
            corrupted[position] ^= 0x5A
            model_file.write_bytes(bytes(corrupted))
            with pytest.raises(ModelFileError, match="not a valid softreg model file"):
                load(model_file)


def test_rewritten_array_fails_checksum(model_file: Path) -> None:
    arrays = _contents(model_file)
    arrays["centroids_"] = arrays["centroids_"] + np.float32(1e-3)
    _rewrite(model_file, arrays)
    with pytest.raises(ModelFileError, match="SHA-256"):
        load(model_file)


def test_extra_and_missing_arrays(model_file: Path) -> None:
    arrays = _contents(model_file)
    _rewrite(model_file, {**arrays, "payload": np.zeros(3)})
    with pytest.raises(ModelFileError, match=r"unexpected array.*payload"):
        load(model_file)
    del arrays["layers_.1"]
    _rewrite(model_file, arrays)
    with pytest.raises(ModelFileError, match=r"missing array.*layers_\.1"):
        load(model_file)


def test_object_array_is_refused(model_file: Path) -> None:
    arrays: dict[str, Any] = _contents(model_file)
    arrays["centroids_"] = np.array([{"evil": 1}], dtype=object)
    np.savez(model_file, allow_pickle=True, **arrays)
    with pytest.raises(ModelFileError, match="object array"):
        load(model_file)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": FORMAT_VERSION + 1}, "newer than this softreg reads"),
        ({"format_version": "1"}, "invalid format_version"),
        ({"format": "something-else"}, "does not declare format"),
        ({"estimator": "os.system"}, "unknown estimator 'os.system'"),
        ({"params": {"shrink": 0.0, "hidden": [1], "class_weight": None, "evil": 1}}, "evil"),
        ({"params": {"shrink": 0.0}}, "missing parameter"),
        ({"state": {"classes_": {"array": "classes_"}}}, "state attributes"),
    ],
)
def test_tampered_header(model_file: Path, change: dict[str, Any], message: str) -> None:
    arrays = _contents(model_file)
    _rewrite(model_file, _with_header(arrays, {**_header(arrays), **change}))
    with pytest.raises(ModelFileError, match=message):
        load(model_file)


def test_header_shape_mismatch_and_bad_json(model_file: Path) -> None:
    arrays = _contents(model_file)
    header = _header(arrays)
    header["arrays"]["centroids_"]["shape"] = [2, 4]
    _rewrite(model_file, _with_header(arrays, header))
    with pytest.raises(ModelFileError, match="the header says"):
        load(model_file)
    _rewrite(model_file, {**arrays, "__header__": np.frombuffer(b"{not json", np.uint8)})
    with pytest.raises(ModelFileError, match="not UTF-8 JSON"):
        load(model_file)
    _rewrite(model_file, {k: v for k, v in arrays.items() if k != "__header__"})
    with pytest.raises(ModelFileError, match="no '__header__'"):
        load(model_file)


def test_inconsistent_state_is_refused_by_validate_state(model_file: Path) -> None:
    # A consistent-looking file (checksums recomputed) whose state the estimator rejects.
    model = load(model_file)
    model.centroids_ = model.centroids_[:2]
    save(model, model_file)
    with pytest.raises(ModelFileError, match="inconsistent TinyClassifier state"):
        load(model_file)


def test_error_messages_are_one_line(model_file: Path) -> None:
    model_file.write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(ModelFileError) as info:
        load(model_file)
    assert "\n" not in str(info.value)
    assert str(model_file) in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: softreg.SoftmaxRegression(C=0.5, class_weight={0: 1.0, 1: 2.0, 2: 1.0}),
        lambda: softreg.SoftmaxRegression(solver="adam", max_iter=3, random_state=0),
        lambda: softreg.MLPClassifier((5, 4), max_epochs=3, random_state=0),
    ],
)
@pytest.mark.parametrize("string_labels", [False, True])
def test_softreg_estimators_round_trip(tmp_path: Path, make: Any, string_labels: bool) -> None:
    import warnings

    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    if string_labels:
        y = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
        make_model = make()
        if getattr(make_model, "class_weight", None):
            make_model.set_params(class_weight={"setosa": 1.0, "versicolor": 2.0, "virginica": 1.0})
    else:
        make_model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few epochs: a ConvergenceWarning is expected
        model = make_model.fit(X, y)
    loaded = load(save(model, tmp_path / "model.npz"))
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.history_ == model.history_


@pytest.mark.parametrize(
    "make",
    [
        lambda: softreg.SoftmaxRegression(C=0.5),
        lambda: softreg.MLPClassifier((5,), max_epochs=3, random_state=0),
    ],
)
def test_feature_names_of_a_dataframe_fit_round_trip(tmp_path: Path, make: Any) -> None:
    import warnings

    pd = pytest.importorskip("pandas")
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True)
    X, y = frame.data, frame.target.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few epochs: a ConvergenceWarning is expected
        model = make().fit(X, y)
    path = save(model, tmp_path / "model.npz")
    loaded = load(path)
    # The file holds the names as a 'U' array (no pickle); the model gets scikit-learn's dtype.
    assert _contents(path)["feature_names_in_"].dtype.kind == "U"
    assert loaded.feature_names_in_.dtype == model.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # Column checks behave as on the original model: renamed columns are refused ...
    renamed = X.rename(columns={X.columns[0]: "renamed"})
    with pytest.raises(ValueError, match="feature names"):
        model.predict(renamed)
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(renamed)
    # ... and a bare array warns, on both, that the model was fitted with feature names.
    with pytest.warns(UserWarning, match="feature names"):
        model.predict(X.to_numpy())
    with pytest.warns(UserWarning, match="feature names"):
        loaded.predict(X.to_numpy())
    assert isinstance(X, pd.DataFrame)


def test_model_without_feature_names_has_none_after_load(model_file: Path) -> None:
    assert "feature_names_in_" not in _header(_contents(model_file))["state"]
    assert not hasattr(load(model_file), "feature_names_in_")


def test_feature_names_must_match_n_features(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    model = TinyClassifier().fit(*data)
    model.feature_names_in_ = np.array(["a", "b", "c"], dtype=object)  # 3 names, 4 features
    path = save(model, tmp_path / "m.npz")
    with pytest.raises(ModelFileError, match="feature_names_in_ must be a 'U' array of n_fe"):
        load(path)
    model.feature_names_in_ = np.array([1, 2, 3, 4], dtype=object)
    with pytest.raises(TypeError, match="feature_names_in_ must be a 1-D array of str"):
        save(model, tmp_path / "m.npz")


def test_sparsified_coef_round_trips_as_csr(tmp_path: Path) -> None:
    import scipy.sparse as sp
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    model = softreg.SoftmaxRegression(C=0.05, l1_ratio=1.0, max_iter=300, tol=1e-3)
    model.fit(X / 16, y).sparsify()
    assert sp.issparse(model.coef_)
    path = save(model, tmp_path / "sparse.npz")
    loaded = load(path)
    assert sp.issparse(loaded.coef_)
    assert loaded.coef_.format == "csr"
    for part in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(loaded.coef_, part), getattr(model.coef_, part))
    assert (loaded.predict_proba(X / 16) == model.predict_proba(X / 16)).all()
    arrays = _contents(path)
    header = _header(arrays)
    header["state"]["coef_"]["csr"]["shape"] = [10, 3]  # indices beyond the columns
    _rewrite(path, _with_header(arrays, header))
    with pytest.raises(ModelFileError, match="malformed sparse state entry for 'coef_'"):
        load(path)

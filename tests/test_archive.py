"""The shared .npz + JSON-header format: round trip, atomic writes, and every refusal."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softreg.archive import (
    HEADER_KEY,
    decode_tree,
    encode_tree,
    from_json,
    read_archive,
    to_json,
    write_archive,
)
from softreg.optim.transforms import AdamState


class _Bad(ValueError):
    pass


def _read(path: Path, version: int = 2) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    return read_archive(path, "demo", version, lambda problem: _Bad(problem))


def _write(path: Path, **arrays: np.ndarray) -> Path:
    return write_archive(path, {"format": "demo", "format_version": 1, "note": [1, 2]}, arrays)


def test_round_trip_keeps_arrays_bit_for_bit_and_the_header(tmp_path: Path) -> None:
    arrays = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array(["x", "yz"]),
        "c": np.array([True, False]),
    }
    header, read = _read(_write(tmp_path / "f.npz", **arrays))
    assert header["note"] == [1, 2]
    assert header["format_version"] == 1
    assert set(read) == set(arrays)
    for key, value in arrays.items():
        assert read[key].dtype == value.dtype
        np.testing.assert_array_equal(read[key], value)


def test_refusals(tmp_path: Path) -> None:
    path = _write(tmp_path / "f.npz", a=np.zeros(3))
    with pytest.raises(_Bad, match="newer than this softreg reads"):
        read_archive(path, "demo", 0, _Bad)
    with pytest.raises(_Bad, match="does not declare format 'other'"):
        read_archive(path, "other", 1, _Bad)
    with pytest.raises(FileNotFoundError):
        _read(tmp_path / "absent.npz")
    raw = path.read_bytes()
    (tmp_path / "t.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(_Bad, match="unreadable or truncated"):
        _read(tmp_path / "t.npz")
    np.save(tmp_path / "single.npy", np.zeros(2))
    with pytest.raises(_Bad, match=r"single \.npy"):
        _read(tmp_path / "single.npy")
    np.savez(tmp_path / "n.npz", a=np.zeros(3))
    with pytest.raises(_Bad, match="no valid header"):
        _read(tmp_path / "n.npz")
    with np.load(path) as archive:
        contents = {k: archive[k] for k in archive.files}
    header = json.loads(contents[HEADER_KEY].tobytes())
    np.savez(tmp_path / "m.npz", **{**contents, "a": np.ones(3)})
    with pytest.raises(_Bad, match="SHA-256"):
        _read(tmp_path / "m.npz")
    np.savez(tmp_path / "x.npz", **contents, extra=np.ones(1))
    with pytest.raises(_Bad, match="unexpected array"):
        _read(tmp_path / "x.npz")
    header["format_version"] = True
    bad = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(tmp_path / "v.npz", **{**contents, HEADER_KEY: bad})
    with pytest.raises(_Bad, match="invalid format_version"):
        _read(tmp_path / "v.npz")
    np.savez(tmp_path / "o.npz", allow_pickle=True, **{**contents, "a": np.array([{}], object)})
    with pytest.raises(_Bad, match="object array"):
        _read(tmp_path / "o.npz")


def test_write_refuses_object_arrays_and_the_reserved_name(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="dtype object"):
        _write(tmp_path / "f.npz", a=np.array([{}], dtype=object))
    with pytest.raises(ValueError, match="reserved"):
        _write(tmp_path / "f.npz", **{HEADER_KEY: np.zeros(1)})
    assert os.listdir(tmp_path) == []  # nothing half-written


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "f.npz", a=np.zeros(3))
    before = path.read_bytes()

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _write(path, a=np.ones(3))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["f.npz"]


def test_trees_of_named_tuples_lists_and_arrays_round_trip() -> None:
    value = (
        AdamState(3, (np.ones(2),), (np.zeros((1, 2), np.float32),)),
        [(np.arange(2), np.arange(3.0))],
        {"json": 1},
    )
    arrays: dict[str, np.ndarray] = {}
    tree = encode_tree(value, "opt", arrays, {"AdamState": AdamState})
    json.dumps(tree)  # the tree is plain JSON
    used: set[str] = set()
    back = decode_tree(tree, arrays, used, {"AdamState": AdamState})
    assert used == set(arrays)
    assert isinstance(back[0], AdamState)
    assert back[0].step == 3
    np.testing.assert_array_equal(back[1][0][1], np.arange(3.0))
    assert back[2] == {"json": 1}
    with pytest.raises(ValueError, match="unknown optimiser state type"):
        decode_tree(tree, arrays, set())


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.text() | st.integers(), children, max_size=3)
    ),
    max_leaves=10,
)


@given(_json_values)
def test_to_json_and_back_is_the_identity(value: Any) -> None:
    assert from_json(json.loads(json.dumps(to_json(value, "value")))) == value

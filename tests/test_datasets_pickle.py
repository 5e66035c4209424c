"""The restricted unpickler for mnist.pkl.gz: arrays and tuples only, nothing runs."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest

from softreg.datasets import load_mnist_pickle


def classic_layout(rng):
    def part(n):
        return (rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64))

    return (part(50), part(10), part(10))


@pytest.mark.parametrize("protocol", [2, 4, pickle.HIGHEST_PROTOCOL])
@pytest.mark.parametrize("compress", [True, False])
def test_round_trip(tmp_path, protocol, compress):
    data = classic_layout(np.random.default_rng(0))
    blob = pickle.dumps(data, protocol=protocol)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(blob) if compress else blob)
    got = load_mnist_pickle(path)
    assert len(got) == 3
    for (X, y), (X_ref, y_ref) in zip(got, data, strict=True):
        assert X.dtype == np.float32
        assert X.shape == X_ref.shape
        np.testing.assert_array_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)


def test_old_numpy_module_names(tmp_path):
    """The 2015 file names numpy.core.multiarray; that must load without a warning."""
    blob = pickle.dumps((np.arange(6, dtype=np.float32).reshape(2, 3),), protocol=2)
    assert b"numpy._core.multiarray" in blob
    path = tmp_path / "old.pkl"
    path.write_bytes(blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    (X,) = load_mnist_pickle(path)
    np.testing.assert_array_equal(X, np.arange(6).reshape(2, 3))


class Payload:
    """A pickle that would create a file when loaded with plain pickle."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_planted_malicious_pickle_is_refused_and_never_runs(tmp_path):
    target = str(tmp_path / "pwned")
    blob = pickle.dumps((np.zeros(3), Payload(target)), protocol=2)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(blob))
    with pytest.raises(ValueError, match=r"refused global '(posix|os)\.mkdir'") as info:
        load_mnist_pickle(path)
    assert str(path) in str(info.value)
    assert not os.path.exists(target)
    pickle.loads(blob)  # the same bytes really do run code with plain pickle
    assert os.path.exists(target)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"X": np.zeros(2)}, "expected a tuple"),
        ((np.zeros(2), [1, 2]), r"pickle\[1\]: expected NumPy arrays nested in tuples, got list"),
        ((np.array([None, 1], dtype=object),), "object dtype refused"),
        ((np.zeros(2), (1.5,)), r"pickle\[1\]\[0\]: .* got float"),
    ],
)
def test_anything_but_arrays_in_tuples_is_refused(tmp_path, obj, message):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(ValueError, match=message):
        load_mnist_pickle(path)


def test_not_a_pickle(tmp_path):
    path = tmp_path / "x.pkl.gz"
    path.write_bytes(gzip.compress(b"hello world"))
    with pytest.raises(ValueError, match=str(path)):
        load_mnist_pickle(path)
    path.write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(ValueError, match=str(path)):
        load_mnist_pickle(path)

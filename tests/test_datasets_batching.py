"""batches(): coverage, determinism, scaling, the prefetch thread's life and errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softreg.datasets import batches


def data(n=103):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 4, 3), dtype=np.uint8), np.arange(n)


@given(
    n=st.integers(1, 60),
    batch_size=st.integers(1, 70),
    drop_last=st.booleans(),
    prefetch=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_one_epoch_visits_every_row_once(n, batch_size, drop_last, prefetch, seed):
    X, y = data(n)
    got = list(batches(X, y, batch_size, random_state=seed, drop_last=drop_last, prefetch=prefetch))
    seen = np.concatenate([yb for _, yb in got]) if got else np.array([], int)
    expected = n - n % batch_size if drop_last else n
    assert len(seen) == expected
    assert len(set(seen.tolist())) == expected
    assert all(len(yb) == batch_size for _, yb in got[:-1])
    for Xb, yb in got:
        assert Xb.dtype == np.float32
        np.testing.assert_array_equal(Xb, X[yb].astype(np.float32))


def test_same_seed_same_batches_with_and_without_prefetch():
    X, y = data()
    a = [yb for _, yb in batches(X, y, 16, random_state=42, prefetch=0)]
    b = [yb for _, yb in batches(X, y, 16, random_state=42, prefetch=3)]
    c = [yb for _, yb in batches(X, y, 16, random_state=43, prefetch=3)]
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c, strict=True))


def test_order_is_the_generator_permutation():
    X, y = data(20)
    order = np.random.default_rng(5).permutation(20)
    got = np.concatenate([yb for _, yb in batches(X, y, 7, random_state=5)])
    np.testing.assert_array_equal(got, order)
    unshuffled = np.concatenate([yb for _, yb in batches(X, y, 7, shuffle=False)])
    np.testing.assert_array_equal(unshuffled, np.arange(20))


def test_scale_and_flatten():
    X, y = data(10)
    Xb, yb = next(iter(batches(X, y, 4, shuffle=False, scale=1 / 255, flatten=True)))
    assert Xb.shape == (4, 12)
    assert Xb.dtype == np.float32
    np.testing.assert_allclose(Xb, X[:4].reshape(4, 12) / np.float32(255), rtol=1e-6)
    assert yb.dtype == y.dtype


@pytest.mark.parametrize(("n", "taken"), [(1000, 1), (30, 1), (30, 2), (30, 3)])
def test_closing_at_any_point_stops_the_thread(n, taken):
    """Also when the producer has queued everything and waits to signal the end."""
    X, y = data(n)
    before = threading.active_count()
    gen = batches(X, y, 10, prefetch=1)
    for _ in range(taken):
        next(gen)
    time.sleep(0.05)  # let the producer fill the queue and block on the end marker
    gen.close()
    assert threading.active_count() == before


def test_early_break_stops_the_thread():
    X, y = data(1000)
    before = threading.active_count()
    gen = batches(X, y, 10, prefetch=2)
    next(gen)
    assert threading.active_count() == before + 1
    gen.close()
    assert threading.active_count() == before


def test_errors_in_the_thread_propagate():
    X, y = np.zeros((10, 2)), np.arange(10)
    gen = batches(X, y, 3, prefetch=2, scale="bad")  # type: ignore[arg-type]
    before = threading.active_count()
    with pytest.raises(ValueError, match="could not convert string to float"):
        list(gen)  # raised in the producer thread, re-raised here
    assert threading.active_count() == before


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch_size": 0}, ValueError, "batch_size: expected a positive int, got 0"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"batch_size": True}, TypeError, "batch_size"),
        ({"batch_size": 2, "prefetch": -1}, ValueError, "prefetch"),
        ({"batch_size": 2, "y": np.arange(3)}, ValueError, "y: expected 10 labels"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    args = {"X": np.zeros((10, 2)), "y": np.arange(10), **kwargs}
    with pytest.raises(error, match=message):
        batches(**args)

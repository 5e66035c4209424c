"""Mini-batches as float32, shuffled reproducibly, prepared ahead in a background thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["batches"]

_DONE = object()


def _check(X: np.ndarray, y: np.ndarray, batch_size: object, prefetch: object) -> None:
    if X.ndim < 1:
        raise ValueError(f"X: expected an array with a sample axis, got shape {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"y: expected {len(X)} labels (one per row of X), got {len(y)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(f"batch_size: expected a positive int, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size}")
    if isinstance(prefetch, bool) or not isinstance(prefetch, int | np.integer) or prefetch < 0:
        raise ValueError(f"prefetch: expected an int >= 0, got {prefetch!r}")


def _make(
    X: np.ndarray, y: np.ndarray, index: np.ndarray, scale: float | None, flatten: bool
) -> tuple[np.ndarray, np.ndarray]:
    # Gather, then convert: X[index] copies only the batch, in its narrow dtype.
    Xb = np.asarray(X[index])
    out = Xb.astype(np.float32)
    if scale is not None:
        out *= np.float32(scale)
    if flatten:
        out = out.reshape(len(index), -1)
    return out, np.asarray(y[index])


def _put(out: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` unless the consumer has gone; never blocks past ``stop``."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _produce(
    slices: list[np.ndarray],
    make: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    out: queue.Queue,
    stop: threading.Event,
) -> None:
    try:
        for index in slices:
            if not _put(out, make(index), stop):
                return
        _put(out, _DONE, stop)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        _put(out, exc, stop)


def batches(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    random_state: int | np.random.Generator | None = None,
    drop_last: bool = False,
    prefetch: int = 2,
    *,
    scale: float | None = None,
    flatten: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, y_batch)`` mini-batches of one epoch.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        Any dtype (uint8 images stay uint8 until each batch is converted).
    y : ndarray of shape (n_samples, ...)
        Labels, returned unchanged in dtype.
    batch_size : int
        Rows per batch; the last one is smaller unless ``drop_last``.
    shuffle : bool, default=True
        Visit the rows in a random permutation drawn from ``random_state``.
    random_state : int, Generator or None
        Seed; the same seed gives the same batches, with or without prefetching.
    drop_last : bool, default=False
        Skip a final batch smaller than ``batch_size``.
    prefetch : int, default=2
        Batches prepared ahead by a background thread while the caller trains (0: no
        thread). The thread stops when the generator is closed or garbage-collected, and
        an exception raised while preparing a batch is re-raised by the generator.
    scale : float, optional
        Multiply by this after converting to float32 (e.g. ``1 / 255``).
    flatten : bool, default=False
        Reshape ``X_batch`` to (batch, n_features).

    Yields
    ------
    X_batch : ndarray of shape (batch, ...) or (batch, n_features), dtype float32
    y_batch : ndarray of shape (batch, ...)

    Examples
    --------
    >>> import numpy as np
    >>> from softreg.datasets import batches
    >>> X = np.arange(10, dtype=np.uint8).reshape(5, 2)
    >>> for Xb, yb in batches(X, np.arange(5), 2, shuffle=False, scale=0.5):
    ...     print(Xb.tolist(), yb)
    [[0.0, 0.5], [1.0, 1.5]] [0 1]
    [[2.0, 2.5], [3.0, 3.5]] [2 3]
    [[4.0, 4.5]] [4]
    """
    X, y = np.asarray(X), np.asarray(y)
    _check(X, y, batch_size, prefetch)
    n = len(X)
    order = np.random.default_rng(random_state).permutation(n) if shuffle else np.arange(n)
    stop_at = n - n % batch_size if drop_last else n
    slices = [order[i : min(i + batch_size, stop_at)] for i in range(0, stop_at, batch_size)]

    def make(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _make(X, y, index, scale, flatten)

    return _iterate(slices, make, int(prefetch))


def _iterate(
    slices: list[np.ndarray],
    make: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    prefetch: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if prefetch == 0:
        for index in slices:
            yield make(index)
        return
    out: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()
    worker = threading.Thread(target=_produce, args=(slices, make, out, stop), daemon=True)
    worker.start()
    try:
        while (item := out.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the consumer broke out early, or finished: let the producer exit
        worker.join()

"""Each cross-validation fold's rows of ``X``: views of one rotated copy, or one reused buffer.

:func:`softreg._cv_path.fit_fold_paths` fits every fold at each ``C`` in turn, so each fold
needs its training and validation rows once per ``C``. Copying them out of ``X`` each time
(``np.take``) cost 21 ms per 48000-row fold of float32 Fashion-MNIST pixels: 50 copies, about
1 s, on ``bench_cv.py``'s early-stopped path of 17 s.

Where the validation sets partition the rows and each training set is the rest (KFold,
StratifiedKFold, GroupKFold), one copy serves every fold without further copies: the rows
ordered fold by fold (the validation blocks one after another), followed by that order again
up to the last block. Fold ``f``'s validation rows are then the slice ``[a_f, b_f)`` and its
training rows the slice ``[b_f, n + a_f)``: every other block, from the next one round to the
previous one. That copy holds ``2 n - n_last`` rows (1.8 ``X`` with 5 equal folds), against
``X``'s share of one fold's training and validation rows (1 ``X``) for the two buffers; it is
made only where it takes at most :data:`ROTATED_MAX_BYTES`. Otherwise (and for a sparse
``X``, indexed as usual) the rows are copied into two buffers reused from call to call.

A fold's training rows come in another order than ``train``'s, with the indices that say
which: its fit is the same up to the summation order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

Array = NDArray[Any]

# The rotated copy is made up to this size (so 0.8 GiB more than the buffers would take);
# all of Fashion-MNIST in float32 needs 0.34 GB, in float64 0.68 GB.
ROTATED_MAX_BYTES = 2**30


class FoldRows:
    """Fold ``f``'s training and validation rows of ``X`` and their indices; see the module.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    folds : list of (train, test) int index arrays
        As :func:`softreg._cv_path.checked_folds` gives them.
    max_bytes : int or None, default=None
        The largest rotated copy made (None: :data:`ROTATED_MAX_BYTES`).

    Attributes
    ----------
    rotated : bool
        Whether the rows are views of one rotated copy (else buffers, valid until the next
        call of the same method).
    """

    def __init__(
        self, X: Any, folds: list[tuple[Array, Array]], max_bytes: int | None = None
    ) -> None:
        max_bytes = ROTATED_MAX_BYTES if max_bytes is None else max_bytes
        self.folds = folds
        self.n = X.shape[0]
        self.rotated = False
        if not sp.issparse(X) and partitioned(folds, self.n):
            order = np.concatenate([test for _, test in folds])
            self.rows = np.concatenate([order, order[: self.n - len(folds[-1][1])]])
            if self.rows.size * X.shape[1] * X.dtype.itemsize <= max_bytes:
                self.layout = np.take(X, self.rows, axis=0)
                self.starts = np.cumsum([0] + [len(test) for _, test in folds])
                self.rotated = True
        if not self.rotated:
            self.train_buffer = RowBuffer(X, max(len(train) for train, _ in folds))
            self.test_buffer = RowBuffer(X, max(len(test) for _, test in folds))

    def train(self, f: int) -> tuple[Any, Array]:
        """``(X_rows, rows)``: fold ``f``'s training rows of ``X`` and their indices."""
        if self.rotated:
            rows = slice(self.starts[f + 1], self.n + self.starts[f])
            return self.layout[rows], self.rows[rows]
        train = self.folds[f][0]
        return self.train_buffer.take(train), train

    def test(self, f: int) -> tuple[Any, Array]:
        """``(X_rows, rows)``: fold ``f``'s validation rows of ``X`` and their indices."""
        if self.rotated:
            rows = slice(self.starts[f], self.starts[f + 1])
            return self.layout[rows], self.rows[rows]
        test = self.folds[f][1]
        return self.test_buffer.take(test), test


def validated_once(folds: list[tuple[Array, Array]], n: int) -> bool:
    """Whether the validation sets partition ``range(n)``: each row in exactly one, once."""
    counts = np.bincount(np.concatenate([test for _, test in folds]), minlength=n)
    return len(counts) == n and bool(np.all(counts == 1))


def partitioned(folds: list[tuple[Array, Array]], n: int) -> bool:
    """Whether the validation sets partition ``range(n)`` and each training set is the rest."""
    if not validated_once(folds, n):
        return False
    for train, test in folds:
        in_train = np.zeros(n, dtype=bool)
        in_train[train] = True
        if len(train) + len(test) != n or in_train[test].any() or in_train.sum() != len(train):
            return False
    return True


class RowBuffer:
    """``X[rows]`` for a dense ``X``, written into one array reused from call to call.

    A fresh array for each copy paid its page faults every time: on all of Fashion-MNIST
    (5 folds, 10 C) reusing one took the fit from 111.4 s to 107.0 s. The result of
    :meth:`take` is valid until the next call. A sparse ``X`` is indexed as usual.
    """

    def __init__(self, X: Any, max_rows: int) -> None:
        self.X = X
        self.buffer = None if sp.issparse(X) else np.empty((max_rows, X.shape[1]), X.dtype)

    def take(self, rows: Array) -> Any:
        if self.buffer is None:
            return self.X[rows]
        out = self.buffer[: len(rows)]
        np.take(self.X, rows, axis=0, out=out, mode="clip")  # "clip": no buffered copy
        return out

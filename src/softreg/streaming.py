"""Out-of-core training: stream ``(X, y)`` chunks from disk into ``partial_fit``.

`iter_file_chunks` reads a ``.npy`` or IDX file (raw or gzip) ``chunk_size`` rows at a time with
plain reads, so at most one chunk is in memory (no memory map keeps pages resident);
`iter_chunks` pairs two such sources (paths or arrays) into ``(X, y)`` chunks; `fit_stream`
feeds any iterable of ``(X, y)`` chunks to a model's ``partial_fit`` for one or more epochs,
checking that every chunk has the first chunk's number of features and only known labels.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from softreg.datasets.header import GZIP_MAGIC, read_idx_header

__all__ = ["fit_stream", "iter_chunks", "iter_file_chunks"]

_NPY_MAGIC = b"\x93NUMPY"


def _check_chunk_size(chunk_size: Any) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise TypeError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size}")
    return int(chunk_size)


def _read_header(f: IO[bytes], name: str) -> tuple[np.dtype, tuple[int, ...]]:
    head = f.read(6)
    if head == _NPY_MAGIC:
        f.seek(0)
        version = np.lib.format.read_magic(f)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran_order, dtype = read(f)
        if fortran_order and len(shape) > 1:
            raise ValueError(f"{name}: a Fortran-ordered .npy cannot be streamed by rows")
        if dtype.hasobject:
            raise ValueError(f"{name}: object arrays are refused (they need pickle)")
        return dtype, tuple(shape)
    if len(head) >= 4 and head[:2] == b"\x00\x00":
        head += f.read(4 + 4 * head[3] - len(head))
        header = read_idx_header(head, name)  # the file now stands at the first value
        return header.dtype, header.shape
    raise ValueError(f"{name}: not a .npy or IDX file (magic {head[:4].hex()})")


def iter_file_chunks(path: str | os.PathLike[str], chunk_size: int) -> Iterator[NDArray[Any]]:
    """Yield the rows of a ``.npy`` or IDX file (raw or gzip), ``chunk_size`` at a time.

    Each chunk is a fresh array of shape ``(rows, *shape[1:])`` in the file's dtype, read with
    plain reads: memory use is one chunk, whatever the file size.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(10).reshape(5, 2))
    >>> [chunk.tolist() for chunk in iter_file_chunks(path, chunk_size=2)]
    [[[0, 1], [2, 3]], [[4, 5], [6, 7]], [[8, 9]]]
    """
    chunk_size = _check_chunk_size(chunk_size)
    name = os.fspath(path)
    with open(name, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
    opener: Callable[..., Any] = gzip.open if compressed else open
    with opener(name, "rb") as f:
        dtype, shape = _read_header(f, name)
        if not shape:
            raise ValueError(f"{name}: a 0-d array has no rows to stream")
        row_shape = shape[1:]
        row_bytes = int(np.prod(row_shape, dtype=np.int64)) * dtype.itemsize
        for start in range(0, shape[0], chunk_size):
            rows = min(chunk_size, shape[0] - start)
            data = f.read(rows * row_bytes)
            if len(data) != rows * row_bytes:
                raise ValueError(
                    f"{name}: truncated: expected {shape[0]} rows of shape {row_shape}, the "
                    f"data ends in row {start + len(data) // max(row_bytes, 1)}"
                )
            yield np.frombuffer(data, dtype=dtype).reshape(rows, *row_shape)


def _source(source: Any, chunk_size: int) -> Iterator[NDArray[Any]]:
    if isinstance(source, (str, os.PathLike)):
        return iter_file_chunks(source, chunk_size)
    array = source if hasattr(source, "shape") else np.asarray(source)
    # A copy per chunk: slices of a memory map would keep the file's pages mapped.
    return (np.array(array[i : i + chunk_size]) for i in range(0, array.shape[0], chunk_size))


def iter_chunks(
    X: Any, y: Any, chunk_size: int = 10_000
) -> Iterator[tuple[NDArray[Any], NDArray[Any]]]:
    """Yield ``(X_chunk, y_chunk)`` pairs of ``chunk_size`` rows from two sources.

    ``X`` and ``y`` are each a path (``.npy`` or IDX, raw or gzip) or an array (including
    ``np.load(..., mmap_mode="r")``); ``X`` chunks are flattened to 2-D (images of shape
    (rows, 28, 28) become (rows, 784)). Raises ValueError if the two disagree on the row count.
    """
    chunk_size = _check_chunk_size(chunk_size)
    xs, ys = _source(X, chunk_size), _source(y, chunk_size)
    sentinel = np.empty(0)
    index = 0
    while True:
        Xc, yc = next(xs, sentinel), next(ys, sentinel)
        if Xc is sentinel and yc is sentinel:
            return
        if Xc is sentinel or yc is sentinel or len(Xc) != len(yc):
            raise ValueError(
                f"X and y have different numbers of rows (they differ in chunk {index}, of "
                f"{chunk_size} rows each)"
            )
        yield Xc.reshape(len(Xc), -1), yc
        index += 1


def fit_stream(
    model: Any,
    chunks: Iterable[tuple[Any, Any]] | Callable[[], Iterable[tuple[Any, Any]]],
    *,
    classes: Any = None,
    n_epochs: int = 1,
    transform: Callable[[Any], Any] | None = None,
) -> Any:
    """Train ``model`` by ``partial_fit`` on every chunk of ``chunks``, for ``n_epochs`` passes.

    Parameters
    ----------
    model : estimator with ``partial_fit(X, y, classes=...)``
        E.g. `SoftmaxRegression` (one mini-batch epoch per chunk) or `MLPClassifier`.
    chunks : iterable of (X, y), or a function returning one
        ``X`` of shape (n_rows, n_features), ``y`` of shape (n_rows,); for ``n_epochs > 1`` a
        function (called once per epoch), since an iterator can be consumed only once.
    classes : array-like, optional
        Every label of the stream; by default the labels of the first chunk, and a later chunk
        with another label is an error.
    n_epochs : int, default=1
    transform : callable, optional
        Applied to each ``X`` chunk before training, e.g. ``lambda X: X / 255``.

    Returns
    -------
    model

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from softreg import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> order = np.random.default_rng(0).permutation(len(y))  # chunks should mix the classes
    >>> X, y = X[order], y[order]
    >>> model = SoftmaxRegression(solver="adam", learning_rate=0.05, random_state=0)
    >>> model = fit_stream(model, lambda: iter_chunks(X, y, 50), classes=[0, 1, 2], n_epochs=20)
    >>> int(model.n_iter_[0]), model.score(X, y) > 0.9
    (60, True)
    """
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, int) or n_epochs < 1:
        raise ValueError(f"n_epochs must be an int >= 1, got {n_epochs!r}")
    if n_epochs > 1 and not callable(chunks):
        raise TypeError(
            "chunks must be a function returning a fresh iterable of (X, y) chunks when "
            f"n_epochs > 1, got {type(chunks).__name__}"
        )
    known = None if classes is None else np.unique(np.asarray(classes))
    n_features: int | None = None
    for _ in range(n_epochs):
        for index, chunk in enumerate(chunks() if callable(chunks) else chunks):
            if not isinstance(chunk, tuple) or len(chunk) != 2:
                raise TypeError(f"chunk {index} must be a pair (X, y), got {type(chunk).__name__}")
            X, y = chunk
            X = transform(X) if transform is not None else X
            y = np.asarray(y)
            width = int(np.shape(X)[1]) if np.ndim(X) == 2 else -1
            if width < 0:
                raise ValueError(f"chunk {index}: X must be 2-D, got shape {np.shape(X)}")
            if n_features is None:
                n_features = width
            elif width != n_features:
                raise ValueError(
                    f"chunk {index} has {width} features, but the first chunk had {n_features}"
                )
            if known is None:
                known = np.unique(y)
            unseen = np.setdiff1d(np.unique(y), known)
            if unseen.size:
                where = "classes" if classes is not None else "the first chunk"
                raise ValueError(
                    f"chunk {index} has labels {unseen.tolist()} not in {where} "
                    f"{known.tolist()}; pass every label of the stream as classes="
                )
            model.partial_fit(X, y, classes=known)
    return model

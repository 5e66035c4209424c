"""Out-of-core streaming: chunk readers, fit_stream checks, and a bounded-memory fit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from softreg import MLPClassifier, SoftmaxRegression
from softreg.datasets import read_idx, write_idx
from softreg.streaming import fit_stream, iter_chunks, iter_file_chunks


def _data(n: int = 300, d: int = 6, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, np.argmax(X @ rng.normal(size=(d, k)), axis=1)


@pytest.mark.parametrize("kind", ["npy", "idx", "idx.gz"])
def test_file_chunks_reassemble_the_file(tmp_path: Path, kind: str) -> None:
    images = np.random.default_rng(0).integers(0, 256, size=(23, 4, 5), dtype=np.uint8)
    path = tmp_path / f"images.{kind}"
    if kind == "npy":
        np.save(path, images)
    else:
        write_idx(path, images)  # gzip-compressed for the .gz name
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == kind.endswith(".gz")
        np.testing.assert_array_equal(read_idx(path), images)
    chunks = list(iter_file_chunks(path, chunk_size=10))
    assert [c.shape for c in chunks] == [(10, 4, 5), (10, 4, 5), (3, 4, 5)]
    np.testing.assert_array_equal(np.concatenate(chunks), images)


def test_file_chunk_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((10, 3)))
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(ValueError, match=r"truncated: expected 10 rows of shape \(3,\)"):
        list(iter_file_chunks(path, 4))
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(ValueError, match=r"not a \.npy or IDX file"):
        list(iter_file_chunks(tmp_path / "junk", 4))
    with pytest.raises(ValueError, match="chunk_size must be an int >= 1, got 0"):
        list(iter_file_chunks(path, 0))
    np.save(path, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="X and y have different numbers of rows"):
        list(iter_chunks(path, np.zeros(5), chunk_size=2))


def test_streaming_from_files_equals_streaming_from_memory(tmp_path: Path) -> None:
    X, y = _data()
    np.save(tmp_path / "X.npy", X)
    write_idx(tmp_path / "y.idx", y.astype(np.uint8))
    params = dict(solver="adam", learning_rate=0.05, random_state=0)
    from_files = fit_stream(
        SoftmaxRegression(**params),
        lambda: iter_chunks(tmp_path / "X.npy", tmp_path / "y.idx", 64),
        n_epochs=3,
        classes=[0, 1, 2],
    )
    in_memory = SoftmaxRegression(**params)
    for _ in range(3):
        for start in range(0, len(y), 64):
            in_memory.partial_fit(X[start : start + 64], y[start : start + 64], classes=[0, 1, 2])
    np.testing.assert_array_equal(from_files.coef_, in_memory.coef_)
    assert from_files.n_iter_ == 15
    assert from_files.score(X, y) > 0.8


def test_fit_stream_trains_an_mlp() -> None:
    X, y = _data()
    model = fit_stream(
        MLPClassifier((8,), learning_rate=0.01, random_state=0),
        lambda: iter_chunks(X, y, 100),
        n_epochs=10,
    )
    assert model.n_iter_ == 30
    assert model.score(X, y) > 0.7


def test_fit_stream_bad_chunks() -> None:
    X, y = _data(n=40)
    with pytest.raises(ValueError, match="chunk 1 has 5 features, but the first chunk had 6"):
        fit_stream(SoftmaxRegression(), [(X[:20], y[:20]), (X[20:, :5], y[20:])])
    first = np.zeros(20, dtype=int)
    first[:10] = 1
    with pytest.raises(
        ValueError, match=r"chunk 1 has labels \[2\] not in the first chunk \[0, 1\]"
    ):
        fit_stream(SoftmaxRegression(), [(X[:20], first), (X[20:], np.full(20, 2))])
    # With classes= the same stream is fine.
    fit_stream(SoftmaxRegression(), [(X[:20], first), (X[20:], np.full(20, 2))], classes=[0, 1, 2])
    with pytest.raises(TypeError, match="a function returning a fresh iterable"):
        fit_stream(SoftmaxRegression(), iter([(X, y)]), n_epochs=2)
    with pytest.raises(TypeError, match=r"chunk 0 must be a pair \(X, y\)"):
        fit_stream(SoftmaxRegression(), [X])


_STREAM = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from threadpoolctl import threadpool_limits
    from softreg import SoftmaxRegression
    from softreg.streaming import fit_stream, iter_chunks

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    def reset_peak():
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    X_path, y_path = sys.argv[1], sys.argv[2]
    # Warm up first: loading the compiled passes (numba, LLVM) costs a fixed ~60 MB once per
    # process, whatever the data; what is measured here is memory that grows with the data.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SoftmaxRegression(solver="sgd", max_iter=1).fit(
            np.eye(10, 800, dtype=np.float32), np.arange(10)
        )
    model = SoftmaxRegression(solver="sgd", learning_rate=0.05, random_state=0)
    reset_peak()
    base = status("VmRSS")
    # One BLAS thread: small mini-batch products only slow down with threads on a busy machine.
    with threadpool_limits(1):
        fit_stream(model, iter_chunks(X_path, y_path, 2000), classes=np.arange(10))
    streamed = status("VmHWM") - base
    X_head = np.load(X_path, mmap_mode="r")[:5000].astype(np.float32)
    accuracy = model.score(X_head, np.load(y_path)[:5000])
    del X_head
    reset_peak()
    base = status("VmRSS")
    X_all = np.load(X_path)  # the control: what holding the file costs
    loaded = status("VmHWM") - base
    print(json.dumps({"streamed": streamed, "loaded": loaded, "accuracy": accuracy}))
    """
)


def test_streaming_a_file_four_times_the_memory_cap_keeps_the_peak_rss_under_it(
    tmp_path: Path,
) -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pytest.skip("needs Linux /proc/self/clear_refs to measure the peak RSS")
    cap = 32 * 2**20
    n, d, k = 42_000, 800, 10
    rng = np.random.default_rng(0)
    W = rng.standard_normal((d, k), dtype=np.float32)
    X_path, y_path = tmp_path / "X.npy", tmp_path / "y.npy"
    labels = []
    with open(X_path, "wb") as f:  # written in blocks: the test process stays small too
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (n, d)}
        )
        for _ in range(0, n, 4200):
            block = rng.standard_normal((4200, d), dtype=np.float32)
            labels.append(np.argmax(block @ W, axis=1))
            f.write(block.tobytes())
    np.save(y_path, np.concatenate(labels))
    assert X_path.stat().st_size >= 4 * cap
    out = subprocess.run(
        [sys.executable, "-c", _STREAM, str(X_path), str(y_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["streamed"] < cap, result
    assert result["loaded"] > X_path.stat().st_size * 0.9, result  # the measure sees memory
    assert result["accuracy"] > 0.5  # one pass of SGD on 42 000 rows learns the labels

"""Helpers shared by the benchmarks: the data, the float64 yardstick, timing and memory.

Imported by ``bench_fit.py``, ``profile_pass.py`` and ``bench_sgd.py`` (and by the child
processes of ``bench_fit.py``'s memory measurement); it imports none of them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def load_fashion_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, 784) and int labels from Debian's copy or softreg's loader."""
    from softreg.datasets import load, read_idx

    prefix = "train" if split == "train" else "t10k"
    if (DEBIAN / f"{prefix}-images-idx3-ubyte.gz").exists():
        images = read_idx(DEBIAN / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(DEBIAN / f"{prefix}-labels-idx1-ubyte.gz")
    else:
        images, labels = load("fashion-mnist", split, progress=False)
    return images.reshape(len(images), -1), labels.astype(np.intp)


def objective64(X64: np.ndarray, y: np.ndarray, C: float, coef: Any, intercept: Any) -> float:
    """The shared float64 yardstick: mean log-loss + ||W||^2 / (2 C n)."""
    from scipy.special import logsumexp

    coef = np.asarray(coef, np.float64)
    z = X64 @ coef.T + np.asarray(intercept, np.float64)
    data = np.mean(logsumexp(z, axis=1) - z[np.arange(len(y)), y])
    return float(data + np.sum(coef**2) / (2 * C * len(y)))


def median_times(funcs: list[Any], repeats: int) -> list[float]:
    times: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeats):
        for i, f in enumerate(funcs):
            start = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def block_median_times(funcs: list[Any], repeats: int, rounds: int = 3) -> list[float]:
    """Median times of each function, run in blocks of ``repeats`` calls after one warm-up call.

    The blocks alternate ``rounds`` times (so drifts in machine speed hit everyone). Blocks, not
    single interleaved calls: after a multi-threaded GEMM OpenBLAS's idle threads spin for tens
    of milliseconds and slow whatever runs next (measured: the next two softreg passes took
    1.5x their time), which would charge the floor's threads to softreg.
    """
    times: list[list[float]] = [[] for _ in funcs]
    for _ in range(rounds):
        for i, f in enumerate(funcs):
            f()  # warm-up, not timed
            for _ in range(repeats):
                start = time.perf_counter()
                f()
                times[i].append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def rss_kib(field: str) -> int:
    """``VmRSS`` (current) or ``VmHWM`` (peak) of this process from /proc, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> None:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")

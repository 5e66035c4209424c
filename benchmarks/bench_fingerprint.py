"""Cost of the checkpoint data fingerprint on Fashion-MNIST-sized data, beside one epoch.

Run: ``python benchmarks/bench_fingerprint.py [--quick]``. Prints the median time of
``data_fingerprint(X, y)`` for 60000 x 784 uint8 and float32 arrays, and, side by side in the
same process, the time of one SGD epoch of SoftmaxRegression on the float32 array, with the
ratio fingerprint / epoch.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from softreg import SoftmaxRegression
from softreg._fingerprint import data_fingerprint


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10000 rows, 3 repeats")
    args = parser.parse_args()
    n = 10_000 if args.quick else 60_000
    repeats = 3 if args.quick else 5
    rng = np.random.default_rng(0)
    X8 = rng.integers(0, 256, (n, 784), dtype=np.uint8)
    X32 = X8.astype(np.float32) / np.float32(255)
    y = rng.integers(0, 10, n)
    t8 = median_time(lambda: data_fingerprint(X8, y), repeats)
    t32 = median_time(lambda: data_fingerprint(X32, y), repeats)
    model = SoftmaxRegression(solver="sgd", max_iter=1, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        epoch = median_time(lambda: model.fit(X32, y), repeats)
    print(f"rows={n}  fingerprint uint8: {t8 * 1e3:.0f} ms   float32: {t32 * 1e3:.0f} ms")
    print(f"one SGD epoch (float32): {epoch * 1e3:.0f} ms   fingerprint/epoch = {t32 / epoch:.2f}")


if __name__ == "__main__":
    main()

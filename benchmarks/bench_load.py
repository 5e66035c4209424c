"""Loading speed of Fashion-MNIST: softreg.datasets against a plain gzip + np.frombuffer reader.

Measures, for the training split (60,000 images), in one process:
  * plain: gzip.open(...).read() + np.frombuffer for images and labels (the notes' reader);
  * first load: load_fashion_mnist into an empty cache (gunzip, SHA-256 verify, .npy write);
  * cached load: the same call again (memory-mapped .npy);
  * one shuffled epoch of batches of 256 (float32, scaled by 1/255, flattened).
Each is the best of --repeat runs; plain and first load are interleaved so that load from other
processes hits both alike, and their CPU time (all threads) is shown too. Targets (issue 4):
first load no slower than plain; cached load <= 20 ms; an epoch of batches <= 0.2 s.

Usage: python benchmarks/bench_load.py [--data-dir DIR] [--repeat 7]
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from softreg.datasets import batches, load_fashion_mnist


def plain_reader(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(folder / "train-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(folder / "train-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


def measure(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of all threads) of one call."""
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - start_cpu


def best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    runs = [measure(fn) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    folder: Path = args.data_dir
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        print(
            f"no Fashion-MNIST in {folder}: apt-get install dataset-fashion-mnist", file=sys.stderr
        )
        return 1

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = tmp  # a private, empty cache
        cache = Path(tmp) / "softreg" / "fashion-mnist"

        def plain() -> None:
            plain_reader(folder)

        def first_load() -> None:
            for p in cache.glob("*"):
                p.unlink()
            load_fashion_mnist(data_dir=folder, progress=False)

        plain()  # warm the page cache for both readers
        plain_runs, first_runs = [], []
        for _ in range(args.repeat):
            plain_runs.append(measure(plain))
            first_runs.append(measure(first_load))
        t_plain = (min(r[0] for r in plain_runs), min(r[1] for r in plain_runs))
        t_first = (min(r[0] for r in first_runs), min(r[1] for r in first_runs))
        t_cached = best(lambda: load_fashion_mnist(data_dir=folder, progress=False), args.repeat)
        X, y = load_fashion_mnist(data_dir=folder, progress=False)
        ref_X, ref_y = plain_reader(folder)
        if not (np.array_equal(X, ref_X) and np.array_equal(y, ref_y)):
            print("softreg and the plain reader disagree", file=sys.stderr)
            return 1

        def epoch(prefetch: int) -> None:
            for _ in batches(
                X, y, 256, random_state=0, scale=1 / 255, flatten=True, prefetch=prefetch
            ):
                pass

        t_epoch = best(lambda: epoch(2), args.repeat)
        t_epoch0 = best(lambda: epoch(0), args.repeat)

    rows = [
        ("plain gzip + np.frombuffer", t_plain, None),
        ("first load (gunzip + sha256 + .npy)", t_first, t_plain[0]),
        ("cached load (mmap .npy)", t_cached, 0.020),
        ("epoch of batches of 256, prefetch=2", t_epoch, 0.2),
        ("epoch of batches of 256, prefetch=0", t_epoch0, 0.2),
    ]
    print(f"Fashion-MNIST train (60000 x 28 x 28), best of {args.repeat}, {os.cpu_count()} CPUs")
    print(f"  {'':38s} {'wall':>9s}    {'CPU':>9s}")
    for name, (wall, cpu), target in rows:
        verdict = "" if target is None else ("  ok" if wall <= target else "  SLOWER than target")
        limit = "" if target is None else f"  (target <= {target * 1e3:.1f} ms)"
        print(f"  {name:38s} {wall * 1e3:9.2f} ms {cpu * 1e3:9.2f} ms{limit}{verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

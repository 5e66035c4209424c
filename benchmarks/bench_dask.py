"""Cost of the Dask backend: per-evaluation overhead against NumPy, and weak scaling.

Run: ``python benchmarks/bench_dask.py [--rows-per-shard 15000] [--repeat 5]``

1. Per-evaluation overhead: one fused loss+gradient on Fashion-MNIST-sized data (60 000 x 784,
   10 classes, float64) with NumPy in process, then through `ShardedObjective` with 4 shards
   evaluated in process (no cluster), on an in-process ``distributed`` cluster
   (``Client(processes=False)``) and on a ``LocalCluster`` of 2 worker processes.
2. Weak scaling: 1, 2, 4, 8 shards of ``--rows-per-shard`` rows each (generated on the workers),
   one single-threaded worker process per shard on a ``LocalCluster``; the time of one
   loss+gradient evaluation and the efficiency ``t(1 shard) / t(n shards)`` (1.0 = perfect).

BLAS runs single-threaded everywhere (workers and the NumPy baseline), so that the comparison
counts cores, not BLAS threads. Prints two Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # also inherited by worker processes
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

from softreg.dask.problem import sharded_objective
from softreg.objective import SoftmaxObjective

N_FEATURES, N_CLASSES = 784, 10


def _time(fn: Any, w: np.ndarray, repeat: int) -> float:
    fn(w)  # warm-up: first call pays imports, graph submission, caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(w)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _dask_data(n_rows: int, rows_per_shard: int, seed: int) -> tuple[Any, Any]:
    rs = da.random.RandomState(seed)
    X = rs.random_sample((n_rows, N_FEATURES), chunks=(rows_per_shard, N_FEATURES))
    y = rs.randint(0, N_CLASSES, size=n_rows, chunks=rows_per_shard)
    return X, y


def _sharded(client: Any, X: Any, y: Any) -> Any:
    return sharded_objective(client, X, y, None, C=1.0, l1_ratio=0.0)[0]


def overhead_table(repeat: int) -> list[str]:
    n_rows, shards = 60_000, 4
    rng = np.random.default_rng(0)
    X_np = rng.random((n_rows, N_FEATURES))
    y_np = rng.integers(0, N_CLASSES, size=n_rows)
    w = rng.normal(scale=0.01, size=N_CLASSES * (N_FEATURES + 1))
    numpy_time = _time(SoftmaxObjective(X_np, y_np, N_CLASSES).loss_grad, w, repeat)
    rows = [("NumPy, in process", numpy_time)]
    X = da.from_array(X_np, chunks=(n_rows // shards, N_FEATURES))
    y = da.from_array(y_np, chunks=n_rows // shards)
    rows.append(("Dask shards, no cluster", _time(_sharded(None, X, y).loss_grad, w, repeat)))
    start = time.perf_counter()
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as c:
        startup = time.perf_counter() - start
        rows.append(
            (
                f"Client(processes=False) (start {startup:.2f} s)",
                _time(_sharded(c, X, y).loss_grad, w, repeat),
            )
        )
    start = time.perf_counter()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as c,
    ):
        startup = time.perf_counter() - start
        # Data generated on the workers (shipping 376 MB through the graph is not the point).
        Xw, yw = _dask_data(n_rows, n_rows // shards, 0)
        rows.append(
            (
                f"LocalCluster, 2 processes (start {startup:.2f} s)",
                _time(_sharded(c, Xw, yw).loss_grad, w, repeat),
            )
        )
    # Coordination alone: the same 4 shards of only 100 rows each (compute ~0).
    Xs, ys = X[: shards * 100].rechunk((100, N_FEATURES)), y[: shards * 100].rechunk(100)
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as c:
        tiny_inproc = _time(_sharded(c, Xs, ys).loss_grad, w, repeat)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as c,
    ):
        Xw, yw = _dask_data(shards * 100, 100, 0)
        tiny_procs = _time(_sharded(c, Xw, yw).loss_grad, w, repeat)
    rows.append(("coordination only: Client(processes=False), 4 x 100 rows", tiny_inproc))
    rows.append(("coordination only: LocalCluster, 4 x 100 rows", tiny_procs))
    lines = [
        f"Per-evaluation cost of loss+gradient, {n_rows} x {N_FEATURES}, {N_CLASSES} classes, "
        f"float64, {shards} shards (median of {repeat}):",
        "",
        "| engine | seconds / evaluation | overhead vs NumPy |",
        "|---|---:|---:|",
    ]
    for name, seconds in rows:
        overhead = seconds if name.startswith("coordination") else seconds - numpy_time
        lines.append(f"| {name} | {seconds:.3f} | {overhead:+.3f} s |")
    return lines


def scaling_table(rows_per_shard: int, repeat: int) -> list[str]:
    lines = [
        f"Weak scaling on a LocalCluster ({rows_per_shard} rows x {N_FEATURES} per shard, one "
        f"single-threaded worker process per shard, {os.cpu_count()} CPU cores):",
        "",
        "| shards = workers | rows | seconds / evaluation | efficiency t1/tN |",
        "|---:|---:|---:|---:|",
    ]
    w = np.random.default_rng(0).normal(scale=0.01, size=N_CLASSES * (N_FEATURES + 1))
    base = None
    for shards in (1, 2, 4, 8):
        with (
            LocalCluster(n_workers=shards, threads_per_worker=1, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            X, y = _dask_data(shards * rows_per_shard, rows_per_shard, shards)
            seconds = _time(_sharded(client, X, y).loss_grad, w, repeat)
        base = seconds if base is None else base
        lines.append(
            f"| {shards} | {shards * rows_per_shard} | {seconds:.3f} | {base / seconds:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-shard", type=int, default=15_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=("overhead", "scaling"), default=None)
    args = parser.parse_args()
    print(f"# bench_dask on {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    if args.only != "scaling":
        print()
        print("\n".join(overhead_table(args.repeat)))
    if args.only != "overhead":
        print()
        print("\n".join(scaling_table(args.rows_per_shard, args.repeat)))


if __name__ == "__main__":
    main()

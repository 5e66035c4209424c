"""Time softreg.functional against scipy.special in one process and print the ratios.

Run: ``.venv/bin/python benchmarks/bench_functional.py [--repeats 7]``. For every function,
shape (60000x10, 1000x1000) and dtype (float32, float64) both implementations run interleaved,
``repeats`` times each; the table shows the median wall-clock times, ``ratio = softreg / scipy``
(target <= 1.5) and the same ratio of median CPU (thread) times, steadier on a shared machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.special

import softreg.functional as F

PAIRS = {
    "logsumexp": (F.logsumexp, lambda z: scipy.special.logsumexp(z, axis=-1)),
    "softmax": (F.softmax, lambda z: scipy.special.softmax(z, axis=-1)),
    "log_softmax": (F.log_softmax, lambda z: scipy.special.log_softmax(z, axis=-1)),
    "sigmoid": (F.sigmoid, scipy.special.expit),
    "log_sigmoid": (F.log_sigmoid, scipy.special.log_expit),
}
SHAPES = ((60000, 10), (1000, 1000))


def _median_times(funcs, z: np.ndarray, repeats: int) -> tuple[list[float], list[float]]:
    """Median wall-clock and median CPU (thread) time of each function, interleaved."""
    wall: list[list[float]] = [[] for _ in funcs]
    cpu: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeats):
        for i, f in enumerate(funcs):  # interleaved, so drifts in machine load hit both
            start, start_cpu = time.perf_counter(), time.thread_time()
            f(z)
            cpu[i].append(time.thread_time() - start_cpu)
            wall[i].append(time.perf_counter() - start)
    return [float(np.median(t)) for t in wall], [float(np.median(t)) for t in cpu]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(
        f"{'function':<12} {'shape':>10} {'dtype':>8} {'softreg ms':>11} {'scipy ms':>9} "
        f"{'ratio':>6} {'cpu ratio':>9}"
    )
    worst = 0.0
    for name, (ours, theirs) in PAIRS.items():
        for shape in SHAPES:
            for dtype in (np.float32, np.float64):
                z = (3.0 * rng.standard_normal(shape)).astype(dtype)
                ours(z), theirs(z)  # warm up
                wall, cpu = _median_times((ours, theirs), z, args.repeats)
                ratio = wall[0] / wall[1]
                worst = max(worst, ratio)
                print(
                    f"{name:<12} {'x'.join(map(str, shape)):>10} {np.dtype(dtype).name:>8} "
                    f"{1e3 * wall[0]:11.2f} {1e3 * wall[1]:9.2f} {ratio:6.2f} {cpu[0] / cpu[1]:9.2f}"
                )
    print(f"worst ratio: {worst:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

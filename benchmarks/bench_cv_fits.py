"""The cross-validated path's cost in default fits, from repeated interleaved runs.

Run: ``python benchmarks/bench_cv_fits.py [--quick] [--repeat N]``.

#17's target "the whole 5-fold, 10-C path costs at most 5 default fits" is a ratio of two
short times, and ``bench_cv.py`` times each side once: on this 2-core machine one default fit
of all 60000 Fashion-MNIST rows took from 2.7 s to 3.5 s from run to run, the early-stopped path
from 15.7 s to 19.9 s. Here both run ``--repeat`` times (default 3), interleaved (fit, path,
fit, path, ...) so that a slow spell of the machine hits both, on ``bench_cv.py``'s rows,
grid and folds. Two figures: the ratio of the medians, and the median of the paired ratios
(each path over the fit just before it, which cancels drifts slower than one pair). With 5
runs on all rows the fit took 2.8 s to 3.7 s and the path 14.2 s to 17.1 s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_cv import GRID, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first 15000 training rows")
    parser.add_argument("--rows", type=int, help="the first ROWS training rows (a smoke run)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (default 3)")
    parser.add_argument(
        "--whole", action="store_true", help="the whole path, not the early-stopped one"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")

    from sklearn.model_selection import StratifiedKFold

    from softreg import SoftmaxRegression, SoftmaxRegressionCV

    X, y = load("train")
    rows = args.rows or (15000 if args.quick else None)
    if rows:
        X, y = X[:rows], y[:rows]
    folds = list(StratifiedKFold(5).split(X, y))
    early = not args.whole
    print(
        f"Fashion-MNIST: {X.shape[0]} x {X.shape[1]} float32, 5 folds, Cs = logspace(-4, 4, 10), "
        f"early_stopping={early}, {args.repeat} runs each"
    )
    SoftmaxRegression().fit(X[:64], y[:64])  # Numba compiles the passes: not timed
    fits, paths = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        single = SoftmaxRegression().fit(X, y)
        fits.append(time.perf_counter() - start)
        start = time.perf_counter()
        cv = SoftmaxRegressionCV(Cs=GRID, cv=folds, early_stopping=early).fit(X, y)
        paths.append(time.perf_counter() - start)
        print(
            f"one default fit {fits[-1]:.2f} s ({single.n_iter_[0]} iterations); "
            f"SoftmaxRegressionCV {paths[-1]:.2f} s (C = {cv.C_:.4g})",
            flush=True,
        )
    fit, path = float(np.median(fits)), float(np.median(paths))
    paired = np.array(paths) / np.array(fits)
    print(f"medians: one default fit {fit:.2f} s, path {path:.2f} s: {path / fit:.2f} fits")
    print(
        f"paired ratios: {', '.join(f'{r:.2f}' for r in paired)}; "
        f"median {float(np.median(paired)):.2f} fits"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

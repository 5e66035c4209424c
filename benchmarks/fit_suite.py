"""The seven-problem suite of ``bench_fit.py --suite``: does softreg's default fit reach
scikit-learn's objective beyond the one benchmark problem?

Problems: the first 15000 and 30000 rows of Fashion-MNIST's training set at C=1, its first
20000 rows at C=10, its test set at C=1, scikit-learn's digits (pixels / 16) at C=1 and
C=100, and the full training set at C=1 (float32 pixels / 255). Each is fitted once by
scikit-learn's lbfgs and newton-cg (tol=1e-4, max_iter=1000) and by ``SoftmaxRegression``'s
default; the objective of each fit is evaluated by the benchmark's shared float64 function,
and softreg's must be at most ``min(f_lbfgs, f_newton)`` (to 1e-6 relative, as in the main
table). Run: ``python benchmarks/bench_fit.py --suite`` (several minutes: scikit-learn's
lbfgs alone takes about 90 s on the full set).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import load_fashion_mnist, objective64


def problems(full: bool = True) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """``(name, X float32, y, C)`` for the suite; ``full=False`` leaves out the full set."""
    from sklearn.datasets import load_digits

    Xu, y = load_fashion_mnist("train")
    Xt, yt = load_fashion_mnist("test")

    def scaled(a: np.ndarray) -> np.ndarray:
        return (a / np.float32(255)).astype(np.float32)

    Xd, yd = load_digits(return_X_y=True)
    digits = (Xd / 16).astype(np.float32)
    out = [
        ("fashion first 15000, C=1", scaled(Xu[:15000]), y[:15000], 1.0),
        ("fashion first 30000, C=1", scaled(Xu[:30000]), y[:30000], 1.0),
        ("fashion first 20000, C=10", scaled(Xu[:20000]), y[:20000], 10.0),
        ("fashion test set, C=1", scaled(Xt), yt, 1.0),
        ("digits, C=1", digits, yd.astype(np.intp), 1.0),
        ("digits, C=100", digits, yd.astype(np.intp), 100.0),
    ]
    if full:
        out.append(("fashion full 60000, C=1", scaled(Xu), y, 1.0))
    return out


def run_suite(
    fit_sklearn: Callable[..., Any], fit_softreg: Callable[..., Any], full: bool = True
) -> bool:
    """Print the suite's table; True when softreg reaches scikit-learn's objective on all."""
    print(
        f"{'problem':<28} {'f lbfgs':>11} {'f newton':>11} {'f softreg':>11} {'reached':>7} "
        f"{'t lbfgs':>8} {'t newton':>8} {'t softreg':>9} {'softreg iter':>12}"
    )
    all_ok = True
    for name, X, y, C in problems(full):
        X64 = X.astype(np.float64)
        row = {}
        for who, fit, solver in (
            ("lbfgs", fit_sklearn, "lbfgs"),
            ("newton", fit_sklearn, "newton-cg"),
            ("softreg", fit_softreg, "auto"),
        ):
            start = time.perf_counter()
            coef, intercept, n_iter = fit(solver, X, y, C)
            seconds = time.perf_counter() - start
            row[who] = (objective64(X64, y, C, coef, intercept), seconds, n_iter)
        target = min(row["lbfgs"][0], row["newton"][0])
        ok = row["softreg"][0] <= target * (1 + 1e-6)
        all_ok = all_ok and ok
        print(
            f"{name:<28} {row['lbfgs'][0]:11.7f} {row['newton'][0]:11.7f} "
            f"{row['softreg'][0]:11.7f} {'yes' if ok else 'NO':>7} {row['lbfgs'][1]:8.2f} "
            f"{row['newton'][1]:8.2f} {row['softreg'][1]:9.2f} {row['softreg'][2]:12d}",
            flush=True,
        )
    print(f"\nsoftreg reaches min(f_lbfgs, f_newton) on every problem: {all_ok}")
    return all_ok

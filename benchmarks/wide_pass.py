"""What a pass over X costs per direction when it carries r directions at once.

Run: ``.venv/bin/python benchmarks/wide_pass.py [--repeats 3]`` (``bench_fit.py`` prints the
same table beside its floor). A Hessian-vector pass for r directions ``V_1 .. V_r`` (each
n_classes x n_features) is two wide products per block of rows, ``Xb [V_1 .. V_r]^T`` and
``R^T Xb`` with ``r * n_classes`` columns, and the per-row ``p * (d - <p, d>)`` between them:
the same row blocks and worker threads as softreg's NumPy passes, through BLAS. Its time per
direction, against softreg's one-direction compiled Hessian pass, says how much a solver that
can use r directions per pass (a block method, a sketch) would save per product. A check
against r one-direction passes comes first (the figures are of a correct pass).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import block_median_times, load_fashion_mnist

DIRECTIONS = (1, 4, 16, 64)


def wide_hessp(
    X: np.ndarray, weight: np.ndarray, proba: np.ndarray, V: np.ndarray, block_rows: int = 512
) -> np.ndarray:
    """Data-term Hessian times each of the r directions ``V`` (r, k, d) in one pass: (r, k, d)."""
    from softreg._kernels import threads

    r, k, d = V.shape
    Vcat = np.ascontiguousarray(V.reshape(r * k, d).T)  # (d, r k)

    def work(start: int, stop: int) -> np.ndarray:
        out = np.zeros((r * k, d), X.dtype)
        for lo in range(start, stop, block_rows):
            hi = min(lo + block_rows, stop)
            Xb = X[lo:hi]
            Z = (Xb @ Vcat).reshape(hi - lo, r, k)
            p = proba[lo:hi, None, :]
            Z -= (Z * p).sum(axis=2, keepdims=True)
            Z *= p
            Z *= weight[lo:hi, None, None]
            out += Z.reshape(hi - lo, r * k).T @ Xb
        return out

    with threads.single_threaded_blas():
        parts = threads._map_chunks(work, X.shape[0], threads.default_workers(), block_rows)
    return np.sum(parts, axis=0).reshape(r, k, d)


def per_direction(X: np.ndarray, y: np.ndarray, repeats: int = 3) -> dict[str, Any]:
    """Seconds per direction of the wide pass for each r, and of softreg's Hessian pass."""
    from softreg._kernels import passes

    n, d = X.shape
    k = int(y.max()) + 1
    rng = np.random.default_rng(0)
    coef = rng.normal(scale=0.01, size=(k, d)).astype(np.float32)
    weight = np.full(n, 1 / n, np.float32)
    proba = np.empty((n, k), np.float32)
    passes.loss_grad(X, y, weight, coef, None, proba_out=proba)
    V = rng.standard_normal((max(DIRECTIONS), k, d)).astype(np.float32)
    # Correctness first: the wide pass equals one softreg pass per direction.
    wide = wide_hessp(X, weight, proba, V[:4])
    for i in range(4):
        one, _ = passes.hessp(X, weight, proba, V[i], None)
        np.testing.assert_allclose(wide[i], one, rtol=1e-3, atol=1e-4 * np.abs(one).max())
    funcs = [lambda: passes.hessp(X, weight, proba, V[0], None)]
    funcs += [lambda r=r: wide_hessp(X, weight, proba, V[:r]) for r in DIRECTIONS]
    times = block_median_times(funcs, repeats, rounds=2)
    return {"hessp": times[0], "wide": dict(zip(DIRECTIONS, times[1:], strict=True))}


def print_per_direction(result: dict[str, Any], floor: float | None = None) -> None:
    t1 = result["hessp"]
    extra = "" if floor is None else f", {t1 / floor:.2f} x floor"
    print("wide Hessian passes (BLAS, all worker threads): time per direction")
    print(f"  softreg's compiled one-direction pass: {t1 * 1e3:6.1f} ms{extra}")
    for r, t in result["wide"].items():
        per = t / r
        extra = "" if floor is None else f", {per / floor:.2f} x floor"
        print(f"  r = {r:2d}: {t * 1e3:7.1f} ms per pass, {per * 1e3:6.1f} ms per direction{extra}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    Xu, y = load_fashion_mnist("train")
    X = (Xu / np.float32(255)).astype(np.float32)
    print_per_direction(per_direction(X, y, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where one fused pass over X spends its time: a profile of softreg's compiled passes.

Run: ``.venv/bin/python benchmarks/profile_pass.py [--repeats 5] [--cache-rows 512]``.
Fashion-MNIST ``X = pixels / 255`` (60000 x 784 float32, 10 classes). Needs numba.

Each phase is timed on one thread, calling the compiled row loops directly (no Python per
call), once on the whole X (streamed from memory, 188 MB) and once on its first
``cache-rows`` rows repeated to the same number of rows (1.6 MB: held in the 2 MB L2 cache):

- ``read X``: a loop that only sums X, the memory cost of one pass;
- ``logits``: the register-blocked ``X W^T`` alone;
- ``loss``: logits, row softmax and loss (``with_grad=False``);
- ``loss+grad``: the whole pass (adds ``R^T X`` and the residuals);
- ``hvp``: the whole Hessian-vector pass.

Then the two full passes as the fit runs them (all worker threads), the read loop on all
threads, and the float32 GEMM of the same FLOP count that ``make bench`` calls the floor,
all in this process, each as the median of blocks of ``repeats`` calls after a warm-up.
What the columns mean: a phase whose time barely changes between memory and cache is bound
by arithmetic, not by reading X; ``x floor`` is a time over the GEMM's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import block_median_times, load_fashion_mnist


def profile(X: np.ndarray, y: np.ndarray, repeats: int = 5, cache_rows: int = 512) -> dict:
    """Time the phases of a pass (see the module docstring); returns the times in seconds.

    ``{"phases": {name: (from memory, from L2 cache)}, "workers": int, "read": s,
    "loss+grad": s, "hvp": s, "floor": s}``; the last four with all worker threads.
    """
    import numba

    from softreg._kernels import compiled, compiled_passes, passes, single_threaded_blas, threads

    compiled._build()
    n, d = X.shape
    k = int(y.max()) + 1
    f32 = np.dtype(np.float32)
    rng = np.random.default_rng(0)
    coef = rng.normal(scale=0.01, size=(k, d)).astype(np.float32)
    Wt, b = compiled_passes._class_rows(coef, np.zeros(k, np.float32), 1.0, f32)
    weight = np.full(n, 1 / n, np.float32)
    proba = np.empty((n, k), np.float32)
    passes.loss_grad(X, y, weight, coef, np.zeros(k, np.float32), proba_out=proba)
    products = compiled._products

    @numba.njit(nogil=True, fastmath=True)
    def read(X: Any, lo: int, hi: int) -> float:  # pragma: no cover - compiled
        s = np.float32(0)
        for i in range(lo, hi):
            for j in range(X.shape[1]):
                s += X[i, j]
        return float(s)

    @numba.njit(nogil=True)
    def logits(X: Any, Wt: Any) -> float:  # pragma: no cover - compiled
        z = np.empty((compiled.GROUP, Wt.shape[0]), np.float32)
        for i0 in range(0, X.shape[0] - compiled.GROUP + 1, compiled.GROUP):
            products(X[i0 : i0 + compiled.GROUP], Wt, z, np.float32(0))
        return float(z[0, 0])

    def scratch() -> tuple[Any, ...]:
        return (
            np.empty((compiled.GROUP, d), f32),
            np.zeros(Wt.shape, f32),
            np.zeros(Wt.shape),
            np.zeros(len(b)),
            compiled.TINY[f32],
        )

    def loss_grad(Xs: Any, with_grad: bool) -> None:
        m = Xs.shape[0]
        compiled.loss_grad_rows(
            Xs, Xs, True, y[:m], weight[:m], Wt, b, k, 0, m, with_grad, False, proba, *scratch()
        )

    def hvp(Xs: Any) -> None:
        m = Xs.shape[0]
        compiled.hessp_rows(Xs, Xs, True, weight[:m], proba[:m], Wt, b, k, 0, m, *scratch())

    phases = {
        "read X": lambda Xs: read(Xs, 0, Xs.shape[0]),
        "logits": lambda Xs: logits(Xs, Wt),
        "loss": lambda Xs: loss_grad(Xs, False),
        "loss+grad": lambda Xs: loss_grad(Xs, True),
        "hvp": hvp,
    }
    X_cache = np.ascontiguousarray(X[:cache_rows])
    laps = n // cache_rows

    def in_cache(phase: Any) -> Any:
        return lambda: [phase(X_cache) for _ in range(laps)]

    out: dict[str, Any] = {"phases": {}}
    with single_threaded_blas():
        for name, phase in phases.items():
            out["phases"][name] = tuple(
                block_median_times([f], repeats, rounds=1)[0]
                for f in (lambda p=phase: p(X), in_cache(phase))
            )
    workers = compiled_passes._compiled_workers(X, None)
    chunks = threads._chunks(n, workers, compiled.GROUP)
    flops = 2 * 2 * n * d * k
    m = round((flops / 2) ** (1 / 3))
    A = np.ones((m, m), np.float32)

    def single_threaded(f: Any) -> Any:
        def run() -> None:
            with single_threaded_blas():
                f()

        return run

    # The floor as bench_fit measures it: the faster of BLAS's default threads and one thread.
    t_read, t_lg, t_hvp, t_gemm, t_gemm1 = block_median_times(
        [
            single_threaded(lambda: list(threads._pool().map(lambda c: read(X, *c), chunks))),
            single_threaded(lambda: passes.loss_grad(X, y, weight, coef, np.zeros(k, np.float32))),
            single_threaded(lambda: passes.hessp(X, weight, proba, coef, np.zeros(k, np.float32))),
            lambda: A @ A,
            single_threaded(lambda: A @ A),
        ],
        repeats,
    )
    out.update(workers=workers, read=t_read, hvp=t_hvp, floor=min(t_gemm, t_gemm1), gemm_size=m)
    out["loss+grad"] = t_lg
    return out


def print_profile(result: dict, X: np.ndarray, repeats: int) -> None:
    """The table of :func:`profile`'s result."""
    print(
        f"pass profile, {X.shape[0]}x{X.shape[1]} float32; one thread, median of {repeats}\n"
        f"  {'phase':<12} {'memory ms':>10} {'L2 cache ms':>12}"
    )
    for name, (t_mem, t_cache) in result["phases"].items():
        print(f"  {name:<12} {t_mem * 1e3:10.1f} {t_cache * 1e3:12.1f}")
    t_read, t_gemm = result["read"], result["floor"]
    print(f"all {result['workers']} worker thread(s), as in a fit:")
    print(f"  read X      {t_read * 1e3:6.1f} ms  ({X.nbytes / t_read / 1e9:.1f} GB/s)")
    for name in ("loss+grad", "hvp"):
        t = result[name]
        print(
            f"  {name:<10}  {t * 1e3:6.1f} ms  {t / t_gemm:5.2f} x floor, {t / t_read:5.2f} x read"
        )
    print(f"  floor: float32 GEMM {result['gemm_size']}^3 {t_gemm * 1e3:.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache-rows", type=int, default=512)
    args = parser.parse_args(argv)
    from softreg._kernels import compiled

    if not compiled.AVAILABLE:
        print("numba is not installed (or SOFTREG_DISABLE_NUMBA is set): nothing to profile")
        return 1
    Xu, y = load_fashion_mnist("train")
    X = (Xu / np.float32(255)).astype(np.float32)
    print_profile(profile(X, y, args.repeats, args.cache_rows), X, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())

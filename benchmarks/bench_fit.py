"""Time ``SoftmaxRegression.fit`` against scikit-learn (and PyTorch) on real Fashion-MNIST.

Run: ``.venv/bin/python benchmarks/bench_fit.py [--repeats 3] [--quick]`` (``make bench``);
``--suite`` prints instead whether the default fit reaches scikit-learn's objective on seven
problems (``fit_suite.py``).
All contenders fit the same float32 ``X = pixels / 255`` (60000 x 784, C = 1) in one process,
interleaved, ``repeats`` times; the table shows median times and the final objective
``mean log-loss + ||W||^2 / (2 C n)`` of each, evaluated by one shared float64 function.
``--quick`` fits the first 15000 rows once (a smoke run, not the published figures).

Then: one loss+gradient evaluation of softreg against the "floor", a float32 GEMM with the
same FLOP count (``2 * 2 * n * d * k``) timed in the same run, and the time per direction of
a Hessian pass carrying r = 1, 4, 16, 64 directions (``wide_pass.py``); and, in child
processes, the peak RSS of a fit from the uint8 images (``input_scale=1/255``) against the
uint8 data size, with the compiled passes in numba's disk cache and, for comparison, on a
first run that compiles them. For each missed speed target it then prints the figure, the profile behind it (one more
fit with its passes counted and timed; the phases of one pass, from ``profile_pass.py``) and
what would close it (the pass time or pass count the target needs).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    block_median_times,
    load_fashion_mnist,
    objective64,
)


def fit_sklearn(solver: str, X: np.ndarray, y: np.ndarray, C: float) -> tuple[Any, Any, int]:
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning is reported by n_iter
        m = LogisticRegression(C=C, tol=1e-4, max_iter=1000, solver=solver).fit(X, y)
    return m.coef_, m.intercept_, int(m.n_iter_[0])


def fit_softreg(solver: str, X: np.ndarray, y: np.ndarray, C: float) -> tuple[Any, Any, int]:
    from softreg import SoftmaxRegression

    m = SoftmaxRegression(C=C, solver=solver).fit(X, y)
    return m.coef_, m.intercept_, int(m.n_iter_[0])


def count_passes(X: np.ndarray, y: np.ndarray, C: float) -> tuple[dict[str, list[Any]], float]:
    """One more default softreg fit, counting and timing its passes over X.

    Returns ``({"loss+grad" | "loss" | "hvp": [count, seconds]}, fit seconds)``. The passes are
    wrapped where :mod:`softreg.objective` calls them (``softreg._kernels``), and restored.
    """
    from softreg import _kernels

    passes: dict[str, list[Any]] = {"loss+grad": [0, 0.0], "hvp": [0, 0.0], "loss": [0, 0.0]}
    original = _kernels.loss_grad, _kernels.hessp

    def counted(f: Any, kind: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            out = f(*args, **kwargs)
            entry = passes[kind(kwargs)]
            entry[0] += 1
            entry[1] += time.perf_counter() - start
            return out

        return run

    _kernels.loss_grad = counted(
        original[0], lambda kw: "loss+grad" if kw.get("with_grad", True) else "loss"
    )
    _kernels.hessp = counted(original[1], lambda kw: "hvp")
    try:
        start = time.perf_counter()
        fit_softreg("auto", X, y, C)
        total = time.perf_counter() - start
    finally:
        _kernels.loss_grad, _kernels.hessp = original
    return passes, total


def missed_targets(
    rows: dict[str, Any], X: np.ndarray, y: np.ndarray, C: float, t_eval: float, floor: float
) -> None:
    """For each missed target of the fit: the figure, the profile behind it, what would close it.

    The profile is measured here: one more fit with its passes counted and timed
    (:func:`count_passes`), and the phases of one pass (``benchmarks/profile_pass.py``).
    """
    t_soft = rows["softreg default"][0]
    fit_targets = [
        ("lbfgs", rows["sklearn lbfgs"][0], 20.0),
        ("newton-cg", rows["sklearn newton-cg"][0], 10.0),
    ]
    missed = [(name, t, want) for name, t, want in fit_targets if t / t_soft < want]
    if not missed and t_eval / floor <= 2.5:
        print("\nall fit-speed targets met")
        return
    print("\nmissed targets: the figure, the profile behind it, what would close it")
    if missed:
        passes, total = count_passes(X, y, C)
        n_passes = sum(c for c, _ in passes.values())
        in_passes = sum(t for _, t in passes.values())
        other = max(total - in_passes, 0.0)
        per_pass = in_passes / n_passes
        print(
            f"  profile of one more default fit ({total:.2f} s): "
            + ", ".join(f"{c} {kind} passes {t:.2f} s" for kind, (c, t) in passes.items())
            + f"; {per_pass * 1e3:.1f} ms per pass; other work {other:.2f} s "
            "(preconditioner, CG vectors)"
        )
        for name, t_rival, want in missed:
            budget = t_rival / want
            print(
                f"  {name}_time / softreg_time = {t_rival / t_soft:.2f} < {want:g}: the fit must take "
                f"<= {budget:.2f} s (median now {t_soft:.2f} s). At {n_passes} passes that is "
                f"<= {max(budget - other, 0) / n_passes * 1e3:.1f} ms per pass; at "
                f"{per_pass * 1e3:.1f} ms per pass, <= {max(budget - other, 0) / per_pass:.0f} "
                "passes."
            )
    if t_eval / floor > 2.5:
        from profile_pass import print_profile, profile

        print(
            f"  loss+grad / floor = {t_eval / floor:.2f} > 2.5: a pass must take "
            f"<= {2.5 * floor * 1e3:.1f} ms (now {t_eval * 1e3:.1f} ms). Profile of one pass:"
        )
        result = profile(X, y, repeats=5)
        print_profile(result, X, 5)
        lg_mem, lg_cache = result["phases"]["loss+grad"]
        logits_cache = result["phases"]["logits"][1]
        rate = 2 * X.shape[0] * X.shape[1] * (int(y.max()) + 1) / logits_cache / 1e9
        mhz = cpu_mhz()
        limit = (
            "half the 512-bit rate"
            if mhz is None
            else f"{32 * mhz / 1e3:.0f} GFLOP/s per core (32 flop per cycle at {mhz / 1e3:.1f} GHz)"
        )
        print(
            f"  With X in cache a pass still takes {lg_cache / lg_mem:.0%} of its time from memory "
            f"({lg_cache * 1e3:.1f} against {lg_mem * 1e3:.1f} ms, one thread):\n"
            "  it is bound by arithmetic more than by reading X. The logits alone run at "
            f"{rate:.0f} GFLOP/s on one core;"
        )
        if cpu_flag("avx512f"):
            print(
                f"  numba emits 256-bit vector code here, whose multiply-add limit is {limit},\n"
                "  while the GEMM uses 512-bit vectors. Closing the gap needs 512-bit arithmetic "
                "(tried: it paid only on\n"
                "  64-byte-aligned rows, which NumPy does not guarantee; masked loads in a "
                "hand-written kernel would make\n"
                "  alignment irrelevant) and the reads of X overlapped with the arithmetic."
            )
            return
        loss_cache = result["phases"]["loss"][1]
        print(
            f"  this CPU has no AVX-512, so the GEMM and numba's loops both use 256-bit vectors, "
            f"limit {limit}.\n"
            f"  Of a pass in cache ({lg_cache * 1e3:.1f} ms): logits {logits_cache * 1e3:.1f} ms, "
            f"softmax and loss {(loss_cache - logits_cache) * 1e3:.1f} ms, gradient product "
            f"{(lg_cache - loss_cache) * 1e3:.1f} ms.\n"
            "  The products run below the GEMM's rate because a 10-class product is too narrow "
            "for a GEMM's register\n"
            "  blocking (4 rows x 2 classes of accumulators fill AVX2's 16 registers; the GEMM "
            "floor multiplies square\n"
            "  980 x 980 blocks), and the softmax's exp and log are not multiply-adds."
        )


def cpu_flag(name: str) -> bool:
    """Whether /proc/cpuinfo lists the CPU flag ``name`` (Linux; False elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return name in line.split(":", 1)[1].split()
    except OSError:
        return False
    return False


def cpu_mhz() -> float | None:
    """The CPU clock from /proc/cpuinfo (Linux), or None."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1])
    except (OSError, ValueError):
        return None
    return None


def fit_torch_until(
    X: np.ndarray, y: np.ndarray, C: float, target: float, max_iter: int = 2000
) -> tuple[Any, Any, int]:
    """PyTorch's LBFGS (strong Wolfe) on the same objective, stopped once it reaches ``target``."""
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    n, d = X.shape
    k = int(y.max()) + 1
    W = torch.zeros(k, d, requires_grad=True)
    b = torch.zeros(k, requires_grad=True)
    opt = torch.optim.LBFGS(
        [W, b],
        lr=1,
        max_iter=20,
        history_size=10,
        line_search_fn="strong_wolfe",
        tolerance_grad=0,
        tolerance_change=0,
    )

    def closure() -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(Xt @ W.T + b, yt) + (W * W).sum() / (2 * C * n)
        loss.backward()
        return loss

    n_iter = 0
    while n_iter < max_iter:
        loss = float(opt.step(closure).detach())
        n_iter += 20
        if loss <= target:
            break
    return W.detach().numpy(), b.detach().numpy(), n_iter


def per_evaluation(X: np.ndarray, y: np.ndarray, C: float, repeats: int = 9) -> tuple[float, float]:
    """softreg's loss+gradient against a float32 GEMM of the same FLOP count.

    Returns ``(loss+gradient time, floor time)`` in seconds.
    The floor is the faster of the GEMM with BLAS's default threads and with one thread (on a
    loaded machine one thread can win). See :func:`block_median_times` for the timing.
    """
    from softreg._kernels import single_threaded_blas
    from softreg.objective import SoftmaxObjective

    n, d = X.shape
    k = int(y.max()) + 1
    obj = SoftmaxObjective(X, y, k, C=C)
    w = np.random.default_rng(0).normal(scale=0.01, size=obj.n_params).astype(np.float32)
    flops = 2 * 2 * n * d * k
    m = round((flops / 2) ** (1 / 3))
    A = np.ones((m, m), np.float32)

    def gemm_one_thread() -> None:
        with single_threaded_blas():
            A @ A

    t_eval, t_gemm, t_gemm1 = block_median_times(
        [lambda: obj.loss_grad(w), lambda: A @ A, gemm_one_thread], repeats
    )
    floor = min(t_gemm, t_gemm1)
    print(
        f"\nper evaluation ({n}x{d}, {k} classes, {flops / 1e9:.2f} GFLOP): loss+grad "
        f"{t_eval * 1e3:.1f} ms; floor = float32 GEMM {m}^3: {t_gemm * 1e3:.1f} ms (default "
        f"threads), {t_gemm1 * 1e3:.1f} ms (1 thread), {2 * m**3 / floor / 1e9:.0f} GFLOP/s"
    )
    print(f"loss+grad / floor = {t_eval / floor:.2f} (target <= 2.5)")
    from wide_pass import per_direction, print_per_direction

    print_per_direction(per_direction(X, y), floor)
    return t_eval, floor


RSS_CHILD = """
import sys, numpy as np
sys.path.insert(0, {bench_dir!r})
from _common import load_fashion_mnist, rss_kib, reset_peak_rss
from softreg import SoftmaxRegression
X, y = load_fashion_mnist("train")
X = np.ascontiguousarray(X[: {n}]); y = y[: {n}]
reset_peak_rss()
start = rss_kib("VmRSS")
# A fit on 64 rows first: it imports numba and loads (or compiles) the passes, a fixed cost.
SoftmaxRegression(C=1.0, input_scale=1 / 255, max_iter=2).fit(X[:64], y[:64])
peak_load = rss_kib("VmHWM")
reset_peak_rss()
before = rss_kib("VmRSS")
SoftmaxRegression(C=1.0, input_scale=1 / 255).fit(X, y)
peak_fit = rss_kib("VmHWM")
print(X.nbytes, start * 1024, max(peak_load, peak_fit) * 1024, (peak_fit - before) * 1024)
"""


def _rss_child(n: int, cache_dir: str | None) -> tuple[int, int, int]:
    """``(data bytes, peak growth, growth of the full fit alone)`` from a fresh process."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    code = RSS_CHILD.format(bench_dir=str(Path(__file__).parent), n=n)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    data, start, peak, fit_only = (int(v) for v in out[-4:])
    return data, peak - start, fit_only


def peak_rss(n: int) -> None:
    """Peak RSS growth of a fit from uint8 pixels, measured in fresh child processes.

    Twice: once with softreg's compiled passes already in numba's on-disk cache (the state
    after the first fit on a machine; this process compiles them first), once with an empty
    cache, where the child compiles them (a one-time cost per machine and input dtype).
    """
    from softreg import SoftmaxRegression

    if "input_scale" not in SoftmaxRegression().get_params():
        print("\npeak RSS: SoftmaxRegression has no input_scale (uint8 fit) in this build")
        return
    if not Path("/proc/self/clear_refs").exists():
        print("\npeak RSS: needs Linux's /proc/self/clear_refs to reset the peak; skipped")
        return
    Xu, y = load_fashion_mnist("test")  # compiles the uint8 passes into the disk cache
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=2 does not converge, by design
        SoftmaxRegression(C=1.0, input_scale=1 / 255, max_iter=2).fit(Xu[:64], y[:64])
    data, growth, fit_only = _rss_child(n, None)
    with tempfile.TemporaryDirectory() as empty:
        _, growth_cold, _ = _rss_child(n, empty)
    mib = 2**20
    print(
        f"\npeak RSS of a fit from uint8 pixels, fresh process, data {data / mib:.0f} MiB loaded: "
        f"+{growth / mib:.0f} MiB (target <= 150 MiB)\n"
        f"  of which the fit itself +{fit_only / mib:.0f} MiB; the rest is numba and the "
        f"compiled passes (from numba's disk cache)\n"
        f"  first fit on a machine (compiles the passes): +{growth_cold / mib:.0f} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="15000 rows, one run")
    parser.add_argument("--solvers", default="lbfgs", help="extra softreg solvers, comma-sep.")
    parser.add_argument(
        "--suite", action="store_true", help="the seven-problem suite (fit_suite.py) only"
    )
    args = parser.parse_args(argv)
    if args.suite:
        from fit_suite import run_suite

        return 0 if run_suite(fit_sklearn, fit_softreg) else 1
    C = 1.0
    Xu, y = load_fashion_mnist("train")
    Xu_test, y_test = load_fashion_mnist("test")
    repeats = 1 if args.quick else args.repeats
    if args.quick:
        Xu, y = Xu[:15000], y[:15000]
    X = (Xu / np.float32(255)).astype(np.float32)
    X64 = Xu / 255.0
    X_test = (Xu_test / np.float32(255)).astype(np.float32)

    contenders: dict[str, Any] = {
        "sklearn lbfgs": lambda: fit_sklearn("lbfgs", X, y, C),
        "sklearn newton-cg": lambda: fit_sklearn("newton-cg", X, y, C),
        "softreg default": lambda: fit_softreg("auto", X, y, C),
    }
    for solver in filter(None, args.solvers.split(",")):
        contenders[f"softreg {solver}"] = lambda s=solver: fit_softreg(s, X, y, C)
    results: dict[str, list[tuple[float, Any]]] = {name: [] for name in contenders}
    with warnings.catch_warnings():  # compile (or load) softreg's passes outside the timings
        warnings.simplefilter("ignore")
        fit_softreg("auto", X[:64], y[:64], C)
    for _ in range(repeats):
        for name, fit in contenders.items():  # interleaved: load drifts hit everyone
            start = time.perf_counter()
            out = fit()
            results[name].append((time.perf_counter() - start, out))
            print(f"  run {len(results[name])}: {name} {results[name][-1][0]:.2f} s", flush=True)
    rows = {}
    for name, runs in results.items():
        coef, intercept, n_iter = runs[-1][1]
        f = objective64(X64, y, C, coef, intercept)
        acc = float(
            np.mean(np.argmax(X_test @ np.asarray(coef, np.float32).T + intercept, 1) == y_test)
        )
        rows[name] = (float(np.median([t for t, _ in runs])), f, n_iter, acc)
    f_target = min(rows["sklearn lbfgs"][1], rows["sklearn newton-cg"][1])
    try:
        import torch

        torch.set_num_threads(2)
        start = time.perf_counter()
        coef, intercept, n_iter = fit_torch_until(X, y, C, rows["sklearn lbfgs"][1])
        f = objective64(X64, y, C, coef, intercept)
        rows["torch LBFGS (to f_lbfgs)"] = (time.perf_counter() - start, f, n_iter, float("nan"))
    except ImportError:
        pass

    print(
        f"Fashion-MNIST train {X.shape[0]}x{X.shape[1]} float32, C={C:g}, median of "
        f"{repeats} interleaved run(s)\n"
    )
    print(f"{'contender':<28} {'time s':>8} {'objective':>11} {'iter':>5} {'test acc':>8}")
    for name, (t, f, n_iter, acc) in rows.items():
        print(f"{name:<28} {t:8.2f} {f:11.7f} {n_iter:5d} {acc:8.4f}")
    f_soft = rows["softreg default"][1]
    ok = f_soft <= f_target * (1 + 1e-6)
    print(f"\nsoftreg default objective {f_soft:.7f} <= min(sklearn) {f_target:.7f}: {ok}")
    t_eval, floor = per_evaluation(X, y, C)
    peak_rss(X.shape[0])
    if not args.quick:
        missed_targets(rows, X, y, C, t_eval, floor)
    t_soft = rows["softreg default"][0]
    print(
        f"\nlbfgs_time / softreg_time     = {rows['sklearn lbfgs'][0] / t_soft:6.2f} (target >= 20)"
    )
    print(
        f"newton_time / softreg_time    = {rows['sklearn newton-cg'][0] / t_soft:6.2f} "
        "(target >= 10)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

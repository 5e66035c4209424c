"""Sparse, high-dimensional fits: softreg's default against scikit-learn, in one process.

Run: ``python benchmarks/bench_sparse.py [--quick] [--problems 20ng,onehot,fmnist-csr]``.

Three problems, each fitted (interleaved, same process, same X) by softreg's default
(``SoftmaxRegression(C=C)``: newton-cg, its preconditioner chosen by X's shape) and by
scikit-learn's ``LogisticRegression(C=C, tol=1e-4)`` with ``solver="newton-cg"`` and
``"lbfgs"``; every result is scored by one shared float64 objective
``mean log-loss + ||W||^2 / (2 C n)``:

- ``20ng``: the 20-newsgroups shape (synthetic, seeded): 11314 x 130107, ~55 stored entries per
  row, columns drawn from a Zipf law (30% of each row from a class's own 3000-word topic),
  every column used at least once, tf-idf weighted, rows L2-normalised, 20 classes, C = 10;
- ``onehot``: 20 categorical features with Zipf-distributed category frequencies (~5000 levels
  each, ~10^5 one-hot columns), 10 classes drawn from a sparse true model, C = 1;
- ``fmnist-csr``: real Fashion-MNIST (60000 x 784, pixels / 255, ~50% zeros) as float32 CSR,
  if it is on this machine (no download), C = 1.

Peak memory: one more softreg fit per problem under ``tracemalloc`` (NumPy and SciPy
allocations; numba's few per-row scratch vectors are not counted), reported as the fit's peak
over what was allocated before it, next to the size of X and the target ``2 * X + 200 MB``
(the fit's peak plus X itself must stay within it). The machine this runs on may be shared:
compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp

MB = 2**20


def newsgroups_shaped(seed: int = 0, n: int = 11314, d: int = 130107, k: int = 20) -> Any:
    """A seeded tf-idf matrix of the 20-newsgroups shape, and its labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    lens = np.maximum(1, rng.poisson(53 * 1.15, n))  # ~53 distinct words after duplicates
    rows = np.repeat(np.arange(n), lens)
    p_word = 1.0 / np.arange(1, d + 1) ** 1.1
    p_word /= p_word.sum()
    topic_size = 3000
    topics = np.stack([rng.choice(d, topic_size, replace=False) for _ in range(k)])
    p_topic = 1.0 / np.arange(1, topic_size + 1)
    p_topic /= p_topic.sum()
    cols = rng.choice(d, len(rows), p=p_word)
    own = rng.random(len(rows)) < 0.3
    cols[own] = topics[y[rows[own]], rng.choice(topic_size, int(own.sum()), p=p_topic)]
    # A vectorizer fitted on the corpus has no empty column: each unused word goes into one
    # random document (~60000 of them; the rows then hold ~55 distinct words on average).
    unused = np.setdiff1d(np.arange(d), cols)
    rows = np.concatenate([rows, rng.integers(0, n, len(unused))])
    cols = np.concatenate([cols, unused])
    X = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    df = np.bincount(X.indices, minlength=d)
    idf = np.log((1 + n) / (1 + df)) + 1
    X.data = np.log1p(X.data) * idf[X.indices]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    return (sp.diags(1 / np.maximum(norms, 1e-12)) @ X).tocsr(), y


def one_hot(
    seed: int = 0, n: int = 200_000, n_cat: int = 20, levels: int = 5000, k: int = 10
) -> Any:
    """One-hot encoded categorical data (Zipf level frequencies) and labels of a true model."""
    rng = np.random.default_rng(seed)
    p_level = 1.0 / np.arange(1, levels + 1) ** 1.2
    p_level /= p_level.sum()
    codes = rng.choice(levels, size=(n, n_cat), p=p_level)
    cols = codes + levels * np.arange(n_cat)
    effects = rng.standard_normal((n_cat * levels, k)) * 0.7
    logits = effects[cols].sum(axis=1)
    gumbel = -np.log(-np.log(rng.random((n, k))))
    y = np.argmax(logits + gumbel, axis=1)
    X = sp.csr_matrix(
        (np.ones(n * n_cat), cols.ravel(), np.arange(0, n * n_cat + 1, n_cat)),
        shape=(n, n_cat * levels),
    )
    used = np.unique(X.indices)  # drop levels never drawn, as an encoder fitted on X would
    remap = np.full(n_cat * levels, -1)
    remap[used] = np.arange(len(used))
    X = sp.csr_matrix((X.data, remap[X.indices], X.indptr), shape=(n, len(used)))
    return X, y


def fashion_mnist_csr() -> Any:
    path = Path("/usr/share/datasets/fashion-mnist")
    if not (path / "train-images-idx3-ubyte.gz").exists():
        return None
    from softreg.datasets import read_idx

    images = read_idx(path / "train-images-idx3-ubyte.gz").reshape(60000, -1)
    labels = read_idx(path / "train-labels-idx1-ubyte.gz").astype(np.intp)
    return sp.csr_matrix(images.astype(np.float32) / np.float32(255)), labels


def objective64(X: Any, y: Any, C: float, coef: Any, intercept: Any) -> float:
    """The shared float64 yardstick: mean log-loss + ||W||^2 / (2 C n)."""
    coef = np.asarray(coef, np.float64)
    z = np.asarray(X.astype(np.float64) @ coef.T) + np.asarray(intercept, np.float64)
    data = np.mean(logsumexp(z, axis=1) - z[np.arange(len(y)), y])
    return float(data + np.sum(coef**2) / (2 * C * len(y)))


def fit_softreg(X: Any, y: Any, C: float) -> Any:
    from softreg import SoftmaxRegression

    m = SoftmaxRegression(C=C).fit(X, y)
    precond = m.history_[-1].get("preconditioner", "-") if m.history_ else "-"
    return m.coef_, m.intercept_, f"{m.n_iter_} it, {precond}"


def fit_sklearn(solver: str) -> Callable[[Any, Any, float], Any]:
    def fit(X: Any, y: Any, C: float) -> Any:
        from sklearn.linear_model import LogisticRegression

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a ConvergenceWarning shows in n_iter
            m = LogisticRegression(C=C, tol=1e-4, max_iter=1000, solver=solver).fit(X, y)
        return m.coef_, m.intercept_, f"{int(np.max(m.n_iter_))} it"

    return fit


def x_bytes(X: Any) -> int:
    return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)


def peak_fit_bytes(fit: Callable[[Any, Any, float], Any], X: Any, y: Any, C: float) -> int:
    """Peak bytes NumPy/SciPy allocated during ``fit`` beyond what was held before it."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    try:
        fit(X, y, C)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def run_problem(name: str, X: Any, y: Any, C: float, repeats: int, memory: bool) -> None:
    contenders = {
        "softreg default": fit_softreg,
        "sklearn newton-cg": fit_sklearn("newton-cg"),
        "sklearn lbfgs": fit_sklearn("lbfgs"),
    }
    print(
        f"\n== {name}: X {X.shape[0]} x {X.shape[1]}, {X.nnz / X.shape[0]:.1f} stored per row, "
        f"{X.dtype}, {len(np.unique(y))} classes, C = {C}, X = {x_bytes(X) / MB:.1f} MB"
    )
    fit_softreg(X[:64], y[:64], C)  # compile (or load) the passes outside the timings
    times: dict[str, list[float]] = {c: [] for c in contenders}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for label, fit in contenders.items():
            t0 = time.perf_counter()
            results[label] = fit(X, y, C)
            times[label].append(time.perf_counter() - t0)
    f = {label: objective64(X, y, C, r[0], r[1]) for label, r in results.items()}
    t = {label: float(np.median(v)) for label, v in times.items()}
    best_sk = min(("sklearn newton-cg", "sklearn lbfgs"), key=lambda c: t[c])
    print(
        f"{'fit':<20}{'seconds':>9}{'(min-max)':>14}{'objective':>16}{'f - f_sk_ncg':>14}"
        "  ratio  notes"
    )
    for label in contenders:
        ratio = t[label] / t["softreg default"]
        print(
            f"{label:<20}{t[label]:>9.2f}{f'({min(times[label]):.2f}-{max(times[label]):.2f})':>14}"
            f"{f[label]:>16.9f}{f[label] - f['sklearn newton-cg']:>14.2e}"
            f"  {ratio:5.2f}x  {results[label][2]}"
        )
    print(
        f"softreg default is {t['sklearn newton-cg'] / t['softreg default']:.2f}x faster than "
        f"sklearn newton-cg and {t[best_sk] / t['softreg default']:.2f}x faster than sklearn's "
        f"best ({best_sk}); objective {'<=' if f['softreg default'] <= f['sklearn newton-cg'] else '>'} "
        "sklearn newton-cg's"
    )
    if memory:
        peak = peak_fit_bytes(fit_softreg, X, y, C)
        peak_sk = peak_fit_bytes(fit_sklearn("newton-cg"), X, y, C)
        target = 2 * x_bytes(X) + 200 * MB
        print(
            f"peak memory of the fit (tracemalloc): softreg {peak / MB:.1f} MB, sklearn "
            f"newton-cg {peak_sk / MB:.1f} MB; X + softreg's peak = "
            f"{(x_bytes(X) + peak) / MB:.1f} MB against the target 2 X + 200 MB = "
            f"{target / MB:.1f} MB: {'met' if x_bytes(X) + peak <= target else 'MISSED'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller one-hot problem, no repeats")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--problems", default="20ng,onehot,fmnist-csr")
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    chosen = args.problems.split(",")
    if "20ng" in chosen:
        X, y = newsgroups_shaped()
        run_problem("20-newsgroups shape", X, y, 10.0, args.repeats, not args.no_memory)
    if "onehot" in chosen:
        X, y = one_hot(n=50_000 if args.quick else 200_000)
        run_problem("one-hot", X, y, 1.0, args.repeats, not args.no_memory)
    if "fmnist-csr" in chosen:
        data = fashion_mnist_csr()
        if data is None:
            print("\n== fmnist-csr: Fashion-MNIST not on this machine; skipped (no download)")
        else:
            X, y = data
            if args.quick:
                X, y = X[:15000], y[:15000]
            run_problem("Fashion-MNIST as CSR (real)", X, y, 1.0, args.repeats, not args.no_memory)


if __name__ == "__main__":
    main()

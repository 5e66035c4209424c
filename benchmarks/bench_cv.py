"""Time ``SoftmaxRegressionCV`` against scikit-learn's ``LogisticRegressionCV`` on Fashion-MNIST.

Run: ``python benchmarks/bench_cv.py [--quick] [--skip-converged]``.

Both sides fit, in this one process, the same float32 ``X = pixels / 255`` (60000 x 784, or
the first 15000 rows with ``--quick``), the same grid ``Cs = logspace(-4, 4, 10)`` (scikit-learn's
``Cs=10``) and the same five ``StratifiedKFold`` folds (scikit-learn's ``cv=5``), scored by the
validation log-loss:

* ``LogisticRegressionCV`` with its defaults (lbfgs, ``tol=1e-4``, ``max_iter=100``), and again
  with ``max_iter=1000`` so that it converges (its ConvergenceWarnings are counted);
* ``SoftmaxRegressionCV`` (newton-cg, ``tol=1e-4``), the whole path and with ``early_stopping``;
* one default ``SoftmaxRegression().fit`` (C = 1) on the same rows: the unit of the path's cost.

scikit-learn runs with one BLAS thread (see ``run_sklearn``), softreg with its own pass threads
(two on this machine), each pass on single-threaded BLAS.

It prints the times and their ratios, each C's mean validation log-loss side by side, the
chosen C and the refit model's accuracy on the 10000 test images.

The log-loss compared is one function for both sides: each fold's coefficients at each C
(``coefs_paths_``) scored on the fold's validation rows in float64 with an exact log-sum-exp
(:func:`validation_log_loss`). Each side's own ``scores_`` are not comparable: scikit-learn's
``neg_log_loss`` scorer clips the probabilities of a float32 model at float32's epsilon, which
lowers the loss of over-confident weak-penalty models (on 3000 rows at C = 167: 1.4718 reported
where its coefficients' log-loss is 1.4943); softreg scores exact log-probabilities.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
GRID = np.logspace(-4, 4, 10)


def load(split: str) -> tuple[np.ndarray, np.ndarray]:
    """float32 pixels / 255 of shape (n, 784) and int labels (Debian's copy, else the loader)."""
    from softreg.datasets import load as load_dataset
    from softreg.datasets import read_idx

    prefix = "train" if split == "train" else "t10k"
    if (DEBIAN / f"{prefix}-images-idx3-ubyte.gz").exists():
        images = read_idx(DEBIAN / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(DEBIAN / f"{prefix}-labels-idx1-ubyte.gz")
    else:
        images, labels = load_dataset("fashion-mnist", split, progress=False)
    X = (images.reshape(len(images), -1) / np.float32(255)).astype(np.float32)
    return X, labels.astype(np.intp)


def validation_log_loss(
    X: np.ndarray, y: np.ndarray, folds: list[Any], paths: np.ndarray
) -> np.ndarray:
    """Mean over the folds of the validation log-loss of ``paths`` (n_folds, n_Cs, k, d + 1).

    float64 logits ``X W^T + b`` and ``logsumexp(z) - z_y`` per row: no clipping.
    """
    from scipy.special import logsumexp

    out = np.full(paths.shape[:2], np.nan)
    for f, (_, test) in enumerate(folds):
        Xt = X[test].astype(np.float64)
        rows = np.arange(len(test))
        for j in range(paths.shape[1]):
            W = np.asarray(paths[f, j], dtype=np.float64)
            if np.isnan(W).any():  # a C the early-stopped path did not fit
                continue
            z = Xt @ W[:, :-1].T + W[:, -1]
            out[f, j] = np.mean(logsumexp(z, axis=1) - z[rows, y[test]])
    return out.mean(axis=0)


def run_sklearn(X: np.ndarray, y: np.ndarray, folds: list[Any], **params: Any) -> dict[str, Any]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegressionCV
    from threadpoolctl import threadpool_limits

    model = LogisticRegressionCV(
        Cs=GRID,
        cv=folds,
        scoring="neg_log_loss",
        l1_ratios=(0.0,),
        use_legacy_attributes=False,
        **params,
    )
    # One BLAS thread, as softreg's passes use: on this shared 2-core machine OpenBLAS's own
    # threads made one LogisticRegression fit (1500 rows) take 22 s instead of 1.2 s.
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1):
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    n_warn = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    scores = np.asarray(model.scores_).reshape(len(folds), -1)
    paths = np.asarray(model.coefs_paths_)[:, 0]  # (n_folds, n_Cs, k, d + 1): l1_ratio 0
    return {
        "model": model,
        "seconds": seconds,
        "log_loss": validation_log_loss(X, y, folds, paths),
        "own_log_loss": -scores.mean(axis=0),
        "C": float(np.ravel(model.C_)[0]),
        "convergence_warnings": n_warn,
    }


def run_softreg(X: np.ndarray, y: np.ndarray, folds: list[Any], **params: Any) -> dict[str, Any]:
    from softreg import SoftmaxRegressionCV

    model = SoftmaxRegressionCV(Cs=GRID, cv=folds, **params)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    return {
        "model": model,
        "seconds": seconds,
        "log_loss": validation_log_loss(X, y, folds, model.coefs_paths_),
        "own_log_loss": model.cv_results_["mean_test_log_loss"],
        "C": float(model.C_),
        "convergence_warnings": 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first 15000 training rows")
    parser.add_argument(
        "--skip-converged", action="store_true", help="leave out LogisticRegressionCV converged"
    )
    parser.add_argument("--rows", type=int, help="the first ROWS training rows (a smoke run)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    from sklearn.model_selection import StratifiedKFold

    from softreg import SoftmaxRegression

    X, y = load("train")
    X_test, y_test = load("test")
    rows = args.rows or (15000 if args.quick else None)
    if rows:
        X, y = X[:rows], y[:rows]
    folds = list(StratifiedKFold(5).split(X, y))
    print(f"Fashion-MNIST: {X.shape[0]} x {X.shape[1]} float32, 5 folds, Cs = logspace(-4, 4, 10)")

    # Numba compiles the passes on the first fit: not part of any timing below.
    SoftmaxRegression().fit(X[:64], y[:64])
    start = time.perf_counter()
    single = SoftmaxRegression().fit(X, y)
    t_single = time.perf_counter() - start
    print(f"one default SoftmaxRegression fit (C=1): {t_single:.1f} s, {single.n_iter_} iterations")

    runs: dict[str, dict[str, Any]] = {}
    runs["softreg"] = run_softreg(X, y, folds)
    print(f"SoftmaxRegressionCV: {runs['softreg']['seconds']:.1f} s", flush=True)
    runs["softreg early stop"] = run_softreg(X, y, folds, early_stopping=True)
    print(
        f"SoftmaxRegressionCV(early_stopping=True): {runs['softreg early stop']['seconds']:.1f} s"
    )
    runs["sklearn default"] = run_sklearn(X, y, folds)
    print(f"LogisticRegressionCV default: {runs['sklearn default']['seconds']:.1f} s", flush=True)
    if not args.skip_converged:
        runs["sklearn converged"] = run_sklearn(X, y, folds, max_iter=1000)
        print(f"LogisticRegressionCV max_iter=1000: {runs['sklearn converged']['seconds']:.1f} s")

    ours = runs["softreg"]
    print("\nTimes (s) and ratios (rival time / SoftmaxRegressionCV time)")
    print(
        f"{'contender':<28}{'seconds':>10}{'x whole path':>14}{'x early stop':>14}{'warnings':>10}"
    )
    for name, run in runs.items():
        print(
            f"{name:<28}{run['seconds']:>10.1f}{run['seconds'] / ours['seconds']:>14.2f}"
            f"{run['seconds'] / runs['softreg early stop']['seconds']:>14.2f}"
            f"{run['convergence_warnings']:>10d}"
        )
    print(
        f"whole path / one default fit: {ours['seconds'] / t_single:.2f}; with early stopping: "
        f"{runs['softreg early stop']['seconds'] / t_single:.2f}"
    )

    print(
        "\nMean validation log-loss per C (5 folds; each side's fold coefficients, one exact scorer)"
    )
    names = list(runs)
    sk = [n for n in names if n.startswith("sklearn")]
    print(
        f"{'C':>10}"
        + "".join(f"{n:>20}" for n in names)
        + "".join(f"{'softreg - ' + n[8:]:>24}" for n in sk)
    )
    for j, C in enumerate(GRID):
        row = [runs[n]["log_loss"][j] for n in names]
        print(
            f"{C:>10.4g}"
            + "".join(f"{v:>20.6f}" for v in row)
            + "".join(f"{ours['log_loss'][j] - runs[n]['log_loss'][j]:>24.2e}" for n in sk)
        )
    print(
        "\nlargest |own scores_ - exact| per contender (scikit-learn clips float32 probabilities)"
    )
    for name, run in runs.items():
        gap = np.abs(np.asarray(run["own_log_loss"]) - run["log_loss"])
        print(f"{name:<28} {np.nanmax(gap):.2e}")
    print("\nchosen C and refit test accuracy")
    for name, run in runs.items():
        acc = float(np.mean(run["model"].predict(X_test) == y_test))
        run["test_accuracy"] = acc
        print(f"{name:<28} C = {run['C']:<10.4g} test accuracy = {acc:.4f}")
    if args.json:
        figures = {
            name: {
                k: (v.tolist() if isinstance(v, np.ndarray) else v)
                for k, v in run.items()
                if k != "model"
            }
            for name, run in runs.items()
        }
        figures["single_fit_seconds"] = {"seconds": t_single}
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

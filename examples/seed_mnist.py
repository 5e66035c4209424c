"""The seed notes' experiment, written properly: softmax regression on MNIST-format data.

The notes trained softmax regression with mini-batch SGD (learning rate 0.06, batches of 200,
stopping when the epoch cost improves by less than 0.0005), then refined the result with L-BFGS,
and printed train and test error rates. Here both stages are one estimator each; the second
starts from the first's weights (``warm_start``).

Usage::

    python examples/seed_mnist.py [--data-dir DIR] [--C 1.0] [--float32] [--limit N]

``DIR`` holds ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` (MNIST or Fashion-MNIST);
the default is Debian's Fashion-MNIST package.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from softreg import SoftmaxRegression
from softreg.datasets import read_idx

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")


def load_split(data_dir: Path, split: str, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Images scaled to [0, 1] as (n, 784) rows, and integer labels."""

    def find(stem: str) -> Path:
        for name in (f"{stem}.gz", stem):
            if (data_dir / name).exists():
                return data_dir / name
        raise FileNotFoundError(f"{stem}[.gz] not found in {data_dir}")

    images = read_idx(find(f"{split}-images-idx3-ubyte"))
    labels = read_idx(find(f"{split}-labels-idx1-ubyte"))
    X = images.reshape(len(images), -1).astype(dtype) / dtype(255)
    return X, labels.astype(np.int64)


def error_rate(model: SoftmaxRegression, X: np.ndarray, y: np.ndarray) -> float:
    return 1.0 - float(model.score(X, y))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--C", type=float, default=1.0, help="inverse L2 strength (default 1)")
    parser.add_argument("--float32", action="store_true", help="train in float32")
    parser.add_argument("--limit", type=int, default=None, help="use the first N train images")
    args = parser.parse_args(argv)
    dtype = np.float32 if args.float32 else np.float64
    X_train, y_train = load_split(args.data_dir, "train", dtype)
    X_train, y_train = X_train[: args.limit], y_train[: args.limit]
    X_test, y_test = load_split(args.data_dir, "t10k", dtype)

    # Stage 1: the notes' mini-batch SGD and stop rule.
    model = SoftmaxRegression(
        C=args.C,
        solver="sgd",
        learning_rate=0.06,
        batch_size=200,
        tol=0.0005,
        max_iter=200,
        init="xavier",
        random_state=0,
        warm_start=True,
    )
    start = time.perf_counter()
    model.fit(X_train, y_train)
    print(
        f"SGD     {int(model.n_iter_[0]):4d} epochs  {time.perf_counter() - start:7.2f} s  "
        f"cost {model.history_[-1]['loss']:.6f}  "
        f"train error {error_rate(model, X_train, y_train):.4f}  "
        f"test error {error_rate(model, X_test, y_test):.4f}"
    )

    # Stage 2: L-BFGS from the SGD weights, to the optimum of the same objective.
    model.set_params(solver="lbfgs", tol=1e-5, max_iter=1000)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    print(
        f"L-BFGS  {int(model.n_iter_[0]):4d} iters   {time.perf_counter() - start:7.2f} s  "
        f"cost {model.history_[-1]['loss']:.6f}  "
        f"train error {error_rate(model, X_train, y_train):.4f}  "
        f"test error {error_rate(model, X_test, y_test):.4f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""One epoch of a (256,) ReLU network on Fashion-MNIST, batch 128, Adam(1e-3): softreg vs PyTorch vs
scikit-learn, in the same process, at 1 and 2 BLAS/torch threads.

    .venv/bin/python benchmarks/bench_mlp.py [--threads 1 2] [--repeats 3] [--data-dir DIR]
    .venv/bin/python benchmarks/bench_mlp.py --accuracy

``--accuracy`` instead chooses the CLI's Fashion-MNIST network: each candidate trains 20 epochs on
50,000 training images and is scored on the other 10,000 (never on the test set); then
``FASHION_MNIST_DEFAULTS`` (set to the winner) trains on all 60,000 and its test accuracy is
reported once (``--no-select`` runs only that last step). softreg's training loop runs its
small-batch products on one BLAS thread whatever the limit (see
``softreg.mlp.fitting.SINGLE_THREAD_BATCH_SIZE``), so its two rows differ only by noise.

Prints seconds per epoch (best of ``--repeats``) and the ratios softreg/torch and softreg/sklearn
(below 1 means softreg is faster). Needs real Fashion-MNIST (``$SOFTREG_DATA`` or
/usr/share/datasets/fashion-mnist); torch is optional.
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLP
from threadpoolctl import threadpool_limits

from softreg import MLPClassifier
from softreg.mlp import FASHION_MNIST_DEFAULTS

HIDDEN, BATCH, LR = 256, 128, 1e-3


def load_train(data_dir: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(data_dir / f"{split}-images-idx3-ubyte.gz") as f:
        X = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(data_dir / f"{split}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return (X / np.float32(255)).astype(np.float32), y


# Overrides of FASHION_MNIST_DEFAULTS tried when choosing it (--accuracy).
CANDIDATES: list[dict] = [
    {
        "hidden_layer_sizes": (256,),
        "batch_size": 128,
        "alpha": 0.0,
        "learning_rate_schedule": "constant",
    },
    {
        "hidden_layer_sizes": (256, 128),
        "batch_size": 128,
        "alpha": 0.0,
        "learning_rate_schedule": "constant",
    },
    {
        "hidden_layer_sizes": (512, 256),
        "batch_size": 128,
        "alpha": 0.0,
        "learning_rate_schedule": "constant",
    },
    {
        "hidden_layer_sizes": (512, 256),
        "batch_size": 64,
        "alpha": 0.0,
        "learning_rate_schedule": "constant",
    },
    {
        "hidden_layer_sizes": (512, 256),
        "batch_size": 128,
        "alpha": 1e-4,
        "learning_rate_schedule": "constant",
    },
    {"hidden_layer_sizes": (256, 128), "batch_size": 128, "learning_rate_schedule": "cosine"},
    {"hidden_layer_sizes": (512, 256), "batch_size": 64, "learning_rate_schedule": "cosine"},
]


def _fit(X: np.ndarray, y: np.ndarray, **params) -> MLPClassifier:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(**params).fit(X, y)


def accuracy(data_dir: Path, select: bool) -> None:
    X, y = load_train(data_dir)
    if select:
        order = np.random.default_rng(0).permutation(len(X))
        fit_rows, val_rows = order[:50000], order[50000:]
        scores = []
        for overrides in CANDIDATES:
            start = time.perf_counter()
            params = dict(FASHION_MNIST_DEFAULTS, **overrides, random_state=0)
            clf = _fit(X[fit_rows], y[fit_rows], **params)
            scores.append(clf.score(X[val_rows], y[val_rows]))
            print(
                f"{overrides}: validation accuracy {scores[-1]:.4f} after {clf.n_iter_} epochs "
                f"({time.perf_counter() - start:.1f} s)",
                flush=True,
            )
        best = CANDIDATES[int(np.argmax(scores))]
        print(f"chosen {best}; FASHION_MNIST_DEFAULTS is {FASHION_MNIST_DEFAULTS}")
    X_test, y_test = load_train(data_dir, "t10k")
    start = time.perf_counter()
    clf = _fit(X, y, **dict(FASHION_MNIST_DEFAULTS, random_state=0))
    print(
        f"FASHION_MNIST_DEFAULTS on all 60000 training images, {clf.n_iter_} epochs, "
        f"{time.perf_counter() - start:.1f} s: test accuracy {clf.score(X_test, y_test):.4f}"
    )


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def softreg_epoch(X: np.ndarray, y: np.ndarray) -> None:
    clf = MLPClassifier((HIDDEN,), batch_size=BATCH, learning_rate=LR, max_epochs=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)


def sklearn_epoch(X: np.ndarray, y: np.ndarray) -> None:
    clf = SkMLP(
        (HIDDEN,),
        batch_size=BATCH,
        learning_rate_init=LR,
        max_iter=1,
        alpha=0.0,
        shuffle=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)


def torch_epoch_factory(X: np.ndarray, y: np.ndarray):
    try:
        import torch
    except ImportError:
        return None
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def run() -> None:
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Linear(784, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10)
        )
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        loss_fn = torch.nn.CrossEntropyLoss()
        order = torch.randperm(len(Xt))
        for start in range(0, len(Xt), BATCH):
            rows = order[start : start + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[rows]), yt[rows])
            loss.backward()
            opt.step()

    return run, torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("SOFTREG_DATA", "/usr/share/datasets/fashion-mnist")),
    )
    parser.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn (slowest)")
    parser.add_argument("--accuracy", action="store_true", help="choose and score the CLI default")
    parser.add_argument("--no-select", action="store_true", help="--accuracy: only the test score")
    args = parser.parse_args()
    if args.accuracy:
        accuracy(args.data_dir, select=not args.no_select)
        return
    X, y = load_train(args.data_dir)
    print(
        f"Fashion-MNIST train {X.shape} float32; network 784-{HIDDEN}-10 ReLU, batch {BATCH}, "
        f"Adam({LR}); seconds per epoch, best of {args.repeats}"
    )
    torch_run = torch_epoch_factory(X, y)
    for threads in args.threads:
        with threadpool_limits(limits=threads):
            # Interleaved repeats, best of each: the machine may be shared, and load drifts.
            times: dict[str, list[float]] = {"softreg": [], "torch": []}
            for _ in range(args.repeats):
                times["softreg"].append(best_of(1, lambda: softreg_epoch(X, y)))
                if torch_run is not None:
                    run, torch = torch_run
                    torch.set_num_threads(threads)
                    times["torch"].append(best_of(1, run))
            t_ours = min(times["softreg"])
            line = f"threads={threads}: softreg {t_ours:.3f} s"
            if times["torch"]:
                t_torch = min(times["torch"])
                line += f" | torch {t_torch:.3f} s (softreg/torch = {t_ours / t_torch:.2f})"
            if not args.no_sklearn:
                t_sk = best_of(1, lambda: sklearn_epoch(X, y))
                line += f" | sklearn {t_sk:.3f} s (softreg/sklearn = {t_ours / t_sk:.2f})"
        print(line, flush=True)


if __name__ == "__main__":
    main()

"""Time mini-batch SGD epochs of softreg against PyTorch on real Fashion-MNIST.

Run: ``.venv/bin/python benchmarks/bench_sgd.py [--epochs 3] [--batch-size 256]``.
Both train softmax regression (C = 1, so weight decay ``1 / (C n)`` on the coefficients) with
plain SGD (learning rate 0.06) over the same float32 ``X = pixels / 255`` (60000 x 784),
shuffled batches of ``batch_size``; one epoch each, interleaved, ``epochs`` times. Prints the
median epoch times and the ratio softreg / torch (target <= 1), and each side's final
objective as a check that both did the same work.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import load_fashion_mnist, objective64


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=0.06)
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: nothing to compare with (pip install torch).")
        return 0
    from softreg.objective import SoftmaxObjective
    from softreg.optim import minimize_stochastic, sgd

    C, lr, bs = 1.0, args.learning_rate, args.batch_size
    Xu, y = load_fashion_mnist("train")
    X = (Xu / np.float32(255)).astype(np.float32)
    n, d = X.shape
    k = int(y.max()) + 1
    objective = SoftmaxObjective(X, y, k, C=C)
    w = np.zeros(objective.n_params, np.float32)
    state = None
    rng = np.random.default_rng(0)

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    model = torch.nn.Linear(d, k)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    opt = torch.optim.SGD(
        [{"params": [model.weight], "weight_decay": 1.0 / (C * n)}, {"params": [model.bias]}],
        lr=lr,
    )
    gen = torch.Generator().manual_seed(0)

    def softreg_epoch() -> None:
        nonlocal w, state
        res = minimize_stochastic(
            objective,
            w,
            sgd(lr),
            batch_size=bs,
            tol=0,
            max_iter=1,
            random_state=rng,
            state=state,
            warn=False,
        )
        w, state = res.x, res.state

    def torch_epoch() -> None:
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    default_threads = torch.get_num_threads()

    def torch_epoch_1() -> None:
        torch.set_num_threads(1)
        try:
            torch_epoch()
        finally:
            torch.set_num_threads(default_threads)

    contenders = {
        "softreg": softreg_epoch,
        f"torch ({default_threads} threads)": torch_epoch,
        "torch (1 thread)": torch_epoch_1,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.epochs):
        for name, epoch in contenders.items():
            start = time.perf_counter()
            epoch()
            times[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(t)) for name, t in times.items()}
    t_soft = medians.pop("softreg")
    t_torch = min(medians.values())
    coef, intercept = objective.unravel(w)
    f_soft = objective64(Xu / 255.0, y, C, coef, intercept)
    f_torch = objective64(
        Xu / 255.0, y, C, model.weight.detach().numpy(), model.bias.detach().numpy()
    )
    print(f"SGD epochs on Fashion-MNIST {n}x{d}, batch {bs}, lr {lr:g}, median of {args.epochs}")
    print(f"{'':<20} {'epoch s':>8} {'objective':>10}")
    print(f"{'softreg':<20} {t_soft:8.3f} {f_soft:10.5f}")
    for name, t in medians.items():
        print(f"{name:<20} {t:8.3f} {f_torch:10.5f}")
    print("(one torch model trained by both torch variants: its objective is after all epochs)")
    print(f"\nsoftreg / fastest torch epoch time = {t_soft / t_torch:.2f} (target <= 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

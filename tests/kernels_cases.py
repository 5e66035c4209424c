"""The small problem the kernel tests share: raw uint8 pixels, labels, weights, a model."""

from __future__ import annotations

import numpy as np


def make(n=50, d=6, k=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    Xu = rng.integers(0, 256, (n, d)).astype(np.uint8)
    y = rng.integers(0, k, n)
    sw = rng.uniform(0.2, 2.0, n)
    weight = (sw / sw.sum()).astype(dtype)
    coef = rng.standard_normal((k, d)).astype(dtype)
    intercept = rng.standard_normal(k).astype(dtype)
    return Xu, y, weight, coef, intercept

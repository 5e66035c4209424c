"""Data and a fitted model for the tests of `softreg.stats.summary` and its parts.

Imported by tests/test_stats.py, tests/test_summary_parametrization.py and
tests/test_summary_result.py (``fitted`` is module-scoped in each module that uses it).
"""

from __future__ import annotations

import numpy as np
import pytest

from softreg import SoftmaxRegression

sm = pytest.importorskip("statsmodels.api")


def softmax_data(seed=0, n=500, d=3, k=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(scale=0.5, size=(k, d))
    logits = X @ W.T
    proba = np.exp(logits - logits.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    y = np.array([rng.choice(k, p=p) for p in proba])
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = softmax_data()
    model = SoftmaxRegression(C=np.inf, tol=1e-12, max_iter=200).fit(X, y)
    mnlogit = sm.MNLogit(y, sm.add_constant(X))
    return X, y, model, mnlogit


def rel_error(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b))))

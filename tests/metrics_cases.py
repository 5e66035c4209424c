"""Random probability rows and labels for the tests of `softreg.metrics`.

Imported by tests/test_metrics_calibration.py and tests/test_metrics_scoring.py.
"""

from __future__ import annotations

import numpy as np

from softreg.functional import softmax


def random_case(seed, n=300, k=4):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, k))
    proba = softmax(logits, axis=1)
    # Labels drawn from a sharper distribution: the model is under-confident there.
    y = np.array([rng.choice(k, p=softmax(2 * z)) for z in logits])
    return y, proba, logits

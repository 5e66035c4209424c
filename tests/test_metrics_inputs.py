"""The metrics' input checks (softreg._metrics_inputs): each bad input is named."""

from __future__ import annotations

import numpy as np
import pytest

from softreg import metrics


@pytest.mark.parametrize(
    ("y", "proba", "kwargs", "match"),
    [
        ([0, 1], [[0.5, 0.5]], {}, "1 rows"),
        ([0], [[2.0, -1.0]], {}, "logits"),
        ([0], [[0.5, 0.6]], {}, "sum to 1"),
        ([0], [[np.nan, 1.0]], {}, "finite"),
        (["a"], [[0.5, 0.5]], {}, "labels=model.classes_"),
        ([2], [[0.5, 0.5]], {}, r"\[0, 1\]"),
        (["c"], [[0.5, 0.5]], {"labels": ["a", "b"]}, "not in labels"),
        ([0], [[0.5, 0.5]], {"n_bins": 0}, "n_bins"),
        ([0], [[0.5, 0.5]], {"strategy": "width"}, "strategy"),
        ([0], [[0.5, 0.5]], {"sample_weight": [-1.0]}, "non-negative"),
        ([0], [0.5, 0.5], {}, "shape"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(y, proba, kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.expected_calibration_error(y, np.asarray(proba), **kwargs)

"""The result of `softreg.stats.summary` (softreg._summary_result): names, table and text."""

from __future__ import annotations

import numpy as np
import pytest

from softreg import SoftmaxRegression
from softreg.stats import summary
from stats_cases import softmax_data


def test_string_labels_feature_names_and_outputs():
    pd = pytest.importorskip("pandas")
    X, y = softmax_data(seed=2, n=300, d=2, k=3)
    frame = pd.DataFrame(X, columns=["age", "dose"])
    labels = np.array(["a", "b", "c"])[y]
    model = SoftmaxRegression(C=np.inf, tol=1e-12).fit(frame, labels)
    result = summary(model, frame, labels, reference="b", alpha=0.1)
    assert result.terms == ["intercept", "age", "dose"]
    assert result.equations == ["a", "c"]
    table = result.to_frame()
    assert list(table.index[0]) == ["a", "intercept"]
    assert list(table.columns) == ["coef", "std err", "z", "P>|z|", "[0.05", "0.95]"]
    np.testing.assert_allclose(table["std err"].to_numpy(), result.bse.ravel())
    text = str(result)
    assert "class=c" in text
    assert f"{result.llf:.6g}" in text
    assert "baseline (ref 'b')" in text

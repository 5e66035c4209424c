"""Model files and checkpoints written by softreg before the persistence refactor still load.

The fixtures in ``tests/fixtures/`` were written by commit 023458b (see
``tests/fixtures/make_legacy_files.py``, which also holds the data and parameters used).
"""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax
from sklearn.exceptions import ConvergenceWarning

from softreg import MLPClassifier, SoftmaxRegression, load
from softreg.checkpoint import load_checkpoint
from softreg.io import read_header

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from make_legacy_files import MLP, SOFTMAX_NEWTON, SOFTMAX_SGD, legacy_data  # noqa: E402

sys.path.remove(str(FIXTURES))


def test_legacy_softmax_model_file_loads_and_predicts_from_its_arrays() -> None:
    path = FIXTURES / "legacy_softmax_model.npz"
    model = load(path)
    assert isinstance(model, SoftmaxRegression)
    assert model.C == 2.0
    assert read_header(path)["metadata"] == {"n": 60}
    X, y = legacy_data()
    with np.load(path, allow_pickle=False) as raw:  # the arrays as written, not through softreg
        coef, intercept, classes = raw["coef_"], raw["intercept_"], raw["classes_"]
    np.testing.assert_array_equal(model.coef_, coef)
    np.testing.assert_allclose(
        model.predict_proba(X), scipy_softmax(X @ coef.T + intercept, axis=1)
    )
    np.testing.assert_array_equal(model.classes_, classes)
    # The legacy file holds the model a fit gives today, to the fit's tolerance: both stop
    # at max|grad| <= 1e-4, and the solver's path (its preconditioner) may change between
    # versions (the exact leading block of softreg._kernels.subspace moved it by 4e-5).
    refit = SoftmaxRegression(C=2.0).fit(X, y)
    np.testing.assert_allclose(model.coef_, refit.coef_, rtol=2e-4, atol=1e-6)


def test_legacy_mlp_model_file_loads_and_matches_a_refit() -> None:
    model = load(FIXTURES / "legacy_mlp_model.npz")
    assert isinstance(model, MLPClassifier)
    X, y = legacy_data()
    X32 = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        refit = MLPClassifier(**MLP).fit(X32, y)
    for a, b in zip(
        model.coefs_ + model.intercepts_, refit.coefs_ + refit.intercepts_, strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.predict(X32), refit.predict(X32))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("legacy_softmax_adam_checkpoint.npz", SOFTMAX_SGD),
        ("legacy_softmax_newton_checkpoint.npz", SOFTMAX_NEWTON),
    ],
)
def test_legacy_softmax_checkpoints_resume_to_the_uninterrupted_fit(
    tmp_path: Path, name: str, params: dict
) -> None:
    X, y = legacy_data()
    path = tmp_path / name
    shutil.copy(FIXTURES / name, path)
    assert load_checkpoint(path).epoch == (4 if "adam" in name else 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        direct = SoftmaxRegression(**params).fit(X, y)
        resumed = SoftmaxRegression(**params).fit(X, y, resume_from=path)
    # Bit for bit on the machine that wrote the fixtures; to rounding elsewhere.
    np.testing.assert_allclose(resumed.coef_, direct.coef_, rtol=1e-6, atol=1e-9)
    assert resumed.n_iter_ == direct.n_iter_
    assert [r["iteration"] for r in resumed.history_] == [r["iteration"] for r in direct.history_]


def test_legacy_mlp_checkpoint_resumes_to_the_uninterrupted_fit(tmp_path: Path) -> None:
    X, y = legacy_data()
    X32 = X.astype(np.float32)
    path = tmp_path / "mlp.npz"
    shutil.copy(FIXTURES / "legacy_mlp_checkpoint.npz", path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        direct = MLPClassifier(**MLP).fit(X32, y)
        resumed = MLPClassifier(**MLP).fit(X32, y, resume_from=path)
    for a, b in zip(resumed.coefs_, direct.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert resumed.n_iter_ == direct.n_iter_ == 6

"""The one training loop: chunked runs equal one run, hooks see every iteration and can stop."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from softreg.objective import SoftmaxObjective
from softreg.optim import minimize
from softreg.optim._fit_core import FitState, fit_core


def _objective(seed: int = 0) -> SoftmaxObjective:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 5))
    y = np.argmax(X @ rng.normal(size=(5, 3)) + 0.5 * rng.normal(size=(120, 3)), axis=1)
    return SoftmaxObjective(X, y, 3, C=10.0)


class _Recorder:
    def __init__(self, stop_at: int | None = None) -> None:
        self.seen: list[int] = []
        self.ended: list[int] = []
        self.stop_at = stop_at

    def on_iteration(self, state: Any) -> bool:
        self.seen.append(state.n_iter)
        assert state.history[-1]["iteration"] == state.n_iter
        return state.n_iter == self.stop_at

    def on_fit_end(self, state: Any) -> None:
        self.ended.append(state.n_iter)


@pytest.mark.parametrize("method", ["sgd", "adam", "newton-cg"])
def test_continuing_from_the_returned_state_equals_one_run_bit_for_bit(method: str) -> None:
    obj = _objective()
    options = dict(tol=0.0 if method != "newton-cg" else 1e-12, learning_rate=0.05)
    w0 = np.zeros(obj.n_params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole = fit_core(
            obj, FitState(w0, rng=np.random.default_rng(1)), method, max_iter=7, **options
        )
        part = fit_core(
            obj, FitState(w0, rng=np.random.default_rng(1)), method, max_iter=3, **options
        )
        rest = fit_core(obj, part, method, max_iter=7, **options)
    np.testing.assert_array_equal(rest.w, whole.w)
    assert rest.n_iter == whole.n_iter == 7
    assert rest.history == whole.history
    assert [r["iteration"] for r in rest.history] == list(range(1, 8))


def test_stochastic_core_equals_minimize() -> None:
    """The epoch-by-epoch loop of the core is the solver's own loop, bit for bit."""
    obj = _objective(1)
    w0 = np.zeros(obj.n_params)
    direct = minimize(obj, w0, "adam", tol=0.0, max_iter=5, learning_rate=0.05, random_state=3)
    state = fit_core(
        obj, FitState(w0, rng=np.random.default_rng(3)), "adam", tol=0.0, max_iter=5,
        learning_rate=0.05,
    )  # fmt: skip
    np.testing.assert_array_equal(state.w, direct.x)
    assert state.history == direct.history


@pytest.mark.parametrize("method", ["sgd", "lbfgs", "newton-cg", "fista"])
def test_hooks_see_every_iteration_and_a_true_stops_without_warning(method: str) -> None:
    obj = _objective()
    recorder, stopper = _Recorder(), _Recorder(stop_at=2)
    state = fit_core(
        obj,
        FitState(np.zeros(obj.n_params), rng=np.random.default_rng(0)),
        method,
        tol=1e-14,
        max_iter=50,
        hooks=[recorder, stopper],
    )
    assert state.n_iter == 2
    assert state.converged
    assert recorder.seen == stopper.seen == [1, 2]
    assert recorder.ended == stopper.ended == [2]


def test_a_start_at_max_iter_runs_nothing() -> None:
    obj = _objective()
    recorder = _Recorder()
    start = FitState(np.ones(obj.n_params), n_iter=4, history=[{"iteration": 4, "loss": 1.0}])
    for method in ("adam", "newton-cg"):
        state = fit_core(obj, start, method, tol=1e-4, max_iter=4, hooks=[recorder])
        np.testing.assert_array_equal(state.w, start.w)
        assert state.n_iter == 4
        assert state.history == start.history
    assert recorder.seen == []
    assert recorder.ended == [4, 4]


def test_not_converged_warns_with_the_method_name() -> None:
    obj = _objective()
    with pytest.warns(ConvergenceWarning, match="sgd failed to converge in max_iter=2"):
        fit_core(
            obj, FitState(np.zeros(obj.n_params), rng=np.random.default_rng(0)), "sgd",
            tol=1e-12, max_iter=2, learning_rate=1e-4,
        )  # fmt: skip


def test_newton_cg_continued_after_a_failed_polish_does_not_polish_again() -> None:
    # At an optimum found to tol=1e-14 (this problem, seed 1) the polishing step's line search
    # fails: the fit ends converged with no history row. Continuing from its state used to try
    # the polish again: one more iteration, n_iter 2 where one run has 1.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((150, 4))
    y = (X @ rng.standard_normal((4, 3)) + rng.standard_normal((150, 3))).argmax(axis=1)
    obj = SoftmaxObjective(X, y, 3, C=0.5)
    optimum = minimize(obj, np.zeros(obj.n_params), "newton-cg", tol=1e-14, max_iter=200).x
    done = fit_core(obj, FitState(optimum), "newton-cg", tol=1e-4, max_iter=100)
    assert done.converged
    assert done.n_iter == 1
    assert done.history == []
    assert done.optimizer_state.polished
    again = fit_core(obj, done, "newton-cg", tol=1e-4, max_iter=100)
    assert again.n_iter == 1
    np.testing.assert_array_equal(again.w, done.w)

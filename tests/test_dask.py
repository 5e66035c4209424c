"""Dask backend: sharded fits agree with in-memory fits; predictions stay lazy; bad input."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import dask  # noqa: E402

from softreg import SoftmaxRegression  # noqa: E402
from softreg.checkpoint import load_checkpoint  # noqa: E402
from softreg.dask import fit_dask, predict, predict_log_proba, predict_proba  # noqa: E402
from softreg.dask.objective import ShardedObjective  # noqa: E402


def _data(n: int = 400, d: int = 5, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.argmax(X @ rng.normal(size=(d, k)) + rng.normal(size=(n, k)), axis=1)
    return X, y


# Uneven shards: 7, 150, 1, 242 rows; the 1-row shard holds a single class.
UNEVEN = ((7, 150, 1, 242), (5,))


@pytest.fixture(scope="module")
def client():
    # Not the default client: the tests that look for a scheduler must not find this one.
    with distributed.Client(
        processes=False,
        n_workers=1,
        threads_per_worker=2,
        dashboard_address=":0",
        set_as_default=False,
    ) as c:
        yield c


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "newton-cg", "tol": 1e-9},
        {"solver": "lbfgs", "tol": 1e-9, "max_iter": 500},
        {"solver": "fista", "penalty": "l1", "C": 0.5, "tol": 1e-7, "max_iter": 3000},
        {"solver": "newton-cg", "tol": 1e-9, "fit_intercept": False, "class_weight": "balanced"},
    ],
)
def test_in_process_shards_match_in_memory_fit(params: dict) -> None:
    X, y = _data()
    ref = SoftmaxRegression(**params).fit(X, y)
    model = fit_dask(SoftmaxRegression(**params), da.from_array(X, chunks=UNEVEN), y)
    assert model.coef_.shape == (4, 5)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, atol=1e-6)
    assert model.classes_.tolist() == ref.classes_.tolist()
    assert model.n_features_in_ == 5


def test_sample_weight_string_labels_and_float32() -> None:
    X, y = _data()
    labels = np.array(["ant", "bee", "cat", "dog"])[y]
    weight = np.random.default_rng(1).uniform(0, 2, size=len(y))
    weight[:7] = 0.0  # a whole shard with zero weight
    X32 = X.astype(np.float32)
    ref = SoftmaxRegression(tol=1e-5).fit(X32, labels, sample_weight=weight)
    model = fit_dask(
        SoftmaxRegression(tol=1e-5),
        da.from_array(X32, chunks=UNEVEN),
        da.from_array(labels, chunks=100),
        da.from_array(weight, chunks=50),
    )
    assert model.coef_.dtype == np.float32
    assert model.classes_.tolist() == ["ant", "bee", "cat", "dog"]
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=2e-4)


def test_sharded_gradient_and_hessp_match_finite_differences() -> None:
    X, y = _data(n=60, d=3, k=3)
    from softreg.dask.problem import sharded_objective

    obj, classes = sharded_objective(
        None,
        da.from_array(X, chunks=((10, 20, 30), 3)),
        da.from_array(y, chunks=((10, 20, 30),)),
        None,
        C=1.0,
        l1_ratio=0.0,
    )
    assert classes.tolist() == sorted(set(y.tolist()))
    assert isinstance(obj, ShardedObjective)
    w = np.random.default_rng(0).normal(size=obj.n_params)
    v = np.random.default_rng(1).normal(size=obj.n_params)
    f, g, hessp = obj.loss_grad_hessp(w)
    eps = 1e-6
    fd = np.array(
        [(obj.loss(w + eps * e) - obj.loss(w - eps * e)) / (2 * eps) for e in np.eye(len(w))]
    )
    np.testing.assert_allclose(g, fd, atol=1e-7)
    g_plus, g_minus = obj.loss_grad(w + eps * v)[1], obj.loss_grad(w - eps * v)[1]
    np.testing.assert_allclose(hessp(v), (g_plus - g_minus) / (2 * eps), atol=1e-6)
    assert f == pytest.approx(obj.loss(w), rel=1e-14)


def test_distributed_in_process_cluster_and_lazy_predictions(client) -> None:
    X, y = _data()
    Xd = da.from_array(X, chunks=UNEVEN)
    ref = SoftmaxRegression(tol=1e-9).fit(X, y)
    model = fit_dask(SoftmaxRegression(tol=1e-9), Xd, da.from_array(y, chunks=100), client=client)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    labels, proba, log_proba = (
        predict(model, Xd),
        predict_proba(model, Xd),
        predict_log_proba(model, Xd),
    )
    assert isinstance(labels, da.Array)
    assert isinstance(proba, da.Array)
    assert proba.shape == (400, 4)
    np.testing.assert_array_equal(labels.compute(), model.predict(X))
    np.testing.assert_allclose(proba.compute(), model.predict_proba(X), rtol=1e-12)
    np.testing.assert_allclose(log_proba.compute(), model.predict_log_proba(X), rtol=1e-12)


@pytest.mark.parametrize(("solver", "learning_rate"), [("sgd", 0.2), ("adam", 0.02)])
def test_model_averaging_reaches_the_optimum(client, solver: str, learning_rate: float) -> None:
    from softreg.objective import SoftmaxObjective

    X, y = _data()
    ref = SoftmaxRegression(C=0.1, tol=1e-9).fit(X, y)
    params = dict(C=0.1, solver=solver, learning_rate=learning_rate, batch_size=20)
    model = fit_dask(
        SoftmaxRegression(**params, max_iter=60, tol=0.0, random_state=0),
        da.from_array(X, chunks=100),
        y,
        client=client,
    )
    assert model.n_iter_ == len(model.history_) == 60
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]
    objective = SoftmaxObjective(X, y, 4, C=0.1)

    def f(m: SoftmaxRegression) -> float:
        return objective.loss(np.concatenate([m.coef_.ravel(), m.intercept_]))

    # Constant-step local SGD hovers around the optimum: agreement to the noise of the steps.
    assert 0 <= f(model) - f(ref) < 1e-3
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=0.05)


def test_local_cluster_with_two_worker_processes_survives_a_worker_death(
    tmp_path: Path,
) -> None:
    X, y = _data()
    ref = SoftmaxRegression(tol=1e-9).fit(X, y)
    killed: list[int] = []
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        model = fit_dask(
            SoftmaxRegression(tol=1e-9), da.from_array(X, chunks=UNEVEN), y, client=client
        )
        assert len(client.scheduler_info()["workers"]) == 2
        np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)

        def kill_one_worker(model: SoftmaxRegression, row: dict) -> None:
            if row["iteration"] == 2 and not killed:
                pid = next(iter(client.run(os.getpid).values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        # Dask recomputes the lost shards on the surviving worker; the fit goes on.
        survived = fit_dask(
            SoftmaxRegression(tol=1e-9),
            da.from_array(X, chunks=UNEVEN),
            y,
            client=client,
            callback=kill_one_worker,
            checkpoint=tmp_path / "ck.npz",
        )
    assert killed
    np.testing.assert_allclose(survived.coef_, ref.coef_, atol=1e-6)
    assert load_checkpoint(tmp_path / "ck.npz").epoch == survived.n_iter_


def test_averaged_fit_resumes_bit_for_bit_from_a_checkpoint(tmp_path: Path) -> None:
    X, y = _data()
    Xd = da.from_array(X, chunks=UNEVEN)
    params = dict(solver="adam", learning_rate=0.02, max_iter=6, tol=0.0, random_state=4)
    direct = fit_dask(SoftmaxRegression(**params), Xd, y)
    path = tmp_path / "ck.npz"
    fit_dask(SoftmaxRegression(**params).set_params(max_iter=2), Xd, y, checkpoint=path)
    assert load_checkpoint(path).epoch == 2
    resumed = fit_dask(SoftmaxRegression(**params), Xd, y, resume_from=path)
    np.testing.assert_array_equal(resumed.coef_, direct.coef_)
    assert resumed.history_ == direct.history_


def test_not_converged_warns() -> None:
    X, y = _data()
    with pytest.warns(ConvergenceWarning, match="newton-cg did not converge"):
        fit_dask(SoftmaxRegression(max_iter=1, tol=1e-12), da.from_array(X, chunks=100), y)


def test_bad_input() -> None:
    X, y = _data(n=40)
    Xd = da.from_array(X, chunks=10)
    with pytest.raises(TypeError, match=r"X must be a dask\.array\.Array, got ndarray"):
        fit_dask(SoftmaxRegression(), X, y)
    with pytest.raises(ValueError, match="y has 39 rows but X has 40"):
        fit_dask(SoftmaxRegression(), Xd, y[:-1])
    with pytest.raises(ValueError, match="only one class"):
        fit_dask(SoftmaxRegression(), Xd, np.zeros(40))
    with pytest.raises(ValueError, match="multi-label"):
        fit_dask(SoftmaxRegression(), Xd, np.zeros((40, 2)))
    bad = X.copy()
    bad[25, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity \(in rows 20..29\)"):
        fit_dask(SoftmaxRegression(), da.from_array(bad, chunks=10), y)
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        fit_dask(SoftmaxRegression(), Xd, y, np.zeros(40))
    model = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but SoftmaxRegression is expecting 5"):
        predict(model, da.from_array(X[:, :4], chunks=10))


def test_no_scheduler_reachable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _data(n=40)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:9")
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(ConnectionError, match=r"no Dask scheduler reachable at 'tcp://127.0.0.1:9'"),
    ):
        fit_dask(SoftmaxRegression(), da.from_array(X, chunks=10), y)


def test_estimator_dispatches_dask_arrays() -> None:
    X, y = _data()
    Xd, yd = da.from_array(X, chunks=UNEVEN), da.from_array(y, chunks=100)
    model = SoftmaxRegression(tol=1e-9).fit(Xd, yd)
    ref = SoftmaxRegression(tol=1e-9).fit(X, y)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        lazy = getattr(model, method)(Xd)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_allclose(lazy.compute(), getattr(model, method)(X), rtol=1e-12)

"""Checkpoints: format round trip, validation, resume equality, and the SIGKILL test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from softreg import MLPClassifier, SoftmaxRegression
from softreg.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from softreg.optim.transforms import adam
from softreg.resume import fit_resumable


def _data(n: int = 300, d: int = 6, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.argmax(X @ rng.normal(size=(d, k)) + 0.5 * rng.normal(size=(n, k)), axis=1)
    return X, y


def test_round_trip_keeps_arrays_states_and_rng(tmp_path: Path) -> None:
    params = (np.arange(6.0, dtype=np.float32), np.ones((2, 3)))
    opt = adam(0.1)
    state = opt.init(params)
    _, state = opt.update(params, state, params)
    rng = np.random.default_rng(5)
    rng.random(3)
    path = save_checkpoint(
        tmp_path / "c.npz",
        SoftmaxRegression(C=2.0),
        epoch=4,
        data_shape=(10, 3),
        classes=np.array(["a", "b"]),
        solver_params=params,
        optimizer_state=state,
        rng=rng,
        model_state={"history_": [{"iteration": 1, "loss": 0.5}]},
        extra={"best": -0.25},
    )
    ck = load_checkpoint(path, SoftmaxRegression(C=2.0), data_shape=(10, 3))
    assert ck.epoch == 4
    assert ck.classes.tolist() == ["a", "b"]
    assert ck.solver_params[0].dtype == np.float32
    np.testing.assert_array_equal(ck.solver_params[1], params[1])
    assert type(ck.optimizer_state[0]).__name__ == "AdamState"
    assert ck.optimizer_state[0][0] == 1  # the step count
    for a, b in zip(ck.optimizer_state[0].nu, state[0].nu, strict=True):
        np.testing.assert_array_equal(a, b)
    assert ck.model_state["history_"] == [{"iteration": 1, "loss": 0.5}]
    assert ck.extra == {"best": -0.25}
    restored = ck.make_rng()
    assert restored is not None
    np.testing.assert_array_equal(restored.random(4), rng.random(4))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": MLPClassifier()}, "written by SoftmaxRegression"),
        ({"model": SoftmaxRegression(C=3.0)}, r"hyper-parameters differ \(C=1.0 -> 3.0\)"),
        ({"data_shape": (11, 3)}, r"data of shape \(10, 3\), got \(11, 3\)"),
        ({"classes": np.array([0, 2])}, r"classes \[0, 1\], got \[0, 2\]"),
    ],
)
def test_refuses_other_model_params_shape_or_classes(
    tmp_path: Path, kwargs: dict, match: str
) -> None:
    path = save_checkpoint(
        tmp_path / "c.npz",
        SoftmaxRegression(),
        epoch=1,
        data_shape=(10, 3),
        classes=np.array([0, 1]),
        solver_params=(np.zeros(8),),
    )
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path, **kwargs)
    # max_iter may change: a resumed run may train longer.
    load_checkpoint(path, SoftmaxRegression(max_iter=500), data_shape=(10, 3))


def test_refuses_truncated_modified_and_foreign_files(tmp_path: Path) -> None:
    path = save_checkpoint(
        tmp_path / "c.npz",
        SoftmaxRegression(),
        epoch=1,
        data_shape=(10, 3),
        classes=np.array([0, 1]),
        solver_params=(np.zeros(8),),
    )
    data = path.read_bytes()
    (tmp_path / "t.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="unreadable or truncated"):
        load_checkpoint(tmp_path / "t.npz")
    np.savez(tmp_path / "f.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match="no valid header"):
        load_checkpoint(tmp_path / "f.npz")
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.npz")
    # Same header, one array changed (a valid archive): the SHA-256 check catches it.
    with np.load(path, allow_pickle=False) as archive:
        contents = {k: archive[k] for k in archive.files}
    contents["params.0"] = np.ones(8)
    np.savez(tmp_path / "m.npz", **contents)
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(tmp_path / "m.npz")


@pytest.mark.parametrize(
    ("solver", "dtype"), [("sgd", np.float64), ("adam", np.float32), ("newton-cg", np.float64)]
)
def test_resume_equals_uninterrupted_fit_bit_for_bit(tmp_path: Path, solver: str, dtype) -> None:
    X, y = _data()
    X = X.astype(dtype)
    params = dict(solver=solver, max_iter=8, tol=0.0, random_state=3, C=10.0)
    if solver == "sgd":
        params.update(momentum=0.9, learning_rate=0.02)
    if solver == "newton-cg":
        params.update(tol=1e-10, max_iter=30)
    direct = SoftmaxRegression(**params).fit(X, y)
    assert direct.n_iter_ > 3
    path = tmp_path / "c.npz"
    first = SoftmaxRegression(**params).set_params(max_iter=3)
    if solver == "newton-cg":
        with pytest.warns(ConvergenceWarning):
            fit_resumable(first, X, y, checkpoint=path)
    else:
        fit_resumable(first, X, y, checkpoint=path)
    resumed = fit_resumable(SoftmaxRegression(**params), X, y, resume_from=path)
    np.testing.assert_array_equal(resumed.coef_, direct.coef_)
    np.testing.assert_array_equal(resumed.intercept_, direct.intercept_)
    assert resumed.n_iter_ == direct.n_iter_
    assert resumed.history_ == direct.history_


def test_lbfgs_resume_reaches_the_same_optimum(tmp_path: Path) -> None:
    X, y = _data()
    direct = SoftmaxRegression(solver="lbfgs", tol=1e-8, max_iter=500).fit(X, y)
    path = tmp_path / "c.npz"
    with pytest.warns(ConvergenceWarning):
        fit_resumable(
            SoftmaxRegression(solver="lbfgs", tol=1e-8, max_iter=4), X, y, checkpoint=path
        )
    resumed = fit_resumable(
        SoftmaxRegression(solver="lbfgs", tol=1e-8, max_iter=500), X, y, resume_from=path
    )
    # L-BFGS restarts its curvature memory at the checkpoint: same optimum, not the same bits.
    np.testing.assert_allclose(resumed.coef_, direct.coef_, atol=1e-6)


def test_mlp_resume_equals_uninterrupted_fit(tmp_path: Path) -> None:
    X, y = _data(n=200)
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(8,), max_epochs=6, n_iter_no_change=100, random_state=1)
    with pytest.warns(ConvergenceWarning):
        direct = MLPClassifier(**params).fit(X, y)
    path = tmp_path / "c.npz"
    with pytest.warns(ConvergenceWarning):
        fit_resumable(MLPClassifier(**params).set_params(max_epochs=2), X, y, checkpoint=path)
    with pytest.warns(ConvergenceWarning):
        resumed = fit_resumable(MLPClassifier(**params), X, y, resume_from=path)
    for a, b in zip(
        resumed.coefs_ + resumed.intercepts_, direct.coefs_ + direct.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert resumed.history_ == direct.history_


def test_bad_arguments(tmp_path: Path) -> None:
    X, y = _data(n=50)
    with pytest.raises(ValueError, match="checkpoint_every must be an int >= 1, got 0"):
        fit_resumable(SoftmaxRegression(), X, y, checkpoint_every=0)
    with pytest.raises(TypeError, match="model must be a SoftmaxRegression or MLPClassifier"):
        fit_resumable(object(), X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        fit_resumable(MLPClassifier(early_stopping=True), X, y)


_TRAIN = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from softreg import SoftmaxRegression
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 8))
    y = np.argmax(X @ rng.normal(size=(8, 4)), axis=1)
    model = SoftmaxRegression(solver="adam", learning_rate=0.01, max_iter=40, tol=0.0,
                              random_state=7)
    # Slow epochs, so that the parent kills this process mid-fit.
    model.fit(X, y, checkpoint=sys.argv[1], checkpoint_every=2,
              callback=lambda m, r: time.sleep(0.05))
    """
)


def test_sigkill_mid_fit_then_resume_gives_the_uninterrupted_coefficients(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ckpt.npz"
    proc = subprocess.Popen([sys.executable, "-c", _TRAIN, str(path)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if path.exists() and load_checkpoint(path).epoch >= 6:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "training ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(path).epoch  # complete and valid: never half-written
    assert 6 <= killed_at < 40

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 8))
    y = np.argmax(X @ rng.normal(size=(8, 4)), axis=1)
    params = dict(solver="adam", learning_rate=0.01, max_iter=40, tol=0.0, random_state=7)
    resumed = fit_resumable(SoftmaxRegression(**params), X, y, checkpoint=path, resume_from=path)
    direct = SoftmaxRegression(**params).fit(X, y)
    np.testing.assert_array_equal(resumed.coef_, direct.coef_)
    np.testing.assert_array_equal(resumed.intercept_, direct.intercept_)
    assert resumed.n_iter_ == 40
    assert load_checkpoint(path).epoch == 40


def test_estimators_fit_accepts_checkpoint_and_resume_from(tmp_path: Path) -> None:
    X, y = _data()
    params = dict(solver="sgd", learning_rate=0.05, max_iter=5, tol=0.0, random_state=0)
    direct = SoftmaxRegression(**params).fit(X, y)
    SoftmaxRegression(**params).set_params(max_iter=2).fit(X, y, checkpoint=tmp_path / "s.npz")
    resumed = SoftmaxRegression(**params).fit(X, y, resume_from=tmp_path / "s.npz")
    np.testing.assert_array_equal(resumed.coef_, direct.coef_)
    with pytest.raises(CheckpointError, match="hyper-parameters differ"):
        SoftmaxRegression(**params).set_params(C=5.0).fit(X, y, resume_from=tmp_path / "s.npz")

    mlp = dict(hidden_layer_sizes=(4,), max_epochs=4, n_iter_no_change=100, random_state=0)
    X32 = X.astype(np.float32)
    with pytest.warns(ConvergenceWarning):
        direct_mlp = MLPClassifier(**mlp).fit(X32, y)
    with pytest.warns(ConvergenceWarning):
        MLPClassifier(**mlp).set_params(max_epochs=1).fit(X32, y, checkpoint=tmp_path / "m.npz")
    with pytest.warns(ConvergenceWarning):
        resumed_mlp = MLPClassifier(**mlp).fit(X32, y, resume_from=tmp_path / "m.npz")
    np.testing.assert_array_equal(resumed_mlp.coefs_[0], direct_mlp.coefs_[0])
    with pytest.raises(CheckpointError, match="written by SoftmaxRegression"):
        MLPClassifier(**mlp).fit(X32, y, resume_from=tmp_path / "s.npz")


def test_the_final_state_is_checkpointed_whatever_checkpoint_every(tmp_path: Path) -> None:
    X, y = _data()
    path = tmp_path / "c.npz"
    model = SoftmaxRegression(tol=1e-6).fit(X, y, checkpoint=path, checkpoint_every=1000)
    ck = load_checkpoint(path, model, data_shape=X.shape)
    assert 0 < model.n_iter_ < 1000
    assert ck.epoch == model.n_iter_
    assert ck.model_state["history_"] == model.history_
    w = ck.solver_params[0]  # the flat parameters; coef_ and intercept_ are them centred
    coef = w[: model.coef_.size].reshape(model.coef_.shape)
    np.testing.assert_allclose(coef - coef.mean(axis=0), model.coef_, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        w[model.coef_.size :] - w[model.coef_.size :].mean(), model.intercept_
    )


def test_a_checkpointed_fit_honours_warm_start(tmp_path: Path) -> None:
    X, y = _data()
    params = dict(solver="adam", learning_rate=0.02, max_iter=3, tol=0.0, random_state=0)
    warm = SoftmaxRegression(**params, warm_start=True).fit(X, y)
    first = warm.coef_.copy()
    plain = SoftmaxRegression(**params, warm_start=True).fit(X, y).fit(X, y)
    warm.fit(X, y, checkpoint=tmp_path / "c.npz")
    assert not np.array_equal(warm.coef_, first)
    np.testing.assert_array_equal(warm.coef_, plain.coef_)  # the same as without a checkpoint


class _Interrupt(Exception):
    pass


def test_mlp_cosine_schedule_resumes_bit_for_bit(tmp_path: Path) -> None:
    X, y = _data(n=120)
    X = X.astype(np.float32)
    params = dict(
        hidden_layer_sizes=(6,),
        max_epochs=5,
        n_iter_no_change=100,
        learning_rate=0.01,
        learning_rate_schedule="cosine",
        random_state=2,
    )
    with pytest.warns(ConvergenceWarning):
        direct = MLPClassifier(**params).fit(X, y)

    def interrupt_in_epoch_4(model: MLPClassifier, record: dict) -> None:
        if record["iteration"] == 4:
            raise _Interrupt

    path = tmp_path / "c.npz"
    with pytest.raises(_Interrupt):
        MLPClassifier(**params).fit(
            X, y, checkpoint=path, checkpoint_every=3, callback=interrupt_in_epoch_4
        )
    assert load_checkpoint(path).epoch == 3
    with pytest.warns(ConvergenceWarning):
        resumed = MLPClassifier(**params).fit(X, y, resume_from=path)
    for a, b in zip(
        resumed.coefs_ + resumed.intercepts_, direct.coefs_ + direct.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert resumed.history_ == direct.history_


def test_partial_fit_after_a_full_batch_fit_starts_a_fresh_optimizer() -> None:
    X, y = _data()
    model = SoftmaxRegression(solver="newton-cg").fit(X, y)
    assert model._optimizer_state is None  # newton-cg's curvature pairs are not kept
    n_iter = model.n_iter_
    model.set_params(solver="adam").partial_fit(X, y)  # Adam starts from fresh moments
    assert model.n_iter_ == len(model.history_) == n_iter + 1


def _ill_conditioned() -> tuple[np.ndarray, np.ndarray]:
    # The problem of tests/test_optim.py whose polish breaks the tol test (C=1e6 below).
    from sklearn.datasets import make_classification

    X, y = make_classification(
        300, 20, n_informative=6, n_classes=3, class_sep=2.0, random_state=32, flip_y=0.02
    )
    return X * np.logspace(-2, 1, 20)[np.random.default_rng(32).permutation(20)], y


@pytest.mark.parametrize("ill_conditioned", [False, True])
def test_newton_cg_resumed_from_any_iteration_or_the_end_trains_the_same_model(
    tmp_path: Path, ill_conditioned: bool
) -> None:
    # Resuming the final checkpoint of a converged fit used to take one more (polishing)
    # Newton step: a different model. Now the checkpoint says the polish was taken
    # (NewtonCGState). Ill-conditioned: the polish breaks the test and plain steps follow,
    # so checkpoints between the polish and the end are resumed too.
    X, y = _ill_conditioned() if ill_conditioned else _data()
    params = dict(C=1e6 if ill_conditioned else 10.0, max_iter=300)
    direct = SoftmaxRegression(**params).fit(X, y, checkpoint=tmp_path / "end.npz")
    n = int(direct.n_iter_[0])
    polish = [row["iteration"] for row in direct.history_ if row.get("polish")]
    assert len(polish) == 1
    assert (polish[0] < n) == ill_conditioned
    for stop in [*range(1, n), None]:
        path = tmp_path / "end.npz"
        if stop is not None:
            path = tmp_path / f"at{stop}.npz"
            with warnings.catch_warnings():  # stopped by max_iter where max|g| > tol
                warnings.simplefilter("ignore", ConvergenceWarning)
                SoftmaxRegression(**params).set_params(max_iter=stop).fit(X, y, checkpoint=path)
        resumed = SoftmaxRegression(**params).fit(X, y, resume_from=path)
        np.testing.assert_array_equal(resumed.coef_, direct.coef_)
        assert resumed.n_iter_ == direct.n_iter_
        assert resumed.history_ == direct.history_


def test_mlp_checkpointed_warm_start_continues_and_resumes_where_it_would_end(
    tmp_path: Path,
) -> None:
    # warm_start=True was silently ignored when a checkpoint was asked for (the fit started
    # afresh), because a resumed run could not tell where a warm fit ends. The checkpoint now
    # records the epoch the fit started from.
    X, y = _data(n=120)
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(6,), max_epochs=4, n_iter_no_change=100,
                  learning_rate=0.01, random_state=2, warm_start=True)  # fmt: skip

    def first_fit() -> MLPClassifier:
        with pytest.warns(ConvergenceWarning):
            return MLPClassifier(**params).fit(X, y)

    with pytest.warns(ConvergenceWarning):
        direct = first_fit().fit(X, y)  # epochs 5-8, warm
    assert direct.n_iter_ == 8
    with pytest.warns(ConvergenceWarning):
        checkpointed = first_fit().fit(X, y, checkpoint=tmp_path / "all.npz")
    for a, b in zip(checkpointed.coefs_, direct.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)  # warm, as without a checkpoint

    def interrupt_in_epoch_7(model: MLPClassifier, record: dict) -> None:
        if record["iteration"] == 7:
            raise _Interrupt

    path = tmp_path / "c.npz"
    with pytest.raises(_Interrupt):
        first_fit().fit(X, y, checkpoint=path, callback=interrupt_in_epoch_7)
    assert load_checkpoint(path).epoch == 6
    with pytest.warns(ConvergenceWarning):  # a fresh estimator, in another process say
        resumed = MLPClassifier(**params).fit(X, y, resume_from=path)
    assert resumed.n_iter_ == 8
    for a, b in zip(
        resumed.coefs_ + resumed.intercepts_, direct.coefs_ + direct.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert resumed.history_ == direct.history_

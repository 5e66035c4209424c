"""StackedSoftmaxObjective: against separate SoftmaxObjectives, finite differences, SciPy."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import log_softmax

from softreg import _kernels, check_gradient
from softreg.objective import SoftmaxObjective
from softreg.objective_stacked import StackedSoftmaxObjective
from softreg.optim import minimize


def make_problem(n=1200, d=6, k=4, n_models=3, seed=0, dtype=np.float64):
    """Rows span several 512-row blocks and two worker chunks; each model leaves rows out."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, k, n)
    weight = rng.uniform(0.1, 2.0, (n, n_models))
    weight[rng.random((n, n_models)) < 0.25] = 0.0
    return X, y, weight


def separate(X, y, k, weight, **kwargs):
    return [SoftmaxObjective(X, y, k, weight[:, m], **kwargs) for m in range(weight.shape[1])]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.3])
def test_matches_separate_objectives(fit_intercept, l1_ratio):
    X, y, weight = make_problem()
    kwargs = {"C": 0.7, "l1_ratio": l1_ratio, "fit_intercept": fit_intercept}
    stacked = StackedSoftmaxObjective(X, y, 4, weight, **kwargs)
    singles = separate(X, y, 4, weight, **kwargs)
    rng = np.random.default_rng(1)
    w = rng.standard_normal(stacked.n_params) * 0.5
    v = rng.standard_normal(stacked.n_params)
    f, g, hessp = stacked.loss_grad_hessp(w)
    hv = hessp(v)
    assert stacked.loss(w) == pytest.approx(f, rel=1e-13)
    expected_f = 0.0
    for m, single in enumerate(singles):
        wm, vm = stacked.model_params(w, m), stacked.model_params(v, m)
        fm, gm, hm = single.loss_grad_hessp(wm)
        expected_f += fm
        assert stacked.model_losses(w)[m] == pytest.approx(fm, rel=1e-12)
        np.testing.assert_allclose(stacked.model_params(g, m), gm, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(stacked.model_params(hv, m), hm(vm), rtol=1e-10, atol=1e-14)
    assert f == pytest.approx(expected_f, rel=1e-12)
    assert stacked.l1_penalty(w) == pytest.approx(
        sum(s.l1_penalty(stacked.model_params(w, m)) for m, s in enumerate(singles))
    )
    prox = stacked.prox_l1(w, 3.0)
    for m, single in enumerate(singles):
        np.testing.assert_allclose(
            stacked.model_params(prox, m), single.prox_l1(stacked.model_params(w, m), 3.0)
        )


def test_gradient_and_hvp_against_finite_differences():
    X, y, weight = make_problem(n=90, d=3, k=3)
    stacked = StackedSoftmaxObjective(X, y, 3, weight, C=0.4)
    w = np.random.default_rng(2).standard_normal(stacked.n_params)
    assert check_gradient(stacked.loss_grad, w).max_rel_error < 1e-6
    hvp = check_gradient(stacked.loss_grad, w, hessp=lambda x, v: stacked.loss_grad_hessp(x)[2](v))
    assert hvp.max_rel_error < 1e-6
    # Not vacuous: a Hessian missing the penalty's share is caught.
    bad = check_gradient(
        stacked.loss_grad, w, hessp=lambda x, v: stacked.loss_grad_hessp(x)[2](v) - 0.05 * v
    )
    assert bad.max_rel_error > 1e-3


def test_log_proba_is_every_models_log_softmax_on_every_row():
    X, y, weight = make_problem(n=700)
    stacked = StackedSoftmaxObjective(X, y, 4, weight, C=1.0)
    w = np.random.default_rng(3).standard_normal(stacked.n_params)
    out = stacked.log_proba(w)
    coef, intercept = stacked.unravel(w)
    for m in range(stacked.n_models):
        expected = log_softmax(X @ coef[m].T + intercept[m], axis=1)
        np.testing.assert_allclose(out[:, m], expected, rtol=1e-12, atol=1e-12)


def test_sparse_uint8_and_float32_inputs():
    X, y, weight = make_problem(n=800)
    Xs = X.copy()
    Xs[np.abs(Xs) < 0.8] = 0.0
    dense = StackedSoftmaxObjective(Xs, y, 4, weight, C=2.0)
    sparse = StackedSoftmaxObjective(sp.csr_matrix(Xs), y, 4, weight, C=2.0)
    w = np.random.default_rng(4).standard_normal(dense.n_params)
    f1, g1, h1 = dense.loss_grad_hessp(w)
    f2, g2, h2 = sparse.loss_grad_hessp(w)
    assert f1 == pytest.approx(f2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(h1(w), h2(w), rtol=1e-10, atol=1e-14)

    pixels = np.random.default_rng(5).integers(0, 256, (800, 6)).astype(np.uint8)
    raw = StackedSoftmaxObjective(pixels, y, 4, weight, C=2.0, scale=1 / 255)
    scaled = StackedSoftmaxObjective(
        (pixels / np.float32(255)).astype(np.float32), y, 4, weight, C=2.0
    )
    assert raw.dtype == np.float32
    f_raw, g_raw = raw.loss_grad(w)
    f_sc, g_sc = scaled.loss_grad(w)
    assert g_raw.dtype == np.float32
    assert f_raw == pytest.approx(f_sc, rel=1e-5)
    np.testing.assert_allclose(g_raw, g_sc, rtol=1e-4, atol=1e-6)
    f64 = StackedSoftmaxObjective(pixels / 255.0, y, 4, weight, C=2.0).loss(w)
    assert f_raw == pytest.approx(f64, rel=1e-5)


def test_preconditioner_of_one_model_is_the_kfac_inverse():
    # With one model the stacked preconditioner is softreg._kernels.inverse with that basis.
    X, y, weight = make_problem(n=600, n_models=1)
    stacked = StackedSoftmaxObjective(X, y, 4, weight, C=0.3)
    w = np.random.default_rng(6).standard_normal(stacked.n_params) * 0.3
    _, g, hessp = stacked.loss_grad_hessp(w)
    expected = _kernels.inverse(
        stacked.feature_basis(),
        hessp.proba[:, 0],
        stacked.weight[:, 0],
        float(stacked.l2_strength[0]),
        n_features=6,
        fit_intercept=True,
        dtype=np.float64,
    )(g)
    np.testing.assert_allclose(hessp.preconditioner()(g), expected, rtol=1e-10, atol=1e-14)


def test_preconditioner_is_symmetric_positive_definite():
    X, y, weight = make_problem(n=300, d=3, k=3, n_models=2)
    stacked = StackedSoftmaxObjective(X, y, 3, weight, C=1.0)
    _, _, hessp = stacked.loss_grad_hessp(np.zeros(stacked.n_params))
    apply = hessp.preconditioner()
    M = np.column_stack([apply(e) for e in np.eye(stacked.n_params)])
    np.testing.assert_allclose(M, M.T, atol=1e-8 * np.abs(M).max())
    assert np.linalg.eigvalsh((M + M.T) / 2).min() > 0


def test_joint_newton_solve_equals_separate_fits():
    X, y, weight = make_problem(n=400, d=4, k=3)
    stacked = StackedSoftmaxObjective(X, y, 3, weight, C=0.5)
    joint = minimize(stacked, np.zeros(stacked.n_params), "newton-cg", tol=1e-9)
    assert joint.converged
    for m, single in enumerate(separate(X, y, 3, weight, C=0.5)):
        alone = minimize(single, np.zeros(single.n_params), "newton-cg", tol=1e-9)
        np.testing.assert_allclose(stacked.model_params(joint.x, m), alone.x, atol=1e-7)


def test_with_C_changes_only_the_penalty():
    X, y, weight = make_problem(n=100)
    stacked = StackedSoftmaxObjective(X, y, 4, weight, C=1.0)
    other = stacked.with_C(0.1)
    reference = StackedSoftmaxObjective(X, y, 4, weight, C=0.1)
    w = np.random.default_rng(7).standard_normal(stacked.n_params)
    assert other.loss(w) == pytest.approx(reference.loss(w), rel=1e-13)
    assert stacked.loss(w) != pytest.approx(other.loss(w))
    with pytest.raises(ValueError, match="C must be > 0"):
        stacked.with_C(0.0)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"model_weight": np.ones((5, 2))}, "model_weight must have shape"),
        ({"model_weight": -np.ones((10, 2))}, "model_weight must be >= 0"),
        ({"model_weight": np.c_[np.ones(10), np.zeros(10)]}, "positive sum in every column"),
        ({"y": np.full(10, 7)}, "class indices in 0..2"),
        ({"scale": 0.0}, "scale must be"),
        ({"C": -1.0}, "C must be > 0"),
    ],
)
def test_bad_arguments_are_named(change, match):
    args = {"X": np.ones((10, 2)), "y": np.zeros(10, int), "n_classes": 3}
    args["model_weight"] = np.ones((10, 2))
    args.update(change)
    kwargs = {key: args.pop(key) for key in ("scale", "C") if key in args}
    with pytest.raises(ValueError, match=match):
        StackedSoftmaxObjective(**args, **kwargs)


@given(shift=st.floats(-1e4, 1e4), scale=st.sampled_from([1.0, 1e2, 1e4]), seed=st.integers(0, 99))
def test_each_models_intercept_shift_leaves_the_data_term_unchanged(shift, scale, seed):
    X, y, weight = make_problem(n=40, d=3, k=3, n_models=2, seed=seed)
    stacked = StackedSoftmaxObjective(X, y, 3, weight, C=np.inf)
    w = np.random.default_rng(seed).standard_normal(stacked.n_params) * scale
    f, g = stacked.loss_grad(w)
    assert np.isfinite(f)
    assert np.all(np.isfinite(g))
    shifted = w.copy()
    _, intercept = stacked.unravel(shifted)
    intercept[1] += shift  # only the second model's intercepts move
    assert stacked.loss(shifted) == pytest.approx(f, rel=1e-9, abs=1e-9 * (scale + abs(shift)))


@pytest.mark.parametrize("sparse", [False, True])
def test_wide_x_gets_each_models_diagonal_preconditioner(sparse, monkeypatch):
    # Wider than the Kronecker-factored preconditioner allows: no (d+1) x (d+1) basis is made,
    # and each model's block is the inverse diagonal of that model's own objective.
    monkeypatch.setattr(_kernels.kfac, "MAX_FEATURES", 5)
    X, y, weight = make_problem(n=700, d=8, k=3, n_models=3)
    X = sp.csr_matrix(X) if sparse else X
    stacked = StackedSoftmaxObjective(X, y, 3, weight, C=0.7, scale=0.5)
    w = np.random.default_rng(7).standard_normal(stacked.n_params) * 0.3
    _, g, hessp = stacked.loss_grad_hessp(w)
    assert hessp.preconditioner_name == "diagonal"
    precond = hessp.preconditioner()
    assert stacked._basis is None
    for m, single in enumerate(separate(X, y, 3, weight, C=0.7, scale=0.5)):
        _, _, h_m = single.loss_grad_hessp(stacked.model_params(w, m))
        assert h_m.preconditioner_name == "diagonal"
        expected = h_m.preconditioner()(stacked.model_params(g, m))
        np.testing.assert_allclose(stacked.model_params(precond(g), m), expected, rtol=1e-5)

"""The default grid rule and regularization_path, against explicit Hessians and fits."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import softreg.path
from softreg import SoftmaxRegression, SoftmaxRegressionCV, regularization_path
from softreg.objective import SoftmaxObjective
from softreg.path import check_Cs, default_Cs, follow_path, null_model_curvature


def make_data(n=300, d=5, k=3, seed=0):
    X, y = make_classification(
        n_samples=n,
        n_features=d,
        n_informative=3,
        n_redundant=0,
        n_classes=k,
        n_clusters_per_class=1,
        class_sep=0.8,
        random_state=seed,
    )
    return X, y


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_null_model_curvature_is_the_top_eigenvalue_of_the_explicit_hessian(fit_intercept):
    # Reference: the data term's Hessian at the null model, built column by column from
    # SoftmaxObjective's Hessian-vector products, then numpy's eigvalsh.
    X, y = make_data(n=120, d=4)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    obj = SoftmaxObjective(X, y, 3, sw, C=np.inf, fit_intercept=fit_intercept)
    w = np.zeros(obj.n_params)
    if fit_intercept:
        p0 = np.bincount(y, weights=sw) / sw.sum()
        obj.unravel(w)[1][:] = np.log(p0)
    _, hessp = obj.grad_hessp(w)
    H = np.column_stack([hessp(e) for e in np.eye(obj.n_params)])
    expected = np.linalg.eigvalsh((H + H.T) / 2).max()
    h_max = null_model_curvature(X, y, 3, sw, fit_intercept=fit_intercept)
    assert h_max == pytest.approx(expected, rel=1e-10)


def test_grid_follows_the_scale_of_X_and_the_total_weight():
    X, y = make_data()
    grid = default_Cs(X, y, 3)
    assert grid.shape == (10,)
    np.testing.assert_allclose(np.log10(grid[-1] / grid[0]), 6.0)
    # Without an intercept (whose constant feature does not scale) the grid scales exactly.
    plain = default_Cs(X, y, 3, fit_intercept=False)
    np.testing.assert_allclose(default_Cs(3.0 * X, y, 3, fit_intercept=False), plain / 9.0)
    np.testing.assert_allclose(default_Cs(X, y, 3, np.full(len(y), 2.0)), grid / 2.0, rtol=1e-10)
    np.testing.assert_allclose(default_Cs(X / 255.0, y, 3, scale=255.0), grid, rtol=1e-10)
    assert default_Cs(X, y, 3, n_Cs=1).shape == (1,)


def test_strongest_c_of_the_grid_shrinks_the_model_strongly():
    # At C_min the penalty equals the largest curvature: the fitted coefficients are a small
    # fraction of the weakest C's, the predictions close to the class priors.
    X, y = make_data()
    path = regularization_path(X, y, 10)
    norms = np.linalg.norm(path.coef.reshape(10, -1), axis=1)
    assert np.all(np.diff(norms) > 0)
    assert norms[0] < 0.5 * norms[-1]
    proba = SoftmaxRegression(C=path.Cs[0]).fit(X, y).predict_proba(X)
    assert np.abs(proba - np.bincount(y) / len(y)).max() < 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_cross_validated_optimum_is_inside_the_default_grid(seed):
    X, y = make_data(n=400, d=8, k=3, seed=seed)
    cv = SoftmaxRegressionCV(cv=4).fit(X, y)
    assert cv.Cs_[0] < cv.C_ < cv.Cs_[-1]


def test_path_equals_separate_fits_and_scikit_learn():
    X, y = make_data()
    Cs = [0.01, 0.1, 1.0]
    path = regularization_path(X, y, Cs, tol=1e-9)
    assert path.coef.shape == (3, 3, 5)
    for j, C in enumerate(Cs):
        alone = SoftmaxRegression(C=C, tol=1e-9).fit(X, y)
        np.testing.assert_allclose(path.coef[j], alone.coef_, atol=1e-6)
        np.testing.assert_allclose(path.intercept[j], alone.intercept_, atol=1e-6)
        ref = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
        np.testing.assert_allclose(path.coef[j], ref.coef_, atol=1e-5)
    assert np.all(path.n_iter >= 1)


@pytest.mark.parametrize(("solver", "l1_ratio"), [("lbfgs", 0.0), ("fista", 0.0), ("fista", 0.5)])
def test_every_solver_follows_the_path_to_the_same_models(solver, l1_ratio):
    X, y = make_data()
    Cs = [0.01, 0.1, 1.0]
    path = regularization_path(
        X, y, Cs, tol=1e-9, solver=solver, l1_ratio=l1_ratio, max_iter=20_000
    )
    auto = regularization_path(X, y, Cs, tol=1e-9, l1_ratio=l1_ratio, max_iter=20_000)
    np.testing.assert_allclose(path.coef, auto.coef, atol=1e-6)
    np.testing.assert_allclose(path.intercept, auto.intercept, atol=1e-6)
    for j, C in enumerate(Cs):
        alone = SoftmaxRegression(C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-9, max_iter=20_000)
        np.testing.assert_allclose(path.coef[j], alone.fit(X, y).coef_, atol=1e-6)


def test_each_fit_of_the_path_starts_from_the_last_ones_parameters_and_curvature_pairs(
    monkeypatch,
):
    X, y = make_data()
    base = SoftmaxObjective(X, y, 3, C=1.0)
    starts = []
    fit_core = softreg.path.fit_core

    def spy(objective, start, *args, **kwargs):
        starts.append(start)
        # newton-cg builds its preconditioner every other iteration along a path (a single fit
        # builds one per iteration, for bit-exact resumes).
        assert kwargs["refresh"] == softreg.path.PATH_REFRESH == 3
        return fit_core(objective, start, *args, **kwargs)

    monkeypatch.setattr(softreg.path, "fit_core", spy)
    ends = []
    last = follow_path(
        base.with_C, [0.01, 0.1, 1.0], tol=1e-9, on_C=lambda j, obj, state: ends.append(state)
    )
    assert last is ends[-1]
    assert not starts[0].w.any()
    assert starts[0].optimizer_state is None
    for before, start in zip(ends[:-1], starts[1:], strict=True):
        np.testing.assert_array_equal(start.w, before.w)
        assert start.optimizer_state.pairs  # a non-empty tuple of (d, H d) pairs
        assert start.optimizer_state.pairs is before.optimizer_state.pairs
        # ... but not the polish: each C takes its own final step.
        assert before.optimizer_state.polished
        assert not start.optimizer_state.polished
        assert start.n_iter == 0  # max_iter counts this C's iterations only
    # Carried pairs change the preconditioner, not the solution.
    for state, C in zip(ends, [0.01, 0.1, 1.0], strict=True):
        alone = SoftmaxRegression(C=C, tol=1e-9).fit(X, y)
        np.testing.assert_allclose(state.w[:15].reshape(3, 5), alone.coef_, atol=1e-6)
    assert follow_path(base.with_C, []) is None


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_coef_init_moves_the_start_not_the_path(fit_intercept):
    X, y = make_data()
    Cs = [0.01, 0.1, 1.0]
    cold = regularization_path(X, y, Cs, tol=1e-9, fit_intercept=fit_intercept)
    first = cold.coef[0]
    if fit_intercept:
        first = np.hstack([first, cold.intercept[0][:, None]])
    warm = regularization_path(X, y, Cs, tol=1e-9, fit_intercept=fit_intercept, coef_init=first)
    np.testing.assert_allclose(warm.coef, cold.coef, atol=1e-7)
    np.testing.assert_allclose(warm.intercept, cold.intercept, atol=1e-7)
    # Started at its own minimiser, the first fit only takes its polishing step.
    assert warm.n_iter[0] == 1 < cold.n_iter[0]


def test_bad_coef_init_is_named():
    X, y = make_data(n=30)
    for coef_init, error, match in [
        (np.zeros((3, 5)), ValueError, r"coef_init must have shape \(3, 6\)"),
        (np.full((3, 6), np.nan), ValueError, "coef_init must be finite"),
        (np.full((3, 6), 1e300), ValueError, "coef_init must be finite in float32"),
        ([["a"] * 6] * 3, TypeError, "coef_init must be an array of floats"),
    ]:
        Xf = X.astype(np.float32) if "float32" in match else X
        with pytest.raises(error, match=match):
            regularization_path(Xf, y, [1.0], coef_init=coef_init)


def test_path_sorts_the_grid_and_handles_weights_uint8_and_l1():
    X, y = make_data()
    path = regularization_path(X, y, [1.0, 0.01], sample_weight=np.full(len(y), 2.0))
    np.testing.assert_array_equal(path.Cs, [0.01, 1.0])
    same = regularization_path(X, y, [0.02, 2.0])  # weights 2 at C: weights 1 at 2 C
    np.testing.assert_allclose(path.coef, same.coef, atol=1e-4)
    pixels = np.random.default_rng(0).integers(0, 256, X.shape).astype(np.uint8)
    raw = regularization_path(pixels, y, [0.1], input_scale=1 / 255)
    scaled = regularization_path((pixels / np.float32(255)).astype(np.float32), y, [0.1])
    assert raw.coef.dtype == np.float32
    np.testing.assert_allclose(raw.coef, scaled.coef, atol=1e-4)
    lasso = regularization_path(X, y, [0.05], l1_ratio=1.0, tol=1e-7)
    alone = SoftmaxRegression(l1_ratio=1.0, C=0.05, tol=1e-7).fit(X, y)
    np.testing.assert_allclose(lasso.coef[0], alone.coef_, atol=1e-3)
    assert np.sum(lasso.coef[0] == 0) > 0


@pytest.mark.parametrize(
    ("Cs", "error", "match"),
    [
        (0, ValueError, "Cs must be an int >= 1"),
        ([], ValueError, "non-empty 1-d list"),
        ([1.0, -1.0], ValueError, "finite floats > 0"),
        ([1.0, np.inf], ValueError, "finite floats > 0"),
        ([[1.0]], ValueError, "1-d"),
        (["a"], TypeError, "Cs must be an int or a list"),
    ],
)
def test_bad_grids_are_named(Cs, error, match):
    with pytest.raises(error, match=match):
        check_Cs(Cs)


def test_bad_arguments_are_named():
    X, y = make_data(n=30)
    with pytest.raises(ValueError, match="l1_ratio must be a float in"):
        regularization_path(X, y, 3, l1_ratio=2.0)
    # Not numbers: fit_intercept="no" was taken as True, the others failed in NumPy's words.
    for kwargs, match in [
        ({"l1_ratio": "a"}, "l1_ratio must be a float in"),
        ({"tol": "a"}, "tol must be a float >= 0"),
        ({"max_iter": True}, "max_iter must be an int >= 1"),
        ({"fit_intercept": "no"}, "fit_intercept must be True or False"),
        ({"input_scale": "1"}, "input_scale must be a finite float"),
        ({"solver": "saga"}, "solver must be one of"),
        ({"solver": None}, "solver must be one of"),
        ({"solver": "lbfgs", "l1_ratio": 0.5}, "solver='lbfgs' takes no L1 term"),
    ]:
        with pytest.raises(ValueError, match=match):
            regularization_path(X, y, [1.0], **kwargs)
    with pytest.raises(ValueError, match="at least 2 classes"):
        regularization_path(X, np.zeros(30), 3)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        regularization_path(X, y[:10], 3)
    with pytest.raises(ValueError, match="no variation"):
        default_Cs(np.zeros((4, 2)), np.array([0, 1, 0, 1]), 2, fit_intercept=False)
    # As SoftmaxRegression words them; before: a numba TypingError, NumPy's "could not
    # convert string to float", a NaN loss after the first pass.
    with pytest.raises(ValueError, match="multi-label"):
        regularization_path(X, np.eye(3)[y].astype(int), [1.0])
    words = X.astype(object)
    words[0, 0] = "abc"
    with pytest.raises(TypeError, match="X column 0 has dtype object holding a str value"):
        regularization_path(words, y, [1.0])
    with pytest.raises(ValueError, match="X contains values too large for float64"):
        regularization_path(X * 1e200, y, [1.0])
    with pytest.raises(ValueError, match="too large for float32"):  # input_scale counts
        regularization_path(np.full((30, 5), 200, np.uint8), y, [1.0], input_scale=1e15)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_wide_sparse_grid_needs_no_d_by_d_matrix(fit_intercept, monkeypatch):
    # Above DENSE_EIGEN_MAX the largest eigenvalue comes from Lanczos on the same rows and
    # weights: the same number as the dense eigendecomposition gives.
    from softreg import _kernels

    rng = np.random.default_rng(4)
    X = sp.random(3000, 300, density=0.05, random_state=4, format="csr")
    y = rng.integers(0, 3, 3000)
    sw = rng.uniform(0.5, 2.0, 3000)
    exact = null_model_curvature(X, y, 3, sw, scale=0.7, fit_intercept=fit_intercept)
    monkeypatch.setattr(_kernels.kfac, "DENSE_EIGEN_MAX", 10)
    monkeypatch.setattr(
        _kernels.kfac, "feature_basis", lambda *a, **k: pytest.fail("formed the d x d matrix")
    )
    lanczos = null_model_curvature(X, y, 3, sw, scale=0.7, fit_intercept=fit_intercept)
    assert lanczos == pytest.approx(exact, rel=1e-7)
    dense = null_model_curvature(X.toarray(), y, 3, sw, scale=0.7, fit_intercept=fit_intercept)
    assert dense == pytest.approx(exact, rel=1e-7)  # < 4096 rows: all rows either way

"""Solvers: agreement with each other and with scikit-learn, optimality, warnings."""

import itertools
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from softreg._kernels import subspace
from softreg.objective import SoftmaxObjective
from softreg.optim import minimize
from softreg.optim.transforms import sgd

FULL_BATCH = ["lbfgs", "newton-cg", "fista"]


def problem(n=150, d=4, k=3, seed=0, dtype=np.float64, **kwargs):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = (X @ rng.standard_normal((d, k)) + rng.standard_normal((n, k))).argmax(axis=1)
    return SoftmaxObjective(X, y, k, **kwargs)


@pytest.fixture(scope="module")
def solutions():
    obj = problem(C=0.5)
    return obj, {
        m: minimize(obj, np.zeros(obj.n_params), m, tol=1e-9, max_iter=20000) for m in FULL_BATCH
    }


@pytest.mark.parametrize(
    ("a", "b"), [("lbfgs", "newton-cg"), ("lbfgs", "fista"), ("newton-cg", "fista")]
)
def test_every_pair_of_full_batch_solvers_agrees(solutions, a, b):
    # Tolerance: with max|grad| <= 1e-9 and the Hessian's smallest eigenvalue >= 1/(C n)
    # ~ 1e-2, the distance to the minimiser is <= ~1e-7; we allow 1e-6 relative.
    _, res = solutions
    x_a, x_b = res[a].x, res[b].x
    assert np.abs(x_a - x_b).max() <= 1e-6 * np.abs(x_a).max()
    assert res[a].fun == pytest.approx(res[b].fun, rel=1e-12)


@pytest.mark.parametrize("method", FULL_BATCH)
def test_returned_point_has_small_gradient(solutions, method):
    obj, res = solutions
    r = res[method]
    assert r.converged
    # L-BFGS may also stop on SciPy's relative-decrease test (ftol = 64 eps), slightly earlier.
    assert np.abs(obj.loss_grad(r.x)[1]).max() <= (1e-9 if method != "lbfgs" else 1e-7)
    assert r.history[-1]["grad_norm"] == pytest.approx(r.grad_norm)
    assert [row["iteration"] for row in r.history] == list(range(1, r.n_iter + 1))


@pytest.mark.parametrize(("method", "lr"), [("sgd", 0.5), ("adam", 0.05)])
def test_stochastic_solvers_reach_the_minimiser(solutions, method, lr):
    # Full-batch steps (batch_size = n) with a decaying step size converge; 2e-3 relative.
    # Adding a constant to every intercept changes nothing (softmax is shift invariant), and
    # Adam's per-coordinate scaling drifts along that flat direction: compare centred intercepts.
    obj, res = solutions
    x_star = res["newton-cg"].x
    r = minimize(
        obj,
        np.zeros(obj.n_params),
        method,
        tol=0.0,
        max_iter=3000,
        batch_size=150,
        learning_rate=lambda t: lr / (1 + t / 300),
        warn=False,
    )
    for got, want in zip(obj.unravel(r.x), obj.unravel(x_star), strict=True):
        got, want = got - got.mean(axis=0), want - want.mean(axis=0)
        assert np.abs(got - want).max() <= 2e-3 * np.abs(x_star).max()
    assert r.fun == pytest.approx(res["newton-cg"].fun, rel=1e-4)


def test_minibatch_sgd_stop_rule():
    obj = problem(n=400)
    r = minimize(
        obj,
        np.zeros(obj.n_params),
        "sgd",
        tol=5e-4,
        max_iter=500,
        batch_size=40,
        learning_rate=0.1,
        random_state=0,
    )
    assert r.converged
    costs = [row["loss"] for row in r.history]
    assert costs[-2] - costs[-1] < 5e-4  # stopped at the first small improvement
    assert all(a - b >= 5e-4 for a, b in itertools.pairwise(costs[:-1]))


def test_float32_is_kept_by_every_solver():
    obj = problem(dtype=np.float32, C=0.5)
    w0 = np.zeros(obj.n_params, np.float32)
    for method in [*FULL_BATCH, "sgd", "adam"]:
        r = minimize(obj, w0, method, tol=1e-4, max_iter=500, warn=False)
        assert r.x.dtype == np.float32, method


@pytest.mark.parametrize("method", FULL_BATCH)
def test_non_convergence_warns(method):
    obj = problem(C=100.0)
    with pytest.warns(ConvergenceWarning, match="failed to converge"):
        r = minimize(obj, np.zeros(obj.n_params), method, tol=1e-12, max_iter=1)
    assert not r.converged


def test_callback_stops_cleanly():
    obj = problem()
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = minimize(
            obj,
            np.zeros(obj.n_params),
            "lbfgs",
            tol=1e-12,
            max_iter=100,
            callback=lambda w, row: seen.append(row) or len(seen) == 3,
        )
    assert len(seen) == 3
    assert r.n_iter == 3
    assert r.converged


def test_diverging_sgd_raises():
    obj = problem()
    obj.X = obj.X * 1e200
    with (
        pytest.raises(FloatingPointError, match="learning rate is too large"),
        np.errstate(all="ignore"),
    ):
        minimize(obj, np.zeros(obj.n_params), "sgd", learning_rate=1e200, max_iter=50)


def test_unknown_method():
    obj = problem()
    with pytest.raises(ValueError, match="method must be one of"):
        minimize(obj, np.zeros(obj.n_params), "bfgs")


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_fista_matches_sklearn_saga(l1_ratio):
    obj = problem(n=100, C=0.2, l1_ratio=l1_ratio)
    r = minimize(obj, np.zeros(obj.n_params), "fista", tol=1e-10, max_iter=50000)
    ref = LogisticRegression(
        C=0.2, l1_ratio=l1_ratio, solver="saga", tol=1e-12, max_iter=100000
    ).fit(obj.X, obj.y)
    coef, intercept = obj.unravel(r.x)
    assert np.sum(coef == 0) > 0  # L1 makes some weights exactly zero
    np.testing.assert_allclose(coef, ref.coef_, atol=1e-5 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(intercept, ref.intercept_, atol=1e-5)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
def test_fista_converges_at_a_tolerance_near_round_off(l1_ratio):
    # At tol=1e-12 (scikit-learn's tests) the loss differences of the step-size test are
    # round-off; the iterates used to wander at a gradient mapping of 1e-8 until max_iter.
    obj = problem(n=100, d=20, C=1.0, l1_ratio=l1_ratio)
    r = minimize(obj, np.zeros(obj.n_params), "fista", tol=1e-12, max_iter=5000)
    assert r.converged
    assert r.grad_norm <= 1e-12
    # Optimality, checked without the solver: the gradient of the smooth part against the
    # L1 subgradient, coefficient by coefficient (the intercept is not penalised).
    _, g = obj.loss_grad(r.x)
    coef, _ = obj.unravel(r.x)
    g_coef, g_intercept = obj.unravel(g)
    lam = obj.l1_strength
    np.testing.assert_allclose(g_intercept, 0.0, atol=1e-11)
    nonzero = coef != 0
    np.testing.assert_allclose(
        g_coef[nonzero], -lam * np.sign(coef[nonzero]), atol=1e-11 + 1e-9 * lam
    )
    assert np.all(np.abs(g_coef[~nonzero]) <= lam + 1e-11)
    if l1_ratio == 0.0:
        ref = minimize(obj, np.zeros(obj.n_params), "newton-cg", tol=1e-12, max_iter=100)
        np.testing.assert_allclose(r.x, ref.x, atol=1e-10)


def test_stochastic_state_resumes():
    obj = problem()
    opt = sgd(0.1, momentum=0.9)
    from softreg.optim import minimize_stochastic

    one = minimize_stochastic(
        obj, np.zeros(obj.n_params), opt, max_iter=2, tol=-np.inf, shuffle=False, warn=False
    )
    a = minimize_stochastic(
        obj, np.zeros(obj.n_params), opt, max_iter=1, tol=-np.inf, shuffle=False, warn=False
    )
    b = minimize_stochastic(
        obj, a.x, opt, max_iter=1, tol=-np.inf, shuffle=False, state=a.state, warn=False
    )
    np.testing.assert_allclose(b.x, one.x, rtol=1e-12)


def test_lbfgs_preconditioner_is_spd_and_meets_the_newest_secant_equation():
    from softreg.optim.newton_cg import _lbfgs_preconditioner

    rng = np.random.default_rng(0)
    A = rng.standard_normal((12, 12))
    H = A @ A.T + 0.1 * np.eye(12)
    pairs = [(s, H @ s) for s in rng.standard_normal((5, 12))]
    M = _lbfgs_preconditioner(pairs, None)
    dense = np.column_stack([M(e) for e in np.eye(12)])
    np.testing.assert_allclose(dense, dense.T, atol=1e-10)
    assert np.linalg.eigvalsh(dense).min() > 0
    s, y = pairs[-1]
    np.testing.assert_allclose(M(y), s, rtol=1e-10)  # the newest pair is reproduced exactly
    # With a base preconditioner the recursion starts from it instead of the identity.
    with_base = _lbfgs_preconditioner(pairs, lambda r: r / 2.0)
    np.testing.assert_allclose(with_base(y), s, rtol=1e-10)


def test_newton_cg_memory_changes_the_path_not_the_minimiser(monkeypatch):
    # Badly scaled features: a hard problem for CG, where carried curvature pays on top of
    # K-FAC. (With 31 features the exact block of softreg._kernels.subspace would cover the
    # whole Hessian and leave nothing to carry: this test is about K-FAC and the pairs.)
    monkeypatch.setattr(subspace, "DIRECTIONS", 0)
    obj = problem(n=400, d=30, k=5, seed=3, C=10.0)
    obj.X = obj.X * np.logspace(-2, 1, 30)
    counts = {}
    results = {}
    for memory in (0, 20):
        calls = {"n": 0}
        original = obj._hessp

        def counted(proba, v, original=original, calls=calls):
            calls["n"] += 1
            return original(proba, v)

        obj._hessp = counted
        try:
            results[memory] = minimize_newton(obj, memory)
        finally:
            del obj._hessp
        counts[memory] = calls["n"]
    np.testing.assert_allclose(results[20].x, results[0].x, rtol=1e-5, atol=1e-6)
    assert results[20].grad_norm <= 1e-8
    assert results[0].grad_norm <= 1e-8
    assert counts[20] < counts[0], counts


@pytest.mark.parametrize("refresh", [2, 3])
def test_newton_cg_refresh_builds_fewer_preconditioners_for_the_same_minimiser(refresh):
    # Built at iterations 1, 1 + refresh, 1 + 2 refresh, ...; in between the last one is
    # applied (any positive definite preconditioner leaves CG's minimiser unchanged).
    from softreg.optim.newton_cg import minimize_newton_cg

    obj = problem(n=400, d=30, k=5, seed=3, C=10.0)
    obj.X = obj.X * np.logspace(-2, 1, 30)
    built = {}
    results = {}
    for every in (1, refresh):
        iterations = []
        original = type(obj).loss_grad_hessp

        def spied(w, original=original, iterations=iterations):
            f, g, hessp = original(obj, w)
            make = hessp.preconditioner

            def counted():
                iterations.append(len(iterations))
                return make()

            hessp.preconditioner = counted
            return f, g, hessp

        obj.loss_grad_hessp = spied
        try:
            results[every] = minimize_newton_cg(
                obj, np.zeros(obj.n_params), tol=1e-8, max_iter=200, refresh=every
            )
        finally:
            del obj.loss_grad_hessp
        built[every] = len(iterations)
    n_iter = results[refresh].n_iter
    assert built[1] == results[1].n_iter
    assert built[refresh] == -(-n_iter // refresh)  # ceil: iterations 1, 1 + refresh, ...
    assert results[refresh].converged
    assert results[refresh].grad_norm <= 1e-8
    np.testing.assert_allclose(results[refresh].x, results[1].x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("refresh", [0, 1.5, True, "2"])
def test_newton_cg_refresh_must_be_a_positive_int(refresh):
    from softreg.optim.newton_cg import minimize_newton_cg

    obj = problem()
    with pytest.raises(ValueError, match="refresh must be an int >= 1"):
        minimize_newton_cg(obj, np.zeros(obj.n_params), refresh=refresh)


def minimize_newton(obj, memory):
    from softreg.optim.newton_cg import minimize_newton_cg

    return minimize_newton_cg(obj, np.zeros(obj.n_params), tol=1e-8, max_iter=200, memory=memory)


def test_newton_cg_asked_for_an_unreachable_tol_stops_where_f_stops_changing():
    # tol=1e-18 is below what float64 round-off lets max|grad| reach (about 3e-18 here): once
    # f and the gradient stop changing the line search fails, the fit stops with scikit-learn's
    # warning, and does not spend all of max_iter at that point (it used to take 10000).
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=30, n_features=3, n_informative=3, n_redundant=0, random_state=42
    )
    objective = SoftmaxObjective(X, y, 2, C=1.0, fit_intercept=False)
    with pytest.warns(ConvergenceWarning, match=r"max\|grad\| = .* > tol = 1e-18; stopped after"):
        result = minimize(objective, np.zeros(objective.n_params), "newton-cg", tol=1e-18,
                          max_iter=10_000)  # fmt: skip
    assert result.n_iter < 50
    assert result.message == "line search failed"
    reference = minimize(objective, np.zeros(objective.n_params), "newton-cg", tol=1e-10)
    assert result.fun <= reference.fun + 1e-15


def _polish_breaks_the_test():
    # Found by search (seed 32 of make_classification, features scaled 1e-2..10, C=1e6):
    # the polish from max|g| = 4.4e-5 lands at 3.2e-4 (ill-conditioned, penalty ~1e-8).
    from sklearn.datasets import make_classification

    X, y = make_classification(
        300, 20, n_informative=6, n_classes=3, class_sep=2.0, random_state=32, flip_y=0.02
    )
    X = X * np.logspace(-2, 1, 20)[np.random.default_rng(32).permutation(20)]
    return SoftmaxObjective(X, y, 3, C=1e6)


def test_newton_cg_after_a_polish_that_breaks_the_test_iterates_until_it_holds_again():
    # A converged run ends at max|g| <= tol: it used to report convergence at the polished
    # point (3.2e-4 here, above tol = 1e-4). After the one polish, plain Newton steps run
    # until the test holds, and no second polish follows.
    obj = _polish_breaks_the_test()
    result = minimize(obj, np.zeros(obj.n_params), "newton-cg", tol=1e-4, max_iter=300)
    assert result.converged
    assert result.grad_norm <= 1e-4
    polished = [i for i, row in enumerate(result.history) if row.get("polish")]
    assert len(polished) == 1
    i = polished[0]
    assert i > 0
    assert result.history[i - 1]["grad_norm"] <= 1e-4
    assert result.history[i]["grad_norm"] > 1e-4  # ... and the polish broke it
    assert len(result.history) > i + 1  # so plain steps followed
    assert all(row["grad_norm"] > 1e-4 for row in result.history[i:-1])
    # The point returned is no worse than the polished one, and at the minimiser within tol.
    assert result.fun <= result.history[i]["loss"]
    reference = minimize(obj, np.zeros(obj.n_params), "newton-cg", tol=1e-9, max_iter=300)
    assert result.fun - reference.fun <= 1e-6


def test_newton_cg_told_it_already_polished_stops_where_the_test_holds():
    from softreg.optim.newton_cg import minimize_newton_cg

    obj = problem(C=0.5)
    done = minimize(obj, np.zeros(obj.n_params), "newton-cg", tol=1e-6)
    assert done.history[-1].get("polish")
    again = minimize_newton_cg(obj, done.x, tol=1e-6, polished=True)
    assert again.n_iter == 0
    assert again.converged
    np.testing.assert_array_equal(again.x, done.x)
    fresh = minimize_newton_cg(obj, done.x, tol=1e-6)  # a new fit polishes once more
    assert fresh.n_iter == 1
    assert fresh.history[0]["polish"]


def test_newton_cg_state_reads_the_pairs_older_softreg_saved():
    from softreg.optim.newton_cg import NewtonCGState, carried_to_new_fit, newton_cg_state

    pair = (np.ones(3), np.full(3, 2.0))
    assert newton_cg_state(None) == NewtonCGState((), False)
    old = newton_cg_state([pair])  # softreg <= 0.4 saved a list of pairs
    assert old.polished is False
    assert len(old.pairs) == 1
    np.testing.assert_array_equal(old.pairs[0][1], pair[1])
    assert carried_to_new_fit(NewtonCGState((pair,), True)).polished is False
    assert carried_to_new_fit(None) is None

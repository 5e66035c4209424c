"""fit_fold_paths: each fold's path equals the fold fitted alone; the rows copied once."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import KFold

from softreg import SoftmaxRegression, SoftmaxRegressionCV
from softreg._cv_path import checked_folds, fit_fold_paths
from softreg._cv_rows import FoldRows, RowBuffer
from softreg._cv_start import Evaluated, shifted_start
from softreg.objective import SoftmaxObjective
from softreg.optim._fit_core import FitState


def model_at(coef, intercept, C, l1_ratio):
    model = SoftmaxRegression(C=C)
    model.classes_ = np.arange(coef.shape[0])
    model.coef_, model.intercept_ = coef.copy(), intercept.copy()
    model.n_features_in_ = coef.shape[1]
    return model


def four_classes(seed):
    """600 x 8 Gaussian rows, four classes from a random linear map of three features."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((600, 8))
    return X, (X[:, :3] @ rng.standard_normal((3, 4))).argmax(axis=1)


def four_class_paths(X, y, folds, grid, *, tol):
    """fit_fold_paths on :func:`four_classes` data: unit weights, L2 only, log-loss scores."""
    return fit_fold_paths(
        X, y, y, np.arange(4), np.ones(len(y)), folds, np.asarray(grid), np.zeros(1),
        model_at=model_at, scoring="neg_log_loss",
        fit_intercept=True, scale=1.0, tol=tol, max_iter=100,
    )  # fmt: skip


def test_each_fold_path_equals_the_fold_fitted_alone_at_each_c():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4))
    y = (X[:, 0] + rng.standard_normal(120) > 0).astype(int) + (X[:, 1] > 0.5)
    sw = rng.uniform(0.5, 2.0, 120)
    folds = list(KFold(3).split(X))
    grid = np.array([0.1, 1.0, 10.0])
    fitted = fit_fold_paths(
        X, y, y, np.arange(3), sw, folds, grid, np.zeros(1), model_at=model_at,
        scoring="neg_log_loss",
        fit_intercept=True, scale=1.0, tol=1e-9, max_iter=100, keep_oof=True,
    )  # fmt: skip
    for f, (train, test) in enumerate(folds):
        for j, C in enumerate(grid):
            alone = SoftmaxRegression(C=C, tol=1e-9).fit(X[train], y[train], sw[train])
            np.testing.assert_allclose(fitted.coefs[f, 0, j, :, :4], alone.coef_, atol=1e-6)
            np.testing.assert_allclose(
                fitted.oof[test, 0, j], alone.predict_proba(X[test]), atol=1e-6
            )
    assert (fitted.n_iter >= 1).all()


def test_the_first_c_starts_every_later_fold_from_the_first_fold_s_solution(monkeypatch):
    import softreg._cv_path as cv_path

    X, y = four_classes(seed=1)
    folds = list(KFold(4).split(X))
    starts = []
    path_step = cv_path.path_step

    def spy(objective, previous, **kwargs):
        starts.append(previous)
        return path_step(objective, previous, **kwargs)

    monkeypatch.setattr(cv_path, "path_step", spy)
    fitted = four_class_paths(X, y, folds, [0.01, 1.0], tol=1e-6)
    first, later = starts[0], starts[1:4]
    assert first is None  # the first fold's first fit starts from zeros
    for start in later:
        # fold 0's final coefficients at the first C (the intercept centred in coefs)
        coef, intercept = start.w[: 4 * 8].reshape(4, 8), start.w[4 * 8 :]
        np.testing.assert_array_equal(coef, fitted.coefs[0, 0, 0, :, :8])
        np.testing.assert_allclose(intercept - intercept.mean(), fitted.coefs[0, 0, 0, :, 8])
        assert start.optimizer_state is None  # not fold 0's curvature pairs
    # ... which is close to theirs: fewer Newton iterations than from zeros.
    assert (fitted.n_iter[1:, 0, 0] < fitted.n_iter[0, 0, 0]).all()
    # The second C starts the first fold from its own first-C solution (the later folds: see
    # the next test).
    own = starts[4]
    np.testing.assert_array_equal(own.w[: 4 * 8].reshape(4, 8), fitted.coefs[0, 0, 0, :, :8])


def test_later_folds_start_the_next_c_moved_by_the_first_fold_s_step(monkeypatch):
    import softreg._cv_path as cv_path

    X, y = four_classes(seed=1)
    folds = list(KFold(4).split(X))
    starts, ends = [], []
    path_step = cv_path.path_step

    def spy(objective, previous, **kwargs):
        starts.append(previous)
        ends.append(path_step(objective, previous, **kwargs))
        return ends[-1]

    monkeypatch.setattr(cv_path, "path_step", spy)
    fitted = four_class_paths(X, y, folds, [0.01, 0.03], tol=1e-8)
    assert fitted.shifted.tolist() == [[False, True]]  # kept by every later fold
    step = ends[4].w - ends[0].w  # the first fold's, from the first C to the second
    for f in range(1, 4):
        start, own = starts[4 + f], ends[f]
        np.testing.assert_allclose(start.w, own.w + step, atol=1e-12)
        assert start.optimizer_state is own.optimizer_state  # its own curvature pairs
    # Each fold still ends at its own minimiser.
    monkeypatch.undo()
    for f, (train, _) in enumerate(folds):
        alone = SoftmaxRegression(C=0.03, tol=1e-8).fit(X[train], y[train])
        np.testing.assert_allclose(fitted.coefs[f, 0, 1, :, :8], alone.coef_, atol=1e-6)


def test_a_moved_start_is_kept_only_where_the_objective_is_lower():
    X, y = four_classes(seed=3)
    objective = SoftmaxObjective(X, y, 4, C=0.1)
    own = FitState(np.zeros(objective.n_params), optimizer_state="pairs")
    solution = SoftmaxRegression(C=0.1, tol=1e-8).fit(X, y)
    best = np.concatenate([solution.coef_.ravel(), solution.intercept_])
    kept, to_fit = shifted_start(objective, own, np.zeros_like(best), best)
    np.testing.assert_array_equal(kept.w, best)
    assert kept.optimizer_state == "pairs"
    assert to_fit.objective is objective
    # A step that overshoots (the objective above the own start's): the own start, as it is.
    for after in (100 * best, np.full_like(best, np.nan)):
        start, to_fit = shifted_start(objective, own, np.zeros_like(best), after)
        assert start is own
        assert to_fit.objective is objective


def test_the_fit_from_a_kept_moved_start_reuses_the_pass_made_to_test_it(monkeypatch):
    X, y = four_classes(seed=3)
    objective = SoftmaxObjective(X, y, 4, C=0.1)
    own = FitState(np.zeros(objective.n_params))
    after = 0.5 * np.concatenate(
        [SoftmaxRegression(C=0.1).fit(X, y).coef_.ravel(), np.zeros(4)]
    ).astype(objective.dtype)
    points = []
    evaluate = SoftmaxObjective.loss_grad_hessp
    monkeypatch.setattr(
        SoftmaxObjective,
        "loss_grad_hessp",
        lambda self, w: points.append(np.array(w)) or evaluate(self, w),
    )
    start, to_fit = shifted_start(objective, own, np.zeros_like(after), after)
    assert len(points) == 1  # at the moved start (the own start: a loss-only pass)
    f, g, hessp = to_fit.loss_grad_hessp(start.w.copy())  # equal, not the same array
    assert len(points) == 1
    f_ref, g_ref, hessp_ref = evaluate(objective, start.w)
    assert f == f_ref
    np.testing.assert_array_equal(g, g_ref)
    v = np.linspace(-1, 1, objective.n_params).astype(objective.dtype)
    np.testing.assert_array_equal(hessp(v), hessp_ref(v))
    # Only once: a second call, or one elsewhere, passes over the rows again.
    to_fit.loss_grad_hessp(start.w)
    assert len(points) == 2
    _, to_fit = shifted_start(objective, own, np.zeros_like(after), after)
    f_other, _ = to_fit.loss_grad(np.zeros_like(after))
    assert f_other == objective.loss(np.zeros_like(after))
    assert to_fit.loss_grad(start.w)[0] == f  # the hand-back was used up by the call above


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_the_objective_at_the_own_start_comes_from_the_last_fit_s_evaluation(l1_ratio):
    X, y = four_classes(seed=4)
    fitted = Evaluated(SoftmaxObjective(X, y, 4, C=0.1, l1_ratio=l1_ratio))
    w = np.linspace(-0.3, 0.3, fitted.n_params)
    fitted.loss(w + 1)
    other = SoftmaxObjective(X, y, 4, C=0.4, l1_ratio=l1_ratio)  # the same rows, the next C
    assert fitted.objective_at(w, other) is None  # the last evaluation was elsewhere
    fitted.loss_grad_hessp(w + 1)
    assert fitted.objective_at(w + 1, other) == pytest.approx(other.objective(w + 1), rel=1e-14)
    fitted.loss_grad(w)
    assert fitted.objective_at(w, other) == pytest.approx(other.objective(w), rel=1e-14)
    assert fitted.objective_at(w + 1e-9, other) is None
    # shifted_start then needs no pass at the own start, and decides as with one.
    expected = {step: other.objective(w + step) < other.objective(w) for step in (1e-3, -1e-3, 1.0)}
    loss = other.loss
    other.loss = lambda v: pytest.fail("a loss-only pass at the own start")
    own = FitState(w)
    for step, moved in expected.items():
        start, _ = shifted_start(other, own, np.zeros_like(w), np.full_like(w, step), fitted)
        assert (start is not own) == moved
    assert set(expected.values()) == {True, False}  # both decisions were taken
    other.loss = loss


def test_the_first_fold_s_feature_basis_preconditions_every_fold(monkeypatch):
    # One K-FAC feature basis, from the first fold's training rows, for all folds and C: it
    # only preconditions, so each fold still ends at its own minimiser.
    from softreg import _kernels

    X, y = four_classes(seed=2)
    folds = list(KFold(3).split(X))
    computed = []
    feature_basis = _kernels.feature_basis

    def spy(X, *args, **kwargs):
        computed.append(X.shape[0])
        return feature_basis(X, *args, **kwargs)

    monkeypatch.setattr(_kernels, "feature_basis", spy)
    grid = np.array([0.01, 1.0])
    fitted = four_class_paths(X, y, folds, grid, tol=1e-9)
    assert computed == [400]  # once, on the first fold's 400 training rows
    monkeypatch.undo()
    for f, (train, _) in enumerate(folds):
        for j, C in enumerate(grid):
            alone = SoftmaxRegression(C=C, tol=1e-9).fit(X[train], y[train])
            np.testing.assert_allclose(fitted.coefs[f, 0, j, :, :8], alone.coef_, atol=1e-6)


def test_row_buffer_reuses_one_array_and_indexes_sparse_x_as_usual():
    X = np.arange(20.0).reshape(10, 2)
    buffer = RowBuffer(X, 4)
    first = buffer.take(np.array([9, 0, 3]))
    np.testing.assert_array_equal(first, X[[9, 0, 3]])
    second = buffer.take(np.array([1, 2, 5, 7]))
    np.testing.assert_array_equal(second, X[[1, 2, 5, 7]])
    assert np.shares_memory(first, second)  # the same memory: valid until the next take
    sparse = RowBuffer(sp.csr_matrix(X), 4)
    assert sparse.buffer is None
    np.testing.assert_array_equal(sparse.take(np.array([3, 1])).toarray(), X[[3, 1]])


def test_fold_rows_are_slices_of_one_rotated_copy_where_the_folds_partition_the_rows():
    X = np.arange(22.0).reshape(11, 2)
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    rows = FoldRows(X, folds)
    assert rows.rotated
    assert rows.layout.shape == (11 + 11 - len(folds[-1][1]), 2)
    for f, (train, test) in enumerate(folds):
        for (X_rows, index), expected in ((rows.train(f), train), (rows.test(f), test)):
            np.testing.assert_array_equal(np.sort(index), np.sort(expected))
            np.testing.assert_array_equal(X_rows, X[index])  # the rows of those indices
            assert np.shares_memory(X_rows, rows.layout)  # a slice: no copy per call


@pytest.mark.parametrize(
    "case",
    ["overlapping validation sets", "training set not the rest", "sparse X", "over max_bytes"],
)
def test_fold_rows_are_copied_into_buffers_where_no_rotation_serves(case):
    X = np.arange(24.0).reshape(12, 2)
    folds = list(KFold(3).split(X))
    if case == "overlapping validation sets":
        folds[1] = (folds[1][0][1:], np.append(folds[1][1], folds[1][0][0]))
        folds[2] = (folds[2][0], np.append(folds[2][1], 0))
    elif case == "training set not the rest":  # as TimeSeriesSplit gives
        folds[0] = (folds[0][0][:-1], folds[0][1])
    rows = FoldRows(
        sp.csr_matrix(X) if case == "sparse X" else X,
        folds,
        10 if case == "over max_bytes" else None,
    )
    assert not rows.rotated
    for f, (train, test) in enumerate(folds):
        X_train, index = rows.train(f)
        assert index is train  # in the splitter's order
        dense = X_train.toarray() if sp.issparse(X_train) else X_train
        np.testing.assert_array_equal(dense, X[train])
        X_test, index = rows.test(f)
        assert index is test
        dense = X_test.toarray() if sp.issparse(X_test) else X_test
        np.testing.assert_array_equal(dense, X[test])


def cv_peak_memory(X, y):
    SoftmaxRegressionCV(Cs=[1.0], cv=2, max_iter=2).fit(X[:50], y[:50])  # compile first
    tracemalloc.start()
    SoftmaxRegressionCV(Cs=[0.1, 1.0], cv=5, max_iter=3).fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter=3
def test_cross_validation_copies_the_rows_once_or_one_fold_at_a_time(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 100))  # 16 MB
    y = (X[:, :3] @ [1.0, -1.0, 0.5] > 0).astype(int) + (X[:, 3] > 1)
    # The rotated copy (1.8 X), plus the refit's model and temporaries; a copy of each
    # fold's training rows kept at once would be 4 X.
    assert cv_peak_memory(X, y) < 2.4 * X.nbytes
    # Over ROTATED_MAX_BYTES: a training-rows buffer (0.8 X) and a validation-rows buffer
    # (0.2 X).
    monkeypatch.setattr("softreg._cv_rows.ROTATED_MAX_BYTES", X.nbytes)
    assert cv_peak_memory(X, y) < 1.6 * X.nbytes


def test_folds_as_masks_or_negative_indices_select_the_rows_numpy_would():
    # np.take(mode="clip") copies the rows: a boolean mask was read as rows 0 and 1, and an
    # index past the end as the last row.
    X, y = four_classes(3)
    n = len(y)
    rows = np.arange(n)
    ints = [(np.flatnonzero(rows % 3 != f), np.flatnonzero(rows % 3 == f)) for f in range(3)]
    masks = [(rows % 3 != f, rows % 3 == f) for f in range(3)]
    negative = [(train - n, test - n) for train, test in ints]
    ref = SoftmaxRegressionCV(Cs=[0.1, 1.0], cv=ints, tol=1e-8).fit(X, y)
    for cv in (masks, negative):
        model = SoftmaxRegressionCV(Cs=[0.1, 1.0], cv=cv, tol=1e-8).fit(X, y)
        np.testing.assert_array_equal(model.scores_, ref.scores_)
    assert checked_folds(masks, X, y, np.ones(n))[1][1].tolist() == ints[1][1].tolist()


@pytest.mark.parametrize(
    ("cv", "match"),
    [
        ([(np.arange(500), np.array([600]))], r"fold 0's validation rows hold index 600, but X"),
        ([(np.arange(500), np.array([-601]))], r"hold index -601, but X has 600 rows"),
        ([(np.arange(500.0), np.arange(500, 600))], r"training rows must be a 1-d array of int"),
        ([(np.arange(500), np.ones((2, 2), int))], r"got an array of dtype int64 and shape"),
        ([(np.ones(599, bool), np.arange(5))], r"boolean mask of length 600"),
    ],
)
def test_fold_indices_out_of_range_or_of_no_index_type_are_refused(cv, match):
    X, y = four_classes(3)
    with pytest.raises(ValueError, match=match):
        SoftmaxRegressionCV(Cs=[1.0], cv=cv).fit(X, y)


def test_keep_oof_refuses_a_row_validated_twice_in_one_fold():
    # Each row must be validated exactly once: a repeated validation row counts twice (a
    # fancy-indexed ``counts[test] += 1`` counted it once).
    X, y = four_classes(3)
    rows = np.arange(600)
    folds = [(rows[rows % 2 != f], rows[rows % 2 == f]) for f in range(2)]
    np.testing.assert_array_equal(
        [len(test) for _, test in checked_folds(folds, X, y, np.ones(600), keep_oof=True)],
        [300, 300],
    )
    folds[0] = (folds[0][0], np.append(folds[0][1], 0))
    with pytest.raises(ValueError, match="partition the rows"):
        checked_folds(folds, X, y, np.ones(600), keep_oof=True)

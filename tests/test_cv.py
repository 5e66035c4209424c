"""SoftmaxRegressionCV against separate fold fits, scikit-learn's LogisticRegressionCV and its
own stated rules (standard errors, the one-standard-error C, early stopping, refit)."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import balanced_accuracy_score, log_loss
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold

from softreg import SoftmaxRegression, SoftmaxRegressionCV
from softreg._cv_scores import ScoreTable
from softreg.path import regularization_path

CS = np.logspace(-3, 2, 6)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=0.7,
        random_state=0,
    )
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return SoftmaxRegressionCV(Cs=CS, cv=4, tol=1e-8, keep_oof=True).fit(X, y)


def test_scores_and_paths_equal_separate_fold_fits(data, fitted):
    X, y = data
    folds = list(StratifiedKFold(4).split(X, y))
    assert fitted.scores_.shape == (4, 6)
    assert fitted.coefs_paths_.shape == (4, 6, 3, 7)
    assert fitted.n_iter_.shape == (4, 6)
    for f, (train, test) in enumerate(folds):
        for j, C in enumerate(CS):
            alone = SoftmaxRegression(C=C, tol=1e-8).fit(X[train], y[train])
            np.testing.assert_allclose(fitted.coefs_paths_[f, j, :, :6], alone.coef_, atol=1e-6)
            np.testing.assert_allclose(fitted.coefs_paths_[f, j, :, 6], alone.intercept_, atol=1e-6)
            expected = -log_loss(y[test], alone.predict_proba(X[test]), labels=[0, 1, 2])
            assert fitted.scores_[f, j] == pytest.approx(expected, abs=1e-8)
            np.testing.assert_allclose(
                fitted.oof_proba_[test, j], alone.predict_proba(X[test]), atol=1e-7
            )


def test_agrees_with_logistic_regression_cv_on_the_same_folds(data, fitted):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = LogisticRegressionCV(
            Cs=CS,
            cv=StratifiedKFold(4),
            scoring="neg_log_loss",
            l1_ratios=(0.0,),
            use_legacy_attributes=False,
            tol=1e-10,
            max_iter=10_000,
        ).fit(X, y)
    np.testing.assert_allclose(fitted.scores_, ref.scores_[:, 0], atol=1e-6)
    assert pytest.approx(float(ref.C_)) == fitted.C_
    np.testing.assert_allclose(fitted.coef_, ref.coef_, atol=1e-5)


def test_cv_results_hold_mean_std_and_standard_error(fitted):
    res = fitted.cv_results_
    np.testing.assert_array_equal(res["C"], CS)
    splits = np.array([res[f"split{f}_test_score"] for f in range(4)])
    np.testing.assert_allclose(splits, fitted.scores_)
    np.testing.assert_allclose(res["mean_test_score"], fitted.scores_.mean(axis=0))
    np.testing.assert_allclose(res["std_test_score"], fitted.scores_.std(axis=0))
    np.testing.assert_allclose(res["sem_test_score"], fitted.scores_.std(axis=0, ddof=1) / 2)
    np.testing.assert_allclose(res["mean_test_log_loss"], -res["mean_test_score"])
    assert np.all((res["mean_test_accuracy"] > 0.3) & (res["mean_test_accuracy"] <= 1))
    assert res["rank_test_score"][np.argmax(res["mean_test_score"])] == 1
    assert res["fitted"].all()


def test_one_standard_error_rule(data, fitted):
    res = fitted.cv_results_
    best = int(np.argmax(res["mean_test_score"]))
    assert CS[best] == fitted.C_
    threshold = res["mean_test_score"][best] - res["sem_test_score"][best]
    within = CS[res["mean_test_score"] >= threshold]
    assert fitted.C_1se_ == within.min()
    assert fitted.C_1se_ <= fitted.C_
    X, y = data
    one_se = SoftmaxRegressionCV(Cs=CS, cv=4, tol=1e-8, selection="1se").fit(X, y)
    assert fitted.C_1se_ == one_se.C_
    np.testing.assert_allclose(
        one_se.coef_, SoftmaxRegression(C=fitted.C_1se_, tol=1e-8).fit(X, y).coef_, atol=1e-6
    )


def test_refit_is_warm_started_from_the_full_data_path(data, fitted):
    X, y = data
    alone = SoftmaxRegression(C=fitted.C_, tol=1e-8).fit(X, y)
    np.testing.assert_allclose(fitted.coef_, alone.coef_, atol=1e-6)
    np.testing.assert_allclose(fitted.predict_proba(X), alone.predict_proba(X), atol=1e-6)
    # It started where the full-data path left off at the C before the chosen one (the grid
    # up to it, after the choice), not cold: fewer Newton iterations than the cold fit.
    j = int(np.flatnonzero(CS == fitted.C_)[0])
    assert j > 0
    path = regularization_path(X, y, CS[:j], tol=1e-8)
    starts = []
    original_fit = SoftmaxRegression._fit

    def spy(self, X, y, sample_weight, *args, **kwargs):
        starts.append((self.coef_.copy(), self.intercept_.copy()))
        return original_fit(self, X, y, sample_weight, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SoftmaxRegression, "_fit", spy)
        again = SoftmaxRegressionCV(Cs=CS, cv=4, tol=1e-8).fit(X, y)
    assert again.C_ == fitted.C_
    assert len(starts) == 1
    # ... moved by the first fold's step from that C to the chosen one, as every later fold
    # was moved at the chosen C (see test_cv_path).
    coef, intercept = starts[0]
    step = again.coefs_paths_[0, j] - again.coefs_paths_[0, j - 1]
    np.testing.assert_allclose(coef, path.coef[-1] + step[:, :6], atol=1e-6)
    np.testing.assert_allclose(
        intercept - intercept.mean(), path.intercept[-1] + step[:, 6], atol=1e-6
    )
    assert fitted.best_estimator_.n_iter_ < alone.n_iter_
    assert fitted.best_estimator_.score(X, y) == alone.score(X, y)


def test_refit_is_not_moved_where_a_later_fold_refused_its_moved_start(data, fitted):
    import softreg._cv_path

    X, y = data
    starts = []
    original_fit = SoftmaxRegression._fit

    def spy(self, X, y, sample_weight, *args, **kwargs):
        starts.append(self.coef_.copy())
        return original_fit(self, X, y, sample_weight, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            softreg._cv_path,
            "shifted_start",
            lambda objective, own, *moves: (own, softreg._cv_path.Evaluated(objective)),
        )
        patch.setattr(SoftmaxRegression, "_fit", spy)
        again = SoftmaxRegressionCV(Cs=CS, cv=4, tol=1e-8).fit(X, y)
    j = int(np.flatnonzero(CS == again.C_)[0])
    path = regularization_path(X, y, CS[:j], tol=1e-8)
    np.testing.assert_allclose(starts[0], path.coef[-1], atol=1e-6)
    np.testing.assert_allclose(again.coef_, fitted.coef_, atol=1e-6)


def test_refit_path_starts_from_the_first_folds_model_at_the_c_before_the_chosen_one(data, fitted):
    # As the later folds do at the first C: the full-data path starts from fold 0's model
    # (coefficients, intercept last) at the C before the chosen one; its fits still converge.
    import softreg._cv_path
    import softreg.cv

    X, y = data
    calls = []
    original = softreg._cv_path.follow_path

    def spy(objective_at, Cs, **kwargs):
        calls.append((Cs, kwargs["start"].w.copy(), objective_at(1.0)))
        return original(objective_at, Cs, **kwargs)

    folds, final = [], []
    fit_fold_paths, fit = softreg.cv.fit_fold_paths, SoftmaxRegression._fit

    def folds_spy(*args, **kwargs):
        folds.append(fit_fold_paths(*args, **kwargs))
        return folds[-1]

    def fit_spy(self, *args, feature_basis=None, **kwargs):
        final.append(feature_basis)
        return fit(self, *args, feature_basis=feature_basis, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(softreg._cv_path, "follow_path", spy)
        patch.setattr(softreg.cv, "fit_fold_paths", folds_spy)
        patch.setattr(SoftmaxRegression, "_fit", fit_spy)
        again = SoftmaxRegressionCV(Cs=CS, cv=4, tol=1e-8).fit(X, y)
    j = int(np.flatnonzero(CS == again.C_)[0])
    assert j >= 1
    assert len(calls) == 1
    Cs, start, objective = calls[0]
    np.testing.assert_array_equal(Cs, CS[j - 1 : j])
    coef, intercept = objective.unravel(start)  # fold 0's model, intercept last
    np.testing.assert_array_equal(coef, again.coefs_paths_[0, j - 1, :, :6])
    np.testing.assert_array_equal(intercept, again.coefs_paths_[0, j - 1, :, 6])
    # The full data's objective (all rows); the path and the final fit are preconditioned
    # with the folds' feature basis, not one computed again.
    assert objective.n_samples == len(y)
    assert folds[0].basis is not None
    assert objective.feature_basis is folds[0].basis
    assert final == [folds[0].basis]
    np.testing.assert_allclose(again.coef_, fitted.coef_, atol=1e-6)
    alone = SoftmaxRegression(C=again.C_, tol=1e-8).fit(X, y)
    np.testing.assert_allclose(again.coef_, alone.coef_, atol=1e-6)


def test_refit_false_averages_the_fold_models_at_the_chosen_c(data, fitted):
    X, y = data
    model = SoftmaxRegressionCV(Cs=CS, cv=4, tol=1e-8, refit=False).fit(X, y)
    j = int(np.flatnonzero(CS == model.C_)[0])
    np.testing.assert_allclose(
        model.coef_, fitted.coefs_paths_[:, j, :, :6].mean(axis=0), atol=1e-6
    )
    assert model.predict(X).shape == (300,)


def test_early_stopping_stops_after_the_best_and_keeps_the_choice():
    # Many noise features: the validation loss clearly rises past its best.
    X, y = make_classification(
        n_samples=200,
        n_features=30,
        n_informative=5,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=0.7,
        random_state=0,
    )
    grid = np.logspace(-3, 4, 12)
    full = SoftmaxRegressionCV(Cs=grid, cv=4).fit(X, y)
    early = SoftmaxRegressionCV(Cs=grid, cv=4, early_stopping=True).fit(X, y)
    done = early.cv_results_["fitted"]
    n_done = int(done.sum())
    assert n_done < len(grid)
    assert done[:n_done].all()
    assert np.isnan(early.scores_[:, n_done:]).all()
    assert np.isnan(early.coefs_paths_[:, n_done:]).all()
    np.testing.assert_allclose(early.scores_[:, :n_done], full.scores_[:, :n_done])
    assert early.C_ == full.C_
    # The stop rule (ScoreTable.passed_best) holds at the last fitted C, and not one C sooner.
    table = ScoreTable(4, 1, len(grid), "neg_log_loss")
    table.score[:, 0] = early.scores_
    assert table.passed_best(0)
    table.score[:, 0, n_done - 1] = np.nan
    assert not table.passed_best(0)


def test_uint8_input_scale_and_float32(data):
    X, y = data
    rng = np.random.default_rng(0)
    pixels = np.clip(X * 40 + 128 + rng.normal(0, 1, X.shape), 0, 255).astype(np.uint8)
    raw = SoftmaxRegressionCV(Cs=[0.01, 1.0], cv=3, input_scale=1 / 255).fit(pixels, y)
    as_float = SoftmaxRegressionCV(Cs=[0.01, 1.0], cv=3).fit(
        (pixels / np.float32(255)).astype(np.float32), y
    )
    assert raw.coef_.dtype == np.float32
    assert raw.coefs_paths_.dtype == np.float32
    np.testing.assert_allclose(raw.scores_, as_float.scores_, atol=1e-4)
    np.testing.assert_allclose(raw.coef_, as_float.coef_, atol=1e-3)
    np.testing.assert_array_equal(raw.predict(pixels), as_float.predict(pixels / 255))


def test_scorers_other_than_log_loss(data):
    X, y = data
    folds = list(KFold(3).split(X))
    model = SoftmaxRegressionCV(Cs=[0.1], cv=KFold(3), scoring="balanced_accuracy").fit(X, y)
    for f, (train, test) in enumerate(folds):
        alone = SoftmaxRegression(C=0.1).fit(X[train], y[train])
        expected = balanced_accuracy_score(y[test], alone.predict(X[test]))
        assert model.scores_[f, 0] == pytest.approx(expected, abs=0.01)
    acc = SoftmaxRegressionCV(Cs=[0.1], cv=KFold(3), scoring=None).fit(X, y)
    expected = [
        np.mean(SoftmaxRegression(C=0.1).fit(X[tr], y[tr]).predict(X[te]) == y[te])
        for tr, te in folds
    ]
    np.testing.assert_allclose(acc.scores_[:, 0], expected, atol=0.01)


def test_l1_ratios_add_an_axis_and_zero_is_l2(data):
    X, y = data
    model = SoftmaxRegressionCV(Cs=[0.05, 0.5], cv=3, l1_ratios=[0.0, 1.0], tol=1e-6).fit(X, y)
    assert model.scores_.shape == (3, 2, 2)
    assert model.coefs_paths_.shape == (3, 2, 2, 3, 7)
    assert model.cv_results_["l1_ratio"].tolist() == [0.0, 0.0, 1.0, 1.0]
    l2 = SoftmaxRegressionCV(Cs=[0.05, 0.5], cv=3, tol=1e-6).fit(X, y)
    np.testing.assert_allclose(model.scores_[:, 0], l2.scores_, atol=1e-6)
    assert model.l1_ratio_ in (0.0, 1.0)
    assert np.sum(model.coefs_paths_[:, 1, 0, :, :6] == 0) > 0  # strong L1: exact zeros


def test_binary_and_string_labels(data):
    X, y = data
    labels = np.array(["cat", "dog"])[(y > 0).astype(int)]
    model = SoftmaxRegressionCV(Cs=[0.1, 1.0], cv=3).fit(X, labels)
    assert model.decision_function(X).shape == (300,)
    assert set(model.predict(X)) <= {"cat", "dog"}


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"Cs": [1.0, -2.0]}, "Cs must be"),
        ({"l1_ratios": [1.5]}, "l1_ratios must be"),
        ({"keep_oof": True, "cv": ShuffleSplit(3, random_state=0)}, "partition the rows"),
        ({"cv": []}, "at least one train/validation split, got none"),
        ({"cv": [(np.arange(300), np.array([], dtype=int))]}, "fold 0 has no validation rows"),
        (
            {
                "cv": [
                    (np.arange(0, 300, 2), np.arange(1, 300, 2)),
                    (np.array([], dtype=int), np.arange(1)),
                ]
            },
            "fold 1 has no training rows with positive sample_weight",
        ),
    ],
)
def test_bad_settings_are_named(data, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        SoftmaxRegressionCV(**params).fit(X, y)


def test_bad_data_gets_softregression_s_named_errors_before_any_fold_is_fitted(data):
    # A magnitude that overflows the Hessian used to surface as "Eigenvalues did not converge"
    # from the first fold's preconditioner; a string in X as NumPy's "could not convert".
    X, y = data
    with pytest.raises(ValueError, match=r"X contains values too large for float64"):
        SoftmaxRegressionCV(Cs=[1.0], cv=3).fit(X * 1e200, y)
    words = X.astype(object)
    words[0, 0] = "abc"
    with pytest.raises(TypeError, match=r"X column 0 has dtype object holding a str value"):
        SoftmaxRegressionCV(Cs=[1.0], cv=3).fit(words, y)
    with pytest.raises(ValueError, match=r"OneVsRestClassifier\(SoftmaxRegressionCV\(\)\)"):
        SoftmaxRegressionCV(Cs=[1.0], cv=3).fit(X, np.eye(3)[y % 3].astype(int))
    fitted = SoftmaxRegressionCV(Cs=[1.0], cv=3).fit(X, y)
    with pytest.raises(ValueError, match=r"X contains values too large for float64"):
        fitted.predict(X * 1e200)


def test_sparse_wide_input_matches_dense(monkeypatch):
    # Wide enough for the diagonal preconditioner and the Lanczos grid (thresholds lowered so
    # the dense twin is small): sparse and dense X give the same path.
    import scipy.sparse as sp

    from softreg import _kernels

    monkeypatch.setattr(_kernels.kfac, "MAX_FEATURES", 50)
    monkeypatch.setattr(_kernels.kfac, "DENSE_EIGEN_MAX", 50)
    rng = np.random.default_rng(2)
    X = sp.random(300, 400, density=0.03, random_state=2, format="csr")
    y = rng.integers(0, 3, 300)
    y[np.asarray(X[:, :20].sum(axis=1)).ravel() > 0.1] = 0
    sparse = SoftmaxRegressionCV(Cs=4, cv=3, tol=1e-8).fit(X.tocsc(), y)
    dense = SoftmaxRegressionCV(Cs=4, cv=3, tol=1e-8).fit(X.toarray(), y)
    np.testing.assert_allclose(sparse.Cs_, dense.Cs_, rtol=1e-7)
    np.testing.assert_allclose(sparse.scores_, dense.scores_, rtol=1e-6, atol=1e-8)
    assert sparse.C_ == dense.C_
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-5)


def test_scoring_none_weighs_accuracy_by_sample_weight_as_scikit_learn(data):
    X, y = data
    sw = np.random.default_rng(3).uniform(0.1, 3.0, len(y))
    folds = list(StratifiedKFold(3).split(X, y))
    model = SoftmaxRegressionCV(Cs=[0.01, 1.0], cv=folds, scoring=None, tol=1e-8)
    model.fit(X, y, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = LogisticRegressionCV(
            Cs=[0.01, 1.0], cv=folds, scoring=None, l1_ratios=(0.0,), tol=1e-10,
            max_iter=10_000, use_legacy_attributes=False,
        ).fit(X, y, sample_weight=sw)  # fmt: skip
    np.testing.assert_allclose(model.scores_, ref.scores_[:, 0], atol=1e-12)
    for f, (train, test) in enumerate(folds):
        alone = SoftmaxRegression(C=1.0, tol=1e-8).fit(X[train], y[train], sw[train])
        expected = alone.score(X[test], y[test], sample_weight=sw[test])
        assert model.scores_[f, 1] == pytest.approx(expected, abs=1e-12)
    # The accuracy column is the same weighted accuracy.
    np.testing.assert_allclose(model.cv_results_["mean_test_accuracy"], model.scores_.mean(axis=0))


def test_scorers_taking_labels_get_every_class_when_a_fold_lacks_one():
    # scikit-learn's test_logistic_cv_folds_with_classes_missing: each validation fold holds
    # a single class, absent from its training rows.
    from sklearn.metrics import brier_score_loss

    y = np.array(["a", "a", "b", "b", "c", "c"])
    X = np.arange(6.0)[:, None]
    cv = KFold(3)
    model = SoftmaxRegressionCV(cv=cv, scoring="neg_brier_score", Cs=np.logspace(-6, 6, 5))
    model.fit(X, y)
    assert model.C_ == 1e-6
    for f, (_, test) in enumerate(cv.split(X, y)):
        alone = SoftmaxRegression(C=1e-6).fit(X, y)
        alone.coef_ = model.coefs_paths_[f, 0, :, :-1].astype(alone.coef_.dtype)
        alone.intercept_ = model.coefs_paths_[f, 0, :, -1].astype(alone.coef_.dtype)
        expected = -brier_score_loss(y[test], alone.predict_proba(X[test]), labels=["a", "b", "c"])
        assert model.scores_[f, 0] == pytest.approx(expected, rel=1e-6)
    binary = SoftmaxRegressionCV(cv=KFold(2), scoring="neg_brier_score", Cs=[1e-6, 1.0])
    binary.fit(X[:4], y[:4])  # pos_label "b" where each validation fold holds one class
    assert np.isfinite(binary.scores_).all()


def test_zero_validation_weight_with_scoring_none_is_named(data):
    X, y = data
    sw = np.ones(len(y))
    folds = list(KFold(3).split(X, y))
    sw[folds[1][1]] = 0.0
    with pytest.raises(ValueError, match="fold 1's validation rows have zero total sample_w"):
        SoftmaxRegressionCV(Cs=[1.0], cv=folds, scoring=None).fit(X, y, sample_weight=sw)


def test_fold_paths_scoring_and_refit_run_blas_on_one_thread(data, monkeypatch):
    # A multi-threaded BLAS call (each fold's scoring product) leaves OpenBLAS's threads
    # spinning into the next fit's passes; see softreg._cv_path's docstring.
    from threadpoolctl import threadpool_info, threadpool_limits

    import softreg.cv

    def blas_threads():
        return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

    seen = {"scoring": [], "refit": []}

    def scorer(model, X, y):
        seen["scoring"].append(blas_threads())
        return model.score(X, y)

    refit = softreg.cv.refit

    def recording_refit(*args, **kwargs):
        seen["refit"].append(blas_threads())
        return refit(*args, **kwargs)

    monkeypatch.setattr(softreg.cv, "refit", recording_refit)
    X, y = data
    with threadpool_limits(2, user_api="blas"):
        if blas_threads() < 2:
            pytest.skip("this BLAS cannot run 2 threads")
        SoftmaxRegressionCV(Cs=[0.1, 1.0], cv=3, scoring=scorer).fit(X, y)
        assert blas_threads() == 2  # restored after the fit
    assert seen["scoring"] == [1] * 6
    assert seen["refit"] == [1]

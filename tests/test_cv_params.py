"""SoftmaxRegressionCV's LogisticRegressionCV parameters (solver, penalty, dual, n_jobs,
intercept_scaling, use_legacy_attributes), its sample-weighted scores, ``score`` and metadata
routing, against scikit-learn 1.9's ``LogisticRegressionCV`` and separate fits."""

import warnings

import numpy as np
import pytest
from sklearn import config_context
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import get_scorer, log_loss
from sklearn.model_selection import GroupKFold, StratifiedKFold

from softreg import SoftmaxRegression, SoftmaxRegressionCV
from softreg._cv_params import legacy_attributes, resolve_cv_penalty, resolve_cv_solver

CS = [0.01, 0.1, 1.0]


def _data(n_classes=3, n=240, seed=0):
    return make_classification(
        n_samples=n,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )


# -- penalty and solver -------------------------------------------------------------------------


def test_l1_ratios_choose_the_penalty_when_penalty_is_unset():
    assert resolve_cv_penalty("deprecated", None)[0] == "l2"
    assert resolve_cv_penalty("deprecated", [0, 0])[0] == "l2"
    assert resolve_cv_penalty("deprecated", [1.0])[0] == "l1"
    name, ratios = resolve_cv_penalty("deprecated", (0.0, 0.5, 1.0))
    assert name == "elasticnet"
    np.testing.assert_array_equal(ratios, [0.0, 0.5, 1.0])


@pytest.mark.parametrize("bad", [[], [1.5], [-0.1], ["a"], [np.nan]])
def test_bad_l1_ratios_are_refused_naming_them(bad):
    with pytest.raises(ValueError, match="l1_ratios must be an array-like of numbers between"):
        resolve_cv_penalty("deprecated", bad)


def test_penalty_is_deprecated_but_obeyed_as_scikit_learn():
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        assert resolve_cv_penalty("l1", None) == ("l1", pytest.approx([1.0]))
    with (
        pytest.warns(FutureWarning, match="'penalty' was deprecated"),
        pytest.warns(UserWarning, match="l1_ratios parameter is only used when penalty"),
    ):
        name, ratios = resolve_cv_penalty("l2", [0.3, 0.7])
    assert name == "l2"
    np.testing.assert_array_equal(ratios, [0.0, 0.0])  # one path per entry, all L2
    with (
        pytest.warns(FutureWarning),
        pytest.raises(ValueError, match=r"got \(l1_ratios=None\)"),
    ):
        resolve_cv_penalty("elasticnet", None)


def test_penalty_none_is_refused_there_being_no_c_to_choose():
    X, y = _data()
    model = SoftmaxRegressionCV(Cs=CS, penalty=None)
    with (
        pytest.warns(FutureWarning),
        pytest.raises(ValueError, match=r"penalty=None leaves no C to choose.*C=np.inf"),
    ):
        model.fit(X, y)


def test_solvers_are_resolved_with_scikit_learns_refusals():
    assert resolve_cv_solver("auto", "l2", False, None) == "auto"
    assert resolve_cv_solver("lbfgs", "l2", False, None) == "lbfgs"
    with pytest.raises(ValueError, match="solver='fista' minimises the same objective"):
        resolve_cv_solver("saga", "elasticnet", False, None)
    assert resolve_cv_solver("saga", "elasticnet", False, {"saga": "fista"}) == "fista"
    with pytest.raises(ValueError, match="Solver lbfgs supports only 'l2' or None penalties"):
        resolve_cv_solver("lbfgs", "l1", False, None)
    with pytest.raises(ValueError, match="supports only dual=False"):
        resolve_cv_solver("newton-cg", "l2", True, None)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"solver": "liblinear"}, "solver='newton-cg' minimises the same objective"),
        ({"solver": "lbfgs", "l1_ratios": [0.5]}, "Solver lbfgs supports only 'l2'"),
        ({"dual": True}, "supports only dual=False"),
        ({"solver": "sgd"}, "'solver' parameter of SoftmaxRegressionCV must be"),
        ({"use_legacy_attributes": "warn"}, "'use_legacy_attributes' parameter"),
        ({"intercept_scaling": 0}, "'intercept_scaling' parameter"),
    ],
)
def test_bad_parameters_are_refused_before_any_fit(params, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        SoftmaxRegressionCV(Cs=CS, **params).fit(X, y)


def test_lbfgs_path_finds_what_newton_cg_finds_and_the_refit_uses_it():
    X, y = _data()
    folds = list(StratifiedKFold(3).split(X, y))
    newton = SoftmaxRegressionCV(Cs=CS, cv=folds, tol=1e-9).fit(X, y)
    lbfgs = SoftmaxRegressionCV(Cs=CS, cv=folds, tol=1e-9, solver="lbfgs").fit(X, y)
    np.testing.assert_allclose(lbfgs.scores_, newton.scores_, atol=1e-9)
    np.testing.assert_allclose(lbfgs.coefs_paths_, newton.coefs_paths_, atol=1e-6)
    assert lbfgs.best_estimator_.solver == "lbfgs"
    assert newton.best_estimator_.solver == "auto"
    np.testing.assert_allclose(lbfgs.coef_, newton.coef_, atol=1e-6)


def test_fista_path_with_l2_and_the_penalty_parameter_for_l1():
    X, y = _data()
    folds = list(StratifiedKFold(3).split(X, y))
    fista = SoftmaxRegressionCV(Cs=CS, cv=folds, tol=1e-9, solver="fista", max_iter=20000)
    newton = SoftmaxRegressionCV(Cs=CS, cv=folds, tol=1e-9).fit(X, y)
    np.testing.assert_allclose(fista.fit(X, y).scores_, newton.scores_, atol=1e-7)
    by_penalty = SoftmaxRegressionCV(Cs=CS, cv=folds, penalty="l1", max_iter=5000)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        by_penalty.fit(X, y)
    by_ratio = SoftmaxRegressionCV(Cs=CS, cv=folds, l1_ratios=[1.0], max_iter=5000).fit(X, y)
    assert by_penalty.scores_.shape == (3, 3)  # l1_ratios=None: no l1_ratio axis
    np.testing.assert_array_equal(by_penalty.scores_, by_ratio.scores_[:, 0])
    assert by_penalty.l1_ratio_ == 1.0


def test_n_jobs_and_intercept_scaling_are_accepted_and_change_nothing():
    X, y = _data()
    plain = SoftmaxRegressionCV(Cs=CS, cv=3).fit(X, y)
    other = SoftmaxRegressionCV(Cs=CS, cv=3, n_jobs=-1, intercept_scaling=5.0).fit(X, y)
    np.testing.assert_array_equal(other.scores_, plain.scores_)
    np.testing.assert_array_equal(other.coef_, plain.coef_)


# -- sample-weighted scores and score() ---------------------------------------------------------


def test_validation_log_loss_is_weighted_by_sample_weight_as_scikit_learn():
    X, y = _data()
    sw = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    folds = list(StratifiedKFold(3).split(X, y))
    model = SoftmaxRegressionCV(Cs=CS, cv=folds, tol=1e-9).fit(X, y, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref = LogisticRegressionCV(
            Cs=CS, cv=folds, scoring="neg_log_loss", l1_ratios=(0.0,), tol=1e-10,
            max_iter=10_000, use_legacy_attributes=False,
        ).fit(X, y, sample_weight=sw)  # fmt: skip
    np.testing.assert_allclose(model.scores_, ref.scores_[:, 0], atol=1e-7)
    losses = []
    for train, test in folds:
        alone = SoftmaxRegression(C=CS[1], tol=1e-9).fit(X[train], y[train], sw[train])
        losses.append(log_loss(y[test], alone.predict_proba(X[test]), sample_weight=sw[test]))
    assert model.cv_results_["mean_test_log_loss"][1] == pytest.approx(np.mean(losses))


def test_integer_weights_score_as_repeated_rows():
    X, y = _data()
    sw = np.random.default_rng(2).integers(1, 4, len(y))
    folds = list(StratifiedKFold(3).split(X, y))
    rows = np.repeat(np.arange(len(y)), sw)
    where = np.repeat(np.arange(len(y)), sw)
    rep_folds = [
        (np.flatnonzero(np.isin(where, tr)), np.flatnonzero(np.isin(where, te))) for tr, te in folds
    ]
    for scoring in ("neg_log_loss", "accuracy", "f1_macro"):
        weighted = SoftmaxRegressionCV(Cs=CS, cv=folds, tol=1e-10, scoring=scoring)
        repeated = SoftmaxRegressionCV(Cs=CS, cv=rep_folds, tol=1e-10, scoring=scoring)
        weighted.fit(X, y, sample_weight=sw)
        repeated.fit(X[rows], y[rows])
        np.testing.assert_allclose(weighted.scores_, repeated.scores_, atol=1e-7)


def test_score_is_the_scoring_weighted_and_given_every_class():
    X, y = _data()
    model = SoftmaxRegressionCV(Cs=CS, cv=3).fit(X, y)
    proba = model.predict_proba(X)
    assert model.score(X, y) == pytest.approx(-log_loss(y, proba))
    sw = np.linspace(0.5, 2.0, len(y))
    assert model.score(X, y, sample_weight=sw) == pytest.approx(
        -log_loss(y, proba, sample_weight=sw)
    )
    two = y < 2  # rows of two classes only: the log-loss still knows the third
    assert model.score(X[two], y[two]) == pytest.approx(
        -log_loss(y[two], proba[two], labels=model.classes_)
    )
    accuracy = SoftmaxRegressionCV(Cs=CS, cv=3, scoring=None).fit(X, y)
    assert accuracy.score(X, y) == accuracy.best_estimator_.score(X, y)


# -- use_legacy_attributes ----------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("l1_ratios", [None, (0.0, 0.5)])
def test_legacy_attributes_have_scikit_learns_keys_and_shapes(n_classes, l1_ratios):
    X, y = _data(n_classes)
    folds = list(StratifiedKFold(3).split(X, y))
    ours = SoftmaxRegressionCV(
        Cs=CS, cv=folds, l1_ratios=l1_ratios, use_legacy_attributes=True, max_iter=300
    ).fit(X, y)
    new = SoftmaxRegressionCV(Cs=CS, cv=folds, l1_ratios=l1_ratios, max_iter=300).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LogisticRegressionCV(
            Cs=CS, cv=folds, l1_ratios=l1_ratios, scoring="neg_log_loss",
            solver="saga" if l1_ratios else "lbfgs", use_legacy_attributes=True,
        ).fit(X, y)  # fmt: skip
    for name in ("scores_", "coefs_paths_"):
        ours_dict, ref_dict = getattr(ours, name), getattr(ref, name)
        assert list(ours_dict) == list(ref_dict)
        for key in ref_dict:
            assert ours_dict[key].shape == ref_dict[key].shape
    for name in ("n_iter_", "C_", "l1_ratio_"):
        assert getattr(ours, name).shape == getattr(ref, name).shape
    # The same numbers as the new layout: scores per class, each class's coefficient rows
    # (for two classes the decision function's, row 1 minus row 0).
    paths = new.coefs_paths_ if l1_ratios is None else np.moveaxis(new.coefs_paths_, 1, 2)
    scores = new.scores_ if l1_ratios is None else np.moveaxis(new.scores_, 1, 2)
    for key, value in ours.scores_.items():
        np.testing.assert_array_equal(value, scores)
        k = list(ours.classes_).index(key)
        expected = paths[..., k, :] - (paths[..., 0, :] if n_classes == 2 else 0)
        np.testing.assert_array_equal(ours.coefs_paths_[key], expected)
    assert np.all(ours.C_ == new.C_)
    np.testing.assert_array_equal(ours.coef_, new.coef_)


def test_legacy_attributes_doctest_layout():
    s = np.arange(2 * 1 * 3, dtype=float).reshape(2, 1, 3)
    c = np.zeros((2, 1, 3, 3, 4))
    n = np.ones((2, 1, 3), int)
    out = legacy_attributes(np.array(["a", "b", "c"]), s, c, n, 0.5, 0.0, squeeze=False)
    assert out["scores_"]["a"].shape == (2, 3, 1)
    assert out["coefs_paths_"]["c"].shape == (2, 3, 1, 4)
    assert out["n_iter_"].shape == (1, 2, 3, 1)
    np.testing.assert_array_equal(out["l1_ratio_"], [0.0, 0.0, 0.0])


# -- metadata routing ---------------------------------------------------------------------------


def test_groups_reach_the_splitter_with_metadata_routing():
    X, y = _data()
    groups = np.arange(len(y)) % 7
    folds = list(GroupKFold(3).split(X, y, groups))
    with config_context(enable_metadata_routing=True):
        routed = SoftmaxRegressionCV(Cs=CS, cv=GroupKFold(3)).fit(X, y, groups=groups)
    given = SoftmaxRegressionCV(Cs=CS, cv=folds).fit(X, y)
    np.testing.assert_array_equal(routed.scores_, given.scores_)
    np.testing.assert_array_equal(routed.coef_, given.coef_)


def test_extra_fit_and_score_arguments_need_metadata_routing():
    X, y = _data()
    model = SoftmaxRegressionCV(Cs=CS, cv=GroupKFold(3))
    with pytest.raises(ValueError, match="is only supported if enable_metadata_routing=True"):
        model.fit(X, y, groups=np.arange(len(y)) % 7)
    model = SoftmaxRegressionCV(Cs=CS, cv=3).fit(X, y)
    with pytest.raises(ValueError, match="is only supported if enable_metadata_routing=True"):
        model.score(X, y, extra=1.0)


def test_with_routing_the_scorer_gets_sample_weight_only_if_it_asks():
    X, y = _data()
    sw = np.random.default_rng(4).uniform(0.2, 3.0, len(y))
    folds = list(StratifiedKFold(3).split(X, y))
    weighted = SoftmaxRegressionCV(Cs=CS, cv=folds).fit(X, y, sample_weight=sw)
    weighted_score = weighted.score(X, y, sample_weight=sw)  # no routing: to the scorer
    with config_context(enable_metadata_routing=True):
        asks = get_scorer("neg_log_loss").set_score_request(sample_weight=True)
        declines = get_scorer("neg_log_loss").set_score_request(sample_weight=False)
        with_w = SoftmaxRegressionCV(Cs=CS, cv=folds, scoring=asks).fit(X, y, sample_weight=sw)
        without = SoftmaxRegressionCV(Cs=CS, cv=folds, scoring=declines)
        without.fit(X, y, sample_weight=sw)
        assert with_w.score(X, y, sample_weight=sw) == pytest.approx(weighted_score)
        with pytest.raises(TypeError, match="not routed to any object"):
            without.score(X, y, sample_weight=sw)
    np.testing.assert_allclose(with_w.scores_, weighted.scores_, rtol=1e-12)
    np.testing.assert_array_equal(without.coefs_paths_, weighted.coefs_paths_)  # fits weighted
    for f, (_, test) in enumerate(folds):
        for j in range(len(CS)):
            model = SoftmaxRegression(C=CS[j])
            model.classes_, model.n_features_in_ = without.classes_, X.shape[1]
            model.coef_ = without.coefs_paths_[f, j, :, :-1]
            model.intercept_ = without.coefs_paths_[f, j, :, -1]
            expected = -log_loss(y[test], model.predict_proba(X[test]))  # unweighted
            assert without.scores_[f, j] == pytest.approx(expected, rel=1e-6)

"""ScoreTable: its log-loss and accuracy against scikit-learn, and its stated rules (standard
errors, ranks, the one-standard-error C, the early stop) on hand-made tables."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss

from softreg._cv_scores import ScoreTable


def test_log_loss_and_accuracy_equal_scikit_learns():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((40, 4))
    log_proba = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    y = rng.integers(0, 4, 40)
    table = ScoreTable(1, 1, 1, "accuracy")
    table.record(0, 0, 0, log_proba, y)
    proba = np.exp(log_proba)
    assert table.log_loss[0, 0, 0] == pytest.approx(log_loss(y, proba, labels=range(4)))
    assert table.accuracy[0, 0, 0] == accuracy_score(y, proba.argmax(axis=1))
    assert table.score[0, 0, 0] == table.accuracy[0, 0, 0]


def test_a_custom_scorer_sees_the_model_and_the_rows():
    seen = []

    def scorer(model, X, y):
        seen.append((model, X, y))
        return 0.25

    table = ScoreTable(1, 1, 1, scorer)
    table.record(0, 0, 0, np.log(np.full((2, 2), 0.5)), np.array([0, 1]), model="m", X="X", y="y")
    assert seen == [("m", "X", "y")]
    assert table.score[0, 0, 0] == 0.25


@pytest.mark.parametrize("value", ["good", None, True, np.array([0.5, 0.7])])
def test_a_scorer_returning_no_number_is_refused_by_name(value):
    # NumPy said "could not convert string to float: 'good'", or "setting an array element
    # with a sequence", and stored True as a score of 1.0.
    table = ScoreTable(2, 1, 1, lambda model, X, y: value)
    with pytest.raises(TypeError, match=r"scoring must return a number, got .* on fold 1"):
        table.record(1, 0, 0, np.log(np.full((2, 2), 0.5)), np.array([0, 1]), model="m")


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_an_infinite_score_is_refused_by_name(value):
    # Its mean and standard error ranked nothing: NumPy's "zero-size array to reduction
    # operation minimum which has no identity" came from the one-standard-error rule.
    table = ScoreTable(2, 1, 3, lambda model, X, y: value)
    with pytest.raises(ValueError, match=r"scoring returned -?inf on fold 1 \(C index 2\)"):
        table.record(1, 0, 2, np.log(np.full((2, 2), 0.5)), np.array([0, 1]), model="m")


def test_a_weighted_scorer_gets_the_rows_sample_weight():
    seen = []

    def scorer(model, X, y, sample_weight=None):
        seen.append(sample_weight)
        return 0.5

    table = ScoreTable(1, 1, 1, scorer)
    proba = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    sw = np.array([1.0, 3.0, 0.0])
    table.record(0, 0, 0, proba, np.array([0, 0, 1]), model="m", sample_weight=sw)
    assert seen[0] is sw
    assert table.log_loss[0, 0, 0] == pytest.approx(-(np.log(0.9) + 3 * np.log(0.2)) / 4)
    assert table.accuracy[0, 0, 0] == pytest.approx(1 / 4)
    with pytest.raises(ValueError, match="fold 0's validation rows have zero total"):
        table.record(0, 0, 0, proba, np.array([0, 0, 1]), model="m", sample_weight=0 * sw)


def test_a_scorer_may_return_numpy_scalars():
    table = ScoreTable(1, 1, 2, lambda model, X, y: np.float32(0.5))
    table.record(0, 0, 0, np.log(np.full((2, 2), 0.5)), np.array([0, 1]), model="m")
    assert table.score[0, 0, 0] == 0.5


def filled(scores):
    """A table whose scores (n_folds, n_Cs) are given (one l1_ratio)."""
    scores = np.asarray(scores, dtype=float)
    table = ScoreTable(scores.shape[0], 1, scores.shape[1], "neg_log_loss")
    table.score[:, 0] = scores
    return table


def test_best_and_one_standard_error_choices():
    # Mean scores -0.9, -0.55, -0.42, -0.4, -0.6; the best (C index 3) has folds -0.3, -0.5:
    # standard error 0.1, so index 2 (-0.42) is within it and index 1 (-0.55) is not.
    table = filled([[-0.9, -0.55, -0.42, -0.3, -0.6], [-0.9, -0.55, -0.42, -0.5, -0.6]])
    assert table.select() == (0, 3, 2)
    results = table.results(np.arange(5.0), np.zeros(1), np.ones((2, 1, 5), dtype=int))
    np.testing.assert_allclose(results["sem_test_score"][3], 0.1)
    np.testing.assert_array_equal(results["rank_test_score"], [5, 3, 2, 1, 4])
    np.testing.assert_array_equal(results["n_iter"], [2] * 5)
    assert results["fitted"].all()


def stops_along(rows):
    """``passed_best`` after each C of one l1_ratio, the C's fold scores given in turn."""
    table = filled(np.full((len(rows[0]), len(rows)), np.nan))
    stops = []
    for j, fold_scores in enumerate(rows):
        table.score[:, 0, j] = fold_scores
        stops.append(table.passed_best(0))
    return stops


def test_early_stop_after_two_later_c_beyond_one_standard_error():
    # Best mean -0.5 at index 1, standard error 0.1 (folds -0.4, -0.6); index 3 (-0.65) and 4
    # (-0.62) are below -0.6. Index 3 is not below the best fold by fold (drops -0.05 and
    # -0.25: mean -0.15, standard error 0.1), so only index 4 stops the path.
    rows = [[-0.9, -0.9], [-0.4, -0.6], [-0.5, -0.55], [-0.45, -0.85], [-0.6, -0.64], [-1, -1]]
    assert stops_along(rows) == [False, False, False, False, True, True]


def test_early_stop_after_one_later_c_worse_fold_by_fold():
    # The same best (-0.5, standard error 0.1). Index 2 (-0.55) is within it; index 3 (-0.635)
    # is below it and below the best in both folds (drops -0.15 and -0.12: mean -0.135,
    # standard error 0.015, beyond t(0.95, 1) = 6.31 of them), so it stops the path at once.
    rows = [[-0.9, -0.9], [-0.4, -0.6], [-0.45, -0.65], [-0.55, -0.72]]
    assert stops_along(rows) == [False, False, False, True]
    # Below best - se but not fold by fold (drops +0.1 and -0.38: mean -0.14, standard error
    # 0.24): no stop until a second C falls below best - se too.
    rows = [[-0.9, -0.9], [-0.4, -0.6], [-0.45, -0.65], [-0.3, -0.98], [-0.7, -0.7]]
    assert stops_along(rows) == [False, False, False, False, True]
    # Worse fold by fold, but within the best's standard error: no stop.
    assert stops_along([[-0.9, -0.9], [-0.4, -0.6], [-0.47, -0.66]]) == [False] * 3
    # The newest C is the best: no stop.
    assert stops_along([[-0.9, -0.9], [-0.1, -0.1]]) == [False, False]


def test_the_one_c_stop_is_a_one_sided_paired_t_test_at_five_percent():
    # Five folds, the best C scoring -0.5 in each (standard error 0). The drops to the next C
    # are shift + 0.1 e, e of mean 0 and standard deviation sqrt(5): their standard error is
    # 0.1, so a shift of -0.3 is 3 of them and stops the path; -0.2 is 2, short of
    # t(0.95, 4) = 2.132, and does not.
    e = np.array([1.0, -1.0, 2.0, -2.0, 0.0]) * np.sqrt(2.0)
    assert np.std(e, ddof=1) == pytest.approx(np.sqrt(5))
    best = np.full(5, -0.5)
    for shift, stops in ((-0.3, True), (-0.2, False)):
        rows = [best - 1, best, best + shift + 0.1 * e]
        assert stops_along([list(r) for r in rows]) == [False, False, stops]


def test_a_single_fold_has_no_one_c_stop():
    # No standard error from one fold: only the two-C rule (with se = 0) stops the path.
    assert stops_along([[-0.9], [-0.5], [-0.6], [-0.7]]) == [False, False, False, True]


def test_unfitted_c_are_nan_and_rank_last():
    table = filled([[-0.5, -0.4, np.nan], [-0.5, -0.6, np.nan]])
    results = table.results(np.arange(3.0), np.zeros(1), np.zeros((2, 1, 3), dtype=int))
    np.testing.assert_array_equal(results["fitted"], [True, True, False])
    assert results["rank_test_score"][2] == 3
    assert table.select()[1] == 0  # -0.5 beats the mean -0.5 of index 1 by order


def test_all_nan_scores_are_refused():
    with pytest.raises(ValueError, match="every validation score is NaN"):
        filled(np.full((2, 2), np.nan)).select()


def test_make_scorer_gives_every_class_to_metrics_taking_labels_unless_set():
    from sklearn.metrics import brier_score_loss
    from sklearn.metrics import make_scorer as sk_make_scorer

    from softreg._cv_scores import make_scorer

    three = make_scorer("neg_brier_score", np.array(["a", "b", "c"]))
    np.testing.assert_array_equal(three._kwargs["labels"], ["a", "b", "c"])
    assert "pos_label" not in three._kwargs
    assert three._sign == -1
    two = make_scorer("f1", np.array([3, 7]))
    assert two._kwargs["pos_label"] == 7
    np.testing.assert_array_equal(two._kwargs["labels"], [3, 7])
    own = sk_make_scorer(
        brier_score_loss, response_method="predict_proba", greater_is_better=False, pos_label=3
    )
    assert make_scorer(own, np.array([3, 7]))._kwargs["pos_label"] == 3  # the user's choice

    def plain(model, X, y):
        return 0.0

    assert make_scorer(plain, np.array([0, 1])) is plain
    assert make_scorer(None, np.array([0, 1])) == "accuracy"  # scoring=None: the accuracy

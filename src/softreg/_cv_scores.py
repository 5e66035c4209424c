"""The validation scores of a cross-validated path, and the choice of ``C`` from them.

:class:`ScoreTable` holds, for every fold, l1_ratio and ``C``, the score the user chose
(``scoring``), the log-loss and the accuracy; it gives ``cv_results_``, the early stop of
the path and the chosen ``C`` (the best mean score, and glmnet's one-standard-error rule).
Standard errors are ``std(ddof=1) / sqrt(n_folds)`` over the folds.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import t as student_t
from sklearn.metrics import check_scoring
from sklearn.metrics import make_scorer as sklearn_make_scorer

from softreg._validation import is_real_number
from softreg.softmax_regression import SoftmaxRegression

Array = NDArray[Any]


def make_scorer(scoring: Any, classes: Array) -> Any:
    """What scores a fold: ``"neg_log_loss"``, ``"accuracy"`` or a scorer.

    The two named scores (``None`` is the accuracy, as scikit-learn's ``scoring=None``) are
    computed from the log-probabilities; any other is :func:`labelled_scorer`'s.
    """
    if scoring in ("neg_log_loss", "accuracy", None):
        return "accuracy" if scoring is None else scoring
    return labelled_scorer(scoring, classes)


def labelled_scorer(scoring: Any, classes: Array) -> Any:
    """``scoring`` as a scorer; one whose metric takes ``labels`` is given every class.

    A scikit-learn scorer whose metric takes ``labels`` gets ``labels=classes`` (and, for two
    classes, ``pos_label=classes[-1]`` where it takes one), unless it set them itself: a
    validation fold may lack a class (``LogisticRegressionCV`` does the same). Other callables
    are used as they are.
    """
    scorer = check_scoring(SoftmaxRegression(), scoring=scoring)
    func = getattr(scorer, "_score_func", None)
    params = inspect.signature(func).parameters if func is not None else {}
    if "labels" not in params:
        return scorer
    extra: dict[str, Any] = {"labels": classes}
    if len(classes) <= 2 and "pos_label" in params:
        extra["pos_label"] = classes[-1]
    return sklearn_make_scorer(
        func,
        greater_is_better=scorer._sign == 1,
        response_method=scorer._response_method,
        **{**extra, **getattr(scorer, "_kwargs", {})},
    )


class ScoreTable:
    """Scores of shape (n_folds, n_l1_ratios, n_Cs), NaN where a model was not fitted.

    Examples
    --------
    >>> table = ScoreTable(n_folds=2, n_l1=1, n_Cs=3, scoring="neg_log_loss")
    >>> log_proba = np.log(np.array([[0.75, 0.25], [0.5, 0.5]]))
    >>> table.record(0, 0, 0, log_proba, np.array([0, 1]))
    >>> round(float(table.log_loss[0, 0, 0]), 6)  # -(log 0.75 + log 0.5) / 2
    0.490415
    >>> float(table.accuracy[0, 0, 0])  # argmax picks class 0 for both rows (ties: the first)
    0.5
    """

    def __init__(
        self, n_folds: int, n_l1: int, n_Cs: int, scoring: Any, classes: Array | None = None
    ) -> None:
        shape = (n_folds, n_l1, n_Cs)
        self.score = np.full(shape, np.nan)
        self.log_loss = np.full(shape, np.nan)
        self.accuracy = np.full(shape, np.nan)
        self.scorer = make_scorer(scoring, np.arange(2) if classes is None else classes)

    def record(
        self,
        f: int,
        i: int,
        j: int,
        log_proba: Array,
        y_enc: Array,
        *,
        model: Any = None,
        X: Any = None,
        y: Array | None = None,
        sample_weight: Array | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        """Fold ``f``'s model at (l1_ratio ``i``, ``C`` ``j``) on its validation rows.

        ``log_proba`` (n_rows, n_classes) are its log-probabilities, ``y_enc`` the class
        indices, ``sample_weight`` the user's weights of these rows (or None). Every score is
        weighted by them, as ``LogisticRegressionCV`` 1.9 passes ``sample_weight`` to its
        scorer: the log-loss and accuracy columns are weighted means, and a scorer is called
        as ``scorer(model, X, y, sample_weight=sample_weight)`` (the model, rows and labels as
        the user knows them; without ``sample_weight`` when it is None). ``params`` are
        other metadata routed to the scorer (these rows' share), passed to it as they are.
        """
        if sample_weight is not None and not np.sum(sample_weight) > 0:
            raise ValueError(
                f"fold {f}'s validation rows have zero total sample_weight: the validation "
                "scores are weighted by it"
            )
        rows = np.arange(len(y_enc))
        nll = -log_proba[rows, y_enc].astype(np.float64)
        ll = float(np.average(nll, weights=sample_weight))
        hits = np.argmax(log_proba, axis=1) == y_enc
        acc = float(np.average(hits, weights=sample_weight))
        self.log_loss[f, i, j] = ll
        self.accuracy[f, i, j] = acc
        if self.scorer == "neg_log_loss":
            self.score[f, i, j] = -ll
        elif self.scorer == "accuracy":
            self.score[f, i, j] = acc
        else:
            kwargs = dict(params or {})
            if sample_weight is not None:
                kwargs["sample_weight"] = sample_weight
            value = self.scorer(model, X, y, **kwargs)
            # As scikit-learn's cross_validate words it; NumPy said "could not convert string
            # to float" for a str, and stored a bool as 0 or 1.
            if not is_real_number(value):
                raise TypeError(
                    f"scoring must return a number, got {value!r} ({type(value).__name__}) "
                    f"instead, on fold {f}"
                )
            if np.isinf(value):  # a mean and standard error of it rank nothing
                raise ValueError(
                    f"scoring returned {float(value)} on fold {f} (C index {j}): a validation "
                    "score must be finite (or NaN where it is undefined)"
                )
            self.score[f, i, j] = float(value)

    def mean_score(self, i: int, j: int) -> float:
        """The mean over the folds of the score at (l1_ratio ``i``, ``C`` ``j``)."""
        return float(np.mean(self.score[:, i, j]))

    def passed_best(self, i: int) -> bool:
        """Whether the path of l1_ratio ``i`` has clearly passed its best mean score.

        The path's early stop, with ``se`` the best mean's standard error; the best is behind
        the newest ``C`` and either

        * the two newest ``C`` both score below ``best - se``, or
        * the newest ``C`` scores below ``best - se`` and below the best fold by fold: a
          one-sided paired t-test of its folds' differences to the best's rejects "no worse"
          at the 5% level (the mean difference is below minus ``t(0.95, n_folds - 1)``
          standard errors of the differences: 2.13 for 5 folds; the folds' own difficulty
          cancels out). Not with a single fold.

        The second rule stops the path one ``C`` sooner on the steep side of a log-loss curve.
        """
        scores = self.score[:, i]
        j = int((~np.isnan(scores[0])).sum())
        if j < 2:
            return False
        mean = scores[:, :j].mean(axis=0)
        best = int(np.argmax(mean))
        se = _standard_error(scores[:, best])
        if best <= j - 3 and bool(np.all(mean[j - 2 : j] < mean[best] - se)):
            return True
        if len(scores) < 2 or best > j - 2 or not mean[j - 1] < mean[best] - se:
            return False
        drop = scores[:, j - 1] - scores[:, best]
        t95 = float(student_t.ppf(0.95, len(drop) - 1))
        return float(drop.mean()) < -t95 * _standard_error(drop)

    def select(self) -> tuple[int, int, int]:
        """``(l1 index, C index)`` of the best mean score, and the one-standard-error C index.

        The 1se ``C`` is the smallest (strongest penalty) whose mean is at least
        ``best - se(best)``, for the best l1_ratio.
        """
        mean = self.score.mean(axis=0)
        if np.all(np.isnan(mean)):
            raise ValueError("every validation score is NaN: the scorer returned no number")
        i, j = np.unravel_index(int(np.nanargmax(mean)), mean.shape)
        se = _standard_error(self.score[:, i, j])
        within = np.flatnonzero(mean[i] >= mean[i, j] - se)
        return int(i), int(j), int(within.min())

    def results(self, Cs: Array, l1_ratios: Array, n_iter: Array) -> dict[str, Array]:
        """``cv_results_``: one entry per (l1_ratio, C), l1_ratio-major."""
        n_folds, n_l1, n_Cs = self.score.shape
        results: dict[str, Array] = {
            "C": np.tile(Cs, n_l1),
            "l1_ratio": np.repeat(l1_ratios, n_Cs),
        }
        for table, name in (
            (self.score, "score"),
            (self.log_loss, "log_loss"),
            (self.accuracy, "accuracy"),
        ):
            values = table.reshape(n_folds, n_l1 * n_Cs)
            results[f"mean_test_{name}"] = values.mean(axis=0)
            results[f"std_test_{name}"] = values.std(axis=0)
            results[f"sem_test_{name}"] = np.array([_standard_error(v) for v in values.T])
            if name == "score":
                for f in range(n_folds):
                    results[f"split{f}_test_score"] = values[f]
        mean = np.where(np.isnan(results["mean_test_score"]), -np.inf, results["mean_test_score"])
        rank = np.empty(len(mean), dtype=np.intp)
        rank[np.argsort(-mean, kind="stable")] = np.arange(1, len(mean) + 1)
        results["rank_test_score"] = rank
        results["n_iter"] = n_iter.sum(axis=0).reshape(-1)  # over the folds
        results["fitted"] = ~np.isnan(results["mean_test_score"])
        return results


def _standard_error(values: Array) -> float:
    """``std(ddof=1) / sqrt(n)`` of one score per fold (0 for a single fold)."""
    n = len(values)
    return float(np.std(values, ddof=1) / np.sqrt(n)) if n > 1 else 0.0

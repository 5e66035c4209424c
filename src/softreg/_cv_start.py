"""Where a later cross-validation fold starts at the next ``C``, and what that costs.

:func:`softreg._cv_path.fit_fold_paths` moves each later fold's start by the first fold's
step along the path, where that lowers the fold's objective (:func:`shifted_start`). The
test needs the objective at both candidate starts. Neither needs a pass of its own over the
fold's rows beyond the one at the moved start:

* at the fold's own start (its solution at the previous ``C``), the previous fit's last
  evaluation was there: only the penalty changes with ``C`` (:meth:`Evaluated.objective_at`);
* at the moved start, the pass made for the test (loss, gradient and probabilities) is handed
  to the fit as its first evaluation, where that start is kept.

Measured on ``bench_cv.py``'s early-stopped path on all 60000 Fashion-MNIST rows (5 folds,
``C`` up to 0.36, 16 moved starts, every one kept): three passes per moved start became one.
The fold paths' loss passes went from 135 to 116 with the first change (and the rows'
reordering, :mod:`softreg._cv_rows`), and to 100 with the second, with the same models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from softreg.optim._fit_core import FitState

Array = NDArray[Any]


class Evaluated:
    """``objective`` (a :class:`softreg.objective.SoftmaxObjective`), its last loss kept.

    Every attribute is ``objective``'s; ``loss``, ``loss_grad`` and ``loss_grad_hessp``
    also record the parameters and the (smooth) loss of the newest call. ``first``, a pair
    ``(w, objective.loss_grad_hessp(w))`` made before, answers the first call of
    ``loss_grad`` or ``loss_grad_hessp`` where it is at parameters equal to ``w``, instead of
    a pass over the rows; the first call of any of the three consumes it.
    """

    def __init__(
        self, objective: Any, first: tuple[Array, tuple[float, Array, Any]] | None = None
    ) -> None:
        self.objective = objective
        self._first = first
        self.last: tuple[Array, float] | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "objective":  # not set yet (a copy being made): no endless lookup
            raise AttributeError(name)
        return getattr(self.objective, name)

    def _consume(self, w: Array) -> tuple[float, Array, Any] | None:
        first, self._first = self._first, None  # its probabilities are not held any longer
        return first[1] if first is not None and np.array_equal(w, first[0]) else None

    def _record(self, w: Array, f: float) -> None:
        self.last = (np.array(w, copy=True), float(f))

    def loss(self, w: Array) -> float:
        self._first = None
        f = self.objective.loss(w)
        self._record(w, f)
        return float(f)

    def loss_grad(self, w: Array) -> tuple[float, Array]:
        known = self._consume(w)
        f, g = self.objective.loss_grad(w) if known is None else known[:2]
        self._record(w, f)
        return f, g

    def loss_grad_hessp(self, w: Array) -> tuple[float, Array, Any]:
        known = self._consume(w)
        result = self.objective.loss_grad_hessp(w) if known is None else known
        self._record(w, result[0])
        return result

    def objective_at(self, w: Array, other: Any) -> float | None:
        """``other.objective(w)``, L1 term included, from the last call here, or None.

        ``other`` is this objective at another ``C`` (the same rows and weights): the data
        term is the same, only the penalty changes. None where the last call was not at
        parameters equal to ``w``.
        """
        if self.last is None or not np.array_equal(self.last[0], w):
            return None
        coef, _ = other.unravel(np.asarray(w, dtype=other.dtype))
        square = float(np.dot(coef.ravel(), coef.ravel()))  # as the objective's penalty sums it
        moved = 0.5 * (other.l2_strength - self.objective.l2_strength) * square
        return self.last[1] + moved + other.l1_penalty(w)


def shifted_start(
    objective: Any, own: FitState, before: Array, after: Array, fitted: Evaluated | None = None
) -> tuple[FitState, Evaluated]:
    """A later fold's start at a new ``C``: its own last solution, moved as the first fold's moved.

    ``own`` is the fold's state at the previous ``C``, ``before`` and ``after`` the first
    fold's parameters at the previous and the new ``C``. The folds share most of their rows,
    so the first fold's step along the path is close to each fold's, and
    ``own.w + (after - before)`` is closer to the fold's new solution than ``own.w`` on the
    strong-penalty side of the path. On the weak-penalty side, where the coefficients grow
    along directions that only some folds can separate, the moved start can land far off: it
    is kept only where the objective (:meth:`objective`, L1 term included) is lower there
    than at ``own.w``. Either way ``own``'s curvature pairs come along.

    ``fitted`` is the fold's objective at the previous ``C`` as its fit left it: the
    objective at ``own.w`` comes from its last evaluation where that was at ``own.w``
    (:meth:`Evaluated.objective_at`), else from a pass. Returns the start and the objective
    to fit from it: an :class:`Evaluated`, given the pass made at the moved start where that
    start is kept.

    Measured with the ``bench_cv.py`` grid (``logspace(-4, 4, 10)``, 5 folds), in
    Hessian-vector products over the fold paths: on all 60000 Fashion-MNIST rows, early-stopped
    (``C`` up to 0.36), 405 became 357 (Newton iterations 99 to 76) and the fold paths took
    17.3 s instead of 20.8 s, every moved start kept; on the first 15000 rows' whole path,
    5288 became 5603 (68 s and 66 s), the moved start refused from ``C = 21.5`` on. Moved
    without the objective test, that path took 23162 products (257 s).
    """
    guess = after + (own.w - before)
    evaluation = objective.loss_grad_hessp(guess)
    at_own = None if fitted is None else fitted.objective_at(own.w, objective)
    if at_own is None:
        at_own = objective.objective(own.w)
    if evaluation[0] + objective.l1_penalty(guess) < at_own:  # False for a NaN
        start = FitState(guess, optimizer_state=own.optimizer_state)
        return start, Evaluated(objective, (guess, evaluation))
    return own, Evaluated(objective)

"""How a `SoftmaxRegression` fit runs: from its settings and data to one call of the fit core.

Functions of the estimator (passed as ``model``; this module imports none): the penalty and
solver its parameters choose, the objective of its data (in memory, or sharded on Dask), the
start point (zeros, Xavier, a warm start, a checkpoint), the hooks (`Progress`, which keeps the
fitted attributes current, and a checkpointer), and `run` and `run_epoch` (one ``partial_fit``
epoch), which hand them to the one training loop :func:`softreg.optim._fit_core.fit_core`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import _check_sample_weight

from softreg._fingerprint import data_fingerprint
from softreg._sklearn_params import n_iter_array, resolve_penalty, resolve_solver
from softreg.objective import SoftmaxObjective, flat_params
from softreg.optim._fit_core import FitState, Hook, fit_core
from softreg.optim.newton_cg import carried_to_new_fit
from softreg.optim.solve import STOCHASTIC
from softreg.resume import Checkpointer, Run, start_from_checkpoint

_DEFAULT_LEARNING_RATE = {"sgd": 0.06, "adam": 1e-3}


def penalty_args(model: Any) -> tuple[float, float]:
    """``(C, l1_ratio)`` for the objective, chosen from ``penalty``, ``C`` and ``l1_ratio`` as
    scikit-learn 1.9 does, with its warnings (:func:`softreg._sklearn_params.resolve_penalty`)."""
    _, C, l1_ratio = resolve_penalty(model.penalty, model.C, model.l1_ratio)
    return C, l1_ratio


def solver_for(model: Any, l1_ratio: float) -> str:
    """The softreg solver for ``model.solver`` and the objective's ``l1_ratio`` (``"auto"``
    resolved), or scikit-learn's ValueError (:func:`softreg._sklearn_params.resolve_solver`)."""
    name = "l2" if l1_ratio == 0 else "l1" if l1_ratio == 1 else "elasticnet"
    return resolve_solver(str(model.solver), name, bool(model.dual), model._solver_equivalents)


def tol_for(model: Any, solver: str) -> float:
    """``model.tol``, or the solver's default when None."""
    if model.tol is None:
        return 1e-4 if solver in ("sgd", "adam", "newton-cg") else 1e-6
    return float(model.tol)


def learning_rate_for(model: Any, solver: str) -> Any:
    """``model.learning_rate``, or the solver's default when None."""
    if model.learning_rate is None:
        return _DEFAULT_LEARNING_RATE.get(solver, _DEFAULT_LEARNING_RATE["sgd"])
    return model.learning_rate


def seed(random_state: Any) -> Any:
    """A seed for ``np.random.default_rng`` from scikit-learn style ``random_state``."""
    if isinstance(random_state, np.random.RandomState):
        return random_state.randint(np.iinfo(np.int32).max)
    return random_state


def scale_of(model: Any) -> float:
    """The factor the model applies to ``X`` (``input_scale``, default 1)."""
    return 1.0 if model.input_scale is None else float(model.input_scale)


def in_memory_objective(
    model: Any,
    X: Any,
    y_enc: NDArray[np.intp],
    sample_weight: Any,
    C: float,
    l1_ratio: float = 0.0,
    feature_basis: tuple[NDArray[Any], NDArray[Any]] | None = None,
) -> SoftmaxObjective:
    """The objective of ``model``'s settings on validated ``X`` and class indices ``y_enc``.

    ``feature_basis``: K-FAC's, when already known (it only preconditions; see
    :class:`softreg.objective.SoftmaxObjective`).
    """
    return SoftmaxObjective(
        X,
        y_enc,
        len(model.classes_),
        sample_weights(model, sample_weight, X, y_enc),
        C=C,
        l1_ratio=l1_ratio,
        fit_intercept=model.fit_intercept,
        scale=scale_of(model),
        feature_basis=feature_basis,
    )


def sample_weights(model: Any, sample_weight: Any, X: Any, y_enc: NDArray[np.intp]) -> NDArray[Any]:
    """Per-sample weights: ``sample_weight`` (default 1) times ``model.class_weight``'s."""
    dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float32)
    sw = _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)
    if model.class_weight is not None:
        classes = model.classes_
        cw = compute_class_weight(model.class_weight, classes=classes, y=classes[y_enc])
        sw = sw * cw[y_enc].astype(dtype)
    return sw


def initial_params(model: Any, objective: Any, rng: np.random.Generator) -> NDArray[Any]:
    """Zeros, or Xavier-uniform ``coef`` (``init="xavier"``, drawn from ``rng``)."""
    k, d = objective.n_classes, objective.n_features
    w0 = np.zeros(objective.n_params, dtype=objective.dtype)
    if model.init == "xavier":
        bound = np.sqrt(6.0 / (d + k))
        w0[: k * d] = rng.uniform(-bound, bound, size=k * d)
    return w0


def dense_coef(model: Any) -> NDArray[Any]:
    """``model.coef_`` as an array (it is a CSR matrix after ``sparsify()``)."""
    coef = model.coef_
    return coef.toarray() if sp.issparse(coef) else np.asarray(coef)


def previous_fit(model: Any) -> tuple[Any, Any, Any] | None:
    """What a ``warm_start`` fit continues: ``(classes_, coef_, intercept_)`` of the fitted
    ``model`` (`run` uses them when the classes and shapes match), else None."""
    if model.warm_start and hasattr(model, "coef_"):
        return model.classes_, dense_coef(model), model.intercept_
    return None


def store(model: Any, w: NDArray[Any], objective: Any) -> None:
    """Set ``model.coef_`` and ``model.intercept_`` from the flat ``w`` (centred over classes
    where that never moves away from the optimum)."""
    # New parameters invalidate a temperature calibrated for the old ones.
    model.__dict__.pop("temperature_", None)
    coef, intercept = objective.unravel(w)
    model.coef_ = np.array(coef, copy=True)
    if objective.l1_strength == 0 or objective.n_classes == 2:
        # softmax(z + c) = softmax(z) also for c = x . v: adding v to every row of coef leaves
        # the data term unchanged. Centring (v = -mean of the rows) keeps the loss and lowers
        # an L2 penalty (||W - 1 m^T||^2 = ||W||^2 - k ||m||^2), and for two classes any
        # penalty (|a| + |b| >= 2 |(b - a) / 2|), so it never moves away from the optimum;
        # without a penalty it picks scikit-learn's zero-sum representative (the one the L2
        # optimum has, Zhu and Hastie 2004). Not for an L1 term with more than two classes.
        model.coef_ -= model.coef_.mean(axis=0, dtype=np.float64).astype(model.coef_.dtype)
    if intercept is None:
        model.intercept_ = np.zeros(objective.n_classes, dtype=objective.dtype)
    else:
        # softmax(z + c) = softmax(z): only intercept differences matter. Centring picks
        # the zero-sum representative (what gradient methods from zero keep anyway; Adam
        # drifts along the flat direction), so the fitted intercept_ is unique.
        model.intercept_ = intercept - intercept.mean(dtype=np.float64).astype(intercept.dtype)


class Progress:
    """The hook that keeps ``model``'s fitted attributes current, prints, and calls ``callback``.

    After every iteration ``coef_``, ``intercept_``, ``history_`` and ``n_iter_`` describe the
    current point; ``callback(model, record)`` may then return True to stop the fit.
    """

    def __init__(
        self, model: Any, objective: Any, callback: Callable[[Any, dict[str, Any]], Any] | None
    ) -> None:
        self.model, self.objective, self.callback = model, objective, callback

    def on_iteration(self, state: Any) -> bool:
        model, row = self.model, state.history[-1]
        store(model, state.w, self.objective)
        model.history_, model.n_iter_ = state.history, n_iter_array(state.n_iter)
        if model.verbose:
            print(
                f"[{type(model).__name__}] iteration {row['iteration']}: loss={row['loss']:.8g} "
                f"grad_norm={row['grad_norm']:.3g}"
            )
        return bool(self.callback(model, row)) if self.callback is not None else False

    def on_fit_end(self, state: Any) -> None:
        store(self.model, state.w, self.objective)
        self.model.history_, self.model.n_iter_ = state.history, n_iter_array(state.n_iter)


class SklearnCallbacks:
    """The hook that drives scikit-learn 1.9's ``set_callbacks`` callbacks (after `Progress`,
    so the model holds the iteration's parameters); see :mod:`softreg._sklearn_callbacks`."""

    def __init__(self, bridge: Any) -> None:
        self.bridge = bridge

    def on_iteration(self, state: Any) -> bool:
        return self.bridge.iteration_end()

    def on_fit_end(self, state: Any) -> None:
        self.bridge.close()


def run(
    model: Any,
    objective: Any,
    solver: str,
    shape: tuple[int, ...],
    previous: tuple[Any, Any, Any] | None,
    options: Run,
    callbacks: Any = None,
) -> None:
    """Start (fresh, warm from ``previous`` = (classes, coef, intercept), or from a checkpoint),
    run the fit core with the progress, checkpoint and ``callbacks`` hooks (a
    :class:`softreg._sklearn_callbacks.CallbackBridge`), and keep the final state."""
    data_shape = (int(shape[0]), int(shape[1]))
    rng = np.random.default_rng(seed(model.random_state))
    start = FitState(initial_params(model, objective, rng), rng=rng)
    coef_shape = (objective.n_classes, objective.n_features)
    if (
        previous is not None
        and np.array_equal(previous[0], model.classes_)
        and np.shape(previous[1]) == coef_shape
    ):
        start = _warm_start(model, objective, solver, previous, rng)
    fingerprint = None
    if options.resume_from is not None or options.checkpoint is not None:
        # Once per fit (one read of X): checkpoints are refused for other data.
        # Objectives whose data live elsewhere (Dask shards) record none: not checked.
        arrays = [getattr(objective, name, None) for name in ("X", "y", "weight")]
        if all(isinstance(a, np.ndarray) or hasattr(a, "tocsr") for a in arrays):
            fingerprint = data_fingerprint(*arrays)
    if options.resume_from is not None:
        start = start_from_checkpoint(
            options.resume_from,
            model,
            data_shape=data_shape,
            classes=model.classes_,
            n_params=objective.n_params,
            dtype=objective.dtype,
            rng=rng,
            data_fingerprint=fingerprint,
        )
    store(model, start.w, objective)
    model.history_, model.n_iter_ = list(start.history), n_iter_array(start.n_iter)
    hooks: list[Hook] = [Progress(model, objective, options.callback)]
    if callbacks is not None:
        callbacks.begin()
        hooks.append(SklearnCallbacks(callbacks))
    if options.checkpoint is not None:
        hooks.append(
            Checkpointer(
                options.checkpoint,
                options.checkpoint_every,
                model,
                data_shape,
                model.classes_,
                _checkpoint_contents,
                data_fingerprint=fingerprint,
            )
        )
    final = fit_core(
        objective,
        start,
        solver,
        tol=tol_for(model, solver),
        max_iter=int(model.max_iter),
        hooks=hooks,
        learning_rate=learning_rate_for(model, solver),
        momentum=float(model.momentum),
        batch_size=int(model.batch_size),
    )
    model._optimizer_state = final.optimizer_state if solver in STOCHASTIC else None
    # What a warm start continues from: this end state (before `store`'s centring) and the
    # parameters `store` left, to tell whether a user has changed them since.
    model._warm_start_state = (final, solver, dense_coef(model).copy(), model.intercept_.copy())


def _warm_start(
    model: Any, objective: Any, solver: str, previous: tuple[Any, Any, Any], rng: Any
) -> FitState:
    """The start of a warm-started fit: the previous fit's end state (parameters, solver state,
    generator; counting from 0 again) if ``coef_``/``intercept_`` are still what it left and the
    problem has the same size, dtype and solver, so ``k`` fits of one iteration end where one
    fit of ``k`` iterations does; else the current ``coef_``/``intercept_`` and a fresh state."""
    saved = getattr(model, "_warm_start_state", None)
    if saved is not None:
        final, saved_solver, coef, intercept = saved
        if (
            saved_solver == solver
            and final.w.shape == (objective.n_params,)
            and final.w.dtype == objective.dtype
            and np.array_equal(coef, previous[1])
            and np.array_equal(intercept, previous[2])
        ):
            carried = carried_to_new_fit(final.optimizer_state)  # a new fit polishes anew
            return FitState(np.array(final.w, copy=True), 0, [], carried, final.rng)
    return FitState(flat_params(previous[1], previous[2], objective), rng=rng)


def _checkpoint_contents(state: FitState) -> dict[str, Any]:
    """What a checkpoint of a `SoftmaxRegression` fit holds (see :mod:`softreg.resume`)."""
    return {
        "solver_params": (state.w,),
        "optimizer_state": state.optimizer_state,
        "rng": state.rng,
        "model_state": {"history_": state.history},
    }


def run_epoch(model: Any, objective: Any, first: bool) -> None:
    """One ``partial_fit`` epoch of ``"sgd"`` (``"adam"`` if that is the solver) on ``objective``:
    from a fresh start on the ``first`` call, else from ``coef_``/``intercept_`` and the
    optimiser state and generator the previous call left; appends the epoch to ``history_``."""
    solver = "adam" if model.solver == "adam" else "sgd"
    if first or not hasattr(model, "_rng"):
        model._rng = np.random.default_rng(seed(model.random_state))
    if first:
        start = FitState(initial_params(model, objective, model._rng), rng=model._rng)
    else:
        w = flat_params(dense_coef(model), model.intercept_, objective)
        state = getattr(model, "_optimizer_state", None)
        start = FitState(w, int(model.n_iter_[0]), [], state, model._rng)
    # One epoch through the fit core, with no stop rule (tol=0: the history is not needed).
    final = fit_core(
        objective,
        start,
        solver,
        tol=0.0,
        max_iter=start.n_iter + 1,
        learning_rate=learning_rate_for(model, solver),
        momentum=float(model.momentum),
        batch_size=int(model.batch_size),
    )
    store(model, final.w, objective)
    model._optimizer_state = final.optimizer_state
    if first:
        model.history_ = []
    model.history_.extend(final.history)  # in place: one row per call
    model.n_iter_ = n_iter_array(final.n_iter)


def run_sharded(
    model: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    C: float,
    l1_ratio: float,
    solver: str,
    previous: tuple[Any, Any, Any] | None,
    options: Run,
    client: Any = None,
    callbacks: Any = None,
) -> None:
    """`run` on a ``dask.array`` ``X``: the objective is :mod:`softreg.dask`'s sharded one."""
    from softreg.dask.problem import check_inputs, cluster_session, sharded_objective

    X, y, sample_weight = check_inputs(X, y, sample_weight, model.input_scale is not None)

    def progress() -> str:
        path = options.checkpoint
        where = f"; the last checkpoint {os.fspath(path)!r} is intact" if path else ""
        return f"{int(np.ravel(getattr(model, 'n_iter_', 0))[0])} iterations{where}"

    with cluster_session(client, progress) as session:
        objective, model.classes_ = sharded_objective(
            session,
            X,
            y,
            sample_weight,
            C=C,
            l1_ratio=l1_ratio,
            class_weight=model.class_weight,
            fit_intercept=model.fit_intercept,
            scale=scale_of(model),
        )
        model.n_features_in_ = int(X.shape[1])
        if hasattr(model, "feature_names_in_"):
            del model.feature_names_in_
        run(model, objective, solver, X.shape, previous, options, callbacks)

"""scikit-learn 1.9's callback API (``set_callbacks``) driven by softreg's iteration hook.

scikit-learn 1.9 added ``est.set_callbacks(*callbacks)`` (:mod:`sklearn.callback`):
callbacks see a tree of tasks, each opened by ``on_fit_task_begin`` and closed by
``on_fit_task_end``, and may ask for a ``fitted_estimator`` as it stood at that moment.
``LogisticRegression`` (lbfgs only) lays the tree out as

* one root task ``"fit"``;
* under it, one task per solver iteration, opened at the iterate it starts from and closed
  at the iterate it ends at, always at least one (with ``max_iter=0`` it ends where it began);
* a last, empty iteration task (opened, then closed without a ``fitted_estimator``).

:class:`CallbackBridge` lays out the same tree for every softreg solver (iterations are epochs
for ``"sgd"``/``"adam"``), named ``"<solver>-iter"``, and a callback's request to stop
(``on_fit_task_end`` returning True) ends the fit, as softreg's own ``callback`` does.
With scikit-learn older than 1.9 ``CallbackSupportMixin`` is an empty stand-in and
:func:`open_callbacks` returns None.
"""

from __future__ import annotations

from typing import Any

try:  # scikit-learn >= 1.9
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # pragma: no cover - older scikit-learn: no callback API

    class CallbackSupportMixin:  # type: ignore[no-redef]
        """Stand-in: scikit-learn < 1.9 has no ``set_callbacks``."""


__all__ = ["CallbackBridge", "CallbackSupportMixin", "open_callbacks"]


class CallbackBridge:
    """Calls the hooks of a fit's callback tree from the solver's per-iteration callback.

    ``begin`` opens the root and the first iteration task, ``iteration_end`` closes the
    current iteration task and opens the next (returning the callbacks' stop request), and
    ``close`` closes the empty last task and the root. ``model`` holds the current parameters
    (``coef_``, ``intercept_``) whenever a hook runs.
    """

    def __init__(self, root: Any, model: Any, X: Any, y: Any, metadata: Any, solver: str):
        self._root = root
        self._model = model
        self._data = {"X": X, "y": y, "metadata": metadata}
        self._task_name = f"{solver}-iter"
        self._task: Any = None
        self._n_ended = 0

    def _params(self) -> Any:
        model = self._model
        # Lazy (scikit-learn calls it only for hooks that ask for a fitted_estimator); copies,
        # since the model's own arrays change as the fit goes on.
        return lambda: {"coef_": model.coef_.copy(), "intercept_": model.intercept_.copy()}

    def _open_iteration(self) -> None:
        self._task = self._root.subcontext(task_name=self._task_name)
        self._task.call_on_fit_task_begin(
            estimator=self._model, reconstruction_attributes=self._params(), **self._data
        )

    def begin(self) -> None:
        """Open the root task and the first iteration task (at the start point)."""
        self._root.call_on_fit_task_begin(estimator=self._model, **self._data)
        self._open_iteration()

    def iteration_end(self) -> bool:
        """Close the current iteration task at the model's parameters; open the next one."""
        stop = self._task.call_on_fit_task_end(
            estimator=self._model, reconstruction_attributes=self._params(), **self._data
        )
        self._n_ended += 1
        self._open_iteration()
        return bool(stop)

    def close(self) -> None:
        """Close the last (empty) iteration task and the root task."""
        if self._n_ended == 0:  # no iteration ran: the first task ends where it began
            self.iteration_end()
        self._task.call_on_fit_task_end(estimator=self._model)
        self._root.call_on_fit_task_end(
            estimator=self._model, reconstruction_attributes={}, **self._data
        )


def open_callbacks(
    model: Any, X: Any, y: Any, sample_weight: Any, solver: str, max_iter: int
) -> CallbackBridge | None:
    """Set up ``model``'s callbacks for a fit (``setup`` hooks) and return the bridge.

    None when scikit-learn has no callback API or ``model`` has no callbacks (set by
    ``set_callbacks`` or propagated by a meta-estimator). scikit-learn's ``_fit_context`` calls
    the ``teardown`` hooks when ``fit`` returns or raises.
    """
    init = getattr(model, "_init_callback_context", None)
    if init is None or not (
        getattr(model, "_skl_callbacks", None) or hasattr(model, "_parent_callback_ctx")
    ):
        return None
    root = init(max_subtasks=max(int(max_iter), 1) + 1)
    metadata = None if sample_weight is None else {"sample_weight": sample_weight}
    return CallbackBridge(root, model, X, y, metadata, solver)

"""The Hessian of a softmax objective at one point, as an operator for conjugate gradients.

:meth:`softreg.objective.SoftmaxObjective.loss_grad_hessp` returns a :class:`HessianOperator`:
called on a direction it is the exact Hessian-vector product (two matrix products over X, from
the probabilities kept by the same pass), and :meth:`HessianOperator.preconditioner` builds the
approximate inverse Newton-CG's inner solver applies: Kronecker-factored with an exact leading
block, or the inverse of the Hessian's diagonal, as ``preconditioner_name`` chooses by X's
shape. The operator holds the point, not the maths: the products run in the objective's passes
and the preconditioners are built by :mod:`softreg._kernels` (``kfac``, ``subspace``,
``jacobi``); this module picks one and hands it the objective's data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from softreg import _kernels

Array = NDArray[Any]


class _Objective(Protocol):
    """What the operator reads of its :class:`~softreg.objective.SoftmaxObjective`.

    A protocol rather than the class itself: ``softreg.objective`` imports this module (to
    return the operator), so this module cannot import it back.
    """

    X: Any
    weight: Array
    scale: float
    dtype: np.dtype[Any]
    l2_strength: float
    fit_intercept: bool
    _cache: dict[str, Any]

    @property
    def preconditioner_name(self) -> str: ...

    def _column_form(self) -> Any: ...

    def _hessp(self, proba: Array, v: Array) -> Array: ...


class HessianOperator:
    """The exact Hessian of a :class:`SoftmaxObjective` at one point, as an operator.

    ``H(v)`` is the Hessian-vector product: two matrix products over X, reusing the stored
    probabilities of shape (n_samples, n_classes).
    """

    def __init__(self, objective: _Objective, proba: Array) -> None:
        self.objective = objective
        self.proba = proba

    def __call__(self, v: Array) -> Array:
        return self.objective._hessp(self.proba, np.asarray(v, dtype=self.objective.dtype))

    @property
    def preconditioner_name(self) -> str:
        """Which :meth:`preconditioner` this is: ``"kfac"`` or ``"diagonal"`` (by X's shape)."""
        return self.objective.preconditioner_name

    def preconditioner(self) -> Callable[[Array], Array]:
        """``r -> M r`` with ``M`` an approximation of ``H^{-1}``, for conjugate gradients.

        Kronecker-factored (:mod:`softreg._kernels.kfac`) when ``preconditioner_name`` is
        ``"kfac"``: the feature factor is computed once per objective (from at most 4096
        rows), the class factor from this point's probabilities; on the leading eigen-
        directions of the feature factor (up to 64, see :func:`softreg._kernels.subspace.
        directions`) the exact Hessian at this point replaces it, formed from at most 4096
        rows (:mod:`softreg._kernels.subspace`; on full Fashion-MNIST 115 Hessian-vector
        products per fit became about 61). Otherwise the inverse of the Hessian's diagonal at
        this point (:mod:`softreg._kernels.jacobi`), one pass over X.
        """
        obj = self.objective
        if obj.preconditioner_name == "diagonal":
            columns = obj._column_form()
            diagonal = (
                _kernels.jacobi.hessian_diagonal(obj.X, obj.weight, self.proba, scale=obj.scale)
                if columns is None
                else _kernels.sparse_columns.hessian_diagonal(
                    columns, obj.weight, self.proba, scale=obj.scale
                )
            )
            return _kernels.jacobi.inverse(
                diagonal, obj.l2_strength, fit_intercept=obj.fit_intercept, dtype=obj.dtype
            )
        if "basis" not in obj._cache:
            obj._cache["basis"] = _kernels.feature_basis(
                obj.X, obj.weight, scale=obj.scale, fit_intercept=obj.fit_intercept
            )
        return _kernels.subspace.preconditioner(
            obj.X,
            obj.weight,
            self.proba,
            obj._cache["basis"],
            obj.l2_strength,
            scale=obj.scale,
            fit_intercept=obj.fit_intercept,
            dtype=obj.dtype,
        )


# The public module that documents and exports it: its name in reprs,
# tracebacks and pickles (which then survive a move of the code between private modules).
HessianOperator.__module__ = "softreg.objective"

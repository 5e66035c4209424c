"""The regularised multinomial logistic (softmax cross-entropy) objective.

Conventions
-----------
For data ``X`` of shape (n_samples, n_features), integer labels ``y`` in ``{0, ..., n_classes-1}``
and non-negative ``sample_weight`` ``s`` with ``S = sum(s)``, the parameters are

* ``coef`` ``W`` of shape (n_classes, n_features) and
* ``intercept`` ``b`` of shape (n_classes,) (absent when ``fit_intercept=False``),

raveled into one flat vector ``w = concatenate([W.ravel(order="C"), b])`` of size
``n_classes * (n_features + fit_intercept)``. The logits are ``z_i = W x_i + b`` and

.. math::

    f(w) = \\frac{1}{S} \\sum_i s_i \\left[\\operatorname{logsumexp}(z_i) - z_{i, y_i}\\right]
           + \\frac{1 - \\rho}{2 C S} \\lVert W \\rVert_F^2 + \\frac{\\rho}{C S} \\lVert W \\rVert_1

with ``rho = l1_ratio``. The intercept is never penalised. Dividing scikit-learn's
``C * sum_i s_i loss_i + penalty`` by ``C S`` gives exactly this function, so its minimiser equals
``sklearn.linear_model.LogisticRegression(C=C)``'s (multinomial for more than two classes; its
``class_weight`` multiplies ``s`` before ``S`` is taken, and so should the caller's).
``C = inf`` means no penalty.

The smooth part (data term plus the L2 term) is what ``loss``, ``loss_grad`` and ``grad_hessp``
evaluate; the L1 term is exposed separately (``l1_penalty``, ``prox_l1``) for proximal solvers.
Arithmetic runs in ``X``'s dtype (float32 stays float32); reductions of the loss accumulate in
float64. ``X`` may be a dense array or a ``scipy.sparse`` CSR matrix. A dense ``X`` may also be
an integer array (raw uint8 pixels) with ``scale`` (e.g. ``1 / 255``): the model then sees
``scale * X`` with float32 arithmetic, the scale folded into the coefficients, so no float copy
of ``X`` is made. Dense passes are fused and row-blocked (:mod:`softreg._kernels`): each block
of rows is read once per loss+gradient and split between threads.

Examples
--------
>>> import numpy as np
>>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
>>> y = np.array([0, 1, 2])
>>> obj = SoftmaxObjective(X, y, n_classes=3, C=1.0)
>>> w = np.zeros(obj.n_params)
>>> round(obj.loss(w), 6)  # log(3) at zero parameters
1.098612
>>> f, g = obj.loss_grad(w)
>>> g.shape
(9,)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from softreg import _kernels
from softreg._hessian_operator import HessianOperator

Array = NDArray[Any]
HessP = Callable[[Array], Array]  # a HessianOperator, or any v -> H v

KFAC_MAX_FEATURES = _kernels.kfac.MAX_FEATURES  # see there


def flat_params(coef: Any, intercept: Any, objective: Any) -> Array:
    """``coef`` (n_classes, n_features) and ``intercept`` as the objective's flat vector.

    The inverse of ``objective.unravel``, in ``objective.dtype``; ``intercept`` is ignored
    without one.

    >>> obj = SoftmaxObjective(np.eye(2), np.array([0, 1]), 2)
    >>> flat_params(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([5.0, 6.0]), obj)
    array([1., 2., 3., 4., 5., 6.])
    """
    parts = [np.asarray(coef, dtype=objective.dtype).ravel()]
    if objective.fit_intercept:
        parts.append(np.asarray(intercept, dtype=objective.dtype))
    return np.concatenate(parts)


class L1Part:
    """The non-smooth part of the objective, for proximal solvers.

    Shared by every objective that has ``unravel``, ``dtype``, ``l1_strength`` and a smooth
    ``loss`` (the in-memory one below and the sharded Dask one).
    """

    dtype: np.dtype[Any]
    l1_strength: float

    def unravel(self, w: Array) -> tuple[Array, Array | None]:
        raise NotImplementedError

    def loss(self, w: Array) -> float:
        raise NotImplementedError

    def l1_penalty(self, w: Array) -> float:
        """``l1_strength * ||coef||_1`` (the intercept is not penalised)."""
        coef, _ = self.unravel(np.asarray(w))
        return self.l1_strength * float(np.abs(coef).sum(dtype=np.float64))

    def prox_l1(self, w: Array, step: float) -> Array:
        """Proximal map of ``step * l1_penalty``: soft-threshold the coef part of ``w``.

        In the wider of ``w``'s dtype and the objective's (FISTA keeps float64 iterates).
        """
        out = np.array(w, dtype=np.promote_types(np.asarray(w).dtype, self.dtype), copy=True)
        coef, _ = self.unravel(out)
        threshold = out.dtype.type(step * self.l1_strength)
        coef[...] = np.sign(coef) * np.maximum(np.abs(coef) - threshold, 0)
        return out

    def objective(self, w: Array) -> float:
        """Full objective: ``loss(w) + l1_penalty(w)``."""
        return self.loss(w) + self.l1_penalty(w)


class SoftmaxObjective(L1Part):
    """Multinomial logistic objective over ``(X, y, sample_weight)``; see the module docstring.

    Parameters
    ----------
    X : ndarray or scipy.sparse CSR matrix of shape (n_samples, n_features)
        Float32 or float64 data; its dtype is the dtype of all arithmetic.
    y : array-like of int of shape (n_samples,)
        Class indices in ``{0, ..., n_classes - 1}``.
    n_classes : int, default=None
        Number of classes; ``max(y) + 1`` when None.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights (class weights already multiplied in); ones when None.
    C : float, default=1.0
        Inverse regularisation strength, as in scikit-learn; ``np.inf`` for no penalty.
    l1_ratio : float, default=0.0
        Share of the penalty that is L1 (0: pure L2, 1: pure L1).
    fit_intercept : bool, default=True
        Whether the parameter vector ends with an (unpenalised) intercept per class.
    block_size : int, default=None
        Rows per block; by default 512 for dense ``X`` (kept in cache between the two matrix
        products) and enough for ~2 million logits per block for sparse ``X``.
    scale : float, default=1.0
        The model sees ``scale * X`` (e.g. ``1 / 255`` for uint8 pixels), without a scaled copy.
    feature_basis : tuple of ndarray or None, default=None
        K-FAC's feature factor ``(eigenvalues, eigenvectors)`` for this ``X`` and these
        weights (see :attr:`feature_basis`), when already known (computed on first use
        otherwise). It does not depend on ``C``: a path over ``C`` computes it once.
    """

    def __init__(
        self,
        X: Any,
        y: ArrayLike,
        n_classes: int | None = None,
        sample_weight: ArrayLike | None = None,
        *,
        C: float = 1.0,
        l1_ratio: float = 0.0,
        fit_intercept: bool = True,
        block_size: int | None = None,
        scale: float = 1.0,
        feature_basis: tuple[Array, Array] | None = None,
    ) -> None:
        # A sparse X of another format (CSC, COO, ...) is converted to CSR here, once, and
        # ``converted_from`` names the format it came in (None when no copy was made).
        self.converted_from: str | None = None
        if sp.issparse(X):
            X, self.converted_from = _kernels.sparse.as_csr(X)
        self.X = X
        integer = np.issubdtype(X.dtype, np.integer) or X.dtype == np.bool_
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite float > 0, got {scale!r}")
        self.scale = float(scale)
        self.dtype = np.dtype(np.float32) if integer else np.dtype(X.dtype)
        # What depends on X and the weights but not on C (K-FAC's feature basis, a sparse X's
        # CSC copy), made on first use; the objectives of with_C share this one dict.
        self._cache: dict[str, Any] = {} if feature_basis is None else {"basis": feature_basis}
        self.y = np.asarray(y, dtype=np.intp)
        self.n_samples, self.n_features = X.shape
        self.n_classes = int(self.y.max()) + 1 if n_classes is None else int(n_classes)
        self.fit_intercept = bool(fit_intercept)
        sw = np.ones(self.n_samples) if sample_weight is None else np.asarray(sample_weight)
        self.sw_sum = float(np.sum(sw, dtype=np.float64))
        # Each row's weight in the mean: s_i / S.
        self.weight = (sw / self.sw_sum).astype(self.dtype)
        self.l1_ratio = float(l1_ratio)
        self._set_penalty(C)
        self.dense = not sp.issparse(X)
        self.block_size = block_size or _kernels.passes.DEFAULT_BLOCK_ROWS

    def _set_penalty(self, C: float) -> None:
        penalty = 0.0 if np.isinf(C) else 1.0 / (C * self.sw_sum)
        self.C = float(C)
        self.l2_strength = (1.0 - self.l1_ratio) * penalty
        self.l1_strength = self.l1_ratio * penalty

    def with_C(self, C: float) -> SoftmaxObjective:
        """The same objective at another ``C``: shares ``X``, the weights and the cache.

        Along a regularisation path what does not depend on ``C`` (the feature basis of the
        preconditioner, a sparse ``X``'s column copy) is computed once for all the ``C``.
        """
        if not (C > 0):
            raise ValueError(f"C must be > 0, got {C!r}")
        other = object.__new__(SoftmaxObjective)
        other.__dict__.update(self.__dict__)
        other._set_penalty(C)
        return other

    @property
    def feature_basis(self) -> tuple[Array, Array] | None:
        """K-FAC's feature basis ``(b, V)`` once computed (None before, or if never used)."""
        basis: tuple[Array, Array] | None = self._cache.get("basis")
        return basis

    @property
    def n_params(self) -> int:
        """Size of the flat parameter vector: ``n_classes * (n_features + fit_intercept)``."""
        return self.n_classes * (self.n_features + int(self.fit_intercept))

    def unravel(self, w: Array) -> tuple[Array, Array | None]:
        """Views ``(coef, intercept)`` of the flat ``w``; ``intercept`` is None without one."""
        k, d = self.n_classes, self.n_features
        coef = w[: k * d].reshape(k, d)
        return coef, (w[k * d :] if self.fit_intercept else None)

    def subset(self, rows: Any) -> SoftmaxObjective:
        """The objective on ``X[rows]`` with the same penalty strengths (for mini-batches).

        The data term is averaged over the subset's own weights, so averaging subset objectives
        over a partition of equal-weight batches gives back the full objective. A slice of
        a dense ``X`` is a view: no copy.
        """
        sub = object.__new__(SoftmaxObjective)
        sub.__dict__.update(self.__dict__)
        sub.X = self.X[rows]
        sub.y = self.y[rows]
        sub.n_samples = sub.X.shape[0]
        w = self.weight[rows].astype(np.float64)
        total = float(w.sum())
        sub.weight = (w / total if total > 0 else w).astype(self.dtype)
        sub._cache = {}
        return sub

    # -- the passes over X ---------------------------------------------------------------------

    def _penalty_value(self, coef: Array) -> float:
        return 0.5 * self.l2_strength * float(np.dot(coef.ravel(), coef.ravel()))

    def loss(self, w: Array) -> float:
        """Smooth objective ``f(w)`` (data term + L2 term), a Python float. One pass over X."""
        w = np.asarray(w, dtype=self.dtype)
        coef, intercept = self.unravel(w)
        total, _, _ = self._pass(coef, intercept, with_grad=False)
        return total + self._penalty_value(coef)

    def loss_grad(self, w: Array) -> tuple[float, Array]:
        """``(f(w), grad f(w))`` in one fused pass over X (for ``minimize(jac=True)``)."""
        f, g, _ = self._loss_grad_proba(w, keep_proba=False)
        return f, g

    def grad_hessp(self, w: Array) -> tuple[Array, HessP]:
        """``(grad f(w), hessp)``; ``hessp(v)`` is the exact Hessian-vector product at ``w``."""
        _, g, hessp = self.loss_grad_hessp(w)
        return g, hessp

    def loss_grad_hessp(self, w: Array) -> tuple[float, Array, HessP]:
        """``(f(w), grad f(w), hessp)`` in one pass; ``hessp`` reuses the probabilities."""
        f, g, proba = self._loss_grad_proba(w, keep_proba=True)
        assert proba is not None
        return f, g, HessianOperator(self, proba)

    def _column_form(self) -> Any:
        """The CSC copy of a sparse X when the passes run column-wise, else None.

        Made once, on the first pass (one more copy of X's entries); see
        :func:`softreg._kernels.sparse_columns.prefer_columns` for when.
        """
        if self.dense or not _kernels.sparse_columns.prefer_columns(self.X):
            return None
        if "columns" not in self._cache:
            self._cache["columns"] = self.X.tocsc()
        return self._cache["columns"]

    def _pass(
        self,
        coef: Array,
        intercept: Array | None,
        *,
        with_grad: bool,
        proba: Array | None = None,
        out: Array | None = None,
    ) -> tuple[float, Array | None, Array | None]:
        """Data term, its gradient and probabilities; ``out`` may receive the coef gradient."""
        columns = self._column_form()
        if columns is not None:
            return _kernels.sparse_columns.loss_grad(
                columns,
                self.y,
                self.weight,
                coef,
                intercept,
                scale=self.scale,
                with_grad=with_grad,
                proba_out=proba,
                out=out,
            )
        if not self.dense:
            return _kernels.sparse.loss_grad(
                self.X,
                self.y,
                self.weight,
                coef,
                intercept,
                scale=self.scale,
                with_grad=with_grad,
                proba_out=proba,
            )
        return _kernels.loss_grad(
            self.X,
            self.y,
            self.weight,
            coef,
            intercept,
            scale=self.scale,
            dtype=self.dtype,
            with_grad=with_grad,
            proba_out=proba,
            block_rows=self.block_size,
        )

    def _loss_grad_proba(self, w: Array, keep_proba: bool) -> tuple[float, Array, Array | None]:
        w = np.asarray(w, dtype=self.dtype)
        coef, intercept = self.unravel(w)
        grad = np.empty(self.n_params, dtype=self.dtype)
        grad_coef, grad_intercept = self.unravel(grad)
        proba_all = np.empty((self.n_samples, self.n_classes), self.dtype) if keep_proba else None
        total, gx, gb = self._pass(coef, intercept, with_grad=True, proba=proba_all, out=grad_coef)
        if gx is not grad_coef:
            grad_coef[...] = gx
        if grad_intercept is not None:
            grad_intercept[...] = gb
        _kernels.axpy(self.l2_strength, coef, grad_coef)
        return total + self._penalty_value(coef), grad, proba_all

    def _hessp(self, proba: Array, v: Array) -> Array:
        # For one row, the Hessian of logsumexp(z) - z_y in z is diag(p) - p p^T, so
        # H_z d = p * (d - <p, d>) with d = V x + v_b the direction's logits; chain through
        # z = W x + b: two products per pass (X V^T, then R^T X).
        coef_dir, intercept_dir = self.unravel(v)
        out = np.empty(self.n_params, dtype=self.dtype)
        out_coef, out_intercept = self.unravel(out)
        if self.dense:
            hx, hb = _kernels.hessp(
                self.X,
                self.weight,
                proba,
                coef_dir,
                intercept_dir,
                scale=self.scale,
                dtype=self.dtype,
                block_rows=self.block_size,
            )
        elif (columns := self._column_form()) is not None:
            hx, hb = _kernels.sparse_columns.hessp(
                columns,
                self.weight,
                proba,
                coef_dir,
                intercept_dir,
                scale=self.scale,
                out=out_coef,
            )
        else:
            hx, hb = _kernels.sparse.hessp(
                self.X, self.weight, proba, coef_dir, intercept_dir, scale=self.scale
            )
        if hx is not out_coef:
            out_coef[...] = hx
        if out_intercept is not None:
            out_intercept[...] = hb
        _kernels.axpy(self.l2_strength, coef_dir, out_coef)
        return out

    @property
    def preconditioner_name(self) -> str:
        """The preconditioner Newton-CG uses here: ``"kfac"`` or ``"diagonal"``.

        Kronecker-factored (:mod:`softreg._kernels.kfac`) for X with at most
        :data:`KFAC_MAX_FEATURES` features, dense or sparse (its feature factor is a dense
        (d+1) x (d+1) matrix, from at most 4096 rows densified a chunk at a time); otherwise
        the Hessian's diagonal (:mod:`softreg._kernels.jacobi`), built in one pass over X and
        O(n_classes * n_features) in memory. Measured on 15000 rows of Fashion-MNIST as CSR
        (784 correlated pixels): K-FAC 8.8 s, 9 iterations; diagonal 24.4 s, 12 iterations.
        """
        small = self.n_features + int(self.fit_intercept) <= _kernels.kfac.MAX_FEATURES
        return "kfac" if small else "diagonal"

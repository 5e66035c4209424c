"""Several softmax models on the same ``X``, fitted together: one wide product per pass.

Conventions
-----------
``n_models`` softmax models share ``X`` of shape (n_samples, n_features) and labels ``y``;
model ``m`` sees row ``i`` with its own non-negative weight ``s_im`` (``model_weight``, shape
(n_samples, n_models); 0 leaves the row out, as a cross-validation fold leaves out its
validation rows). With ``S_m = sum_i s_im`` the objective is the *sum* of the models'
:class:`softreg.objective.SoftmaxObjective` values,

.. math::

    F(w_1, \\dots, w_M) = \\sum_m \\Big[ \\frac{1}{S_m} \\sum_i s_{im}
        \\big(\\operatorname{logsumexp}(z_{im}) - z_{im, y_i}\\big)
        + \\frac{1 - \\rho}{2 C S_m} \\lVert W_m \\rVert_F^2
        + \\frac{\\rho}{C S_m} \\lVert W_m \\rVert_1 \\Big],
    \\qquad z_{im} = W_m x_i + b_m,

so each model's block of the gradient (and of the block-diagonal Hessian) is exactly its own
objective's: a solver stopping on ``max|grad| <= tol`` leaves every model within ``tol``.
The flat vector is model-major, ``w = concatenate([w_1, ..., w_M])``, each ``w_m`` raveled as
in :mod:`softreg.objective` (``coef`` (n_classes, n_features) row-major, then ``intercept``).

Why stack: the products ``X W^T`` with n_classes columns are bound by reading ``X``;
``X [W_1 ... W_M]^T`` with ``M * n_classes`` columns reads each block of ``X`` once for all the
models (BLAS runs wide products several times faster per column), and the gradient
``R^T X`` likewise. A row left out of a model (weight 0) still gets that model's logits in the
same product: the validation predictions of every fold come from one pass
(:meth:`StackedSoftmaxObjective.log_proba`).

Examples
--------
>>> import numpy as np
>>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
>>> y = np.array([0, 1, 1, 0])
>>> weight = np.array([[1, 0], [1, 1], [0, 1], [1, 1]])  # two models, one row left out of each
>>> obj = StackedSoftmaxObjective(X, y, 2, weight, C=1.0)
>>> obj.n_models, obj.n_params
(2, 12)
>>> round(obj.loss(np.zeros(obj.n_params)), 6)  # 2 log 2 at zero parameters
1.386294
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from softreg import _kernels
from softreg._kernels.passes import _BlockReader, _map_chunks, default_workers

Array = NDArray[Any]

# Rows per block: 512 rows of 784 float32 features (1.6 MB) stay in cache between the two
# products, and the (512, n_models * n_classes) temporaries are small.
_BLOCK_ROWS = 512


class StackedSoftmaxObjective:
    """``n_models`` softmax objectives on one ``X``, summed; see the module docstring.

    Parameters
    ----------
    X : ndarray or scipy.sparse CSR matrix of shape (n_samples, n_features)
        Float32/float64 data, or integers (e.g. uint8 pixels) with ``scale``.
    y : array-like of int of shape (n_samples,)
        Class indices in ``{0, ..., n_classes - 1}``.
    n_classes : int
    model_weight : array-like of shape (n_samples, n_models)
        Each model's sample weights (class weights already multiplied in); every column
        needs a positive sum.
    C : float, default=1.0
        Inverse regularisation strength, shared by the models (``np.inf``: no penalty).
    l1_ratio : float, default=0.0
    fit_intercept : bool, default=True
    scale : float, default=1.0
        The models see ``scale * X`` (e.g. ``1 / 255``), without a scaled copy.
    feature_basis : tuple of ndarray, default=None
        :func:`softreg._kernels.feature_basis` of ``X`` for the preconditioner (computed on
        first use when None); pass it on to objectives of the same data at other ``C``.
    """

    def __init__(
        self,
        X: Any,
        y: ArrayLike,
        n_classes: int,
        model_weight: ArrayLike,
        *,
        C: float = 1.0,
        l1_ratio: float = 0.0,
        fit_intercept: bool = True,
        scale: float = 1.0,
        feature_basis: tuple[Array, Array] | None = None,
    ) -> None:
        integer = np.issubdtype(X.dtype, np.integer) or X.dtype == np.bool_
        if integer and sp.issparse(X):
            raise TypeError(f"X must be float32/float64 when sparse, got dtype {X.dtype}")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite float > 0, got {scale!r}")
        if not (C > 0):
            raise ValueError(f"C must be > 0, got {C!r}")
        self.X = X
        self.dense = not sp.issparse(X)
        self.dtype = np.dtype(np.float32) if integer else np.dtype(X.dtype)
        self.scale = float(scale)
        self.n_samples, self.n_features = X.shape
        self.n_classes = int(n_classes)
        self.y = np.asarray(y, dtype=np.intp)
        if self.y.shape != (self.n_samples,):
            raise ValueError(f"y must have shape ({self.n_samples},), got {self.y.shape}")
        if len(self.y) and (self.y.min() < 0 or self.y.max() >= self.n_classes):
            raise ValueError(
                f"y must hold class indices in 0..{self.n_classes - 1}, got labels from "
                f"{self.y.min()} to {self.y.max()}"
            )
        sw = np.asarray(model_weight, dtype=np.float64)
        if sw.ndim != 2 or sw.shape[0] != self.n_samples:
            raise ValueError(
                f"model_weight must have shape ({self.n_samples}, n_models), got {sw.shape}"
            )
        self.sw_sums = sw.sum(axis=0)
        if np.any(sw < 0) or not np.all(self.sw_sums > 0):
            raise ValueError("model_weight must be >= 0 with a positive sum in every column")
        self.n_models = sw.shape[1]
        self.fit_intercept = bool(fit_intercept)
        # weight[i, m] = s_im / S_m: each row's share of model m's mean.
        self.weight = np.ascontiguousarray(sw / self.sw_sums, dtype=self.dtype)
        self.C = float(C)
        self.l1_ratio = float(l1_ratio)
        penalty = np.zeros(self.n_models) if np.isinf(C) else 1.0 / (C * self.sw_sums)
        self.l2_strength = (1.0 - self.l1_ratio) * penalty  # one per model
        self.l1_strength = self.l1_ratio * penalty
        self._basis = feature_basis
        self._squared: Any = None  # X * X for sparse X, made by the first diagonal preconditioner

    def with_C(self, C: float) -> StackedSoftmaxObjective:
        """The same models and data with another ``C`` (shares ``X``, weights and basis)."""
        out = object.__new__(StackedSoftmaxObjective)
        out.__dict__.update(self.__dict__)
        out.C = float(C)
        if not (C > 0):
            raise ValueError(f"C must be > 0, got {C!r}")
        penalty = np.zeros(self.n_models) if np.isinf(C) else 1.0 / (C * self.sw_sums)
        out.l2_strength = (1.0 - self.l1_ratio) * penalty
        out.l1_strength = self.l1_ratio * penalty
        return out

    # -- layout --------------------------------------------------------------------------------

    @property
    def n_params_per_model(self) -> int:
        """``n_classes * (n_features + fit_intercept)``: one model's flat vector."""
        return self.n_classes * (self.n_features + int(self.fit_intercept))

    @property
    def n_params(self) -> int:
        """Size of the flat vector of all the models."""
        return self.n_models * self.n_params_per_model

    def unravel(self, w: Array) -> tuple[Array, Array | None]:
        """Views ``(coef, intercept)`` of shapes (n_models, n_classes, n_features) and
        (n_models, n_classes); ``intercept`` is None without one."""
        k, d = self.n_classes, self.n_features
        blocks = w.reshape(self.n_models, self.n_params_per_model)
        coef = blocks[:, : k * d].reshape(self.n_models, k, d)
        return coef, (blocks[:, k * d :] if self.fit_intercept else None)

    def model_params(self, w: Array, m: int) -> Array:
        """Model ``m``'s flat vector (a view), laid out as in :mod:`softreg.objective`."""
        size = self.n_params_per_model
        return w[m * size : (m + 1) * size]

    # -- values ----------------------------------------------------------------------------------

    def _penalty_values(self, coef: Array) -> Array:
        sq = np.einsum("mkd,mkd->m", coef, coef, dtype=np.float64)
        return 0.5 * self.l2_strength * sq

    def model_losses(self, w: Array) -> Array:
        """Each model's smooth objective (data term + L2 term), shape (n_models,), float64."""
        w = np.asarray(w, dtype=self.dtype)
        coef, intercept = self.unravel(w)
        data, _, _ = self._pass(coef, intercept, with_grad=False)
        return data + self._penalty_values(coef)

    def loss(self, w: Array) -> float:
        """Smooth objective: the sum of the models' (data term + L2 term), a float."""
        return float(self.model_losses(w).sum())

    def loss_grad(self, w: Array) -> tuple[float, Array]:
        """``(F(w), grad F(w))`` in one pass over X."""
        f, g, _ = self._loss_grad_proba(w, keep_proba=False)
        return f, g

    def loss_grad_hessp(self, w: Array) -> tuple[float, Array, StackedHessian]:
        """``(F(w), grad F(w), hessp)``; ``hessp`` reuses the probabilities of this pass."""
        f, g, proba = self._loss_grad_proba(w, keep_proba=True)
        assert proba is not None
        return f, g, StackedHessian(self, proba)

    def _loss_grad_proba(self, w: Array, keep_proba: bool) -> tuple[float, Array, Array | None]:
        w = np.asarray(w, dtype=self.dtype)
        coef, intercept = self.unravel(w)
        proba = (
            np.empty((self.n_samples, self.n_models, self.n_classes), self.dtype)
            if keep_proba
            else None
        )
        data, gx, gb = self._pass(coef, intercept, with_grad=True, proba_out=proba)
        grad = np.empty(self.n_params, dtype=self.dtype)
        grad_coef, grad_intercept = self.unravel(grad)
        assert gx is not None
        grad_coef[...] = gx + self.l2_strength.astype(self.dtype)[:, None, None] * coef
        if grad_intercept is not None:
            assert gb is not None
            grad_intercept[...] = gb
        total = float((data + self._penalty_values(coef)).sum())
        return total, grad, proba

    def l1_penalty(self, w: Array) -> float:
        """``sum_m l1_strength_m ||W_m||_1`` (intercepts are not penalised)."""
        coef, _ = self.unravel(np.asarray(w))
        per_model = np.abs(coef).sum(axis=(1, 2), dtype=np.float64)
        return float(np.dot(self.l1_strength, per_model))

    def prox_l1(self, w: Array, step: float) -> Array:
        """Proximal map of ``step * l1_penalty``: soft-threshold each model's coef."""
        out = np.array(w, dtype=self.dtype, copy=True)
        coef, _ = self.unravel(out)
        threshold = (step * self.l1_strength).astype(self.dtype)[:, None, None]
        coef[...] = np.sign(coef) * np.maximum(np.abs(coef) - threshold, 0)
        return out

    def log_proba(self, w: Array) -> Array:
        """``log_softmax`` of every model's logits on every row: (n_samples, n_models,
        n_classes). Rows a model left out (weight 0) give its out-of-fold predictions."""
        w = np.asarray(w, dtype=self.dtype)
        coef, intercept = self.unravel(w)
        out = np.empty((self.n_samples, self.n_models, self.n_classes), self.dtype)
        self._pass(coef, intercept, with_grad=False, log_proba_out=out)
        return out

    # -- the passes over X -----------------------------------------------------------------------

    def _columns(self, coef: Array) -> Array:
        """``scale * [W_1 ... W_M]^T`` as a C-ordered (n_features, n_cols) array, with the
        column count padded to a multiple of 8 (OpenBLAS runs those faster; see
        :func:`softreg._kernels.passes._padded_columns`)."""
        mk = self.n_models * self.n_classes
        out = np.zeros((self.n_features, -(-mk // 8) * 8), self.dtype)
        out[:, :mk] = coef.reshape(mk, self.n_features).T * self.dtype.type(self.scale)
        return out

    def _blocks(self, start: int, stop: int) -> Any:
        if self.dense:
            return _BlockReader(self.X, self.dtype, _BLOCK_ROWS)(start, stop)
        return (
            (lo, min(lo + _BLOCK_ROWS, stop), self.X[lo : min(lo + _BLOCK_ROWS, stop)])
            for lo in range(start, stop, _BLOCK_ROWS)
        )

    def _map(self, work: Callable[[int, int], Any]) -> list[Any]:
        # Threads over row chunks, each on single-threaded BLAS (as the one-model passes do).
        workers = default_workers() if self.dense else 1
        with _kernels.single_threaded_blas():
            return _map_chunks(work, self.n_samples, workers, _BLOCK_ROWS)

    def _xt_dot(self, Xb: Any, R: Array) -> Array:
        """``R^T Xb`` of shape (n_cols, n_features) for dense or sparse ``Xb``."""
        if self.dense:
            return np.asarray(R.T @ Xb)
        return np.asarray((Xb.T @ R).T)

    def _pass(
        self,
        coef: Array,
        intercept: Array | None,
        *,
        with_grad: bool,
        proba_out: Array | None = None,
        log_proba_out: Array | None = None,
    ) -> tuple[Array, Array | None, Array | None]:
        """Per-model data terms (float64, (n_models,)), and their gradients when asked."""
        M, k, d = self.n_models, self.n_classes, self.n_features
        cols = self._columns(coef)
        b = None if intercept is None else np.asarray(intercept, dtype=self.dtype)

        def work(start: int, stop: int) -> tuple[Array, Array | None, Array | None]:
            total = np.zeros(M)
            gx = np.zeros((M * k, d), self.dtype) if with_grad else None
            gb = np.zeros((M, k), self.dtype) if with_grad and b is not None else None
            for lo, hi, Xb in self._blocks(start, stop):
                z = np.asarray(Xb @ cols)[:, : M * k].reshape(hi - lo, M, k)
                if b is not None:
                    z += b
                # Stable log_softmax per model: z - max(z) - log(sum(exp(z - max(z)))).
                z -= z.max(axis=2, keepdims=True)
                z -= np.log(np.exp(z).sum(axis=2, keepdims=True))
                rows = np.arange(hi - lo)
                yb, wb = self.y[lo:hi], self.weight[lo:hi]
                picked = z[rows, :, yb]  # (rows, M): log p_{i, y_i} under each model
                total -= np.einsum("im,im->m", wb, picked, dtype=np.float64)
                if log_proba_out is not None:
                    log_proba_out[lo:hi] = z
                if gx is None and proba_out is None:
                    continue
                # d/dz [logsumexp(z) - z_y] = softmax(z) - onehot(y), times each model's weight.
                residual = np.exp(z, out=z)
                if proba_out is not None:
                    proba_out[lo:hi] = residual
                if gx is None:
                    continue
                residual[rows, :, yb] -= 1
                residual *= wb[:, :, None]
                gx += self._xt_dot(Xb, residual.reshape(hi - lo, M * k))
                if gb is not None:
                    gb += residual.sum(axis=0)
            return total, gx, gb

        parts = self._map(work)
        data = np.sum([p[0] for p in parts], axis=0)
        if not with_grad:
            return data, None, None
        gx = np.sum([p[1] for p in parts], axis=0) * self.dtype.type(self.scale)
        gb = None if b is None else np.sum([p[2] for p in parts], axis=0)
        return data, gx.reshape(M, k, d).astype(self.dtype, copy=False), gb

    def _hessp(self, proba: Array, v: Array) -> Array:
        # Per model and row, the Hessian of logsumexp(z) - z_y in z is diag(p) - p p^T, so with
        # the direction's logits d = V_m x + v_m it maps d to p * (d - <p, d>); chained through
        # z = W_m x + b_m: one wide product X [V_1 ... V_M]^T, one R^T X. The models do not
        # interact: the Hessian is block diagonal.
        M, k, d = self.n_models, self.n_classes, self.n_features
        v = np.asarray(v, dtype=self.dtype)
        coef_dir, intercept_dir = self.unravel(v)
        cols = self._columns(coef_dir)
        vb = None if intercept_dir is None else intercept_dir

        def work(start: int, stop: int) -> tuple[Array, Array | None]:
            hx = np.zeros((M * k, d), self.dtype)
            hb = None if vb is None else np.zeros((M, k), self.dtype)
            for lo, hi, Xb in self._blocks(start, stop):
                dz = np.asarray(Xb @ cols)[:, : M * k].reshape(hi - lo, M, k)
                if vb is not None:
                    dz += vb
                pb = proba[lo:hi]
                dz -= (pb * dz).sum(axis=2, keepdims=True)
                dz *= pb
                dz *= self.weight[lo:hi, :, None]
                hx += self._xt_dot(Xb, dz.reshape(hi - lo, M * k))
                if hb is not None:
                    hb += dz.sum(axis=0)
            return hx, hb

        parts = self._map(work)
        out = np.empty(self.n_params, dtype=self.dtype)
        out_coef, out_intercept = self.unravel(out)
        hx = np.sum([p[0] for p in parts], axis=0) * self.dtype.type(self.scale)
        out_coef[...] = hx.reshape(M, k, d)
        out_coef += self.l2_strength.astype(self.dtype)[:, None, None] * coef_dir
        if out_intercept is not None:
            out_intercept[...] = np.sum([p[1] for p in parts], axis=0)
        return out

    def squared_product(self, H: Array) -> Array:
        """``H^T (X * X)`` of shape (n_cols, n_features), float64, for ``H`` (n_samples, n_cols).

        A sparse ``X``'s squared entries are kept after the first call (one more copy of its
        stored values); a dense ``X`` is squared a block of rows at a time.
        """
        if not self.dense:
            if self._squared is None:
                self._squared = self.X.multiply(self.X).tocsr().astype(np.float64)
            return np.asarray((self._squared.T @ H).T)
        return _kernels.jacobi.squared_product_dense(self.X, H).T

    def feature_basis(self) -> tuple[Array, Array]:
        """The preconditioner's feature basis (see :mod:`softreg._kernels.kfac`), cached.

        Formed from all rows with their mean weight over the models: the models' training
        sets overlap almost entirely, and a preconditioner need not be exact.
        """
        if self._basis is None:
            X = self.X if self.dense else self.X[: _kernels.kfac.GRAM_ROWS].toarray()
            weight = self.weight.mean(axis=1)[: X.shape[0]]
            self._basis = _kernels.feature_basis(
                X, weight, scale=self.scale, fit_intercept=self.fit_intercept
            )
        return self._basis


class StackedHessian:
    """The block-diagonal Hessian of a :class:`StackedSoftmaxObjective` at one point.

    ``H(v)`` costs one pass over X (two wide products) and reuses the stored probabilities
    of shape (n_samples, n_models, n_classes).
    """

    def __init__(self, objective: StackedSoftmaxObjective, proba: Array) -> None:
        self.objective = objective
        self.proba = proba

    def __call__(self, v: Array) -> Array:
        return self.objective._hessp(self.proba, v)

    @property
    def preconditioner_name(self) -> str:
        """``"kfac"`` or ``"diagonal"``, chosen by X's shape as for one model (see
        :attr:`softreg.objective.SoftmaxObjective.preconditioner_name`)."""
        obj = self.objective
        small = obj.n_features + int(obj.fit_intercept) <= _kernels.kfac.MAX_FEATURES
        return "kfac" if small else "diagonal"

    def preconditioner(self) -> Callable[[Array], Array]:
        """``r -> M r``: per model, the Kronecker-factored inverse, all sharing one feature
        basis, for X with few features; for wide X (text, one-hot: a ``d x d`` basis would not
        fit) the inverse of each model's Hessian diagonal (see :mod:`softreg._kernels.stacked`).
        """
        obj = self.objective
        if self.preconditioner_name == "diagonal":
            return _kernels.stacked.diagonal_inverse(
                obj.squared_product, self.proba, obj.weight, obj.l2_strength,
                scale=obj.scale, fit_intercept=obj.fit_intercept, dtype=obj.dtype,
            )  # fmt: skip
        return _kernels.stacked.kfac_inverse(
            obj.feature_basis(), self.proba, obj.weight, obj.l2_strength,
            n_features=obj.n_features, fit_intercept=obj.fit_intercept, dtype=obj.dtype,
        )  # fmt: skip

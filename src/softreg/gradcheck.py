"""Central-difference checks of gradients and Hessian-vector products."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray


class GradientCheck(NamedTuple):
    """Result of :func:`check_gradient`.

    ``max_rel_error`` is ``max_j |g_j - fd_j| / max(|g_j|, |fd_j|, scale)`` over the checked
    coordinates (or HVP entries), where ``scale`` keeps near-zero entries from dividing by ~0.
    """

    max_rel_error: float
    analytic: NDArray[np.float64]
    numeric: NDArray[np.float64]


def check_gradient(
    fun: Callable[[NDArray[np.float64]], Any],
    x: ArrayLike,
    grad: Callable[[NDArray[np.float64]], ArrayLike] | None = None,
    *,
    hessp: Callable[[NDArray[np.float64], NDArray[np.float64]], ArrayLike] | None = None,
    n_checks: int | None = None,
    eps: float | None = None,
    random_state: int | np.random.Generator | None = 0,
) -> GradientCheck:
    """Compare an analytic gradient (or Hessian-vector product) with central differences.

    With ``hessp=None`` the gradient is checked: ``fd_j = (f(x + h e_j) - f(x - h e_j)) / 2h`` for
    ``n_checks`` coordinates ``j`` drawn at random (all of them when None). With ``hessp`` given,
    the HVP along a random unit direction ``v`` is checked against
    ``(g(x + h v) - g(x - h v)) / 2h``
    where ``g`` is the gradient. Unlike the notes' ``grad_check``, the step is relative to ``x``
    (``h = eps * max(1, |x_j|)``), the error is relative, and only sampled coordinates cost calls.

    Parameters
    ----------
    fun : callable ``fun(x) -> float`` or ``fun(x) -> (float, ndarray)``
        The function; if it returns a pair, the second item is the gradient and ``grad`` may be
        omitted (the ``jac=True`` convention of :func:`scipy.optimize.minimize`).
    x : array-like of shape (n,)
        Point of the check (float64 is used for the differences).
    grad : callable ``grad(x) -> ndarray of shape (n,)``, default=None
        Analytic gradient, when ``fun`` returns only the value.
    hessp : callable ``hessp(x, v) -> ndarray of shape (n,)``, default=None
        Analytic Hessian-vector product; when given, it is checked instead of the gradient.
    n_checks : int, default=None
        Number of coordinates to check (gradient mode); all when None.
    eps : float, default=None
        Relative step; ``eps ** (1/3)`` of float64 (about 6e-6) when None, optimal for central
        differences.
    random_state : int, Generator or None, default=0
        Seed for the sampled coordinates / direction.

    Returns
    -------
    GradientCheck
        ``max_rel_error`` (float), ``analytic`` and ``numeric`` values compared.

    Examples
    --------
    >>> import numpy as np
    >>> res = check_gradient(lambda x: float(np.sum(np.sin(x))), np.array([0.1, 2.0]),
    ...                      grad=np.cos)
    >>> res.max_rel_error < 1e-8
    True
    """
    x = np.array(x, dtype=np.float64).ravel()
    rng = np.random.default_rng(random_state)
    h0 = float(np.finfo(np.float64).eps ** (1 / 3)) if eps is None else float(eps)
    if h0 <= 0:
        raise ValueError(f"eps must be positive, got {eps!r}")

    def value_grad(z: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        out = fun(z)
        if isinstance(out, tuple):
            return float(out[0]), np.asarray(out[1], dtype=np.float64).ravel()
        if grad is None:
            raise TypeError("grad is required when fun returns only a float")
        return float(out), np.asarray(grad(z), dtype=np.float64).ravel()

    if hessp is not None:
        v = rng.standard_normal(x.size)
        v /= np.linalg.norm(v)
        h = h0 * max(1.0, float(np.abs(x).max(initial=0.0)))
        analytic = np.asarray(hessp(x, v), dtype=np.float64).ravel()
        numeric = (value_grad(x + h * v)[1] - value_grad(x - h * v)[1]) / (2 * h)
    else:
        _, g = value_grad(x)
        if g.shape != x.shape:
            raise ValueError(f"gradient has shape {g.shape}, expected {x.shape}")
        coords = np.arange(x.size)
        if n_checks is not None and n_checks < x.size:
            coords = rng.choice(x.size, size=n_checks, replace=False)
        numeric = np.empty(coords.size)
        for i, j in enumerate(coords):
            h = h0 * max(1.0, abs(x[j]))
            step = np.zeros_like(x)
            step[j] = h
            numeric[i] = (value_grad(x + step)[0] - value_grad(x - step)[0]) / (2 * h)
        analytic = g[coords]
    scale = max(float(np.abs(numeric).max(initial=0.0)), 1e-12) * 1e-3
    denom = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), scale)
    max_rel = float(np.max(np.abs(analytic - numeric) / denom, initial=0.0))
    return GradientCheck(max_rel, analytic, numeric)

"""Truncated Newton (Newton-CG) on the exact Hessian-vector product, with a line search."""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from softreg._kernels import axpy, cg_update
from softreg.optim._guards import require_finite
from softreg.optim._result import Callback, SolverResult, max_abs, record, warn_not_converged


def _lbfgs_preconditioner(pairs: list[tuple[NDArray[Any], NDArray[Any]]], base: Any) -> Any:
    """``r -> M r``: the L-BFGS inverse built from curvature ``pairs`` on top of ``base``.

    ``pairs`` are ``(s, H s)`` from the previous Newton iteration's conjugate gradients; the
    Hessian changes little between late iterations, so they carry its hardest directions
    (Morales and Nocedal, 2000, "Automatic preconditioning by limited memory quasi-Newton
    updating"). ``base`` (the Kronecker-factored inverse, or None for the identity) is the
    initial matrix of the two-loop recursion.
    """
    rho = [1.0 / float(s @ y) for s, y in pairs]

    def apply(r: NDArray[Any]) -> NDArray[Any]:
        q = np.array(r, copy=True)
        alphas = []
        for (s, y), p in zip(reversed(pairs), reversed(rho), strict=True):
            a = p * float(s @ q)
            alphas.append(a)
            q -= q.dtype.type(a) * y
        z = q if base is None else np.asarray(base(q), dtype=q.dtype)
        for (s, y), p, a in zip(pairs, rho, reversed(alphas), strict=True):
            b = p * float(y @ z)
            z += z.dtype.type(a - b) * s
        return z

    return apply


# Bytes the curvature pairs may hold (each pair is two parameter vectors). 20 pairs are 2.5 MB
# for Fashion-MNIST's 7850 parameters, but 830 MB for a 20-class text model of 130107 features,
# whose X is 7 MB: there the budget allows none (measured on that shape: 34, 35 and 31
# Hessian-vector products with 0, 2 and 20 pairs, and each pair's vector updates cost more).
PAIRS_BUDGET_BYTES = 32 * 2**20

# Forcing term of the final (polishing) Newton step, by the Hessian operator's
# ``preconditioner_name``; see minimize_newton_cg. Measured on the 20-newsgroups shape
# (diagonal preconditioner): 0.2 left f 1.6e-6 above scikit-learn newton-cg's, 0.05 ended
# 2e-8 below it for about the same time. On Fashion-MNIST (K-FAC with the exact leading
# block, softreg._kernels.subspace), Hessian-vector products per fit and final f for 0.2,
# 0.1, 0.05: first 15000 rows (C=1) 34, 38, 40 and f 2e-5 above scikit-learn's newton-cg,
# 1.3e-5 and 1.7e-5 below it; all 60000 rows 63, 68, 74 (all below); 20000 rows at C=10
# 143, 163, 178 (all below). So 0.1 there.
POLISH_FORCING = {"diagonal": 0.05, "kfac": 0.1}
DEFAULT_POLISH_FORCING = 0.2


class NewtonCGState(NamedTuple):
    """What a newton-cg run carries from one iteration to the next, for a bit-exact resume.

    Attributes
    ----------
    pairs : tuple of (ndarray of shape (n_params,), ndarray of shape (n_params,))
        The curvature pairs ``(d, H d)`` the next conjugate gradients are preconditioned with.
    polished : bool
        The final (polishing) Newton step has been taken: the run stops as soon as
        ``max|g| <= tol`` holds, without another one (see :func:`minimize_newton_cg`).
    """

    pairs: tuple[tuple[NDArray[Any], NDArray[Any]], ...]
    polished: bool = False


def newton_cg_state(saved: Any) -> NewtonCGState:
    """``saved`` (a `NewtonCGState`, a sequence of pairs as softreg <= 0.4 saved, or None)
    as a `NewtonCGState`."""
    if isinstance(saved, NewtonCGState):
        return saved
    return NewtonCGState(tuple(tuple(pair) for pair in (saved or ())), False)


def carried_to_new_fit(saved: Any) -> Any:
    """A solver state as a new fit (a warm start, the next ``C`` of a path) starts from it.

    A `NewtonCGState`'s curvature pairs carry over but not ``polished``: the new fit takes its
    own polishing step. Any other state is returned as it is.
    """
    return saved._replace(polished=False) if isinstance(saved, NewtonCGState) else saved


def default_memory(w: NDArray[Any]) -> int:
    """Curvature pairs kept by default: 20, fewer where they would exceed the byte budget."""
    return int(min(20, PAIRS_BUDGET_BYTES // max(2 * w.nbytes, 1)))


def _conjugate_gradient(
    hessp: Any,
    grad: NDArray[Any],
    rtol: float,
    max_iter: int,
    precond: Any = None,
    pairs: deque[tuple[NDArray[Any], NDArray[Any]]] | None = None,
) -> tuple[NDArray[Any], int]:
    """Approximately minimise ``q(p) = g.p + p.H p / 2`` by (preconditioned) CG.

    Truncated by Nash and Sofer's test on the quadratic model: stop after iteration ``i``
    (1-based) once ``i (q_i - q_{i-1}) / q_i <= rtol``, i.e. when the last step's share of the
    model decrease so far, per step, is small. It measures what the outer iteration gains (the
    model decrease) rather than the residual norm, which on the Hessians here stays large in
    directions that hardly change ``f``. ``q_i = (g.p_i - p_i.r_i) / 2`` costs two dot products.

    ``precond(r)`` applies an approximation of ``H^{-1}`` (identity when None). Each
    ``(d, H d)`` is appended to ``pairs`` when given (a bounded deque keeps only the newest).
    On non-positive curvature it returns the iterate so far (the preconditioned steepest
    descent direction on the first iteration), which is still a descent direction. With a
    diagonal preconditioner and no pairs, the vector updates run fused in two compiled passes
    (:mod:`softreg._kernels.cg_update`); the arithmetic is the same.
    """
    dtype = grad.dtype
    fused = _fusable_diagonal(precond, grad, pairs)
    p = np.zeros_like(grad)
    r = -grad
    z = r if precond is None else precond(r)
    rz = float(r @ z)
    d = z.copy() if z is r else z  # a fresh z can be d itself: one parameter vector less
    del z
    q_prev = 0.0
    for i in range(max_iter):
        hd = hessp(d)
        curvature = float(d @ hd)
        if not curvature > 0:  # non-positive (round-off), zero (solved) or NaN: stop here
            return (d if i == 0 else p), i
        if pairs is not None:
            pairs.append((d.copy(), hd))
        alpha = rz / curvature
        if fused is not None:  # the same updates in two passes over the vectors
            gp, pr, rz_new = cg_update.step(alpha, d, hd, p, r, grad, fused)
            q = 0.5 * (gp - pr)
        else:
            axpy(alpha, d, p)  # in place: no temporary the size of the parameters
            axpy(-alpha, hd, r)
            q = 0.5 * (float(grad @ p) - float(p @ r))
        del hd  # (kept in `pairs` if wanted) the next product's vector may take its memory
        if q < 0 and (i + 1) * (q - q_prev) / q <= rtol:
            return p, i + 1
        q_prev = q
        if fused is None:
            z = r if precond is None else precond(r)
            rz_new = float(r @ z)
        if rz_new == 0:  # exact solution
            return p, i + 1
        if fused is not None:
            cg_update.direction(rz_new / rz, d, r, fused)
        else:
            d *= dtype.type(rz_new / rz)
            d += z
            del z  # as for hd: at most one of them alive while the next is computed
        rz = rz_new
    return p, max_iter


def _fusable_diagonal(precond: Any, grad: NDArray[Any], pairs: Any) -> NDArray[Any] | None:
    """The preconditioner's diagonal when CG can fuse its vector updates, else None.

    Fused when the preconditioner is a plain diagonal (it exposes ``inverse_diagonal``), no
    curvature pairs are collected and the compiled loops are there; the NumPy path above does
    the same arithmetic otherwise.
    """
    m = getattr(precond, "inverse_diagonal", None)
    if m is None or pairs is not None or not cg_update.AVAILABLE:
        return None
    if grad.ndim != 1 or not grad.flags.c_contiguous or grad.dtype.kind != "f":
        return None
    if m.shape != grad.shape or not m.flags.c_contiguous:
        return None
    return np.asarray(m)


def _sufficient_decrease(f: float, f_trial: float, step: float, slope: float) -> bool:
    """Armijo's test ``f_trial <= f + 1e-4 step slope``, never met by an unchanged ``f``.

    Where the margin is below the round-off of ``f`` (``f + margin == f``) the plain test
    accepts ``f_trial == f``: a fit asked for ``tol=1e-18`` then ran all 10000 of its
    ``max_iter`` at a point whose ``f`` and ``max|grad|`` (3.5e-18) no longer changed. There a
    decrease is required (the line search's round-off rule still accepts a step that shrinks
    the gradient). Written with ``<=`` so that a NaN trial loss never passes.
    """
    bound = f + 1e-4 * step * slope
    return f_trial <= bound and (bound < f or f_trial < f)


def minimize_newton_cg(
    objective: Any,
    w0: NDArray[Any],
    *,
    tol: float = 1e-4,
    max_iter: int = 100,
    callback: Callback | None = None,
    max_cg_iter: int = 200,
    memory: int | None = None,
    state: list[tuple[NDArray[Any], NDArray[Any]]] | None = None,
    polished: bool = False,
    refresh: int = 1,
) -> SolverResult:
    """Truncated Newton: inner CG on ``objective.loss_grad_hessp``, Armijo backtracking outside.

    Each outer iteration minimises the quadratic model ``g.p + p.H p / 2`` by conjugate
    gradients, truncated by Nash and Sofer's model-decrease test with the forcing term
    ``eta = min(0.5, max(0.1, sqrt(||g||_2)))`` (Eisenstat-Walker, floored) as its constant;
    then it backtracks from the full step until the Armijo condition
    ``f(w + a p) <= f(w) + 1e-4 a g.p`` holds. All arithmetic is in ``w0``'s dtype; each
    Hessian-vector product costs one fused pass over X.

    Preconditioning, measured on full Fashion-MNIST (C=1, float32):

    - when the Hessian operator has a ``preconditioner()`` method
      (:class:`softreg.objective.HessianOperator` does: a Kronecker-factored inverse for dense
      ``X`` with few features, the inverse diagonal otherwise), CG uses it: 523
      Hessian-vector products became 271. Its ``preconditioner_name`` goes into each
      history record (``"preconditioner"``);
    - from the second iteration on, the last ``memory`` curvature pairs ``(d, H d)`` of the
      previous CG are added on top as an L-BFGS inverse (:func:`_lbfgs_preconditioner`;
      ``memory=0`` turns it off; None means :func:`default_memory`, 20 pairs where they fit
      in ``PAIRS_BUDGET_BYTES``): 258 products became 141 and the outer iterations 12 became
      10 (memory 5, 10, 40 and 60 gave 151, 155, 142 and 142);
    - the Nash-Sofer test instead of ``||r|| <= eta ||g||``: 154 passes over X became 130 there,
      and 828 became 595 summed over five other problems (Fashion-MNIST subsets at C = 0.1, 10
      and its test set, digits at C = 1, 100), each ending with ``max|g| <= tol``.

    ``state`` makes a run resumable bit for bit: a list, updated in place after every iteration
    (before ``callback``) to the curvature pairs the next iteration will use; pass the saved
    list back to continue. ``SolverResult.state`` is the final `NewtonCGState`: those pairs and
    whether the polish (below) was taken.

    Stops when ``max|g| <= tol``, after one last Newton step from the first point that meets
    it (``eta = 0.2``; 0.1 with K-FAC and 0.05 with the diagonal preconditioner, see
    ``POLISH_FORCING``): at a point with ``max|g| ~ tol`` the gap to the optimum, of order
    ``g^T H^{-1} g / 2``, was still up to 9e-4 on Fashion-MNIST; that step narrows it. Its
    history record has ``"polish": True``. Where that step leaves ``max|g| > tol``
    (ill-conditioned problems, weak penalty) plain Newton steps go on until the test holds
    again, with no second polish: a converged run always ends at ``max|g| <= tol``.
    ``polished=True`` says the polish was taken before ``w0`` (a resumed run; see
    `NewtonCGState`): the run stops as soon as the test holds.

    ``refresh`` (an int >= 1): the Hessian operator's preconditioner is built at the first
    iteration and then at every ``refresh``-th one; the iterations in between apply the last
    one built (the curvature pairs on top are always the newest). With 1 (the default) each
    iteration builds its own from its iterate alone, so a run resumed from its saved state
    retraces the same iterates bit for bit; with more it would not (the state does not hold
    the preconditioner), which is why only regularisation paths, never checkpointed, use 2
    (:func:`softreg.path.path_step`, where the figures are).

    Every loop is bounded (CG by ``max_cg_iter``, the line search by 34 halvings of the
    step). A loss or gradient that is not finite at the start point or at an accepted step
    raises :class:`~softreg.optim._guards.NonFiniteError` (a ``ValueError``); a trial step
    whose loss is not finite is backtracked from like any other. If the Hessian's
    preconditioner cannot be built (its eigen-decomposition fails), CG runs without it.
    """
    if not (isinstance(refresh, int) and not isinstance(refresh, bool) and refresh >= 1):
        raise ValueError(f"refresh must be an int >= 1, got {refresh!r}")
    w = np.array(w0, copy=True)
    dtype = w.dtype
    if memory is None:
        memory = default_memory(w)
    f, g, hessp = objective.loss_grad_hessp(w)
    require_finite("newton-cg", "at the start point", f, g)
    history: list[dict[str, Any]] = []
    eps = float(np.finfo(dtype).eps)
    message = ""
    n_iter = 0
    polish, converged = False, max_abs(g) == 0 or (polished and max_abs(g) <= tol)
    # The curvature pairs the next CG is preconditioned with (see `state` above).
    pairs: list[tuple[NDArray[Any], NDArray[Any]]] = [] if state is None else list(state)[-memory:]
    if not memory:
        pairs = []
    built: Any = None  # the preconditioner built last, kept between builds when refresh > 1
    while not converged and n_iter < max_iter:
        n_iter += 1
        gnorm2 = float(np.linalg.norm(g))
        polish = max_abs(g) <= tol  # only reached before the polish: see `converged` below
        # Forcing: Eisenstat-Walker's sqrt(||g||), but never tighter than 0.1 (measured: the
        # tighter late solves cost more Hessian-vector products than the outer iterations
        # they save); POLISH_FORCING for the final step. ``memory`` curvature pairs carry over.
        eta = (
            POLISH_FORCING.get(getattr(hessp, "preconditioner_name", ""), DEFAULT_POLISH_FORCING)
            if polish
            else min(0.5, max(0.1, np.sqrt(gnorm2)))
        )
        precond = getattr(hessp, "preconditioner", None)
        if (n_iter - 1) % refresh == 0:  # else the one built last (see ``refresh``)
            try:
                built = None if precond is None else precond()
            except np.linalg.LinAlgError:  # documented fall-back: unpreconditioned CG
                built = None
        base = built
        if pairs:
            base = _lbfgs_preconditioner(pairs, base)
        # Only the newest `memory` pairs are kept while CG runs (each is 2 parameter vectors).
        fresh: deque[tuple[NDArray[Any], NDArray[Any]]] | None = (
            deque(maxlen=memory) if memory else None
        )
        p, _ = _conjugate_gradient(hessp, g, eta, max_cg_iter, base, fresh)
        base = None
        if refresh == 1:  # its arrays are not needed during the line search
            built = None
        slope = float(g @ p)
        if slope >= 0:  # not a descent direction (round-off): fall back to steepest descent
            p, slope = -g, -(gnorm2**2)
        step = 1.0
        f_new, g_new, hessp_new = objective.loss_grad_hessp(w + p)
        any_finite, f_try = bool(np.isfinite(f_new)), f_new
        while not _sufficient_decrease(f, f_new, step, slope):
            # Near the optimum the decrease drops below round-off of f; accept a step that
            # does not raise f beyond that noise if it shrinks the gradient.
            if step == 1.0 and f_new - f <= 16 * eps * abs(f) and max_abs(g_new) < max_abs(g):
                break
            step *= 0.5
            if step < 1e-10:
                message = "line search failed"
                if not any_finite:  # every trial overflowed: no number to return
                    require_finite("newton-cg", f"at every trial step of iteration {n_iter}", f_try)
                break
            f_try = objective.loss(w + dtype.type(step) * p)
            any_finite = any_finite or bool(np.isfinite(f_try))
            if _sufficient_decrease(f, f_try, step, slope):
                f_new, g_new, hessp_new = objective.loss_grad_hessp(w + dtype.type(step) * p)
                break
        if message:
            # The point already met the test; only the polish failed, and counts as taken (a
            # resumed run would otherwise try it once more).
            converged = polish
            polished = polished or polish
            break
        require_finite("newton-cg", f"at the accepted step of iteration {n_iter}", f_new, g_new)
        w = w + dtype.type(step) * p
        f, g, hessp = f_new, g_new, hessp_new
        row = record(n_iter, f, max_abs(g))
        if precond is not None:
            # Which preconditioner CG used (the objective picks it by X's shape and format).
            row["preconditioner"] = str(getattr(hessp, "preconditioner_name", "custom"))
        if polish:
            row["polish"] = True
        history.append(row)
        pairs = [] if fresh is None else list(fresh)
        if state is not None:
            state[:] = pairs
        # The polish may leave max|g| above tol (ill-conditioned, weak penalty: 6.8e-5 became
        # 3.8e-4 at C = 21.5 on 12000 Fashion-MNIST rows) while f went down; then plain Newton
        # steps go on until the test holds again, with no second polish, so "converged" always
        # means max|g| <= tol at the point returned.
        polished = polished or polish
        converged = (polished and row["grad_norm"] <= tol) or row["grad_norm"] == 0
        if callback is not None and callback(w, row):
            converged = True
    gnorm = max_abs(g)
    converged = converged or gnorm <= tol
    if not converged:
        stopped = f"; stopped after {n_iter}: {message}" if message else ""
        warn_not_converged(
            "newton-cg", max_iter, f" (max|grad| = {gnorm:.3g} > tol = {tol:g}{stopped})"
        )
    final = NewtonCGState(tuple(pairs), polished)
    return SolverResult(w, f, gnorm, n_iter, converged, history, message, state=final)

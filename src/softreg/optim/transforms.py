"""Small composable optimisers, as ``init``/``update`` pairs (after optax).

A *gradient transformation* is a pair of pure functions::

    state = init(params)
    updates, state = update(grads, state, params)
    params = apply_updates(params, updates)

``params``, ``grads`` and ``updates`` are tuples of NumPy arrays of matching shapes (for softmax
regression ``(coef, intercept)``; for a network, every layer's weights and biases). Named optimisers
are one composition of small transformations: ``adam(lr) = chain(scale_by_adam(), scale(-lr))``.
Arithmetic keeps each parameter's dtype: float32 parameters get float32 state and updates.

Examples
--------
>>> import numpy as np
>>> opt = sgd(learning_rate=0.5)
>>> params = (np.array([1.0, -2.0]),)
>>> state = opt.init(params)
>>> grads = (np.array([0.2, -0.4]),)
>>> updates, state = opt.update(grads, state, params)
>>> apply_updates(params, updates)
(array([ 0.9, -1.8]),)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import daxpy, saxpy

from softreg._kernels import compiled

Arrays = tuple[NDArray[Any], ...]
Schedule = Callable[[int], float]

# BLAS ``y <- a x + y`` by dtype, for `adam_inplace`.
_AXPY: dict[np.dtype[Any], Callable[..., Any]] = {
    np.dtype(np.float32): saxpy,
    np.dtype(np.float64): daxpy,
}


class GradientTransformation(NamedTuple):
    """A pair ``init(params) -> state`` and ``update(grads, state, params) -> (updates, state)``."""

    init: Callable[[Arrays], Any]
    update: Callable[[Arrays, Any, Arrays | None], tuple[Arrays, Any]]


def apply_updates(params: Arrays, updates: Arrays) -> Arrays:
    """Return ``params + updates`` leaf by leaf, keeping each parameter's dtype."""
    return tuple((p + u).astype(p.dtype, copy=False) for p, u in zip(params, updates, strict=True))


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` one after the other; the state is the tuple of their states."""

    def init(params: Arrays) -> tuple[Any, ...]:
        return tuple(t.init(params) for t in transforms)

    def update(grads: Arrays, state: Any, params: Arrays | None = None) -> tuple[Arrays, Any]:
        new_state = []
        for t, s in zip(transforms, state, strict=True):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)

    return GradientTransformation(init, update)


def scale(step_size: float) -> GradientTransformation:
    """Multiply updates by the constant ``step_size``."""

    def init(params: Arrays) -> tuple[()]:
        return ()

    def update(grads: Arrays, state: Any, params: Arrays | None = None) -> tuple[Arrays, Any]:
        return tuple(g * g.dtype.type(step_size) for g in grads), state

    return GradientTransformation(init, update)


def scale_by_schedule(schedule: Schedule) -> GradientTransformation:
    """Multiply updates by ``schedule(count)``, ``count`` being the number of updates so far."""

    def init(params: Arrays) -> int:
        return 0

    def update(grads: Arrays, state: int, params: Arrays | None = None) -> tuple[Arrays, int]:
        factor = schedule(state)
        return tuple(g * g.dtype.type(factor) for g in grads), state + 1

    return GradientTransformation(init, update)


def trace(decay: float, nesterov: bool = False) -> GradientTransformation:
    """Momentum: ``v <- decay * v + g``; emit ``v`` (or ``g + decay * v`` with Nesterov)."""

    def init(params: Arrays) -> Arrays:
        return tuple(np.zeros_like(p) for p in params)

    def update(grads: Arrays, state: Arrays, params: Arrays | None = None) -> tuple[Arrays, Any]:
        velocity = tuple(v * v.dtype.type(decay) + g for v, g in zip(state, grads, strict=True))
        if nesterov:
            out = tuple(g + v * v.dtype.type(decay) for g, v in zip(grads, velocity, strict=True))
            return out, velocity
        return velocity, velocity

    return GradientTransformation(init, update)


class AdamState(NamedTuple):
    step: int
    mu: Arrays
    nu: Arrays


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> GradientTransformation:
    """Adam's rescaling (Kingma & Ba, 2015) with bias correction.

    ``m <- b1 m + (1-b1) g``, ``v <- b2 v + (1-b2) g**2``, emit ``m_hat / (sqrt(v_hat) + eps)``
    where ``m_hat = m / (1 - b1**t)`` and ``v_hat = v / (1 - b2**t)``.
    """

    def init(params: Arrays) -> AdamState:
        zeros = tuple(np.zeros_like(p) for p in params)
        return AdamState(0, zeros, tuple(np.zeros_like(p) for p in params))

    def update(
        grads: Arrays, state: AdamState, params: Arrays | None = None
    ) -> tuple[Arrays, AdamState]:
        count = state.step + 1
        mu = tuple(
            m * m.dtype.type(b1) + g * g.dtype.type(1 - b1)
            for m, g in zip(state.mu, grads, strict=True)
        )
        nu = tuple(
            v * v.dtype.type(b2) + (g * g) * g.dtype.type(1 - b2)
            for v, g in zip(state.nu, grads, strict=True)
        )
        c1 = 1.0 - b1**count
        c2 = 1.0 - b2**count
        out = tuple(
            (m / m.dtype.type(c1)) / (np.sqrt(v / v.dtype.type(c2)) + v.dtype.type(eps))
            for m, v in zip(mu, nu, strict=True)
        )
        return out, AdamState(count, mu, nu)

    return GradientTransformation(init, update)


def add_decayed_weights(
    weight_decay: float, mask: Sequence[bool] | None = None
) -> GradientTransformation:
    """Add ``weight_decay * param`` to each update (where ``mask`` is True, if given)."""

    def init(params: Arrays) -> tuple[()]:
        return ()

    def update(grads: Arrays, state: Any, params: Arrays | None = None) -> tuple[Arrays, Any]:
        if params is None:
            raise ValueError("add_decayed_weights needs `params` in update(grads, state, params)")
        keep = mask if mask is not None else (True,) * len(grads)
        out = tuple(
            g + p * p.dtype.type(weight_decay) if m else g
            for g, p, m in zip(grads, params, keep, strict=True)
        )
        return out, state

    return GradientTransformation(init, update)


def _learning_rate(learning_rate: float | Schedule) -> GradientTransformation:
    if callable(learning_rate):
        schedule = learning_rate
        return scale_by_schedule(lambda t: -schedule(t))
    return scale(-float(learning_rate))


def sgd(
    learning_rate: float | Schedule, momentum: float = 0.0, nesterov: bool = False
) -> GradientTransformation:
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""
    if momentum:
        return chain(trace(momentum, nesterov), _learning_rate(learning_rate))
    return _learning_rate(learning_rate)


def adam(
    learning_rate: float | Schedule = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> GradientTransformation:
    """Adam: ``chain(scale_by_adam(b1, b2, eps), scale(-learning_rate))``."""
    return chain(scale_by_adam(b1, b2, eps), _learning_rate(learning_rate))


def _compiled_adam_ok(*arrays: NDArray[Any]) -> bool:
    """The compiled Adam step takes C-contiguous float32/float64 arrays of one dtype and shape."""
    first = arrays[0]
    return (
        compiled.AVAILABLE
        and first.dtype in (np.float32, np.float64)
        and all(
            a.dtype == first.dtype and a.shape == first.shape and a.flags.c_contiguous
            for a in arrays
        )
    )


def adam_inplace(
    learning_rate: float | Schedule = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> GradientTransformation:
    """`adam`'s arithmetic without temporaries: the moments and the updates live in reused buffers.

    ``update`` overwrites the moment arrays of the state it is given and returns the updates in a
    buffer that the next call overwrites, so neither an old state nor old updates may be kept
    (``apply_updates`` or ``params += updates`` at once, as a training loop does). A callable
    ``learning_rate`` is a schedule: step ``t`` uses ``learning_rate(t - 1)``, as in `adam`.
    Dtypes are kept. The bias corrections are folded into two scalars, as PyTorch does: with
    ``c1 = 1 - b1**t``, ``c2 = 1 - b2**t``,
    ``m / c1 / (sqrt(v / c2) + eps) = (sqrt(c2) / c1) m / (sqrt(v) + eps sqrt(c2))``, so::

        m <- b1 m;  m <- m + (1 - b1) g          (scale; axpy)
        v <- b2 v;  v <- v + (1 - b2) g**2       (scale; square, axpy)
        update = -(learning_rate sqrt(c2) / c1) m / (sqrt(v) + eps sqrt(c2))

    nine passes per parameter instead of twelve; a small network's step is dominated by them.
    Equal to `adam` up to float rounding (not bit for bit: the rounding differs). Arrays that are
    not C-contiguous float32/float64, or of fewer than 4096 entries, take the same maths in plain
    NumPy. ``axpy`` obeys the caller's BLAS thread limit: OpenBLAS threads long vectors, whose
    spin-waiting threads are slow on a busy machine, so pin BLAS to one thread there
    (``threadpoolctl.threadpool_limits(1)``, as `softreg.MLPClassifier` does for small batches).

    Examples
    --------
    >>> import numpy as np
    >>> params = (np.array([1.0, -2.0]),)
    >>> grads = (np.array([0.2, -0.4]),)
    >>> opt, ref = adam_inplace(0.1), adam(0.1)
    >>> ours, _ = opt.update(grads, opt.init(params), params)
    >>> theirs, _ = ref.update(grads, ref.init(params), params)
    >>> np.allclose(ours[0], theirs[0], rtol=1e-12, atol=0), ours[0]
    (True, array([-0.1,  0.1]))
    """

    def init(params: Arrays) -> tuple[int, Arrays, Arrays, Arrays]:
        def zeros() -> Arrays:
            return tuple(np.zeros_like(p, order="C") for p in params)

        return 0, zeros(), zeros(), zeros()

    def axpy(a: float, x: NDArray[Any], y: NDArray[Any]) -> None:
        """``y += a x`` in place, in one pass where BLAS takes the arrays."""
        blas_axpy = _AXPY.get(y.dtype)
        # Below a few thousand entries the call's own overhead outweighs the pass it saves.
        if (
            y.size >= 4096
            and blas_axpy is not None
            and x.dtype == y.dtype
            and x.shape == y.shape
            and y.flags.c_contiguous
        ):
            # With a contiguous y of its own dtype, f2py passes y's buffer: axpy works in place.
            blas_axpy(np.ravel(x), y.reshape(-1), n=y.size, a=a)
        else:
            y += x * y.dtype.type(a)

    def update(
        grads: Arrays, state: tuple[int, Arrays, Arrays, Arrays], params: Arrays | None = None
    ) -> tuple[Arrays, tuple[int, Arrays, Arrays, Arrays]]:
        count, mu, nu, out = state
        lr = learning_rate(count) if callable(learning_rate) else learning_rate
        count += 1
        root_c2 = math.sqrt(1 - b2**count)
        step = lr * root_c2 / (1 - b1**count)
        for g, m, v, u in zip(grads, mu, nu, out, strict=True):
            if _compiled_adam_ok(g, m, v, u):
                # One compiled pass instead of nine NumPy/BLAS ones (same formula).
                compiled.adam_step(
                    g.reshape(-1), m.reshape(-1), v.reshape(-1), u.reshape(-1),
                    b1, b2, eps * root_c2, step,
                )  # fmt: skip
                continue
            one = m.dtype.type
            m *= one(b1)
            axpy(1 - b1, g, m)
            np.multiply(g, g, out=u)
            v *= one(b2)
            axpy(1 - b2, u, v)
            np.sqrt(v, out=u)
            u += one(eps * root_c2)
            np.divide(m, u, out=u)
            u *= one(-step)
        return out, (count, mu, nu, out)

    return GradientTransformation(init, update)

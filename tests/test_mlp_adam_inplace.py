"""`adam_inplace` (`softreg.optim.transforms`, added for the MLP) against
the pure `adam`."""

from __future__ import annotations

import numpy as np
import pytest

from softreg.optim.transforms import adam, adam_inplace

# Every test here runs on both paths: NumPy/BLAS and numba-compiled (conftest.py).
pytestmark = pytest.mark.usefixtures("numpy_and_compiled")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_inplace_follows_adam(dtype):
    rng = np.random.default_rng(0)
    # (70, 64) has enough entries for adam_inplace's BLAS path, the others take NumPy's.
    shapes = [(70, 64), (5, 3), (3,), (1,)]
    params_a = tuple(rng.normal(size=s).astype(dtype) for s in shapes)
    params_b = tuple(p.copy() for p in params_a)
    ref, ours = adam(0.01, b1=0.8, b2=0.99, eps=1e-6), adam_inplace(0.01, b1=0.8, b2=0.99, eps=1e-6)
    state_a, state_b = ref.init(params_a), ours.init(params_b)
    for _ in range(50):
        # Gradients of 0.5 ||p - 1||^2 plus noise, the same for both.
        noise = [rng.normal(size=s).astype(dtype) for s in shapes]
        grads_a = tuple(p - 1 + e for p, e in zip(params_a, noise, strict=True))
        grads_b = tuple(p - 1 + e for p, e in zip(params_b, noise, strict=True))
        updates_a, state_a = ref.update(grads_a, state_a, params_a)
        updates_b, state_b = ours.update(grads_b, state_b, params_b)
        assert all(u.dtype == dtype for u in updates_b)
        params_a = tuple(p + u for p, u in zip(params_a, updates_a, strict=True))
        for p, u in zip(params_b, updates_b, strict=True):
            p += u
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for a, b in zip(params_a, params_b, strict=True):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol)


def test_adam_inplace_schedule_matches_adam_schedule():
    def schedule(step):
        return 0.1 / (1 + step)

    params_a = (np.array([1.0, -2.0, 3.0]),)
    params_b = (params_a[0].copy(),)
    ref, ours = adam(schedule), adam_inplace(schedule)
    state_a, state_b = ref.init(params_a), ours.init(params_b)
    for _ in range(5):
        updates_a, state_a = ref.update((2 * params_a[0],), state_a, params_a)
        updates_b, state_b = ours.update((2 * params_b[0],), state_b, params_b)
        params_a = (params_a[0] + updates_a[0],)
        params_b[0][...] += updates_b[0]
    np.testing.assert_allclose(params_b[0], params_a[0], rtol=1e-12)


@pytest.mark.parametrize("order", ["C", "F"])
def test_adam_inplace_takes_any_layout_of_state_and_grads(order):
    # A state restored from a checkpoint, or gradients from a transposed product, need not be
    # C-contiguous: the moments must still be updated in place, with the same result as `adam`.
    rng = np.random.default_rng(1)
    shape = (80, 60)
    params = (rng.normal(size=shape),)
    ref, ours = adam(0.05), adam_inplace(0.05)
    state_a = ref.init(params)
    count, mu, nu, out = ours.init(params)
    state_b = (count, *(tuple(np.asarray(a, order=order) for a in arrs) for arrs in (mu, nu, out)))
    first_moment = state_b[1][0]
    for _ in range(10):
        grads = (np.asarray(rng.normal(size=shape[::-1]).T, order=order),)
        updates_a, state_a = ref.update(grads, state_a, params)
        updates_b, state_b = ours.update(grads, state_b, params)
        np.testing.assert_allclose(updates_b[0], updates_a[0], rtol=1e-10, atol=1e-14)
    # Equal updates over ten steps need the moments kept; they live in the arrays passed in.
    assert state_b[1][0] is first_moment

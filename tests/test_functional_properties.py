"""Hypothesis properties of softmax & co.: normalisation, shift invariance, monotonicity,
consistency between functions, dtype preservation, and derivatives by central differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from softreg.functional import (
    log_sigmoid,
    log_softmax,
    logsumexp,
    sigmoid,
    softmax,
    softmax_jacobian,
    softmax_jvp,
    softmax_vjp,
)

DTYPES = st.sampled_from([np.float32, np.float64])


@st.composite
def logit_rows(draw, max_abs=1e300):
    dtype = draw(DTYPES)
    bound = min(max_abs, float(np.finfo(dtype).max) / 2)
    n_rows = draw(st.integers(1, 4))
    n_classes = draw(st.integers(2, 40))
    elements = st.floats(-bound, bound, allow_nan=False, width=32 if dtype == np.float32 else 64)
    return draw(arrays(dtype, (n_rows, n_classes), elements=elements))


def ulp(x):
    return np.spacing(np.abs(x).astype(x.dtype))


@given(logit_rows())
def test_rows_sum_to_one_and_dtype_is_kept(z):
    p = softmax(z)
    assert p.dtype == z.dtype
    assert p.shape == z.shape
    assert np.all((p >= 0) & (p <= 1))
    # each entry within 4 ULP, plus one rounding per addition
    n_classes = z.shape[1]
    np.testing.assert_allclose(
        p.astype(np.float64).sum(axis=1), 1.0, rtol=0, atol=5 * n_classes * np.finfo(z.dtype).eps
    )
    assert log_softmax(z).dtype == z.dtype
    assert logsumexp(z).dtype == z.dtype


@given(logit_rows(max_abs=1e3), st.floats(-1e3, 1e3))
def test_shift_invariance(z, shift):
    shifted = (z + z.dtype.type(shift)).astype(z.dtype)
    # z + shift is rounded: each entry moves by at most half a spacing, which changes softmax by
    # a relative amount <= 2 * max spacing, on top of the 4 ULP bounds of both sides.
    rounding = 2 * float(np.spacing(np.abs(shifted).max()))
    rtol = 8 * np.finfo(z.dtype).eps + rounding
    np.testing.assert_allclose(
        softmax(shifted), softmax(z), rtol=rtol, atol=4 * np.finfo(z.dtype).smallest_normal
    )
    np.testing.assert_allclose(
        log_softmax(shifted), log_softmax(z), rtol=rtol, atol=2 * rounding + 1e-300
    )


@given(logit_rows())
def test_monotone(z):
    order = np.argsort(z, axis=1, kind="stable")
    for f in (softmax, log_softmax):
        out = np.take_along_axis(f(z), order, axis=1)
        assert np.all(np.diff(out, axis=1) >= 0), f.__name__


@given(logit_rows(max_abs=600.0))
def test_exp_log_softmax_equals_softmax_within_bound(z):
    log_p = log_softmax(z).astype(np.float64)
    p = softmax(z)
    # exp of a value with error e ULP has relative error ~ |log p| * e * eps
    tol = (4 + 4 * np.abs(log_p) + 2) * np.finfo(z.dtype).eps
    tiny = np.finfo(z.dtype).smallest_normal
    np.testing.assert_array_less(np.abs(np.exp(log_p) - p), tol * np.exp(log_p) + tiny)


@given(logit_rows())
def test_logsumexp_is_log_softmax_offset(z):
    # z - logsumexp(z), both in float64 (z exactly widened), where that difference is accurate
    z64 = z.astype(np.float64)
    diff = z64 - logsumexp(z64, keepdims=True)
    ok = np.abs(z64).max(axis=1) < 1e6
    rtol = 8 * np.finfo(z.dtype).eps
    np.testing.assert_allclose(log_softmax(z)[ok], diff[ok], rtol=rtol, atol=1e-9)


@given(st.integers(0, 2**32 - 1))
def test_jacobian_jvp_vjp_by_central_differences(seed):
    rng = np.random.default_rng(seed)
    z = 3 * rng.standard_normal((2, 5))
    v, g = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    h = 1e-6
    numeric_jvp = (softmax(z + h * v) - softmax(z - h * v)) / (2 * h)
    np.testing.assert_allclose(softmax_jvp(z, v), numeric_jvp, atol=1e-8)
    jac = softmax_jacobian(z)
    assert jac.shape == (2, 5, 5)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", jac, v), softmax_jvp(z, v), atol=1e-15)
    np.testing.assert_allclose(np.einsum("ni,nij->nj", g, jac), softmax_vjp(z, g), atol=1e-15)
    basis = np.eye(10).reshape(10, 2, 5)
    numeric_vjp = np.array(
        [(np.sum(g * softmax(z + h * e)) - np.sum(g * softmax(z - h * e))) / (2 * h) for e in basis]
    ).reshape(2, 5)
    np.testing.assert_allclose(softmax_vjp(z, g), numeric_vjp, atol=1e-8)


def test_jacobian_along_other_axis():
    z = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(softmax_jacobian(z, axis=0), softmax_jacobian(z.T))


@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e300, 1e300)))
def test_sigmoids(z):
    s, ls = sigmoid(z), log_sigmoid(z)
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(ls <= 0)
    np.testing.assert_allclose(sigmoid(-z), 1 - s, atol=2e-16)
    # log_sigmoid(z) - log_sigmoid(-z) = z exactly in exact arithmetic
    small = np.abs(z) < 30
    np.testing.assert_allclose((ls - log_sigmoid(-z))[small], z[small], atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoids_keep_dtype(dtype):
    z = np.linspace(-5, 5, 7).astype(dtype)
    assert sigmoid(z).dtype == dtype
    assert log_sigmoid(z).dtype == dtype


def test_softmax_derivatives_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    z, v, g = (rng.standard_normal((3, 6)) * s for s in (5.0, 1.0, 1.0))
    zt = torch.tensor(z, requires_grad=True)
    (torch.softmax(zt, -1) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(softmax_vjp(z, g), zt.grad.numpy(), rtol=1e-12, atol=1e-16)
    for i in range(3):
        jac = torch.autograd.functional.jacobian(
            lambda a: torch.softmax(a, -1), torch.tensor(z[i])
        ).numpy()
        np.testing.assert_allclose(softmax_jacobian(z[i]), jac, rtol=1e-12, atol=1e-16)
        np.testing.assert_allclose(softmax_jvp(z[i], v[i]), jac @ v[i], rtol=1e-12, atol=1e-16)

"""Edge policy (inf, NaN, all -inf, empty axes, dtypes) and bad-input errors of functional."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

from softreg.functional import (
    cross_entropy,
    cross_entropy_grad,
    log_sigmoid,
    log_softmax,
    logsumexp,
    sigmoid,
    softmax,
    softmax_jacobian,
    softmax_jvp,
    softmax_vjp,
)


def test_posinf_entries_share_the_mass():
    z = np.array([[np.inf, 1.0, np.inf, -np.inf], [np.inf, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(softmax(z), [[0.5, 0, 0.5, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(
        log_softmax(z), [[-np.log(2), -np.inf, -np.log(2), -np.inf], [0, -np.inf, -np.inf, -np.inf]]
    )
    np.testing.assert_array_equal(logsumexp(z), [np.inf, np.inf])


def test_nan_anywhere_makes_the_row_nan_and_only_that_row():
    z = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0], [np.inf, np.nan, -np.inf]])
    for f in (softmax, log_softmax):
        out = f(z)
        assert np.isnan(out[[0, 2]]).all()
        np.testing.assert_allclose(out[1], f(z[1]))
    lse = logsumexp(z)
    assert np.isnan(lse[[0, 2]]).all()
    assert np.isfinite(lse[1])
    assert np.isnan(cross_entropy(z, [0, 1, 2], reduction="none")[[0, 2]]).all()


@pytest.mark.parametrize("n_classes", [1, 2, 7])
def test_all_neginf_row_is_the_limit_of_equal_logits(n_classes):
    z = np.full((2, n_classes), -np.inf)
    z[1] = -1e300  # the limit, approached by equal finite logits
    np.testing.assert_allclose(softmax(z), 1.0 / n_classes, rtol=1e-15)
    np.testing.assert_allclose(log_softmax(z), -np.log(n_classes), rtol=1e-15, atol=0)
    assert logsumexp(z)[0] == -np.inf
    labels = np.zeros(2, dtype=int)
    loss = cross_entropy(z, labels, reduction="none")
    np.testing.assert_allclose(loss, np.log(n_classes), atol=1e-15)
    grad = cross_entropy_grad(z, labels, reduction="sum")
    np.testing.assert_allclose(grad[0], grad[1])
    np.testing.assert_allclose(grad[0], np.full(n_classes, 1 / n_classes) - np.eye(n_classes)[0])


def test_neginf_and_huge_spread_entries_are_exact_zeros():
    z = np.array([1e300, -np.inf, -1e300, 1e300 - 1e285])
    p = softmax(z)
    assert p[0] == 1.0
    assert (p[1:] == 0).all()
    lp = log_softmax(z)
    np.testing.assert_array_equal(lp[:3], [0.0, -np.inf, -2e300])
    assert lp[3] == np.float64(1e300 - 1e285) - 1e300
    assert logsumexp(z) == 1e300
    # z - max = -2e308 overflows: -inf is the correctly rounded log_softmax
    np.testing.assert_array_equal(log_softmax([1e308, -1e308]), [0.0, -np.inf])
    np.testing.assert_array_equal(softmax([1e308, -1e308]), [1.0, 0.0])


def test_no_runtime_warnings_on_extremes():
    z = np.array([[1.7e308, -1.7e308, 0.0], [-np.inf, np.inf, np.nan], [1e-320, 5e-324, 0.0]])
    for f in (softmax, log_softmax, logsumexp, sigmoid, log_sigmoid, softmax_jacobian):
        f(z)  # filterwarnings=error turns any RuntimeWarning into a failure


def test_empty_axis_and_empty_batch():
    assert softmax(np.empty((3, 0))).shape == (3, 0)
    assert log_softmax(np.empty((0, 4))).shape == (0, 4)
    np.testing.assert_array_equal(logsumexp(np.empty((3, 0))), np.full(3, -np.inf))
    assert logsumexp(np.empty((0, 4))).shape == (0,)
    with pytest.raises(ValueError, match="logits"):
        cross_entropy(np.empty((3, 0)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="reduction='mean'"):
        cross_entropy(np.empty((0, 3)), np.zeros(0, dtype=int))
    assert cross_entropy(np.empty((0, 3)), np.zeros(0, dtype=int), reduction="sum") == 0.0


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.float64, np.float64),
        (np.float32, np.float32),
        (np.float16, np.float32),
        (np.int32, np.float64),
        (np.int64, np.float64),
        (np.bool_, np.float64),
    ],
)
def test_dtypes(dtype, expected):
    z = np.array([[0, 1, 2], [1, 0, 1]]).astype(dtype)
    for f in (softmax, log_softmax, logsumexp, sigmoid, log_sigmoid):
        out = f(z)
        assert out.dtype == expected, f.__name__
        np.testing.assert_allclose(out, f(z.astype(np.float64)), rtol=1e-6)


def test_axis_and_keepdims_match_scipy():
    z = np.random.default_rng(0).standard_normal((3, 4, 5))
    for axis in (0, 1, 2, -1, -3):
        np.testing.assert_allclose(softmax(z, axis), scipy.special.softmax(z, axis), rtol=1e-14)
        np.testing.assert_allclose(
            log_softmax(z, axis), scipy.special.log_softmax(z, axis), rtol=1e-14
        )
        np.testing.assert_allclose(
            logsumexp(z, axis, keepdims=True),
            scipy.special.logsumexp(z, axis, keepdims=True),
            rtol=1e-15,
        )


def test_logsumexp_weights_and_sign_match_scipy():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((6, 5)) * 10
    b = rng.standard_normal((6, 5))
    b[0, :] = 0.0
    b[1, 2] = 0.0
    z[1, 2] = np.inf  # ignored because its weight is 0
    for keepdims in (False, True):
        ours, sign = logsumexp(z, b=b, return_sign=True, keepdims=keepdims)
        ref, ref_sign = scipy.special.logsumexp(
            z, b=b, return_sign=True, axis=-1, keepdims=keepdims
        )
        np.testing.assert_allclose(ours, ref, rtol=1e-13)
        np.testing.assert_array_equal(sign, ref_sign)
    negative = logsumexp([0.0, 1.0], b=[1.0, -1.0])
    assert np.isnan(negative)
    lse, sign = logsumexp([0.0, 1.0], return_sign=True)
    assert sign == 1.0
    assert lse == scipy.special.logsumexp([0.0, 1.0])
    np.testing.assert_array_equal(
        logsumexp([[-np.inf, -np.inf], [np.nan, 0.0]], return_sign=True),
        ([-np.inf, np.nan], [0.0, np.nan]),
    )


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: softmax(np.array([1 + 2j, 3j])), TypeError, ["z", "complex"]),
        (lambda: softmax(np.array(["a", "b"])), TypeError, ["z", "<U1"]),
        (lambda: log_softmax(np.array([{}, 1], dtype=object)), TypeError, ["z", "object"]),
        (lambda: logsumexp(3.0), ValueError, ["z", "0-d"]),
        (lambda: softmax([1.0, 2.0], axis=1), ValueError, ["axis", "got 1"]),
        (lambda: logsumexp([1.0, 2.0], b=[1.0, 2.0, 3.0]), ValueError, ["b", "(3,)"]),
        (lambda: softmax_jvp([1.0, 2.0], [1.0, 2.0, 3.0]), ValueError, ["v", "(3,)"]),
        (lambda: softmax_vjp([1.0, 2.0], [1j, 2.0]), TypeError, ["g", "complex"]),
        (lambda: sigmoid(np.array([1j])), TypeError, ["z", "complex"]),
    ],
)
def test_bad_input_messages(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for word in words:
        assert word in str(info.value)

"""Backprop of `softreg.mlp.layers`: finite differences, PyTorch autograd, stability, dtypes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import softreg
from softreg.mlp.layers import (
    ACTIVATIONS,
    init_params,
    l2_penalty,
    loss_and_grad,
    sigmoid_binary_cross_entropy,
    softmax_cross_entropy,
)

ACTIVATION_NAMES = sorted(ACTIVATIONS)
HEADS = ["softmax", "logistic"]


def _problem(head: str, n_samples: int = 7, n_features: int = 5, n_outputs: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    if head == "softmax":
        target = rng.integers(0, n_outputs, size=n_samples)
    else:
        target = rng.integers(0, 2, size=(n_samples, n_outputs)).astype(np.float64)
    return rng, X, target


def _flat(params):
    return np.concatenate([p.ravel() for p in params])


def _unflat(theta, like):
    out, start = [], 0
    for p in like:
        out.append(theta[start : start + p.size].reshape(p.shape))
        start += p.size
    return tuple(out)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("hidden", [(), (4,), (6, 4)])
def test_backprop_passes_check_gradient(activation, head, hidden):
    rng, X, target = _problem(head)
    params = init_params((X.shape[1], *hidden, 3), activation, rng, dtype=np.float64)
    # Non-zero biases so that every term of the gradient is exercised.
    params = tuple(p + 0.1 * rng.normal(size=p.shape) for p in params)

    def fun(theta):
        loss, grads = loss_and_grad(
            _unflat(theta, params), X, target, activation=activation, head=head, alpha=0.3
        )
        return loss, _flat(grads)

    result = softreg.check_gradient(fun, _flat(params))
    assert result.max_rel_error < 1e-6


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("head", HEADS)
def test_matches_torch_autograd(activation, head):
    torch = pytest.importorskip("torch")
    rng, X, target = _problem(head, n_samples=11, n_features=6, n_outputs=4, seed=1)
    params = init_params((6, 5, 3, 4), activation, rng, dtype=np.float64)
    params = tuple(p + 0.1 * rng.normal(size=p.shape) for p in params)
    alpha = 0.05
    loss, grads = loss_and_grad(params, X, target, activation=activation, head=head, alpha=alpha)

    leaves = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    f = {
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "identity": lambda z: z,
    }[activation]
    A = torch.tensor(X, dtype=torch.float64)
    n_layers = len(leaves) // 2
    for layer in range(n_layers):
        Z = A @ leaves[2 * layer] + leaves[2 * layer + 1]
        A = f(Z) if layer < n_layers - 1 else Z
    if head == "softmax":
        data_loss = torch.nn.functional.cross_entropy(A, torch.tensor(target))
    else:
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            A, torch.tensor(target), reduction="sum"
        )
        data_loss = bce / X.shape[0]
    penalty = sum((W * W).sum() for W in leaves[0::2]) * (alpha / 2)
    total = data_loss + penalty
    total.backward()

    np.testing.assert_allclose(loss, total.item(), rtol=1e-12)
    for ours, leaf in zip(grads, leaves, strict=True):
        np.testing.assert_allclose(ours, leaf.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    # log(softmax) would give log(0) = -inf for the true class here; log_softmax gives 2e4 exactly.
    logits = np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]])
    labels = np.array([1, 2])
    loss, dlogits = softmax_cross_entropy(logits.copy(), labels)
    assert loss == pytest.approx((2e4 + np.log(3)) / 2, rel=1e-15)
    np.testing.assert_allclose(dlogits, [[0.5, -0.5, 0.0], [1 / 6, 1 / 6, -1 / 3]], atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_softmax_head_equals_numpy_head(dtype, monkeypatch):
    from softreg._kernels import compiled

    if not compiled.AVAILABLE:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((37, 7)) * [[1, 10, 100, 1e3, 1, 1, 1]]).astype(dtype)
    labels = rng.integers(0, 7, 37)
    fast = softmax_cross_entropy(logits.copy(), labels)
    monkeypatch.setattr(compiled, "AVAILABLE", False)
    slow = softmax_cross_entropy(logits.copy(), labels)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    assert fast[1].dtype == dtype
    assert fast[0] == pytest.approx(slow[0], rel=tol)
    np.testing.assert_allclose(fast[1], slow[1], rtol=tol, atol=tol / 37)


def test_softmax_head_refuses_labels_out_of_range():
    logits = np.zeros((3, 4))
    with pytest.raises((ValueError, IndexError)):
        softmax_cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises((ValueError, IndexError)):
        softmax_cross_entropy(logits, np.array([0, -9, 1]))


def test_binary_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4], [-50.0, 50.0]])
    targets = np.array([[0.0, 1.0], [1.0, 0.0]])
    loss, dlogits = sigmoid_binary_cross_entropy(logits, targets)
    assert loss == pytest.approx((2e4 + 100.0) / 2, rel=1e-12)
    np.testing.assert_allclose(dlogits, [[0.5, -0.5], [-0.5, 0.5]], atol=1e-15)


@given(
    st.integers(1, 6),
    st.integers(2, 5),
    st.floats(-1e4, 1e4),
    st.sampled_from(ACTIVATION_NAMES),
    st.integers(0, 2**32 - 1),
)
def test_float32_stays_float32_and_softmax_gradient_rows_sum_to_zero(
    n_samples, n_classes, shift, activation, seed
):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n_samples, 3)) + shift).astype(np.float32)
    y = rng.integers(0, n_classes, size=n_samples)
    params = init_params((3, 4, n_classes), activation, rng)
    loss, grads = loss_and_grad(params, X, y, activation=activation, head="softmax", alpha=0.1)
    assert np.isfinite(loss)
    assert all(g.dtype == np.float32 for g in grads)
    # dJ/db_L = sum_i (p_i - onehot_i)/n, and every row of p - onehot sums to zero.
    assert abs(float(grads[-1].sum())) < 1e-5


def test_init_scales_he_for_relu_and_xavier_otherwise():
    rng = np.random.default_rng(0)
    relu = init_params((400, 300, 10), "relu", rng)
    tanh = init_params((400, 300, 10), "tanh", rng)
    # U(-a, a) has standard deviation a / sqrt(3).
    assert relu[0].std() == pytest.approx(np.sqrt(6 / 400) / np.sqrt(3), rel=0.02)
    assert tanh[0].std() == pytest.approx(np.sqrt(6 / 700) / np.sqrt(3), rel=0.02)
    assert relu[2].std() == pytest.approx(np.sqrt(6 / 310) / np.sqrt(3), rel=0.05)
    assert not np.any(relu[1])
    assert relu[0].dtype == np.float32


def test_l2_penalty_skips_biases():
    params = (np.ones((2, 3)), np.full(3, 100.0), np.ones((3, 1)), np.full(1, 100.0))
    assert l2_penalty(params, 0.5) == pytest.approx(0.25 * 9)
    assert l2_penalty(params, 0.0) == 0.0

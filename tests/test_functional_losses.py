"""Losses and their gradients: references, central differences, PyTorch autograd, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

from softreg.functional import (
    binary_cross_entropy,
    binary_cross_entropy_grad,
    cross_entropy,
    cross_entropy_grad,
    huber_loss,
    huber_loss_grad,
    l1_loss,
    l1_loss_grad,
    mse_loss,
    mse_loss_grad,
)

N, K = 7, 4


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    logits = 3.0 * rng.standard_normal((N, K))
    labels = rng.integers(0, K, size=N)
    proba = rng.dirichlet(np.ones(K), size=N)
    return logits, labels, proba, rng.uniform(0.5, 2.0, size=K), rng.uniform(0.1, 3.0, size=N)


CE_OPTIONS = [
    {},
    {"label_smoothing": 0.2},
    {"class_weight": "cw"},
    {"sample_weight": "sw", "reduction": "sum"},
    {"class_weight": "cw", "sample_weight": "sw", "label_smoothing": 0.1},
    {"reduction": "none", "sample_weight": "sw"},
]


def _options(opts, cw, sw):
    return {k: cw if v == "cw" else sw if v == "sw" else v for k, v in opts.items()}


def central_difference(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        grad[idx] = (np.sum(f(x + step)) - np.sum(f(x - step))) / (2 * h)
    return grad


def test_cross_entropy_matches_definition(data):
    logits, labels, proba, cw, sw = data
    log_p = scipy.special.log_softmax(logits, axis=1)
    np.testing.assert_allclose(cross_entropy(logits, labels), -log_p[np.arange(N), labels].mean())
    np.testing.assert_allclose(
        cross_entropy(logits, proba, sample_weight=sw),
        np.sum(sw * -(proba * log_p).sum(1)) / sw.sum(),
    )
    smoothed = 0.8 * np.eye(K)[labels] + 0.2 / K
    np.testing.assert_allclose(
        cross_entropy(logits, labels, class_weight=cw, label_smoothing=0.2, reduction="none"),
        -(smoothed * cw * log_p).sum(1),
    )
    # labels and one-hot probabilities are the same target
    np.testing.assert_allclose(
        cross_entropy(logits, np.eye(K)[labels]), cross_entropy(logits, labels)
    )


@pytest.mark.parametrize("opts", CE_OPTIONS)
@pytest.mark.parametrize("target_kind", ["labels", "proba"])
def test_cross_entropy_grad_central_differences(data, opts, target_kind):
    logits, labels, proba, cw, sw = data
    target = labels if target_kind == "labels" else proba
    kw = _options(opts, cw, sw)
    numeric = central_difference(lambda z: cross_entropy(z, target, **kw), logits)
    np.testing.assert_allclose(cross_entropy_grad(logits, target, **kw), numeric, atol=1e-8)


@pytest.mark.parametrize("opts", CE_OPTIONS)
@pytest.mark.parametrize("target_kind", ["labels", "proba"])
def test_cross_entropy_and_grad_match_torch(data, opts, target_kind):
    torch = pytest.importorskip("torch")
    logits, labels, proba, cw, sw = data
    kw = _options(opts, cw, sw)
    if "class_weight" in kw and kw.get("reduction", "mean") == "mean":
        kw["reduction"] = "sum"  # torch divides a class-weighted mean by sum of w[y]: documented
    target = labels if target_kind == "labels" else proba
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(target)
    per = torch.nn.functional.cross_entropy(
        z,
        t,
        weight=None if "class_weight" not in kw else torch.tensor(cw),
        label_smoothing=kw.get("label_smoothing", 0.0),
        reduction="none",
    )
    s = torch.tensor(sw) if "sample_weight" in kw else torch.ones(N, dtype=torch.float64)
    red = kw.get("reduction", "mean")
    value = per * s if red == "none" else (per * s).sum() / (s.sum() if red == "mean" else 1)
    value.sum().backward()
    np.testing.assert_allclose(
        cross_entropy(logits, target, **kw), value.detach().numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(
        cross_entropy_grad(logits, target, **kw), z.grad.numpy(), rtol=1e-12, atol=1e-14
    )


def test_binary_cross_entropy_matches_torch_and_differences():
    rng = np.random.default_rng(1)
    logits = 4.0 * rng.standard_normal((N, 3))
    targets = rng.uniform(size=(N, 3))
    targets[0] = [0.0, 1.0, 1.0]
    sw = rng.uniform(0.1, 2.0, size=N)
    for kw in ({}, {"sample_weight": sw}, {"reduction": "sum"}, {"reduction": "none"}):
        numeric = central_difference(
            lambda z, kw=kw: binary_cross_entropy(z, targets, **kw), logits
        )
        np.testing.assert_allclose(
            binary_cross_entropy_grad(logits, targets, **kw), numeric, atol=1e-8
        )
    expected = -(targets * np.log(scipy.special.expit(logits)))
    expected -= (1 - targets) * np.log(scipy.special.expit(-logits))
    np.testing.assert_allclose(binary_cross_entropy(logits, targets, reduction="none"), expected)
    torch = pytest.importorskip("torch")
    z = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(targets))
    loss.backward()
    np.testing.assert_allclose(binary_cross_entropy(logits, targets), loss.item(), rtol=1e-12)
    np.testing.assert_allclose(
        binary_cross_entropy_grad(logits, targets), z.grad.numpy(), rtol=1e-12, atol=1e-15
    )


def test_binary_cross_entropy_is_exact_at_large_logits():
    # -log(sigmoid(40)) = log1p(exp(-40)); log(sigmoid) in float64 would give 0 or inf.
    assert binary_cross_entropy([[40.0]], [[1.0]]) == np.log1p(np.exp(-40.0))
    assert binary_cross_entropy([[-800.0]], [[1.0]]) == 800.0
    assert binary_cross_entropy([[np.inf]], [[1.0]]) == 0.0


REGRESSION = [
    (mse_loss, mse_loss_grad, lambda d: d**2, "mse_loss"),
    (l1_loss, l1_loss_grad, np.abs, "l1_loss"),
    (
        huber_loss,
        huber_loss_grad,
        lambda d: np.where(np.abs(d) <= 1, d**2 / 2, np.abs(d) - 0.5),
        "huber_loss",
    ),
]


@pytest.mark.parametrize(("loss", "grad", "elementwise", "torch_name"), REGRESSION)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(loss, grad, elementwise, torch_name, reduction):
    rng = np.random.default_rng(2)
    pred, target = 2.0 * rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    values = elementwise(pred - target)
    expected = {"mean": values.mean(), "sum": values.sum(), "none": values}[reduction]
    np.testing.assert_allclose(loss(pred, target, reduction=reduction), expected, rtol=1e-14)
    numeric = central_difference(lambda p: loss(p, target, reduction=reduction), pred)
    np.testing.assert_allclose(grad(pred, target, reduction=reduction), numeric, atol=1e-7)
    torch = pytest.importorskip("torch")
    p = torch.tensor(pred, requires_grad=True)
    out = getattr(torch.nn.functional, torch_name)(p, torch.tensor(target), reduction=reduction)
    out.sum().backward()
    np.testing.assert_allclose(grad(pred, target, reduction=reduction), p.grad.numpy(), rtol=1e-12)


def test_huber_delta():
    d = np.array([0.5, 2.0, -3.0])
    np.testing.assert_allclose(
        huber_loss(d, np.zeros(3), delta=2.0, reduction="none"), [0.125, 2.0, 2.0 * (3.0 - 1.0)]
    )
    np.testing.assert_allclose(
        huber_loss_grad(d, np.zeros(3), 2.0, reduction="sum"), [0.5, 2.0, -2.0]
    )


def test_float32_in_float32_out(data):
    logits, labels, proba, _, _ = data
    z32 = logits.astype(np.float32)
    assert cross_entropy(z32, labels).dtype == np.float32
    assert cross_entropy_grad(z32, proba).dtype == np.float32
    assert binary_cross_entropy_grad(z32, proba).dtype == np.float32
    assert mse_loss_grad(z32, z32).dtype == np.float32


@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        ({"target": np.array([0, 1, 2, 4, 0, 1, 2])}, ValueError, ["target", "[0, 4)", "4"]),
        ({"target": np.array([0, -1, 2, 3, 0, 1, 2])}, ValueError, ["target", "-1"]),
        ({"target": np.zeros(6, dtype=int)}, ValueError, ["target", "(7,)", "(6,)"]),
        ({"target": np.zeros((7, 3))}, ValueError, ["target", "(7, 4)", "(7, 3)"]),
        ({"target": -np.ones((7, 4))}, ValueError, ["target", "non-negative"]),
        ({"target": np.array(list("abcdefg"))}, TypeError, ["target", "<U1"]),
        ({"target": np.full(7, 0.5)}, ValueError, ["target", "integers"]),
        ({"sample_weight": -np.ones(7)}, ValueError, ["sample_weight", "non-negative", "-1"]),
        ({"sample_weight": np.ones(3)}, ValueError, ["sample_weight", "(7,)", "(3,)"]),
        ({"class_weight": np.ones(3)}, ValueError, ["class_weight", "(4,)", "(3,)"]),
        ({"label_smoothing": 1.0}, ValueError, ["label_smoothing", "[0, 1)", "1.0"]),
        ({"label_smoothing": -0.1}, ValueError, ["label_smoothing", "-0.1"]),
        ({"reduction": "avg"}, ValueError, ["reduction", "avg"]),
        ({"label_smoothing": "lots"}, TypeError, ["label_smoothing", "lots"]),
        ({"sample_weight": np.full(7, np.nan)}, ValueError, ["sample_weight", "finite"]),
        ({"logits": np.ones(4)}, ValueError, ["logits", "(4,)"]),
        ({"logits": np.ones((7, 4)) * 1j}, TypeError, ["logits", "complex"]),
    ],
)
def test_cross_entropy_bad_input(data, kwargs, exc, words):
    logits, labels, *_ = data
    args = {"logits": logits, "target": labels} | kwargs
    z, target = args.pop("logits"), args.pop("target")
    for f in (cross_entropy, cross_entropy_grad):
        with pytest.raises(exc) as info:
            f(z, target, **args)
        for word in words:
            assert word in str(info.value), (word, str(info.value))


def test_other_losses_bad_input():
    with pytest.raises(ValueError, match=r"targets.*\(2, 2\).*\(2, 3\)"):
        binary_cross_entropy(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"targets must be in \[0, 1\]"):
        binary_cross_entropy(np.ones((2, 2)), 2 * np.ones((2, 2)))
    with pytest.raises(ValueError, match="sample_weight"):
        binary_cross_entropy_grad(np.ones((2, 2)), np.ones((2, 2)), sample_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"target.*\(3,\).*\(2,\)"):
        mse_loss(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match=r"delta.*-1"):
        huber_loss(np.ones(3), np.ones(3), delta=-1.0)
    with pytest.raises(TypeError, match=r"delta.*'big'"):
        huber_loss_grad(np.ones(3), np.ones(3), delta="big")
    with pytest.raises(TypeError, match=r"pred.*complex"):
        l1_loss(np.ones(3) * 1j, np.ones(3))

"""Forward and backward passes of a multilayer perceptron, each written beside the other.

Conventions
-----------
Rows are samples. ``A_0 = X`` of shape (n_samples, n_features). Layer ``l = 1..L`` computes::

    Z_l = A_{l-1} W_l + b_l          W_l: (n_in, n_out), b_l: (n_out,)
    A_l = f(Z_l)                     (hidden layers only; Z_L are the logits)

``params`` is the flat tuple ``(W_1, b_1, ..., W_L, b_L)``, the layout the optimisers of
:mod:`softreg.optim.transforms` take. The objective of one batch is::

    J = (1/n) sum_i loss(Z_L[i], Y[i]) + (alpha/2) sum_l ||W_l||_F^2

(biases are not penalised). Two output heads:

* multi-class: ``loss = -log_softmax(z)[y]``; ``dJ/dZ_L = (softmax(Z_L) - onehot(Y)) / n``;
* multi-label (independent sigmoids): ``loss = sum_k -y_k log s(z_k) - (1-y_k) log s(-z_k)``
  ``= sum_k -log s(z_k) + (1-y_k) z_k``; ``dJ/dZ_L = (s(Z_L) - Y) / n``.

Backward, from the chain rule on ``Z_l = A_{l-1} W_l + b_l``::

    dW_l = A_{l-1}^T dZ_l + alpha W_l,   db_l = sum over rows of dZ_l,
    dA_{l-1} = dZ_l W_l^T,               dZ_{l-1} = dA_{l-1} * f'(Z_{l-1}).

Every activation here has a derivative that is a function of its *output* ``A = f(Z)``, so the
forward pass keeps only the ``A_l`` and overwrites ``Z_l`` in place. All arithmetic keeps the dtype
of the parameters (float32 stays float32; the gradient tests run in float64).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from softreg._kernels import compiled
from softreg.functional import log_sigmoid, log_softmax, sigmoid

Array = NDArray[Any]
Params = tuple[Array, ...]


class Activation(NamedTuple):
    """``forward(Z) -> A`` and ``backward(A, dA) -> dZ``; each may overwrite its input array."""

    forward: Callable[[Array], Array]
    backward: Callable[[Array, Array], Array]


# relu: A = max(Z, 0);  f'(Z) = 1[Z > 0] = 1[A > 0]
def _relu(z: Array) -> Array:
    return np.maximum(z, 0, out=z)


def _relu_backward(a: Array, da: Array) -> Array:
    return np.multiply(da, a > 0, out=da)


# tanh: A = tanh(Z);  f'(Z) = 1 - A^2
def _tanh(z: Array) -> Array:
    return np.tanh(z, out=z)


def _tanh_backward(a: Array, da: Array) -> Array:
    da *= 1 - a * a
    return da


# logistic sigmoid: A = s(Z);  f'(Z) = A (1 - A)
def _sigmoid(z: Array) -> Array:
    return sigmoid(z)


def _sigmoid_backward(a: Array, da: Array) -> Array:
    da *= a * (1 - a)
    return da


# identity: A = Z;  f'(Z) = 1
def _identity(z: Array) -> Array:
    return z


def _identity_backward(a: Array, da: Array) -> Array:
    return da


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(_relu, _relu_backward),
    "tanh": Activation(_tanh, _tanh_backward),
    "sigmoid": Activation(_sigmoid, _sigmoid_backward),
    "identity": Activation(_identity, _identity_backward),
}


def init_params(
    layer_sizes: tuple[int, ...], activation: str, rng: np.random.Generator, dtype: Any = np.float32
) -> Params:
    """Draw ``(W_1, b_1, ..., W_L, b_L)`` for ``layer_sizes = (n_features, *hidden, n_outputs)``.

    Hidden layers feeding a ReLU get He-uniform weights, ``U(-sqrt(6/n_in), sqrt(6/n_in))``
    (He et al., 2015: keeps the variance of ``A_l`` constant through rectifiers); the other hidden
    layers and the output layer get Xavier-uniform, ``U(-sqrt(6/(n_in+n_out)), +...)`` (Glorot &
    Bengio, 2010). Biases start at zero.
    """
    params: list[Array] = []
    n_layers = len(layer_sizes) - 1
    for layer, (n_in, n_out) in enumerate(itertools.pairwise(layer_sizes)):
        is_hidden = layer < n_layers - 1
        if is_hidden and activation == "relu":
            bound = np.sqrt(6.0 / n_in)
        else:
            bound = np.sqrt(6.0 / (n_in + n_out))
        params.append(rng.uniform(-bound, bound, size=(n_in, n_out)).astype(dtype))
        params.append(np.zeros(n_out, dtype=dtype))
    return tuple(params)


def forward(params: Params, X: Array, activation: str) -> list[Array]:
    """Return ``[A_0, A_1, ..., A_{L-1}, Z_L]``: the input, every hidden output and the logits."""
    f = ACTIVATIONS[activation].forward
    outputs = [X]
    n_layers = len(params) // 2
    for layer in range(n_layers):
        W, b = params[2 * layer], params[2 * layer + 1]
        Z = outputs[-1] @ W
        Z += b
        outputs.append(f(Z) if layer < n_layers - 1 else Z)
    return outputs


def backward(
    params: Params, outputs: list[Array], dlogits: Array, activation: str, alpha: float
) -> Params:
    """Gradient of ``J`` w.r.t. ``params`` given ``forward``'s outputs and ``dJ/dZ_L``.

    ``dlogits`` is overwritten. ``dA_0`` (w.r.t. the input) is never formed.
    """
    f_backward = ACTIVATIONS[activation].backward
    n_layers = len(params) // 2
    grads: list[Array] = [dlogits] * len(params)
    dZ = dlogits
    for layer in range(n_layers - 1, -1, -1):
        W = params[2 * layer]
        A_prev = outputs[layer]
        dW = A_prev.T @ dZ
        if alpha:
            dW += W * W.dtype.type(alpha)
        grads[2 * layer] = dW
        grads[2 * layer + 1] = dZ.sum(axis=0)
        if layer > 0:
            dZ = f_backward(A_prev, dZ @ W.T)
    return tuple(grads)


def softmax_cross_entropy(logits: Array, labels: NDArray[np.integer]) -> tuple[float, Array]:
    """Mean ``-log_softmax(logits)[y]`` and its gradient ``(softmax(logits) - onehot(y)) / n``.

    ``labels`` are class indices in ``0..n_classes-1``. The loss comes from ``log_softmax``, never
    from ``log(softmax)``, which underflows to ``log(0) = -inf`` for confident wrong predictions.
    """
    n = logits.shape[0]
    if compiled.AVAILABLE and logits.dtype in (np.float32, np.float64) and n:
        # One compiled loop: 35 us instead of 106 us for a 128 x 10 batch (NumPy's per-call
        # overhead dominates at that size); same formula, each row computed in float64.
        labels = np.ascontiguousarray(labels, dtype=np.intp)
        # The compiled loop does not check bounds; NumPy's indexing below would raise.
        if labels.shape != (n,) or int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]:
            raise ValueError(
                f"labels must be {n} class indices in 0..{logits.shape[1] - 1}, got shape "
                f"{labels.shape} with values {int(labels.min())}..{int(labels.max())}"
            )
        dlogits = np.empty_like(logits, order="C")
        loss = compiled.softmax_xent(np.ascontiguousarray(logits), labels, dlogits)
        dlogits *= dlogits.dtype.type(1.0 / n)
        return loss / n, dlogits
    rows = np.arange(n)
    log_proba = log_softmax(logits, axis=1)
    loss = -float(log_proba[rows, labels].sum(dtype=np.float64)) / n
    dlogits = np.exp(log_proba, out=log_proba)
    dlogits[rows, labels] -= 1
    dlogits *= dlogits.dtype.type(1.0 / n)
    return loss, dlogits


def sigmoid_binary_cross_entropy(logits: Array, targets: Array) -> tuple[float, Array]:
    """Mean over samples of the summed per-label binary cross-entropy, and its gradient.

    ``targets`` is a 0/1 indicator matrix of the shape of ``logits``. Written with ``log_sigmoid``:
    ``-y log s(z) - (1-y) log s(-z) = -log s(z) + (1-y) z``, finite for any ``z``.
    """
    n = logits.shape[0]
    per_entry = (1 - targets) * logits - log_sigmoid(logits)
    loss = float(per_entry.sum(dtype=np.float64)) / n
    dlogits = sigmoid(logits) - targets
    dlogits *= dlogits.dtype.type(1.0 / n)
    return loss, dlogits


HEADS: dict[str, Callable[[Array, Any], tuple[float, Array]]] = {
    "softmax": softmax_cross_entropy,
    "logistic": sigmoid_binary_cross_entropy,
}


def l2_penalty(params: Params, alpha: float) -> float:
    """``(alpha/2) sum_l ||W_l||_F^2`` over the weights (not the biases)."""
    if not alpha:
        return 0.0
    total = sum(float(np.vdot(W, W)) for W in params[0::2])
    return 0.5 * alpha * total


def loss_and_grad(
    params: Params, X: Array, target: Array, *, activation: str, head: str, alpha: float
) -> tuple[float, Params]:
    """The objective ``J`` of one batch and its gradient w.r.t. ``params`` (forward, then backward).

    Parameters
    ----------
    params : tuple of ndarray
        ``(W_1, b_1, ..., W_L, b_L)``, ``W_l`` of shape (n_in, n_out), ``b_l`` of shape (n_out,).
    X : ndarray of shape (n_samples, n_features)
    target : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Class indices for ``head="softmax"``; a 0/1 indicator matrix for ``head="logistic"``.
    activation : {"relu", "tanh", "sigmoid", "identity"}
    head : {"softmax", "logistic"}
    alpha : float
        L2 strength on the weights.

    Returns
    -------
    loss : float
    grads : tuple of ndarray, shaped like ``params``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> params = init_params((3, 4, 2), "relu", rng, dtype=np.float64)
    >>> X, y = rng.normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    >>> loss, grads = loss_and_grad(params, X, y, activation="relu", head="softmax", alpha=0.0)
    >>> [g.shape for g in grads]
    [(3, 4), (4,), (4, 2), (2,)]
    >>> bool(loss > 0)
    True
    """
    outputs = forward(params, X, activation)
    loss, dlogits = HEADS[head](outputs[-1], target)
    grads = backward(params, outputs, dlogits, activation, alpha)
    return loss + l2_penalty(params, alpha), grads


def predict_logits(params: Params, X: Array, activation: str) -> Array:
    """Logits ``Z_L`` of shape (n_samples, n_outputs)."""
    return forward(params, X, activation)[-1]

"""softreg: softmax regression and small softmax classifiers.

Flat re-exports only; every name lives in its own module.
"""

from softreg import datasets
from softreg.cv import SoftmaxRegressionCV
from softreg.functional import (
    binary_cross_entropy,
    binary_cross_entropy_grad,
    cross_entropy,
    cross_entropy_grad,
    huber_loss,
    huber_loss_grad,
    l1_loss,
    l1_loss_grad,
    log_sigmoid,
    log_softmax,
    logsumexp,
    mse_loss,
    mse_loss_grad,
    sigmoid,
    softmax,
    softmax_jacobian,
    softmax_jvp,
    softmax_vjp,
)
from softreg.gradcheck import check_gradient
from softreg.io import load, save
from softreg.mlp import MLPClassifier
from softreg.path import regularization_path
from softreg.resume import fit_resumable
from softreg.softmax_regression import SoftmaxRegression
from softreg.streaming import fit_stream, iter_chunks

__version__ = "0.1.0"

__all__ = [
    "MLPClassifier",
    "SoftmaxRegression",
    "SoftmaxRegressionCV",
    "__version__",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "check_gradient",
    "cross_entropy",
    "cross_entropy_grad",
    "datasets",
    "fit_resumable",
    "fit_stream",
    "huber_loss",
    "huber_loss_grad",
    "iter_chunks",
    "l1_loss",
    "l1_loss_grad",
    "load",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "mse_loss",
    "mse_loss_grad",
    "regularization_path",
    "save",
    "sigmoid",
    "softmax",
    "softmax_jacobian",
    "softmax_jvp",
    "softmax_vjp",
]

"""softreg: softmax regression and small softmax classifiers.

Flat re-exports only; every name lives in its own module.

Lazy: ``import softreg`` loads no submodule (and so neither NumPy's heavy neighbours nor
scikit-learn) until a name is first used (PEP 562). The command line relies on this: its
start-up imports run inside ``main``, where Ctrl-C becomes exit status 130, not a traceback.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from softreg import datasets
    from softreg.calibration import TemperatureScaling
    from softreg.cv import SoftmaxRegressionCV
    from softreg.export import export_onnx
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

from softreg._version import __version__

# name -> (module, attribute in it; None for the module itself)
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "MLPClassifier": ("softreg.mlp", "MLPClassifier"),
    "SoftmaxRegression": ("softreg.softmax_regression", "SoftmaxRegression"),
    "SoftmaxRegressionCV": ("softreg.cv", "SoftmaxRegressionCV"),
    "TemperatureScaling": ("softreg.calibration", "TemperatureScaling"),
    "binary_cross_entropy": ("softreg.functional", "binary_cross_entropy"),
    "binary_cross_entropy_grad": ("softreg.functional", "binary_cross_entropy_grad"),
    "check_gradient": ("softreg.gradcheck", "check_gradient"),
    "cross_entropy": ("softreg.functional", "cross_entropy"),
    "cross_entropy_grad": ("softreg.functional", "cross_entropy_grad"),
    "datasets": ("softreg.datasets", None),
    "export_onnx": ("softreg.export", "export_onnx"),
    "fit_resumable": ("softreg.resume", "fit_resumable"),
    "fit_stream": ("softreg.streaming", "fit_stream"),
    "huber_loss": ("softreg.functional", "huber_loss"),
    "huber_loss_grad": ("softreg.functional", "huber_loss_grad"),
    "iter_chunks": ("softreg.streaming", "iter_chunks"),
    "l1_loss": ("softreg.functional", "l1_loss"),
    "l1_loss_grad": ("softreg.functional", "l1_loss_grad"),
    "load": ("softreg.io", "load"),
    "log_sigmoid": ("softreg.functional", "log_sigmoid"),
    "log_softmax": ("softreg.functional", "log_softmax"),
    "logsumexp": ("softreg.functional", "logsumexp"),
    "mse_loss": ("softreg.functional", "mse_loss"),
    "mse_loss_grad": ("softreg.functional", "mse_loss_grad"),
    "regularization_path": ("softreg.path", "regularization_path"),
    "save": ("softreg.io", "save"),
    "sigmoid": ("softreg.functional", "sigmoid"),
    "softmax": ("softreg.functional", "softmax"),
    "softmax_jacobian": ("softreg.functional", "softmax_jacobian"),
    "softmax_jvp": ("softreg.functional", "softmax_jvp"),
    "softmax_vjp": ("softreg.functional", "softmax_vjp"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'softreg' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "MLPClassifier",
    "SoftmaxRegression",
    "SoftmaxRegressionCV",
    "TemperatureScaling",
    "__version__",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "check_gradient",
    "cross_entropy",
    "cross_entropy_grad",
    "datasets",
    "export_onnx",
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

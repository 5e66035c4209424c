"""softreg: softmax regression and small softmax classifiers.

Flat re-exports only; every name lives in its own module.
"""

from softreg.functional import log_sigmoid, log_softmax, logsumexp, sigmoid, softmax

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "sigmoid",
    "softmax",
]

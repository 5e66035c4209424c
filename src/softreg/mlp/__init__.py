"""Multilayer perceptron: `MLPClassifier` (``classifier``), its layers (forward beside backward,
``layers``), how a fit is set up (``fitting``), the epoch loop (``training``), targets
(``targets``), parameter and input checks (``checks``), restored-state checks (``state``) and the
Fashion-MNIST network (``defaults``)."""

from softreg.mlp.classifier import MLPClassifier
from softreg.mlp.defaults import FASHION_MNIST_DEFAULTS

__all__ = ["FASHION_MNIST_DEFAULTS", "MLPClassifier"]

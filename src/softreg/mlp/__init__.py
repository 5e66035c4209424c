"""Multilayer perceptron: `MLPClassifier` (classifier), its layers (forward beside backward, in
``layers``), training loop (``training``), targets (``targets``) and restored-state checks
(``state``)."""

from softreg.mlp.classifier import MLPClassifier
from softreg.mlp.defaults import FASHION_MNIST_DEFAULTS

__all__ = ["FASHION_MNIST_DEFAULTS", "MLPClassifier"]

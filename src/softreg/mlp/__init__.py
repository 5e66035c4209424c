"""Multilayer perceptron: layers (forward beside backward) and the `MLPClassifier` estimator."""

from softreg.mlp.classifier import FASHION_MNIST_DEFAULTS, MLPClassifier

__all__ = ["FASHION_MNIST_DEFAULTS", "MLPClassifier"]

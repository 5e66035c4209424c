"""Demonstrate softreg's numerics on the inputs that break the textbook formulas."""

import numpy as np

import softreg

z = np.array([1000.0, 1000.0, 100.0])
print("softmax([1000, 1000, 100])     =", softreg.softmax(z))
print("log_softmax([1000, 1000, 100]) =", softreg.log_softmax(z))
print("logsumexp([1000, 1000, 100])   =", softreg.logsumexp(z))

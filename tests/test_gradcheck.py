"""check_gradient: accepts right derivatives, catches wrong ones."""

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der, rosen_hess_prod

from softreg import check_gradient


def test_accepts_exact_gradient_and_hvp():
    x = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    assert check_gradient(rosen, x, grad=rosen_der).max_rel_error < 1e-7
    res = check_gradient(lambda z: (rosen(z), rosen_der(z)), x, hessp=rosen_hess_prod)
    assert res.max_rel_error < 1e-7
    assert res.analytic.shape == res.numeric.shape == (5,)


def test_catches_wrong_gradient_and_hvp():
    x = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    wrong = check_gradient(rosen, x, grad=lambda z: rosen_der(z) * 1.01)
    assert wrong.max_rel_error == pytest.approx(0.01 / 1.01, rel=1e-3)
    bad_hvp = check_gradient(
        rosen, x, grad=rosen_der, hessp=lambda z, v: rosen_hess_prod(z, v) + 1e-2 * v
    )
    assert bad_hvp.max_rel_error > 1e-5


def test_sampled_coordinates_and_large_x():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(200) * 1e3  # relative step keeps the differences accurate
    res = check_gradient(lambda z: float(np.sum(z**3)), x, grad=lambda z: 3 * z**2, n_checks=10)
    assert res.numeric.shape == (10,)
    # f is a sum of 200 terms ~1e9, so round-off of f bounds the accuracy near 1e-5.
    assert res.max_rel_error < 1e-4


def test_bad_arguments():
    with pytest.raises(ValueError, match="eps must be positive"):
        check_gradient(rosen, np.ones(3), grad=rosen_der, eps=0.0)
    with pytest.raises(TypeError, match="grad is required"):
        check_gradient(rosen, np.ones(3))
    with pytest.raises(ValueError, match="gradient has shape"):
        check_gradient(rosen, np.ones(3), grad=lambda z: np.ones(2))

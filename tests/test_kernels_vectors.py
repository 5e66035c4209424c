"""softreg._kernels.vectors: ``axpy`` in place, through BLAS or through NumPy."""

import numpy as np
import pytest

from softreg._kernels.vectors import axpy


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_updates_a_contiguous_array_in_place(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5)).astype(dtype)  # a coef-shaped block, as the objective has
    y = rng.standard_normal((3, 5)).astype(dtype)
    expected = y + dtype(0.5) * x
    buffer = y
    axpy(0.5, x, y)
    assert y is buffer
    assert y.dtype == dtype
    np.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)


def test_axpy_falls_back_to_numpy_off_the_blas_path():
    rng = np.random.default_rng(1)
    y = rng.standard_normal((4, 6))
    x = rng.standard_normal((6, 4)).T  # not C-contiguous
    expected = y - 2.0 * x
    axpy(-2.0, x, y)
    np.testing.assert_allclose(y, expected, rtol=1e-15)
    y32 = np.ones(3, np.float32)
    axpy(2.0, np.arange(3.0), y32)  # mixed dtypes: y keeps its own
    assert y32.dtype == np.float32
    np.testing.assert_array_equal(y32, [1, 3, 5])

"""In-place updates of parameter-sized vectors through BLAS, without temporaries.

Used by the objective (adding its L2 term to a gradient or a Hessian-vector product) and by
Newton-CG's vector updates where the fused ones of :mod:`softreg._kernels.cg_update` do not run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import get_blas_funcs

Array = NDArray[Any]


def axpy(a: float, x: Array, y: Array) -> None:
    """``y += a * x`` in place through BLAS, without a temporary the size of ``x``.

    With 2.6 million parameters (20 classes, 130107 features) each temporary is a fresh 21 MB
    allocation whose pages the kernel zeroes on first touch; measured on that shape, solver
    vector updates with temporaries cost about as much as the passes over a sparse X.

    Examples
    --------
    >>> y = np.ones(3)
    >>> axpy(2.0, np.arange(3.0), y)
    >>> y
    array([1., 3., 5.])
    """
    blas_ok = x.dtype == y.dtype and x.dtype in (np.float32, np.float64) and x.shape == y.shape
    if blas_ok and x.flags.c_contiguous and y.flags.c_contiguous:
        get_blas_funcs("axpy", (x, y))(x.ravel(), y.ravel(), n=x.size, a=a)
        return
    y += y.dtype.type(a) * x

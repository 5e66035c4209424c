"""Fast private building blocks of the objective: fused passes over X and preconditioners."""

from softreg._kernels import jacobi, sparse, sparse_columns, subspace
from softreg._kernels.kfac import feature_basis, inverse
from softreg._kernels.passes import axpy, default_workers, hessp, loss_grad, single_threaded_blas

__all__ = [
    "axpy",
    "default_workers",
    "feature_basis",
    "hessp",
    "inverse",
    "jacobi",
    "loss_grad",
    "single_threaded_blas",
    "sparse",
    "sparse_columns",
    "subspace",
]

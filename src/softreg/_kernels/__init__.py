"""Fast private building blocks of the objective: fused passes over X and preconditioners."""

from softreg._kernels import jacobi, sparse, sparse_columns, subspace
from softreg._kernels.kfac import feature_basis, inverse
from softreg._kernels.passes import hessp, loss_grad
from softreg._kernels.threads import default_workers, single_threaded_blas
from softreg._kernels.vectors import axpy

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

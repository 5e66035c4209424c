"""Datasets: MNIST, Fashion-MNIST and scikit-learn's digits, IDX files, batches.

Flat re-exports only; every name lives in its own module.
"""

from softreg.datasets.api import load
from softreg.datasets.batching import batches
from softreg.datasets.checksums import ChecksumError
from softreg.datasets.digits import load_digits
from softreg.datasets.download import DownloadError
from softreg.datasets.fetch import fetch
from softreg.datasets.idx import read_idx, write_idx
from softreg.datasets.mnist import load_fashion_mnist, load_mnist
from softreg.datasets.pickle_safe import load_mnist_pickle
from softreg.datasets.registry import (
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    DatasetInfo,
    info,
)
from softreg.datasets.sources import DataNotFoundError, Location

__all__ = [
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "ChecksumError",
    "DataNotFoundError",
    "DatasetInfo",
    "DownloadError",
    "Location",
    "batches",
    "fetch",
    "info",
    "load",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_pickle",
    "read_idx",
    "write_idx",
]

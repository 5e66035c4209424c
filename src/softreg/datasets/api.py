"""``load(name, ...)``: one entry point for every dataset softreg ships a loader for."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from softreg.datasets.digits import load_digits
from softreg.datasets.mnist import load_fashion_mnist, load_mnist
from softreg.datasets.registry import _canonical

__all__ = ["load"]


def load(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the dataset ``name`` as ``(images, labels)``.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "digits"}
        Dataset; see :func:`softreg.datasets.info` for its classes and pixel range.
    split : {"train", "test"}, default="train"
        For "digits" (one set of 1,797 images), "train" returns all of them and "test"
        raises.
    data_dir : path-like, optional
        Folder with the IDX files (MNIST-like datasets only).
    progress : bool, default=True
        Download progress on stderr.
    **kwargs
        Passed to :func:`load_mnist` / :func:`load_fashion_mnist` (``mirrors``, ``verify``,
        ``cache``).

    Returns
    -------
    images : ndarray of shape (n_samples, height, width), dtype uint8
    labels : ndarray of shape (n_samples,), dtype uint8

    Examples
    --------
    >>> from softreg.datasets import load
    >>> images, labels = load("digits")
    >>> images.shape, images.dtype, labels[:5]
    ((1797, 8, 8), dtype('uint8'), array([0, 1, 2, 3, 4], dtype=uint8))
    """
    key = _canonical(name)
    if key == "digits":
        if split != "train":
            raise ValueError(
                f"split: the digits dataset has only split 'train', got {split!r}; hold out "
                "a test set with sklearn.model_selection.train_test_split"
            )
        if data_dir is not None or kwargs:
            given = (["data_dir"] if data_dir is not None else []) + sorted(kwargs)
            raise TypeError(
                "load('digits') takes no data_dir, mirrors, verify or cache (the images are "
                f"bundled with scikit-learn), got {', '.join(given)}"
            )
        return load_digits()
    loader = load_mnist if key == "mnist" else load_fashion_mnist
    return loader(split, data_dir, progress=progress, **kwargs)

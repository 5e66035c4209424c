"""scikit-learn's bundled 8x8 digits, in the shape conventions of MNIST."""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits"]


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten 8x8 digits, offline, shaped like MNIST.

    Returns
    -------
    images : ndarray of shape (1797, 8, 8), dtype uint8
        Pixel values 0..16 (``info("digits").pixel_max``).
    labels : ndarray of shape (1797,), dtype uint8
        Digits 0..9.

    Examples
    --------
    >>> from softreg.datasets import load_digits
    >>> images, labels = load_digits()
    >>> images.shape, int(images.max()), labels[:10]
    ((1797, 8, 8), 16, array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], dtype=uint8))
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = np.asarray(bunch.images)
    # The values are small integers stored as float64; check before narrowing.
    if not np.array_equal(images, np.round(images)) or images.min() < 0 or images.max() > 16:
        raise ValueError("scikit-learn's digits are not integers in 0..16 (unexpected version?)")
    return images.astype(np.uint8), np.asarray(bunch.target).astype(np.uint8)

"""What softreg knows about each dataset: classes, files, checksums, mirrors."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "DatasetInfo",
    "FileSpec",
    "SplitSpec",
    "info",
]

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
MNIST_CLASSES: tuple[str, ...] = tuple(str(digit) for digit in range(10))
SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """Metadata of a named dataset.

    Attributes
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"`` or ``"digits"``.
    class_names : tuple of str
        Name of class ``k`` at index ``k``.
    image_shape : tuple of (int, int)
        ``(height, width)`` of one image.
    pixel_max : int
        Largest pixel value (255 for MNIST-like, 16 for digits): divide by it to scale to [0, 1].
    n_classes : int
        Number of classes.
    """

    name: str
    class_names: tuple[str, ...]
    image_shape: tuple[int, int]
    pixel_max: int
    n_classes: int


@dataclass(frozen=True)
class FileSpec:
    """One IDX file of a dataset and how to check it.

    ``content_sha256`` is the SHA-256 of the decompressed IDX bytes (so it holds for gzip or
    raw files and for any gzip repackaging), None when no trustworthy value is known;
    ``archive_sha256`` lists SHA-256 values of known-good ``.gz`` files (the official
    archives, or Debian's repackaging), which are cheaper to check than the content.
    """

    filename: str
    content_sha256: str | None
    archive_sha256: tuple[str, ...] = ()


@dataclass(frozen=True)
class SplitSpec:
    """The image and label files of one split, and the number of samples."""

    images: FileSpec
    labels: FileSpec
    n_samples: int


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find, download and verify an IDX dataset."""

    info: DatasetInfo
    splits: dict[str, SplitSpec]
    mirrors: tuple[str, ...]
    system_dirs: tuple[str, ...]


# Fashion-MNIST: checksums computed from the files of Debian's package dataset-fashion-mnist
# 0.0~git20200523.55506a9-1, Zalando's official release recompressed without the file name
# in the gzip header (24 bytes shorter, so the .gz bytes differ from the upstream MD5s; the
# content is identical). The content checksum therefore verifies the official download
# too; the archive checksum is Debian's .gz, a fast path for the common local copy.
FASHION_MNIST = DatasetSpec(
    info=DatasetInfo("fashion-mnist", FASHION_MNIST_CLASSES, (28, 28), 255, 10),
    splits={
        "train": SplitSpec(
            FileSpec(
                "train-images-idx3-ubyte.gz",
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                ("b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",),
            ),
            FileSpec(
                "train-labels-idx1-ubyte.gz",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                ("0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",),
            ),
            60000,
        ),
        "test": SplitSpec(
            FileSpec(
                "t10k-images-idx3-ubyte.gz",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                ("cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",),
            ),
            FileSpec(
                "t10k-labels-idx1-ubyte.gz",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                ("8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",),
            ),
            10000,
        ),
    },
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)

# MNIST: SHA-256 of the official .gz archives (identical bytes on all mirrors), as published
# by several independent projects (TensorFlow's cvdf mirror lists, torchvision-style
# loaders) together with the archive sizes 9912422, 28881, 1648877 and 4542 bytes. No
# trustworthy checksum of the decompressed content is known, so a raw (gunzipped) MNIST
# file can only be checked structurally.
MNIST = DatasetSpec(
    info=DatasetInfo("mnist", MNIST_CLASSES, (28, 28), 255, 10),
    splits={
        "train": SplitSpec(
            FileSpec(
                "train-images-idx3-ubyte.gz",
                None,
                ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",),
            ),
            FileSpec(
                "train-labels-idx1-ubyte.gz",
                None,
                ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",),
            ),
            60000,
        ),
        "test": SplitSpec(
            FileSpec(
                "t10k-images-idx3-ubyte.gz",
                None,
                ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",),
            ),
            FileSpec(
                "t10k-labels-idx1-ubyte.gz",
                None,
                ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",),
            ),
            10000,
        ),
    },
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    system_dirs=(),
)

DIGITS_INFO = DatasetInfo("digits", MNIST_CLASSES, (8, 8), 16, 10)
DATASETS: dict[str, DatasetSpec] = {"mnist": MNIST, "fashion-mnist": FASHION_MNIST}


def _canonical(name: object) -> str:
    known = ("mnist", "fashion-mnist", "digits")
    key = str(name).lower().replace("_", "-") if isinstance(name, str) else None
    if key == "fashion":
        key = "fashion-mnist"
    if key not in known:
        raise ValueError(f"name: unknown dataset {name!r}; expected one of {', '.join(known)}")
    return key


def info(name: str) -> DatasetInfo:
    """Metadata of the dataset ``name`` ("mnist", "fashion-mnist" or "digits").

    Examples
    --------
    >>> from softreg.datasets import info
    >>> info("fashion-mnist").class_names[:3]
    ('T-shirt/top', 'Trouser', 'Pullover')
    >>> info("digits").pixel_max
    16
    """
    key = _canonical(name)
    return DIGITS_INFO if key == "digits" else DATASETS[key].info

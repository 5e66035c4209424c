"""MNIST-like loading: folders, search order, verification, bad input, the .npy cache."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from softreg import datasets
from softreg.datasets import ChecksumError, load, load_fashion_mnist, load_mnist, write_idx
from softreg.datasets import mnist as mnist_module
from softreg.datasets.registry import FASHION_MNIST, DatasetSpec, FileSpec, SplitSpec

NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    """Never touch the real ~/.cache, $SOFTREG_DATA or the network."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SOFTREG_DATA", raising=False)
    monkeypatch.setenv("SOFTREG_MIRROR", "http://127.0.0.1:9/")  # discard port: refuses


def make_split(folder: Path, split="train", n=30, seed=0, gz=True, labels=None, images=None):
    """Write a small synthetic split; returns (images, labels)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) if images is None else images
    labels = rng.integers(0, 10, n).astype(np.uint8) if labels is None else labels
    image_name, label_name = NAMES[split]
    if not gz:
        image_name, label_name = image_name[:-3], label_name[:-3]
    write_idx(folder / image_name, images)
    write_idx(folder / label_name, labels)
    return images, labels


def content_sha256(path: Path) -> str:
    import gzip

    data = path.read_bytes()
    return hashlib.sha256(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).hexdigest()


def spec_for(folder: Path, n=30) -> DatasetSpec:
    """A Fashion-MNIST spec whose checksums are those of the synthetic files in ``folder``."""
    splits = {}
    for split, (image_name, label_name) in NAMES.items():
        files = [
            FileSpec(
                name,
                content_sha256(folder / name) if (folder / name).exists() else None,
            )
            for name in (image_name, label_name)
        ]
        splits[split] = SplitSpec(files[0], files[1], n)
    return DatasetSpec(FASHION_MNIST.info, splits, FASHION_MNIST.mirrors, ())


def cache_dir(tmp_path) -> Path:
    return tmp_path / "xdg" / "softreg" / "fashion-mnist"


@pytest.mark.parametrize("gz", [True, False])
def test_loads_a_folder_gzip_or_raw(tmp_path, gz):
    images, labels = make_split(tmp_path / "data", gz=gz)
    got_images, got_labels = load_fashion_mnist(data_dir=tmp_path / "data", verify=False)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_images.dtype == np.uint8
    assert got_labels.dtype == np.uint8
    got_images[0, 0, 0] ^= 1  # writable copy-on-write view: the cache is unchanged
    np.testing.assert_array_equal(
        load_fashion_mnist(data_dir=tmp_path / "data", verify=False)[0], images
    )


def test_verified_load_and_checksum_mismatch(tmp_path, monkeypatch):
    make_split(tmp_path / "data")
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec_for(tmp_path / "data"))
    load_fashion_mnist(data_dir=tmp_path / "data", verify=True)  # checksums of these files: fine
    snapshot = {p.name: p.read_bytes() for p in cache_dir(tmp_path).iterdir()}
    make_split(tmp_path / "data", seed=1)  # same names, other content
    with pytest.raises(ChecksumError, match="checksum mismatch") as info:
        load_fashion_mnist(data_dir=tmp_path / "data", verify=True)
    assert "train-" in str(info.value)
    assert str(tmp_path / "data") in str(info.value)
    # The cache is left exactly as it was: no new, removed or half-written file.
    assert {p.name: p.read_bytes() for p in cache_dir(tmp_path).iterdir()} == snapshot


def test_real_checksums_reject_synthetic_files(tmp_path):
    make_split(tmp_path / "data")
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_fashion_mnist(data_dir=tmp_path / "data", verify=True)
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_mnist(data_dir=tmp_path / "data", verify=True)  # archive checksum for MNIST


def test_missing_file_is_named(tmp_path):
    make_split(tmp_path / "data")
    (tmp_path / "data" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"train-labels-idx1-ubyte\.gz"):
        load_fashion_mnist(data_dir=tmp_path / "data", verify=False)
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        load_fashion_mnist(data_dir=tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": np.zeros(29, np.uint8)}, "holds 30 images but .* holds 29 labels"),
        ({"labels": np.full(30, 10, np.uint8)}, "labels out of range: max 10"),
        ({"labels": np.zeros(30, np.int32)}, "expected uint8 labels"),
        ({"images": np.zeros((30, 28, 27), np.uint8)}, r"shape \(n, 28, 28\)"),
        (
            {"images": np.zeros((0, 28, 28), np.uint8), "labels": np.zeros(0, np.uint8)},
            "holds no images",
        ),
    ],
)
def test_inconsistent_files_leave_no_cache(tmp_path, kwargs, message):
    make_split(tmp_path / "data", **kwargs)
    with pytest.raises(ValueError, match=message):
        load_fashion_mnist(data_dir=tmp_path / "data", verify=False)
    assert list(cache_dir(tmp_path).iterdir()) == []


def test_truncated_source_names_the_file(tmp_path):
    make_split(tmp_path / "data", gz=False)
    path = tmp_path / "data" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=re.escape(f"{path}: dimensions (30, 28, 28) need")):
        load_fashion_mnist(data_dir=tmp_path / "data", verify=False)
    assert list(cache_dir(tmp_path).iterdir()) == []


def test_second_load_uses_the_cache(tmp_path, monkeypatch):
    images, _ = make_split(tmp_path / "data")
    load_fashion_mnist(data_dir=tmp_path / "data", verify=False)

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(mnist_module, "decode_idx", no_decode)
    got, _ = load_fashion_mnist(data_dir=tmp_path / "data", verify=False)
    np.testing.assert_array_equal(got, images)
    assert isinstance(got.base, np.memmap)


def test_unverified_cache_does_not_satisfy_a_verified_load(tmp_path):
    make_split(tmp_path / "data")
    load_fashion_mnist(data_dir=tmp_path / "data", verify=False)
    with pytest.raises(ChecksumError):
        load_fashion_mnist(data_dir=tmp_path / "data", verify=True)


@pytest.mark.parametrize("damage", ["source", "npy-truncated", "npy-rewritten", "json", "npy-gone"])
def test_stale_or_corrupted_cache_is_rebuilt(tmp_path, damage):
    images, _ = make_split(tmp_path / "data")
    load_fashion_mnist(data_dir=tmp_path / "data", verify=False)
    npy = cache_dir(tmp_path) / "train-images.npy"
    if damage == "source":  # new data under the same name
        images, _ = make_split(tmp_path / "data", seed=5)
    elif damage == "npy-truncated":
        npy.write_bytes(npy.read_bytes()[:200])
    elif damage == "npy-rewritten":  # same size, other bytes, later mtime
        data = bytearray(npy.read_bytes())
        data[-1] ^= 0xFF
        npy.write_bytes(bytes(data))
        st = npy.stat()
        os.utime(npy, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    elif damage == "json":
        (cache_dir(tmp_path) / "train.json").write_text("{not json")
    else:
        npy.unlink()
    got, _ = load_fashion_mnist(data_dir=tmp_path / "data", verify=False)
    np.testing.assert_array_equal(got, images)
    meta = json.loads((cache_dir(tmp_path) / "train.json").read_text())
    assert meta["parts"]["images"]["source"]["path"].endswith("train-images-idx3-ubyte.gz")


def test_search_order_and_skipping_wrong_files(tmp_path, monkeypatch):
    # $SOFTREG_DATA/<name> holds the right files, $SOFTREG_DATA itself other ones.
    env = tmp_path / "env"
    good, _ = make_split(env / "fashion-mnist", seed=1)
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec_for(env / "fashion-mnist"))
    make_split(env, seed=2)
    monkeypatch.setenv("SOFTREG_DATA", str(env))
    np.testing.assert_array_equal(load("fashion-mnist", progress=False)[0], good)
    # Remove the good folder: the wrong files at $SOFTREG_DATA are skipped (checksum) and the
    # download is tried; the mirror refuses, so the error says so.
    for p in (env / "fashion-mnist").iterdir():
        p.unlink()
    monkeypatch.setattr("softreg.datasets.download.time.sleep", lambda seconds: None)
    with pytest.raises(datasets.DownloadError, match=r"train-labels-idx1-ubyte\.gz"):
        load_fashion_mnist(progress=False, mirrors=["http://127.0.0.1:9/"])


def test_bad_split_and_name(tmp_path):
    with pytest.raises(ValueError, match="split: expected 'train' or 'test', got 'valid'"):
        load_fashion_mnist("valid")
    with pytest.raises(ValueError, match="name: unknown dataset 'cifar'"):
        load("cifar")
    with pytest.raises(ValueError, match="split"):
        load("digits", "test")


def test_info():
    info = datasets.info("fashion-mnist")
    assert info.class_names == datasets.FASHION_MNIST_CLASSES
    assert (info.n_classes, info.image_shape, info.pixel_max) == (10, (28, 28), 255)
    assert datasets.info("mnist").class_names == tuple("0123456789")
    assert datasets.info("digits").image_shape == (8, 8)


def test_digits_match_scikit_learn():
    from sklearn.datasets import load_digits as sklearn_digits

    images, labels = datasets.load_digits()
    reference = sklearn_digits()
    assert images.shape == (1797, 8, 8)
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(1797, 64), reference.data)
    np.testing.assert_array_equal(labels, reference.target)
    assert int(images.max()) == datasets.info("digits").pixel_max


@pytest.mark.realdata
@pytest.mark.parametrize(("split", "per_class"), [("train", 6000), ("test", 1000)])
def test_real_fashion_mnist(real_fashion_mnist_dir, split, per_class):
    images, labels = load("fashion-mnist", split, real_fashion_mnist_dir, progress=False)
    assert images.shape == (10 * per_class, 28, 28)
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), [per_class] * 10)
    assert int(images.max()) == 255
    # Same as the plain reader.
    import gzip

    name = NAMES[split][0]
    raw = gzip.decompress((real_fashion_mnist_dir / name).read_bytes())
    np.testing.assert_array_equal(images.reshape(-1), np.frombuffer(raw, np.uint8, offset=16))


@pytest.mark.parametrize("form", ["gz-level-1", "raw"])
def test_repackaged_or_raw_files_verify_by_content(tmp_path, monkeypatch, form):
    import gzip

    images, labels = make_split(tmp_path / "data")
    spec = spec_for(tmp_path / "data")
    # Known archive checksums of the files as first written; the repackaged ones differ.
    files = [
        FileSpec(f.filename, f.content_sha256, (hashlib.sha256(b"other").hexdigest(),))
        for f in (spec.splits["train"].images, spec.splits["train"].labels)
    ]
    splits = {"train": SplitSpec(files[0], files[1], 30), "test": spec.splits["test"]}
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", DatasetSpec(spec.info, splits, (), ()))
    for name in NAMES["train"]:
        path = tmp_path / "data" / name
        content = gzip.decompress(path.read_bytes())
        if form == "raw":
            path.unlink()
            path.with_suffix("").write_bytes(content)
        else:
            path.write_bytes(gzip.compress(content, compresslevel=1, mtime=1))
    got_images, got_labels = load_fashion_mnist(data_dir=tmp_path / "data", verify=True)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_raw_mnist_cannot_be_checksummed_but_is_validated(tmp_path):
    images, _ = make_split(tmp_path / "data", gz=False)
    got_images, _ = load_mnist(
        data_dir=tmp_path / "data", verify=True
    )  # only archive checksums known
    np.testing.assert_array_equal(got_images, images)


def test_load_dispatch_and_arguments(tmp_path):
    images, labels = make_split(tmp_path / "data", split="test")
    got, got_labels = load("Fashion_MNIST", "test", tmp_path / "data", progress=False, verify=False)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(got_labels, labels)
    with pytest.raises(TypeError, match="load\\('digits'\\) takes no data_dir"):
        load("digits", data_dir=tmp_path / "data")
    with pytest.raises(TypeError, match=r"takes no data_dir.*, got cache, verify$"):
        load("digits", verify=False, cache=True)
    with pytest.raises(ValueError, match="only split 'train', got 'test'; hold out"):
        load("digits", "test")
    with pytest.raises(TypeError):
        load("mnist", "test", tmp_path / "data", colour=True)


@pytest.mark.realdata
def test_real_fashion_mnist_found_without_data_dir(real_fashion_mnist_dir, monkeypatch):
    monkeypatch.setenv("SOFTREG_DATA", str(real_fashion_mnist_dir))
    images, labels = load("fashion-mnist", "test", progress=False)  # search, verify, cache
    assert images.shape == (10000, 28, 28)
    again, again_labels = load("fashion-mnist", "test", progress=False)  # from the cache
    assert isinstance(again.base, np.memmap)
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(again_labels, labels)
    assert datasets.FASHION_MNIST_CLASSES[labels[0]] == "Ankle boot"


def test_store_writes_plain_arrays_atomically(tmp_path):
    from softreg.datasets.cache import lookup, store
    from softreg.datasets.decode import DecodedFile

    source = tmp_path / "src"
    source.write_bytes(b"x")
    arrays = {"images": np.arange(6, dtype=np.uint8).reshape(1, 2, 3), "labels": np.zeros(1)}
    decoded = {part: DecodedFile(source, a, False, None) for part, a in arrays.items()}
    got = store(tmp_path, "train", decoded, verified=False)
    np.testing.assert_array_equal(got["images"], arrays["images"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "src",
        "train-images.npy",
        "train-labels.npy",
        "train.json",
    ]
    hit = lookup(tmp_path, "train", {"images": source, "labels": source}, verified=False)
    assert hit is not None
    assert lookup(tmp_path, "train", {"images": source, "labels": source}, verified=True) is None


def own_digits(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Real handwritten digits (scikit-learn's, enlarged to 28x28) in MNIST file layout."""
    from PIL import Image

    images, labels = datasets.load_digits()
    big = np.stack(
        [
            np.asarray(Image.fromarray(image * 15).resize((20, 20), Image.Resampling.BILINEAR))
            for image in images[:100]
        ]
    )
    canvas = np.zeros((100, 28, 28), np.uint8)
    canvas[:, 4:24, 4:24] = big
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", canvas)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels[:100])
    return canvas, labels[:100]


@pytest.mark.parametrize("loader", [load_mnist, load_fashion_mnist])
def test_your_own_folder_in_mnist_layout_loads_and_is_only_structure_checked(tmp_path, loader):
    images, labels = own_digits(tmp_path / "mine")
    got_images, got_labels = loader(split="test", data_dir=tmp_path / "mine")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    # verify=True asks for the official files: the error names file and dataset, and the way on.
    with pytest.raises(ChecksumError) as info:
        loader(split="test", data_dir=tmp_path / "mine", verify=True)
    message = str(info.value)
    name = "mnist" if loader is load_mnist else "fashion-mnist"
    assert message.startswith(f"{tmp_path / 'mine' / 't10k-labels-idx1-ubyte.gz'}: checksum")
    assert f"{name}'s official t10k-labels-idx1-ubyte.gz" in message
    assert f"`softreg data fetch {name}`" in message
    assert "without verify=True" in message
    # Structure is still checked in your own folder: a label out of range is named.
    write_idx(tmp_path / "mine" / "t10k-labels-idx1-ubyte.gz", np.full(100, 12, np.uint8))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz: labels out of range"):
        loader(split="test", data_dir=tmp_path / "mine")


def test_a_data_dir_that_is_a_file_empty_or_unreadable(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"data_dir: .*file is a file, not a folder"):
        load_mnist("test", tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"data_dir: .*empty is empty; expected a folder"):
        load_mnist("test", tmp_path / "empty")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "x").write_text("x")
    real_scandir = os.scandir

    def denied(path):
        if Path(path) == tmp_path / "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    # (Simulated: the tests may run as root, who reads any folder.)
    monkeypatch.setattr("softreg.datasets.sources.os.scandir", denied)
    with pytest.raises(PermissionError, match=r"data_dir: .*locked cannot be read"):
        load_mnist("test", tmp_path / "locked")


def test_verify_false_skips_checksums_of_found_files_too(tmp_path, monkeypatch):
    images, _ = make_split(tmp_path / "env", seed=4)  # not the official content
    make_split(tmp_path / "env", "test", seed=5)
    monkeypatch.setenv("SOFTREG_DATA", str(tmp_path / "env"))
    got, _ = load_fashion_mnist(progress=False, verify=False)
    np.testing.assert_array_equal(got, images)
    places = datasets.fetch("fashion-mnist", download=False, verify=False, progress=False)
    assert [(p.split, p.origin, p.checked, p.folder) for p in places] == [
        (split, "$SOFTREG_DATA", False, tmp_path / "env") for split in ("train", "test")
    ]

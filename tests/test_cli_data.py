"""``softreg data fetch`` and ``softreg data list``: cases (a) found, (b) download, (d) nothing.

The data is synthetic, with a dataset spec whose checksums are those of the synthetic files and
whose system folder is a temporary one; downloads come from a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cli_runs import run
from softreg.cli._data_command import NOT_AVAILABLE
from softreg.datasets import mnist as mnist_module
from test_datasets_download import Server
from test_datasets_mnist import NAMES, make_split, spec_for


@pytest.fixture(autouse=True)
def private_places(tmp_path, monkeypatch):
    """A private home and cache, no $SOFTREG_DATA, a mirror that refuses (port 9)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SOFTREG_DATA", raising=False)
    monkeypatch.setenv("SOFTREG_MIRROR", "http://127.0.0.1:9/")
    monkeypatch.setattr("softreg.datasets.download.time.sleep", lambda seconds: None)


@pytest.fixture
def synthetic(tmp_path, monkeypatch) -> Path:
    """Both splits of a synthetic Fashion-MNIST in tmp/files, 'official' for this test."""
    files = tmp_path / "files"
    make_split(files, "train", seed=1)
    make_split(files, "test", seed=2, n=20)
    spec = dataclasses.replace(spec_for(files), system_dirs=(str(tmp_path / "usr-share"),))
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", spec)
    return files


def test_a_found_in_softreg_data_and_in_the_system_folder(synthetic, tmp_path, monkeypatch, capsys):
    shutil.copytree(synthetic, tmp_path / "usr-share")
    status, out, err = run(capsys, "data", "fetch", "fashion-mnist")
    assert status == 0, err
    size = sum(p.stat().st_size for p in synthetic.iterdir()) / 1e6
    assert out == (
        f"fashion-mnist: {tmp_path / 'usr-share'} (a system package), official SHA-256 "
        f"checked, {size:.1f} MB\n"
    )
    monkeypatch.setenv("SOFTREG_DATA", str(synthetic))
    status, out, _ = run(capsys, "data", "fetch", "fashion-mnist")
    assert out.startswith(f"fashion-mnist: {synthetic} ($SOFTREG_DATA), official SHA-256 checked")


def test_b_downloaded_from_a_mirror(synthetic, tmp_path, monkeypatch, capsys):
    with Server() as server:
        server.files = {p.name: p.read_bytes() for p in synthetic.iterdir()}
        monkeypatch.setenv("SOFTREG_MIRROR", server.url)
        status, out, err = run(capsys, "data", "fetch", "fashion-mnist", "--quiet")
    assert status == 0, err
    cache = tmp_path / "xdg" / "softreg" / "fashion-mnist"
    first, second = out.splitlines()
    assert (
        first == f"fashion-mnist: not on this machine; downloading from {server.url} into {cache}"
    )
    assert second.startswith(f"fashion-mnist: {cache} (downloaded just now), official SHA-256")
    for name in NAMES["train"] + NAMES["test"]:
        assert (cache / name).read_bytes() == (synthetic / name).read_bytes()
    # Then found in the cache, without a server.
    status, out, _ = run(capsys, "data", "fetch", "fashion-mnist")
    assert out.startswith(f"fashion-mnist: {cache} (the download cache), official SHA-256")


def test_d_nothing_works_the_three_ways_and_status_3(synthetic, tmp_path, capsys):
    status, out, err = run(capsys, "data", "fetch", "fashion-mnist")
    assert status == NOT_AVAILABLE == 3
    assert out.startswith("fashion-mnist: not on this machine; downloading from")
    lines = err.splitlines()
    assert lines[0].startswith(
        "softreg data: fashion-mnist is not on this machine and could not be fetched: "
        "could not download train-labels-idx1-ubyte.gz"
    )
    assert "127.0.0.1:9" in lines[0]
    assert lines[1] == "Three ways to get fashion-mnist:"
    assert "apt-get install dataset-fashion-mnist" in lines[3]
    assert "SOFTREG_DATA=DIR, or --data-dir DIR" in lines[4]
    assert len(lines) == 5
    status, _, err = run(capsys, "data", "fetch", "fashion-mnist", "--brief")
    assert status == 3
    assert len(err.splitlines()) == 1
    status, out, err = run(capsys, "data", "fetch", "fashion-mnist", "--offline")
    assert (status, out) == (3, "")
    assert "is in none of" in err


def test_found_files_that_fail_their_checksum_are_skipped_and_named(synthetic, tmp_path, capsys):
    make_split(tmp_path / "usr-share", "train", seed=5)  # same names, not the official content
    make_split(tmp_path / "usr-share", "test", seed=6, n=20)
    status, _, err = run(capsys, "data", "fetch", "fashion-mnist", "--brief")
    assert status == 3
    assert "skipped:" in err
    assert "checksum mismatch" in err
    assert str(tmp_path / "usr-share" / "train-labels-idx1-ubyte.gz") in err
    status, out, _ = run(capsys, "data", "list")
    assert status == 0
    (line,) = [line for line in out.splitlines() if line.startswith("fashion-mnist")]
    assert "not found (softreg data fetch fashion-mnist); skipped: " in line
    assert "checksum mismatch" in line


def test_your_own_folder_is_structure_checked_unless_verify(synthetic, tmp_path, capsys):
    own = tmp_path / "own"
    make_split(own, "train", seed=8)
    make_split(own, "test", seed=9, n=20)
    status, out, err = run(capsys, "data", "fetch", "fashion-mnist", "--data-dir", str(own))
    assert status == 0, err
    assert out.startswith(f"fashion-mnist: {own} (your folder), structure checked, no checksum")
    status, out, err = run(
        capsys, "data", "fetch", "fashion-mnist", "--data-dir", str(own), "--verify"
    )
    assert status == 1
    (line,) = err.splitlines()
    assert "checksum mismatch" in line
    assert "train-labels-idx1-ubyte.gz" in line
    assert "fashion-mnist's official" in line
    assert "softreg data fetch fashion-mnist" in line
    # A bad label is a structure error even in your own folder.
    make_split(own, "test", seed=9, n=20, labels=np.full(20, 10, np.uint8))
    status, _, err = run(capsys, "data", "fetch", "fashion-mnist", "--data-dir", str(own))
    assert status == 1
    assert "labels out of range" in err


def test_list_shows_where_each_dataset_is(synthetic, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SOFTREG_DATA", str(synthetic))
    status, out, err = run(capsys, "data", "list")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["fashion-mnist", "train", f"{_mb(synthetic, 'train')}", "MB"]
    assert "sha256-checked" in lines[0]
    assert f"{synthetic} ($SOFTREG_DATA)" in lines[0]
    assert lines[1].split()[:2] == ["fashion-mnist", "test"]
    assert lines[2].startswith("mnist")
    assert "not found (softreg data fetch mnist)" in lines[2]
    assert lines[3].startswith("digits")
    assert "bundled with scikit-learn" in lines[3]
    status, out, _ = run(capsys, "data", "list", "--json")
    rows = json.loads(out)["datasets"]
    assert [(r["dataset"], r["split"], r["found"]) for r in rows] == [
        ("fashion-mnist", "train", True),
        ("fashion-mnist", "test", True),
        ("mnist", None, False),
        ("digits", "all", True),
    ]
    assert rows[0]["checked"] is True
    assert rows[0]["origin"] == "$SOFTREG_DATA"
    assert rows[0]["bytes"] == sum((synthetic / n).stat().st_size for n in NAMES["train"])


def _mb(folder: Path, split: str) -> str:
    return f"{sum((folder / n).stat().st_size for n in NAMES[split]) / 1e6:.1f}"

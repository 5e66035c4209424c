"""The Makefile's data step, behind ``make run``, in its four cases.

(a) found, (b) downloaded, (c) no download works, root and apt-get: the Makefile installs the
Debian package, (d) none of these: the three ways and a non-zero exit. ``make data`` runs for
real with a stand-in venv whose ``softreg`` is this checkout with a synthetic dataset spec (its
checksums, a temporary "system" folder), and stand-ins for ``id`` and ``apt-get`` on PATH.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_datasets_download import Server
from test_datasets_mnist import make_split, spec_for

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

WRAPPER = """#!{python}
import pickle, sys
sys.path.insert(0, {src!r})
from softreg.datasets import mnist
with open({spec!r}, "rb") as f:
    mnist.FASHION_MNIST = pickle.load(f)
from softreg.cli import main
sys.exit(main())
"""


@pytest.fixture
def stage(tmp_path):
    """Synthetic data, a stand-in venv, and a bin folder for the stand-in id and apt-get."""
    files = tmp_path / "files"
    make_split(files, "train", seed=1)
    make_split(files, "test", seed=2, n=20)
    system = tmp_path / "usr-share"
    spec = dataclasses.replace(spec_for(files), system_dirs=(str(system),))
    (tmp_path / "spec.pickle").write_bytes(pickle.dumps(spec))
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    softreg = venv / "bin" / "softreg"
    src = str(ROOT / "src")
    python = sys.executable
    softreg.write_text(WRAPPER.format(python=python, src=src, spec=str(tmp_path / "spec.pickle")))
    softreg.chmod(0o755)
    (venv / ".run-stamp").touch()  # newer than pyproject.toml: make builds no venv
    (tmp_path / "bin").mkdir()
    return tmp_path


def stand_in(stage: Path, name: str, script: str) -> None:
    path = stage / "bin" / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def make_data(stage: Path, uid: int, mirror: str = "http://softreg-test.invalid/"):
    # A name that never resolves (RFC 2606): the download fails at once, as without internet.
    stand_in(stage, "id", f'[ "$1" = -u ] && echo {uid} || exec /usr/bin/id "$@"\n')
    env = {
        **os.environ,
        "PATH": f"{stage / 'bin'}:{os.environ['PATH']}",
        "HOME": str(stage / "home"),
        "XDG_CACHE_HOME": str(stage / "xdg"),
        "SOFTREG_MIRROR": mirror,
    }
    env.pop("SOFTREG_DATA", None)
    env.pop("MAKEFLAGS", None)
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "data", f"VENV={stage / 'venv'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


APT_GET = 'echo "$@" >> {log}\n[ "$1" = install ] && mkdir -p {system} && cp {files}/* {system}/\n'


def test_a_found_on_disk_says_where_in_one_line(stage):
    shutil.copytree(stage / "files", stage / "usr-share")
    stand_in(stage, "apt-get", f"echo called >> {stage / 'apt.log'}\n")
    done = make_data(stage, uid=0)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"fashion-mnist: {stage / 'usr-share'} (a system package), official SHA-256 checked, "
        f"{sum(p.stat().st_size for p in (stage / 'files').iterdir()) / 1e6:.1f} MB"
    ]
    assert not (stage / "apt.log").exists()


def test_b_a_download_works(stage):
    stand_in(stage, "apt-get", f"echo called >> {stage / 'apt.log'}\n")
    with Server() as server:
        server.files = {p.name: p.read_bytes() for p in (stage / "files").iterdir()}
        done = make_data(stage, uid=0, mirror=server.url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("fashion-mnist: not on this machine; downloading from")
    assert "(downloaded just now), official SHA-256 checked" in lines[-1]
    assert not (stage / "apt.log").exists()


def test_c_no_download_works_root_with_apt_installs_the_package(stage):
    log = stage / "apt.log"
    stand_in(
        stage, "apt-get", APT_GET.format(log=log, system=stage / "usr-share", files=stage / "files")
    )
    done = make_data(stage, uid=0)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-2] == (
        "make: no download worked; installing Debian's dataset-fashion-mnist (apt-get, as root)"
    )
    assert lines[-1].startswith(f"fashion-mnist: {stage / 'usr-share'} (a system package)")
    assert log.read_text() == "install -y -q dataset-fashion-mnist\n"
    # The failed download is one line, without the three ways (the next way is being taken).
    assert len(done.stderr.splitlines()) == 1
    assert "could not be fetched" in done.stderr


def test_c_apt_get_failing_ends_with_the_three_ways(stage):
    log = stage / "apt.log"
    fails = 'echo "E: Unable to locate package dataset-fashion-mnist"; exit 100'
    stand_in(stage, "apt-get", f'echo "$@" >> {log}\n[ "$1" = update ] && exit 0\n{fails}\n')
    done = make_data(stage, uid=0)
    assert done.returncode != 0
    assert "make: apt-get failed" in done.stdout
    assert log.read_text().splitlines() == [
        "install -y -q dataset-fashion-mnist",  # first without, then after an update
        "update -q",
        "install -y -q dataset-fashion-mnist",
    ]
    assert "Three ways to get fashion-mnist:" in done.stderr


def test_d_not_root_gives_the_three_ways_and_fails(stage):
    stand_in(stage, "apt-get", f"echo called >> {stage / 'apt.log'}\n")
    done = make_data(stage, uid=1000)
    assert done.returncode != 0
    err = done.stderr.splitlines()
    assert err[0].startswith("softreg data: fashion-mnist is not on this machine")
    assert err[1:5] == [
        "Three ways to get fashion-mnist:",
        *[line for line in err[2:5] if line.startswith(("  1. ", "  2. ", "  3. "))],
    ]
    assert "apt-get install dataset-fashion-mnist" in err[3]
    assert not (stage / "apt.log").exists()

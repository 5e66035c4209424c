"""Shared test settings: Hypothesis profiles and the real-data switch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def fashion_mnist_dir() -> Path | None:
    """Folder with real Fashion-MNIST (``$SOFTREG_DATA`` or Debian's package), or None."""
    for candidate in (os.environ.get("SOFTREG_DATA"), DEBIAN_FASHION_MNIST):
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").exists():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def real_fashion_mnist_dir() -> Path:
    """Path to real Fashion-MNIST; skips the test when it is not on this machine."""
    found = fashion_mnist_dir()
    if found is None:
        pytest.skip("real Fashion-MNIST not found: apt-get install dataset-fashion-mnist")
    return found


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test writes into the real ~/.cache/softreg (loaders cache decoded .npy files there)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture(params=["numpy", "compiled"])
def numpy_and_compiled(request, monkeypatch):
    """Run a test twice: on the NumPy/BLAS code and on the numba-compiled code (if installed).

    Use as ``pytestmark = pytest.mark.usefixtures("numpy_and_compiled")``.
    """
    from softreg._kernels import compiled

    if request.param == "compiled" and not compiled.AVAILABLE:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(compiled, "AVAILABLE", request.param == "compiled")
    return request.param

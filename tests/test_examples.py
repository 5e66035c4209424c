"""The examples run as users run them (a subprocess), on real data when it is here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_seed_mnist_example_trains_sgd_then_lbfgs(real_fashion_mnist_dir: Path) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    args = ["--data-dir", str(real_fashion_mnist_dir), "--limit", "1500"]
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "seed_mnist.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = re.findall(
        r"^(SGD|L-BFGS)\s.*train error ([\d.]+)\s+test error ([\d.]+)$", done.stdout, re.M
    )
    assert [name for name, _, _ in rows] == ["SGD", "L-BFGS"]
    for _, train_error, test_error in rows:
        # 1500 Fashion-MNIST images are enough for a linear model to beat chance (0.9) by far.
        assert 0.0 <= float(train_error) < 0.3
        assert 0.0 < float(test_error) < 0.35

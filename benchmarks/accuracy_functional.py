"""Max ULP error of logsumexp / softmax / log_softmax: softreg vs scipy.special vs PyTorch.

Run: ``.venv/bin/python benchmarks/accuracy_functional.py [--rows 200]``. Same harness as
``tests/test_functional_accuracy.py``: seeded adversarial rows (offsets up to ±1e300, float32
±3e38; spreads 1e-3..1e3; 2..1000 classes; ties; far entries), reference from mpmath at 60
digits on the exact values of the floats; error = |computed - ref| / spacing(ref in dtype).
PyTorch is skipped when not installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.special

import softreg.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_functional_accuracy import adversarial_rows, reference, ulp_error


def implementations() -> dict[str, dict[str, object]]:
    impls: dict[str, dict[str, object]] = {
        "softreg": {"logsumexp": F.logsumexp, "softmax": F.softmax, "log_softmax": F.log_softmax},
        "scipy": {
            "logsumexp": scipy.special.logsumexp,
            "softmax": scipy.special.softmax,
            "log_softmax": scipy.special.log_softmax,
        },
    }
    try:
        import torch
    except ImportError:
        return impls

    def wrap(f):
        return lambda z: f(torch.from_numpy(np.ascontiguousarray(z)), -1).numpy()

    impls["torch " + torch.__version__] = {
        "logsumexp": wrap(torch.logsumexp),
        "softmax": wrap(torch.softmax),
        "log_softmax": wrap(torch.log_softmax),
    }
    return impls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    impls = implementations()
    print(
        f"{'implementation':<16} {'dtype':>8} {'logsumexp':>12} {'softmax':>12} {'log_softmax':>12}"
    )
    for dtype in (np.float64, np.float32):
        rows = adversarial_rows(dtype, seed=args.seed, n_rows=args.rows)
        refs = [reference(row) for row in rows]
        for name, funcs in impls.items():
            worst = {}
            for func_name, f in funcs.items():
                errors = []
                for row, (lse, log_proba, proba) in zip(rows, refs, strict=True):
                    ref = {"logsumexp": [lse], "softmax": proba, "log_softmax": log_proba}[
                        func_name
                    ]
                    with np.errstate(all="ignore"):
                        errors.append(ulp_error(np.asarray(f(row)), ref, dtype).max())
                worst[func_name] = max(errors)
            print(
                f"{name:<16} {np.dtype(dtype).name:>8} "
                + " ".join(f"{worst[k]:12.3g}" for k in ("logsumexp", "softmax", "log_softmax"))
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

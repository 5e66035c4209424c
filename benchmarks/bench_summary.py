"""Time and peak memory of ``softreg.stats.summary`` on Fashion-MNIST (7850 parameters).

Run: ``python benchmarks/bench_summary.py [--data-dir DIR] [--quick] [--cov-type HC0]``.
Fits the default ``SoftmaxRegression`` (L2, C=1) on the raw uint8 training images with
``input_scale=1/255`` (no float copy of X), then times ``summary(model, X, y)``. Memory is
reported two ways: the peak of NumPy's allocations inside ``summary`` (``tracemalloc``, which
NumPy reports to) and the process's peak resident set size before and after. ``--quick`` uses
the first 6000 images (same 7850 parameters, a tenth of the passes over the data).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import tracemalloc
import warnings

import numpy as np

from softreg import SoftmaxRegression, datasets
from softreg.stats import summary


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the Fashion-MNIST IDX files")
    parser.add_argument("--quick", action="store_true", help="first 6000 images only")
    parser.add_argument("--cov-type", default="nonrobust", choices=("nonrobust", "HC0"))
    args = parser.parse_args()

    images, labels = datasets.load("fashion-mnist", "train", args.data_dir, progress=False)
    if args.quick:
        images, labels = images[:6000], labels[:6000]
    X = images.reshape(len(images), -1)
    start = time.perf_counter()
    model = SoftmaxRegression(input_scale=1 / 255).fit(X, labels)
    fit_s = time.perf_counter() - start
    rss_before = _max_rss_mib()

    tracemalloc.start()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = summary(model, X, labels, cov_type=args.cov_type)
    summary_s = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    wald = [result.wald_test(t).pvalue for t in result.terms[1:]]
    report = {
        "n_samples": int(X.shape[0]),
        "n_params": len(model.classes_) * (X.shape[1] + 1),
        "cov_type": args.cov_type,
        "fit_s": round(fit_s, 2),
        "summary_s": round(summary_s, 2),
        "summary_peak_numpy_mib": round(peak / 2**20, 1),
        "max_rss_mib_before_summary": round(rss_before, 1),
        "max_rss_mib_after_summary": round(_max_rss_mib(), 1),
        "llf": result.llf,
        "prsquared": result.prsquared,
        "bse_range": [float(result.bse.min()), float(result.bse.max())],
        "newton_step_se": result.newton_step_se,
        "pixels_with_wald_p_below_1e-3": int(np.sum(np.asarray(wald) < 1e-3)),
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

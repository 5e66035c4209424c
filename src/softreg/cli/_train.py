"""``softreg train``: fit a classifier on a dataset and write a complete run directory.

`run_train` reads as the command's steps: build the estimator from the flags
(:mod:`softreg.cli._estimator`), load the data, fit while recording the learning curves
(:mod:`softreg.cli._curves`), optionally compute the coefficients' standard errors
(:mod:`softreg.cli._inference`) and calibrate (:mod:`softreg.cli._calibrate`), score, and
write model.npz, metrics.json, history.csv, the report and the plots (:mod:`softreg.cli._plots`;
:mod:`softreg.cli._cv` for ``--C auto``) into a run directory that appears all or nothing
(:mod:`softreg.cli._run_dir`), then print a summary.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

import softreg
from softreg import datasets, io
from softreg._progress import progress
from softreg.cli._calibrate import (
    calibrate,
    calibration_summary,
    split_validation,
    write_calibration_plot,
)
from softreg.cli._curves import LearningCurves, curve_sample, step_name
from softreg.cli._cv import cv_record, cv_summary, write_cv_plot
from softreg.cli._data import fingerprint, load_split, preprocessing_for, to_features
from softreg.cli._errors import UsageError
from softreg.cli._estimator import build_model
from softreg.cli._html_report import write_run_report
from softreg.cli._inference import (
    INFERENCE_CSV,
    check_inference_model,
    check_inference_size,
    inference,
)
from softreg.cli._plots import write_plots
from softreg.cli._report import class_names_of, score
from softreg.cli._run_dir import check_out, staged, write_history, write_text

# UsageError and build_model are defined in _errors and _estimator; they stay importable here.
__all__ = ["UsageError", "build_model", "run_train"]


def _versions() -> dict[str, str]:
    import scipy
    import sklearn

    return {
        "softreg": softreg.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }


def _is_jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except TypeError:
        return False
    return True


def run_train(args: argparse.Namespace, argv: list[str]) -> int:
    """Run ``softreg train``; returns the exit status."""
    out = Path(args.out)
    check_out(out, args.overwrite)
    model = build_model(args)  # refuses flag combinations before any data is read
    want_inference = bool(getattr(args, "inference", False))
    if want_inference:
        check_inference_model(model, args.model)
    cv_model = model if hasattr(model, "Cs") else None  # --C auto
    info = datasets.info(args.dataset)
    quiet = args.quiet
    train_images, y_train = load_split(
        args.dataset, "train", args.data_dir, progress=not quiet, max_samples=args.max_samples
    )
    test_images, y_test = load_split(args.dataset, "test", args.data_dir, progress=not quiet)
    validation = None
    if getattr(args, "calibrate", None) is not None:
        train_images, y_train, *validation = split_validation(train_images, y_train, args.calibrate)
    prep = preprocessing_for(args.dataset)
    # SoftmaxRegression fits raw pixels with the scaling folded into its arithmetic
    # (input_scale), so no float copy of the training images exists during the fit.
    raw_pixels = "input_scale" in model.get_params(deep=False)
    if raw_pixels:
        model.set_params(input_scale=prep["scale"])
        X_train = train_images.reshape(len(train_images), -1)
        X_test = test_images.reshape(len(test_images), -1)
    else:
        X_train, X_test = to_features(train_images, prep), to_features(test_images, prep)

    if want_inference:  # the Hessian's size, known now, before the fit
        fit_intercept = bool(model.get_params(deep=False).get("fit_intercept", True))
        check_inference_size(len(np.unique(y_train)), X_train.shape[1], fit_intercept)

    curve_idx = curve_sample(len(y_train))
    params = model.get_params(deep=False)
    total = params.get("max_epochs", params.get("max_iter"))
    step = step_name(params)
    start = time.perf_counter()
    bar = progress(total, f"train {args.model}", quiet=quiet, min_interval=2.0)
    curves = LearningCurves(X_train, y_train, curve_idx, X_test, y_test, bar=bar, start=start)

    # Cross-validation records its path instead, and the refit model it chose is what is
    # scored and saved.
    fit_args = (
        {}
        if cv_model is not None
        else {
            "callback": curves,
            "checkpoint": args.checkpoint,
            "checkpoint_every": args.checkpoint_every,
            "resume_from": args.resume,
        }
    )
    with bar, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X_train, y_train, **fit_args)
    fit_time = time.perf_counter() - start
    if cv_model is not None:
        model = cv_model.best_estimator_
    if raw_pixels:
        # The saved model takes features scaled as `prep` records, like every other model.
        model.set_params(input_scale=None)
        X_train, X_test = to_features(train_images, prep), to_features(test_images, prep)
    inference_csv, inference_record, inference_error = None, None, None
    if want_inference:  # of the fitted model, on the rows it was fitted on
        with warnings.catch_warnings(record=True) as caught_inference:
            warnings.simplefilter("always")
            try:
                inference_csv, inference_record = inference(
                    model, X_train, y_train, class_names_of(model.classes_, info.class_names)
                )
            except ValueError as exc:  # a singular Hessian: the run is still written, exit 1
                inference_error = str(exc)
        caught.extend(caught_inference)  # e.g. "the fit stopped short of the optimum"
    calibration, probas = None, None
    if validation is not None:
        model, calibration, probas = calibrate(
            model, to_features(validation[0], prep), validation[1], X_test, y_test
        )
    notes = [f"{w.category.__name__}: {w.message}" for w in caught]
    for note in notes:
        print(f"softreg train: warning: {note}", file=sys.stderr)

    names = class_names_of(model.classes_, info.class_names)
    train_record, _ = score(model, X_train, y_train, names)
    test_record, y_pred = score(model, X_test, y_test, names)
    metrics = {
        "dataset": args.dataset,
        "model": type(model).__name__,
        "params": {k: v for k, v in model.get_params(deep=False).items() if _is_jsonable(v)},
        "fit_input": "uint8 pixels, scaling folded in" if raw_pixels else "float32 features",
        "train": train_record,
        "test": test_record,
        "fit_time_s": round(fit_time, 3),
        "n_iter": int(np.ravel(getattr(model, "n_iter_", len(curves.rows)))[0]),
        "history_train_accuracy_samples": len(curve_idx),
        "warnings": notes,
        **({"cv": cv_record(cv_model)} if cv_model is not None else {}),
        "command": shlex.join(["softreg", *argv]),
        "versions": _versions(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    metadata = {
        "dataset": {"name": args.dataset, "class_names": names},
        "preprocessing": prep,
        "training_data": {
            "dataset": args.dataset,
            "split": "train",
            "n_samples": len(y_train),
            "max_samples": args.max_samples,
            "sha256": fingerprint(train_images, y_train),
        },
        "metrics": {
            "train_accuracy": train_record["accuracy"],
            "test_accuracy": test_record["accuracy"],
            "test_log_loss": test_record["log_loss"],
        },
        "command": metrics["command"],
    }
    if calibration is not None:
        metrics["calibration"] = calibration
        metadata["metrics"]["temperature"] = calibration["temperature"]
    if inference_record is not None:
        metrics["inference"] = inference_record
    elif inference_error is not None:
        metrics["inference"] = {"error": inference_error}

    with staged(out) as stage:
        write_text(stage / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        write_history(stage / "history.csv", curves.rows)
        if inference_csv is not None:
            write_text(stage / INFERENCE_CSV, inference_csv)
        plots: list[str] = []
        if not args.no_plots:
            plots = write_plots(
                stage, model, curves.rows, test_record, test_images, y_test, y_pred, names,
                args.dataset, prep,
            )  # fmt: skip
            if cv_model is not None and plots:  # none: matplotlib missing, noted by write_plots
                plots.append(write_cv_plot(stage, cv_model, args.dataset))
        if probas is not None and plots:
            title = f"{type(model).__name__} on {args.dataset} (test set)"
            plots.append(write_calibration_plot(stage, y_test, probas, model.classes_, title))
        io.save(model, stage / "model.npz", metadata=metadata)
        report = write_run_report(stage, out.name)

    print(
        f"trained {type(model).__name__} on {args.dataset} ({len(y_train)} images) "
        f"in {fit_time:.1f} s, {metrics['n_iter']} {step}s"
    )
    print(
        f"train accuracy {train_record['accuracy']:.4f}   test accuracy "
        f"{test_record['accuracy']:.4f}   test log-loss {test_record['log_loss']:.4f}"
    )
    if cv_model is not None:
        print(cv_summary(cv_model))
    if calibration is not None:
        print(calibration_summary(calibration))
    if inference_record is not None:
        rec = inference_record
        print(
            f"coefficient inference: {INFERENCE_CSV} (log-likelihood {rec['llf']:.6g}, "
            f"McFadden R^2 {rec['prsquared']:.4f}, {rec['cov_type']} standard errors, "
            f"penalty {rec['penalty']})"
        )
    print(f"run directory: {out}  (model.npz, metrics.json, history.csv)")
    if report:
        print(f"report: {(out / report).resolve().as_uri()}")
    if plots:
        print("plots:")
        for name in plots:
            print(f"  {out / name}")
    if inference_error is not None:
        print(
            f"softreg train: error: --inference: {inference_error} (the run directory was "
            f"written without {INFERENCE_CSV})",
            file=sys.stderr,
        )
        return 1
    return 0

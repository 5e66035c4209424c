"""``softreg train``: fit a classifier on a dataset and write a complete run directory.

The run directory is assembled in a hidden sibling folder and moved into place only when every
file is written, so an interrupted or failed run (Ctrl-C included) leaves no partial RUN_DIR and
no model file behind.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

import softreg
from softreg import datasets, io
from softreg._atomic import atomic_path
from softreg._progress import progress
from softreg.cli._calibrate import calibrate, split_validation, write_calibration_plot
from softreg.cli._data import fingerprint, load_split, preprocessing_for, to_features
from softreg.cli._html_report import write_run_report
from softreg.cli._report import class_names_of, score

__all__ = ["UsageError", "build_model", "run_train"]

#: Training accuracy in the learning curves is measured on at most this many training images
#: (a fixed random subset) so that the per-epoch bookkeeping stays cheap next to the fit.
CURVE_TRAIN_SAMPLES = 10_000
N_PREDICTION_PANELS = 24


class UsageError(ValueError):
    """A command-line combination that cannot work (exit status 2)."""


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a bare word such as lbfgs


def build_model(args: argparse.Namespace) -> Any:
    """The estimator named by ``--model`` with the parameters the flags set."""
    if args.model == "mlp":
        from softreg.mlp import FASHION_MNIST_DEFAULTS, MLPClassifier

        cls: Any = MLPClassifier
        params: dict[str, Any] = {} if args.dataset == "digits" else dict(FASHION_MNIST_DEFAULTS)
    else:
        from softreg.softmax_regression import SoftmaxRegression

        cls = SoftmaxRegression
        params = {}
        if args.C == "auto":
            from softreg.cv import SoftmaxRegressionCV

            cls, params = SoftmaxRegressionCV, {"cv": args.cv or 5}
    if args.cv is not None and args.C != "auto":
        raise UsageError("--cv applies only with --C auto (C chosen by cross-validation)")
    accepted = set(cls().get_params(deep=False))
    epochs_param = "max_epochs" if "max_epochs" in accepted else "max_iter"
    flags = {
        "--solver": ("solver", args.solver),
        "--C": ("C", None if args.C == "auto" and args.model == "softmax" else args.C),
        "--epochs": (epochs_param, args.epochs),
        "--batch-size": ("batch_size", args.batch_size),
        "--seed": ("random_state", args.seed),
    }
    for flag, (name, value) in flags.items():
        if value is None:
            continue
        if name not in accepted:
            raise UsageError(f"{flag} does not apply to --model {args.model} ({cls.__name__})")
        params[name] = value
    for item in args.param or []:
        name, sep, text = item.partition("=")
        if not sep or name not in accepted:
            raise UsageError(
                f"--param {item!r}: expected NAME=VALUE with NAME one of "
                f"{', '.join(sorted(accepted))}"
            )
        params[name] = _parse_value(text)
    return cls(**params)


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise UsageError(f"--out: {out} already exists; pass --overwrite to replace it")


def _publish(stage: Path, out: Path) -> None:
    """Move the finished run into place, replacing an old run only at the very end."""
    if out.exists() or out.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "run")
        os.replace(stage, out)
        shutil.rmtree(old)
    else:
        os.replace(stage, out)


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


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


def run_train(args: argparse.Namespace, argv: list[str]) -> int:
    """Run ``softreg train``; returns the exit status."""
    out = Path(args.out)
    _check_out(out, args.overwrite)
    model = build_model(args)
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

    rng = np.random.default_rng(0)
    curve_idx = np.sort(rng.permutation(len(y_train))[:CURVE_TRAIN_SAMPLES])
    rows: list[dict[str, Any]] = []
    params = model.get_params(deep=False)
    total = params.get("max_epochs", params.get("max_iter"))
    step_name = _step_name(params)
    start = time.perf_counter()
    bar = progress(total, f"train {args.model}", quiet=quiet, min_interval=2.0)

    def callback(current: Any, record: dict[str, Any]) -> bool:
        row = dict(record)
        row["train_accuracy"] = float(current.score(X_train[curve_idx], y_train[curve_idx]))
        row["test_accuracy"] = float(current.score(X_test, y_test))
        row["elapsed_s"] = round(time.perf_counter() - start, 3)
        rows.append(row)
        bar.update(
            1, loss=row["loss"], train_acc=row["train_accuracy"], test_acc=row["test_accuracy"]
        )
        return False

    # Cross-validation (--C auto) has no per-iteration callback or checkpoints; it records
    # its path instead, and the refit model it chose is what is scored and saved.
    cv_model = model if hasattr(model, "Cs") else None
    if cv_model is not None and (args.checkpoint or args.resume):
        raise UsageError("--checkpoint and --resume do not apply to --C auto")
    fit_args = (
        {}
        if cv_model is not None
        else {
            "callback": callback,
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
        "n_iter": int(np.ravel(getattr(model, "n_iter_", len(rows)))[0]),
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

    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        stage.chmod(0o777 & ~umask)  # mkdtemp makes 0700; give the usual mode
        _write_text(stage / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        _write_history(stage / "history.csv", rows)
        plots = (
            []
            if args.no_plots
            else _write_plots(
                stage, model, rows, test_record, test_images, y_test, y_pred, names, args, prep
            )
            + _write_cv_plot(stage, cv_model, args)
        )
        if probas is not None and plots:
            title = f"{type(model).__name__} on {args.dataset} (test set)"
            plots.append(write_calibration_plot(stage, y_test, probas, model.classes_, title))
        io.save(model, stage / "model.npz", metadata=metadata)
        report = write_run_report(stage, out.name)
        _publish(stage, out)
    finally:
        if stage.exists():
            shutil.rmtree(stage)

    print(
        f"trained {type(model).__name__} on {args.dataset} ({len(y_train)} images) "
        f"in {fit_time:.1f} s, {metrics['n_iter']} {step_name}s"
    )
    print(
        f"train accuracy {train_record['accuracy']:.4f}   test accuracy "
        f"{test_record['accuracy']:.4f}   test log-loss {test_record['log_loss']:.4f}"
    )
    if cv_model is not None:
        print(
            f"C = {cv_model.C_:.4g} chosen by {len(cv_model.scores_)}-fold cross-validation "
            f"over {len(cv_model.Cs_)} values (path in metrics.json, cv_curve.png)"
        )
    if calibration is not None:
        test = calibration["test"]
        print(
            f"temperature {calibration['temperature']:.4f} (fitted on "
            f"{calibration['validation_samples']} "
            f"held-out training images): test ECE {test['before']['ece']:.4f} -> "
            f"{test['after']['ece']:.4f}, NLL {test['before']['nll']:.4f} -> "
            f"{test['after']['nll']:.4f}"
        )
    print(f"run directory: {out}  (model.npz, metrics.json, history.csv)")
    if report:
        print(f"report: {(out / report).resolve().as_uri()}")
    if plots:
        print("plots:")
        for name in plots:
            print(f"  {out / name}")
    return 0


def cv_record(cv_model: Any) -> dict[str, Any]:
    """The cross-validated path for metrics.json: per C, mean and standard error."""
    res = cv_model.cv_results_

    def floats(key: str) -> list[float | None]:
        return [None if np.isnan(v) else float(v) for v in res[key]]

    return {
        "n_folds": len(cv_model.scores_),
        "selection": cv_model.selection,
        "C": float(cv_model.C_),
        "C_1se": float(cv_model.C_1se_),
        "path": {
            "C": [float(c) for c in res["C"]],
            "mean_log_loss": floats("mean_test_log_loss"),
            "sem_log_loss": floats("sem_test_log_loss"),
            "mean_accuracy": floats("mean_test_accuracy"),
            "sem_accuracy": floats("sem_test_accuracy"),
            "n_iter": [int(n) for n in res["n_iter"]],
            "fitted": [bool(f) for f in res["fitted"]],
        },
    }


def _write_cv_plot(stage: Path, cv_model: Any, args: argparse.Namespace) -> list[str]:
    if cv_model is None:
        return []
    from softreg import plotting

    res = cv_model.cv_results_
    axes = plotting.plot_cv_curve(
        res["C"],
        (res["mean_test_log_loss"], res["sem_test_log_loss"]),
        (res["mean_test_accuracy"], res["sem_test_accuracy"]),
        cv_model.C_,
        C_1se=cv_model.C_1se_,
        title=f"SoftmaxRegressionCV on {args.dataset}: {len(cv_model.scores_)}-fold "
        "cross-validation, mean ± standard error",
    )
    return [plotting.save_figure(axes, stage / "cv_curve.png").name]


def _step_name(params: dict[str, Any]) -> str:
    """What one history row counts: an epoch (MLP, stochastic solvers) or an iteration."""
    stochastic = "max_epochs" in params or params.get("solver") in ("sgd", "adam")
    return "epoch" if stochastic else "iteration"


def _is_jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except TypeError:
        return False
    return True


def _write_plots(
    stage: Path,
    model: Any,
    rows: list[dict[str, Any]],
    test_record: dict[str, Any],
    test_images: np.ndarray,
    y_test: np.ndarray,
    y_pred: np.ndarray,
    names: list[str],
    args: argparse.Namespace,
    prep: dict[str, Any],
) -> list[str]:
    try:
        from softreg import plotting
    except ImportError as exc:
        print(f"softreg train: plots skipped: {exc}", file=sys.stderr)
        return []
    written = []
    title = f"{type(model).__name__} on {args.dataset}"
    if rows:
        ax = plotting.plot_learning_curves(
            rows,
            xlabel=_step_name(model.get_params(deep=False)),
            title=f"Learning curves: {title}",
        )
        written.append(plotting.save_figure(ax, stage / "learning_curves.png").name)
    ax = plotting.plot_confusion_matrix(
        test_record["confusion_matrix"],
        names,
        title=f"Confusion matrix on the test set (accuracy {test_record['accuracy']:.3f})",
    )
    written.append(plotting.save_figure(ax, stage / "confusion_matrix.png").name)
    shape = tuple(prep["image_shape"])
    if hasattr(model, "coef_"):
        axes = plotting.plot_class_weights(
            model.coef_, shape, names, title=f"Learned weights per class: {title}"
        )
    else:
        first = np.asarray(model.coefs_[0]).T  # (n_units, n_features)
        n_units = first.shape[0]
        shown = min(n_units, 20)
        unit_names = names if len(model.coefs_) == 1 else [f"unit {k}" for k in range(shown)]
        axes = plotting.plot_class_weights(
            first[:shown],
            shape,
            unit_names,
            title=f"First-layer weights ({shown} of {n_units} units): {title}",
        )
    written.append(plotting.save_figure(axes, stage / "weights.png").name)
    rng = np.random.default_rng(0)
    pick = np.sort(rng.permutation(len(y_test))[:N_PREDICTION_PANELS])
    label_names = {c: n for c, n in zip(model.classes_.tolist(), names, strict=True)}
    axes = plotting.plot_predictions(
        test_images[pick], y_test[pick].tolist(), y_pred[pick].tolist(), label_names
    )
    written.append(plotting.save_figure(axes, stage / "predictions.png").name)
    if hasattr(model, "coefs_"):
        sizes = [model.coefs_[0].shape[0], *(w.shape[1] for w in model.coefs_)]
        ax = plotting.plot_network(sizes, title=f"{' - '.join(map(str, sizes))} network: {title}")
        written.append(plotting.save_figure(ax, stage / "network.png").name)
    return written

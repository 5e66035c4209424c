"""``softreg evaluate``, ``predict`` and ``inspect``: read a model file and report on it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from softreg import datasets, io
from softreg.cli._data import load_split, preprocessing_for, read_inputs, to_features
from softreg.cli._report import class_names_of, format_report, score

__all__ = ["run_evaluate", "run_inspect", "run_predict"]


def _open_model(path: str) -> tuple[Any, dict[str, Any]]:
    if str(path).lower().endswith(".onnx"):
        raise ValueError(
            f"--model {path}: an ONNX export; this command reads softreg model files (.npz), "
            "`softreg predict --model FILE.onnx` runs ONNX files"
        )
    header = io.read_header(path)
    return io.load(path), header


def _preprocessing(header: dict[str, Any], dataset: str | None, command: str) -> dict[str, Any]:
    prep = header["metadata"].get("preprocessing")
    if prep is not None:
        return prep
    if dataset is None:
        raise ValueError(
            f"{command}: the model file records no preprocessing (it was not written by "
            "`softreg train`); save it with metadata={'preprocessing': ...}"
        )
    print(
        f"softreg {command}: note: the model file records no preprocessing; "
        f"assuming {dataset}'s pixels / pixel_max",
        file=sys.stderr,
    )
    return preprocessing_for(dataset)


def _names(model: Any, header: dict[str, Any]) -> list[str]:
    recorded = header["metadata"].get("dataset", {}).get("class_names")
    return class_names_of(model.classes_, recorded)


def run_evaluate(args: argparse.Namespace) -> int:
    """Score a model file on a dataset split; a report or one JSON object on stdout."""
    model, header = _open_model(args.model)
    prep = _preprocessing(header, args.dataset, "evaluate")
    data_shape = datasets.info(args.dataset).image_shape
    if tuple(prep["image_shape"]) != data_shape:
        raise ValueError(
            f"--dataset {args.dataset} has {'x'.join(map(str, data_shape))} images but the model "
            f"takes {'x'.join(map(str, prep['image_shape']))} images"
        )
    trained_on = header["metadata"].get("dataset", {}).get("name")
    if trained_on not in (None, args.dataset) and not args.quiet:
        print(
            f"softreg evaluate: note: the model was trained on {trained_on}, "
            f"evaluating on {args.dataset}",
            file=sys.stderr,
        )
    images, labels = load_split(
        args.dataset,
        args.split,
        args.data_dir,
        progress=not args.quiet,
        max_samples=args.max_samples,
    )
    names = _names(model, header)
    record, _ = score(model, to_features(images, prep), labels, names)
    record = {"model": args.model, "dataset": args.dataset, "split": args.split, **record}
    if args.json:
        print(json.dumps(record))
    else:
        title = (
            f"{header['estimator']} from {args.model} on {args.dataset} {args.split} "
            f"({record['n_samples']} images)"
        )
        print(format_report(record, title))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Top classes with probabilities for every image in every input file.

    Each input that cannot be read gets its own one-line error on stderr while the others are
    still predicted; the exit status is 1 when any input failed.
    """
    model: Any
    if str(args.model).lower().endswith(".onnx"):  # an export of `softreg export`: raw pixels in
        from softreg.cli._export import open_onnx

        model, header = open_onnx(args.model)
    else:
        model, header = _open_model(args.model)
    prep = _preprocessing(header, None, "predict")
    names = _names(model, header)
    k = max(1, min(args.top, len(names)))
    fit = getattr(args, "fit", False)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    batch_inputs = set()
    for path in args.inputs:
        try:
            images, record = read_inputs(path, prep, fit=fit)
        except (ValueError, OSError) as exc:
            message = " ".join(str(exc).split())
            errors.append({"input": path, "error": message})
            print(f"softreg predict: error: {message}", file=sys.stderr, flush=True)
            continue
        if hasattr(model, "predict_proba_raw"):
            proba = model.predict_proba_raw(images.reshape(len(images), -1))
        else:
            proba = model.predict_proba(to_features(images, prep))
        if len(proba) > 1:
            batch_inputs.add(path)
        for index, row in enumerate(proba):
            order = np.argsort(-row, kind="stable")[:k]
            top = [
                {"label": model.classes_[j].item(), "name": names[j], "probability": float(row[j])}
                for j in order
            ]
            result: dict[str, Any] = {"input": path, "index": index, "top": top}
            if record is not None:
                result["fit"] = record
            results.append(result)
            if not args.json:
                where = path + (f"[{index}]" if len(proba) > 1 else "")
                shown = ", ".join(f"{t['name']} {t['probability']:.3f}" for t in top)
                print(f"{where}: {shown}", flush=True)
    if args.json:
        print(json.dumps({"model": args.model, "predictions": results, "errors": errors}))
    return 1 if errors else 0


def run_inspect(args: argparse.Namespace) -> int:
    """What a model file holds: estimator, parameters, classes, input, training data, metrics."""
    model, header = _open_model(args.model)
    meta = header["metadata"]
    if args.json:
        print(json.dumps(header))
        return 0
    names = _names(model, header)
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(model.get_params(deep=False).items()))
    print(
        f"model file     {args.model} (format {header['format_version']}, "
        f"softreg {header['softreg_version']})"
    )
    print(f"estimator      {header['estimator']}")
    print(f"parameters     {params}")
    classes = ", ".join(
        f"{c}" if str(c) == n else f"{c}={n}"
        for c, n in zip(model.classes_.tolist(), names, strict=True)
    )
    print(f"classes        {len(names)}: {classes}")
    prep = meta.get("preprocessing")
    n_features = getattr(model, "n_features_in_", "?")
    if prep:
        h, w = prep["image_shape"]
        print(
            f"input          {h}x{w} images, pixels / {prep['pixel_max']} -> {n_features} "
            f"features ({prep['dtype']})"
        )
    else:
        print(f"input          {n_features} features (no preprocessing recorded)")
    for key, spec in header["arrays"].items():
        print(f"array          {key}: {np.dtype(spec['dtype']).name} {tuple(spec['shape'])}")
    if hasattr(model, "n_iter_"):
        print(f"iterations     {model.n_iter_}")
    data = meta.get("training_data")
    if data:
        print(
            f"training data  {data['dataset']} {data['split']}, {data['n_samples']} samples, "
            f"sha256 {data['sha256']}"
        )
    for key, value in meta.get("metrics", {}).items():
        print(
            f"metric         {key} = {value:.4f}"
            if isinstance(value, float)
            else f"metric         {key} = {value}"
        )
    if "command" in meta:
        print(f"trained with   {meta['command']}")
    return 0

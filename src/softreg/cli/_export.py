"""``softreg export`` (a model file to ONNX, parity checked) and ``predict`` on an ONNX file.

The exported graph takes raw pixels, ``(n, H*W)`` in ``0..pixel_max`` as float32 (or uint8 with
``--input-dtype uint8``): the model file's recorded scaling ``1 / pixel_max`` is folded into the
weights. The parity check runs on the test split of the dataset the model was trained on when
it can be loaded, else on random pixels (the output says which). Its record is printed, stored
in the ONNX file's metadata and written beside it as ``<out>.parity.json`` (read by
``softreg report``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from softreg import io
from softreg._atomic import atomic_path
from softreg.cli._data import load_split

__all__ = ["OnnxModel", "add_export_parser", "open_onnx", "run_export"]


def add_export_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``export`` sub-command to the sub-parsers ``sub``."""
    export = sub.add_parser(
        "export",
        parents=[common],
        help="write a model file as ONNX, checked against the model",
        description="Write a model file as an ONNX model taking raw pixels (H*W per row, the "
        "scaling folded into the weights), with outputs `label` and `probabilities`. By default "
        "(when onnxruntime is installed) the export is run against the model first and nothing "
        "is written unless it matches: max |dp| <= 1e-5 (float32) or 1e-12 (float64).",
    )
    export.add_argument("--model", required=True, metavar="FILE", help="model file (.npz)")
    export.add_argument("--format", choices=("onnx",), default="onnx", help="(default: onnx)")
    export.add_argument("--out", required=True, metavar="FILE", help="file to write (M.onnx)")
    export.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    export.add_argument(
        "--input-dtype",
        choices=("float32", "float64", "uint8"),
        help="type of the input tensor (default: --dtype); uint8 takes raw 8-bit pixels",
    )
    export.add_argument("--opset", type=int, help="ai.onnx opset (default 17, at least 13)")
    check = export.add_mutually_exclusive_group()
    check.add_argument(
        "--check",
        dest="check",
        action="store_true",
        default=None,
        help="run the parity check (default when onnxruntime is installed)",
    )
    check.add_argument("--no-check", dest="check", action="store_false", help="skip it")
    export.add_argument(
        "--check-on",
        choices=("test", "random"),
        default="test",
        help="inputs of the check: the test split of the training dataset (default; random "
        "pixels when it cannot be loaded) or 1000 random images",
    )
    export.add_argument("--data-dir", metavar="DIR", help="folder with the IDX files")


def run_export(args: argparse.Namespace) -> int:
    """Run ``softreg export``; returns the exit status."""
    from softreg.export import export_onnx

    header = io.read_header(args.model)
    model = io.load(args.model)
    meta = header["metadata"]
    prep = meta.get("preprocessing")
    if prep is None:
        raise ValueError(
            f"--model {args.model}: the file records no preprocessing (not written by "
            "`softreg train`); use softreg.export_onnx(model, path, input_scale=...) instead"
        )
    out = Path(args.out)
    if not out.parent.is_dir():  # before loading any data for the check
        raise FileNotFoundError(f"--out {out}: directory {out.parent} does not exist")
    check_data, name = None, None
    if args.check is not False and args.check_on == "test":
        check_data, name = _test_split(meta, prep, args)
    record = export_onnx(
        model,
        out,
        dtype=args.dtype,
        opset=args.opset,
        input_dtype=args.input_dtype,
        input_scale=1.0 / float(prep["pixel_max"]),
        check=args.check,
        check_data=check_data,
        check_data_name=name,
        metadata={
            "class_names": meta.get("dataset", {}).get("class_names"),
            "preprocessing": {**prep, "input": "raw pixels, scaling folded into the weights"},
            "source": str(args.model),
        },
    )
    parity = record["parity"]
    summary = {"model": args.model, **record}
    if parity is not None:
        with atomic_path(out.with_name(out.name + ".parity.json")) as tmp:
            tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(
        f"wrote {out} ({record['n_bytes']} bytes, opset {record['opset']}, {record['dtype']}, "
        f"input {record['input_dtype']} raw pixels)"
    )
    if parity is None:
        print("parity: not checked (--no-check, or onnxruntime is not installed)")
    else:
        print(
            f"parity: passed on {parity['n_samples']} inputs ({parity['data']}): max |dp| = "
            f"{parity['max_abs_diff']:.3g} <= {parity['tolerance']:g}, "
            f"{parity['label_mismatches']} label mismatches ({parity['near_ties']} near-ties)"
        )
    return 0


def _test_split(
    meta: dict[str, Any], prep: dict[str, Any], args: argparse.Namespace
) -> tuple[np.ndarray | None, str | None]:
    dataset = meta.get("dataset", {}).get("name")
    if dataset is None:
        return None, None
    try:
        images, _ = load_split(dataset, "test", args.data_dir, progress=not args.quiet)
    except (OSError, ValueError) as exc:
        print(
            f"softreg export: note: cannot load the {dataset} test split ({exc}); "
            "checking on random pixels instead",
            file=sys.stderr,
        )
        return None, None
    if tuple(images.shape[1:]) != tuple(prep["image_shape"]):
        return None, None
    return images.reshape(len(images), -1), f"{dataset} test split"


class OnnxModel:
    """An exported softreg ONNX file run in onnxruntime, with the model's ``classes_``."""

    def __init__(self, path: str) -> None:
        from softreg.export import read_metadata

        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ImportError(
                "running an ONNX model needs onnxruntime: pip install 'softreg[onnx]'"
            ) from exc
        self.metadata = read_metadata(path)
        self.classes_ = np.asarray(self.metadata["classes"])
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self._input_dtype = np.dtype(self.metadata["input"]["dtype"])

    def predict_proba_raw(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities for raw pixel rows (n, H*W), as the export takes them."""
        if self._input_dtype == np.uint8 and not np.array_equal(pixels, np.round(pixels)):
            raise ValueError(
                "this ONNX model takes uint8 pixels, but the input holds non-integer values "
                "(e.g. a rescaled PNG); export it with --input-dtype float32"
            )
        X = pixels.astype(self._input_dtype)
        return np.asarray(self._session.run(["probabilities"], {"input": X})[0])


def open_onnx(path: str) -> tuple[OnnxModel, dict[str, Any]]:
    """The runnable model and a header shaped like a model file's (``metadata`` only)."""
    model = OnnxModel(path)
    meta = model.metadata
    if meta.get("preprocessing") is None:
        raise ValueError(
            f"{path}: exported without preprocessing metadata (not by `softreg export`); "
            "run it with onnxruntime directly"
        )
    header = {
        "metadata": {
            "preprocessing": meta["preprocessing"],
            "dataset": {"class_names": meta.get("class_names")},
        }
    }
    return model, header

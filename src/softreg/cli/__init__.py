"""The ``softreg`` command line: train, evaluate, predict, inspect.

``main(argv=None) -> int`` parses, calls the library and prints; there is no maths here. Exit
status: 0 on success, 2 on a usage error, 1 on any other failure with a one-line message on stderr
(the traceback only with ``--debug``), 130 when interrupted with Ctrl-C.

Examples
--------
>>> main(["--version"])  # doctest: +ELLIPSIS
softreg ...
0
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

import softreg

__all__ = ["build_parser", "main"]

DATASETS = ("fashion-mnist", "mnist", "digits")
EPILOG = """examples:
  softreg train --dataset fashion-mnist --out runs/fmnist
  softreg evaluate --model runs/fmnist/model.npz --dataset fashion-mnist --json
  softreg predict --model runs/fmnist/model.npz shoe.png batch.npy t10k-images-idx3-ubyte.gz
  softreg predict --model runs/fmnist/model.npz --fit photo.jpg
  softreg data list
  softreg inspect --model runs/fmnist/model.npz
  softreg export --model runs/fmnist/model.npz --format onnx --out runs/fmnist/model.onnx
  softreg report runs/fmnist                    # rebuild runs/fmnist/report.html

data: Fashion-MNIST is found in $SOFTREG_DATA, the download cache or Debian's
dataset-fashion-mnist package (apt-get install dataset-fashion-mnist), else downloaded,
checked by SHA-256 (softreg data fetch NAME does it ahead; softreg data list shows where);
--data-dir DIR reads your own folder in MNIST file layout (structure checked, no checksum)."""
MODEL_HELP = "model file written by softreg train (RUN_DIR/model.npz)"


def c_or_auto(text: str) -> float | str:
    """argparse type of ``--C``: a float > 0, or ``auto`` (cross-validation).

    Examples
    --------
    >>> c_or_auto("0.5"), c_or_auto("auto")
    (0.5, 'auto')
    """
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0 or 'auto', got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type of counts (``--top``, ``--epochs``, ``--max-samples``): an integer >= 1.

    A plain ``int`` would let ``--max-samples -5`` drop the last 5 images and ``--top 0`` show
    one class, silently.

    Examples
    --------
    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a positive integer, got '0'
    """
    return _integer_at_least(text, 1, "a positive integer")


def fold_count(text: str) -> int:
    """argparse type of ``--cv``: an integer >= 2 (one fold leaves nothing to validate on).

    Examples
    --------
    >>> fold_count("5")
    5
    >>> fold_count("1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an integer >= 2 (folds), got '1'
    """
    return _integer_at_least(text, 2, "an integer >= 2 (folds)")


def _integer_at_least(text: str, minimum: int, expected: str) -> int:
    """``int(text)`` if it is at least ``minimum``, else argparse's error saying ``expected``."""
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _calibrate_fraction(text: str) -> float:
    from softreg.cli._calibrate import fraction

    return fraction(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``softreg`` (one sub-command per job)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    common.add_argument("--debug", action="store_true", help="show tracebacks on failure")

    parser = argparse.ArgumentParser(
        prog="softreg",
        description="Train, evaluate and use softmax classifiers on image datasets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"softreg {softreg.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser(
        "train",
        parents=[common],
        help="fit a model and write a run directory",
        description="Fit a model on the training split, score it on the test split and write "
        "RUN_DIR: model.npz (for evaluate/predict/inspect), metrics.json, history.csv and PNG "
        "plots.",
    )
    train.add_argument("--dataset", required=True, choices=DATASETS, help="images to train on")
    train.add_argument("--data-dir", metavar="DIR", help="folder with the IDX files (MNIST layout)")
    train.add_argument(
        "--model",
        choices=("softmax", "mlp"),
        default="softmax",
        help="softmax: SoftmaxRegression; mlp: MLPClassifier, with the tuned "
        "FASHION_MNIST_DEFAULTS on mnist/fashion-mnist (default: softmax)",
    )
    train.add_argument("--solver", help="solver of the estimator (default: its own)")
    train.add_argument(
        "--C",
        type=c_or_auto,
        help="inverse L2 strength (softmax), or auto: chosen by cross-validation (--cv)",
    )
    train.add_argument("--cv", type=fold_count, metavar="K", help="folds of --C auto (default 5)")
    train.add_argument("--epochs", type=positive_int, help="max iterations (full-batch) or epochs")
    train.add_argument(
        "--batch-size", type=positive_int, help="mini-batch size (stochastic solvers, mlp)"
    )
    train.add_argument(
        "--seed", type=int, default=0, help="random_state of the estimator (default 0: runs repeat)"
    )
    train.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="any other estimator parameter, VALUE as JSON or a bare word (repeatable)",
    )
    train.add_argument(
        "--max-samples", type=positive_int, metavar="N", help="train on the first N images"
    )
    train.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to create")
    train.add_argument("--overwrite", action="store_true", help="replace an existing RUN_DIR")
    train.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    train.add_argument(
        "--calibrate",
        nargs="?",
        const=0.1,
        type=_calibrate_fraction,
        metavar="FRACTION",
        help="hold out FRACTION (default 0.1) of the training images, fit a temperature on it, "
        "write calibration.png and ECE/NLL/Brier before and after into metrics.json",
    )
    train.add_argument(
        "--inference",
        action="store_true",
        help="write inference.csv: each coefficient's standard error, z, p-value and 95%% "
        "interval (softreg.stats.summary; --model softmax with an L2 penalty or none; builds "
        "the dense Hessian of all parameters: minutes on Fashion-MNIST)",
    )
    train.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="write a resumable checkpoint (atomic .npz) while training",
    )
    train.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=1,
        metavar="N",
        help="iterations/epochs between checkpoints (default 1)",
    )
    train.add_argument(
        "--resume",
        metavar="FILE",
        help="continue from a checkpoint written by --checkpoint (same model, data and settings)",
    )

    evaluate = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score a model file on a split",
        description="Score a model file on a dataset split: accuracy, log-loss, per-class "
        "accuracy and the confusion matrix.",
    )
    evaluate.add_argument("--model", required=True, metavar="FILE", help=MODEL_HELP)
    evaluate.add_argument("--dataset", required=True, choices=DATASETS, help="images to score on")
    evaluate.add_argument("--data-dir", metavar="DIR", help="folder with the IDX files")
    evaluate.add_argument(
        "--split",
        choices=("train", "test"),
        default="test",
        help="split to score (default: test; for digits the fixed 25%% that train holds out)",
    )
    evaluate.add_argument(
        "--max-samples", type=positive_int, metavar="N", help="only the first N images"
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")

    predict = sub.add_parser(
        "predict",
        parents=[common],
        help="classify photos (PNG/JPEG), .npy arrays or IDX files",
        description="Classify images. PNG/JPEG: converted to grayscale; without --fit exactly "
        "the model's size, light objects on a dark background as in the training data; with "
        "--fit any photo, prepared as Fashion-MNIST's images were made. .npy: raw pixels "
        "(0..pixel_max) as (H, W), (n, H, W), (H*W,) or (n, H*W). Anything else is read as an "
        "IDX file (gzip or raw). Each unreadable input gets its own error line and the others "
        "are still predicted; the exit status is 1 if any input failed.",
    )
    predict.add_argument(
        "--model",
        required=True,
        metavar="FILE",
        help=MODEL_HELP + ", or an export of softreg export (.onnx, run in onnxruntime)",
    )
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="image, .npy or IDX file")
    predict.add_argument(
        "--top", type=positive_int, default=3, help="classes shown per image (default 3)"
    )
    predict.add_argument(
        "--fit",
        action="store_true",
        help="prepare photos of any size as Fashion-MNIST's were made: grayscale, trim the "
        "background, invert a dark object on a light background, fit the longer side, centre "
        "(--json records each step)",
    )
    predict.add_argument("--json", action="store_true", help="print one JSON object")

    inspect = sub.add_parser(
        "inspect",
        parents=[common],
        help="describe a model file",
        description="Describe a model file: estimator, parameters, classes, input "
        "preprocessing, arrays, training data and metrics (checksums verified; no code is run).",
    )
    inspect.add_argument("--model", required=True, metavar="FILE", help=MODEL_HELP)
    inspect.add_argument("--json", action="store_true", help="print the file's JSON header")

    from softreg.cli._data_command import add_data_parser

    add_data_parser(sub, common)
    from softreg.cli._export import add_export_parser
    from softreg.cli._html_report import add_report_parser

    add_export_parser(sub, common)
    add_report_parser(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``softreg`` command line with ``argv`` (default: ``sys.argv[1:]``)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # while the parser was built, before a command started
        print("softreg: interrupted; nothing was written", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        # Imported here so that `softreg --help` stays fast and light, and so that Ctrl-C
        # during these seconds of start-up (NumPy, SciPy, scikit-learn) exits with 130 too.
        from softreg.cli._commands import run_evaluate, run_inspect, run_predict
        from softreg.cli._train import UsageError, run_train
    except KeyboardInterrupt:
        print(f"softreg {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130

    try:
        if args.command == "train":
            return run_train(args, args_list)
        if args.command == "evaluate":
            return run_evaluate(args)
        if args.command == "predict":
            return run_predict(args)
        if args.command == "data":
            from softreg.cli._data_command import run_data

            return run_data(args)
        if args.command == "export":
            from softreg.cli._export import run_export

            return run_export(args)
        if args.command == "report":
            from softreg.cli._html_report import run_report

            return run_report(args)
        return run_inspect(args)
    except BrokenPipeError:
        # The reader went away (`softreg predict ... | head`): stop quietly, as Unix tools do.
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        print(f"softreg {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130
    except UsageError as exc:
        print(f"softreg {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(f"softreg {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. captured in tests)
        pass


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (ValueError, TypeError, OSError, ImportError, LookupError)):
        return text
    return f"{type(exc).__name__}: {text}"

"""``softreg train``'s estimator: the class ``--model`` names, with the parameters its flags set.

``--model softmax`` is `SoftmaxRegression`, or `SoftmaxRegressionCV` with ``--C auto``;
``--model mlp`` is `MLPClassifier`, with :data:`softreg.mlp.FASHION_MNIST_DEFAULTS` on the
MNIST-sized datasets. A flag the estimator has no parameter for is a `UsageError`, never ignored.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from softreg.cli._errors import UsageError

__all__ = ["build_model"]


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
            # Cross-validation has no per-iteration callback or checkpoints.
            if args.checkpoint or args.resume:
                raise UsageError("--checkpoint and --resume do not apply to --C auto")
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

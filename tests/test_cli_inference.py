"""``softreg train --inference``: the coefficient table in the run directory and its report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cli_runs import run
from softreg import SoftmaxRegression, io, stats
from softreg.cli import main
from softreg.cli._data import load_split, preprocessing_for, to_features
from softreg.cli._errors import UsageError
from softreg.cli._inference import check_inference_model, check_inference_size


@pytest.fixture(scope="module")
def inference_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "digits-inference"
    argv = ["train", "--dataset", "digits", "--inference", "--no-plots", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def test_inference_csv_is_stats_summary_of_the_saved_model(inference_run: Path) -> None:
    # Reference: softreg.stats.summary (itself checked against statsmodels in test_stats) of
    # the saved model on the training split as the run saw it.
    model = io.load(inference_run / "model.npz")
    images, labels = load_split("digits", "train")
    X = to_features(images, preprocessing_for("digits"))
    reference = stats.summary(model, X, labels)
    with open(inference_run / "inference.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["class", "term", "coef", "std err", "z", "P>|z|", "[0.025", "0.975]"]
    assert len(rows) == reference.params.size == 9 * 65  # baseline parametrisation
    got = {(r["class"], r["term"]): r for r in rows}
    ci = reference.conf_int()
    for e, label in enumerate(reference.equations):
        for t, term in enumerate(reference.terms):
            row = got[(str(label), term)]  # digits: the class names are the digits
            expected = [
                reference.params[e, t],
                reference.bse[e, t],
                reference.zvalues[e, t],
                reference.pvalues[e, t],
                ci[e, t, 0],
                ci[e, t, 1],
            ]
            values = [float(row[c]) for c in ("coef", "std err", "z", "P>|z|", "[0.025", "0.975]")]
            np.testing.assert_allclose(values, expected, rtol=1e-9, atol=1e-12)
    metrics = json.loads((inference_run / "metrics.json").read_text())
    record = metrics["inference"]
    assert record["file"] == "inference.csv"
    assert record["nobs"] == len(labels)
    assert record["llf"] == pytest.approx(reference.llf, rel=1e-9)
    assert record["penalty"] == "l2 (C=1)"
    assert record["reference"] == "0"


def test_classes_are_named_when_names_are_given() -> None:
    from sklearn.datasets import load_iris

    from softreg.cli._inference import inference

    X, y = load_iris(return_X_y=True)
    model = SoftmaxRegression(C=10.0, tol=1e-10).fit(X[:, :2], y)
    text, record = inference(model, X[:, :2], y, ["setosa", "versicolor", "virginica"])
    rows = list(csv.DictReader(text.splitlines()))
    assert [r["class"] for r in rows] == ["versicolor"] * 3 + ["virginica"] * 3
    assert record["reference"] == "setosa"


def test_the_run_report_shows_the_coefficient_table(inference_run: Path) -> None:
    html = next(inference_run.glob("*.html")).read_text(encoding="utf-8")
    assert "Coefficient inference" in html
    assert "585 rows" in html


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--model", "mlp"], "--inference applies to --model softmax"),
        (["--param", "l1_ratio=0.5"], "--inference needs an L2 penalty or none"),
        (["--C", "auto", "--param", "l1_ratios=[0.0, 0.5]"], "got l1_ratios="),
        # Not a number: the estimator's own check words it (a usage error all the same).
        (["--C", "auto", "--param", "l1_ratios=0.5"], "l1_ratios"),
    ],
)
def test_models_without_a_table_are_refused_before_any_data_is_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], match: str
) -> None:
    out = tmp_path / "r"
    status, _, err = run(
        capsys, "train", "--dataset", "digits", "--inference", *extra, "--out", str(out)
    )
    assert status == 2
    assert match in err
    assert not out.exists()


def test_a_singular_hessian_fails_the_command_but_keeps_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # No penalty and pixels that are zero in every image: those parameters are not
    # identified. The error names them; the fitted run is written all the same.
    out = tmp_path / "r"
    status, _, err = run(
        capsys, "train", "--dataset", "digits", "--inference", "--C", "inf",
        "--max-samples", "200", "--no-plots", "--quiet", "--out", str(out),
    )  # fmt: skip
    assert status == 1
    assert "softreg train: error: --inference: the Hessian is singular" in err
    assert "written without inference.csv" in err
    assert (out / "model.npz").is_file()
    assert not (out / "inference.csv").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["inference"]["error"].startswith("the Hessian is singular")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "coefficient inference failed: the Hessian is singular" in html


def test_an_oversized_hessian_is_refused_by_its_size() -> None:
    check_inference_size(10, 784, True)  # Fashion-MNIST's 7850 parameters pass
    with pytest.raises(UsageError, match=r"--inference: the dense Hessian of all 30730 parameters"):
        check_inference_size(10, 3072, True)
    with pytest.raises(UsageError, match="--model softmax"):
        check_inference_model(SoftmaxRegression(), "mlp")

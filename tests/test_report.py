"""`softreg.report`: the self-contained HTML report of a run directory, and `softreg report`."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser

import html5lib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import precision_recall_fscore_support

import report_runs
from report_runs import CV
from softreg.cli import main
from softreg.report import build_report
from softreg.report.charts import cell_shade, confusion_table, line_chart, nice_ticks
from softreg.report.html import PALETTE, contrast_ratio, readable_text_on
from softreg.report.sections import per_class_scores

# Module-scoped run directories (tests/report_runs.py), shared with the browser test.
softmax_run = report_runs.softmax_run
mlp_run = report_runs.mlp_run
full_run = report_runs.full_run

# -- structure ---------------------------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.imgs: list[dict[str, str | None]] = []
        self.sections: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        values = dict(attrs)
        for key in ("src", "href", "action", "srcset", "poster", "data", "xlink:href"):
            if values.get(key):
                self.urls.append(values[key])
        if tag == "img":
            self.imgs.append(values)
        if tag == "section":
            self.sections.append(values["id"])


def _parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    return collector


def _strict_parse(text: str) -> None:
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(text)  # raises ParseError on the first error
    assert parser.errors == []


def test_train_writes_a_self_contained_report(softmax_run) -> None:
    text = (softmax_run / "report.html").read_text(encoding="utf-8")
    _strict_parse(text)
    found = _parse(text)
    # Every reference stays inside the page: data: URIs and #fragments only.
    assert found.urls
    assert all(u.startswith(("data:image/png;base64,", "#")) for u in found.urls), found.urls
    assert not re.search(r"url\(|@import|https?://(?!www\.w3\.org/2000/svg)", text)
    assert "<script" not in text
    assert "<link" not in text
    assert "<iframe" not in text
    assert "default-src 'none'" in text  # the CSP forbids any fetch
    assert found.sections == [
        "run",
        "params",
        "scores",
        "learning",
        "confusion",
        "model",
        "predictions",
    ]
    assert all(img.get("alt") for img in found.imgs)
    assert "@media print" in text
    assert (softmax_run / "report.html").stat().st_size < 2_000_000


def test_report_shows_what_the_run_has(softmax_run) -> None:
    text = (softmax_run / "report.html").read_text(encoding="utf-8")
    metrics = json.loads((softmax_run / "metrics.json").read_text())
    from softreg import io as softreg_io

    sha = softreg_io.read_header(softmax_run / "model.npz")["metadata"]["training_data"]["sha256"]
    for expected in (
        metrics["command"],
        sha,
        f"{metrics['test']['accuracy']:.4f}",
        f"{metrics['test']['error_rate']:.4f}",
        f"{metrics['test']['log_loss']:.4f}",
        f"numpy {metrics['versions']['numpy']}",
        metrics["finished_at"],
        "Per-class precision, recall and F1",
        "<svg",  # learning curves
        'class="cm"',  # confusion matrix table
    ):
        assert expected.replace("&", "&amp;") in text or expected in text, expected
    for name, value in metrics["params"].items():
        assert f'<th scope="row">{name}</th><td>{json.dumps(value)}</td>' in text.replace(
            "&quot;", '"'
        )


def test_mlp_report_has_the_layer_diagram(mlp_run) -> None:
    text = (mlp_run / "report.html").read_text(encoding="utf-8")
    _strict_parse(text)
    assert '<h2 id="model-h">Network</h2>' in text
    assert "Layer diagram of the network" in text
    assert "first-layer weights of hidden units" in text


def test_optional_sections_appear_only_with_their_data(full_run, softmax_run) -> None:
    text = (full_run / "report.html").read_text(encoding="utf-8")
    _strict_parse(text)
    assert _parse(text).sections == [
        "run",
        "params",
        "scores",
        "learning",
        "confusion",
        "model",
        "predictions",
        "cv",
        "calibration",
        "inference",
        "onnx",
    ]
    assert "chosen C" in text
    assert 'id="chart-cv-t"' in text
    assert "0.0412" in text
    assert "0.0123" in text
    assert "Calibration on the test set, before and after" in text
    assert "0.45200 before, 0.43100 after" in text  # validation NLL
    assert "C by the one-standard-error rule" in text
    assert "not fitted" in text  # the C the path never reached
    assert "ECE" in text
    assert "pixel 1" in text
    assert "p_value" in text
    parity = json.loads((full_run / "model.onnx.parity.json").read_text())["parity"]
    assert f"{parity['max_abs_diff']:.3g}" in text
    assert '<span class="ok">passed</span>' in text
    plain = (softmax_run / "report.html").read_text(encoding="utf-8")
    for absent in ('id="cv"', 'id="calibration"', 'id="inference"', 'id="onnx"'):
        assert absent not in plain


def test_flat_cv_and_calibration_records(softmax_run, tmp_path) -> None:
    """Records with the grid and before/after at the top level are read too."""
    run = tmp_path / "run"
    shutil.copytree(softmax_run, run)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["cv"] = {"Cs": [0.1, 1.0, 10.0], "mean_score": [0.8, 0.9, 0.85], "best_C": 1.0}
    metrics["calibration"] = {"before": {"ece": 0.05}, "after": {"ece": 0.02}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = build_report(run)
    _strict_parse(text)
    assert 'id="chart-cv-t"' in text
    assert "1 (chosen)" in text
    assert '<th scope="row">ECE</th><td class="num">0.05000</td>' in text


def test_cv_given_as_a_file_name_and_unrecognised_shapes(softmax_run, tmp_path) -> None:
    run = tmp_path / "run"
    shutil.copytree(softmax_run, run)
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "cv.json").write_text(json.dumps(CV))
    metrics.update(cv="cv.json", calibration={"weird": [1, 2]}, inference="nope")
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = build_report(run)
    _strict_parse(text)
    assert 'id="chart-cv-t"' in text
    assert 'id="calibration"' in text  # present but shown only as far as understood
    assert 'id="inference"' not in text
    metrics["cv"] = "../outside.json"
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = build_report(run)
    assert 'id="cv"' not in text
    assert "not a file in the run directory" in text
    # softreg train --inference records {"file": ..., figures}; a file outside the run
    # directory is left out with a note, as the other records' are.
    (run.parent / "outside.csv").write_text("class,term,coef\n1,x0,0.5\n")
    metrics["inference"] = {"file": "../outside.csv", "llf": -1.0}
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = build_report(run)
    assert 'id="inference"' not in text
    assert "../outside.csv: not a file in the run directory" in text


def test_older_run_directory_without_new_files(softmax_run, tmp_path) -> None:
    """A run written before reports existed: no finished_at, no history, no plots, no model."""
    run = tmp_path / "old"
    run.mkdir()
    metrics = json.loads((softmax_run / "metrics.json").read_text())
    del metrics["finished_at"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    assert main(["report", str(run), "--quiet"]) == 0
    text = (run / "report.html").read_text(encoding="utf-8")
    _strict_parse(text)
    assert "(file time)" in text
    assert _parse(text).sections == ["run", "params", "scores", "confusion"]


def test_report_command_out_and_errors(softmax_run, tmp_path, capsys) -> None:
    out = tmp_path / "copy.html"
    assert main(["report", str(softmax_run), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"report: {out.resolve().as_uri()} (")
    assert out.read_text(encoding="utf-8") == build_report(softmax_run)
    assert main(["report", str(tmp_path / "missing")]) == 1
    assert "no such run directory" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 1
    assert "not a softreg run directory (no metrics.json" in capsys.readouterr().err
    (tmp_path / "metrics.json").write_text("{not json")
    assert main(["report", str(tmp_path)]) == 1
    assert "metrics.json: not valid JSON" in capsys.readouterr().err
    assert main(["report", str(softmax_run), "--out", str(tmp_path / "no" / "r.html")]) == 1
    assert "directory" in capsys.readouterr().err


# -- numbers and colours -----------------------------------------------------------------------


@given(st.integers(2, 6), st.integers(0, 2**16))
def test_per_class_scores_match_scikit_learn(n_classes, seed) -> None:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, n_classes, size=200))
    cm = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(cm, (y_true, y_pred), 1)
    p, r, f, s = per_class_scores(cm)
    ref = precision_recall_fscore_support(
        y_true, y_pred, labels=range(n_classes), zero_division=np.nan
    )
    for ours, theirs in zip((p, r, f, s), ref, strict=True):
        np.testing.assert_allclose(ours, theirs, equal_nan=True)


def test_palette_meets_wcag_aa() -> None:
    for text in ("text", "muted", "link", "bad", "good"):
        for background in ("bg", "panel"):
            assert contrast_ratio(PALETTE[text], PALETTE[background]) >= 4.5, (text, background)
    for k in range(4):  # chart lines: non-text contrast >= 3:1
        assert contrast_ratio(PALETTE[f"series{k}"], PALETTE["bg"]) >= 3.0


@given(st.floats(0, 1))
def test_confusion_cells_keep_aa_contrast(share) -> None:
    background = cell_shade(share)
    assert contrast_ratio(readable_text_on(background), background) >= 4.5


def test_contrast_ratio_against_known_values() -> None:
    # WebAIM's checker: #777777 on white is 4.48:1, #595959 on white 7.0:1.
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#595959", "#ffffff") == pytest.approx(7.0, abs=0.01)
    assert contrast_ratio("#ffffff", "#777777") == contrast_ratio("#777777", "#ffffff")


def test_confusion_table_is_a_real_table() -> None:
    text = confusion_table([[5, 1], [2, 7]], ["cat", "dog"])
    _strict_parse(f"<!DOCTYPE html><title>t</title>{text}")
    assert text.count('<th scope="col">') == 3
    assert text.count('<th scope="row">') == 2
    assert re.findall(r">(\d+)</td>", text) == ["5", "1", "2", "7"]
    assert text.count('class="diag"') == 2


def test_nice_ticks_cover_the_range() -> None:
    for lo, hi in [(0.349, 0.62), (0.78, 0.88), (-3.0, 2.0), (1e-5, 3e-5), (5.0, 5.0)]:
        ticks = nice_ticks(lo, hi)
        assert ticks[0] <= lo + 1e-12
        assert ticks[-1] >= hi - 1e-12
        assert 2 <= len(ticks) <= 12


def test_line_chart_skips_non_finite_points_and_names_itself() -> None:
    svg = line_chart(
        {"a": ([1, 2, 3], [0.5, float("nan"), 0.2])},
        title="T<1>",
        description="D",
        xlabel="x",
        ylabel="y",
        chart_id="c",
    )
    assert '<title id="c-t">T&lt;1&gt;</title>' in svg
    assert re.search(r'points="[^"]+"', svg).group(0).count(",") == 2
    assert (
        line_chart(
            {"a": ([1], [float("inf")])},
            title="t",
            description="d",
            xlabel="x",
            ylabel="y",
            chart_id="c",
        )
        == ""
    )


def test_long_inference_tables_are_cut_with_a_note(softmax_run, tmp_path) -> None:
    from softreg.report.analyses import MAX_INFERENCE_ROWS

    run = tmp_path / "run"
    shutil.copytree(softmax_run, run)
    rows = [{"feature": f"pixel {k}", "coef": 0.5} for k in range(MAX_INFERENCE_ROWS + 7)]
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["inference"] = rows
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = build_report(run)
    assert f"({MAX_INFERENCE_ROWS + 7} rows, the first {MAX_INFERENCE_ROWS} shown)" in text
    assert f"pixel {MAX_INFERENCE_ROWS - 1}<" in text
    assert f"pixel {MAX_INFERENCE_ROWS}<" not in text

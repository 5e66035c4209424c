"""The run report in a real browser: headless Chromium (Debian's ``chromium``), networking off.

Skips with a message where Chromium is not installed (``.ci/run`` installs it). Set
``SOFTREG_REPORT_SCREENSHOTS=DIR`` to keep the screenshots for a look.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import report_runs
from chromium_cdp import Browser, find_chromium
from softreg.report import write_report

pytest.importorskip("html5lib")  # the report fixtures parse the page too

softmax_run = report_runs.softmax_run  # module-scoped run directories
mlp_run = report_runs.mlp_run
full_run = report_runs.full_run

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (apt-get install chromium; .ci/run does it)",
)

SECTION_BOXES = """JSON.stringify([...document.querySelectorAll("section")].map(s => {
  const r = s.getBoundingClientRect();
  return {id: s.id, x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height};
}))"""


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM is not None
    instance = Browser(CHROMIUM)
    yield instance
    instance.close()


def _not_blank(png: bytes) -> tuple[float, int]:
    """Standard deviation and number of distinct grey levels of a screenshot."""
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    return float(grey.std()), len(np.unique(grey))


@pytest.mark.parametrize("run", ["full_run", "mlp_run"])
def test_report_loads_offline_with_no_errors_and_every_section_drawn(browser, run, request):
    import json

    run_dir: Path = request.getfixturevalue(run)
    report = write_report(run_dir)
    browser.events.clear()
    browser.open(report)

    # Nothing but the page itself and its inline data: URIs was requested, nothing failed.
    page_url = report.resolve().as_uri()
    others = [u for u in browser.requests() if u != page_url and not u.startswith("data:")]
    assert others == []
    assert page_url in browser.requests()
    assert browser.problems() == []

    boxes = json.loads(browser.evaluate(SECTION_BOXES))
    assert [b["id"] for b in boxes][:3] == ["run", "params", "scores"]
    keep = os.environ.get("SOFTREG_REPORT_SCREENSHOTS")
    for box in boxes:
        assert box["width"] > 300
        assert box["height"] > 60
        clip = {k: box[k] for k in ("x", "y", "width", "height")}
        png = browser.screenshot(clip)
        spread, levels = _not_blank(png)
        assert spread > 8, (box["id"], spread)
        assert levels > 8, (box["id"], levels)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            Path(keep, f"{run_dir.name}-{box['id']}.png").write_bytes(png)
    # Every image decoded (a broken data: URI would have naturalWidth 0).
    broken = browser.evaluate(
        "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length"
    )
    assert broken == 0
    if keep:
        height = browser.evaluate("document.documentElement.scrollHeight")
        full = browser.screenshot({"x": 0, "y": 0, "width": 1280, "height": height})
        Path(keep, f"{run_dir.name}-full.png").write_bytes(full)


def test_print_layout_keeps_images_whole(browser, full_run):
    """Printed to PDF (A4), the page renders and images are not taller than a page."""
    import base64

    report = write_report(full_run)
    browser.open(report)
    pdf = browser.call("Page.printToPDF", session=True, paperWidth=8.27, paperHeight=11.69)
    data = base64.b64decode(pdf["data"])
    assert data.startswith(b"%PDF")
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 2
    browser.call("Emulation.setEmulatedMedia", session=True, media="print")
    try:
        tallest = browser.evaluate(
            "Math.max(...[...document.querySelectorAll('img, svg')]"
            ".map(e => e.getBoundingClientRect().height))"
        )
    finally:
        browser.call("Emulation.setEmulatedMedia", session=True, media="")
    assert tallest <= 24 / 2.54 * 96 + 1  # the print CSS caps images at 24 cm

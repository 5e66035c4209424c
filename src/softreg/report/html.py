"""HTML building blocks of the run report: escaping, tables, images, the style sheet, the page.

Everything the page needs is inside it: the CSS is inline, images are ``data:`` URIs or inline
SVG, and a Content-Security-Policy forbids any fetch (``default-src 'none'``), so a report that
somehow referenced an outside resource would be blocked and show an error, never load it. No
JavaScript is used.

Colours are fixed in `PALETTE`; every text/background pair used meets WCAG 2.1 AA (contrast
ratio >= 4.5, see `contrast_ratio`), and chart lines meet the 3:1 of non-text graphics.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "PALETTE",
    "Markup",
    "contrast_ratio",
    "esc",
    "facts",
    "figure",
    "img_png",
    "num",
    "page",
    "readable_text_on",
    "table",
]

#: Named colours of the page (hex). Text pairs: text/muted/link/bad/good on bg and panel.
PALETTE = {
    "text": "#1b1f24",
    "muted": "#4a5560",
    "bg": "#ffffff",
    "panel": "#f3f5f7",
    "rule": "#8a949e",
    "link": "#0b5394",
    "bad": "#a4161a",
    "good": "#1e6b30",
    "series0": "#0b5394",
    "series1": "#b34700",
    "series2": "#1e6b30",
    "series3": "#6a1b9a",
}


def esc(value: Any) -> str:
    """``value`` as HTML-escaped text (quotes included)."""
    return html.escape(str(value), quote=True)


def _channel(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2.1 contrast ratio of two ``#rrggbb`` colours, from 1 to 21.

    Examples
    --------
    >>> round(contrast_ratio("#000000", "#ffffff"), 1)
    21.0
    >>> round(contrast_ratio("#767676", "#ffffff"), 2)  # the lightest AA grey on white
    4.54
    """
    a, b = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def readable_text_on(background: str) -> str:
    """Black-ish or white text, whichever contrasts more with ``background``."""
    dark, light = PALETTE["text"], "#ffffff"
    if contrast_ratio(dark, background) >= contrast_ratio(light, background):
        return dark
    return light


def img_png(data: bytes, alt: str, *, width: int | None = None) -> str:
    """An ``<img>`` with the PNG inline as a base64 ``data:`` URI."""
    encoded = base64.b64encode(data).decode("ascii")
    size = f' width="{width}"' if width else ""
    return f'<img src="data:image/png;base64,{encoded}" alt="{esc(alt)}"{size}>'


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    numeric: Sequence[bool] | None = None,
    row_headers: bool = True,
    css_class: str = "",
) -> str:
    """A real ``<table>``: ``<caption>``, ``<thead>`` with ``scope="col"``, first column as
    row headers (``scope="row"``); cells are escaped unless given as ``Markup``."""
    numeric = numeric or [False] * len(header)
    cls = f' class="{css_class}"' if css_class else ""
    out = [f"<table{cls}>"]
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>")
    out += [
        f'<th scope="col"{" class=num" if num else ""}>{esc(h)}</th>'
        for h, num in zip(header, numeric, strict=True)
    ]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for k, (cell, num) in enumerate(zip(row, numeric, strict=True)):
            text = cell if isinstance(cell, Markup) else esc(cell)
            attrs = ' class="num"' if num else ""
            if k == 0 and row_headers:
                out.append(f'<th scope="row"{attrs}>{text}</th>')
            else:
                out.append(f"<td{attrs}>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


class Markup(str):
    """A string already in HTML (not escaped again by `table`)."""


def num(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return (
        f"{value:.{digits}f}" if abs(value) >= 10 ** (-digits + 1) or value == 0 else f"{value:.3g}"
    )


def facts(items: Sequence[tuple[str, Any]]) -> str:
    rows = "".join(
        f"<dt>{esc(k)}</dt><dd>{v if isinstance(v, Markup) else esc(v)}</dd>"
        for k, v in items
        if v not in (None, "", [])
    )
    return f'<dl class="facts">{rows}</dl>'


def figure(png: bytes, alt: str, caption: str) -> str:
    return f"<figure>{img_png(png, alt)}<figcaption>{esc(caption)}</figcaption></figure>"


_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: %(bg)s; color: %(text)s;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
header.top { border-bottom: 2px solid %(rule)s; margin-bottom: 1rem; }
h1 { font-size: 1.7rem; margin: 0.2rem 0 0.6rem; }
h2 { font-size: 1.3rem; margin: 0 0 0.6rem; }
h3 { font-size: 1.05rem; margin: 1rem 0 0.4rem; }
p, li { max-width: 75ch; }
.muted { color: %(muted)s; }
section { margin: 1.25rem 0; padding: 1rem 1.1rem; background: %(panel)s;
  border: 1px solid %(rule)s; border-radius: 6px; }
nav.toc ol { columns: 2; margin: 0.3rem 0 0; padding-left: 1.4rem; }
a { color: %(link)s; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 0.9em; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8rem; margin: 0.5rem 0 1rem; }
.card { background: %(bg)s; border: 1px solid %(rule)s; border-radius: 6px; padding: 0.5rem 0.9rem;
  min-width: 10rem; }
.card .value { font-size: 1.6rem; font-weight: 700; }
table { border-collapse: collapse; background: %(bg)s; margin: 0.4rem 0 0.8rem; }
caption { text-align: left; font-weight: 600; padding: 0.2rem 0; caption-side: top;
  width: max-content; max-width: 60rem; }
th, td { border: 1px solid %(rule)s; padding: 0.25rem 0.55rem; vertical-align: top; }
thead th { background: %(panel)s; }
th[scope=row] { text-align: left; font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
table.cm td { text-align: right; min-width: 2.6rem; font-variant-numeric: tabular-nums; }
table.cm td.diag { font-weight: 700; outline: 2px solid %(text)s; outline-offset: -3px; }
.scroll { overflow-x: auto; }
figure { margin: 0.5rem 0 1rem; }
figcaption { color: %(muted)s; font-size: 0.95rem; margin-top: 0.3rem; }
img, svg { max-width: 100%%; height: auto; background: %(bg)s; }
.ok { color: %(good)s; font-weight: 700; }
.fail { color: %(bad)s; font-weight: 700; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  section { break-inside: avoid-page; border: 1px solid #000; background: #fff; }
  figure, table, img, svg { break-inside: avoid; page-break-inside: avoid; }
  img, svg { max-height: 24cm; }
  nav.toc { display: none; }
  a { color: #000; text-decoration: underline; }
  .scroll { overflow: visible; }
}
"""


def page(title: str, body: str) -> str:
    """The whole document: doctype, CSP that forbids any fetch, inline CSS, ``body``."""
    css = _CSS % PALETTE
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="softreg">\n'
        f"<title>{esc(title)}</title>\n<style>{css}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )

"""Charts of the run report as inline SVG (line charts) and HTML (the confusion matrix).

Hand-written SVG: no plotting library is needed to build a report, the charts stay sharp when
zoomed or printed, and each carries its own ``<title>`` and ``<desc>`` for screen readers.
Series differ by colour *and* dash pattern, so they stay apart in grey print.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from softreg.report.html import PALETTE, contrast_ratio, esc, readable_text_on

__all__ = ["cell_shade", "confusion_table", "line_chart", "nice_ticks"]

_DASHES = ("", "7 4", "2 3", "9 3 2 3")
_PLOT_W, _H = 490, 300
_LEFT, _TOP, _BOTTOM = 64, 16, 46


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[lo, hi]``.

    Examples
    --------
    >>> [round(t, 3) for t in nice_ticks(0.0, 1.0)]
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> [round(t, 3) for t in nice_ticks(0.349, 0.62)]  # the ends are covered
    [0.3, 0.4, 0.5, 0.6, 0.7]
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count, 1)
    step = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * step:
            step *= mult
            break
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    ticks = [first + k * step for k in range(round((last - first) / step) + 1)]
    return ticks


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.0e}"
    return f"{value:.4g}"


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    description: str,
    xlabel: str,
    ylabel: str,
    log_x: bool = False,
    marker: tuple[float, float, str] | None = None,
    chart_id: str,
) -> str:
    """An inline SVG line chart of ``{name: (x, y)}`` with axes, ticks and a legend.

    ``marker`` ``(x, y, label)`` draws a labelled point (e.g. the chosen C). Non-finite points
    are skipped. ``title`` and ``description`` become the SVG's accessible name and description.
    """
    clean: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (xs, ys) in series.items():
        x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        keep = np.isfinite(x) & np.isfinite(y) & ((x > 0) if log_x else True)
        if keep.any():
            clean[name] = (x[keep], y[keep])
    if not clean:
        return ""
    tx = (lambda v: np.log10(v)) if log_x else (lambda v: v)
    all_x = np.concatenate([tx(x) for x, _ in clean.values()])
    all_y = np.concatenate([y for _, y in clean.values()])
    x_lo, x_hi = float(all_x.min()), float(all_x.max())
    y_ticks = nice_ticks(float(all_y.min()), float(all_y.max()))
    y_lo, y_hi = y_ticks[0], y_ticks[-1]
    if log_x:
        x_ticks = [float(e) for e in range(math.floor(x_lo), math.ceil(x_hi) + 1)]
    else:
        x_ticks = nice_ticks(x_lo, x_hi, 6)
    x_lo, x_hi = min(x_lo, x_ticks[0]), max(x_hi, x_ticks[-1])
    if x_hi == x_lo:
        x_hi = x_lo + 1
    # Room on the right for the legend: ~7 px per character of the longest name at 12 px.
    right = 60 + 7 * max(len(name) for name in clean)
    width = _LEFT + _PLOT_W + right
    pw, ph = _PLOT_W, _H - _TOP - _BOTTOM

    def px(v: float) -> float:
        return _LEFT + (v - x_lo) / (x_hi - x_lo) * pw

    def py(v: float) -> float:
        return _TOP + (1 - (v - y_lo) / ((y_hi - y_lo) or 1.0)) * ph

    ink, muted = PALETTE["text"], PALETTE["muted"]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {_H}" width="{width}" '
        f'height="{_H}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{esc(title)}</title>',
        f'<desc id="{chart_id}-d">{esc(description)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{_H}" fill="{PALETTE["bg"]}"/>',
    ]
    for t in y_ticks:
        ty = py(t)
        out.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + pw}" y1="{ty:.1f}" y2="{ty:.1f}" '
            f'stroke="{PALETTE["panel"]}" stroke-width="1"/>'
            f'<text x="{_LEFT - 6}" y="{ty + 4:.1f}" font-size="12" text-anchor="end" '
            f'fill="{muted}">{_fmt(t)}</text>'
        )
    for t in x_ticks:
        tx_ = px(t)
        label = _fmt(10**t) if log_x else _fmt(t)
        out.append(
            f'<line x1="{tx_:.1f}" x2="{tx_:.1f}" y1="{_TOP + ph}" y2="{_TOP + ph + 5}" '
            f'stroke="{ink}"/><text x="{tx_:.1f}" y="{_TOP + ph + 19}" font-size="12" '
            f'text-anchor="middle" fill="{muted}">{label}</text>'
        )
    out.append(
        f'<path d="M{_LEFT},{_TOP} V{_TOP + ph} H{_LEFT + pw}" fill="none" stroke="{ink}"/>'
        f'<text x="{_LEFT + pw / 2:.1f}" y="{_H - 6}" font-size="13" text-anchor="middle" '
        f'fill="{ink}">{esc(xlabel)}</text>'
        f'<text x="14" y="{_TOP + ph / 2:.1f}" font-size="13" text-anchor="middle" fill="{ink}" '
        f'transform="rotate(-90 14 {_TOP + ph / 2:.1f})">{esc(ylabel)}</text>'
    )
    for k, (name, (x, y)) in enumerate(clean.items()):
        colour = PALETTE[f"series{k % 4}"]
        dash = _DASHES[k % len(_DASHES)]
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(tx(x), y, strict=True))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.2"'
            f"{dash_attr}/>"
        )
        if len(x) == 1:
            out.append(
                f'<circle cx="{px(tx(x)[0]):.1f}" cy="{py(y[0]):.1f}" r="3.5" fill="{colour}"/>'
            )
        ly = _TOP + 14 + 22 * k
        lx = _LEFT + pw + 14
        out.append(
            f'<line x1="{lx}" x2="{lx + 28}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
            f'stroke-width="2.2"{dash_attr}/><text x="{lx + 34}" y="{ly}" font-size="12" '
            f'fill="{ink}">{esc(name)}</text>'
        )
    if marker is not None:
        mx, my, label = marker
        if math.isfinite(my) and (mx > 0 or not log_x):
            cx, cy = px(float(tx(np.float64(mx)))), py(my)
            out.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="none" stroke="{PALETTE["bad"]}" '
                f'stroke-width="2.5"/><text x="{cx:.1f}" y="{cy - 10:.1f}" font-size="12" '
                f'text-anchor="middle" fill="{PALETTE["bad"]}">{esc(label)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def cell_shade(fraction: float) -> str:
    """Background for a cell holding ``fraction`` of its row: white to dark blue.

    Mid-tones whose luminance leaves neither black nor white text at 4.5:1 are pushed darker
    until white text reaches it, so every cell keeps WCAG AA contrast.
    """
    f = min(max(fraction, 0.0), 1.0) ** 0.6
    lo, hi = (255, 255, 255), (11, 61, 120)

    def mix(t: float) -> str:
        r, g, b = (round(a + (c - a) * t) for a, c in zip(lo, hi, strict=True))
        return f"#{r:02x}{g:02x}{b:02x}"

    colour = mix(f)
    while contrast_ratio(readable_text_on(colour), colour) < 4.5 and f < 1.0:
        f = min(1.0, f + 0.01)
        colour = mix(f)
    return colour


def confusion_table(cm: Sequence[Sequence[int]], names: Sequence[str]) -> str:
    """The confusion matrix as an HTML table: counts, cells shaded by the row's share.

    Rows are true classes, columns predicted ones; the diagonal is outlined and bold. Text is
    black or white, whichever contrasts more with the shade (always >= 4.5:1).
    """
    matrix = np.asarray(cm, dtype=np.int64)
    totals = matrix.sum(axis=1)
    body = []
    for k, name in enumerate(names):
        parts = [f'<th scope="row">{esc(name)}</th>']
        for j in range(len(names)):
            share = matrix[k, j] / totals[k] if totals[k] else 0.0
            bg = cell_shade(share)
            cls = ' class="diag"' if j == k else ""
            tip = f"{100 * share:.1f}% of true {name} predicted as {names[j]}"
            parts.append(
                f'<td{cls} style="background:{bg};color:{readable_text_on(bg)}" '
                f'title="{esc(tip)}">{matrix[k, j]}</td>'
            )
        body.append("<tr>" + "".join(parts) + "</tr>")
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in ["true \\ predicted", *names])
    caption = (
        "Confusion matrix on the test set: rows are the true class, columns the predicted "
        "class; counts, shaded by the share of the row; the diagonal (correct) is outlined."
    )
    return (
        f'<div class="scroll"><table class="cm"><caption>{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )

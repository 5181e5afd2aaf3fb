"""Building blocks of the exported HTML reports: dependency-free SVG charts (line, bar) and the page shell.

Each chart is one ``<svg>`` element as text: well-formed XML (every label escaped), so it can be put inline in an
HTML page, saved as a ``.svg`` file, or parsed back by a test. The page shell carries its CSS inline and a
Content-Security-Policy that allows no script and no fetch, so a report opens the same in any browser, offline.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

SVG_NS = "http://www.w3.org/2000/svg"
# colours for the seven Ekman emotions; the dash patterns keep the lines apart for colour-blind readers and in print
EMOTION_COLOURS = {
    "anger": "#d7301f", "disgust": "#6b8e23", "fear": "#6a3d9a", "joy": "#e69f00",
    "neutral": "#7f7f7f", "sadness": "#1f78b4", "surprise": "#17becf",
}  # fmt: skip
_FALLBACK_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")
_DASHES = ("", "6 3", "2 2", "8 3 2 3", "4 4", "1 3", "10 4")
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 56, 16, 50, 46
_MAX_MARKED_POINTS = 60  # beyond this, point markers would only blur the lines
_MAX_X_LABELS = 12


_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"  # no script, nothing fetched
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;max-width:980px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.sub,footer,small,time{color:#666}footer{margin-top:32px;font-size:12px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:16px 0}
.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 10px}.kpi dt{font-size:12px;color:#666}
.kpi dd{margin:2px 0 0;font-size:18px;font-weight:600}
.transcript,.screens{list-style:none;padding:0}.turn{margin:8px 0;padding:8px 12px;border-radius:8px;max-width:80%}
.turn.customer{background:#f3f4f6}.turn.agent{background:#e8f1fb;margin-left:auto}
.text,.ocr{white-space:pre-wrap;margin:4px 0}.ocr{background:#fafafa;border:1px solid #eee;padding:6px;font:12px monospace}
.badge{display:inline-block;font-size:12px;border-radius:10px;padding:1px 8px;margin:2px 4px 2px 0;background:#fff;
border:1px solid #ccc}.esc-medium{background:#fff3cd;border-color:#e0b000}.esc-high{background:#f8d7da;border-color:#d9534f}
.reasons{font-size:12px;color:#a33;margin:2px 0}.suggestions{font-size:13px;margin:4px 0}.used{font-weight:600}
.used::after{content:" \\2713"}table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:4px 8px;
text-align:right}th:first-child,td:first-child{text-align:left}.empty{color:#666;font-style:italic}svg{max-width:100%;height:auto}
.corrections{border-left:3px solid #6a1b9a;background:#f7f0fb;margin:6px 0;padding:2px 8px;font-size:13px}
.correction{margin:3px 0}.correction .value{color:#6a1b9a}.correction.replaced{color:#888}
.correction.replaced .value{color:#888;text-decoration:line-through}.badge.corrected{border-color:#6a1b9a;color:#6a1b9a}
@media print{.turn{break-inside:avoid}}
"""


def esc(value: object) -> str:
    """Journal text for HTML: every character that could open a tag or leave an attribute is escaped."""
    return escape("" if value is None else str(value), quote=True)


def when(timestamp: float) -> str:
    """Local date and time to the minute, as a supervisor reads it."""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def duration_text(seconds: float) -> str:
    whole = round(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{rest // 60} min {rest % 60} s" if rest >= 60 else f"{rest} s"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def page_html(title: str, body: list[str], footer: str | None = None) -> str:
    """A complete HTML5 page: ``title`` escaped here; ``body`` parts are HTML already (escape their text).
    The footer says when it was exported, unless given."""
    footer = f"Exported from Assist on {when(time.time())}." if footer is None else footer
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(body)
            + (f"\n<footer>{esc(footer)}</footer>" if footer else "") + "\n</body>\n</html>\n")


def kpi_cards(items: Sequence[tuple[str, str, str]]) -> str:
    """(key, label, value) as cards; ``data-kpi`` names each for tools and tests."""
    return '<dl class="kpis">' + "".join(f'<div class="kpi" data-kpi="{esc(key)}"><dt>{esc(label)}</dt>'
                                         f"<dd>{esc(value)}</dd></div>" for key, label, value in items) + "</dl>"



def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _open(width: int, height: int, title: str, description: str) -> list[str]:
    return [
        f'<svg xmlns="{SVG_NS}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'font-family="sans-serif" font-size="11">',
        f"<title>{esc(title)}</title>",
        f"<desc>{esc(description)}</desc>",
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13" font-weight="bold">'
        f"{esc(title)}</text>",
    ]


def _axes(width: int, height: int, y_max: float, x_label: str, y_label: str, y_format: str) -> list[str]:
    """The plot frame, four horizontal grid lines with their values, and both axis titles."""
    left, bottom, right, top = _PAD_LEFT, height - _PAD_BOTTOM, width - _PAD_RIGHT, _PAD_TOP
    parts = [f'<g class="axes" stroke="#999" stroke-width="1">'
             f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>'
             f'<line x1="{left}" y1="{bottom}" x2="{left}" y2="{top}"/></g>']
    for step in range(5):
        value = y_max * step / 4
        y = bottom - (bottom - top) * step / 4
        if step:
            parts.append(f'<line x1="{left}" y1="{_num(y)}" x2="{right}" y2="{_num(y)}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end">{esc(format(value, y_format))}'
                     "</text>")
    parts.append(f'<text class="x-label" x="{(left + right) / 2:.0f}" y="{height - 6}" text-anchor="middle">'
                 f"{esc(x_label)}</text>")
    parts.append(f'<text class="y-label" x="14" y="{(top + bottom) / 2:.0f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {(top + bottom) / 2:.0f})">{esc(y_label)}</text>')
    return parts


def _x_ticks(labels: Sequence[str], xs: Sequence[float], bottom: float) -> list[str]:
    """Labels under the x axis, thinned to at most ``_MAX_X_LABELS`` so they never overlap."""
    every = max(1, -(-len(labels) // _MAX_X_LABELS))
    return [f'<text x="{_num(x)}" y="{_num(bottom + 15)}" text-anchor="middle">{esc(label)}</text>'
            for index, (label, x) in enumerate(zip(labels, xs)) if index % every == 0]


def svg_line_chart(series: Mapping[str, Sequence[float | None]], labels: Sequence[str], width: int = 720,
                   height: int = 280, *, title: str = "", x_label: str = "", y_label: str = "",
                   y_max: float = 1.0, colours: Mapping[str, str] | None = None) -> str:
    """One ``<polyline>`` per series (named by its ``data-series``) over the shared x ``labels``, with a legend.

    A ``None`` value is a gap: that point is left out of the series' polyline. Values are clamped to [0, y_max].
    """
    colours = {**EMOTION_COLOURS, **(colours or {})}
    n = len(labels)
    left, right, top, bottom = _PAD_LEFT, width - _PAD_RIGHT, _PAD_TOP, height - _PAD_BOTTOM
    xs = [left + (right - left) * (i + 0.5) / n for i in range(n)] if n else []
    description = f"{len(series)} series over {n} points" + (f" ({', '.join(series)})" if series else "")
    parts = _open(width, height, title, description) + _axes(width, height, y_max, x_label, y_label, ".2f")
    parts += _x_ticks(labels, xs, bottom)
    for index, (name, values) in enumerate(series.items()):
        colour = colours.get(name, _FALLBACK_COLOURS[index % len(_FALLBACK_COLOURS)])
        dash = _DASHES[index % len(_DASHES)]
        points = [(xs[i], bottom - (bottom - top) * min(max(v, 0.0), y_max) / y_max)
                  for i, v in enumerate(values[:n]) if v is not None]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline data-series="{esc(name)}" fill="none" stroke="{colour}" stroke-width="2"'
                     f'{dash_attr} points="{" ".join(f"{_num(x)},{_num(y)}" for x, y in points)}"/>')
        if len(points) <= _MAX_MARKED_POINTS:
            parts.extend(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="2.5" fill="{colour}"/>' for x, y in points)
    parts += _legend(list(series), colours, width)
    parts.append("</svg>")
    return "\n".join(parts)


def _legend(names: Sequence[str], colours: Mapping[str, str], width: int) -> list[str]:
    """One swatch and name per series, in a row above the plot (wrapping when the names do not fit)."""
    parts = ['<g class="legend">']
    x, y = _PAD_LEFT, 36
    for index, name in enumerate(names):
        span = 26 + 7 * len(name)
        if x + span > width - _PAD_RIGHT and x > _PAD_LEFT:
            x, y = _PAD_LEFT, y + 12  # a second row (only with many or long names) runs into the top grid line
        colour = colours.get(name, _FALLBACK_COLOURS[index % len(_FALLBACK_COLOURS)])
        dash = _DASHES[index % len(_DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 18}" y2="{y - 4}" stroke="{colour}" stroke-width="2"'
                     f"{dash_attr}/>")
        parts.append(f'<text x="{x + 22}" y="{y}">{esc(name)}</text>')
        x += span
    parts.append("</g>")
    return parts


def svg_bar_chart(bars: Sequence[tuple[str, float]], width: int = 720, height: int = 260, *, title: str = "",
                  x_label: str = "", y_label: str = "", colour: str = "#1f78b4") -> str:
    """One ``<rect>`` per (label, value), each with its value above it and as a tooltip."""
    left, right, top, bottom = _PAD_LEFT, width - _PAD_RIGHT, _PAD_TOP, height - _PAD_BOTTOM
    peak = max((value for _, value in bars), default=0.0)
    counts = all(float(value).is_integer() for _, value in bars)
    y_max = float(max(4, -(-peak // 4) * 4)) if counts else max(1.0, float(peak))  # counts: whole-number grid lines
    y_format = ".0f" if counts else ".2f"
    parts = _open(width, height, title, f"{len(bars)} bars") + _axes(width, height, y_max, x_label, y_label, y_format)
    slot = (right - left) / max(1, len(bars))
    bar_width = min(slot * 0.7, 60.0)
    xs = [left + slot * (i + 0.5) for i in range(len(bars))]
    parts += _x_ticks([label for label, _ in bars], xs, bottom)
    for (label, value), x in zip(bars, xs):
        bar_height = (bottom - top) * max(0.0, value) / y_max
        shown = _num(value) if value != int(value) else str(int(value))
        parts.append(f'<rect data-label="{esc(label)}" data-value="{esc(shown)}" x="{_num(x - bar_width / 2)}" '
                     f'y="{_num(bottom - bar_height)}" width="{_num(bar_width)}" height="{_num(bar_height)}" '
                     f'fill="{colour}"><title>{esc(label)}: {esc(shown)}</title></rect>')
        if value and len(bars) <= 40:
            parts.append(f'<text x="{_num(x)}" y="{_num(bottom - bar_height - 3)}" text-anchor="middle">'
                         f"{esc(shown)}</text>")
    parts.append("</svg>")
    return "\n".join(parts)


__all__ = ["EMOTION_COLOURS", "SVG_NS", "duration_text", "esc", "kpi_cards", "page_html", "percent", "svg_bar_chart",
           "svg_line_chart", "when"]

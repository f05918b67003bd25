"""Reports as self-contained HTML (inline SVG charts, no script, no outside resource: it opens
offline and in a mail client), CSV (the main table) and JSON."""

from __future__ import annotations

import csv
import html
import io
import json
import math
import time
from typing import Any

from genosd.reports.model import Chart, Format, Report, Table

PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#e53e3e", "#319795")
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1a202c}
h1{font-size:1.5rem;margin-bottom:.2rem}.when{color:#718096;margin-top:0}
.summary{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.summary div{border:1px solid #e2e8f0;border-radius:6px;padding:.5rem .8rem}
.summary b{display:block;font-size:1.2rem}
figure{margin:1.5rem 0}figcaption{font-weight:600;margin-bottom:.3rem}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #e2e8f0;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f7fafc}.notes{color:#718096}
"""


def render(report: Report, fmt: Format) -> str:
    """The report in one format."""
    if fmt == "json":
        return json.dumps(report.as_dict(), indent=2, default=str)
    if fmt == "csv":
        return to_csv(report.tables[0] if report.tables else Table("", [], []))
    return to_html(report)


def to_csv(table: Table) -> str:
    """A table as CSV (a header row, then the rows)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return out.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else ""
    if isinstance(value, list | tuple):
        return "; ".join(map(str, value))
    return str(value)


def to_html(report: Report) -> str:
    """The whole report as one HTML page."""
    e = html.escape
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(report.generated_at))
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{e(report.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(report.title)}</h1><p class=when>generated {when} by genosd</p>",
    ]
    if report.summary:
        parts.append("<section class=summary>")
        for key, value in report.summary.items():
            parts.append(f"<div><b>{e(_cell(value))}</b>{e(key.replace('_', ' '))}</div>")
        parts.append("</section>")
    for chart in report.charts:
        parts.append(
            f"<figure class=chart data-kind={chart.kind}><figcaption>{e(chart.title)}</figcaption>"
        )
        parts.append(bar_svg(chart) if chart.kind == "bar" else line_svg(chart))
        parts.append("</figure>")
    for table in report.tables:
        parts.append(f"<h2>{e(table.title)}</h2><table><thead><tr>")
        parts.extend(f"<th>{e(c)}</th>" for c in table.columns)
        parts.append("</tr></thead><tbody>")
        for row in table.rows:
            cells = "".join(f"<td>{e('' if v is None else _cell(v))}</td>" for v in row)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</tbody></table>")
    if report.notes:
        parts.append("<ul class=notes>")
        parts.extend(f"<li>{e(n)}</li>" for n in report.notes)
        parts.append("</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _fmt(value: float, unit: str) -> str:
    return f"{value:.3g}{unit}"


def bar_svg(chart: Chart) -> str:
    """Horizontal bars, one per label (the first series), labelled with their values."""
    e = html.escape
    values = next(iter(chart.series.values()), [])
    pairs = [(label, v) for label, v in zip(chart.labels, values, strict=False) if v is not None]
    if not pairs:
        return "<p class=notes>no data</p>"
    top = max([v for _, v in pairs] + [chart.limit or 0, 1e-9])
    row, label_w, bar_w = 22, 220, 420
    height = row * len(pairs) + 10
    out = [
        f'<svg class=chart-svg role=img xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 80}" '
        f'height="{height}" viewBox="0 0 {label_w + bar_w + 80} {height}">'
    ]
    for n, (label, value) in enumerate(pairs):
        y = 5 + n * row
        width = max(1.0, bar_w * value / top)
        colour = "#e53e3e" if chart.limit is not None and value >= chart.limit else PALETTE[0]
        out.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{e(label[:34])}</text>"
            f'<rect class=bar x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row - 6}" '
            f'fill="{colour}"><title>{e(label)}: {_fmt(value, chart.unit)}</title></rect>'
            f'<text x="{label_w + width + 4:.1f}" y="{y + 15}" font-size="11">'
            f"{e(_fmt(value, chart.unit))}</text>"
        )
    if chart.limit is not None:
        x = label_w + bar_w * chart.limit / top
        out.append(
            f'<line class=limit x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" '
            'stroke="#e53e3e" stroke-dasharray="4 3"/>'
        )
    out.append("</svg>")
    return "".join(out)


def line_svg(chart: Chart) -> str:
    """Lines over the labels (x), one per series, with a legend."""
    e = html.escape
    width, height, left, bottom = 680, 260, 50, 30
    values = [v for s in chart.series.values() for v in s if v is not None]
    if not values or not chart.labels:
        return "<p class=notes>no data</p>"
    top = max([*values, chart.limit or 0])
    top = top if top > 0 else 1.0
    count = max(1, len(chart.labels) - 1)

    def x(i: int) -> float:
        return left + (width - left - 10) * i / count

    def y(v: float) -> float:
        return 10 + (height - bottom - 10) * (1 - v / top)

    out = [
        f'<svg class=chart-svg role=img xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height + 20 * len(chart.series)}" viewBox="0 0 {width} '
        f'{height + 20 * len(chart.series)}">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#a0aec0"/>',
        f'<text x="4" y="16" font-size="11">{e(_fmt(top, chart.unit))}</text>',
        f'<text x="4" y="{height - bottom}" font-size="11">0</text>',
        f'<text x="{left}" y="{height - 8}" font-size="11">{e(chart.labels[0])}</text>',
        f'<text x="{width - 10}" y="{height - 8}" font-size="11" text-anchor="end">'
        f"{e(chart.labels[-1])}</text>",
    ]
    if chart.limit is not None:
        out.append(
            f'<line class=limit x1="{left}" y1="{y(chart.limit):.1f}" x2="{width}" '
            f'y2="{y(chart.limit):.1f}" stroke="#e53e3e" stroke-dasharray="4 3"/>'
        )
    for n, (name, series) in enumerate(chart.series.items()):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(series) if v is not None)
        out.append(
            f'<polyline class=series fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{points}"><title>{e(name)}</title></polyline>'
            f'<rect x="{left}" y="{height + 6 + 20 * n}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{left + 18}" y="{height + 16 + 20 * n}" font-size="12">{e(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)

"""Charts as inline SVG, rendered on the server: no script, no library, no build step.

Colours come from CSS classes (`s-…`), never inline styles, so the console's Content Security
Policy (`style-src 'self'`) holds. Every label passes through `escape`: intents, reasons and rep
names are data. Each chart is an `<svg role="img">` with a `<title>` saying what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640


@dataclass(frozen=True, slots=True)
class Part:
    """One coloured piece of a bar: a label, a value, and the CSS class that colours it."""

    label: str
    value: float
    css: str


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    parts: Sequence[Part]
    note: str = ""  # shown after the bar (a count, an average)


def _svg(height: int, title: str, testid: str, body: list[str]) -> Markup:
    # Every piece of text in `body` went through `escape` when it was built.
    return Markup(  # noqa: S704
        f'<svg class="chart" data-testid="{escape(testid)}" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _rect(x: float, y: float, w: float, h: float, css: str, tip: str) -> str:
    return (
        f'<rect class="{escape(css)}" x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" '
        f'height="{max(h, 0):.1f}"><title>{escape(tip)}</title></rect>'
    )


def _text(x: float, y: float, text: str, css: str = "label", anchor: str = "start") -> str:
    return (
        f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def columns(
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    title: str,
    testid: str,
    height: int = 220,
    every: int = 1,
) -> Markup:
    """Stacked columns: one per category, one coloured piece per series (name, css, values).

    `every` labels only every n-th category (a month of days would not fit).
    """
    left, bottom, top = 36, 22, 10
    plot_w, plot_h = WIDTH - left - 8, height - bottom - top
    totals = [sum(s[2][i] for s in series) for i in range(len(categories))]
    peak = max(totals, default=0) or 1
    step = plot_w / max(len(categories), 1)
    body = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" '
        f'x2="{WIDTH - 8}" y2="{top + plot_h}"/>',
        _text(left - 4, top + 8, _number(peak), "tick", "end"),
        _text(left - 4, top + plot_h, "0", "tick", "end"),
    ]
    for i, category in enumerate(categories):
        x, y = left + i * step + step * 0.12, float(top + plot_h)
        for name, css, values in series:
            h = plot_h * values[i] / peak
            y -= h
            if values[i]:
                body.append(
                    _rect(x, y, step * 0.76, h, css, f"{category}: {_number(values[i])} {name}")
                )
        if i % every == 0:
            body.append(_text(x + step * 0.38, height - 6, category, "tick", "middle"))
    return _svg(height, title, testid, body)


def bars(rows: Sequence[Row], *, title: str, testid: str, scale: float | None = None) -> Markup:
    """Horizontal bars, one row each, stacked from their parts; `scale` is the full width's
    value (the largest row's total when not given)."""
    label_w, note_w, row_h = 170, 90, 26
    plot_w = WIDTH - label_w - note_w
    peak = scale or max((sum(p.value for p in r.parts) for r in rows), default=0) or 1
    height = max(len(rows), 1) * row_h + 6
    body: list[str] = []
    for n, row in enumerate(rows):
        y = 4 + n * row_h
        body.append(_text(label_w - 6, y + 15, row.label[:28], "label", "end"))
        x = float(label_w)
        for part in row.parts:
            w = plot_w * part.value / peak
            if part.value:
                body.append(
                    _rect(
                        x,
                        y + 3,
                        w,
                        row_h - 8,
                        part.css,
                        f"{row.label}: {_number(part.value)} {part.label}",
                    )
                )
            x += w
        body.append(_text(x + 6, y + 15, row.note, "note"))
    if not rows:
        body.append(_text(WIDTH / 2, 18, "No data in this range", "note", "middle"))
    return _svg(height, title, testid, body)


def share(parts: Sequence[Part], *, title: str, testid: str) -> Markup:
    """One bar split by share of the whole, each part labelled with its percentage."""
    height, total = 46, sum(p.value for p in parts)
    body: list[str] = []
    if not total:
        body.append(_text(WIDTH / 2, 26, "No data in this range", "note", "middle"))
        return _svg(height, title, testid, body)
    x = 0.0
    for part in parts:
        w = WIDTH * part.value / total
        if part.value:
            pct = f"{100 * part.value / total:.0f}%"
            body.append(
                _rect(x, 4, w, 26, part.css, f"{part.label}: {_number(part.value)} ({pct})")
            )
            if w > 40:
                body.append(_text(x + w / 2, 22, pct, "on-bar", "middle"))
        x += w
    return _svg(height, title, testid, body)

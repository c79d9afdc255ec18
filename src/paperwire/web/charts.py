"""Small inline SVG charts, drawn on the server: no JavaScript, no external files.

Both functions are pure and deterministic (the same data gives the same bytes) and return
:class:`markupsafe.Markup`; every piece of text in them is escaped, so a source name or a
label taken from the data cannot break out of the SVG.

* :func:`sparkline`: a tiny bar per day of a trending window (days without signal are 0).
* :func:`signal_chart`: a paper's signal per day, with axis labels and an accessible label
  (``role="img"``, ``aria-label`` and ``<title>``); one bar per day that has data, gaps for
  the others, stacked per source when several sources are present.

The SVGs carry ``data-days`` (days on the x axis) and ``data-bars`` (bars drawn) so tests and
scripts can check them without parsing the geometry.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from markupsafe import Markup, escape

SPARK_WIDTH, SPARK_HEIGHT = 90, 22
CHART_WIDTH, CHART_HEIGHT = 640, 170
MAX_DAYS = 90
# How the chart names a source's unit; a source missing here is named by its own name.
SOURCE_NAMES: dict[str, str] = {
    "hf_upvotes": "Hugging Face upvotes",
    "upvote": "upvotes here",
    "save": "saves here",
    "digest_click": "digest clicks",
}
_NOT_CLASS = re.compile(r"[^a-z0-9_-]+")


def fmt_number(value: float) -> str:
    """``38`` → ``'38'``, ``1234567`` → ``'1,234,567'``, ``2.5`` → ``'2.5'``, ⅓ → ``'0.33'``."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def fmt_day(d: date, year: bool = True) -> str:
    """``'10 Jun 2025'`` (or ``'10 Jun'``), the same on every platform and locale."""
    text = f"{d.day} {d:%b}"
    return f"{text} {d.year}" if year else text


def fmt_range(start: date, end: date) -> str:
    """``'3 Jun – 13 Jun 2025'``; the year on both ends only when they differ."""
    if start == end:
        return fmt_day(end)
    return f"{fmt_day(start, year=start.year != end.year)} – {fmt_day(end)}"


def _num(x: float) -> str:
    """A coordinate with at most two decimals, without trailing zeros."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _clean(value: float) -> float:
    """Signal counts are finite and not negative; anything else draws as 0."""
    return value if math.isfinite(value) and value > 0 else 0.0


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _peak(values: Mapping[date, float]) -> tuple[date, float] | None:
    """The highest day (the earliest of equal ones), or None when all are 0."""
    best: tuple[date, float] | None = None
    for day in sorted(values):
        if values[day] > 0 and (best is None or values[day] > best[1]):
            best = (day, values[day])
    return best


def _label(what: str, start: date, end: date, values: Mapping[date, float]) -> str:
    peak = _peak(values)
    tail = (f"peak {fmt_number(peak[1])} on {fmt_day(peak[0], year=start.year != end.year)}"
            if peak else "no signal")
    return f"{what}, {fmt_range(start, end)}, {tail}"


def sparkline(
    series: Iterable[tuple[date, float]],
    start: date,
    end: date,
    width: int = SPARK_WIDTH,
    height: int = SPARK_HEIGHT,
    what: str = "Weighted signal per day",
) -> Markup:
    """One bar per day from ``start`` to ``end`` (inclusive), scaled to the highest day.

    Days missing from ``series`` (and days outside the range) count as 0 and draw as a
    1-pixel tick, so the bars always line up with the days of the window."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    days = _days(start, end)
    values: dict[date, float] = defaultdict(float)
    for day, value in series:
        if start <= day <= end:
            values[day] += _clean(value)
    top = max(values.values(), default=0.0)
    slot = width / len(days)
    bar = max(slot * 0.75, 1.0) if len(days) > 1 else min(slot, 8.0)
    label = _label(what, start, end, values)
    parts = [
        f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" data-days="{len(days)}" '
        f'data-bars="{sum(1 for d in days if values[d] > 0)}">',
        f"<title>{escape(label)}</title>",
    ]
    for i, day in enumerate(days):
        value = values[day]
        h = max((height - 1) * value / top, 1.0) if top and value else 1.0
        x = i * slot + (slot - bar) / 2
        cls = "bar" if value else "bar zero"
        parts.append(
            f'<rect class="{cls}" x="{_num(x)}" y="{_num(height - h)}" width="{_num(bar)}" '
            f'height="{_num(h)}" data-day="{day.isoformat()}" data-value="{_num(value)}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def signal_chart(
    points: Iterable[tuple[date, str, float]],
    weights: Mapping[str, float] | None = None,
    names: Mapping[str, str] | None = None,
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
    max_days: int = MAX_DAYS,
) -> Markup:
    """A bar chart of ``(day, source, value)`` points from the first to the last day with data.

    With one source the bars are its raw counts per day ("Hugging Face upvotes per day"). With
    several, each source is weighted by ``weights`` (sources weighing 0, or missing from
    ``weights`` when it is given, are left out, as trending leaves them out) and the bars are
    stacked, one colour per source, with a legend. Ranges longer than ``max_days`` keep the
    last ``max_days`` days and say so. Without data the result is a short "no signals" note.
    """
    names = {**SOURCE_NAMES, **(names or {})}
    per_day: dict[date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    ignored = 0
    for day, source, value in points:
        weight = 1.0 if weights is None else weights.get(source, 0.0)
        if weight > 0 and _clean(value) > 0:
            per_day[day][source] += _clean(value)
        else:
            ignored += 1
    if not per_day:
        text = ("Nothing to chart: these signals are zero or weigh nothing in trending."
                if ignored else "No signals yet.")
        return Markup(f'<p class="chart-empty">{text}</p>')
    sources = sorted({s for by in per_day.values() for s in by})
    stacked = len(sources) > 1
    scale = {s: (weights or {}).get(s, 1.0) if stacked else 1.0 for s in sources}
    first, end = min(per_day), max(per_day)
    start = max(first, end - timedelta(days=max_days - 1))
    days = _days(start, end)
    totals = {d: sum(v * scale[s] for s, v in per_day[d].items()) for d in days if d in per_day}
    top = max(totals.values())
    unit = names.get(sources[0], sources[0])
    what = "Weighted signal per day" if stacked else f"{unit[:1].upper()}{unit[1:]} per day"
    label = _label(what, start, end, totals)

    left, right, top_pad, bottom = 8, 8, 22, 22
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    slot = plot_w / len(days)
    bar = min(max(slot * 0.8, 1.0), 28.0)
    base = top_pad + plot_h
    # The labels sit in the outer SVG, which has no viewBox: its units are CSS pixels, so the
    # text keeps its size (12px) at any width, a phone's included. Axis and bars are drawn in
    # an inner SVG whose viewBox stretches to the chart's width (preserveAspectRatio="none";
    # the height is fixed, so only the horizontal scale changes and lines keep their stroke).
    parts = [
        f'<svg class="signal-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img" '
        f'aria-label="{escape(label)}" data-days="{len(days)}" data-bars="{len(totals)}">',
        f"<title>{escape(label)}</title>",
        f'<text class="max" x="{left}" y="{top_pad - 6}">{escape(fmt_number(top))}</text>',
        f'<text class="date" x="{left}" y="{height - 6}">{escape(fmt_day(start))}</text>',
    ]
    if end != start:
        parts.append(f'<text class="date" x="100%" dx="-{right}" y="{height - 6}" '
                     f'text-anchor="end">{escape(fmt_day(end))}</text>')
    parts += [
        f'<svg class="plot" width="100%" height="{height}" viewBox="0 0 {width} {height}" '
        'preserveAspectRatio="none">',
        f'<line class="axis" x1="{left}" y1="{base}" x2="{width - right}" y2="{base}"/>',
        f'<line class="grid" x1="{left}" y1="{top_pad}" x2="{width - right}" y2="{top_pad}"/>',
    ]
    for i, day in enumerate(days):
        if day not in totals:
            continue
        x = _num(left + i * slot + (slot - bar) / 2)
        what_day = ", ".join(
            f"{fmt_number(per_day[day][s])} {names.get(s, s)}" for s in sources if s in per_day[day]
        )
        parts.append(f'<g class="bar" data-day="{day.isoformat()}" '
                     f'data-value="{_num(totals[day])}">'
                     f"<title>{escape(fmt_day(day))}: {escape(what_day)}</title>")
        y = float(base)
        for k, source in enumerate(sources):
            h = plot_h * per_day[day].get(source, 0.0) * scale[source] / top
            if h <= 0:
                continue
            y -= h
            parts.append(f'<rect class="seg s{k % 4}" x="{x}" y="{_num(y)}" width="{_num(bar)}" '
                         f'height="{_num(max(h, 0.5))}" '
                         f'data-source="{escape(_NOT_CLASS.sub("-", source.lower()))}"/>')
        parts.append("</g>")
    parts.append("</svg></svg>")
    caption = []
    if stacked:
        caption.append('<span class="legend">' + " ".join(
            f'<span class="key s{k % 4}">{escape(names.get(s, s))} ×{escape(fmt_number(scale[s]))}'
            "</span>" for k, s in enumerate(sources)) + "</span>")
    if start > first:
        caption.append(f'<span class="chart-note">Showing the last {len(days)} days; signals '
                       f"go back to {escape(fmt_day(first))}.</span>")
    figure = f'<figure class="chart">{"".join(parts)}'
    if caption:
        figure += f'<figcaption>{" ".join(caption)}</figcaption>'
    return Markup(figure + "</figure>")

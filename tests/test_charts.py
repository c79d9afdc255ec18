"""The inline SVG charts: bars per day, scaling, gaps, escaping and edge cases.

Every chart is parsed as XML, so a test fails on markup that is not well formed as well as
on wrong numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from markupsafe import Markup

from paperwire.web.charts import fmt_day, fmt_number, fmt_range, signal_chart, sparkline

SVG = "{http://www.w3.org/2000/svg}"
END = date(2025, 6, 13)
START = END - timedelta(days=6)


def parse(markup: Markup) -> ET.Element:
    assert isinstance(markup, Markup)
    return ET.fromstring(str(markup))


def svg_of(root: ET.Element) -> ET.Element:
    return root if root.tag == f"{SVG}svg" else root.find(f"{SVG}svg")  # type: ignore[return-value]


def rects(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}rect"))


def day(n: int) -> date:
    return START + timedelta(days=n)


# ---- sparkline ---------------------------------------------------------------------------


def test_sparkline_has_one_bar_per_day_with_zeros_for_missing_days() -> None:
    root = parse(sparkline([(day(1), 4.0), (day(5), 8.0)], START, END))
    bars = rects(root)
    assert len(bars) == 7 and root.get("data-days") == "7" and root.get("data-bars") == "2"
    assert [b.get("data-day") for b in bars] == [day(i).isoformat() for i in range(7)]
    assert [b.get("data-value") for b in bars] == ["0", "4", "0", "0", "0", "8", "0"]
    assert [b.get("class") for b in bars].count("bar zero") == 5
    xs = [float(b.get("x", "")) for b in bars]
    assert xs == sorted(xs) and len(set(xs)) == 7  # left to right, in day order


def test_sparkline_scales_to_the_highest_day() -> None:
    height = 22
    bars = rects(parse(sparkline([(day(0), 10.0), (day(1), 5.0), (day(2), 20.0)], START, END,
                                 height=height)))
    h = [float(b.get("height", "")) for b in bars]
    assert h[2] == height - 1  # the highest day fills the chart
    assert h[0] == pytest.approx(h[2] / 2) and h[1] == pytest.approx(h[2] / 4)
    for b in bars:  # every bar stands on the baseline
        assert float(b.get("y", "")) + float(b.get("height", "")) == pytest.approx(height)
    doubled = rects(parse(sparkline([(day(0), 1000.0), (day(2), 2000.0)], START, END)))
    assert doubled[0].get("height") == bars[0].get("height")  # only ratios matter


def test_sparkline_label_range_and_peak() -> None:
    root = parse(sparkline([(day(3), 38.0), (day(4), 12.0)], START, END))
    label = "Weighted signal per day, 7 Jun – 13 Jun 2025, peak 38 on 10 Jun"
    assert root.get("role") == "img" and root.get("aria-label") == label
    assert root.findtext(f"{SVG}title") == label


def test_sparkline_sums_repeated_days_and_ignores_outside_and_bad_values() -> None:
    series = [(day(2), 3.0), (day(2), 4.0), (START - timedelta(days=1), 99.0),
              (END + timedelta(days=1), 99.0), (day(3), float("nan")), (day(4), float("inf")),
              (day(5), -5.0)]
    bars = rects(parse(sparkline(series, START, END)))
    assert [b.get("data-value") for b in bars] == ["0", "0", "7", "0", "0", "0", "0"]


def test_sparkline_empty_single_day_and_month() -> None:
    empty = parse(sparkline([], START, END))
    assert len(rects(empty)) == 7 and empty.get("data-bars") == "0"
    assert empty.get("aria-label", "").endswith("no signal")
    one = parse(sparkline([(END, 5.0)], END, END))
    assert len(rects(one)) == 1 and one.get("aria-label", "").startswith(
        "Weighted signal per day, 13 Jun 2025,")
    month = parse(sparkline([(END, 1.0)], END - timedelta(days=29), END))
    assert len(rects(month)) == 30 and month.get("data-days") == "30"
    with pytest.raises(ValueError):
        sparkline([], END, START)


def test_sparkline_escapes_its_label_and_is_deterministic() -> None:
    evil = 'Upvotes "><script>alert(1)</script> & co'
    markup = sparkline([(day(0), 1.0)], START, END, what=evil)
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert parse(markup).findtext(f"{SVG}title", "").startswith(evil)  # escaped, not lost
    series = [(day(0), 1.0), (day(4), 2.5)]
    assert sparkline(series, START, END) == sparkline(list(reversed(series)), START, END)


# ---- signal_chart ------------------------------------------------------------------------


def test_signal_chart_bars_only_on_days_with_data() -> None:
    points = [(day(0), "hf_upvotes", 5.0), (day(3), "hf_upvotes", 38.0),
              (day(6), "hf_upvotes", 12.0)]
    root = parse(signal_chart(points))
    svg = svg_of(root)
    assert svg.get("data-days") == "7" and svg.get("data-bars") == "3"
    groups = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "bar"]
    assert [g.get("data-day") for g in groups] == [day(i).isoformat() for i in (0, 3, 6)]
    label = "Hugging Face upvotes per day, 7 Jun – 13 Jun 2025, peak 38 on 10 Jun"
    assert svg.get("role") == "img" and svg.get("aria-label") == label
    assert svg.findtext(f"{SVG}title") == label
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert texts == ["38", "7 Jun 2025", "13 Jun 2025"]  # max value, first and last date
    assert groups[1].findtext(f"{SVG}title") == "10 Jun 2025: 38 Hugging Face upvotes"


def test_signal_chart_scales_bars_to_the_peak() -> None:
    points = [(day(0), "hf_upvotes", 10.0), (day(1), "hf_upvotes", 40.0)]
    heights = [float(r.get("height", "")) for r in rects(parse(signal_chart(points)))]
    assert heights[1] == pytest.approx(4 * heights[0])
    big = [(day(0), "hf_upvotes", 1e12), (day(1), "hf_upvotes", 5e11)]
    root = parse(signal_chart(big))
    assert "peak 1,000,000,000,000 on 7 Jun" in svg_of(root).get("aria-label", "")
    assert [float(r.get("height", "")) for r in rects(root)] == pytest.approx(
        [heights[1], heights[1] / 2])  # the same plot height, whatever the magnitude


def test_signal_chart_stacks_weighted_sources() -> None:
    points = [(day(0), "hf_upvotes", 10.0), (day(0), "save", 5.0), (day(2), "save", 1.0),
              (day(1), "digest_click", 100.0), (day(1), "unknown", 9.0)]
    weights = {"hf_upvotes": 1.0, "save": 2.0, "digest_click": 0.0}
    root = parse(signal_chart(points, weights=weights))
    svg = svg_of(root)
    assert svg.get("data-days") == "3" and svg.get("data-bars") == "2"  # day 1 weighs nothing
    assert svg.get("aria-label", "").startswith("Weighted signal per day, 7 Jun – 9 Jun 2025")
    assert "peak 20 on 7 Jun" in svg.get("aria-label", "")  # 10·1 + 5·2
    first = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "bar")
    segs = {r.get("data-source"): float(r.get("height", "")) for r in first.iter(f"{SVG}rect")}
    assert segs["hf_upvotes"] == pytest.approx(segs["save"])  # 10·1 and 5·2
    legend = "".join(root.find("figcaption").itertext())  # type: ignore[union-attr]
    assert "Hugging Face upvotes ×1" in legend and "saves here ×2" in legend
    assert "digest" not in legend


def test_signal_chart_empty_and_single_day() -> None:
    assert signal_chart([]) == Markup('<p class="chart-empty">No signals yet.</p>')
    zero = signal_chart([(END, "save", 3.0)], weights={"save": 0.0})
    assert "<svg" not in zero and "weigh nothing" in zero
    root = svg_of(parse(signal_chart([(END, "save", 3.0)])))
    assert root.get("data-days") == "1" and root.get("data-bars") == "1"
    assert root.get("aria-label") == "Saves here per day, 13 Jun 2025, peak 3 on 13 Jun"
    assert [t.text for t in root.iter(f"{SVG}text")] == ["3", "13 Jun 2025"]


def test_signal_chart_caps_long_ranges() -> None:
    points = [(END - timedelta(days=i), "hf_upvotes", float(i + 1)) for i in range(0, 200, 2)]
    root = parse(signal_chart(points, max_days=90))
    svg = svg_of(root)
    assert svg.get("data-days") == "90" and svg.get("data-bars") == "45"
    first_shown = END - timedelta(days=89)
    assert fmt_range(first_shown, END) in svg.get("aria-label", "")
    note = "".join(root.find("figcaption").itertext())  # type: ignore[union-attr]
    oldest = END - timedelta(days=198)
    assert "Showing the last 90 days" in note and f"back to {fmt_day(oldest)}" in note
    assert "figcaption" not in signal_chart(points[:5])  # short ranges have no note


def test_signal_chart_escapes_source_names() -> None:
    evil = '<img src=x onerror=alert(1)>"&'
    markup = signal_chart([(END, evil, 2.0), (END, "hf_upvotes", 1.0)],
                          names={evil: f"name {evil}"})
    assert "<img" not in markup and "&lt;img" in markup
    root = parse(markup)  # still well formed
    seg = next(r for r in rects(root) if r.get("data-source") != "hf_upvotes")
    assert seg.get("data-source") == "-img-src-x-onerror-alert-1-"  # only [a-z0-9_-]
    assert f"name {evil}" in "".join(root.itertext())


def test_fmt_number() -> None:
    assert [fmt_number(v) for v in (38, 1234567, 2.5, 1 / 3, 0)] == [
        "38", "1,234,567", "2.5", "0.33", "0"]
    assert fmt_range(date(2024, 12, 28), date(2025, 1, 3)) == "28 Dec 2024 – 3 Jan 2025"

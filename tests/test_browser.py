"""The charts in a real browser: Debian's chromium, driven by Playwright, loads the pages from
the app served by uvicorn on a loopback port, over a SQLite store in a temporary folder.

Skipped (with the reason) when playwright or /usr/bin/chromium is missing, unless
PAPERWIRE_TEST_REQUIRE_BROWSER=1 (CI sets it): then it fails instead."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from live_server import served
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper, Signal
from paperwire.store import Store
from paperwire.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
AS_OF = date(2025, 6, 13)

BUSY = Paper(id="2506.02001", title="A Busy <Paper> & Co", authors=("Ada",),
             categories=("cs.CL",), primary_category="cs.CL", published=AS_OF - timedelta(days=8))
QUIET = Paper(id="2506.02002", title="A Quiet Paper", authors=("Grace",),
              categories=("cs.LG",), primary_category="cs.LG", published=AS_OF - timedelta(days=5))
LONE = Paper(id="2506.02003", title="One Day Only", categories=("cs.CV",),
             primary_category="cs.CV", published=AS_OF - timedelta(days=2))
# BUSY: five days with upvotes over ten days (gaps between), the peak of 38 on 10 Jun
BUSY_DAYS = {AS_OF - timedelta(days=9): 4, AS_OF - timedelta(days=6): 9,
             AS_OF - timedelta(days=3): 38, AS_OF - timedelta(days=1): 20, AS_OF: 7}
SIGNALS = [Signal(BUSY.id, "hf_upvotes", d, v) for d, v in BUSY_DAYS.items()] + [
    Signal(QUIET.id, "hf_upvotes", AS_OF - timedelta(days=2), 6),
    Signal(QUIET.id, "save", AS_OF, 2),
    Signal(LONE.id, "hf_upvotes", AS_OF, 3),
]


def _playwright() -> tuple[Any, str]:
    """The sync Playwright entry point and chromium's path, or a skip (a failure when the
    browser is required)."""
    required = os.environ.get("PAPERWIRE_TEST_REQUIRE_BROWSER") == "1"
    reason, executable = "", CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[dev]')"
    else:
        if not executable:
            reason = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if reason or not executable:
        if required:
            pytest.fail(f"PAPERWIRE_TEST_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return sync_playwright, executable


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory,
             models_dir: Path) -> Iterator[str]:
    """The app over a SQLite store with signals on several days, served on a free port."""
    home = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{home / 'paperwire.db'}"
    store = Store.open(url)
    store.write_batch([BUSY, QUIET, LONE], SIGNALS)
    settings = Settings(home=home, database_url=url, models_dir=models_dir)
    with served(create_app(Paperwire(settings, store))) as url:
        yield url
    store.close()


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    """A chromium page; tests ask for it before ``base_url``, so a skip starts no server."""
    sync_playwright, executable = _playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1000, "height": 900})
        finally:
            browser.close()


def test_paper_page_draws_the_signal_chart(page: Any, base_url: str) -> None:
    response = page.goto(f"{base_url}/papers/{BUSY.id}")
    assert response.status == 200
    chart = page.locator("svg.signal-chart")
    assert chart.count() == 1
    chart.wait_for(state="visible")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50
    bars = chart.locator("g.bar")
    assert bars.count() == len(BUSY_DAYS)  # one bar per day with signals, gaps elsewhere
    assert chart.get_attribute("data-days") == "10"
    label = "Hugging Face upvotes per day, 4 Jun – 13 Jun 2025, peak 38 on 10 Jun"
    assert chart.get_attribute("role") == "img"
    assert chart.get_attribute("aria-label") == label
    assert page.get_by_role("img", name=label).count() == 1  # what a screen reader is told
    heights = {}
    for i in range(bars.count()):
        bar = bars.nth(i)
        bar_box = bar.bounding_box()
        assert bar_box is not None and bar_box["width"] > 0 and bar_box["height"] > 0
        heights[bar.get_attribute("data-day")] = bar_box["height"]
    peak = (AS_OF - timedelta(days=3)).isoformat()
    assert max(heights, key=lambda d: heights[d]) == peak
    low = (AS_OF - timedelta(days=9)).isoformat()
    assert heights[peak] / heights[low] == pytest.approx(38 / 4, rel=0.05)
    # the chart sits above the table of the same signals
    table = page.locator("section.signals table").bounding_box()
    assert table is not None and box["y"] + box["height"] <= table["y"]


def test_stacked_chart_for_several_sources(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/papers/{QUIET.id}")
    chart = page.locator("svg.signal-chart")
    assert chart.get_attribute("aria-label", timeout=5000).startswith("Weighted signal per day")
    assert chart.locator("g.bar").count() == 2
    assert page.locator("figure.chart figcaption").inner_text().count("×") == 2  # the legend


def test_trending_page_has_a_visible_sparkline_per_entry(page: Any, base_url: str) -> None:
    response = page.goto(f"{base_url}/?window=month&date={AS_OF.isoformat()}")
    assert response.status == 200
    entries = page.locator("ol.trending > li")
    assert entries.count() == 3
    for i in range(entries.count()):
        spark = entries.nth(i).locator("svg.spark")
        assert spark.count() == 1
        assert spark.is_visible()
        box = spark.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
        assert spark.locator("rect").count() == 30  # a bar per day of the month window
    assert page.title() == "Trending papers (month) · Paperwire"
    assert entries.first.locator("a.title").inner_text() == BUSY.title  # escaped, shown as text
    # the feeds are announced in the head for the current view
    alternates = page.locator('head link[rel="alternate"]')
    assert alternates.count() == 2
    assert alternates.first.get_attribute("href") == "/feeds/trending.atom?window=month"

"""Browsing the trending views like Hugging Face Papers, on real Hugging Face daily-papers
files: previous / next window, a day picked, the top of the period, pages past 30, and
the answers checked against sums computed here from the raw files."""

from __future__ import annotations

import html as htmllib
import re
from collections import defaultdict
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper, Signal
from paperwire.store import Store
from paperwire.web.app import create_app
from test_hub import DAYS, RAW  # the raw files, read without Paperwire's code

AS_OF = date(2025, 6, 13)
WINDOW_DAYS = {"day": 1, "week": 7, "month": 30}
MIN_EVIDENCE, MAX_AGE_DAYS = 2, 30  # the documented constants (/about/trending)


@pytest.fixture
def client(settings: Settings, store: Store) -> TestClient:
    app = Paperwire(settings, store)
    app.import_files([DAYS], fmt="hf")
    return TestClient(create_app(app))


def link(page: str, cls: str) -> str | None:
    found = re.search(rf'<a class="{cls}"[^>]*href="([^"]+)"', page)
    return htmllib.unescape(found[1]) if found else None


def as_of(page: str) -> str:
    found = re.search(r'id="pick-date" name="date"[^>]*value="([^"]+)"', page)
    assert found, "the date picker shows the day of the view"
    return found[1]


def listed(page: str) -> list[tuple[int, str]]:
    body = page.split('<ol class="trending">', 1)[1].split("</ol>", 1)[0]
    return [(int(r), pid) for r, pid in re.findall(
        r'<span class="rank">(\d+)</span>\s*<div class="body">\s*'
        r'<a class="title" href="/papers/([^"]+)">', body)]


def totals(window: str, day: date) -> dict[str, float]:
    """The window's undecayed upvotes per listed paper, from the raw files."""
    start = day - timedelta(days=WINDOW_DAYS[window] - 1)
    total: dict[str, float] = defaultdict(float)
    for (pid, d), value in RAW.upvotes.items():
        if start <= d <= day:
            total[pid] += value
    oldest = start - timedelta(days=MAX_AGE_DAYS)
    return {pid: t for pid, t in total.items()
            if t >= MIN_EVIDENCE and RAW.published[pid] >= oldest}


@pytest.mark.parametrize("window", ["day", "week", "month"])
def test_previous_and_next_land_on_the_adjacent_window(client: TestClient, window: str) -> None:
    here = client.get(f"/?window={window}&date={AS_OF}").text
    assert as_of(here) == AS_OF.isoformat()
    prev_url = link(here, "prev")
    assert prev_url
    before = client.get(prev_url)
    assert before.status_code == 200
    assert as_of(before.text) == (AS_OF - timedelta(days=WINDOW_DAYS[window])).isoformat()
    assert f"window={window}" in prev_url
    assert link(before.text, "next") == f"/?window={window}&date={AS_OF}"
    # the newest day with data has no next window; the form picks any day
    newest = max(RAW.listed)
    last = client.get(f"/?window={window}&date={newest}").text
    assert link(last, "next") is None
    assert '<form class="pick-date" action="/" method="get">' in last
    assert f'<input type="hidden" name="window" value="{window}">' in last
    # the first day there is has no previous window (its link would be a 400)
    first = client.get(f"/?window={window}&date=1900-01-01")
    assert first.status_code == 200 and link(first.text, "prev") is None


@pytest.mark.parametrize("window", ["week", "month"])
def test_top_of_the_period_is_ordered_by_the_window_total(client: TestClient,
                                                          window: str) -> None:
    expected = totals(window, AS_OF)
    seen: list[str] = []
    url: str | None = f"/?window={window}&date={AS_OF}&order=top"
    while url:
        page = client.get(url).text
        assert 'aria-current="page">Top of the period</a>' in page
        seen += [pid for _, pid in listed(page)]
        url = link(page, "later")
    assert sorted(seen) == sorted(expected)
    got = [expected[pid] for pid in seen]
    assert got == sorted(got, reverse=True)
    trending = [pid for _, pid in listed(client.get(f"/?window={window}&date={AS_OF}").text)]
    assert trending != seen[:len(trending)], "decay orders the same papers differently"


def test_pages_walk_every_paper_once(client: TestClient) -> None:
    expected = totals("month", AS_OF)
    assert len(expected) > 60, "the fixture needs more than two pages"
    ranks: list[int] = []
    ids: list[str] = []
    url: str | None = f"/?window=month&date={AS_OF}"
    pages = 0
    while url:
        page = client.get(url).text
        pages += 1
        entries = listed(page)
        assert len(entries) <= 30
        ranks += [r for r, _ in entries]
        ids += [pid for _, pid in entries]
        nxt = link(page, "later")
        if nxt:
            back = link(client.get(nxt).text, "earlier")
            assert back == url
        url = nxt
    assert pages == -(-len(expected) // 30)
    assert ranks == list(range(1, len(expected) + 1))
    assert len(set(ids)) == len(ids) and set(ids) == set(expected)


@pytest.mark.parametrize("query", [
    "date=0001-01-01", "date=9999-12-31", "date=garbage", "date=2025-02-30",
    "p=0", "p=-1", "p=two", "p=100000", "order=best", "order=top&date=10000-01-01"])
def test_bad_browsing_parameters_are_a_400_page(client: TestClient, query: str) -> None:
    r = client.get(f"/?{query}")
    assert r.status_code == 400
    assert "text/html" in r.headers["content-type"] and "Bad request" in r.text


def test_every_entry_shows_its_categories_and_date(settings: Settings, store: Store) -> None:
    day = date(2025, 6, 10)
    papers = [Paper(id=f"2506.0000{i}", title=f"Paper {i}", categories=(f"cs.{c}", "stat.ML"),
                    primary_category=f"cs.{c}", published=day - timedelta(days=i))
              for i, c in enumerate(["CL", "LG", "CV"], start=1)]
    store.write_batch(papers, [Signal(p.id, "hf_upvotes", day, 5.0 + i)
                               for i, p in enumerate(papers)])
    page = TestClient(create_app(Paperwire(settings, store))).get(f"/?date={day}").text
    items = page.split('<ol class="trending">', 1)[1].split("</ol>", 1)[0].split("<li>")[1:]
    assert len(items) == 3
    for item in items:
        paper = next(p for p in papers if f'href="/papers/{p.id}"' in item)
        facts = item.split('<div class="facts">', 1)[1].split("</div>", 1)[0]
        assert re.findall(r'<span class="cat">([^<]+)</span>', facts) == [
            paper.primary_category, "stat.ML"]
        assert f'<time datetime="{paper.published}">' in facts


def test_about_trending_documents_the_top_of_the_period(client: TestClient) -> None:
    page = client.get("/about/trending").text
    assert "Top of the period" in page and "no decay" in page

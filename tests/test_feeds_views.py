"""The feeds of a search and of a category's new papers, read by feedparser (strict XML
first, so ``bozo == 0`` means well formed); the search feed holds exactly what the search page
lists newest first. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from html import unescape
from urllib.parse import urlencode

import feedparser
import pytest
from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.store import Store
from paperwire.web.app import create_app

BASE = "https://papers.example.org/pw"
DAY = date(2026, 6, 1)
MANY = tuple(f"Author {n}" for n in range(1, 61))


def paper(n: int, title: str, cats: tuple[str, ...], **kw: object) -> Paper:
    return Paper(id=f"2606.{n:05d}", title=title, abstract=f"Abstract {n} <b>bold</b> & more.",
                 authors=kw.pop("authors", ("Ada Lovelace",)),  # type: ignore[arg-type]
                 categories=cats, primary_category=cats[0],
                 published=DAY + timedelta(days=n % 28), **kw)  # type: ignore[arg-type]


SPARSE = [paper(n, f"Sparse retrieval with expansions, part {n}", ("cs.IR", "cs.CL"))
          for n in range(1, 26)]
HUGE = paper(26, "Sparse retrieval by a very large team", ("cs.IR",), authors=MANY)
CROSS = paper(27, "Sparse retrieval for code", ("cs.SE", "cs.IR"))
OTHER = paper(28, "Sparse retrieval in vision", ("cs.CV",))
DENSE = paper(29, "Dense retrieval only", ("cs.IR",))
OLD = Paper(id="hep-th/9901001", title="Strings", categories=("hep-th",),
            primary_category="hep-th", published=date(1999, 1, 4))
PAPERS = [*SPARSE, HUGE, CROSS, OTHER, DENSE, OLD]


@pytest.fixture
def client(settings: Settings, store: Store) -> TestClient:
    store.write_batch(PAPERS, [])
    return TestClient(create_app(Paperwire(replace(settings, base_url=BASE), store)))


def parsed(client: TestClient, url: str) -> feedparser.FeedParserDict:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def listed(html: str) -> list[str]:
    return re.findall(r'<a class="title" href="/papers/([^"]+)"', html)


@pytest.mark.parametrize(("query", "limit"), [
    ('cat:cs.IR "sparse retrieval"', None), ("sparse retrieval", "5"), ("cat:cs.IR", "100"),
    ("zzzz nothing", None),
])
def test_the_search_feed_lists_what_the_search_page_lists_newest_first(
        client: TestClient, query: str, limit: str | None) -> None:
    params = {"q": query, **({"limit": limit} if limit else {})}
    page = client.get("/search", params={**params, "sort": "date"})
    assert page.status_code == 200
    feed = parsed(client, "/feeds/search.atom?" + urlencode(params))
    ids = [e.link.rsplit("/papers/", 1)[1] for e in feed.entries]
    assert ids == listed(page.text)
    published = [e.published for e in feed.entries]
    assert published == sorted(published, reverse=True)
    if query.startswith("cat:cs.IR") and limit is None:
        assert len(ids) == 20 and OTHER.id not in ids
        assert all(e.link.startswith(BASE + "/papers/") for e in feed.entries)
    assert feed.feed.link == f"{BASE}/search?" + urlencode({"q": query, "sort": "date",
                                                           **({"limit": limit} if limit else {})})
    self_link = next(link.href for link in feed.feed.links if link.rel == "self")
    assert self_link == f"{BASE}/feeds/search.atom?" + urlencode(params)


def test_a_long_author_list_is_capped(client: TestClient) -> None:
    feed = parsed(client, "/feeds/search.atom?" + urlencode({"q": "very large team"}))
    [entry] = feed.entries
    names = [a.name for a in entry.authors]
    assert names == [*MANY[:10], "et al."]
    assert entry.summary == "Abstract 26 <b>bold</b> & more."  # plain text, escaped in XML


def test_the_category_feed_lists_its_newest_papers(client: TestClient) -> None:
    feed = parsed(client, "/feeds/category/cs.IR.atom")
    ids = [e.link.rsplit("/papers/", 1)[1] for e in feed.entries]
    in_ir = [p for p in PAPERS if "cs.IR" in p.categories]
    newest = sorted(in_ir, key=lambda p: (p.published, p.id), reverse=True)
    assert ids == [p.id for p in newest]  # primary and cross-list (CROSS), not OTHER
    assert CROSS.id in ids and OTHER.id not in ids
    assert feed.feed.title == "Paperwire · new in cs.IR"
    assert feed.feed.link == f"{BASE}/search?" + urlencode({"q": "cat:cs.IR", "sort": "date"})
    old = parsed(client, "/feeds/category/hep-th.atom")
    assert [e.id for e in old.entries] == ["https://arxiv.org/abs/hep-th/9901001"]
    empty = parsed(client, "/feeds/category/math.AG.atom")
    assert empty.entries == [] and empty.feed.updated


@pytest.mark.parametrize("url", [
    "/feeds/search.atom", "/feeds/search.atom?q=%20", "/feeds/search.atom?q=-cat:cs.CV",
    "/feeds/search.atom?q=after:2026-13", "/feeds/search.atom?q=x&limit=0",
    "/feeds/search.atom?q=2606.3053x", "/feeds/category/cs..IR!.atom",
    "/feeds/category/%3Cscript%3E.atom",
])
def test_bad_feed_requests_are_a_clear_400(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400, (url, response.status_code)
    assert "went wrong" not in response.text


def test_pages_advertise_their_feeds(client: TestClient) -> None:
    query = 'cat:cs.IR "sparse retrieval"'
    page = client.get("/search", params={"q": query}).text
    href = "/feeds/search.atom?" + urlencode({"q": query})
    links = re.findall(r'<link rel="alternate" type="application/atom\+xml"[^>]*href="([^"]+)"',
                       page)
    assert [unescape(h) for h in links] == [href]
    assert f'<a href="{href}"'.replace("&", "&amp;") in page
    home = client.get("/?cat=cs.IR").text
    assert 'href="/feeds/category/cs.IR.atom"' in home
    assert re.search(r'<link rel="alternate" type="application/atom\+xml" title="New in cs.IR'
                     r' \(Atom\)" href="/feeds/category/cs.IR.atom">', home)
    assert "/feeds/category/" not in client.get("/").text


def test_a_search_that_cannot_be_a_feed_advertises_none(client: TestClient) -> None:
    for query in ("2606.99999", "2606.3053x", "-cat:cs.CV"):
        page = client.get("/search", params={"q": query})
        assert page.status_code in (400, 404)
        assert "/feeds/search.atom" not in page.text
    limited = client.get("/search", params={"q": "sparse", "limit": "5"}).text
    assert 'href="/feeds/search.atom?q=sparse&amp;limit=5"' in limited

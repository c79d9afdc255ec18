"""Every stored paper id round-trips through the site's own links: path-like and odd BEIR ids
(``../``, ``?``, ``#``, ``%``, ``//``) imported by the real importer, linked from search
results and the JSON API, and followed the way a browser resolves a link, against the app
served by uvicorn on a loopback port (Starlette's TestClient decodes paths twice, so it
cannot tell ``%252e`` from ``%2e``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from live_server import served
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.importers import run_import
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.common import paper_path

ODD_IDS = [
    "../../../etc/passwd", "a/../../b", "./x", "x/.", "..", "a?b=1#frag", "100%",
    "%2e%2e%2f", "%252F", "a//b", "trailing/", "back\\slash", "semi;colon", "quote\"'<>",
    "ü é", "+plus&amp",
]


@pytest.fixture
def site(settings: Settings, store: Store, tmp_path: Path) -> Iterator[str]:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(
        json.dumps({"_id": doc_id, "title": f"Document zq{n}x about retrieval",
                    "text": f"Body of document {n}."}) + "\n"
        for n, doc_id in enumerate(ODD_IDS)))
    report = run_import(store, [corpus], progress=False)
    assert report.ok and report.papers.new == len(ODD_IDS), report.to_dict()
    with served(create_app(Paperwire(settings, store))) as url:
        yield url


def follow(http: httpx.Client, page_url: str, href: str) -> str:
    """GET ``href`` as a browser would from ``page_url``: resolved (dot segments removed),
    then sent as it is, without re-encoding."""
    target = urlsplit(urljoin(page_url, unescape(href)))
    raw = target.path + (f"?{target.query}" if target.query else "")
    url = httpx.URL(page_url).copy_with(raw_path=raw.encode("ascii"))
    response = http.get(url)
    assert response.status_code == 200, (href, raw, response.status_code)
    return response.text


def test_odd_ids_round_trip_through_every_link(site: str) -> None:
    with httpx.Client(timeout=30) as http:
        for n, odd in enumerate(ODD_IDS):
            pid = f"beir:{odd}"
            title = f"Document zq{n}x about retrieval"
            assert title in follow(http, site + "/", paper_path(pid))
            page_url = f"{site}/search?q=zq{n}x&mode=lexical"
            html = http.get(page_url).text
            hrefs = re.findall(r'<a class="title" href="([^"]*)"', html)
            assert len(hrefs) == 1, (pid, html)
            assert title in follow(http, page_url, hrefs[0])
            [result] = http.get(f"{site}/api/search?q=zq{n}x&mode=lexical").json()["results"]
            assert result["id"] == pid
            assert title in follow(http, site + "/", urlsplit(result["url"]).path)
            paper = http.get(httpx.URL(site).copy_with(
                raw_path=("/api" + paper_path(pid)).encode("ascii")))
            assert paper.status_code == 200 and paper.json()["id"] == pid


def test_feeds_and_digests_link_papers_the_same_way() -> None:
    from paperwire.web.feeds import paper_link

    for odd in ODD_IDS:
        pid = f"beir:{odd}"
        assert paper_link("http://x", pid) == "http://x" + paper_path(pid)
        assert "/" not in paper_path(pid).removeprefix("/papers/")
    assert paper_path("hep-th/9901001") == "/papers/hep-th/9901001"
    assert paper_path("2501.00001") == "/papers/2501.00001"


def test_trending_json_links_odd_ids_the_same_way(store: Store) -> None:
    """``/api/trending`` and ``paperwire trending --json`` share trending_json's ``url``."""
    from datetime import date

    from paperwire.app import trending_json
    from paperwire.listings import trending_view
    from paperwire.models import Paper, Signal

    day = date(2026, 6, 10)
    odd = [f"beir:{x}" for x in ODD_IDS]
    store.write_batch([Paper(id=pid, title=f"Odd {n}", published=day)
                       for n, pid in enumerate(odd)],
                      [Signal(pid, "hf_upvotes", day, 5 + n) for n, pid in enumerate(odd)])
    doc = trending_json(trending_view(store, "week", requested=day, limit=50), "http://x")
    urls = {e["id"]: e["url"] for e in doc["entries"]}
    assert set(urls) == set(odd)
    assert all(url == "http://x" + paper_path(pid) for pid, url in urls.items())

"""A paper's page as a reader and a link preview see it: math rendered (MathML), long
author lists folded, author links to ``author:`` searches, a BibTeX entry to copy or
download, and the description / OpenGraph tags (absolute URLs from the configured base URL,
never from the request's Host). Papers are real records from the bundled arXiv data."""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import bibtexparser
import pytest
from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.parsing.formats import Context, parse_arxiv
from paperwire.store import Store
from paperwire.web.app import create_app
from test_texts import DEMO, demo_record

BASE = "https://papers.example.org"
MATH_ID = "2606.16093"  # ($O(N^2)$), 24\%, \textit{Parallel Hybrid Architecture (PHA)}
TITLE_MATH_ID = "2606.16396"  # SP$^3$: Spherical Priors …
SP3 = "SP³: Spherical Priors for Plug-and-Play Restoration"
CROWD_ID = "2606.19704"  # 61 authors


def demo_paper(arxiv_id: str) -> Paper:
    paper, _ = parse_arxiv(demo_record(arxiv_id), Context(DEMO))
    assert paper is not None
    return paper


@pytest.fixture
def client(settings: Settings, store: Store) -> TestClient:
    store.write_batch([demo_paper(i) for i in (MATH_ID, TITLE_MATH_ID, CROWD_ID)])
    app = Paperwire(replace(settings, base_url=BASE), store)
    return TestClient(create_app(app), base_url="http://evil.example")


def meta(html: str, attr: str, name: str) -> str:
    found = re.findall(rf'<meta {attr}="{re.escape(name)}" content="([^"]*)">', html)
    assert len(found) == 1, (name, found)
    return htmllib.unescape(found[0])


def test_math_in_the_abstract_and_title_is_mathml(client: TestClient) -> None:
    page = client.get(f"/papers/{MATH_ID}").text
    assert "<msup><mi>N</mi><mn>2</mn></msup>" in page
    assert '<annotation encoding="application/x-tex">O(N^2)</annotation>' in page
    assert "24% higher throughput" in page and "24\\%" not in page
    assert "<i>Parallel Hybrid Architecture (PHA)</i>" in page
    titled = client.get(f"/papers/{TITLE_MATH_ID}").text
    assert re.search(r"<h1>SP<math[^>]*>.*<mn>3</mn>.*</math>: Spherical Priors", titled)
    assert f"<title>{SP3} · Paperwire</title>" in titled


def test_description_and_open_graph(client: TestClient) -> None:
    page = client.get(f"/papers/{MATH_ID}").text
    url = f"{BASE}/papers/{MATH_ID}"
    assert meta(page, "property", "og:url") == url and "evil.example" not in page
    assert f'<link rel="canonical" href="{url}">' in page
    assert meta(page, "property", "og:type") == "article"
    title = meta(page, "property", "og:title")
    assert title == demo_record(MATH_ID)["title"]
    description = meta(page, "name", "description")
    assert description == meta(page, "property", "og:description")
    assert description.startswith(demo_record(MATH_ID)["summary"].split()[0])
    assert 100 <= len(description) <= 200 and description.endswith("…")
    sp3 = client.get(f"/papers/{TITLE_MATH_ID}").text
    assert meta(sp3, "property", "og:title") == SP3


def test_description_is_plain_text(client: TestClient, store: Store) -> None:
    paper = replace(demo_paper(MATH_ID), id="2606.99999", abstract=(
        "Attention scales as $O(N^2)$ \\textit{quadratically}; we cut 24\\% <b>now</b>."))
    store.write_batch([paper])
    description = meta(client.get("/papers/2606.99999").text, "name", "description")
    assert description == "Attention scales as O(N²) quadratically; we cut 24% <b>now</b>."


def test_long_author_list_folds_into_details(client: TestClient) -> None:
    authors = demo_paper(CROWD_ID).authors
    assert len(authors) == 61
    page = client.get(f"/papers/{CROWD_ID}").text
    block = re.search(r'<div class="authors full">(.*?)</div>', page, re.S)
    assert block is not None
    shown, _, folded = block.group(1).partition('<details class="more-authors">')
    assert re.findall(r">([^<>]+)</a>", shown) == list(authors[:8])
    assert "<summary>… and 53 more</summary>" in folded
    assert re.findall(r">([^<>]+)</a>", folded) == list(authors[8:])


def test_short_author_list_is_not_folded(client: TestClient) -> None:
    page = client.get(f"/papers/{MATH_ID}").text
    assert "more-authors" not in page
    authors = demo_paper(MATH_ID).authors
    assert all(f">{htmllib.escape(name)}</a>" in page for name in authors)


def test_author_links_search_for_the_author(client: TestClient) -> None:
    paper = demo_paper(CROWD_ID)
    page = client.get(f"/papers/{CROWD_ID}").text
    name = paper.authors[-1]
    link = re.search(rf'<a href="([^"]+)">{re.escape(htmllib.escape(name))}</a>', page)
    assert link is not None
    href = htmllib.unescape(link.group(1))
    assert parse_qs(urlsplit(href).query)["q"] == [f'author:"{name}"']
    results = client.get(href).text
    assert f'href="/papers/{CROWD_ID}"' in results
    assert f'href="/papers/{MATH_ID}"' not in results


def test_bibtex_entry_to_copy_and_download(client: TestClient) -> None:
    paper = demo_paper(TITLE_MATH_ID)
    page = client.get(f"/papers/{TITLE_MATH_ID}").text
    pre = re.search(r'<pre class="bibtex"[^>]*>(.*?)</pre>', page, re.S)
    assert pre is not None and "<details class=\"cite\">" in page
    library = bibtexparser.parse_string(htmllib.unescape(pre.group(1)))
    assert not library.failed_blocks and len(library.entries) == 1
    entry = library.entries[0]
    assert entry["eprint"] == TITLE_MATH_ID and entry["archivePrefix"] == "arXiv"
    assert entry["title"] == "{SP$^3$: Spherical Priors for Plug-and-Play Restoration}"
    assert entry["author"].split(" and ") == list(paper.authors)
    download = client.get(f"/cite/{TITLE_MATH_ID}.bib")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/x-bibtex")
    assert download.headers["content-disposition"] == f'attachment; filename="{entry.key}.bib"'
    assert download.text == htmllib.unescape(pre.group(1))
    assert f'href="/cite/{TITLE_MATH_ID}.bib"' in page
    assert client.get("/cite/2699.99999.bib").status_code == 404


def test_page_with_math_keeps_its_security_policy(client: TestClient) -> None:
    r = client.get(f"/papers/{MATH_ID}")
    assert "script-src 'none'" in r.headers["content-security-policy"]
    assert "<script" not in r.text and " style=" not in r.text

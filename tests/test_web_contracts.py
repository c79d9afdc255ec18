"""What a visitor can type into the address bar: out-of-range dates, bad queries and limits,
unknown ids get a clear 4xx, never a 500; what pages promise exists (issue 10). On SQLite
and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from paperwire import trending
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper, Signal
from paperwire.store import Store
from paperwire.web.app import create_app

D = date(2026, 6, 10)
CL = Paper(id="2606.00001", title="Dense retrieval for question answering", authors=("Ada",),
           abstract="We retrieve passages with dense vectors.", categories=("cs.CL", "cs.IR"),
           primary_category="cs.CL", published=D - timedelta(days=3))
CV = Paper(id="2606.00002", title="Diffusion models for images", authors=("Grace",),
           abstract="A diffusion model draws images.", categories=("cs.CV",),
           primary_category="cs.CV", published=D - timedelta(days=2))
IR = Paper(id="2606.00003", title="Sparse retrieval with learned weights", authors=("Alan",),
           abstract="Sparse lexical retrieval.", categories=("cs.IR",), primary_category="cs.IR",
           published=D - timedelta(days=1))
# a cross-list into cs.IR whose primary category is listed after it in the JSON list
LG = Paper(id="2606.00004", title="Learning to rank, again", authors=("Emmy",),
           abstract="Ranking.", categories=("cs.LG", "cs.IR"), primary_category="cs.LG",
           published=D)


@pytest.fixture
def client(settings: Settings, store: Store) -> TestClient:
    store.write_batch([CL, CV, IR, LG], [Signal(CL.id, "hf_upvotes", D, 5),
                                         Signal(CV.id, "hf_upvotes", D, 3)])
    return TestClient(create_app(Paperwire(settings, store)), raise_server_exceptions=False)


# ---- dates out of range: 400 with the reason on every route that takes one ---------------

BAD_DAYS = ["0001-01-01", "1899-12-31", "2200-01-01", "9999-12-31"]
DATE_ROUTES = [
    "/?date={}", "/?window=day&date={}", "/?window=month&cat=cs.CL&date={}",
    "/feeds/trending.atom?date={}", "/feeds/trending.json?window=month&date={}",
    "/api/trending?date={}", "/api/trending?window=day&date={}",
]
QUERY_ROUTES = ["/search?q={}", "/api/search?q={}", "/api/search?sort=date&q={}"]
QUERIES = ["after:{}", "before:{}", "retrieval after:{}", "retrieval before:{}"]


@pytest.mark.parametrize("day", BAD_DAYS)
def test_an_out_of_range_date_is_a_400_on_every_route(client: TestClient, day: str) -> None:
    urls = [r.format(day) for r in DATE_ROUTES]
    urls += [r.format(q.format(day)) for r in QUERY_ROUTES for q in QUERIES]
    year = day[:4]
    urls += [r.format(f"year:{year}") for r in QUERY_ROUTES]
    urls += [r.format(f"after:{year}") for r in QUERY_ROUTES]
    for url in urls:
        r = client.get(url)
        assert r.status_code == 400, (url, r.status_code)
        text = r.json()["detail"] if url.startswith("/api/") else r.text
        assert "out of range" in text and "1900-01-01" in text and "2199-12-31" in text, url


def test_dates_at_the_edges_of_the_range_work(client: TestClient) -> None:
    for url in ["/?date=1900-01-01", "/?window=month&date=2199-12-31",
                "/api/trending?window=month&date=1900-01-01",
                "/feeds/trending.atom?date=2199-12-31",
                "/api/search?q=after:1900+before:2199-12-31"]:
        assert client.get(url).status_code == 200, url
    found = client.get("/api/search?q=retrieval+after:1900+before:2199&mode=lexical").json()
    assert {h["id"] for h in found["results"]} == {CL.id, IR.id}


# ---- search: a query error keeps the query; limits; unknown ids -----------------------


def test_a_query_error_shows_under_the_filled_search_box(client: TestClient) -> None:
    r = client.get("/search", params={"q": "-cat:cs.CV diffusion"})
    assert r.status_code == 400
    form = r.text.split('<form class="search big"', 1)[1].split("</form>", 1)[0]
    assert 'value="-cat:cs.CV diffusion"' in form and 'aria-invalid="true"' in form
    after = r.text.split("</form>", 2)[1]
    message = re.search(r'<p class="note search-error" id="search-error" role="alert">'
                        r"([^<]*)</p>", after)
    assert message and "cat:" in message[1]
    assert "Bad request" not in r.text and "No papers match" not in r.text
    bad_date = client.get("/search", params={"q": "retrieval before:2026-13"})
    assert bad_date.status_code == 400 and 'value="retrieval before:2026-13"' in bad_date.text
    assert "is not a date" in bad_date.text


@pytest.mark.parametrize("limit", ["0", "-1", "-100"])
def test_a_limit_below_one_is_a_400(client: TestClient, limit: str) -> None:
    api = client.get("/api/search", params={"q": "retrieval", "limit": limit})
    assert api.status_code == 400 and "at least 1" in api.json()["detail"]
    similar = client.get("/api/similar", params={"text": "retrieval", "limit": limit})
    assert similar.status_code == 400 and "at least 1" in similar.json()["detail"]
    page = client.get("/search", params={"q": "retrieval", "limit": limit})
    assert page.status_code == 400 and "at least 1" in page.text
    assert 'value="retrieval"' in page.text and 'name="limit"' not in page.text
    assert len(client.get("/api/search", params={"q": "retrieval", "limit": "1"})
               .json()["results"]) == 1


def test_similar_with_an_unknown_id_is_a_404(client: TestClient) -> None:
    r = client.get("/api/similar", params=[("id", "2601.99999")])
    assert r.status_code == 404 and "2601.99999" in r.json()["detail"]
    mixed = client.get("/api/similar", params=[("id", CL.id), ("id", "beir:nope")])
    assert mixed.status_code == 404 and "beir:nope" in mixed.json()["detail"]
    versioned = client.get("/api/similar", params=[("id", CL.id + "v2")])
    assert versioned.status_code == 200
    assert CL.id not in {h["id"] for h in versioned.json()["results"]}


# ---- the latest papers of a category include its cross-lists ---------------------------


def test_latest_papers_of_a_category_include_cross_lists(store: Store) -> None:
    store.write_batch([CL, CV, IR, LG], [])
    assert [p.id for p in store.latest_papers(10, category="cs.IR")] == [LG.id, IR.id, CL.id]
    assert [p.id for p in store.latest_papers(10, category="cs.CV")] == [CV.id]
    assert store.latest_papers(10, category="cs.I") == []  # a whole name, not a prefix


def test_home_without_trending_lists_cross_listed_papers(client: TestClient) -> None:
    quiet_day = D - timedelta(days=5)  # no signals that day: nothing trends
    html = client.get(f"/?window=day&cat=cs.IR&date={quiet_day.isoformat()}").text
    assert "No papers in cs.IR are stored yet" not in html
    latest = html.split("Latest papers", 1)[1]
    assert [m for m in re.findall(r'href="/papers/([^"]+)"', latest)
            if m.startswith("2606.")][:3] == [LG.id, IR.id, CL.id]


# ---- pages say only what exists: every source that counts, named -------------------------


def test_pages_name_every_source_that_counts(client: TestClient, settings: Settings,
                                             store: Store) -> None:
    """Upvotes and saves here are real sources (weight 1 and 2 by default): the home page
    and /about/trending name them; a source weighed 0 or left out is named nowhere."""
    assert settings.trending_weights["upvote"] == 1.0 and settings.trending_weights["save"] == 2.0
    home = client.get(f"/?date={D.isoformat()}").text
    assert ("Ranked by recent Hugging Face upvotes, upvotes here, saves here and clicks from "
            "digests, weighted") in home
    about = client.get("/about/trending").text
    for source, label, weight in (("hf_upvotes", "upvotes on Hugging Face", "1"),
                                  ("upvote", "upvotes here", "1"), ("save", "saves here", "2"),
                                  ("digest_click", "clicks from digests", "0.5")):
        assert re.search(rf'<code>{source}</code></td><td>{label}</td><td class="num">{weight}<',
                         about), source
    assert "12 upvotes here, 80 on Hugging Face" in " ".join(about.split())  # the formula's doc
    assert all(s in trending.PRODUCED_SOURCES for s in ("hf_upvotes", "upvote", "save"))
    local_off = replace(settings, trending_weights={"hf_upvotes": 1.0, "upvote": 0.0,
                                                    "digest_click": 0.5})
    home = TestClient(create_app(Paperwire(local_off, store))).get(f"/?date={D.isoformat()}").text
    assert "Ranked by recent Hugging Face upvotes and clicks from digests, weighted" in home
    about = TestClient(create_app(Paperwire(local_off, store))).get("/about/trending").text
    assert "<code>save</code>" not in about
    hf_only = replace(settings, trending_weights={"hf_upvotes": 1.0})
    home = TestClient(create_app(Paperwire(hf_only, store))).get(f"/?date={D.isoformat()}").text
    assert "Ranked by recent Hugging Face upvotes, weighted" in home


def test_trending_shows_local_upvotes_apart_and_no_fake_vote_pill(
        client: TestClient, store: Store) -> None:
    """The side of an entry is plain text naming Hugging Face (no '▲ n' pill that looks like
    a button); local upvotes are their own part of the score and come first in the reason."""
    store.write_batch([], [Signal(CV.id, "upvote", D, 4)])
    html = client.get(f"/?date={D.isoformat()}").text
    controls = re.compile(r'<(a|button) [^>]*class="act vote".*?</(a|button)>', re.S)
    assert html.count("▲") == len(controls.findall(html)) == 2  # only in the real controls
    assert "▲" not in controls.sub("", html) and 'class="votes"' not in html
    assert '<span class="hf-count">5 upvotes on Hugging Face</span>' in html
    assert '<span class="hf-count">3 upvotes on Hugging Face</span>' in html
    text = " ".join(html.split())
    assert "4 upvotes here, 3 on Hugging Face on" in text
    assert ("score 7.00 = 4.00 from 4 upvotes here (×1) + 3.00 from 3 upvotes on Hugging Face"
            in text)
    api = client.get(f"/api/trending?date={D.isoformat()}").json()
    [cv] = [e for e in api["entries"] if e["id"] == CV.id]
    assert {p["source"]: p["count"] for p in cv["parts"]} == {"upvote": 4, "hf_upvotes": 3}

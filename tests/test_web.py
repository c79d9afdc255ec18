"""The web app: pages, JSON API, escaping and errors, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from paperwire import trending
from paperwire.config import Settings
from paperwire.models import Paper, Signal
from paperwire.services import utcnow
from paperwire.store import Store, db
from paperwire.web.app import create_app, fmt_date, keep_dates, paragraphs, shorten

TODAY = utcnow().date()
D = TODAY - timedelta(days=10)  # the newest signal day: older than today, so data is stale
HF = "hf_upvotes"

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
SCRIPT_ESC = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG_ESC = "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;"

MID = Paper(
    id="2501.00001",
    title="Sparse Transformers for Protein Folding",
    abstract="We fold proteins.\n\nA second paragraph with $\\alpha < \\beta$ LaTeX.",
    authors=("Ada Lovelace", "Emmy Noether", "Alan Turing", "Grace Hopper", "Kurt Gödel"),
    categories=("cs.LG", "q-bio.BM"),
    primary_category="q-bio.BM",
    version=2,
    published=D - timedelta(days=20),
    updated=D - timedelta(days=5),
    comment="12 pages, 3 figures",
    journal_ref="J. Folding 7 (2025) 1-12",
    doi="10.1000/fold.1",
)
NEW = Paper(id="2501.00002", title="Diffusion Models for Weather", authors=("Lewis Fry",),
            categories=("cs.LG",), primary_category="cs.LG", published=D - timedelta(days=2))
OLD = Paper(id="2412.09999", title="Quantum Widgets at Scale", authors=("Marie Curie",),
            categories=("quant-ph",), primary_category="quant-ph",
            published=D - timedelta(days=25))
OLDSTYLE = Paper(id="hep-th/9901001", title="Strings on Orbifolds", authors=("Ed Witten",),
                 categories=("hep-th",), primary_category="hep-th", published=date(1999, 1, 4))
BEIR = Paper(id="beir:4983", title="Microstructural development of human brain white matter",
             abstract="Alterations of the architecture of cerebral white matter.")
EVIL = Paper(id="2501.06666", title=f"Evil {SCRIPT} title {IMG}",
             abstract=f"Abstract {SCRIPT} and {IMG} here.",
             authors=(f"Mallory {SCRIPT}", f"Eve {IMG}"), categories=("cs.CR",),
             primary_category="cs.CR", published=D - timedelta(days=1),
             comment=f"comment {SCRIPT}")


def sig(paper: Paper, day: date, value: float) -> Signal:
    return Signal(paper.id, HF, day, value)


# Rankings as of D:
#   day:   NEW (5) > MID (3)
#   week:  MID (10·2^-1 + 3 = 8) > NEW (5)
#   month: OLD (100·2^-2 = 25) > MID (≈11.1) > NEW (5)
SIGNALS = [sig(OLD, D - timedelta(days=20), 100), sig(MID, D - timedelta(days=3), 10),
           sig(MID, D, 3), sig(NEW, D, 5)]


@pytest.fixture
def client(settings: Settings, store: Store) -> TestClient:
    store.write_batch([MID, NEW, OLD, OLDSTYLE, BEIR], SIGNALS)
    return TestClient(create_app(settings, store))


def plain(html: str) -> str:
    """The page without the spans that keep dates on one line."""
    return re.sub(r'<span class="nowrap">([^<]*)</span>', r"\1", html)


def trending_ids(html: str) -> list[str]:
    listing = html.split('<ol class="trending">', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'<a class="title" href="/papers/([^"]+)">', listing)


# ---- home / trending ---------------------------------------------------------------------


def test_home_lists_trending_in_order_with_reasons_and_stale_note(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    html = plain(r.text)
    assert trending_ids(html) == [MID.id, NEW.id]  # default window: week
    assert f"#1 this week: 13 upvotes on Hugging Face from {D - timedelta(days=3)} to {D}" in html
    assert f"#2 this week: 5 upvotes on Hugging Face on {D}" in html
    assert f"The newest signals are from {D.isoformat()}" in html
    assert '<p class="note"' in html
    assert "Ada Lovelace, Emmy Noether, Alan Turing et al." in html
    assert "Grace Hopper" not in html  # only the first few authors on the list
    assert 'action="/search"' in html and 'href="/about/trending"' in html
    assert "<title>Trending papers · Paperwire</title>" in html
    assert OLD.title not in html  # outside the week


def test_window_tabs_change_the_ranking(client: TestClient) -> None:
    day = client.get("/?window=day").text
    month = plain(client.get("/?window=month").text)
    assert trending_ids(day) == [NEW.id, MID.id]
    assert trending_ids(month) == [OLD.id, MID.id, NEW.id]
    assert f"#1 this month: 100 upvotes on Hugging Face on {D - timedelta(days=20)}" in month
    assert re.search(r'<a href="/\?window=month" class="active"', month)
    assert re.search(r'<a href="/\?window=day" class="active"', day)


def test_as_of_date_parameter(client: TestClient) -> None:
    as_of = D - timedelta(days=3)
    html = client.get(f"/?window=day&date={as_of.isoformat()}").text
    assert trending_ids(html) == [MID.id]  # only MID has signal on that day
    assert "The newest signals are from" not in html  # data reaches the requested day
    assert f'href="/?window=month&amp;date={as_of.isoformat()}"' in html  # tabs keep the date


def test_fresh_data_has_no_note(settings: Settings, store: Store) -> None:
    store.write_batch([MID], [sig(MID, TODAY, 4)])
    html = TestClient(create_app(settings, store)).get("/?window=day").text
    assert trending_ids(html) == [MID.id]
    assert '<p class="note"' not in html


def test_home_falls_back_to_latest_papers(settings: Settings, store: Store) -> None:
    store.write_batch([MID, NEW, OLDSTYLE])
    html = TestClient(create_app(settings, store)).get("/").text
    assert "<h2>Latest papers</h2>" in html
    assert "No trending signals yet" in html
    assert html.index(NEW.title) < html.index(MID.title) < html.index(OLDSTYLE.title)
    assert '<ol class="trending">' not in html


@pytest.mark.parametrize(
    "query", ["window=year", "window=", "date=yesterday", "date=2025-13-01", "date=20250101"]
)
def test_bad_window_or_date_is_400(client: TestClient, query: str) -> None:
    r = client.get(f"/?{query}")
    assert r.status_code == 400
    assert "text/html" in r.headers["content-type"]
    assert "Bad request" in r.text and ("window" in r.text or "YYYY-MM-DD" in r.text)
    api = client.get(f"/api/trending?{query}")
    assert api.status_code == 400
    assert "detail" in api.json()


# ---- search ------------------------------------------------------------------------------


def test_search_by_title_word_and_author(client: TestClient) -> None:
    r = client.get("/search?q=protein")
    assert r.status_code == 200
    assert f'href="/papers/{MID.id}"' in r.text
    assert "1 result for “protein”" in r.text
    assert "q-bio.BM" in r.text and fmt_date(MID.published) in r.text
    assert "We fold <b>proteins</b>." in r.text  # the match is highlighted, stemmed
    by_author = client.get("/search?q=Witten").text
    assert 'href="/papers/hep-th/9901001"' in by_author
    assert MID.title not in by_author


def test_search_syntax_sort_and_bad_queries(client: TestClient) -> None:
    only_cs_lg = client.get("/api/search", params={"q": "cat:cs.LG"}).json()["results"]
    assert {r["id"] for r in only_cs_lg} >= {MID.id, NEW.id}
    assert all("cs.LG" in r["categories"] for r in only_cs_lg)
    # filter-only: newest first
    assert [r["id"] for r in only_cs_lg][:2] == [NEW.id, MID.id]
    excluded = client.get("/api/search", params={"q": "cat:cs.LG -weather"}).json()["results"]
    assert NEW.id not in {r["id"] for r in excluded}
    bad = client.get("/search", params={"q": "after:2025-13-01 protein"})
    assert bad.status_code == 400 and "is not a date" in bad.text
    api_bad = client.get("/api/search", params={"q": "protein", "sort": "random"})
    assert api_bad.status_code == 400 and "sort" in api_bad.json()["detail"]
    page = client.get("/search", params={"q": "cat:cs.LG", "sort": "date"}).text
    assert "<strong>date</strong>" in page and "sort=relevance" in page


def test_search_empty_query_and_no_results(client: TestClient) -> None:
    empty = client.get("/search").text
    assert '<form class="search big"' in empty
    assert "result" not in empty and "No papers match" not in empty
    none = client.get("/search?q=zyzzyva").text
    assert "No papers match “zyzzyva”" in none


def test_search_limit(client: TestClient) -> None:
    html = client.get("/search?q=models+for&limit=1").text
    assert html.count('<li class="paper">') == 1
    assert client.get("/search?q=for&limit=500").status_code == 200  # clamped, not an error
    assert client.get("/search?q=for&limit=lots").status_code == 400
    assert len(client.get("/api/search?q=for&limit=1").json()["results"]) == 1


def test_search_trims_long_abstracts(settings: Settings, store: Store) -> None:
    long = Paper(id="2501.00100", title="Verbose", abstract="word " * 200)
    store.write_batch([long])
    html = TestClient(create_app(settings, store)).get("/search?q=verbose").text
    shown = re.search(r'<p class="abstract">([^<]*)</p>', html)
    assert shown is not None
    assert shown.group(1).endswith("…") and len(shown.group(1)) <= 301
    assert shorten("short text") == "short text"


# ---- paper page --------------------------------------------------------------------------


def test_paper_page_shows_fields_links_and_signals(client: TestClient) -> None:
    r = client.get(f"/papers/{MID.id}")
    assert r.status_code == 200
    html = r.text
    assert f"<title>{MID.title} · Paperwire</title>" in html
    assert ", ".join(MID.authors) in html  # all authors
    assert "<p>We fold proteins.</p>" in html
    assert "<p>A second paragraph with $\\alpha &lt; \\beta$ LaTeX.</p>" in html
    assert html.index(">q-bio.BM<") < html.index(">cs.LG<")  # primary category first
    assert "v2" in html and fmt_date(MID.published) in html and fmt_date(MID.updated) in html
    assert "12 pages, 3 figures" in html and "J. Folding 7 (2025) 1-12" in html
    assert 'href="https://doi.org/10.1000/fold.1"' in html
    assert 'href="https://arxiv.org/abs/2501.00001"' in html
    assert 'href="https://arxiv.org/pdf/2501.00001"' in html
    signal_rows = re.findall(r"<tr><td><time[^>]*>([^<]+)</time></td><td>[^<]+</td>"
                             r'<td class="num">([^<]+)</td></tr>', html)
    assert signal_rows == [(f"{D.day} {D:%b %Y}", "3"),
                           (f"{(D - timedelta(days=3)).day} {D - timedelta(days=3):%b %Y}", "10")]


def test_old_style_id_and_non_arxiv_id(client: TestClient) -> None:
    r = client.get("/papers/hep-th/9901001")
    assert r.status_code == 200
    assert OLDSTYLE.title in r.text
    assert 'href="https://arxiv.org/abs/hep-th/9901001"' in r.text
    beir = client.get("/papers/beir:4983")
    assert beir.status_code == 200 and BEIR.title in beir.text
    assert "arxiv.org" not in beir.text
    assert "No signals recorded" in beir.text


def test_versioned_id_redirects(client: TestClient) -> None:
    r = client.get("/papers/2501.00001v2", follow_redirects=False)
    assert r.status_code in (301, 308)
    assert r.headers["location"] == "/papers/2501.00001"
    old = client.get("/papers/hep-th/9901001v3", follow_redirects=False)
    assert old.headers["location"] == "/papers/hep-th/9901001"
    assert client.get("/papers/2501.00001v2").status_code == 200
    api = client.get("/api/papers/2501.00001v1", follow_redirects=False)
    assert api.headers["location"] == "/api/papers/2501.00001"


def test_unknown_paper_is_404(client: TestClient) -> None:
    for path in ("/papers/2501.99999", "/papers/nope:1", "/papers/2501.99999v2"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "Paper not found" in r.text
    api = client.get("/api/papers/2501.99999")
    assert api.status_code == 404 and "detail" in api.json()
    assert client.get("/no/such/page").status_code == 404


# ---- escaping ----------------------------------------------------------------------------


def assert_escaped(html: str) -> None:
    assert SCRIPT not in html and "<img src=x" not in html
    assert SCRIPT_ESC in html and IMG_ESC in html


def test_untrusted_text_is_escaped_everywhere(settings: Settings, store: Store) -> None:
    client = TestClient(create_app(settings, store))
    store.write_batch([EVIL])
    assert_escaped(client.get("/").text)  # latest-papers fallback
    store.write_batch([], [sig(EVIL, D, 50)])
    for path in ("/", "/?window=month", f"/papers/{EVIL.id}", "/search?q=evil"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert_escaped(r.text)
    paper = client.get(f"/papers/{EVIL.id}").text
    assert f"Mallory {SCRIPT_ESC}" in paper and f"comment {SCRIPT_ESC}" in paper
    assert f"<title>Evil {SCRIPT_ESC} title {IMG_ESC} · Paperwire</title>" in paper
    searched = client.get("/search", params={"q": f"{SCRIPT} {IMG}"}).text
    assert_escaped(searched)  # the echoed query
    bad = client.get("/", params={"window": SCRIPT})
    assert bad.status_code == 400 and SCRIPT not in bad.text and "&lt;script&gt;" in bad.text
    api = client.get(f"/api/papers/{EVIL.id}").json()
    assert api["title"] == EVIL.title  # JSON carries the raw text; it is not HTML


# ---- about, health, static ---------------------------------------------------------------


def test_about_trending_renders_the_code_docs(client: TestClient) -> None:
    html = client.get("/about/trending").text
    assert str(escape((trending.__doc__ or "").strip())) in html
    assert "<title>How trending works · Paperwire</title>" in html
    for name, (days, half_life) in trending.WINDOWS.items():
        assert re.search(rf">{name}</a></td><td class=\"num\">{days}</td>"
                         rf"<td class=\"num\">{half_life:g}</td>", html)
    assert f"<strong>{trending.MIN_EVIDENCE:g}</strong>" in html


def test_healthz(client: TestClient, store: Store, settings: Settings) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": store.dialect, "papers": 5}
    # a real unreachable database (nothing listens on port 1), not a patched method
    gone = Store(db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    down = TestClient(create_app(settings, gone)).get("/healthz")
    assert down.status_code == 503
    assert down.json()["status"] == "error"


def test_static_css_is_served(client: TestClient) -> None:
    r = client.get("/static/style.css")
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]
    assert '<link rel="stylesheet" href="/static/style.css">' in client.get("/").text


def test_app_opens_its_own_store(settings: Settings, store: Store) -> None:
    store.write_batch([MID])
    with TestClient(create_app(settings)) as own:
        assert own.get("/healthz").json()["papers"] == 1


# ---- JSON API ----------------------------------------------------------------------------


@pytest.mark.parametrize("window", ["day", "week", "month"])
def test_api_trending_matches_page(client: TestClient, window: str) -> None:
    page = plain(client.get(f"/?window={window}").text)
    data = client.get(f"/api/trending?window={window}").json()
    assert [e["id"] for e in data["entries"]] == trending_ids(page)
    assert [e["rank"] for e in data["entries"]] == list(range(1, len(data["entries"]) + 1))
    assert data["window"] == window
    assert data["as_of"] == D.isoformat() and data["requested"] == TODAY.isoformat()
    assert data["note"].startswith(f"The newest signals are from {D.isoformat()}")
    for e in data["entries"]:
        assert e["reason"] in page


def test_api_search_and_paper(client: TestClient, settings: Settings) -> None:
    data = client.get("/api/search?q=protein").json()
    assert data["query"] == "protein"
    [hit] = data["results"]
    assert hit["id"] == MID.id and hit["title"] == MID.title
    assert hit["authors"] == list(MID.authors)
    assert hit["categories"] == ["q-bio.BM", "cs.LG"]
    assert hit["published"] == str(MID.published) and hit["score"] > 0
    assert hit["url"] == f"{settings.base_url}/papers/{MID.id}"
    assert client.get("/api/search").json()["results"] == []
    paper = client.get("/api/papers/hep-th/9901001").json()
    assert paper["id"] == "hep-th/9901001" and paper["abs_url"].endswith("/abs/hep-th/9901001")
    full = client.get(f"/api/papers/{MID.id}").json()
    assert full["doi"] == MID.doi and full["updated"] == str(MID.updated)
    assert [s["value"] for s in full["signals"]] == [10, 3]


def test_keep_dates_escapes_first() -> None:
    expected = '&lt;b&gt; to <span class="nowrap">2025-01-01</span>'
    assert str(keep_dates("<b> to 2025-01-01")) == expected


def test_paragraphs() -> None:
    assert paragraphs("one\ntwo\n\nthree") == ["one two", "three"]
    arxiv_style = "  first line\nwrapped\n  Second para"
    assert paragraphs(arxiv_style) == ["first line wrapped", "Second para"]
    assert paragraphs("") == []


def test_server_error_is_a_page(settings: Settings, store: Store,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(store, "get_paper", boom)
    client = TestClient(create_app(settings, store), raise_server_exceptions=False)
    r = client.get("/papers/2501.00001")
    assert r.status_code == 500 and "Server error" in r.text and "boom" not in r.text
    api = client.get("/api/papers/2501.00001")
    assert api.status_code == 500 and "detail" in api.json()


def test_similar_papers_on_the_page_and_api(client: TestClient) -> None:
    """Without stored vectors the section falls back to words; it never lists the paper
    itself (the vector path is tested in test_dense_hybrid.py)."""
    page = client.get(f"/papers/{MID.id}").text
    if "Similar papers" in page:
        section = page.split("Similar papers", 1)[1]
        assert f'href="/papers/{MID.id}"' not in section
    api = client.get("/api/similar", params={"text": "weather diffusion models"}).json()
    assert api["results"][0]["id"] == NEW.id
    by_id = client.get("/api/similar", params=[("id", NEW.id)]).json()
    assert NEW.id not in {r["id"] for r in by_id["results"]}

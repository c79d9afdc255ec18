"""The web app: pages, JSON API, escaping and errors, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import event

from paperwire import trending
from paperwire.app import Paperwire
from paperwire.clock import utcnow
from paperwire.config import Settings
from paperwire.models import Paper, Signal
from paperwire.store import Store, db
from paperwire.web import health
from paperwire.web.app import create_app
from paperwire.web.common import fmt_date, keep_dates, paragraphs, shorten

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
    return TestClient(create_app(Paperwire(settings, store)))


def plain(html: str) -> str:
    """The page without the spans that keep dates on one line."""
    return re.sub(r'<span class="nowrap">([^<]*)</span>', r"\1", html)


def short_day(d: date) -> str:
    """How reasons name a day: 'Tue 10 Jun'."""
    return f"{d:%a} {d.day} {d:%b}"


def trending_ids(html: str) -> list[str]:
    listing = html.split('<ol class="trending">', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'<a class="title" href="/papers/([^"]+)">', listing)


# ---- home / trending ---------------------------------------------------------------------


def test_home_lists_trending_in_order_with_reasons_and_stale_note(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    html = plain(r.text)
    assert trending_ids(html) == [MID.id, NEW.id]  # default window: week
    since = short_day(D - timedelta(days=3))
    # the data stops before today: no paper is "#1 this week", each is dated
    week_to = f"in the week to {short_day(D)}"
    assert f"13 upvotes on Hugging Face since {since}; #1 {week_to}" in html
    assert re.search(r"5 upvotes on Hugging Face [^<;]+; #2 " + week_to + r", #1 in cs\.LG",
                     html)
    assert "this week" not in html
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
    old_day = short_day(D - timedelta(days=20))
    assert f"100 upvotes on Hugging Face on {old_day}; #1 in the 30 days to {short_day(D)}" \
        in month
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
    html = TestClient(create_app(Paperwire(settings, store))).get("/?window=day").text
    assert trending_ids(html) == [MID.id]
    assert '<p class="note"' not in html


def test_home_falls_back_to_latest_papers(settings: Settings, store: Store) -> None:
    store.write_batch([MID, NEW, OLDSTYLE])
    html = TestClient(create_app(Paperwire(settings, store))).get("/").text
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
    assert "1 paper matches “protein”" in r.text
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
    html = TestClient(create_app(Paperwire(settings, store))).get("/search?q=verbose").text
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
    assert all(f">{name}</a>" in html for name in MID.authors)  # all authors, as links
    assert "<p>We fold proteins.</p>" in html
    assert "<p>A second paragraph with <math" in html  # math as MathML, its TeX kept
    assert '<annotation encoding="application/x-tex">\\alpha &lt; \\beta</annotation>' in html
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
    client = TestClient(create_app(Paperwire(settings, store)))
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
    assert "Worked example" in html and "= 30.87" in html
    assert "<title>How trending works · Paperwire</title>" in html
    for name, (days, half_life) in trending.WINDOWS.items():
        assert re.search(rf">{name}</a></td><td class=\"num\">{days}</td>"
                         rf"<td class=\"num\">{half_life:g}</td>", html)
    assert f"<strong>{trending.MIN_EVIDENCE:g}</strong>" in html


def test_healthz(client: TestClient, store: Store, settings: Settings) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["database"], body["papers"]) == ("ok", store.dialect, 5)
    # a real unreachable database (nothing listens on port 1), not a patched method
    gone = Store(db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    down = TestClient(create_app(Paperwire(settings, gone))).get("/healthz")
    assert down.status_code == 503
    assert down.json()["status"] == "error"


def test_healthz_counts_the_papers_at_most_every_few_seconds(
        client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_rest: sent.append(statement.lower()))
    assert client.get("/healthz").json()["papers"] == 5
    store.write_batch([replace(MID, id="2501.09999")])
    sent.clear()
    again = client.get("/healthz")  # the count of a moment ago; the database still asked
    assert (again.status_code, again.json()["papers"]) == (200, 5)
    assert sent and not any("count(" in s for s in sent)
    monkeypatch.setattr(health, "COUNT_SECONDS", 0.0)
    assert client.get("/healthz").json()["papers"] == 6


def test_static_css_is_served(client: TestClient) -> None:
    r = client.get("/static/style.css")
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]
    # under its fingerprinted address (tests/test_web_caching.py)
    assert '<link rel="stylesheet" href="/static/style.css?v=' in client.get("/").text


def test_app_opens_its_own_store(settings: Settings, store: Store) -> None:
    store.write_batch([MID])
    with TestClient(create_app(Paperwire(settings))) as own:
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
    client = TestClient(create_app(Paperwire(settings, store)), raise_server_exceptions=False)
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


# ---- categories, weights, score parts and charts -------------------------------------------


def spark_days(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<svg class="spark"[^>]* data-days="(\d+)"', html)]


def test_api_trending_carries_parts_summing_to_score(client: TestClient,
                                                     settings: Settings) -> None:
    data = client.get("/api/trending", params={"window": "month"}).json()
    assert data["category"] is None
    assert [e["id"] for e in data["entries"]] == [OLD.id, MID.id, NEW.id]
    for e in data["entries"]:
        assert e["parts"], e["id"]
        assert sum(p["points"] for p in e["parts"]) == pytest.approx(e["score"], abs=1e-5)
        assert e["url"] == f"{settings.base_url}/papers/{e['id']}"
    mid = data["entries"][1]
    assert mid["parts"] == [{"source": HF, "count": 13.0, "weight": 1.0,
                             "points": pytest.approx(10 * 2 ** (-3 / 10) + 3)}]
    assert mid["series"] == [[(D - timedelta(days=3)).isoformat(), 10.0], [D.isoformat(), 3.0]]
    assert mid["primary_category"] == "q-bio.BM" and mid["category_rank"] == 1


def test_category_filter_on_page_and_api(client: TestClient) -> None:
    api = client.get("/api/trending", params={"window": "month", "cat": "cs.LG"}).json()
    assert api["category"] == "cs.LG"
    assert [e["id"] for e in api["entries"]] == [MID.id, NEW.id]  # OLD is quant-ph
    assert api["entries"][0]["reason"].endswith(f"#1 in cs.LG in the 30 days to {short_day(D)}")
    html = plain(client.get("/?window=month&cat=cs.LG").text)
    assert trending_ids(html) == [MID.id, NEW.id]
    assert '<h1>Trending papers in <span class="cat-name">cs.LG</span></h1>' in html
    assert '<a href="/?window=month">all categories</a>' in html
    # the window tabs keep the category, and the category links keep the window
    assert '<a href="/?window=day&amp;cat=cs.LG">Day</a>' in html
    assert re.search(r'<a href="/\?window=month&amp;cat=cs.LG" class="active"', html)
    assert "<title>Trending papers in cs.LG (month) · Paperwire</title>" in html
    empty = client.get("/?cat=astro-ph.GA").text
    assert '<ol class="trending">' not in empty
    assert "<h2>Latest papers in astro-ph.GA</h2>" in empty
    assert "No papers in astro-ph.GA are stored yet." in empty
    hyphen = client.get("/api/trending", params={"window": "month", "cat": "quant-ph"}).json()
    assert [e["id"] for e in hyphen["entries"]] == [OLD.id]


@pytest.mark.parametrize("cat", ["CS.CL", "cs..CL", "cs.CL;x", "cs CL", "<script>", "cs.", "1.2"])
def test_bad_category_is_400(client: TestClient, cat: str) -> None:
    for path in ("/", "/api/trending", "/feeds/trending.atom", "/feeds/trending.json"):
        r = client.get(path, params={"cat": cat})
        assert r.status_code == 400, (path, cat)
        if path.startswith("/api/") or path.endswith(".json"):  # JSON errors
            assert r.headers["content-type"] == "application/json"
            assert "Invalid category" in r.json()["detail"]
        else:
            assert "Invalid category" in r.text and "like cs.CL" in r.text
            assert "<script>" not in r.text


def test_feed_links_in_head_and_page(client: TestClient) -> None:
    html = client.get("/?window=day&cat=cs.LG&date=" + D.isoformat()).text
    head = html.split("</head>", 1)[0]
    assert ('<link rel="alternate" type="application/atom+xml" title="Paperwire · trending '
            'today in cs.LG (Atom)" href="/feeds/trending.atom?window=day&amp;cat=cs.LG">') in head
    assert ('type="application/feed+json" title="Paperwire · trending today in cs.LG (JSON Feed)"'
            ' href="/feeds/trending.json?window=day&amp;cat=cs.LG">') in head
    body = html.split("</head>", 1)[1]
    assert '<a href="/feeds/trending.atom?window=day&amp;cat=cs.LG"' in body
    assert f'<a href="/api/trending?window=day&amp;cat=cs.LG&amp;date={D}">JSON API</a>' in body
    for url in re.findall(r'href="(/feeds/[^"]+)"', html):
        assert client.get(url.replace("&amp;", "&")).status_code == 200


def test_score_line_and_sparklines_on_the_trending_page(client: TestClient) -> None:
    html = client.get("/?window=month").text
    assert spark_days(html) == [30, 30, 30]  # one per entry, a bar per day of the window
    assert html.count('<rect class="bar') == 90
    assert "score 25.00 = 25.00 from 100 upvotes on Hugging Face (×1)" in html
    week = client.get("/").text
    assert spark_days(week) == [7, 7]
    first = week.split('<svg class="spark"', 1)[1].split("</svg>", 1)[0]
    assert f'data-day="{D.isoformat()}" data-value="3"' in first
    assert f'data-day="{(D - timedelta(days=1)).isoformat()}" data-value="0"' in first
    assert f"peak 10 on {(D - timedelta(days=3)).day} {D - timedelta(days=3):%b}" in first


def test_settings_weights_rank_and_show_on_about(settings: Settings, store: Store) -> None:
    store.write_batch([MID, NEW], [sig(MID, D, 3), sig(NEW, D, 5),
                                   Signal(MID.id, "save", D, 2)])
    heavy = replace(settings, trending_weights={"hf_upvotes": 1.0, "save": 5.0})
    client = TestClient(create_app(Paperwire(heavy, store)))
    assert trending_ids(client.get("/?window=day").text) == [MID.id, NEW.id]  # 3 + 5·2 > 5
    api = client.get("/api/trending?window=day").json()
    assert api["entries"][0]["score"] == pytest.approx(13.0)
    off = replace(settings, trending_weights={"hf_upvotes": 1.0, "save": 0.0})
    assert trending_ids(TestClient(create_app(Paperwire(off, store))).get("/?window=day").text) == [
        NEW.id, MID.id]
    about = client.get("/about/trending").text
    assert re.search(r"<code>hf_upvotes</code></td><td>upvotes on Hugging Face</td>"
                     r"<td class=\"num\">1</td>", about)
    assert re.search(r"<code>save</code></td><td>saves here</td><td class=\"num\">5</td>", about)
    assert "<code>upvote</code>" not in about  # not in this site's weights
    assert "<code>digest_click</code>" not in about  # not in this site's weights


def test_paper_page_chart_above_the_table(client: TestClient) -> None:
    html = client.get(f"/papers/{MID.id}").text
    section = html.split('<section class="signals">', 1)[1]
    assert section.index('<svg class="signal-chart"') < section.index("<table>")
    svg = section.split("</svg>", 1)[0]
    three_days_before = D - timedelta(days=3)
    assert 'role="img"' in svg and 'data-days="4" data-bars="2"' in svg
    label = (f"Hugging Face upvotes per day, {three_days_before.day} {three_days_before:%b}"
             f"{'' if three_days_before.year == D.year else f' {three_days_before.year}'}"
             f" – {D.day} {D:%b %Y}, peak 10 on {three_days_before.day} {three_days_before:%b}")
    assert f'aria-label="{label}"' in svg and f"<title>{label}</title>" in svg
    none = client.get("/papers/beir:4983").text
    assert "signal-chart" not in none and "No signals recorded" in none

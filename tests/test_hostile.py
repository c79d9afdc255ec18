"""The hostile-input suite: over 10,000 generated hostile records (tests/hostile_data.py)
imported through the real importer, then every page type served by uvicorn and loaded in real
Chromium — home and trending windows, search results, paper pages, the about page, error
pages, preferences and the digest preview, feeds and API responses — plus a digest mail made
by digests/render. Nothing may run: no dialog, no ``window.__pwned``, no request for a
payload's URL or to another host, no CSP report about a payload. Feeds parse cleanly with
feedparser, API responses are JSON, and no served text carries control or bidi characters.

Skipped like tests/test_browser.py when Chromium or Playwright is missing (a failure under
PAPERWIRE_TEST_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import feedparser
import httpx
import pytest

from hostile_data import BEIR_IDS, CANARY, DAY0, DAYS, PAYLOADS, WORDS, Corpus, write_corpus
from live_server import loopback_socket, served, url_of
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.digests.render import render_digest
from paperwire.digests.service import DigestContext, gather
from paperwire.importers import ImportReport, run_import
from paperwire.records import Subscriber
from paperwire.search import LexicalIndex
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.common import paper_path
from test_browser import ARGS, _playwright

LAST_DAY = DAY0 + timedelta(days=DAYS - 1)
# what no served text may hold: C0 controls but tab/newline/CR, DEL, C1, bidi controls
UNWANTED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
INIT_SCRIPT = """
window.__pwned = 0;
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
  [e.violatedDirective, e.blockedURI, e.sample || ''].join(' ')));
"""
# after load: one frame and one task more (autofocus, late error events), then the verdict
VERDICT = """async () => {
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  return [window.__pwned, window.__csp];
}"""


@dataclass
class Site:
    url: str
    store: Store
    settings: Settings
    corpus: Corpus
    report: ImportReport
    sub: Subscriber
    ctx: DigestContext


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("hostile")
    corpus = write_corpus(home / "corpus")
    db = f"sqlite:///{home / 'paperwire.db'}"
    settings = Settings(home=home, database_url=db, models_dir=models_dir,
                        secret_key="h" * 32)
    store = Store.open(db)
    report = run_import(store, [home / "corpus"], progress=False)
    LexicalIndex(settings.index_dir / "lexical").sync(store)
    sub = store.digests.activate(Subscriber(
        id=0, email="mallory@example.org", categories=("cs.CL", "cs.IR"),
        queries=(PAYLOADS[0] + " retrieval", "graph " + PAYLOADS[1], "diffusion"),
        papers=tuple(corpus.arxiv_ids[:2]), frequency="weekly", weekday=LAST_DAY.weekday()),
        datetime(2026, 6, 1))
    sock = loopback_socket()
    settings = replace(settings, base_url=url_of(sock))  # links name the address served
    with served(create_app(Paperwire(settings, store)), sock) as url:
        yield Site(url, store, settings, corpus, report, sub, DigestContext(store, settings))
    store.close()


def test_the_import_never_crashes_and_reports_every_bad_record(site: Site) -> None:
    report, corpus = site.report, site.corpus
    assert corpus.records >= 10_000
    assert not report.files_failed, report.files_failed
    assert report.skipped_count >= corpus.bad_lines
    assert all(re.search(r":\d+$", where) for where, _ in report.skipped)
    nested = [r for _, r in report.skipped if "nested too deeply" in r]
    assert len(nested) >= 10
    assert report.truncated_count == corpus.huge
    stored = site.store.count_papers()
    # every record is stored but those reported bad (the BEIR "<script>" id is a fine id)
    assert stored >= corpus.records - (report.skipped_count - corpus.bad_lines)
    assert stored >= 10_000
    for pid in ("beir:../../../etc/passwd", "beir:<script>window.__pwned=1</script>"):
        paper = site.store.get_paper(pid)
        assert paper is not None and not UNWANTED.search(paper.title + paper.abstract)


@dataclass
class Watch:
    """What the payloads could have done in the browser, per page."""

    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # payload URLs or other hosts
    ran: list[str] = field(default_factory=list)  # pages where window.__pwned was set
    csp: list[str] = field(default_factory=list)
    pages: int = 0
    navigated: bool = False  # whether the page visited now has made its navigation
    showing_payloads: int = 0  # pages whose text holds (escaped) payloads: not vacuous


@pytest.fixture(scope="module")
def browser_page(site: Site) -> Iterator[tuple[Any, Watch]]:
    sync_playwright, executable = _playwright()
    watch = Watch()
    with sync_playwright() as p:
        # no host but loopback resolves: a payload cannot reach out (and is seen trying)
        rules = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
        browser = p.chromium.launch(executable_path=executable, args=[*ARGS, rules])
        try:
            page = browser.new_page()
            page.add_init_script(INIT_SCRIPT)
            page.on("dialog", lambda d: (watch.dialogs.append(f"{page.url}: {d.message}"),
                                         d.dismiss()))

            def on_request(request: Any) -> None:
                if (request.is_navigation_request() and request.frame == page.main_frame
                        and (request.redirected_from is not None or not watch.navigated)):
                    watch.navigated = True  # the visit's own navigation (and its redirects)
                    return
                if CANARY in request.url or not request.url.startswith(
                        (site.url, "about:", "data:")):
                    watch.requests.append(f"{page.url} -> {request.url}")

            page.on("request", on_request)
            yield page, watch
        finally:
            browser.close()


def visit(page: Any, watch: Watch, url: str) -> str:
    """Load ``url``, let the page settle, record what ran; the body as served."""
    watch.navigated = False
    try:
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status < 500, (url, response.status)
        body: str = response.text()
        ran, csp = page.evaluate(VERDICT)
    except AssertionError:
        raise
    except Exception as exc:  # playwright's Error: the page went elsewhere by itself
        watch.ran.append(f"{url}: the page navigated away ({str(exc).splitlines()[0]})")
        return ""
    if ran or page.url != response.url:
        watch.ran.append(url)
    watch.csp += [f"{url}: {c}" for c in csp if CANARY in c or "alert" in c]
    watch.pages += 1
    assert not UNWANTED.search(body), (url, UNWANTED.search(body))
    if CANARY in body:
        watch.showing_payloads += 1
    return body


def page_urls(site: Site) -> list[str]:
    rng = random.Random(3)
    urls: list[str] = []
    days = [None, DAY0 + timedelta(days=9), DAY0 + timedelta(days=20), LAST_DAY]
    for window in ("day", "week", "month"):
        for day in days:
            for cat in (None, "cs.CL", "cs.IR"):
                params = {"window": window, "date": day and day.isoformat(), "cat": cat}
                urls.append("/?" + urlencode({k: v for k, v in params.items() if v}))
    urls += ["/?" + urlencode({"cat": PAYLOADS[5]}), "/?" + urlencode({"date": PAYLOADS[0]}),
             "/?" + urlencode({"window": PAYLOADS[1]}), "/about/trending"]
    queries = [*WORDS, *PAYLOADS[:25], "script", "onerror", "javascript", "svg onload",
               "\"<script>\"", "title:script", "author:mallory", "cat:cs.CL graph"]
    for i, q in enumerate(queries):
        sort = ("relevance", "date", "trending")[i % 3]
        urls.append("/search?" + urlencode({"q": q, "sort": sort, "mode": "lexical"}))
    ids = rng.sample(site.corpus.arxiv_ids, 70) + [f"beir:{b}" for b in BEIR_IDS]
    ids += rng.sample(site.corpus.beir_ids[len(BEIR_IDS):], 10)
    ids += rng.sample(sorted(i for i in site.store.all_ids() if i.startswith("seed:")), 5)
    ids += ["2606.20007", "2606.20008"]  # the cut abstract, the cut author list
    urls += [paper_path(pid) for pid in ids]
    urls += [paper_path("beir:" + PAYLOADS[0] + "missing"), "/papers/" + PAYLOADS[1]]
    links = site.ctx.links(site.sub)
    for link in (links.preferences, links.preferences.replace("/preferences?",
                                                             "/preferences/preview?")):
        parts = urlsplit(link)
        urls.append(f"{parts.path}?{parts.query}")
    urls += ["/feeds/trending.atom?window=week", "/feeds/trending.json?window=month",
             "/api/trending?window=week", "/api/search?" + urlencode({"q": PAYLOADS[0]}),
             "/api" + paper_path("beir:" + BEIR_IDS[12]), "/api/similar?id=2606.20001"]
    urls += [paper_path(pid) + "/similar" for pid in ids[:3] + ids[70:72]]
    urls += ["/feeds/search.atom?" + urlencode({"q": q}) for q in (*WORDS[:2], *PAYLOADS[:3])]
    urls += ["/feeds/category/cs.CL.atom", "/search?q=2606.99999", "/search?q=2606.3053x"]
    return urls


def test_no_payload_runs_on_any_page(site: Site, browser_page: tuple[Any, Watch]) -> None:
    page, watch = browser_page
    urls = page_urls(site)
    assert len(urls) >= 200
    for path in urls:
        visit(page, watch, site.url + path)
    assert watch.dialogs == [] and watch.ran == [] and watch.requests == [], watch
    assert watch.csp == [], watch.csp
    assert watch.pages == len(urls)
    assert watch.showing_payloads >= 150  # the payloads were on the pages, shown as text


def test_feeds_parse_cleanly(site: Site) -> None:
    """Atom through feedparser (bozo 0); JSON Feed (which feedparser 6.0 does not read) as
    JSON with the fields version 1.1 requires. The hostile titles are in, as text."""
    with httpx.Client(base_url=site.url, timeout=60) as http:
        for window in ("day", "week", "month"):
            for cat in (None, "cs.CL"):
                for day in (None, LAST_DAY.isoformat(), (DAY0 + timedelta(days=12)).isoformat()):
                    params = {k: v for k, v in {"window": window, "cat": cat, "date": day}.items()
                              if v}
                    atom = http.get("/feeds/trending.atom", params=params)
                    assert atom.status_code == 200, (params, atom.status_code)
                    assert not UNWANTED.search(atom.text), params
                    feed = feedparser.parse(atom.content)
                    assert feed.bozo == 0, (params, feed.get("bozo_exception"))
                    assert feed.version == "atom10"
                    jf = http.get("/feeds/trending.json", params=params)
                    assert jf.status_code == 200, (params, jf.status_code)
                    assert not UNWANTED.search(jf.text), params
                    doc = jf.json()
                    assert doc["version"] == "https://jsonfeed.org/version/1.1"
                    assert isinstance(doc["title"], str) and isinstance(doc["items"], list)
                    assert all(isinstance(i["id"], str) for i in doc["items"])
                    titles = [e.title for e in feed.entries]
                    assert titles == [i["title"] for i in doc["items"]]
                    if window != "day" and day is None and cat is None:
                        assert any(CANARY in t for t in titles), (params, titles)
                    for link in [e.link for e in feed.entries] + [i["url"] for i in doc["items"]]:
                        assert urlsplit(link).path.startswith("/papers/")
        # a search's and a category's feeds
        for path in ["/feeds/category/cs.CL.atom", "/feeds/category/cs.IR.atom",
                     *("/feeds/search.atom?" + urlencode({"q": q})
                       for q in (*WORDS[:4], *PAYLOADS[:10], "script", "author:mallory"))]:
            atom = http.get(path)
            assert atom.status_code == 200, (path, atom.status_code)
            assert not UNWANTED.search(atom.text), path
            feed = feedparser.parse(atom.content)
            assert feed.bozo == 0, (path, feed.get("bozo_exception"))
            assert all(urlsplit(e.link).path.startswith("/papers/") for e in feed.entries)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_api_responses_are_clean_json(site: Site) -> None:
    rng = random.Random(4)
    paths = ["/api/trending?" + urlencode({"window": w}) for w in ("day", "week", "month")]
    paths += ["/api/search?" + urlencode({"q": q}) for q in [*WORDS[:6], *PAYLOADS[:10]]]
    pids = rng.sample(site.corpus.arxiv_ids, 20) + [f"beir:{b}" for b in BEIR_IDS]
    paths += ["/api" + paper_path(pid) for pid in pids]
    paths += ["/api/similar?" + urlencode({"id": pid}) for pid in pids[:5]]
    with httpx.Client(timeout=60) as http:
        for path in paths:
            r = http.get(httpx.URL(site.url).copy_with(raw_path=path.encode("ascii")))
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
            assert r.headers["content-type"].startswith("application/json")
            doc = json.loads(r.text)
            assert not any(UNWANTED.search(s) for s in _strings(doc)), path
            if path.startswith("/api/papers/"):
                assert doc["id"] in pids
                assert urlsplit(doc["url"]).path == path.removeprefix("/api")


def test_the_digest_mail_runs_nothing(site: Site, browser_page: tuple[Any, Watch]) -> None:
    page, watch = browser_page
    digest = gather(site.ctx, site.sub, LAST_DAY)
    assert digest.items, "the hostile digest is empty: the test would prove nothing"
    msg = render_digest(digest, from_addr="Paperwire <digest@example.org>",
                        links=site.ctx.links(site.sub), now=datetime(2026, 6, 30, 7, 0))
    html_part, text_part = msg.get_body(("html",)), msg.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html, text = html_part.get_content(), text_part.get_content()
    assert not UNWANTED.search(html) and not UNWANTED.search(text)
    assert CANARY in html  # the payloads are in the mail, as text
    visit(page, watch, site.url + "/about/trending")  # a same-origin document for the mail
    page.set_content(html, wait_until="load")
    ran, csp = page.evaluate(VERDICT)
    assert not [c for c in csp if CANARY in c or "alert" in c], csp
    assert not ran and watch.dialogs == [] and watch.requests == [], watch
    for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
        assert href.startswith(("http://", "https://", "mailto:")), href


def test_never_before_the_data(site: Site) -> None:
    """The hostile papers trend: the views above rendered them, not an empty page."""
    with httpx.Client(base_url=site.url, timeout=60) as http:
        doc = http.get("/api/trending", params={"window": "month"}).json()
    assert doc["entries"] and date.fromisoformat(doc["as_of"]) == LAST_DAY

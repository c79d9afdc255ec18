"""A reader's library in real Chromium: notes and tags made of the hostile payloads of
tests/hostile_data.py (raw HTML, event handlers, ``javascript:`` and ``data:`` links,
images of remote addresses), on papers with hostile titles, shown on the library page, its
searches and filters and the papers' pages; and a hostile BibTeX file imported through the
page's own form (its CSRF token included). Nothing may run: no dialog, no ``window.__pwned``,
no request for a payload's address or to another host, no CSP report about a payload.

Skipped like tests/test_browser.py when Chromium or Playwright is missing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from accounts import session_cookie
from hostile_data import CANARY, PAYLOADS
from live_server import loopback_socket, served, url_of
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.library import service
from paperwire.models import Paper
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.common import paper_path
from test_browser import ARGS, _playwright

T0 = datetime(2026, 6, 1, 9, 0)
INIT_SCRIPT = """
window.__pwned = 0;
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
  [e.violatedDirective, e.blockedURI, e.sample || ''].join(' ')));
"""
VERDICT = """async () => {
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  return [window.__pwned, window.__csp];
}"""
# Markdown's own ways in, beside the raw HTML of the payloads
MARKDOWN_PAYLOADS = [
    "[click](javascript:window.__pwned=1)",
    "[click](JaVaScRiPt:window.__pwned=1)",
    "[click](data:text/html,<script>top.__pwned=1</script>)",
    "![img](/__pwned_img)",
    "![img](http://__pwned.invalid/track.png)",
    "![img](data:image/svg+xml,<svg onload=window.__pwned=1>)",
    "<http://__pwned.invalid/auto>",
    "[ref]: javascript:window.__pwned=1\n\n[x][ref]",
    '[x](https://ok.example "\\" onmouseover=\\"window.__pwned=1")',
    "```\n</code></pre><script>window.__pwned=1</script>\n```",
]
PAPERS = [Paper(id=f"2606.3{i:04d}", title=f"Paper {i}: {p}", authors=(f"Mallory {p}",),
                abstract=f"Abstract with {p}", categories=("cs.CL",), primary_category="cs.CL",
                published=date(2026, 6, 1)) for i, p in enumerate(PAYLOADS[:12])]


@dataclass
class Site:
    url: str
    store: Store
    paperwire: Paperwire
    cookie: tuple[str, str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("library-browser")
    db = f"sqlite:///{home / 'paperwire.db'}"
    store = Store.open(db)
    store.write_batch(PAPERS, [])
    sock = loopback_socket()
    settings = Settings(home=home, database_url=db, models_dir=models_dir,
                        secret_key="b" * 32, base_url=url_of(sock))
    paperwire = Paperwire(settings, store)
    cookie = session_cookie(paperwire, "mallory@example.org")
    account = store.accounts.by_email("mallory@example.org")
    assert account is not None
    notes = PAYLOADS + MARKDOWN_PAYLOADS
    for i, paper in enumerate(PAPERS):
        note = "\n\n".join(notes[j % len(notes)] for j in range(i * 4, i * 4 + 4))
        # as the web's forms store them (service.clean_*: no controls, no lone surrogates)
        store.library.set_note(account.id, paper.id,
                               service.clean_note(f"# {PAYLOADS[i]}\n\n{note}"), T0)
        store.library.set_tags(account.id, paper.id, [service.clean_tag(PAYLOADS[i]),
                                                      service.clean_tag(PAYLOADS[-1 - i])], T0)
        store.library.set_state(account.id, paper.id, "to-read" if i % 2 else "read", T0)
    with served(create_app(paperwire), sock) as url:
        yield Site(url, store, paperwire, cookie)
    store.close()


@dataclass
class Watch:
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    navigated: bool = False  # whether the page visited now has made its own navigation


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium; no host but loopback resolves, so a payload cannot reach out (and is seen
    trying)."""
    sync_playwright, executable = _playwright()
    with sync_playwright() as p:
        rules = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
        b = p.chromium.launch(executable_path=executable, args=[*ARGS, rules])
        try:
            yield b
        finally:
            b.close()


def signed_in_page(browser: Any, site: Site, **options: Any) -> Any:
    context = browser.new_context(**options)
    name, value = site.cookie
    context.add_cookies([{"name": name, "value": value, "url": site.url}])
    return context.new_page()


@pytest.fixture(scope="module")
def browser_page(browser: Any, site: Site) -> Iterator[tuple[Any, Watch]]:
    watch = Watch()
    page = signed_in_page(browser, site)
    page.add_init_script(INIT_SCRIPT)
    page.on("dialog", lambda d: (watch.dialogs.append(f"{page.url}: {d.message}"),
                                 d.dismiss()))

    def on_request(request: Any) -> None:
        if (request.is_navigation_request() and request.frame == page.main_frame
                and (request.redirected_from is not None or not watch.navigated)):
            watch.navigated = True  # the visit's own navigation (and its redirects)
            return
        if CANARY in request.url or not request.url.startswith((site.url, "about:")):
            watch.requests.append(f"{page.url} -> {request.url}")

    page.on("request", on_request)
    try:
        yield page, watch
    finally:
        page.context.close()


def settle(page: Any, watch: Watch, where: str) -> None:
    try:
        ran, csp = page.evaluate(VERDICT)
    except Exception as exc:  # playwright's Error: the page went elsewhere by itself
        watch.ran.append(f"{where}: the page navigated away ({str(exc).splitlines()[0]})")
        return
    if ran:
        watch.ran.append(where)
    watch.csp += [f"{where}: {c}" for c in csp if CANARY in c or "alert" in c]


def visit(page: Any, watch: Watch, url: str) -> str:
    watch.navigated = False
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, (url, response and response.status)
    try:
        body: str = response.text()
    except Exception as exc:  # playwright's Error: the page went elsewhere by itself
        watch.ran.append(f"{url}: the page navigated away ({str(exc).splitlines()[0]})")
        return ""
    settle(page, watch, url)
    return body


def test_hostile_notes_and_tags_run_nothing(site: Site, browser_page: tuple[Any, Watch]) -> None:
    page, watch = browser_page
    paths = ["/library", "/library?sort=title", "/library?state=read"]
    paths += ["/library?" + urlencode({"tag": PAYLOADS[i][:64]}) for i in range(4)]
    paths += ["/library?" + urlencode({"q": q}) for q in ("script", "onerror", PAYLOADS[0])]
    paths += [paper_path(p.id) for p in PAPERS]
    shown = 0
    for path in paths:
        body = visit(page, watch, site.url + path)
        shown += CANARY in body
    assert watch.dialogs == [] and watch.ran == [] and watch.requests == [], watch
    assert watch.csp == [], watch.csp
    assert shown == len(paths)  # every page had payloads on it, as text
    # the notes were rendered (Markdown did its work), and every link is a harmless one
    visit(page, watch, site.url + paper_path(PAPERS[0].id))
    assert page.locator("#library .note-text h3").count() == 1
    hrefs = page.eval_on_selector_all("#library a[href], .note-text a[href]",
                                      "els => els.map(e => e.getAttribute('href'))")
    assert all(h.startswith(("http://", "https://", "mailto:", "/")) for h in hrefs), hrefs
    assert page.locator("#library img, #library script, #library iframe").count() == 0


def test_a_hostile_import_through_the_form(site: Site, browser_page: tuple[Any, Watch]) -> None:
    page, watch = browser_page
    visit(page, watch, site.url + "/library")
    bib = "\n".join([
        f"@misc{{one, title = {{{PAYLOADS[0]}}}, eprint = {{{PAPERS[0].id}}}}}",
        f"@misc{{two, title = {{{PAYLOADS[1]}}}, eprint = {{2607.99999}}}}",
        f"@misc{{three, title = {{{PAYLOADS[10]}}}}}",
        "@misc{broken, title = {never closed <script>window.__pwned=1</script>",
        f"{PAYLOADS[11]}",
    ])
    page.fill("#import-ids", bib)
    page.fill("#import-tag", PAYLOADS[2][:64])
    watch.navigated = False
    with page.expect_navigation(wait_until="load"):
        page.click("form[action='/library/import'] button[type=submit]")
    settle(page, watch, "import result")
    text = page.inner_text("main")
    assert "already there 1, unknown ids 1, problems 2" in text, text
    assert "line 2: 2607.99999 (two): not stored here, not saved" in text
    assert "line 3: no arXiv id: three: " + PAYLOADS[10] in text
    assert watch.dialogs == [] and watch.ran == [] and watch.requests == [], watch
    assert watch.csp == [], watch.csp


# ---- accessibility: axe-core over the library's pages, as tests/test_a11y.py runs it ---------


def _import_result(page: Any, site: Site) -> None:
    page.goto(site.url + "/library")
    page.fill("#import-ids", f"{PAPERS[1].id}\n2607.99999\nnot-an-id")
    with page.expect_navigation(wait_until="load"):
        page.click("form[action='/library/import'] button[type=submit]")


LIBRARY_PAGES: dict[str, str | Any] = {
    "library": "/library",
    "library-filtered": "/library?state=read&sort=title&q=script",
    "library-none": "/library?q=zyzzyva",
    "paper-with-panel": paper_path(PAPERS[0].id),
    "import-result": _import_result,
}


@pytest.mark.parametrize("mode", ["light", "dark", "phone"])
def test_axe_finds_no_wcag_violations_on_library_pages(browser: Any, site: Site,
                                                       mode: str) -> None:
    from test_a11y import MODES, _axe_source, _report, _violations

    _axe_source()
    viewport, scheme = MODES[mode]
    page = signed_in_page(browser, site, viewport=viewport, color_scheme=scheme,
                          bypass_csp=True)
    try:
        for label, how in LIBRARY_PAGES.items():
            if callable(how):
                how(page, site)
            else:
                response = page.goto(site.url + how)
                assert response is not None and response.status == 200, label
            violations = _violations(page)
            assert not violations, f"axe on {label} ({page.url}):\n{_report(violations)}"
    finally:
        page.context.close()

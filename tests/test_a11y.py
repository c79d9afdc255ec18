"""Accessibility and page layout in a real browser: axe-core (the npm package of
package-lock.json, installed by ``scripts/bootstrap dev`` with ``npm ci``) runs in Debian's
chromium, driven by Playwright, over every page type of the app served by uvicorn on a loopback
port (SQLite store, real SMTP server for the subscribe form), in light and dark colour schemes
and at a phone's width; plus the checks axe cannot make: the skip link, the chart labels'
rendered size on a phone, the subscribe form above the fold, themed form fields in dark mode.

Skipped (with the reason) when playwright, chromium or axe-core (npm) is missing, unless
PAPERWIRE_TEST_REQUIRE_BROWSER=1 (CI sets it): then it fails instead."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from accounts import make_account, session_cookie
from live_server import loopback_socket, served, url_of
from paperwire.accounts import signin_url
from paperwire.app import Paperwire
from paperwire.clock import utcnow
from paperwire.config import Settings
from paperwire.digests import tokens
from paperwire.digests.service import DigestContext, paper_token
from paperwire.models import Paper, Signal
from paperwire.records import Subscriber
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.auth import SESSION_COOKIE
from smtp_server import FaultySmtpServer
from test_browser import ARGS, _playwright

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AS_OF = date(2025, 6, 13)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
# light and dark on a desktop, and a phone (light and dark)
MODES = {
    "light": (DESKTOP, "light"),
    "dark": (DESKTOP, "dark"),
    "phone": (PHONE, "light"),
    "phone-dark": (PHONE, "dark"),
}

PAPERS = [
    Paper(id="2506.01001", title="Speculative Decoding with Draft Trees for Long Contexts",
          abstract="We speed up decoding of large language models by drafting a tree of "
                   "continuations and verifying it in one pass. On long-context benchmarks the "
                   "method doubles throughput with no loss in quality.",
          authors=("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra"),
          categories=("cs.CL", "cs.LG"), primary_category="cs.CL",
          published=AS_OF - timedelta(days=9), updated=AS_OF - timedelta(days=2), version=2,
          comment="14 pages, 6 figures", doi="10.48550/arXiv.2506.01001"),
    Paper(id="2506.01002", title="Learned Sparse Retrieval at Web Scale",
          abstract="Learned sparse retrieval models such as SPLADE rival dense retrieval. We "
                   "train one on a billion documents and study its index size and latency.\n\n"
                   "Retrieval quality holds across domains.",
          authors=("Karen Spärck Jones",), categories=("cs.IR",), primary_category="cs.IR",
          published=AS_OF - timedelta(days=6)),
    Paper(id="2506.01003", title="Diffusion Models for Protein Structure",
          abstract="A diffusion model over residue frames generates protein backbones.",
          authors=("Rosalind Franklin", "Linus Pauling"), categories=("q-bio.BM", "cs.LG"),
          primary_category="q-bio.BM", published=AS_OF - timedelta(days=4)),
    Paper(id="2506.01004", title="Vision Transformers Need Registers, Revisited",
          abstract="Extra tokens absorb high-norm artefacts in vision transformer attention.",
          authors=("Fei-Fei Li",), categories=("cs.CV",), primary_category="cs.CV",
          published=AS_OF - timedelta(days=3)),
    Paper(id="2506.01005", title="Retrieval Augmented Generation Without Hallucinations",
          abstract="We ground every generated sentence in a retrieved passage.",
          authors=("Claude Shannon", "Norbert Wiener"), categories=("cs.CL", "cs.IR"),
          primary_category="cs.CL", published=AS_OF - timedelta(days=2)),
    # math (MathML) in the title and abstract, and a long author list folded in <details>
    Paper(id="2506.01007", title="SP$^3$: Spherical Priors at $O(N^2)$ Cost",
          abstract="Self-attention scales quadratically ($O(N^2)$) with length. We propose "
                   "the \\textit{Parallel Hybrid Architecture (PHA)} with 24\\% higher "
                   "throughput and $\\alpha_{k} \\in (0, 1)$ step sizes.",
          authors=tuple(f"Author Number{i}" for i in range(1, 31)), categories=("cs.LG",),
          primary_category="cs.LG", published=AS_OF - timedelta(days=7)),
    Paper(id="2506.01006", title="A Quiet Paper Nobody Upvoted",
          abstract="This paper has no signals at all.", authors=("John Doe",),
          categories=("cs.LG",), primary_category="cs.LG", published=AS_OF - timedelta(days=1)),
]
QUIET = PAPERS[-1]
SIGNALS = [
    *(Signal(PAPERS[0].id, "hf_upvotes", AS_OF - timedelta(days=d), v)
      for d, v in {9: 4, 6: 9, 3: 38, 1: 20, 0: 7}.items()),
    Signal(PAPERS[0].id, "digest_click", AS_OF - timedelta(days=1), 3),
    *(Signal(PAPERS[1].id, "hf_upvotes", AS_OF - timedelta(days=d), v)
      for d, v in {5: 12, 2: 15, 0: 4}.items()),
    Signal(PAPERS[2].id, "hf_upvotes", AS_OF - timedelta(days=2), 6),
    Signal(PAPERS[3].id, "hf_upvotes", AS_OF, 9),
    Signal(PAPERS[4].id, "hf_upvotes", AS_OF - timedelta(days=1), 11),
    # an old signal, so the month and a date before the data have something to show
    Signal(PAPERS[1].id, "hf_upvotes", AS_OF - timedelta(days=25), 2),
]


@dataclass
class Site:
    url: str
    store: Store
    ctx: DigestContext
    smtp: FaultySmtpServer
    paperwire: Paperwire

    def signin_url(self) -> str:
        nonce = tokens.new_nonce()
        account = self.store.accounts.request_signin(
            f"reader-{secrets.token_hex(4)}@example.org", nonce, utcnow())
        assert account is not None
        return signin_url(self.url, self.ctx.key, account.id, nonce, utcnow())

    def preferences_url(self) -> str:
        sub = self.store.digests.activate(
            Subscriber(id=0, email=f"reader-{secrets.token_hex(4)}@example.org"), utcnow())
        return self.ctx.links(sub).preferences

    def unsubscribe_url(self) -> str:
        sub = self.store.digests.activate(
            Subscriber(id=0, email=f"leaver-{secrets.token_hex(4)}@example.org"), utcnow())
        return self.ctx.links(sub).unsubscribe

    def confirm_url(self) -> str:
        nonce = tokens.new_nonce()  # the nonce alphabet the confirm link carries
        sub = self.store.digests.request(
            Subscriber(id=0, email=f"new-{secrets.token_hex(4)}@example.org"), nonce, utcnow())
        assert sub is not None
        return self.ctx.confirm_url(sub, nonce, utcnow())


def _axe_source() -> str:
    if not AXE.is_file():
        reason = (f"axe-core is not installed ({AXE} is missing): run scripts/bootstrap dev "
                  "(npm ci) with node and npm installed")
        if os.environ.get("PAPERWIRE_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"PAPERWIRE_TEST_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium; tests ask for it before ``site``, so a skip starts no server."""
    sync_playwright, executable = _playwright()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("a11y")
    url = f"sqlite:///{home / 'paperwire.db'}"
    store = Store.open(url)
    store.write_batch(PAPERS, SIGNALS)
    sock = loopback_socket()
    with FaultySmtpServer() as smtp:
        settings = Settings(home=home, database_url=url, models_dir=models_dir,
                            base_url=url_of(sock), smtp_url=smtp.url, secret_key="a11y" * 8,
                            arxiv_categories=("cs.CL", "cs.IR", "cs.LG", "cs.CV"))
        try:
            paperwire = Paperwire(settings, store)
            with served(create_app(paperwire), sock) as base:
                yield Site(base, store, DigestContext(store, settings), smtp, paperwire)
        finally:
            store.close()


@pytest.fixture(scope="module", params=list(MODES))
def tab(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    """A page in one of MODES. ``bypass_csp`` lets axe in whatever the site's CSP says."""
    viewport, scheme = MODES[request.param]
    context = browser.new_context(viewport=viewport, color_scheme=scheme, bypass_csp=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def _go(page: Any, url: str, status: int | tuple[int, ...] = 200) -> None:
    response = page.goto(url)
    wanted = status if isinstance(status, tuple) else (status,)
    assert response is not None and response.status in wanted, (url, response and response.status)


def _submit(page: Any, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def _subscribed(page: Any, site: Site) -> None:
    _go(page, f"{site.url}/")
    form = page.locator("form.subscribe-form")
    form.get_by_label("Email").fill(f"someone-{secrets.token_hex(4)}@example.org")
    _submit(page, "Subscribe")
    assert "Check your inbox" in page.title()


def _confirmed(page: Any, site: Site) -> None:
    _go(page, site.confirm_url())
    _submit(page, "Confirm subscription")
    assert page.title().startswith("Subscribed")


def _unsubscribed(page: Any, site: Site) -> None:
    _go(page, site.unsubscribe_url())
    _submit(page, "Unsubscribe")
    assert page.title().startswith("Unsubscribed")


def _signin_sent(page: Any, site: Site) -> None:
    _go(page, f"{site.url}/signin")
    page.get_by_label("Email").fill(f"someone-{secrets.token_hex(4)}@example.org")
    _submit(page, "Mail me a sign-in link")
    assert "Check your inbox" in page.title()


def _account(page: Any, site: Site) -> None:
    """The account page, signed in."""
    name, value = session_cookie(site.paperwire, f"member-{secrets.token_hex(4)}@example.org")
    page.context.add_cookies([{"name": name, "value": value, "url": site.url}])
    try:
        _go(page, f"{site.url}/account")
        assert page.title().startswith("Your account")
    finally:
        page.context.clear_cookies()


def _saved(page: Any, site: Site) -> None:
    _go(page, site.preferences_url())
    _submit(page, "Save")
    assert page.get_by_text("Saved.").count() == 1


d = AS_OF.isoformat()
old = (AS_OF - timedelta(days=40)).isoformat()
# every page type: a path (answered with the status given) or steps that end on the page
PAGES: dict[str, tuple[str, int | tuple[int, ...]] | Callable[[Any, Site], None]] = {
    "home-week": (f"/?date={d}", 200),
    "home-day": (f"/?window=day&date={d}", 200),
    "home-month": (f"/?window=month&date={d}", 200),
    "home-category": (f"/?cat=cs.IR&date={d}", 200),
    "home-empty-latest": (f"/?date={old}", 200),  # nothing trending: the latest papers
    "home-empty-category": (f"/?cat=cs.RO&date={old}", 200),  # nothing at all
    "search-results": ("/search?q=retrieval", 200),
    "search-none": ("/search?q=zyzzyva", 200),
    # an error page, or the search page saying what is wrong under the filled box
    "search-query-error": ("/search?q=-cat%3Acs.CV+diffusion", (200, 400)),
    "search-empty": ("/search", 200),
    "search-id-not-stored": ("/search?q=2606.99999", 404),  # says so, links to arXiv
    "search-id-invalid": ("/search?q=2606.3053x", 400),
    "paper-similar": (f"/papers/{PAPERS[0].id}/similar", 200),
    "paper-chart": (f"/papers/{PAPERS[1].id}", 200),  # one source
    "paper-stacked-chart": (f"/papers/{PAPERS[0].id}", 200),  # upvotes and clicks
    "paper-no-signals": (f"/papers/{QUIET.id}", 200),
    "paper-math-many-authors": ("/papers/2506.01007", 200),
    "search-math": ("/search?q=spherical+quadratically", 200),
    "about-trending": ("/about/trending", 200),
    "error-404": ("/no/such/page", 404),
    "error-paper-404": ("/papers/9999.99999", 404),
    "error-bad-link": ("/preferences?token=forged", 400),
    "digest-subscribed": _subscribed,
    "digest-confirm": lambda page, site: _go(page, site.confirm_url()),
    "digest-confirmed": _confirmed,
    "digest-preferences": lambda page, site: _go(page, site.preferences_url()),
    "digest-preferences-saved": _saved,
    "digest-preview": lambda page, site: _go(
        page, site.preferences_url().replace("/preferences?", "/preferences/preview?")),
    "digest-unsubscribe": lambda page, site: _go(page, site.unsubscribe_url()),
    "digest-unsubscribed": _unsubscribed,
    "signin": ("/signin", 200),
    "signin-sent": _signin_sent,
    "signin-confirm": lambda page, site: _go(page, site.signin_url()),
    "signin-bad-link": ("/signin/confirm/forged.link", 400),
    "account-signed-out": ("/account", 401),
    "account": _account,
}


def _signed_in(path: str) -> Callable[[Any, Site], None]:
    """The page at ``path`` as a signed-in reader sees it: the action bars are forms, one
    paper upvoted and one saved (pressed toggles)."""
    def go(page: Any, site: Site) -> None:
        paperwire = Paperwire(site.ctx.settings, site.store)
        account = make_account(paperwire, f"reader-{secrets.token_hex(4)}@example.org")
        # papers no other test reads the chart of (a vote or save is a signal of its day)
        site.store.library.vote(account.id, PAPERS[3].id, utcnow())
        site.store.library.save(account.id, PAPERS[4].id, utcnow())
        page.context.add_cookies([{"name": SESSION_COOKIE, "url": site.url,
                                   "value": paperwire.open_session(account)}])
        try:
            _go(page, site.url + path)
            assert page.locator("form button.act.vote").count() >= 1
        finally:
            page.context.clear_cookies()
    return go


PAGES.update({
    "signed-in-home": _signed_in(f"/?date={d}"),
    "signed-in-latest": _signed_in(f"/?date={old}"),
    "signed-in-search": _signed_in("/search?q=retrieval"),
    "signed-in-paper": _signed_in(f"/papers/{PAPERS[3].id}"),
})


def _reader_page(path: str, likes: int = 0,
                 check: Callable[[Any], None] | None = None) -> Callable[[Any, Site], None]:
    """The page at ``path`` for a reader who saved ``likes`` papers from the fourth on (with
    a tag and a note, so that unsaving asks first)."""
    def go(page: Any, site: Site) -> None:
        paperwire = Paperwire(site.ctx.settings, site.store)
        account = make_account(paperwire, f"reader-{secrets.token_hex(4)}@example.org")
        for p in PAPERS[3:3 + likes]:  # a save is a signal: not the charts read elsewhere
            site.store.library.set_tags(account.id, p.id, ["to cite"], utcnow())
            site.store.library.set_note(account.id, p.id, "**Read** §4", utcnow())
        page.context.add_cookies([{"name": SESSION_COOKIE, "url": site.url,
                                   "value": paperwire.open_session(account)}])
        try:
            _go(page, site.url + path)
            if check is not None:
                check(page)
        finally:
            page.context.clear_cookies()
    return go


def _unsave_asked(page: Any) -> None:
    with page.expect_navigation():
        page.locator("form button.act.save").first.click()
    assert page.title().startswith("Remove from your library?")


def _feedback(page: Any, site: Site) -> None:
    sub = site.store.digests.activate(
        Subscriber(id=0, email=f"fan-{secrets.token_hex(4)}@example.org"), utcnow())
    token = paper_token(site.ctx.key, "feedback", sub.id, AS_OF, PAPERS[0].id)
    _go(page, f"{site.url}/d/feedback?" + urlencode({"t": token, "id": PAPERS[0].id,
                                                      "a": "down"}))


PAGES.update({
    "for-you-new-reader": _reader_page("/for-you"),
    "for-you": _reader_page("/for-you", likes=2),
    "unsave-confirm": _reader_page(f"/papers/{PAPERS[3].id}", likes=1, check=_unsave_asked),
    "digest-feedback": _feedback,
})


def _violations(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=_axe_source())
    result: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
          const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                             resultTypes: ['violations']});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160),
                                      why: n.failureSummary}))}));
        }""", WCAG_TAGS)
    return result


def _report(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']}")
        for n in v["nodes"][:8]:
            why = " ".join(str(n["why"]).split())
            lines.append(f"    {n['target']}: {n['html']}\n      {why}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", list(PAGES))
def test_axe_finds_no_wcag_violations(tab: Any, site: Site, name: str) -> None:
    _axe_source()  # skip early (or fail in CI) without axe-core
    how = PAGES[name]
    if callable(how):
        how(tab, site)
    else:
        _go(tab, site.url + how[0], how[1])
    violations = _violations(tab)
    assert not violations, f"axe on {name} ({tab.url}):\n{_report(violations)}"


# ---- what axe does not check --------------------------------------------------------


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


ACTIVE = """() => { const a = document.activeElement;
  return a ? (a.id ? a.tagName + '#' + a.id : a.tagName + '.' + a.className) : null; }"""


FIRST_TABBABLE = """() => {
  const all = document.querySelectorAll('a[href], button, input:not([type=hidden]), select,'
                                        + ' textarea, [tabindex]');
  const first = [...all].find(e => e.tabIndex >= 0 && !e.disabled);
  return first ? first.tagName + '.' + first.className : null; }"""


@pytest.mark.parametrize("path", ["/", f"/papers/{PAPERS[0].id}", "/search?q=retrieval",
                                  "/about/trending", "/no/such/page"])
def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(
        page: Any, site: Site, path: str) -> None:
    _go(page, site.url + path, 404 if path.startswith("/no/") else 200)
    assert page.evaluate(FIRST_TABBABLE) == "A.skip-link"
    if path.startswith("/search"):  # its box has autofocus: Tab goes on from there
        page.locator("a.skip-link").focus()
    else:
        page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    assert page.evaluate(ACTIVE) == "A.skip-link"
    assert skip.inner_text() == "Skip to content"
    assert skip.is_visible()  # shown when it has focus (hidden off-screen otherwise)
    page.keyboard.press("Enter")
    assert page.evaluate(ACTIVE) == "MAIN#main"
    # the next tab stop is inside main, not the header's links
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.querySelector('main').contains("
                         "document.activeElement)")


def test_chart_labels_stay_readable_on_a_phone(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740},
                                  device_scale_factor=2, is_mobile=True)
    try:
        page = context.new_page()
        _go(page, f"{site.url}/papers/{PAPERS[0].id}")
        chart = page.locator("svg.signal-chart")
        box = chart.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        # the size a reader sees: the computed font size times the SVG's scale on screen
        sizes = page.evaluate("""() => [...document.querySelectorAll('svg.signal-chart text')]
          .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)""")
        assert len(sizes) == 3 and min(sizes) >= 11, sizes
        for i in range(3):  # every label lies inside the chart, none cut off
            label = chart.locator("text").nth(i).bounding_box()
            assert label is not None
            assert box["x"] <= label["x"] and label["x"] + label["width"] <= box["x"] + box["width"]
        # the bars still fill the chart's width on the phone
        bars = [chart.locator("g.bar").nth(i).bounding_box() for i in range(5)]
        assert bars[-1] is not None and bars[-1]["x"] > box["x"] + box["width"] * 0.8
    finally:
        context.close()


def test_subscribe_form_is_above_the_fold(page: Any, site: Site) -> None:
    _go(page, f"{site.url}/?date={d}")
    assert page.locator("ol.trending > li").count() >= 3  # a full page, not an empty one
    form = page.locator("form.subscribe-form")
    assert form.count() == 1
    box = form.bounding_box()
    assert box is not None and box["y"] + box["height"] < DESKTOP["height"], box
    # its fields are the ones the digest reads, and it still posts to /subscribe
    assert form.get_attribute("action") == "/subscribe"
    for name in ("email", "categories", "queries"):
        assert form.locator(f'[name="{name}"]').count() == 1
    email = form.locator('[name="email"]')
    assert email.is_visible() and email.get_attribute("required") is not None


WHITE = "rgb(255, 255, 255)"


def test_form_fields_follow_the_dark_scheme(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport=DESKTOP, color_scheme="dark")
    try:
        page = context.new_page()
        fields = {
            f"{site.url}/?date={d}": ["form.subscribe-form input[name=email]",
                                      "form.search input[type=search]"],
            f"{site.url}/about/trending": ["header input[type=search]"],
            site.preferences_url(): ["form.prefs select[name=frequency]",
                                     "form.prefs input[name=hour]", "form.prefs textarea"],
        }
        for url, selectors in fields.items():
            _go(page, url)
            assert page.evaluate("getComputedStyle(document.documentElement).colorScheme"
                                 ) in ("dark", "light dark")
            for sel in selectors:
                style = page.locator(sel).first.evaluate(
                    "e => { const s = getComputedStyle(e);"
                    " return [s.backgroundColor, s.color]; }")
                assert style[0] != WHITE, (url, sel, style)
                assert style[1] != "rgb(0, 0, 0)", (url, sel, style)
    finally:
        context.close()


def _rgb(css: str) -> tuple[float, ...]:
    """``'rgb(1, 2, 3)'`` (or ``rgba``, opaque) → the three channels, 0–255."""
    inner = css[css.index("(") + 1:css.index(")")]
    return tuple(float(v) for v in inner.replace("/", " ").replace(",", " ").split()[:3])


def contrast(a: str, b: str) -> float:
    """WCAG's contrast ratio of two CSS ``rgb()`` colours."""
    def lum(c: tuple[float, ...]) -> float:
        lin = [v / 255 / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4
               for v in c]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(_rgb(a)), lum(_rgb(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_form_field_borders_have_3_to_1_contrast(browser: Any, site: Site, scheme: str) -> None:
    """WCAG 1.4.11 (non-text contrast, which axe does not check): a field's border against the
    field and against the page around it."""
    context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
    try:
        page = context.new_page()
        checked = 0
        for url in (f"{site.url}/?date={d}", f"{site.url}/about/trending",
                    site.preferences_url()):
            _go(page, url)
            fields = page.locator("main input:not([type=hidden]):not([type=checkbox]), "
                                  "main select, main textarea, header input")
            for i in range(fields.count()):
                border, inside, around = fields.nth(i).evaluate("""e => {
                  const s = getComputedStyle(e);
                  let p = e.parentElement, bg = 'rgba(0, 0, 0, 0)';
                  while (p && getComputedStyle(p).backgroundColor === bg) p = p.parentElement;
                  return [s.borderTopColor, s.backgroundColor,
                          p ? getComputedStyle(p).backgroundColor : 'rgb(255, 255, 255)']; }""")
                what = (url, fields.nth(i).evaluate("e => e.outerHTML.slice(0, 80)"))
                assert contrast(border, inside) >= 3, (what, border, inside)
                assert contrast(border, around) >= 3, (what, border, around)
                checked += 1
        assert checked >= 10
    finally:
        context.close()

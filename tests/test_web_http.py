"""HTTP as a client sees it, through a real uvicorn on a loopback port: HEAD wherever GET,
``Allow`` on every 405, security headers on every response, compressed pages, and (in
Chromium) no other site can frame a page (issue 10)."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from live_server import served
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper, Signal
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.middleware import DOCS_POLICY

D = date(2026, 6, 10)
PAPERS = [Paper(id=f"2606.0000{i}", title=f"Paper number {i} on retrieval",
                abstract="Words about retrieval. " * 40, authors=("Ada",),
                categories=("cs.IR",), primary_category="cs.IR", published=D)
          for i in range(1, 6)]
SIGNALS = [Signal(p.id, "hf_upvotes", D, 3 + i) for i, p in enumerate(PAPERS)]
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}




@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory,
         models_dir: Path) -> Iterator[tuple[str, FastAPI]]:
    home = tmp_path_factory.mktemp("http")
    url = f"sqlite:///{home / 'paperwire.db'}"
    store = Store.open(url)
    store.write_batch(PAPERS, SIGNALS)
    app = create_app(Paperwire(Settings(home=home, database_url=url, models_dir=models_dir), store))
    with served(app) as base:
        yield base, app
    store.close()


def get_urls(app: FastAPI) -> list[str]:
    """One URL per GET route of the app (path parameters filled with a stored paper), and a
    static file, a search, a missing page."""
    urls = []
    for route in app.routes:
        if isinstance(route, APIRoute) and "GET" in (route.methods or ()):
            if route.path.startswith("/go/"):  # a digest click (a signal): no paper, a 404
                urls.append("/go/2601.99999")
                continue
            path = route.path.replace("{paper_id:path}", PAPERS[0].id)
            urls.append(path.replace("{name}", "nothing.eml"))
    return [*sorted(urls), "/static/style.css", "/search?q=retrieval", "/no/such/page"]


def test_head_answers_wherever_get_does(site: tuple[str, FastAPI]) -> None:
    base, app = site
    urls = get_urls(app)
    assert "/healthz" in urls and "/" in urls and "/unsubscribe" in urls
    with httpx.Client(base_url=base, timeout=30) as web:
        for url in urls:
            got, head = web.get(url), web.head(url)
            assert head.status_code == got.status_code != 405, url
            assert head.content == b"", url
            assert head.headers.get("content-type") == got.headers.get("content-type"), url
        assert web.head("/healthz").status_code == 200


def test_every_405_says_what_is_allowed(site: tuple[str, FastAPI]) -> None:
    base, _ = site
    expected = {
        ("PUT", "/"): "GET, HEAD",
        ("POST", "/healthz"): "GET, HEAD",
        ("DELETE", "/api/trending"): "GET, HEAD",
        ("GET", "/subscribe"): "POST",
        ("HEAD", "/api/subscribe"): "POST",
        ("PUT", "/unsubscribe"): "GET, HEAD, POST",  # two routes at one address: both
        ("PATCH", "/preferences"): "GET, HEAD, POST",
        ("POST", "/static/style.css"): "GET, HEAD",
    }
    with httpx.Client(base_url=base, timeout=30) as web:
        for (method, url), allow in expected.items():
            r = web.request(method, url)
            assert r.status_code == 405, (method, url)
            assert r.headers.get("allow") == allow, (method, url, r.headers.get("allow"))
        api = web.delete("/api/trending")
        assert api.json()["detail"] == "This address takes GET, HEAD only."


def test_security_headers_on_every_response(site: tuple[str, FastAPI]) -> None:
    base, app = site
    with httpx.Client(base_url=base, timeout=30) as web:
        responses = [web.get(url) for url in get_urls(app)]
        responses += [web.get("/?date=2026-99-01"), web.put("/"), web.head("/"),
                      web.get("/api/search?q=-cat:cs.CV"), web.post("/api/subscribe")]
        for r in responses:
            assert {k: r.headers.get(k) for k in SECURITY} == SECURITY, r.url
            policy = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy, r.url
            if r.url.path == "/docs":  # Swagger UI's own scripts only (see test_api.py)
                assert policy == DOCS_POLICY and "<script>" not in r.text
            elif r.headers.get("content-type", "").startswith("text/html"):
                assert "script-src 'none'" in policy
                mail_view = r.url.path.startswith("/dev/outbox/")  # see the next test
                assert mail_view or "'unsafe-inline'" not in policy
                assert "<script" not in r.text and " style=" not in r.text, r.url


def test_mail_views_allow_inline_styles_only(site: tuple[str, FastAPI]) -> None:
    """The outbox shows a mail (styled inline) in a srcdoc frame, under the page's policy."""
    base, _ = site
    with httpx.Client(base_url=base, timeout=30) as web:
        policy = web.get("/dev/outbox/20260101T000000-0123abcd.eml").headers[
            "content-security-policy"]
        assert "style-src 'self' 'unsafe-inline'" in policy
        assert "script-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "img-src 'self';" in policy
        assert "'unsafe-inline'" not in web.get("/dev/outbox").headers["content-security-policy"]


def test_pages_are_compressed(site: tuple[str, FastAPI]) -> None:
    base, _ = site
    with httpx.Client(base_url=base, timeout=30) as web:
        for url in ["/?window=month", "/search?q=retrieval", "/api/trending",
                    "/feeds/trending.atom", "/static/style.css"]:
            raw = web.get(url, headers={"Accept-Encoding": "gzip"})
            assert raw.headers.get("content-encoding") == "gzip", url
            assert int(raw.headers["content-length"]) < len(raw.content), url  # decoded
            plain = web.get(url, headers={"Accept-Encoding": "identity"})
            assert "content-encoding" not in plain.headers and plain.content == raw.content
        with web.stream("GET", "/search?q=retrieval",
                        headers={"Accept-Encoding": "gzip"}) as r:
            body = b"".join(r.iter_raw())
        assert gzip.decompress(body).startswith(b"<!doctype html>")


@contextmanager
def other_site(html: str) -> Iterator[str]:
    """Another origin (another port on loopback) serving ``html`` at /."""
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_no_other_site_can_frame_the_unsubscribe_page(site: tuple[str, FastAPI]) -> None:
    from test_browser import ARGS, _playwright

    base, _ = site
    sync_playwright, executable = _playwright()
    target = f"{base}/unsubscribe?token=abc"
    frame_page = f'<!doctype html><title>other</title><iframe src="{target}"></iframe>'
    with sync_playwright() as p, other_site(frame_page) as other:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page: Any = browser.new_page()
            page.goto(other)
            page.wait_for_timeout(1500)
            [framed] = [f for f in page.frames if f is not page.main_frame]
            shown = framed.evaluate("() => document.body ? document.body.innerText : ''")
            assert "Paperwire" not in shown, shown  # Chromium refused to show it framed
            top = browser.new_page()
            top.goto(target)  # the same page, opened directly, shows
            assert "Paperwire" in top.inner_text("body")
        finally:
            browser.close()


def test_a_query_error_is_shown_under_the_box_in_a_browser(site: tuple[str, FastAPI]) -> None:
    """Chromium: the message is visible right below the search box, which keeps the query
    (focusable and announced as invalid), and no results or bare error page replace it."""
    from test_browser import ARGS, _playwright

    base, _ = site
    sync_playwright, executable = _playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page: Any = browser.new_page(viewport={"width": 1000, "height": 900})
            response = page.goto(f"{base}/search?q=-cat%3Acs.CV+diffusion")
            assert response.status == 400
            box = page.locator('main input[name="q"]')
            assert box.input_value() == "-cat:cs.CV diffusion"
            assert box.get_attribute("aria-invalid") == "true"
            message = page.locator("#search-error")
            assert message.is_visible() and "cat:" in message.inner_text()
            box_at, message_at = box.bounding_box(), message.bounding_box()
            assert 0 <= message_at["y"] - (box_at["y"] + box_at["height"]) < 150
            box.fill("diffusion")
            box.press("Enter")
            page.wait_for_load_state()
            assert page.locator("#search-error").count() == 0
            assert page.url.endswith("/search?q=diffusion")
        finally:
            browser.close()

"""The API as a product (issue 13): search results with their abstract, a highlighted snippet,
a total and cursor paging that walks every result once; signed cursors (a garbled, forged or
borrowed one is a 400); JSON errors at every ``/api`` and ``.json`` address; ``Allow`` on a
405; a typed ``/openapi.json``; ``/docs`` served offline (checked in Chromium).
On SQLite (the API's shapes do not depend on the database)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from live_server import served
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper, Signal
from paperwire.store import Store
from paperwire.web.app import create_app
from test_browser import ARGS, _playwright

D = date(2026, 6, 10)
# 45 papers about retrieval (one word in common), 5 about something else
RETRIEVAL = [Paper(id=f"2606.{i:05d}", title=f"Learned sparse retrieval, study {i}",
                   authors=("Ada",), categories=("cs.IR",), primary_category="cs.IR",
                   abstract=f"Background first. Then we study retrieval with method {i} and "
                            "report what it changes for long queries.",
                   published=D - timedelta(days=i % 20)) for i in range(1, 46)]
OTHER = [Paper(id=f"2606.{i:05d}", title=f"Galaxy clusters {i}", authors=("Vera",),
               categories=("astro-ph.GA",), primary_category="astro-ph.GA",
               abstract="Dark matter halos.", published=D) for i in range(46, 51)]
SIGNALS = [Signal(p.id, "hf_upvotes", D, i) for i, p in enumerate(RETRIEVAL + OTHER, 1)]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'paperwire.db'}"


@pytest.fixture
def paperwire(settings: Settings, store: Store) -> Paperwire:
    store.write_batch(RETRIEVAL + OTHER, SIGNALS)
    pw = Paperwire(settings, store)
    pw.index(embed=False)
    return pw


@pytest.fixture
def client(paperwire: Paperwire) -> TestClient:
    return TestClient(create_app(paperwire), raise_server_exceptions=False)


def walk(client: TestClient, path: str, params: dict[str, Any],
         key: str) -> tuple[list[dict[str, Any]], list[int]]:
    """Every item of a paged list, following next_cursor; and each page's total."""
    items: list[dict[str, Any]] = []
    totals: list[int] = []
    cursor = None
    for _ in range(50):
        r = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body[key]
        totals.append(body["total"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items, totals
    raise AssertionError("paging did not end")


# ---- search: abstract, snippet, total, paging ----------------------------------------------


def test_search_results_carry_abstract_and_highlighted_snippet(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "retrieval", "mode": "lexical"}).json()
    assert body["total"] == 45 and len(body["results"]) == 20
    first = body["results"][0]
    paper = next(p for p in RETRIEVAL if p.id == first["id"])
    assert first["abstract"] == paper.abstract
    assert "<b>retrieval</b>" in first["snippet_html"]
    assert "<b>" not in first["snippet"] and "retrieval with method" in first["snippet"]
    assert first["title_html"] == paper.title.replace("retrieval", "<b>retrieval</b>")


@pytest.mark.parametrize("params", [
    {"q": "retrieval", "mode": "lexical", "limit": "7"},
    {"q": "retrieval", "mode": "hybrid", "limit": "10", "sort": "date"},
    {"q": "cat:cs.IR", "limit": "9"},  # no words: newest first
])
def test_search_paging_walks_every_result_once(client: TestClient,
                                               params: dict[str, str]) -> None:
    items, totals = walk(client, "/api/search", params, "results")
    ids = [r["id"] for r in items]
    assert len(ids) == len(set(ids)) == 45  # no duplicates, nothing missed
    assert set(ids) == {p.id for p in RETRIEVAL}
    assert set(totals) == {45}
    limit = int(params["limit"])
    assert len(totals) == -(-45 // limit)  # the last page has no next_cursor
    one_page = client.get("/api/search", params={**params, "limit": "100"}).json()
    assert [r["id"] for r in one_page["results"]] == ids  # pages are slices of one ranking
    assert one_page["next_cursor"] is None


def test_trending_pages_with_total_and_cursor(client: TestClient) -> None:
    params = {"window": "week", "date": D.isoformat(), "limit": "8"}
    items, totals = walk(client, "/api/trending", params, "entries")
    whole = client.get("/api/trending", params={**params, "limit": "100"}).json()
    assert set(totals) == {whole["total"]} and whole["total"] == len(whole["entries"]) > 30
    assert [e["id"] for e in items] == [e["id"] for e in whole["entries"]]
    assert [e["rank"] for e in items] == list(range(1, whole["total"] + 1))
    default = client.get("/api/trending", params={"date": D.isoformat()}).json()
    assert len(default["entries"]) == 30 and default["next_cursor"] is not None


def _bad(r: Any) -> str:
    assert r.status_code == 400 and r.headers["content-type"] == "application/json", r.text
    detail: str = r.json()["detail"]
    return detail


def test_a_garbled_forged_or_borrowed_cursor_is_a_400(client: TestClient) -> None:
    params = {"q": "retrieval", "mode": "lexical", "limit": "5"}
    cursor = client.get("/api/search", params=params).json()["next_cursor"]
    assert client.get("/api/search", params={**params, "cursor": cursor}).status_code == 200
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=="))
    raw[3] = 40  # the offset changed, the signature kept
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    for bad in ["garbage!", "AAAA", forged, cursor[:-2], "%%%", "x" * 500]:
        assert "Invalid cursor" in _bad(client.get("/api/search",
                                                   params={**params, "cursor": bad}))
    other = {**params, "q": "galaxy"}  # a cursor belongs to its own request
    assert "Invalid cursor" in _bad(client.get("/api/search", params={**other,
                                                                     "cursor": cursor}))
    trend = client.get("/api/trending", params={"date": D.isoformat(), "limit": "3"}).json()
    assert "Invalid cursor" in _bad(client.get("/api/search", params={
        **params, "cursor": trend["next_cursor"]}))


# ---- errors: JSON at /api and .json addresses; Allow on 405 -------------------------------


@pytest.mark.parametrize("url", [
    "/feeds/trending.json?window=bogus", "/feeds/trending.json?date=2026-13-01",
    "/feeds/trending.json?cat=<script>", "/api/trending?window=bogus",
    "/api/search?q=retrieval&limit=abc", "/api/search?q=after:0001-01-01",
])
def test_errors_at_json_addresses_are_json(client: TestClient, url: str) -> None:
    for accept in ["*/*", "application/json", "application/feed+json"]:  # curl, clients
        assert _bad(client.get(url, headers={"Accept": accept}))


def test_json_downloads_answer_json_errors(client: TestClient) -> None:
    for url in ["/library/export.json", "/account/export.json", "/feeds/nothing.json"]:
        r = client.get(url, headers={"Accept": "*/*"})
        assert r.status_code in (401, 404) and r.json()["detail"], url
        # a browser following a link gets the page (signed out: with its sign-in link)
        page = client.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*"})
        assert page.headers["content-type"].startswith("text/html"), url


@pytest.mark.parametrize(("method", "url", "allow"), [
    ("DELETE", "/api/search", "GET, HEAD"),
    ("POST", "/api/trending", "GET, HEAD"),
    ("PUT", "/api/papers/2606.00001", "GET, HEAD"),
    ("PUT", "/api/papers/2606.00001/vote", "POST"),
    ("GET", "/api/papers/2606.00001/vote", "POST"),  # not a paper whose id ends in /vote
    ("GET", "/papers/2606.00001/tags", "POST"),
    ("OPTIONS", "/api/papers/hep-th/9901001/save", "POST"),
    ("OPTIONS", "/api/subscribe", "POST"),
    ("POST", "/feeds/trending.json", "GET, HEAD"),
    ("DELETE", "/healthz", "GET, HEAD"),
])
def test_405_carries_allow(client: TestClient, method: str, url: str, allow: str) -> None:
    r = client.request(method, url, headers={"Accept": "application/json"})
    assert r.status_code == 405 and r.headers["allow"] == allow, (r.status_code, r.headers)
    assert allow in r.json()["detail"]


# ---- the schema ------------------------------------------------------------------------------


def test_every_operation_is_typed_and_declares_its_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "stable" in schema["info"]["description"] and schema["info"]["version"] == "1"
    operations = [(path, method, op) for path, ops in schema["paths"].items()
                  for method, op in ops.items()]
    assert len(operations) >= 8
    for path, _method, op in operations:
        assert path.startswith(("/api/", "/healthz")), path  # pages and forms stay out
        codes = op["responses"]
        ok = codes.get("200") or codes.get("202")
        assert ok and "$ref" in str(ok["content"]["application/json"]["schema"]), (path, ok)
        assert "422" not in codes, path  # invalid parameters are a 400 here
        errors = [c for c in codes if c.startswith(("4", "5"))]
        assert errors or path == "/healthz", path
        for code in errors:
            ref = codes[code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith(("/ErrorBody", "/Health")), (path, code)
    search = schema["paths"]["/api/search"]["get"]
    assert {p["name"] for p in search["parameters"]} >= {"q", "limit", "cursor", "sort"}
    models = schema["components"]["schemas"]
    assert {"abstract", "snippet", "snippet_html"} <= set(models["SearchResult"]["properties"])
    assert {"total", "next_cursor"} <= set(models["SearchPage"]["properties"])


# ---- /docs and /redoc, offline ---------------------------------------------------------------

_ASSET = re.compile(r'(?:src|href)="([^"]+)"')


def test_docs_load_everything_from_this_server(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assets = _ASSET.findall(r.text)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
        got = client.get(asset)
        assert got.status_code == 200 and len(got.content) > 100, asset
    assert "<script>" not in r.text  # no inline script: the policy forbids it
    policy = r.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline' " not in policy.split(
        "style-src")[0] and "frame-ancestors 'none'" in policy
    # every other page keeps the strict policy
    assert "script-src 'none'" in client.get("/").headers["content-security-policy"]


@pytest.fixture
def live(paperwire: Paperwire) -> Iterator[str]:
    with served(create_app(paperwire)) as url:
        yield url


def test_docs_render_every_operation_in_chromium(live: str) -> None:
    sync_playwright, executable = _playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = browser.new_page()
            outside: list[str] = []
            page.on("request", lambda req: None if req.url.startswith(live)
                    else outside.append(req.url))
            problems: list[str] = []
            page.on("console", lambda msg: problems.append(msg.text)
                    if msg.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            assert page.goto(f"{live}/docs").status == 200
            page.locator(".opblock").first.wait_for(timeout=20000)
            summaries = page.locator(".opblock-summary-path").all_inner_texts()
            assert "/api/search" in summaries and "/api/papers/{paper_id}" in summaries
            assert len(summaries) >= 8
            assert page.get_by_text("/api is version 1 and stable").count() == 1
        finally:
            browser.close()
    assert outside == [] and problems == [], (outside, problems)


# ---- the database gone: a 503 that says so, never a 500 ------------------------------------


def test_a_database_outage_is_a_declared_503(paperwire: Paperwire, client: TestClient) -> None:
    path = Path(paperwire.settings.database_url.removeprefix("sqlite:///"))
    paperwire.store.engine.dispose()
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        extra.unlink(missing_ok=True)
    path.write_bytes(b"this is not a database file, not any more" * 200)
    schema_codes = {p: set(op["get"]["responses"]) for p, op in
                    client.get("/openapi.json").json()["paths"].items() if "get" in op}
    for url, path_in_schema in [("/api/trending", "/api/trending"),
                                ("/api/papers/2606.00001", "/api/papers/{paper_id}"),
                                ("/feeds/trending.json", None)]:
        r = client.get(url)
        assert r.status_code == 503 and "database" in r.json()["detail"], (url, r.text)
        assert r.headers["retry-after"] == "30"
        if path_in_schema:
            assert "503" in schema_codes[path_in_schema]
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 503 and "database cannot be reached" in page.text

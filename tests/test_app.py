"""The application object: one per process, one search engine for every request (pages,
API, the digest preview, the scheduler's digest run), an injectable clock, and the two ways
the command starts (the ``paperwire`` script and ``python -m paperwire``)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper, Signal
from paperwire.records import Subscriber
from paperwire.search import engine as engine_module
from paperwire.store import Store
from paperwire.web.app import create_app

D = date(2026, 6, 10)
PAPERS = [Paper(id=f"2606.0000{i}", title=f"Learned sparse retrieval, part {i}",
                abstract="Sparse retrieval with learned term weights. " * 5,
                authors=("Ada Lovelace",), categories=("cs.IR",), primary_category="cs.IR",
                published=D) for i in range(1, 6)]
SIGNALS = [Signal(p.id, "hf_upvotes", D, 3 + i) for i, p in enumerate(PAPERS)]


@pytest.fixture
def engines_made(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every SearchEngine made from now on (the real class, counted as it is built)."""
    made: list[object] = []
    build = engine_module.SearchEngine.__post_init__

    def counted(self: engine_module.SearchEngine) -> None:
        made.append(self)
        build(self)

    monkeypatch.setattr(engine_module.SearchEngine, "__post_init__", counted)
    return made


def test_one_engine_serves_pages_api_and_digest_previews(
        settings: Settings, store: Store, engines_made: list[object]) -> None:
    s = replace(settings, secret_key="k" * 32)
    store.write_batch(PAPERS, SIGNALS)
    sub = store.digests.activate(
        Subscriber(id=0, email="reader@example.org", queries=("sparse retrieval",)),
        datetime(2026, 6, 10, 8))
    paperwire = Paperwire(s, store)
    client = TestClient(create_app(paperwire))
    prefs = urlsplit(paperwire.digest_context().links(sub).preferences)
    for _ in range(3):
        assert client.get("/search", params={"q": "sparse retrieval"}).status_code == 200
        assert client.get("/api/similar", params={"id": PAPERS[0].id}).status_code == 200
        assert client.get(f"/papers/{PAPERS[1].id}").status_code == 200
        preview = client.get(f"/preferences/preview?{prefs.query}&day=2026-06-11")
        assert preview.status_code == 200 and "Learned sparse retrieval" in preview.text
    assert paperwire.digest_context().engine() is paperwire.engine
    assert len(engines_made) == 1  # was one more per preview request


def test_the_clock_is_the_app_objects(settings: Settings, store: Store) -> None:
    store.write_batch(PAPERS, SIGNALS)
    paperwire = Paperwire(settings, store, clock=lambda: datetime(2026, 6, 11, 9, 30))
    view = paperwire.trending("week")
    assert view.requested == date(2026, 6, 11) and view.as_of == D
    assert [p.id for _, p in view.entries][:1] == [PAPERS[-1].id]
    doc = paperwire.trending_json(view)
    assert doc["entries"][0]["url"] == f"{settings.base_url}/papers/{PAPERS[-1].id}"


def test_an_app_object_closes_only_the_store_it_opened(settings: Settings,
                                                       store: Store) -> None:
    with Paperwire(settings, store) as borrowed:
        assert borrowed.store is store
    assert store.count_papers() == 0  # still open
    with Paperwire.open(settings) as own:
        assert own.store is not store and own.store.count_papers() == 0


@pytest.mark.parametrize("command", [
    [str(Path(sys.executable).parent / "paperwire"), "--version"],
    [sys.executable, "-m", "paperwire", "--version"],
])
def test_the_command_starts_both_ways(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "0.1.0", done.stderr


def test_one_error_mapper_answers_html_or_json(settings: Settings, store: Store) -> None:
    """Errors of the PaperwireError tree, PageError and HTTP errors go through one mapper:
    a page for a browser, ``{"detail"}`` under /api/ or for a client that asks for JSON."""
    client = TestClient(create_app(Paperwire(replace(settings, secret_key="k" * 32), store)))
    page = client.get("/preferences?token=forged")  # TokenError
    assert page.status_code == 400 and "This link cannot be used" in page.text
    as_json = client.get("/preferences?token=forged", headers={"Accept": "application/json"})
    assert as_json.status_code == 400 and as_json.headers["content-type"] == "application/json"
    detail = as_json.json()["detail"]
    assert detail and detail[0].islower() and not detail.endswith(".")  # the message as is
    missing = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.json() == {
        "detail": "There is no page at this address."}
    assert client.get("/no/such/page").headers["content-type"].startswith("text/html")
    bad = client.get("/api/search", params={"q": "x", "mode": "bogus"})  # a PageError
    assert bad.status_code == 400 and bad.json() == {
        "detail": "mode must be one of lexical, dense, hybrid"}

"""Digest clicks as a trending signal, and a trending "as of" day no stray signal can move.

A click counts only through the signed link a digest mail carries (one per digest,
subscriber and paper), once per subscriber and paper; an anonymous or tampered /go/ link
still leads to the paper but counts nothing. Real SQLite and PostgreSQL, the real web app,
and digests sent through a real SMTP server on loopback (tests/smtp_server.py)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from paperwire.config import Settings
from paperwire.digests import deliver
from paperwire.digests.mailer import SmtpMailer, parse_smtp_url
from paperwire.digests.model import Subscriber
from paperwire.digests.service import DigestContext
from paperwire.models import Paper, Signal, utcnow
from paperwire.store import Store
from paperwire.web.app import create_app
from smtp_server import FaultySmtpServer

BASE = "https://papers.example.org"
HF_DAY = date(2026, 6, 9)
PAPERS = [Paper(id=f"2606.0000{i}", title=f"Paper number {i}", abstract="About retrieval.",
                authors=("Ada Lovelace",), categories=("cs.IR",), primary_category="cs.IR",
                published=date(2026, 6, 8)) for i in range(1, 6)]
SIGNALS = [Signal(p.id, "hf_upvotes", HF_DAY - timedelta(days=i % 2), 10 + i)
           for i, p in enumerate(PAPERS)]
GO_LINK = re.compile(re.escape(BASE) + r"(/go/[^\s\"<>]+)")


@pytest.fixture
def web(settings: Settings, smtp_server: FaultySmtpServer) -> tuple[TestClient, Store, Settings]:
    s = replace(settings, smtp_url=smtp_server.url, base_url=BASE, secret_key="k" * 32,
                digest_send_rate=0)
    store = Store.open(s.resolved_database_url)
    store.write_batch(PAPERS, SIGNALS)
    return TestClient(create_app(s, store)), store, s


def clicks(store: Store, paper_id: str) -> float:
    return sum(x.value for x in store.signals_for(paper_id) if x.source == "digest_click")


def mailed_links(store: Store, s: Settings, smtp_server: FaultySmtpServer,
                 *emails: str) -> dict[str, list[str]]:
    """Send today's digest to each address; the /go/ links (path and query) each mail holds."""
    for email in emails:
        store.digests.activate(Subscriber(id=0, email=email, mode="trending", size=3), utcnow())
    with SmtpMailer(parse_smtp_url(f"{smtp_server.url}?timeout=10"), "client.test") as m:
        report = deliver.run(DigestContext(store, s), m, utcnow, utcnow().date())
    assert report.sent == len(emails)
    out: dict[str, list[str]] = {}
    for r in smtp_server.received:
        part = r.message.get_body(("plain",))
        assert part is not None
        out[r.rcpt_tos[0]] = list(dict.fromkeys(GO_LINK.findall(part.get_content())))
    return out


def trending_state(client: TestClient) -> tuple[str | None, list[str]]:
    doc = client.get("/api/trending").json()
    return doc["as_of"], [e["id"] for e in doc["entries"]]


def test_anonymous_go_links_redirect_but_count_nothing(
    web: tuple[TestClient, Store, Settings],
) -> None:
    """20 GETs of /go/{id} without a token, or with a forged one, lead to the paper and
    change neither the paper's signals nor trending."""
    client, store, _ = web
    before = trending_state(client)
    for i in range(20):
        suffix = "" if i % 2 else "?t=forged.token"
        r = client.get(f"/go/{PAPERS[4].id}{suffix}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/papers/{PAPERS[4].id}"
    assert clicks(store, PAPERS[4].id) == 0
    assert trending_state(client) == before
    assert client.get("/go/2699.99999", follow_redirects=False).status_code == 404


def test_a_signed_digest_link_counts_once_per_subscriber_and_paper(
    web: tuple[TestClient, Store, Settings], smtp_server: FaultySmtpServer,
) -> None:
    """The digest mail's paper links are signed per digest, subscriber and paper: clicking
    one twice counts one click; another subscriber's link to the same paper counts one
    more; a link whose token names another paper counts nothing."""
    client, store, s = web
    links = mailed_links(store, s, smtp_server, "a@example.org", "b@example.org")
    a, b = links["a@example.org"], links["b@example.org"]
    assert len(a) == 3 and a != b  # the same papers, with tokens of their own
    first = a[0]
    paper_id = urlsplit(first).path.removeprefix("/go/")
    for _ in range(2):
        r = client.get(first, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/papers/{paper_id}"
    assert clicks(store, paper_id) == 1
    [b_same] = [u for u in b if urlsplit(u).path == f"/go/{paper_id}"]
    client.get(b_same, follow_redirects=False)
    assert clicks(store, paper_id) == 2
    other = urlsplit(a[1])
    moved = f"/go/{paper_id}?{other.query}"  # a token for another paper
    assert client.get(moved, follow_redirects=False).status_code == 303
    assert clicks(store, paper_id) == 2
    assert [x.day for x in store.signals_for(paper_id) if x.source == "digest_click"] == [
        utcnow().date()]


def test_one_click_today_moves_neither_the_as_of_day_nor_empties_a_view(
    web: tuple[TestClient, Store, Settings], smtp_server: FaultySmtpServer,
) -> None:
    """The data ends on 9 June; a single (real) digest click today leaves trending as of
    9 June, with its papers, on the home page, in the API and in the feeds."""
    client, store, s = web
    as_of, entries = trending_state(client)
    assert as_of == HF_DAY.isoformat() and len(entries) == 5
    links = mailed_links(store, s, smtp_server, "a@example.org")
    client.get(links["a@example.org"][0], follow_redirects=False)
    assert sum(clicks(store, p.id) for p in PAPERS) == 1
    assert trending_state(client) == (as_of, entries)
    home = client.get("/").text
    assert all(p.title in home for p in PAPERS)
    feed = client.get("/feeds/trending.json").json()
    assert len(feed["items"]) == 5
    assert client.get("/feeds/trending.atom").text.count("<entry>") == 5

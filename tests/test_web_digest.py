"""The digest's web side end to end, through the real SMTP server of tests/smtp_server.py:
subscribe on the page, follow the link in the received mail, RFC 8058 one-click unsubscribe,
preferences, and the local outbox pages."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from paperwire.config import Settings
from paperwire.digests import tokens
from paperwire.digests.service import DigestContext
from paperwire.models import Paper, Signal, utcnow
from paperwire.store import Store
from paperwire.web.app import create_app
from smtp_server import FaultySmtpServer

BASE = "https://papers.example.org"


@pytest.fixture
def web(settings: Settings, smtp_server: FaultySmtpServer) -> tuple[TestClient, Store, Settings]:
    s = replace(settings, smtp_url=smtp_server.url, base_url=BASE,
                secret_key="k" * 32)
    store = Store.open(s.resolved_database_url)
    store.write_batch(
        [Paper(id="2606.00001", title="Sparse retrieval with learned weights",
               abstract="We study SPLADE.", authors=("Ada Lovelace",), categories=("cs.IR",),
               primary_category="cs.IR", published=date(2026, 6, 8))],
        [Signal("2606.00001", "hf_upvotes", date(2026, 6, 9), 12)])
    return TestClient(create_app(s, store)), store, s


def drain(client: TestClient) -> None:
    """Wait for the queued confirmation mails (they are sent after the answer)."""
    client.app.state.mail_queue.join()  # type: ignore[attr-defined]


def link_in(raw: bytes, path: str) -> str:
    text = raw.decode("utf-8", "replace").replace("=\r\n", "").replace("=3D", "=")
    m = re.search(re.escape(BASE + path) + r"\?token=[A-Za-z0-9_\-.%]+", text)
    assert m, f"no {path} link in the mail"
    return m.group(0)


def test_double_opt_in_through_the_page(web: tuple[TestClient, Store, Settings],
                                        smtp_server: FaultySmtpServer) -> None:
    client, store, _ = web
    page = client.get("/")
    assert 'action="/subscribe"' in page.text
    r = client.post("/subscribe", data={"email": "Ada@Example.org", "categories": "cs.IR",
                                        "queries": "learned sparse retrieval"})
    assert r.status_code == 200 and "confirmation mail is on its way" in r.text
    drain(client)
    [mail] = smtp_server.received
    assert list(mail.rcpt_tos) == ["ada@example.org"]
    sub = store.digests.by_email("ada@example.org")
    assert sub is not None and sub.status == "pending" and sub.categories == ("cs.IR",)
    url = link_in(mail.raw, "/subscribe/confirm")
    path = urlsplit(url)
    shown = client.get(f"{path.path}?{path.query}")  # GET changes nothing (mail scanners)
    assert shown.status_code == 200 and "Confirm subscription" in shown.text
    assert store.digests.by_email("ada@example.org").status == "pending"  # type: ignore[union-attr]
    done = client.post(f"{path.path}?{path.query}")
    assert done.status_code == 200 and "will receive the Paperwire digest" in done.text
    assert store.digests.by_email("ada@example.org").status == "active"  # type: ignore[union-attr]
    again = client.post(f"{path.path}?{path.query}")  # single use
    assert again.status_code == 400 and "already used" in again.text
    assert len(smtp_server.received) == 1  # nothing but the confirmation mail


def test_same_answer_for_known_and_unknown_and_three_a_day(
        web: tuple[TestClient, Store, Settings], smtp_server: FaultySmtpServer) -> None:
    client, _, _ = web
    answers = {client.post("/api/subscribe", json={"email": "bob@example.org"}).text
               for _ in range(5)}
    answers.add(client.post("/api/subscribe", json={"email": "new@example.org"}).text)
    drain(client)
    assert len(answers) == 1
    assert [list(m.rcpt_tos) for m in smtp_server.received].count(["bob@example.org"]) == 3
    assert client.post("/api/subscribe", json={"email": "not-an-address"}).status_code == 400


def test_one_click_unsubscribe_rfc8058(web: tuple[TestClient, Store, Settings]) -> None:
    client, store, s = web
    from paperwire.digests.model import Subscriber

    sub = store.digests.activate(Subscriber(id=0, email="eve@example.org"), utcnow())
    ctx = DigestContext(store, s)
    url = urlsplit(ctx.links(sub).unsubscribe)
    target = f"{url.path}?{url.query}"
    shown = client.get(target)
    assert shown.status_code == 200 and 'value="One-Click"' in shown.text
    assert store.digests.get(sub.id).status == "active"  # type: ignore[union-attr]
    client.cookies.clear()
    r = client.post(target, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert r.status_code == 200 and store.digests.get(sub.id).status == "unsubscribed"  # type: ignore[union-attr]
    again = client.post(target, files={"List-Unsubscribe": (None, "One-Click")})  # multipart
    assert again.status_code == 200
    assert client.post(target, data={}).status_code == 400
    token = parse_qs(url.query)["token"][0]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.post(f"/unsubscribe?token={forged}",
                       data={"List-Unsubscribe": "One-Click"}).status_code == 400
    # a preferences token cannot unsubscribe (tokens are bound to their purpose)
    prefs = tokens.make_token(ctx.key, "preferences", sub.id)
    assert client.post(f"/unsubscribe?token={prefs}",
                       data={"List-Unsubscribe": "One-Click"}).status_code == 400


def test_preferences_page_saves_and_validates(web: tuple[TestClient, Store, Settings]) -> None:
    client, store, s = web
    from paperwire.digests.model import Subscriber

    sub = store.digests.activate(Subscriber(id=0, email="max@example.org"), utcnow())
    url = urlsplit(DigestContext(store, s).links(sub).preferences)
    target = f"{url.path}?{url.query}"
    assert "max@example.org" in client.get(target).text
    form = {"frequency": "weekly", "weekday": "2", "hour": "6", "timezone": "Europe/Berlin",
            "categories": "cs.IR, cs.CL", "queries": "dense retrieval\nauthor:lovelace",
            "papers": "2606.00001", "size": "5", "mode": "personal", "skip_empty": "on"}
    r = client.post(target, data=form)
    assert r.status_code == 200 and "Saved." in r.text
    got = store.digests.get(sub.id)
    assert got is not None and (got.frequency, got.weekday, got.hour, got.timezone) == (
        "weekly", 2, 6, "Europe/Berlin")
    assert got.queries == ("dense retrieval", "author:lovelace") and got.skip_empty
    assert client.post(target, data={**form, "timezone": "Mars/Olympus"}).status_code == 400
    preview = client.get(target.replace("/preferences?", "/preferences/preview?"))
    assert preview.status_code == 200 and "Sparse retrieval with learned weights" in preview.text
    preview_url = target.replace("/preferences?", "/preferences/preview?")
    bad_day = client.get(preview_url + "&day=2026-13-40")
    assert bad_day.status_code == 400 and "YYYY-MM-DD" in bad_day.text


def test_local_outbox_pages(settings: Settings, tmp_path: Path) -> None:
    """With PAPERWIRE_DEV_OUTBOX on (and no mail server), the outbox is on the web."""
    s = replace(settings, smtp_url="", base_url="http://127.0.0.1:8000", secret_key="k" * 32,
                dev_outbox=True)
    client = TestClient(create_app(s))
    assert "No mail yet" in client.get("/dev/outbox").text
    client.post("/subscribe", data={"email": "demo@example.org"})
    drain(client)
    listing = client.get("/dev/outbox")
    [name] = re.findall(r'href="/dev/outbox/([^"]+)"', listing.text)
    page = client.get(f"/dev/outbox/{name}")
    assert page.status_code == 200 and "Confirm your Paperwire digest" in page.text
    assert 'href="http://127.0.0.1:8000/subscribe/confirm?token=' in page.text
    assert client.get("/dev/outbox/..%2Fsecret_key").status_code == 404


def test_unsigned_digest_links_lead_to_the_paper_and_count_nothing(
    web: tuple[TestClient, Store, Settings],
) -> None:
    """/go/ without the signed token of a digest mail redirects to the paper and adds no
    digest_click signal (tests/test_digest_clicks.py covers the signed links)."""
    client, store, _ = web
    for _ in range(3):
        r = client.get("/go/2606.00001", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/papers/2606.00001"
    assert [x for x in store.signals_for("2606.00001") if x.source == "digest_click"] == []
    assert client.get("/go/2699.99999", follow_redirects=False).status_code == 404

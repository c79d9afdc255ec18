"""Links in mails: strict tokens, lifetimes, the subscription epoch (a resubscribe voids old
links), what a preferences link does after an unsubscribe (resubscribe, through a new
confirmation mail), and tokens kept out of the access log of a real uvicorn server."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from live_server import served
from paperwire.app import Paperwire
from paperwire.clock import utcnow
from paperwire.config import Settings
from paperwire.digests import tokens
from paperwire.digests.service import DigestContext
from paperwire.digests.subscriptions import subscriber_for
from paperwire.errors import TokenError
from paperwire.records import Subscriber
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.digest_routes import redact
from smtp_server import FaultySmtpServer

KEY = b"k" * 32
NOW = datetime(2026, 7, 1, 9, 0)
BASE = "https://papers.example.org"


# -- strict tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize("junk", ["!!", "==", "<>", "=", " ", "\n", ".", "%20", "A"])
def test_a_token_with_anything_appended_is_refused(junk: str) -> None:
    token = tokens.make_token(KEY, "unsubscribe", 42, nonce="e1", expires=NOW + timedelta(1))
    assert tokens.read_token(KEY, "unsubscribe", token, NOW).subscriber_id == 42
    for damaged in (token + junk, junk + token, token.replace(".", "." + junk)):
        with pytest.raises(TokenError):
            tokens.read_token(KEY, "unsubscribe", damaged, NOW)


def test_a_non_canonical_encoding_of_the_same_bytes_is_refused() -> None:
    """The signature's last character carries unused bits: a string differing only there
    decodes to the same bytes under lenient base64, and must still be refused."""
    token = tokens.make_token(KEY, "preferences", 7, nonce="e0", expires=NOW + timedelta(1))
    head, sig = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twins = [sig[:-1] + c for c in alphabet if c != sig[-1]
             and _lenient(sig[:-1] + c) == _lenient(sig)]
    assert twins, "a 20-byte signature has spare bits in its last character"
    for twin in twins:
        with pytest.raises(TokenError, match="damaged"):
            tokens.read_token(KEY, "preferences", f"{head}.{twin}", NOW)


def _lenient(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- lifetimes and epochs -----------------------------------------------------------------------


@pytest.fixture
def ctx(settings: Settings) -> DigestContext:
    s = replace(settings, secret_key="k" * 32, base_url=BASE)
    return DigestContext(Store.open(s.resolved_database_url), s)


def token_of(url: str) -> str:
    return urlsplit(url).query.removeprefix("token=")


def test_links_expire(ctx: DigestContext) -> None:
    """Preferences links work for 60 days, unsubscribe links for 365, from the mail."""
    sub = ctx.store.digests.activate(Subscriber(id=0, email="ada@example.org"), NOW)
    links = ctx.links(sub, NOW)
    prefs, unsub = token_of(links.preferences), token_of(links.unsubscribe)
    assert subscriber_for(ctx, "preferences", prefs, NOW + timedelta(days=59)).id == sub.id
    with pytest.raises(TokenError, match="expired"):
        subscriber_for(ctx, "preferences", prefs, NOW + timedelta(days=60))
    assert subscriber_for(ctx, "unsubscribe", unsub, NOW + timedelta(days=364)).id == sub.id
    with pytest.raises(TokenError, match="expired"):
        subscriber_for(ctx, "unsubscribe", unsub, NOW + timedelta(days=365))
    # a preferences link made without an expiry (as before) is refused
    forever = tokens.make_token(ctx.key, "preferences", sub.id)
    with pytest.raises(TokenError):
        subscriber_for(ctx, "preferences", forever, NOW)


def test_a_resubscribe_voids_the_links_mailed_before(ctx: DigestContext) -> None:
    store = ctx.store
    sub = store.digests.request(Subscriber(id=0, email="bo@example.org"), "n1", NOW)
    assert sub is not None
    sub = store.digests.confirm(sub.id, "n1", NOW)
    assert sub is not None
    old = ctx.links(sub, NOW)
    store.digests.unsubscribe(sub.id, NOW)
    again = store.digests.request(sub, "n2", NOW + timedelta(days=1))
    assert again is not None
    resubscribed = store.digests.confirm(sub.id, "n2", NOW + timedelta(days=1))
    assert resubscribed is not None and resubscribed.epoch == sub.epoch + 1
    for purpose, url in (("preferences", old.preferences), ("unsubscribe", old.unsubscribe)):
        with pytest.raises(TokenError, match="earlier subscription"):
            subscriber_for(ctx, purpose, token_of(url), NOW + timedelta(days=1))
    fresh = ctx.links(resubscribed, NOW + timedelta(days=1))
    assert subscriber_for(ctx, "preferences", token_of(fresh.preferences),
                          NOW + timedelta(days=1)).status == "active"


# -- after an unsubscribe, through the web --------------------------------------------------


@pytest.fixture
def web(settings: Settings, smtp_server: FaultySmtpServer) -> tuple[TestClient, DigestContext]:
    s = replace(settings, smtp_url=smtp_server.url, base_url=BASE, secret_key="k" * 32)
    store = Store.open(s.resolved_database_url)
    return TestClient(create_app(Paperwire(s, store)), base_url=BASE), DigestContext(store, s)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_after_unsubscribing_the_preferences_link_offers_only_resubscribe(
        web: tuple[TestClient, DigestContext], smtp_server: FaultySmtpServer) -> None:
    client, ctx = web
    sub = ctx.store.digests.activate(
        Subscriber(id=0, email="cy@example.org", categories=("cs.IR",)), utcnow())
    links = ctx.links(sub, utcnow())
    prefs, unsub = path_of(links.preferences), path_of(links.unsubscribe)
    assert 'name="categories"' in client.get(prefs).text
    done = client.post(unsub, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "Resubscribe" in done.text
    # the preferences link shows and changes nothing now
    shown = client.get(prefs)
    assert shown.status_code == 200 and "You are unsubscribed" in shown.text
    assert 'name="categories"' not in shown.text and "cs.IR" not in shown.text
    changed = client.post(prefs, data={"categories": "cs.CL", "timezone": "UTC"})
    assert changed.status_code == 409
    assert ctx.store.digests.get(sub.id).categories == ("cs.IR",)  # type: ignore[union-attr]
    assert client.get(prefs.replace("/preferences?", "/preferences/preview?")
                      ).status_code == 400
    # the unsubscribe link again: harmless, says so
    assert "Already unsubscribed" in client.get(unsub).text
    # resubscribe: a confirmation mail, nothing else, until it is followed
    r = client.post(prefs.replace("/preferences?", "/preferences/resubscribe?"))
    assert r.status_code == 200 and "confirmation mail is on its way" in r.text
    client.app.state.mail_queue.join()  # type: ignore[attr-defined]
    [mail] = smtp_server.received
    assert list(mail.rcpt_tos) == ["cy@example.org"]
    assert ctx.store.digests.get(sub.id).status == "pending"  # type: ignore[union-attr]
    text = mail.raw.decode("utf-8", "replace").replace("=\r\n", "").replace("=3D", "=")
    [confirm] = re.findall(re.escape(BASE) + r"(/subscribe/confirm\?token=[A-Za-z0-9_\-.]+)",
                           text)[:1]
    assert client.post(confirm).status_code == 200
    back = ctx.store.digests.get(sub.id)
    assert back is not None and back.status == "active" and back.categories == ("cs.IR",)
    # links from before the resubscribe no longer work; the new ones do
    assert client.get(prefs).status_code == 400
    assert "cs.IR" in client.get(path_of(ctx.links(back, utcnow()).preferences)).text


def test_resubscribe_refuses_cross_site_posts(web: tuple[TestClient, DigestContext],
                                              smtp_server: FaultySmtpServer) -> None:
    client, ctx = web
    sub = ctx.store.digests.activate(Subscriber(id=0, email="dee@example.org"), utcnow())
    ctx.store.digests.unsubscribe(sub.id, utcnow())
    url = path_of(ctx.links(sub, utcnow()).preferences).replace(
        "/preferences?", "/preferences/resubscribe?")
    assert client.post(url, headers={"Origin": "https://evil.example"}).status_code == 403
    client.app.state.mail_queue.join()  # type: ignore[attr-defined]
    assert smtp_server.received == []


# -- the access log ---------------------------------------------------------------------------


def test_redact_blanks_tokens_in_paths_and_queries() -> None:
    token = tokens.make_token(KEY, "unsubscribe", 42, nonce="e3", expires=NOW)
    line = f'127.0.0.1:5 - "GET /unsubscribe?token={token}&x=1 HTTP/1.1" 200'
    assert token not in redact(line) and "/unsubscribe?token=…&x=1" in redact(line)
    assert redact(f"/go/2606.00001/{token}") == "/go/2606.00001/…"
    assert redact("/papers/2606.00001?window=week") == "/papers/2606.00001?window=week"


def test_tokens_never_reach_the_access_log(settings: Settings) -> None:
    """A real uvicorn server with its own logging set-up: the access log names the path of
    each request with a token, never the token."""
    s = replace(settings, secret_key="k" * 32)
    store = Store.open(s.resolved_database_url)
    sub = store.digests.activate(Subscriber(id=0, email="log@example.org"), utcnow())
    app = create_app(Paperwire(s, store))
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("uvicorn.access")
    links = DigestContext(store, s).links(sub, utcnow())
    secrets = [token_of(links.preferences), token_of(links.unsubscribe)]
    with served(app, log_level="info") as base:
        access.addHandler(handler)
        try:
            assert httpx.get(base + path_of(links.preferences)).status_code == 200
            assert httpx.get(base + path_of(links.unsubscribe)).status_code == 200
            assert httpx.get(f"{base}/subscribe/confirm?token=abc.def").status_code == 400
        finally:
            access.removeHandler(handler)
    log = captured.getvalue()
    assert "/preferences?token=…" in log and "/unsubscribe?token=…" in log, log
    assert not any(t in log for t in secrets) and "abc.def" not in log


def test_an_admin_reactivation_also_voids_old_links(ctx: DigestContext) -> None:
    """``paperwire subscribe --confirmed`` after an unsubscribe starts a new epoch too."""
    sub = ctx.store.digests.activate(Subscriber(id=0, email="ed@example.org"), NOW)
    old = token_of(ctx.links(sub, NOW).preferences)
    ctx.store.digests.unsubscribe(sub.id, NOW)
    again = ctx.store.digests.activate(Subscriber(id=0, email="ed@example.org"), NOW)
    assert again.epoch == sub.epoch + 1 and again.unsubscribed_at is None
    with pytest.raises(TokenError, match="earlier subscription"):
        subscriber_for(ctx, "preferences", old, NOW)
    same = ctx.store.digests.activate(Subscriber(id=0, email="ed@example.org"), NOW)
    assert same.epoch == again.epoch  # already active: the same subscription


def test_digest_links_are_dated_by_the_digest_day_unless_long_past() -> None:
    """A resend later the same day or the next carries the very same links; a backfill of a
    long-past day gets links that start today (not born expired)."""
    from paperwire.digests.service import link_day

    day = NOW.date()
    assert link_day(day, NOW) == link_day(day, NOW + timedelta(hours=30)) == day
    old = day - timedelta(days=120)
    assert link_day(old, NOW) == day

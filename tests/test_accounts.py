"""Accounts: who may get a sign-in link, sign-in tokens (purpose, expiry, strictness), the
sign-in mail, the sign-up setting and the data download's document (pure); and the
scheduler's purge of never-used accounts and expired sessions (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import cast

import pytest

from paperwire.accounts import (
    MAX_SIGNIN_MAILS_PER_DAY,
    SIGNIN_PATH,
    export_document,
    may_get_link,
    read_signin,
    signin_token,
    signin_url,
)
from paperwire.config import Settings, load_settings
from paperwire.digests import tokens
from paperwire.digests.render import render_signin
from paperwire.errors import ConfigError, TokenError
from paperwire.records import Account, LibraryEntry, Rating, Subscriber
from paperwire.store import Store
from paperwire.worker import Scheduler
from smtp_server import FaultySmtpServer

KEY = b"k" * 32
NOW = datetime(2026, 12, 3, 9, 30)


def account(status: str = "active") -> Account:
    return Account(id=7, email="ada@example.org", status=status, created_at=NOW)


def test_who_may_get_a_link() -> None:
    assert may_get_link(account("active"), "closed")
    assert may_get_link(account("pending"), "closed")  # an operator added it
    assert not may_get_link(account("disabled"), "open")
    assert may_get_link(None, "open")
    assert not may_get_link(None, "closed")


def test_signin_token_round_trip_and_expiry() -> None:
    token = signin_token(KEY, 7, "abc123", NOW)
    claims = read_signin(KEY, token, NOW + timedelta(minutes=14, seconds=59))
    assert (claims.subscriber_id, claims.nonce, claims.purpose) == (7, "abc123", "signin")
    assert claims.expires == NOW + tokens.SIGNIN_VALID_FOR == NOW + timedelta(minutes=15)
    with pytest.raises(TokenError, match="expired"):
        read_signin(KEY, token, NOW + timedelta(minutes=15))


def test_signin_token_refuses_forged_and_other_purposes() -> None:
    token = signin_token(KEY, 7, "abc123", NOW)
    with pytest.raises(TokenError):
        read_signin(b"x" * 32, token, NOW)  # another site's key
    payload, mac = token.split(".")
    with pytest.raises(TokenError):
        read_signin(KEY, payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:], NOW)
    with pytest.raises(TokenError):
        read_signin(KEY, token + "=", NOW)  # not the canonical form
    for purpose in ("confirm", "unsubscribe", "preferences", "click"):
        other = tokens.make_token(KEY, purpose, 7, nonce="abc123",
                                  expires=NOW + timedelta(hours=1))
        with pytest.raises(TokenError, match="not valid"):
            read_signin(KEY, other, NOW)
    # and a sign-in token confirms no subscription
    with pytest.raises(TokenError, match="not valid"):
        tokens.read_token(KEY, "confirm", token, NOW)


def test_signin_url_is_absolute_on_the_base_url() -> None:
    url = signin_url("https://papers.example.org/", KEY, 7, "abc123", NOW)
    assert url.startswith("https://papers.example.org" + SIGNIN_PATH)
    assert read_signin(KEY, url.rsplit("/", 1)[1], NOW).subscriber_id == 7
    onward = signin_url("https://papers.example.org", KEY, 7, "abc123", NOW,
                        "/library?tag=a b")
    token, _, query = onward.split(SIGNIN_PATH, 1)[1].partition("?")
    assert query == "next=/library%3Ftag%3Da%20b"
    assert read_signin(KEY, token, NOW).nonce == "abc123"


def test_signin_mail() -> None:
    url = signin_url("https://papers.example.org", KEY, 7, "abc123", NOW)
    raw = render_signin("ada@example.org", signin_url=url,
                        from_addr="Paperwire <digest@papers.example.org>",
                        base_url="https://papers.example.org", now=NOW,
                        message_id="<signin-1@papers.example.org>",
                        valid_for=tokens.SIGNIN_VALID_FOR).as_bytes()
    msg = cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
    assert msg["To"] == "ada@example.org" and msg["Subject"] == "Your Paperwire sign-in link"
    assert "List-Unsubscribe" not in msg
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert text.count(url) == 1 and html.count(f'href="{url}"') == 1
    for body in (text, html):
        flat = " ".join(body.split())
        assert "sign in to Paperwire at https://papers.example.org as ada@example.org" in flat
        assert "works once and expires in 15 minutes" in flat
    with pytest.raises(ValueError):
        render_signin("ada@example.org", signin_url="javascript:alert(1)", from_addr="a@b.c",
                      base_url="https://x.org", now=NOW, message_id="<a@b>")


def test_signup_setting() -> None:
    assert load_settings({}).signup == "open"
    assert load_settings({"PAPERWIRE_SIGNUP": "Closed"}).signup == "closed"
    with pytest.raises(ConfigError, match="PAPERWIRE_SIGNUP"):
        load_settings({"PAPERWIRE_SIGNUP": "invite-only"})
    assert load_settings({"PAPERWIRE_SIGNIN_CLIENT_LIMIT": "3"}).signin_client_limit == 3
    with pytest.raises(ConfigError):
        load_settings({"PAPERWIRE_SIGNIN_CLIENT_LIMIT": "0"})
    assert MAX_SIGNIN_MAILS_PER_DAY >= 1


def test_export_document() -> None:
    entry = LibraryEntry(paper_id="2606.00001", saved_at=NOW, updated_at=NOW, state="to-read",
                         note="<b>read</b> §3", tags=("nlp", "retrieval"))
    rating = Rating(paper_id="2606.00002", value=-1, source="digest", created_at=NOW)
    sub = Subscriber(id=3, email="ada@example.org", status="active", categories=("cs.IR",),
                     queries=("sparse retrieval",), created_at=NOW, confirmed_at=NOW)
    doc = export_document(account(), votes=["2606.00003"], library=[entry], ratings=[rating],
                          subscription=sub, now=NOW)
    assert json.loads(json.dumps(doc)) == doc  # plain JSON
    assert doc["account"]["email"] == "ada@example.org"
    assert doc["exported_at"] == "2026-12-03T09:30:00Z"
    assert doc["votes"] == [{"paper_id": "2606.00003"}]
    assert doc["library"] == [{"paper_id": "2606.00001", "saved_at": "2026-12-03T09:30:00Z",
                               "updated_at": "2026-12-03T09:30:00Z", "state": "to-read",
                               "note": "<b>read</b> §3", "tags": ["nlp", "retrieval"]}]
    assert doc["ratings"] == [{"paper_id": "2606.00002", "value": -1, "source": "digest",
                               "created_at": "2026-12-03T09:30:00Z"}]
    assert doc["subscription"]["categories"] == ["cs.IR"]
    assert doc["subscription"]["status"] == "active"
    empty = export_document(account(), votes=[], library=[], ratings=[], subscription=None,
                            now=NOW)
    assert empty["subscription"] is None and empty["library"] == []


def test_the_scheduler_purges_unused_accounts_and_expired_sessions(
        settings: Settings, smtp_server: FaultySmtpServer) -> None:
    """The digest job also deletes accounts whose link was never used (after
    PAPERWIRE_UNCONFIRMED_DAYS, while sign-up is open) and sessions past their expiry."""
    s = replace(settings, smtp_url=smtp_server.url, unconfirmed_days=7, ingest_schedule="")
    store = Store.open(s.resolved_database_url)
    old, later = NOW - timedelta(days=8), NOW - timedelta(days=1)
    store.accounts.request_signin("never@example.org", "n1", old)
    store.accounts.request_signin("recent@example.org", "n2", later)
    store.accounts.add("added@example.org", old)
    used = store.accounts.request_signin("used@example.org", "n3", old)
    assert used is not None and store.accounts.confirm_signin(used.id, "n3", old)
    store.accounts.new_session(used.id, "a" * 64, old, old + timedelta(days=1))  # expired
    store.accounts.new_session(used.id, "b" * 64, old, NOW + timedelta(days=1))
    Scheduler(store, replace(s, signup="closed"), clock=lambda: NOW).run_digests()
    assert {a.email for a in store.accounts.all()} == {
        "never@example.org", "recent@example.org", "added@example.org", "used@example.org"}
    assert store.accounts.count_sessions(used.id, old) == 1  # the expired one went
    Scheduler(store, s, clock=lambda: NOW).run_digests()
    assert {a.email for a in store.accounts.all()} == {"recent@example.org", "used@example.org"}
    store.close()

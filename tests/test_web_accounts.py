"""Accounts on the web, end to end through the real SMTP server of tests/smtp_server.py, on
SQLite and PostgreSQL: signing in by the link in the received mail, the links that must not
work (reused, expired, forged, another kind), closed sign-up, the same answer for every
address, limits, the session cookie, signing out (here and everywhere), the account page and
its digest preferences, the data download and deleting the account."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from accounts import make_account, sign_in
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.digests import tokens
from paperwire.digests.service import DigestContext
from paperwire.errors import StoreError
from paperwire.models import Paper
from paperwire.records import Subscriber
from paperwire.store import Store
from paperwire.store.library import UPVOTE
from paperwire.store.schema import (
    accounts,
    library,
    library_tags,
    ratings,
    sessions,
    subscribers,
    votes,
)
from paperwire.web.app import create_app
from paperwire.web.auth import SESSION_COOKIE
from paperwire.web.digest_routes import redact
from smtp_server import FaultySmtpServer

BASE = "https://papers.example.org"
START = datetime(2026, 6, 10, 9, 30)
P1, P2 = "2606.00001", "2606.00002"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Web:
    """The app over a store with two papers, its mail going to the real SMTP server."""

    def __init__(self, settings: Settings, smtp: FaultySmtpServer) -> None:
        self.clock = Clock()
        self.settings = settings
        self.store = Store.open(settings.resolved_database_url)
        self.store.write_batch([Paper(id=p, title=f"Paper {p}", abstract="…", version=1,
                                      published=date(2026, 6, 1)) for p in (P1, P2)],
                               now=START)
        self.paperwire = Paperwire(settings, self.store, clock=self.clock)
        self.app = create_app(self.paperwire)
        self.client = TestClient(self.app, base_url=BASE)
        self.smtp = smtp

    def browser(self) -> TestClient:
        """Another browser on the same site (its own cookies)."""
        return TestClient(self.app, base_url=BASE)

    def drain(self) -> None:
        self.app.state.mail_queue.join()

    def mails_to(self, email: str) -> list[Any]:
        self.drain()
        return [m for m in self.smtp.received if list(m.rcpt_tos) == [email]]

    def count(self, table: Any, **where: Any) -> int:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with self.store.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)


def make_web(settings: Settings, smtp: FaultySmtpServer, **changes: Any) -> Web:
    return Web(replace(settings, smtp_url=smtp.url, base_url=BASE, secret_key="k" * 32,
                       **changes), smtp)


@pytest.fixture
def web(settings: Settings, smtp_server: FaultySmtpServer) -> Iterator[Web]:
    w = make_web(settings, smtp_server)
    with w.client:
        yield w
    w.store.close()


def signin_link(mail: Any, base: str = BASE) -> str:
    """The sign-in link of a received mail, from its text part as a reader sees it."""
    text = mail.message.get_body(("plain",)).get_content()
    found = re.findall(re.escape(base) + r"/signin/confirm/[A-Za-z0-9_\-.]+(?:\?next=\S+)?",
                       text)
    assert len(found) == 1, text
    html = mail.message.get_body(("html",)).get_content()
    assert f'href="{found[0]}"' in html
    return found[0]


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def ask_link(w: Web, email: str, client: TestClient | None = None, **extra: str) -> str:
    """Ask for a sign-in link on the page; the local path of the one mailed."""
    r = (client or w.client).post("/signin", data={"email": email, **extra})
    assert r.status_code == 200 and "sign-in link is on its way" in r.text
    mails = w.mails_to(email.lower())
    assert mails, f"no sign-in mail to {email}"
    return local(signin_link(mails[-1]))


def cookie_attrs(response: Any) -> list[str]:
    header = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith(SESSION_COOKIE + "=") and
                  not v.startswith(SESSION_COOKIE + '=""'))
    return [a.strip().lower() for a in header.split(";")]


# ---- signing in by the mailed link ------------------------------------------------------------


def test_sign_in_through_the_link_in_the_received_mail(web: Web) -> None:
    form = web.client.get("/signin?next=/account")
    assert form.status_code == 200 and 'action="/signin"' in form.text
    assert 'href="/signin"' in form.text  # the header's link, signed out
    path = ask_link(web, "Ada@Example.org")
    [mail] = web.mails_to("ada@example.org")
    assert mail.message["Subject"] == "Your Paperwire sign-in link"
    assert "expires in 15 minutes" in mail.message.get_body(("plain",)).get_content()
    # a GET (a mail scanner) signs nobody in and changes nothing
    shown = web.client.get(path)
    assert shown.status_code == 200 and ">Sign in</button>" in shown.text
    assert SESSION_COOKIE not in shown.headers.get("set-cookie", "")
    account = web.store.accounts.by_email("ada@example.org")
    assert account is not None and account.status == "pending"
    done = web.client.post(path, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    attrs = cookie_attrs(done)
    assert {"httponly", "samesite=lax", "secure", "path=/"} <= set(attrs)
    assert web.store.accounts.by_email("ada@example.org").status == "active"  # type: ignore[union-attr]
    page = web.client.get("/account")
    assert page.status_code == 200 and "ada@example.org" in page.text
    assert 'action="/signout"' in page.text  # the header: the account and a sign-out button
    assert web.count(sessions) == 1


def test_the_link_goes_on_to_next_and_only_on_this_site(web: Web) -> None:
    path = ask_link(web, "ada@example.org", next="/papers/2606.00001")
    assert path.endswith("?next=/papers/2606.00001")
    done = web.client.post(path, follow_redirects=False)
    assert done.headers["location"] == "/papers/2606.00001"
    web.clock.now += timedelta(minutes=1)
    other = web.browser()
    path = ask_link(web, "ada@example.org", client=other, next="//evil.example.org/x")
    assert "next=" not in path  # the default, /account, needs none
    token = path.split("/")[-1]
    done = other.post(f"/signin/confirm/{token}?next=https://evil.example.org/",
                      follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account"


def no_session_after(w: Web, path: str, expected: str, client: TestClient | None = None,
                     ) -> None:
    client = client or w.browser()
    before = w.count(sessions)
    r = client.post(path, follow_redirects=False)
    assert r.status_code == 400 and "This link cannot be used" in r.text
    assert expected in r.text
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert w.count(sessions) == before
    assert client.get("/account").status_code == 401


def test_a_used_link_signs_nobody_in(web: Web) -> None:
    path = ask_link(web, "ada@example.org")
    assert web.client.post(path, follow_redirects=False).status_code == 303
    no_session_after(web, path, "already used")


def test_a_replaced_link_signs_nobody_in(web: Web) -> None:
    first = ask_link(web, "ada@example.org")
    ask_link(web, "ada@example.org")
    no_session_after(web, first, "already used or replaced")
    assert web.store.accounts.by_email("ada@example.org").status == "pending"  # type: ignore[union-attr]


def test_an_expired_link_signs_nobody_in(web: Web) -> None:
    path = ask_link(web, "ada@example.org")
    web.clock.now += timedelta(minutes=15)
    shown = web.browser().get(path)
    assert shown.status_code == 400 and "expired" in shown.text
    no_session_after(web, path, "expired")
    assert web.store.accounts.by_email("ada@example.org").status == "pending"  # type: ignore[union-attr]
    web.clock.now -= timedelta(seconds=1)  # a second before: it works
    assert web.browser().post(path, follow_redirects=False).status_code == 303


def test_a_forged_link_signs_nobody_in(web: Web) -> None:
    path = ask_link(web, "ada@example.org")
    payload, mac = path.split("/")[-1].split(".")
    forged = f"/signin/confirm/{payload}.{('A' if mac[0] != 'A' else 'B') + mac[1:]}"
    assert web.browser().get(forged).status_code == 400
    no_session_after(web, forged, "not valid")
    other_key = tokens.make_token(b"x" * 32, "signin", 1, nonce="abc",
                                  expires=START + timedelta(minutes=5))
    no_session_after(web, f"/signin/confirm/{other_key}", "not valid")
    no_session_after(web, f"/signin/confirm/{payload}", "damaged")


def test_a_link_of_another_kind_signs_nobody_in(web: Web) -> None:
    """A digest's confirmation link (same key, same id, the live nonce) is not a sign-in
    link, and a sign-in link confirms no subscription."""
    account = web.store.accounts.request_signin("ada@example.org", "live1", START)
    assert account is not None
    sub = web.store.digests.request(Subscriber(id=0, email="ada@example.org"), "live1", START)
    assert sub is not None
    confirm = urlsplit(DigestContext(web.store, web.settings, _key=web.paperwire.key)
                       .confirm_url(sub, "live1", START)).query.split("=", 1)[1]
    ids = (account.id, sub.id)
    no_session_after(web, f"/signin/confirm/{confirm}", "not valid")
    for purpose in ("unsubscribe", "preferences", "click"):
        other = tokens.make_token(web.paperwire.key, purpose, account.id, nonce="live1",
                                  expires=START + timedelta(minutes=5))
        no_session_after(web, f"/signin/confirm/{other}", "not valid")
    signin = tokens.make_token(web.paperwire.key, "signin", sub.id, nonce="live1",
                               expires=START + timedelta(minutes=5))
    r = web.browser().post(f"/subscribe/confirm?token={signin}")
    assert r.status_code == 400
    assert web.store.digests.get(sub.id).status == "pending"  # type: ignore[union-attr]
    assert web.store.accounts.get(account.id).status == "pending"  # type: ignore[union-attr]
    assert ids == (account.id, sub.id)


def test_a_disabled_account_gets_no_link_and_its_link_stops(web: Web) -> None:
    path = ask_link(web, "ada@example.org")
    web.paperwire.disable_user("ada@example.org")
    no_session_after(web, path, "already used")
    r = web.client.post("/signin", data={"email": "ada@example.org"})
    assert r.status_code == 200 and "sign-in link is on its way" in r.text
    assert len(web.mails_to("ada@example.org")) == 1


def test_closed_signup_mails_only_added_accounts(settings: Settings,
                                                 smtp_server: FaultySmtpServer) -> None:
    w = make_web(settings, smtp_server, signup="closed")
    with w.client:
        answers = {w.client.post("/signin", data={"email": e}).text
                   for e in ("stranger@example.org", "ada@example.org")}
        w.drain()
        assert w.smtp.received == [] and w.count(accounts) == 0
        w.paperwire.add_user("ada@example.org")
        answers.add(w.client.post("/signin", data={"email": "ada@example.org"}).text)
        path = local(signin_link(w.mails_to("ada@example.org")[0]))
        assert len(answers) == 1  # the same page whoever asks
        assert w.client.post(path, follow_redirects=False).status_code == 303
        assert w.mails_to("stranger@example.org") == []
        assert w.store.accounts.by_email("stranger@example.org") is None
    w.store.close()


def test_the_same_answer_for_every_address_and_the_limits(
        settings: Settings, smtp_server: FaultySmtpServer) -> None:
    w = make_web(settings, smtp_server, signin_client_limit=12)
    with w.client:
        make_account(w.paperwire, "known@example.org")
        w.paperwire.add_user("gone@example.org")
        w.paperwire.disable_user("gone@example.org")
        answers: set[str] = set()
        for email in ["known@example.org"] * 7 + ["new@example.org", "gone@example.org",
                                                   "Known+news@example.org"]:
            r = w.client.post("/signin", data={"email": email})
            assert r.status_code == 200
            answers.add(r.text)
        assert len(answers) == 1
        w.drain()
        to = [next(iter(m.rcpt_tos)) for m in w.smtp.received]
        # five a day per mailbox (user+tag is the same mailbox), none to a disabled account
        assert to.count("known@example.org") + to.count("known+news@example.org") == 5
        assert to.count("new@example.org") == 1 and "gone@example.org" not in to
        bad = w.client.post("/signin", data={"email": "not-an-address"})
        assert bad.status_code == 400
        for _ in range(2):  # 12 requests an hour from one client
            w.client.post("/signin", data={"email": "x@example.org"})
        limited = w.client.post("/signin", data={"email": "new@example.org"})
        assert limited.status_code == 429
        w.clock.now += timedelta(hours=1)
        assert w.client.post("/signin", data={"email": "y@example.org"}).status_code == 200
    w.store.close()


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"},
                                     {"Sec-Fetch-Site": "cross-site"}])
def test_sign_in_posts_from_other_sites_are_refused(web: Web, headers: dict[str, str]) -> None:
    r = web.client.post("/signin", data={"email": "ada@example.org"}, headers=headers)
    assert r.status_code == 403
    assert web.mails_to("ada@example.org") == []
    path = ask_link(web, "ada@example.org")
    r = web.client.post(path, headers=headers, follow_redirects=False)
    assert r.status_code == 403 and web.count(sessions) == 0
    assert web.client.post(path, follow_redirects=False).status_code == 303  # still live


def test_the_cookie_is_not_secure_over_http(settings: Settings,
                                            smtp_server: FaultySmtpServer) -> None:
    w = make_web(settings, smtp_server)
    w.paperwire.settings = replace(w.settings, base_url="http://127.0.0.1:8000")
    client = TestClient(w.app, base_url="http://127.0.0.1:8000")
    with client:
        r = client.post("/signin", data={"email": "ada@example.org"})
        assert r.status_code == 200
        link = signin_link(w.mails_to("ada@example.org")[0], "http://127.0.0.1:8000")
        assert link.startswith("http://127.0.0.1:8000/signin/confirm/")
        done = client.post(local(link), follow_redirects=False)
        attrs = cookie_attrs(done)
        assert "secure" not in attrs and {"httponly", "samesite=lax"} <= set(attrs)
    w.store.close()


# ---- signing out --------------------------------------------------------------------------


def test_sign_out_ends_this_session_only(web: Web) -> None:
    csrf = sign_in(web.client, web.paperwire, "ada@example.org")
    other = web.browser()
    sign_in(other, web.paperwire, "ada@example.org")
    assert web.client.post("/signout", data={}).status_code == 403  # no CSRF token
    assert web.client.get("/account").status_code == 200
    r = web.client.post("/signout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert web.client.get("/account").status_code == 401
    assert 'href="/signin"' in web.client.get("/").text
    assert other.get("/account").status_code == 200
    assert web.count(sessions) == 1


def test_sign_out_everywhere_ends_every_session(web: Web) -> None:
    csrf = sign_in(web.client, web.paperwire, "ada@example.org")
    others = [web.browser() for _ in range(2)]
    for other in others:
        sign_in(other, web.paperwire, "ada@example.org")
    bob = web.browser()
    sign_in(bob, web.paperwire, "bob@example.org")
    assert web.client.post("/signout/everywhere", data={"csrf": "0" * 40}).status_code == 403
    assert web.count(sessions) == 4
    r = web.client.post("/signout/everywhere", data={"csrf": csrf})
    assert r.status_code == 200 and "3 sessions ended" in r.text
    assert 'href="/signin"' in r.text  # the page is drawn signed out
    for client in [web.client, *others]:
        assert client.get("/account").status_code == 401
    assert bob.get("/account").status_code == 200
    assert web.count(sessions) == 1


# ---- the account page ---------------------------------------------------------------------------


def test_the_account_page_needs_a_session(web: Web) -> None:
    r = web.client.get("/account")
    assert r.status_code == 401 and 'href="/signin?next=/account"' in r.text
    assert web.client.get("/account/export.json").status_code == 401


def test_subscribing_from_the_account_is_active_at_once(web: Web) -> None:
    csrf = sign_in(web.client, web.paperwire, "ada@example.org")
    page = web.client.get("/account")
    assert "You receive no digest" in page.text and 'action="/account/digest"' in page.text
    form = {"csrf": csrf, "frequency": "weekly", "weekday": "2", "hour": "8",
            "timezone": "Europe/Paris", "size": "5", "mode": "personal",
            "categories": "cs.IR, cs.CL", "queries": "sparse retrieval", "papers": "",
            "skip_empty": "on"}
    bad = web.client.post("/account/digest", data={**form, "hour": "25", "categories": "xx"})
    assert bad.status_code == 400 and "Nothing was saved" in bad.text
    assert 'value="xx"' in bad.text  # the edits are kept
    assert web.store.digests.by_email("ada@example.org") is None
    r = web.client.post("/account/digest", data=form, follow_redirects=False)
    assert r.status_code == 303
    sub = web.store.digests.by_email("ada@example.org")
    assert sub is not None and sub.status == "active"
    assert (sub.frequency, sub.weekday, sub.hour, sub.timezone, sub.categories, sub.queries,
            sub.skip_empty) == ("weekly", 2, 8, "Europe/Paris", ("cs.IR", "cs.CL"),
                                ("sparse retrieval",), True)
    assert web.smtp.received == []  # no confirmation mail: signing in confirmed the address
    page = web.client.get("/account")
    assert "Your digest is on: weekly" in page.text and 'value="cs.IR, cs.CL"' in page.text
    r = web.client.post("/account/digest/unsubscribe", data={"csrf": csrf})
    assert r.status_code == 200
    assert web.store.digests.by_email("ada@example.org").status == "unsubscribed"  # type: ignore[union-attr]


def test_a_pending_subscription_of_the_address_is_the_same_person(web: Web) -> None:
    sub = web.store.digests.request(Subscriber(id=0, email="ada@example.org",
                                               categories=("cs.LG",)), "n1", START)
    assert sub is not None and sub.status == "pending"
    csrf = sign_in(web.client, web.paperwire, "ada@example.org")
    page = web.client.get("/account")
    assert 'value="cs.LG"' in page.text and "Your digest is off (pending)" in page.text
    form = {"csrf": csrf, "frequency": "daily", "weekday": "0", "hour": "7",
            "timezone": "UTC", "size": "10", "mode": "personal", "categories": "cs.LG",
            "queries": "", "papers": ""}
    assert web.client.post("/account/digest", data=form).status_code == 200
    after = web.store.digests.by_email("ada@example.org")
    assert after is not None and after.id == sub.id and after.status == "active"


def test_a_suppressed_address_is_not_subscribed_again(web: Web) -> None:
    sub = web.store.digests.activate(Subscriber(id=0, email="ada@example.org"), START)
    for _ in range(3):
        web.store.digests.record_outcome(sub.id, hard_failure=True, suppress_after=3)
    assert web.store.digests.get(sub.id).status == "suppressed"  # type: ignore[union-attr]
    csrf = sign_in(web.client, web.paperwire, "ada@example.org")
    assert "could not be delivered" in web.client.get("/account").text
    form = {"csrf": csrf, "frequency": "daily", "weekday": "0", "hour": "7",
            "timezone": "UTC", "size": "10", "mode": "personal", "categories": "",
            "queries": "", "papers": ""}
    assert web.client.post("/account/digest", data=form).status_code == 409
    assert web.store.digests.get(sub.id).status == "suppressed"  # type: ignore[union-attr]


def fill(w: Web, email: str) -> int:
    """An account with a vote, a save with tags, a note and a state, a rating and a
    subscription; its id."""
    account = make_account(w.paperwire, email)
    lib = w.store.library
    lib.vote(account.id, P1, START)
    lib.save(account.id, P2, START)
    lib.set_tags(account.id, P2, ["to cite", "nlp"], START)
    lib.set_note(account.id, P2, "Read **section 3** <script>", START)
    lib.set_state(account.id, P2, "to-read", START)
    lib.rate(account.id, P1, 1, "web", START)
    w.store.digests.activate(Subscriber(id=0, email=email, categories=("cs.IR",)), START)
    return account.id


def test_the_download_holds_everything_and_only_mine(web: Web) -> None:
    fill(web, "ada@example.org")
    fill(web, "bob@example.org")
    web.store.library.save(web.store.accounts.by_email("bob@example.org").id, P1, START)  # type: ignore[union-attr]
    sign_in(web.client, web.paperwire, "ada@example.org")
    r = web.client.get("/account/export.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["cache-control"] == "no-store"
    doc = json.loads(r.text)
    assert doc["account"]["email"] == "ada@example.org"
    assert doc["votes"] == [{"paper_id": P1}]
    [entry] = doc["library"]
    assert (entry["paper_id"], entry["state"], entry["note"], sorted(entry["tags"])) == (
        P2, "to-read", "Read **section 3** <script>", ["nlp", "to cite"])
    assert doc["ratings"] == [{"paper_id": P1, "value": 1, "source": "web",
                               "created_at": "2026-06-10T09:30:00Z"}]
    assert doc["subscription"]["categories"] == ["cs.IR"]
    assert "bob@example.org" not in r.text
    # the second account sees only its own
    bob = web.browser()
    sign_in(bob, web.paperwire, "bob@example.org")
    theirs = bob.get("/account/export.json").json()
    assert theirs["account"]["email"] == "bob@example.org"
    assert sorted(e["paper_id"] for e in theirs["library"]) == [P1, P2]
    assert "ada@example.org" not in bob.get("/account").text


def test_deleting_the_account_deletes_everything_of_it(web: Web) -> None:
    ada = fill(web, "ada@example.org")
    bob = fill(web, "bob@example.org")
    csrf = sign_in(web.client, web.paperwire, "ada@example.org")
    second = web.browser()
    sign_in(second, web.paperwire, "ada@example.org")
    upvotes = {s.paper_id: s.value for s in web.store.signals_between(
        START.date(), START.date(), UPVOTE)}
    assert upvotes == {P1: 2}

    def rows(account_id: int) -> list[int]:
        return [web.count(t, account_id=account_id)
                for t in (sessions, votes, library, library_tags, ratings)] + [
            web.count(accounts, id=account_id)]

    assert rows(ada) == [2, 1, 1, 2, 1, 1]
    wrong = web.client.post("/account/delete", data={"csrf": csrf,
                                                     "confirm_email": "bob@example.org"})
    assert wrong.status_code == 400 and "Nothing was deleted" in wrong.text
    assert rows(ada) == [2, 1, 1, 2, 1, 1]
    assert web.client.post("/account/delete", data={
        "confirm_email": "ada@example.org"}).status_code == 403
    r = web.client.post("/account/delete", data={"csrf": csrf,
                                                 "confirm_email": " Ada@Example.org "})
    assert r.status_code == 200 and "Account deleted" in r.text
    assert 'href="/signin"' in r.text
    assert rows(ada) == [0, 0, 0, 0, 0, 0]
    assert web.count(subscribers, email="ada@example.org") == 0
    assert rows(bob) == [0, 1, 1, 2, 1, 1]  # bob has no session, but all the rest
    assert web.count(subscribers, email="bob@example.org") == 1
    upvotes = {s.paper_id: s.value for s in web.store.signals_between(
        START.date(), START.date(), UPVOTE)}
    assert upvotes == {P1: 1}  # ada's vote no longer counts
    assert web.client.get("/account").status_code == 401
    assert second.get("/account").status_code == 401


def test_the_header_shows_who_is_signed_in(web: Web) -> None:
    assert '<a href="/signin">Sign in</a>' in web.client.get("/").text
    csrf = sign_in(web.client, web.paperwire, "ada@example.org")
    home = web.client.get("/").text
    assert '<a href="/account">ada@example.org</a>' in home
    assert f'name="csrf" value="{csrf}"' in home and 'action="/signout"' in home
    assert '<a href="/signin">Sign in</a>' not in home
    assert 'href="/account#digest"' in home  # the home page's subscribe box points there


def test_a_store_outage_while_signed_in_is_the_error_page(
        web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    """The header asks who is signed in on every page, the error page too: when the
    database is down, that page still comes (once it failed, nobody is signed in)."""
    sign_in(web.client, web.paperwire, "ada@example.org")

    def down(token: str) -> None:
        raise StoreError("the database is unreachable")

    monkeypatch.setattr(web.paperwire, "session_account", down)
    client = TestClient(web.app, base_url=BASE, raise_server_exceptions=False,
                        cookies=dict(web.client.cookies))
    r = client.get("/about/trending")
    assert r.status_code == 503 and "<title>Service unavailable" in r.text  # not a 500
    assert '<a href="/signin">Sign in</a>' in r.text


def test_sign_in_tokens_stay_out_of_the_access_log(web: Web) -> None:
    path = ask_link(web, "ada@example.org", next="/library")
    line = f'127.0.0.1:5000 - "POST {path} HTTP/1.1" 303'
    token = path.split("/signin/confirm/")[1].split("?")[0]
    assert token not in redact(line) and "/signin/confirm/…?next=/library" in redact(line)

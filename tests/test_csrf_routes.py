"""Every state-changing route of the app, found by enumerating ``create_app(...).routes`` (so
a route added later is covered without anyone remembering to): a signed-in browser's
request without the session's CSRF token, with a wrong one, or from another site is a 403,
and nothing in the database changes (every table's rows compared). The few routes anyone
may post without a session are listed below, each with its reason; they must refuse a
browser's post from another site instead. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from accounts import make_account, sign_in
from paperwire.accounts import signin_token
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.digests.service import DigestContext, paper_token
from paperwire.models import Paper
from paperwire.records import Subscriber
from paperwire.store import Store
from paperwire.store.schema import metadata
from paperwire.web.app import create_app
from paperwire.web.auth import CSRF_REFUSED
from smtp_server import FaultySmtpServer

BASE = "https://papers.example.org"
NOW = datetime(2026, 6, 10, 9, 30)
PAPER = "2606.00001"
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

# Routes that change something WITHOUT a signed-in session, by design; they carry no CSRF
# token (there is no session to bind one to) and must refuse a browser's cross-site post.
ANONYMOUS = {
    "/subscribe": "the home page's subscribe form: anyone, the same answer for every address",
    "/api/subscribe": "the JSON subscribe API: anyone (and only application/json)",
    "/signin": "asking for a sign-in link: nobody is signed in yet",
    "/signin/confirm/{token}": "using a mailed sign-in link: the signed token is the proof",
    "/subscribe/confirm": "a mailed confirmation link: the signed token is the proof",
    "/unsubscribe": "RFC 8058 one-click unsubscribe: the signed token is the proof (mail "
                    "providers post it from their servers, without browser headers)",
    "/preferences": "a mailed preferences link: the signed token is the proof",
    "/preferences/resubscribe": "a mailed preferences link: the signed token is the proof",
    "/d/feedback": "a digest item's 👍 / 👎 / save: the token signed per subscriber and paper "
                   "is the proof",
}
# a form that most handlers would act on, were the CSRF check missing
FIELDS = {"email": "someone@example.org", "confirm_email": "", "List-Unsubscribe": "One-Click",
          "frequency": "weekly", "weekday": "2", "hour": "8", "timezone": "UTC", "size": "5",
          "mode": "personal", "categories": "cs.IR", "queries": "q", "papers": "",
          "tags": "x", "tag": "x", "note": "a note", "state": "read", "value": "1",
          "ids": PAPER, "text": PAPER, "next": "/"}
CROSS_SITE = ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"})
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def changing_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path template) of every route that takes a state-changing method."""
    return sorted((method, route.path) for route in app.routes
                  if isinstance(route, APIRoute)
                  for method in (route.methods or set()) & CHANGING)


def fill(path: str) -> str:
    """A concrete address for a path template: a stored paper's id, else ``x``."""
    return _PARAM.sub(lambda m: PAPER if "paper" in m.group(1) else "x", path)


class Site:
    def __init__(self, settings: Settings, smtp: FaultySmtpServer) -> None:
        s = replace(settings, smtp_url=smtp.url, base_url=BASE, secret_key="k" * 32)
        self.store = Store.open(s.resolved_database_url)
        self.store.write_batch([Paper(id=PAPER, title="A paper", abstract="…", version=1,
                                      published=date(2026, 6, 1))], now=NOW)
        self.paperwire = Paperwire(s, self.store, clock=lambda: NOW)
        self.app = create_app(self.paperwire)
        self.smtp = smtp
        self.settings = s

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=BASE)

    def snapshot(self) -> dict[str, list[str]]:
        """Every row of every table (the mails the queue would send are sent first)."""
        self.app.state.mail_queue.join()
        with self.store.engine.connect() as conn:
            return {t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t)))
                    for t in metadata.sorted_tables}

    def account_with_data(self, email: str) -> None:
        """An admin account with a vote, a save and a subscription: things to change."""
        account = make_account(self.paperwire, email, admin=True)
        self.store.library.vote(account.id, PAPER, NOW)
        self.store.library.save(account.id, PAPER, NOW)
        self.store.library.set_note(account.id, PAPER, "mine", NOW)
        self.store.digests.activate(Subscriber(id=0, email=email), NOW)


@pytest.fixture
def site(settings: Settings, smtp_server: FaultySmtpServer) -> Iterator[Site]:
    s = Site(settings, smtp_server)
    with s.client():
        yield s
    s.store.close()


def test_the_allow_list_names_routes_that_exist(tmp_path: Any) -> None:
    app = create_app(Paperwire(Settings(home=tmp_path)))
    paths = {path for _, path in changing_routes(app)}
    assert set(ANONYMOUS) <= paths, sorted(set(ANONYMOUS) - paths)
    # the test covers my own routes at least (it is not vacuous)
    assert {"/signout", "/signout/everywhere", "/account/delete", "/account/digest"} <= paths


def test_every_signed_in_change_needs_the_csrf_token(site: Site) -> None:
    routes = [(m, p) for m, p in changing_routes(site.app) if p not in ANONYMOUS]
    assert routes
    for i, (method, template) in enumerate(routes):
        email = f"user{i}@example.org"
        site.account_with_data(email)
        client = site.client()
        csrf = sign_in(client, site.paperwire, email, admin=True)
        fields = {**FIELDS, "confirm_email": email}
        path = fill(template)
        others = other_token(site, i)
        before = site.snapshot()
        attempts: list[tuple[str, dict[str, str], dict[str, str]]] = [
            ("no token", fields, {}),
            ("a wrong token", {**fields, "csrf": "0" * len(csrf)}, {"X-CSRF-Token": "0" * 40}),
            ("another session's token", {**fields, "csrf": others}, {}),
        ] + [(f"from another site ({h})", {**fields, "csrf": csrf}, {**h, "X-CSRF-Token": csrf})
             for h in CROSS_SITE]
        for what, data, headers in attempts:
            r = client.request(method, path, data=data, headers=headers,
                               follow_redirects=False)
            assert r.status_code == 403, f"{method} {template} with {what}: {r.status_code}"
            assert site.snapshot() == before, f"{method} {template} with {what} changed data"
        # signed out, it changes nothing either
        r = site.client().request(method, path, data=fields, follow_redirects=False)
        assert r.status_code in (401, 403), f"{method} {template} signed out: {r.status_code}"
        assert site.snapshot() == before, f"{method} {template} signed out changed data"
        # and with the session's token the CSRF check lets it through (the test can fail)
        r = client.request(method, path, data={**fields, "csrf": csrf},
                           headers={"X-CSRF-Token": csrf}, follow_redirects=False)
        assert CSRF_REFUSED not in r.text, f"{method} {template} refused its own token"


def other_token(site: Site, i: int) -> str:
    other = site.client()
    return sign_in(other, site.paperwire, f"other{i}@example.org")


def valid_targets(site: Site) -> dict[str, tuple[str, dict[str, Any]]]:
    """For the anonymous routes: an address with a live token and a body that would change
    something if the post were let through."""
    store, key = site.store, site.paperwire.key
    ctx = DigestContext(store, site.settings, _key=key)
    pending = store.digests.request(Subscriber(id=0, email="pending@example.org"), "n1", NOW)
    active = store.digests.activate(Subscriber(id=0, email="active@example.org"), NOW)
    gone = store.digests.activate(Subscriber(id=0, email="gone@example.org"), NOW)
    store.digests.unsubscribe(gone.id, NOW)
    gone = store.digests.get(gone.id)  # type: ignore[assignment]
    assert pending is not None and gone is not None
    account = store.accounts.request_signin("reader@example.org", "n2", NOW)
    assert account is not None
    confirm = urlsplit(ctx.confirm_url(pending, "n1", NOW)).query
    links, again = ctx.links(active, NOW), ctx.links(gone, NOW)
    form = {"data": {**FIELDS, "email": "new@example.org"}}
    return {
        "/subscribe": ("/subscribe", form),
        "/api/subscribe": ("/api/subscribe", {"json": {"email": "new@example.org"}}),
        "/signin": ("/signin", form),
        "/signin/confirm/{token}": (
            f"/signin/confirm/{signin_token(key, account.id, 'n2', NOW)}", {}),
        "/subscribe/confirm": (f"/subscribe/confirm?{confirm}", {}),
        "/unsubscribe": (links.unsubscribe.removeprefix(BASE),
                         {"data": {"List-Unsubscribe": "One-Click"}}),
        "/preferences": (links.preferences.removeprefix(BASE), form),
        "/preferences/resubscribe": (again.preferences.removeprefix(BASE).replace(
            "/preferences?", "/preferences/resubscribe?"), {}),
        "/d/feedback": ("/d/feedback", {"data": {
            "t": paper_token(key, "feedback", active.id, NOW.date(), PAPER), "id": PAPER,
            "a": "up"}}),
    }


def test_anonymous_changes_refuse_other_sites(site: Site) -> None:
    targets = valid_targets(site)
    sign_in_client = site.client()
    sign_in(sign_in_client, site.paperwire, "someone@example.org")
    for method, template in changing_routes(site.app):
        if template not in ANONYMOUS:
            continue
        path, body = targets.get(template, (fill(template), {"data": FIELDS}))
        for client in (site.client(), sign_in_client):
            before, mails = site.snapshot(), len(site.smtp.received)
            for headers in CROSS_SITE:
                r = client.request(method, path, headers=headers, follow_redirects=False,
                                   **body)
                assert r.status_code == 403, f"{method} {template} from {headers}: " \
                                             f"{r.status_code}"
                assert site.snapshot() == before, f"{method} {template} from {headers}"
                assert len(site.smtp.received) == mails
    # the same requests from this site's own pages do change things (the test can fail)
    for template in ("/subscribe/confirm", "/unsubscribe", "/preferences/resubscribe",
                     "/signin/confirm/{token}", "/signin", "/d/feedback"):
        path, body = targets[template]
        before, mails = site.snapshot(), len(site.smtp.received)
        r = site.client().post(path, headers={"Sec-Fetch-Site": "same-origin"},
                               follow_redirects=False, **body)
        assert r.status_code in (200, 303), f"{template}: {r.status_code}"
        assert site.snapshot() != before or len(site.smtp.received) > mails, template

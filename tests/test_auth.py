"""The web's sign-in plumbing (``web/auth.py``): who a request is, the CSRF check every
state-changing form of a signed-in user passes, the session cookie's attributes, and the
local paths a form may send the browser back to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from accounts import make_account, sign_in
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.records import Account
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.auth import (
    SESSION_COOKIE,
    Viewer,
    check_csrf,
    end_session,
    safe_next,
    start_session,
)


def _app(settings: Settings) -> tuple[TestClient, Paperwire]:
    paperwire = Paperwire(replace(settings, secret_key="k" * 32), Store.open(
        settings.resolved_database_url))
    app = create_app(paperwire)

    @app.post("/_test/change")
    async def change(request: Request) -> JSONResponse:
        account = await check_csrf(request)
        return JSONResponse({"changed_by": account.email})

    @app.get("/_test/who")
    def who(viewer: Viewer) -> JSONResponse:
        return JSONResponse({"email": viewer.email if viewer else None})

    @app.post("/_test/signin")
    def signin(request: Request) -> JSONResponse:
        response = JSONResponse({})
        account = paperwire.store.accounts.by_email("c@example.org")
        assert account is not None
        start_session(response, request, account)
        return response

    @app.post("/_test/signout")
    def signout(request: Request) -> JSONResponse:
        response = JSONResponse({})
        end_session(response, request)
        return response

    return TestClient(app), paperwire


@pytest.fixture
def web(settings: Settings) -> Iterator[tuple[TestClient, Paperwire]]:
    client, paperwire = _app(settings)
    with client:
        yield client, paperwire


def test_a_change_needs_the_sessions_own_csrf_token(web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    assert client.post("/_test/change", data={"csrf": "x"}).status_code == 401
    csrf = sign_in(client, paperwire, "a@example.org")
    assert client.get("/_test/who").json() == {"email": "a@example.org"}
    assert client.post("/_test/change", data={}).status_code == 403
    wrong = csrf[:-1] + ("1" if csrf[-1] == "0" else "0")
    assert client.post("/_test/change", data={"csrf": wrong}).status_code == 403
    assert client.post("/_test/change", data={"csrf": csrf},
                       headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    ok = client.post("/_test/change", data={"csrf": csrf})
    assert ok.status_code == 200 and ok.json() == {"changed_by": "a@example.org"}
    assert client.post("/_test/change", json={},
                       headers={"X-CSRF-Token": csrf}).status_code == 200
    # another session's token is not this one's
    other = TestClient(client.app)
    sign_in(other, paperwire, "b@example.org")
    assert other.post("/_test/change", data={"csrf": csrf}).status_code == 403


def test_a_forged_or_ended_session_is_nobody(web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    client.cookies.set(SESSION_COOKIE, "A" * 43)
    assert client.get("/_test/who").json() == {"email": None}
    client.cookies.set(SESSION_COOKIE, "<script>")
    assert client.get("/_test/who").json() == {"email": None}
    sign_in(client, paperwire, "a@example.org")
    assert client.post("/_test/signout").status_code == 200
    assert client.get("/_test/who").json() == {"email": None}


@pytest.mark.parametrize(("base", "secure"), [("http://127.0.0.1:8000", False),
                                              ("https://papers.example.org", True)])
def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(
        settings: Settings, base: str, secure: bool) -> None:
    client, paperwire = _app(replace(settings, base_url=base))
    account: Account = make_account(paperwire, "c@example.org")
    assert account.active
    with client:
        cookie = client.post("/_test/signin").headers["set-cookie"]
    attrs = [a.strip().lower() for a in cookie.split(";")]
    assert attrs[0].startswith(SESSION_COOKIE + "=")
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
    assert ("secure" in attrs) is secure


@pytest.mark.parametrize(("value", "expected"), [
    ("/papers/2606.00001?x=1", "/papers/2606.00001?x=1"),
    ("/library", "/library"),
    ("//evil.example/x", "/"), ("/\\evil.example", "/"), ("https://evil.example/", "/"),
    ("javascript:alert(1)", "/"), ("/a\r\nSet-Cookie: x=1", "/"), ("", "/"), (None, "/"),
])
def test_only_local_paths_come_back(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected

"""Signed-in users for tests, without mail: an active account and a session made directly
through the application object (the magic-link flow itself is tested on its own)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.records import Account
from paperwire.web.auth import SESSION_COOKIE, csrf_for


def make_account(paperwire: Paperwire, email: str, admin: bool = False) -> Account:
    """An active (confirmed) account for ``email``, as its first sign-in leaves it."""
    accounts = paperwire.store.accounts
    account = accounts.add(email, paperwire.now(), admin=admin)
    pending = accounts.request_signin(email, "testnonce", paperwire.now(), create=False)
    assert pending is not None, f"{email} is disabled"
    confirmed = accounts.confirm_signin(account.id, "testnonce", paperwire.now())
    assert confirmed is not None
    return confirmed


def session_cookie(paperwire: Paperwire, email: str, admin: bool = False) -> tuple[str, str]:
    """The (name, value) of a session cookie for ``email``'s account (made if needed),
    for a live server or Chromium."""
    return SESSION_COOKIE, paperwire.open_session(make_account(paperwire, email, admin))


def sign_in(client: TestClient, paperwire: Paperwire, email: str, admin: bool = False) -> str:
    """Sign ``client`` in as ``email``; the CSRF token its forms must carry."""
    name, value = session_cookie(paperwire, email, admin)
    client.cookies.set(name, value)
    return csrf_for(paperwire.key, value)

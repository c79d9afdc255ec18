"""Who is asking: the signed-in account of a request, its session cookie, and the CSRF token
every state-changing form of a signed-in user carries.

The session cookie (``paperwire_session``) holds a random value whose SHA-256 the store keeps
(:meth:`Paperwire.open_session`); it is HttpOnly, SameSite=Lax, and Secure when the site is
served over https (``PAPERWIRE_BASE_URL``). The CSRF token is an HMAC of the session's value
under the site's secret key, so it needs no storage, differs per session and dies with it.
:func:`check_csrf` refuses (403, nothing changes) a post without it or with a wrong one, and
any post a browser sent from another site (``Sec-Fetch-Site`` / ``Origin``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated, cast
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import Response

from paperwire.app import SESSION_LIFETIME, Paperwire
from paperwire.config import Settings
from paperwire.errors import PageError, PaperwireError
from paperwire.records import Account

SESSION_COOKIE = "paperwire_session"
CSRF_FIELD, CSRF_HEADER = "csrf", "x-csrf-token"
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_UNSET = object()
CSRF_REFUSED = ("This form was not sent from a page of this site, or it has expired. "
                "Reload the page and try again.")


def _paperwire(request: Request) -> Paperwire:
    return cast(Paperwire, request.app.state.paperwire)


def session_token(request: Request) -> str | None:
    """The session cookie's value, when it has the form of one."""
    value = request.cookies.get(SESSION_COOKIE)
    return value if value and _COOKIE_VALUE.fullmatch(value) else None


def signed_in(request: Request) -> Account | None:
    """The active account whose live session sent this request (looked up once per
    request); None for anyone else."""
    cached = getattr(request.state, "viewer", _UNSET)
    if cached is not _UNSET:
        return cast(Account | None, cached)
    token = session_token(request)
    try:
        account = _paperwire(request).session_account(token) if token else None
    except PaperwireError:  # the database is down: this request fails, and the error page
        request.state.viewer = None  # drawn for it shows nobody signed in (no second try)
        raise
    request.state.viewer = account
    return account


def require_viewer(request: Request) -> Account:
    """The signed-in account, or a 401 page (JSON under ``/api/``) that links to sign-in."""
    account = signed_in(request)
    if account is None:
        raise PageError(401, "Sign in to do that: a sign-in link is mailed to you.",
                        "Sign in required")
    return account


Viewer = Annotated[Account | None, Depends(signed_in)]
SignedIn = Annotated[Account, Depends(require_viewer)]


def csrf_for(key: bytes, token: str) -> str:
    """The CSRF token of the session whose cookie holds ``token``."""
    return hmac.new(key, f"csrf|{token}".encode(), hashlib.sha256).hexdigest()[:40]


def csrf_token(request: Request) -> str:
    """The CSRF token for this request's forms; empty when nobody is signed in."""
    token = session_token(request)
    if token is None or signed_in(request) is None:
        return ""
    return csrf_for(_paperwire(request).key, token)


def cross_site(request: Request, settings: Settings) -> bool:
    """Whether a browser sent this POST from another site: ``Sec-Fetch-Site`` other than
    same-origin/none, or an ``Origin`` that is neither this host (as the browser or a proxy's
    ``X-Forwarded-Host`` names it) nor the base URL. A request
    with neither header (curl, a script) is not a browser's cross-site form."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:  # set by the browser itself; no page can forge it
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    if origin == "null":
        return True
    parts = urlsplit(origin)
    own = {urlsplit(settings.base_url).netloc.lower()}
    # the Host the browser sent, or the one a reverse proxy passed on (a form cannot set
    # either header, so neither can be made to match another site)
    for name in ("host", "x-forwarded-host"):
        host = request.headers.get(name)
        if host:
            own.add(host.split(",")[0].strip().lower())
    return parts.netloc.lower() not in own


async def check_csrf(request: Request) -> Account:
    """Let a signed-in user's state-changing request through, or raise a 403 (nothing may
    change): it must come from this site and carry the session's CSRF token, in the form
    field ``csrf`` or the ``X-CSRF-Token`` header (JSON). Returns the signed-in account;
    signed out is a 401."""
    if cross_site(request, _paperwire(request).settings):
        raise PageError(403, CSRF_REFUSED, "Refused")
    account = require_viewer(request)
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    expected = csrf_token(request)
    if not given or not expected or not hmac.compare_digest(given, expected):
        raise PageError(403, CSRF_REFUSED, "Refused")
    return account


def start_session(response: Response, request: Request, account: Account) -> str:
    """Sign ``account`` in on this browser: a new session, its cookie set on ``response``."""
    paperwire = _paperwire(request)
    token = paperwire.open_session(account)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds()), path="/",
        httponly=True, samesite="lax",
        secure=paperwire.settings.base_url.lower().startswith("https://"))
    return token


def end_session(response: Response, request: Request) -> None:
    """Sign this browser out: its session ends in the store and its cookie is cleared."""
    token = session_token(request)
    paperwire = _paperwire(request)
    if token is not None:
        paperwire.end_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=paperwire.settings.base_url.lower().startswith("https://"))


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to after a form: only ``/…`` paths of this site (never
    ``//host``, ``/\\host``, a scheme, or control characters); ``default`` otherwise."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or c == "\\" for c in value) or len(value) > 2000:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def signin_path(next_path: str) -> str:
    """The sign-in page that comes back to ``next_path`` afterwards."""
    return "/signin?next=" + quote(safe_next(next_path), safe="/")

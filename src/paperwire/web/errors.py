"""The one error mapper of the web app: every error a request can end in — the
:class:`~paperwire.errors.PaperwireError` tree, a :class:`PageError` from a handler, an HTTP
error of the router, invalid parameters, a bug — becomes a status and a message, shown as
the error page, or as ``{"detail": …}`` under ``/api/`` (or to a client that asks for JSON
only). No traceback ever reaches a user."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperwire.errors import (
    NotFound,
    PageError,
    PaperwireError,
    QueryError,
    SearchError,
    StoreError,
    TokenError,
)
from paperwire.web.common import page
from paperwire.web.middleware import SECURITY_HEADERS, allowed_methods

SERVER_ERROR = "Something went wrong on our side; the error has been logged."
DATABASE_DOWN = "The database cannot be reached right now; try again in a moment."
log = logging.getLogger(__name__)
_TITLES = {404: "Not found", 405: "Method not allowed"}


def wants_json(request: Request) -> bool:
    """Under ``/api/`` and at ``/healthz``, errors are ``{"detail": …}``; so they are at a
    ``.json`` address (feeds, exports) unless a browser asks (its Accept names HTML: the
    error page, with its sign-in link), and for a client that asks for JSON only."""
    accept = request.headers.get("accept", "")
    path = request.url.path
    return path.startswith("/api/") or path == "/healthz" or (
        path.endswith(".json") and "text/html" not in accept) or (
        accept.startswith("application/json") and "html" not in accept)


def mapped(request: Request, exc: Exception) -> tuple[int, str, str, dict[str, str]] | None:
    """``(status, title, message, headers)`` for ``exc``; None for an unexpected error."""
    if isinstance(exc, (PageError, NotFound)) and _wrong_method(request):
        return _method_not_allowed(request)
    if isinstance(exc, PageError):
        return exc.status, exc.title, exc.message, {}
    if isinstance(exc, QueryError):  # the query is wrong, not the service
        return 400, "Query not understood", str(exc), {}
    if isinstance(exc, SearchError):
        return 503, "Search is unavailable", str(exc), {}
    if isinstance(exc, StoreError):  # the database is down: the details go to the log
        return 503, "Service unavailable", DATABASE_DOWN, {"Retry-After": "30"}
    if isinstance(exc, TokenError):
        message = str(exc) if wants_json(request) else str(exc).capitalize() + "."
        return 400, "This link cannot be used", message, {}
    if isinstance(exc, NotFound):
        return 404, "Not found", str(exc), {}
    if isinstance(exc, RequestValidationError):
        return 400, "Bad request", "The request's parameters are not valid.", {}
    if isinstance(exc, StarletteHTTPException):
        status, headers = exc.status_code, dict(exc.headers or {})
        message = "There is no page at this address." if status == 404 else str(exc.detail)
        if status == 405:  # every method the address takes, not one route's
            return _method_not_allowed(request)
        return status, _TITLES.get(status, "Error"), message, headers
    return None


def _wrong_method(request: Request) -> bool:
    """A 404 from a route that only matched because its ``:path`` id swallowed a more
    specific route's address (GET ``/api/papers/X/vote``): the address takes other methods."""
    allowed = allowed_methods(request.app, request.scope)
    return bool(allowed) and request.method not in allowed


def _method_not_allowed(request: Request) -> tuple[int, str, str, dict[str, str]]:
    allowed = allowed_methods(request.app, request.scope)
    message = f"This address takes {', '.join(allowed)} only."
    return 405, _TITLES[405], message, {"Allow": ", ".join(allowed)}


def error_response(request: Request, exc: Exception) -> Response:
    known = mapped(request, exc)
    if isinstance(exc, StoreError):
        log.warning("database unavailable for %s: %s", request.url.path, exc)
    # an unexpected error is answered outside the middleware stack: the headers are added
    status, title, message, headers = known or (500, "Server error", SERVER_ERROR,
                                                 SECURITY_HEADERS)
    response: Response
    if wants_json(request):
        response = JSONResponse({"detail": message}, status_code=status)
    else:
        response = page(request, "error.html", status_code=status, status=status,
                        title=title, message=message)
    response.headers.update(headers)
    return response


async def handle(request: Request, exc: Exception) -> Response:
    if mapped(request, exc) is None:
        raise exc  # not a user's error: to the server-error handler (logged, then a 500)
    return error_response(request, exc)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    return error_response(request, exc)


def install(app: FastAPI) -> None:
    """Map every error through :func:`error_response`."""
    for kind in (PageError, PaperwireError, StarletteHTTPException, RequestValidationError):
        app.add_exception_handler(kind, handle)
    app.add_exception_handler(Exception, handle_unexpected)

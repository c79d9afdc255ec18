"""What every response goes through: security headers (no script, no framing, no Referer),
HEAD answered as GET without a body, and the ``Allow`` of an address (for a 405)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Sent with every response. No page runs a script or needs anything from another origin:
# styles come from /static only (charts are inline SVG with classes, no style attributes),
# forms post here, no site may frame a page (the unsubscribe button is a click to steal),
# and no address leaves in a Referer (links in mails carry tokens).
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'none'; style-src 'self'; "
                           "img-src 'self'; form-action 'self'; base-uri 'none'; "
                           "frame-ancestors 'none'")
# The local outbox shows a mail's HTML part in a sandboxed srcdoc frame, which inherits the
# page's policy: mails are styled inline, so these pages allow inline styles (still no script,
# and no image or font from elsewhere, so a style cannot send anything out).
MAIL_VIEW_PREFIX = "/dev/outbox/"
MAIL_VIEW_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'",
                                                   "style-src 'self' 'unsafe-inline'")
# The API's documentation page (/docs) runs Swagger UI's script, served from here (no
# inline script, nothing from elsewhere); the widget sets inline styles, draws data: icons and
# fetches /openapi.json (and the "try it out" calls).
DOCS_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
               "base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
GZIP_MIN_BYTES = 1000


class SecurityHeaders:
    """ASGI middleware: every response gets :data:`SECURITY_HEADERS`. A route that sets its
    own Content-Security-Policy (a mail preview, with the mail's inline styles) keeps it, with
    ``frame-ancestors 'none'`` added when it lacks one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                policy = headers.get("content-security-policy")
                if policy is not None and "frame-ancestors" not in policy:
                    headers["Content-Security-Policy"] = policy + "; frame-ancestors 'none'"
                if policy is None and scope["path"].startswith(MAIL_VIEW_PREFIX):
                    headers["Content-Security-Policy"] = MAIL_VIEW_POLICY
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)


class HeadersOnlyForHead:
    """ASGI middleware: a HEAD request is answered with the headers of the GET (routes that
    take GET take HEAD, see ``create_app``) and no body, whatever the server under it does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive, headers_only)


def allowed_methods(app: Starlette, scope: Scope) -> list[str]:
    """The methods the routes (or mount) at this request's path take: its ``Allow``. Where
    several match, the most specific ones name the address: ``/api/papers/X/vote`` is the
    vote of paper X (POST), not a paper whose id ends in ``/vote``."""
    by_capture: dict[int, set[str]] = {}
    # a mount on the way (static files) moved root_path: match from the app's own root
    fresh = {"type": "http", "method": scope["method"], "path": scope["path"],
             "root_path": scope.get("app_root_path", "")}
    for route in app.routes:
        match, child = route.matches(fresh)
        if match is Match.NONE:
            continue
        methods = getattr(route, "methods", None)
        captured = sum(len(str(v)) for v in child.get("path_params", {}).values())
        by_capture.setdefault(captured, set()).update(
            methods if methods else {"GET", "HEAD"})  # a mount: static files
    return sorted(by_capture[min(by_capture)]) if by_capture else []

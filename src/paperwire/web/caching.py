"""HTTP caching of the read path: validators, 304s, the shared rendered responses, and
fingerprinted static files.

A shared response (trending for someone not signed in, its JSON API and its feeds) carries a
weak ``ETag`` made of the release (code, templates, static files, the settings that shape a
page), the store's data version (:meth:`Paperwire.data_version`: read on every request on
SQLite, heard from PostgreSQL's notifications there, so a vote or an import in any process
changes it at once, or within the notification's delivery), today's date (the default day of
trending) and the address; ``Last-Modified`` is the newest of the data's write time and
today's midnight. A matching ``If-None-Match`` (or, without one, an ``If-Modified-Since`` not
older) is a 304 with no body, nothing rendered. Otherwise the body is rendered once per
ETag and interval (:data:`paperwire.memo.INTERVAL_SECONDS`; a paper's, once per ETag) and
shared between requests,
kept gzip'd when it is large enough for the gzip middleware (a client that takes gzip gets
those bytes as they are: a shared hit compresses nothing). The ``Cache-Control`` is
``public, no-cache``: shared caches may keep it but must revalidate, so none serves a stale
answer; ``Vary: Cookie`` keeps a signed-in reader off the anonymous copy.

A paper's page is shared the same way for readers not signed in, and its JSON record
(``/api/papers/{id}``) for everyone; the page's ETag also names the generations of the
search indexes its similar papers come from (:meth:`Paperwire.index_version`). The answers
of many papers are kept (:data:`PAPER_PAGES`), apart from the few trending answers.

A page that shows a reader's own state (upvotes, saves, the CSRF token of its forms) gets
``private, no-cache`` and no ETag when a session cookie comes with the request.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.memo import Memo, bucket
from paperwire.records import DataVersion
from paperwire.web.auth import SESSION_COOKIE
from paperwire.web.middleware import GZIP_MIN_BYTES

SHARED = "public, no-cache"
PRIVATE = "private, no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
STATIC_SHORT = "public, max-age=300"  # a static file asked for without its fingerprint
VERSION_PARAM = "v"
HERE = Path(__file__).parent
STATIC = HERE / "static"
GZIP_LEVEL = 6  # the gzip middleware's (web/app.py)
SHARED_ANSWERS = 256  # trending's pages, API answers and feeds kept
PAPER_PAGES = 4096  # papers' pages and API records kept (a few kB each, gzip'd)


@dataclass(frozen=True)
class Rendered:
    """A response as rendered once: what a later request gets a fresh copy of, with that
    request's validators. A body of at least ``GZIP_MIN_BYTES`` is kept gzip'd
    (``packed``), once."""

    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]  # without Content-Length and the validators
    packed: bool = False

    @classmethod
    def of(cls, response: Response) -> Rendered:
        body = bytes(response.body)
        headers = tuple((k, v) for k, v in response.raw_headers if k not in _PER_REQUEST)
        if len(body) < GZIP_MIN_BYTES:
            return cls(response.status_code, body, headers)
        return cls(response.status_code, gzip.compress(body, GZIP_LEVEL, mtime=0), headers,
                   packed=True)

    def response(self, validators: dict[str, str], takes_gzip: bool = False) -> Response:
        """A fresh response with ``validators`` (ETag, Cache-Control, Vary, …): the gzip'd
        bytes as they are for a client that takes gzip (``Content-Encoding: gzip``, so the
        middleware leaves them), else the plain body."""
        headers = [*self.headers, *((k.lower().encode("latin-1"), v.encode("latin-1"))
                                    for k, v in validators.items())]
        body = self.body
        if self.packed and takes_gzip:
            headers = [(k, v + b", Accept-Encoding" if k == b"vary" else v)
                       for k, v in headers]
            headers.append((b"content-encoding", b"gzip"))
        elif self.packed:
            body = gzip.decompress(body)
        headers.append((b"content-length", str(len(body)).encode()))
        fresh = Response(body, status_code=self.status)
        fresh.raw_headers = headers
        return fresh


_PER_REQUEST = {b"content-length", b"etag", b"cache-control", b"vary", b"last-modified"}


# ---- static files ----------------------------------------------------------------------


@cache
def fingerprint(name: str) -> str:
    """The first 12 hex digits of the SHA-256 of the static file ``name`` (read once per
    process: static files change only with a release)."""
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """The fingerprinted address of the static file ``name`` (templates' ``static_url``)."""
    return f"/static/{name}?{VERSION_PARAM}={fingerprint(name)}"


class FingerprintedStatic(StaticFiles):
    """Static files; one asked for with its current fingerprint (:func:`static_url`) may
    be kept a year (``immutable``), any other request (no or an old fingerprint) five
    minutes."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = query.get(VERSION_PARAM, [""])[0]
            current = _fingerprint_of(path)
            fixed = current is not None and given == current
            response.headers["Cache-Control"] = IMMUTABLE if fixed else STATIC_SHORT
        return response


def _fingerprint_of(path: str) -> str | None:
    try:
        return fingerprint(path)
    except OSError:
        return None


# ---- validators ------------------------------------------------------------------------


def release(settings: Settings) -> str:
    """What besides the data shapes a shared response: the package's version, its
    templates and static files, and the settings pages show."""
    digest = hashlib.sha256()
    try:
        digest.update(version("paperwire").encode())
    except PackageNotFoundError:  # run from a source tree
        digest.update(b"source")
    for path in sorted((*HERE.glob("templates/**/*.html"), *STATIC.glob("*"))):
        digest.update(path.name.encode() + path.read_bytes())
    shown = (settings.base_url, sorted(settings.trending_weights.items()),
             list(settings.arxiv_categories))
    digest.update(repr(shown).encode())
    return digest.hexdigest()[:16]


def entity_tag(release_id: str, data: DataVersion, today: date, address: str,
               indexes: str = "") -> str:
    """The weak ETag of a shared response (weak: gzip'd or not, the same entity);
    ``indexes``: the search indexes' generations, for a page that shows their results."""
    parts = "\n".join((release_id, data.token, today.isoformat(), address, indexes))
    return 'W/"' + hashlib.sha256(parts.encode()).hexdigest()[:32] + '"'


def last_modified(data: DataVersion, now: datetime) -> datetime | None:
    """The newest of the data's last write and today's midnight, to the second; None when
    that second is not over yet (a later write in it would carry the same date)."""
    midnight = datetime.combine(now.date(), time())
    newest = max(data.changed, midnight) if data.changed else midnight
    newest = newest.replace(microsecond=0)
    return newest if newest + timedelta(seconds=1) <= now else None


def http_date(moment: datetime) -> str:
    return format_datetime(moment.replace(tzinfo=UTC), usegmt=True)


def _tags(header: str) -> Iterable[str]:
    return (t.strip().removeprefix("W/") for t in header.split(","))


def not_modified(request: Request, etag: str, modified: datetime | None) -> bool:
    """Whether the client's copy is current: ``If-None-Match`` names ``etag`` (weakly
    compared) or, only when that header is absent, ``If-Modified-Since`` is not older than
    ``modified``."""
    match = request.headers.get("if-none-match")
    if match is not None:
        return etag.removeprefix("W/") in _tags(match)
    since = request.headers.get("if-modified-since")
    if since is None or modified is None:
        return False
    try:
        given = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if given.tzinfo is None:
        return False
    return given.astimezone(UTC).replace(tzinfo=None) >= modified


# ---- shared and per-reader responses ---------------------------------------------------


@dataclass(frozen=True)
class SharedCache:
    """One web app's shared responses (``create_app`` keeps one in ``app.state.cache``)."""

    release: str
    rendered: Memo[Rendered]  # trending's pages, its API and feeds
    papers: Memo[Rendered]  # papers' pages and API records

    @classmethod
    def of(cls, settings: Settings, size: int = SHARED_ANSWERS,
           papers: int = PAPER_PAGES) -> SharedCache:
        return cls(release(settings), Memo(size), Memo(papers))


def personal(request: Request) -> bool:
    """Whether this request comes with a session cookie: its page may show the reader's
    own state, so it is neither shared nor validated."""
    return SESSION_COOKIE in request.cookies


def private(response: Response) -> Response:
    response.headers["Cache-Control"] = PRIVATE
    response.headers.add_vary_header("Cookie")
    return response


def shared(request: Request, app: Paperwire, render: Callable[[], Response],
           per_reader: bool = False, indexes: bool = False,
           per_paper: bool = False) -> Response:
    """``render()``'s response as a shared, validated one (see the module's text); with
    ``per_reader`` (a page that shows a signed-in reader's state) a request with a session
    cookie gets it rendered for itself, private and unvalidated. ``indexes``: it shows
    search results (similar papers), so the indexes' generations are part of its ETag;
    ``per_paper``: one of many papers' answers, kept among those."""
    if per_reader and personal(request):
        return private(render())
    cache: SharedCache = request.app.state.cache
    data, now = app.data_version(), app.now()
    address = request.url.path + "?" + request.url.query
    generations = app.index_version() if indexes else ""
    etag = entity_tag(cache.release, data, now.date(), address, generations)
    modified = last_modified(data, now)
    headers = {"ETag": etag, "Cache-Control": SHARED, "Vary": "Cookie"}
    if modified is not None:
        headers["Last-Modified"] = http_date(modified)
    if not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)

    # a paper's answer shows nothing of the hour: kept as long as its tag holds; trending's
    # (its decay) are made again each interval
    key = etag if per_paper else (etag, bucket(now))
    memo = cache.papers if per_paper else cache.rendered
    kept = memo.get(key, lambda: Rendered.of(render()))
    return kept.response(headers, "gzip" in request.headers.get("accept-encoding", ""))


class PrivateWithSession:
    """ASGI middleware: a response to a request with a session cookie that says nothing of
    caching gets ``private, no-cache`` (a paper's page, a search, the library show the
    reader's upvotes and saves and carry the session's CSRF token), and every one not
    public ``Vary: Cookie``; no shared cache keeps it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or SESSION_COOKIE not in Request(scope).cookies:
            await self.app(scope, receive, send)
            return

        async def with_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "cache-control" not in headers:
                    headers["Cache-Control"] = PRIVATE
                if "public" not in headers["cache-control"]:
                    headers.add_vary_header("Cookie")
            await send(message)

        await self.app(scope, receive, with_private)

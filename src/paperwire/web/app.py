"""The web app: server-rendered pages (Jinja2, autoescaped), a small JSON API and the
trending feeds (Atom and JSON Feed, built in :mod:`paperwire.web.feeds`).

Everything shown comes from the store, the search index or the trending module; the app
adds no logic of its own beyond parsing parameters and shaping the output. Titles,
abstracts and authors are untrusted text: templates always escape them.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperwire import services, trending
from paperwire.config import Settings
from paperwire.errors import PageError, QueryError, SearchError
from paperwire.models import Paper, is_arxiv_category, parse_arxiv_id, quote_id, shorten
from paperwire.search import MODES, Hit, SearchEngine, SearchOptions, search
from paperwire.search.query import SORTS, Sort, check_day
from paperwire.store import Store
from paperwire.web import charts, feeds, health
from paperwire.worker import Background

HERE = Path(__file__).parent
TRENDING_LIMIT = 30
SEARCH_LIMIT, SEARCH_MAX = 20, 100
SIMILAR_LIMIT = 5
FEED_HEADERS = {"Cache-Control": "public, max-age=900"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_IN_TEXT = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n(?=[ \t]+\S)")
_RANKED_BY = {"hf_upvotes": "Hugging Face upvotes", "digest_click": "clicks from digests"}


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
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
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
    """The methods some route (or mount) at this request's path takes: its ``Allow``."""
    allowed: set[str] = set()
    # a mount on the way (static files) moved root_path: match from the app's own root
    fresh = {"type": "http", "method": scope["method"], "path": scope["path"],
             "root_path": scope.get("app_root_path", "")}
    for route in app.routes:
        match, _ = route.matches(fresh)
        if match is Match.NONE:
            continue
        methods = getattr(route, "methods", None)
        allowed |= set(methods) if methods else {"GET", "HEAD"}  # a mount: static files
    return sorted(allowed)


# ---- helpers used by routes and templates ---------------------------------------------


def paper_path(paper_id: str) -> str:
    """The site's path of a paper; ``/papers/{paper_id:path}`` reads it back as the id."""
    return "/papers/" + quote_id(paper_id)


def fmt_date(d: date | None) -> str:
    return f"{d.day} {d:%b %Y}" if d else ""


def keep_dates(text: str) -> Markup:
    """Escape ``text`` and keep the ISO dates in it from breaking across lines."""
    escaped = str(escape(text))
    return Markup(_DATE_IN_TEXT.sub(r'<span class="nowrap">\g<0></span>', escaped))


def paragraphs(text: str) -> list[str]:
    """Split an abstract into paragraphs (blank lines or arXiv-style indented lines)."""
    parts = (" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text.strip()))
    return [p for p in parts if p]


def ordered_categories(p: Paper) -> list[str]:
    first = [p.primary_category] if p.primary_category else []
    return first + [c for c in p.categories if c != p.primary_category]


def parse_window(window: str) -> str:
    if window not in trending.WINDOWS:
        choices = ", ".join(trending.WINDOWS)
        raise PageError(400, f"Unknown window {window!r}: choose one of {choices}.")
    return window


def parse_date(value: str | None) -> date | None:
    if value is None or value == "":
        return None
    try:
        if not _ISO_DATE.match(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise PageError(400, f"Invalid date {value!r}: use the form YYYY-MM-DD.") from None
    try:
        return check_day(day, f"The date {value}")
    except ValueError as exc:
        raise PageError(400, f"{exc}.") from None


def parse_category(value: str | None) -> str | None:
    """An arXiv category (``cs.CL``, ``math.AG``, ``hep-th``) or None for all of them."""
    if value is None or value == "":
        return None
    if not is_arxiv_category(value):
        raise PageError(
            400, f"Invalid category {value!r}: use an arXiv category like cs.CL or hep-th."
        )
    return value


def parse_limit(value: str | None) -> int:
    """How many results: SEARCH_LIMIT when not given, at most SEARCH_MAX (more is capped);
    not a whole number, or less than 1, is a 400."""
    if value is None or value == "":
        return SEARCH_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise PageError(400, f"Invalid limit {value!r}: use a whole number.") from None
    if limit < 1:
        raise PageError(400, f"Invalid limit {value!r}: ask for at least 1 result.")
    return min(limit, SEARCH_MAX)


def parse_sort(value: str) -> Sort:
    if value not in SORTS:
        raise PageError(400, f"Invalid sort {value!r}: use one of {', '.join(SORTS)}.")
    return cast(Sort, value)


def score_line(entry: trending.TrendingEntry) -> str:
    """``'score 8.00 = 8.00 from 13 upvotes on Hugging Face (×1)'``: what the score is made of."""
    parts = [
        f"{p.points:.2f} from {trending.count_phrase(p.source, p.count)} (×{p.weight:g})"
        for p in entry.parts
    ]
    head = f"score {entry.score:.2f}"
    return f"{head} = {' + '.join(parts)}" if parts else head


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(paper_url=paper_path, fmt_date=fmt_date, shorten=shorten,
                       keep_dates=keep_dates, score_line=score_line)
    env.globals.update(paragraphs=paragraphs, ordered_categories=ordered_categories)
    return Jinja2Templates(env=env)


def _paper_json(p: Paper, base_url: str) -> dict[str, Any]:
    return {
        "id": p.id, "title": p.title, "abstract": p.abstract, "authors": list(p.authors),
        "categories": ordered_categories(p), "primary_category": p.primary_category,
        "version": p.version, "published": p.published.isoformat() if p.published else None,
        "updated": p.updated.isoformat() if p.updated else None, "comment": p.comment,
        "journal_ref": p.journal_ref, "doi": p.doi, "abs_url": p.abs_url,
        "pdf_url": p.pdf_url, "url": base_url + paper_path(p.id),
    }


# ---- the app --------------------------------------------------------------------------


def create_app(settings: Settings, store: Store | None = None,
               background: Background | None = None) -> FastAPI:
    """The app over ``store`` (opened from the settings when not given). ``background``: the
    threads ``paperwire serve`` runs beside it (scheduler, embedder), checked by /healthz."""
    owns_store = store is None
    the_store = store if store is not None else Store.open(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_store:
            the_store.close()

    app = FastAPI(title="Paperwire", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.settings, app.state.store = settings, the_store
    templates = _templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def error_response(request: Request, status: int, message: str, title: str,
                       headers: dict[str, str] | None = None) -> Response:
        response: Response
        if request.url.path.startswith("/api/"):
            response = JSONResponse({"detail": message}, status_code=status)
        else:
            response = page(request, "error.html", status_code=status,
                            status=status, title=title, message=message)
        response.headers.update(headers or {})
        return response

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Response:
        return error_response(request, exc.status, exc.message, exc.title)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        message = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method the address takes, not one route's
            allowed = allowed_methods(app, request.scope)
            headers["Allow"] = ", ".join(allowed)
            message = f"This address takes {', '.join(allowed)} only."
        return error_response(request, exc.status_code, message, title, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        message = "The request's parameters are not valid."
        return error_response(request, 400, message, "Bad request")

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        message = "Something went wrong on our side; the error has been logged."
        # answered outside the middleware stack: the headers are added here
        return error_response(request, 500, message, "Server error", SECURITY_HEADERS)

    @app.exception_handler(SearchError)
    async def search_error(request: Request, exc: SearchError) -> Response:
        if isinstance(exc, QueryError):  # the query is wrong, not the service
            return error_response(request, 400, str(exc), "Query not understood")
        return error_response(request, 503, str(exc), "Search is unavailable")

    # the weighted sources that something records: a page never promises the others
    shown_weights = {source: weight for source, weight in settings.trending_weights.items()
                     if source in trending.PRODUCED_SOURCES}
    ranked_by = " and ".join(_RANKED_BY[source] for source, weight in shown_weights.items()
                             if weight > 0 and source in _RANKED_BY)

    engine = SearchEngine(the_store, settings)  # one per app: the model loads once
    app.state.engine = engine

    def run_search(q: str, limit: str | None, sort: str, mode: str,
                   highlight: bool) -> list[Hit]:
        if not q.strip():
            return []
        if mode not in MODES:
            raise PageError(400, f"mode must be one of {', '.join(MODES)}")
        options = SearchOptions(limit=parse_limit(limit), sort=parse_sort(sort))
        return search(the_store, settings, q, mode=mode, options=options, engine=engine,
                      highlight=highlight)

    def trending_for(window: str, date_param: str | None,
                     cat: str | None) -> trending.TrendingView:
        return services.trending_view(
            the_store, parse_window(window), parse_date(date_param), limit=TRENDING_LIMIT,
            category=parse_category(cat), weights=settings.trending_weights,
        )

    def find_paper(paper_id: str, prefix: str) -> Paper | Response:
        paper = the_store.get_paper(paper_id)
        if paper is not None:
            return paper
        parsed = parse_arxiv_id(paper_id)
        if parsed and parsed[0] != paper_id:  # versioned or prefixed: go to the canonical id
            return RedirectResponse(prefix + paper_path(parsed[0]), status_code=301)
        raise PageError(404, f"No paper with id {paper_id!r} is stored here.", "Paper not found")

    # ---- pages ----------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home(request: Request, window: str = "week", date: str | None = None,
             cat: str | None = None) -> Response:
        view = trending_for(window, date, cat)
        latest = [] if view.entries else the_store.latest_papers(20, category=view.category)

        def here(**change: str | None) -> str:
            params = {"window": view.window, "cat": view.category, "date": date or None}
            params.update(change)
            return "/?" + urlencode({k: v for k, v in params.items() if v})

        tabs = [(w, here(window=w)) for w in trending.WINDOWS]
        followed = list(settings.arxiv_categories)
        if view.category and view.category not in followed:
            followed.append(view.category)
        cats = [(None, here(cat=None))] + [(c, here(cat=c)) for c in followed]
        sparks: dict[str, Markup] = {}
        if view.as_of is not None:
            start, end = trending.window_bounds(view.window, view.as_of)
            sparks = {e.paper_id: charts.sparkline(e.series, start, end)
                      for e, _ in view.entries}
        feed_params = {"window": view.window, "cat": view.category}
        feed_query = urlencode({k: v for k, v in feed_params.items() if v})
        return page(request, "home.html", view=view, latest=latest, tabs=tabs, cats=cats,
                    ranked_by=ranked_by or "signals",
                    sparks=sparks, all_url=here(cat=None),
                    api_url="/api/trending" + here()[1:],
                    atom_url="/feeds/trending.atom?" + feed_query,
                    json_url="/feeds/trending.json?" + feed_query,
                    feed_title=feeds.feed_title(view))

    @app.get("/search", include_in_schema=False)
    def search_page(request: Request, q: str = "", limit: str | None = None,
                    sort: str = "relevance", mode: str = "hybrid") -> Response:
        """Results; a query or parameter the search cannot take is a 400 that shows the
        message under the search box, the query kept in it to be corrected."""
        hits: list[Hit] = []
        error: str | None = None
        try:
            hits = run_search(q, limit, sort, mode, highlight=True)
        except QueryError as exc:
            error = str(exc)
        except PageError as exc:
            if exc.status != 400:
                raise
            error = exc.message
        if error is not None:  # keep only the parameters that are valid in the form
            limit = limit if limit and limit.isdigit() and int(limit) > 0 else None
            sort = sort if sort in SORTS else "relevance"
        sorts = [(name, "/search?" + urlencode({"q": q, "sort": name})) for name in SORTS]
        return page(request, "search.html", status_code=400 if error else 200, q=q, hits=hits,
                    limit=parse_limit(limit), sort=sort, sorts=sorts, error=error)

    @app.get("/papers/{paper_id:path}", include_in_schema=False)
    def paper_page(request: Request, paper_id: str) -> Response:
        found = find_paper(paper_id, "")
        if isinstance(found, Response):
            return found
        found_sigs = the_store.signals_for(found.id)
        chart = charts.signal_chart([(s.day, s.source, s.value) for s in found_sigs],
                                    weights=settings.trending_weights)
        sigs = sorted(found_sigs, key=lambda s: s.day, reverse=True)
        engine.sync(embed=False)
        similar = engine.similar([found.id], limit=SIMILAR_LIMIT)
        return page(request, "paper.html", paper=found, signals=sigs, chart=chart,
                    labels=trending.SOURCE_LABELS, similar=similar)

    @app.get("/about/trending", include_in_schema=False)
    def about_trending(request: Request) -> Response:
        return page(request, "about_trending.html", doc=(trending.__doc__ or "").strip(),
                    windows=trending.WINDOWS, min_evidence=trending.MIN_EVIDENCE,
                    weights=shown_weights, labels=trending.SOURCE_LABELS)

    # ---- feeds ----------------------------------------------------------------------

    @app.get("/feeds/trending.atom", include_in_schema=False)
    def feed_atom(window: str = "week", date: str | None = None,
                  cat: str | None = None) -> Response:
        view = trending_for(window, date, cat)
        body = feeds.atom_feed(view, settings.base_url, pinned=parse_date(date))
        return Response(body, media_type=feeds.ATOM_TYPE, headers=FEED_HEADERS)

    @app.get("/feeds/trending.json", include_in_schema=False)
    def feed_json(window: str = "week", date: str | None = None,
                  cat: str | None = None) -> Response:
        view = trending_for(window, date, cat)
        body = json.dumps(feeds.json_feed(view, settings.base_url, pinned=parse_date(date)),
                          ensure_ascii=False, indent=1)
        return Response(body.encode("utf-8"), media_type=feeds.JSON_FEED_TYPE,
                        headers=FEED_HEADERS)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """Each part checked for real (see :mod:`paperwire.web.health`); 503 if one is down."""
        status, body = health.report(the_store, settings, background,
                                     getattr(app.state, "outbox_url", None))
        return JSONResponse(body, status, headers={"Cache-Control": "no-store"})

    # ---- JSON API -------------------------------------------------------------------

    @app.get("/api/search")
    def api_search(q: str = "", limit: str | None = None, sort: str = "relevance",
                   mode: str = "hybrid") -> dict[str, Any]:
        hits = run_search(q, limit, sort, mode, highlight=False)
        return {"query": q, "sort": sort, "mode": mode, "results": [
            {"id": h.paper.id, "title": h.paper.title, "authors": list(h.paper.authors),
             "categories": ordered_categories(h.paper),
             "published": h.paper.published.isoformat() if h.paper.published else None,
             "score": h.score, "url": settings.base_url + paper_path(h.paper.id)}
            for h in hits]}

    @app.get("/api/similar")
    def api_similar(id: list[str] | None = Query(default=None), text: str = "",
                    limit: str | None = None) -> dict[str, Any]:
        """Papers like the given ids (a paper, or a reading list) and/or a pasted text.
        An id of no stored paper is a 404: an empty list would read as "nothing similar"."""
        count = parse_limit(limit)
        known, missing = services.stored_ids(the_store, id or [])
        if missing:
            raise PageError(404, f"No paper with id {missing[0]!r} is stored here.",
                            "Paper not found")
        engine.sync(embed=False)
        hits = engine.similar(known, text=text or None, limit=count)
        return {"ids": id or [], "text": text, "results": [
            {"id": h.paper.id, "title": h.paper.title, "score": h.score,
             "url": settings.base_url + paper_path(h.paper.id)} for h in hits]}

    @app.get("/api/trending")
    def api_trending(window: str = "week", date: str | None = None,
                     cat: str | None = None) -> dict[str, Any]:
        """Trending papers with the reason and the parts of each score (as the CLI's --json)."""
        return services.trending_json(trending_for(window, date, cat), settings.base_url)

    @app.get("/api/papers/{paper_id:path}", response_model=None)
    def api_paper(paper_id: str) -> dict[str, Any] | Response:
        found = find_paper(paper_id, "/api")
        if isinstance(found, Response):
            return found
        signals = [{"day": s.day.isoformat(), "source": s.source, "value": s.value}
                   for s in the_store.signals_for(found.id)]
        return {**_paper_json(found, settings.base_url), "signals": signals}

    from paperwire.web.digest_routes import install  # late: it imports parse_date from here

    install(app, settings, the_store, page)
    app.openapi()  # the schema, made (and kept) before HEAD joins GET in every route
    for route in app.routes:  # HEAD wherever GET: the same headers, no body
        if isinstance(route, APIRoute) and route.methods and "GET" in route.methods:
            route.methods.add("HEAD")
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=6)
    app.add_middleware(HeadersOnlyForHead)
    app.add_middleware(SecurityHeaders)
    return app

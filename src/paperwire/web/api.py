"""The JSON API (``/api/…``) and ``/healthz``. Version 1, stable: fields are only added.
Every body is typed in :mod:`.schemas` (so ``/openapi.json`` and ``/docs`` tell the truth)
and every error is ``{"detail": …}`` with a status each route declares."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from paperwire import trending
from paperwire.app import list_extras
from paperwire.errors import PageError
from paperwire.models import Paper, shorten
from paperwire.search import MODES, Hit, SearchOptions
from paperwire.search.query import SORTS
from paperwire.web import health, paging, schemas
from paperwire.web.caching import shared
from paperwire.web.common import (
    RELATED,
    App,
    find_paper,
    ordered_categories,
    paper_json,
    paper_path,
    parse_limit,
    parse_sort,
    reference,
    trending_for,
)
from paperwire.web.hub_routes import hub_fields

router = APIRouter()
TRENDING_PAGE = 30
_TAG = re.compile(r"</?b>")
CURSOR = "The `next_cursor` of the previous page (same other parameters)"


@router.get("/healthz", response_model=schemas.Health,
            responses={503: {"model": schemas.Health,
                             "description": "A part is down (named in `detail`)"}})
def healthz(app: App) -> JSONResponse:
    """Each part checked for real (see :mod:`paperwire.web.health`); 503 if one is down."""
    status, body = health.report(app.store, app.settings, app.background, app.outbox_url)
    return JSONResponse(body, status, headers={"Cache-Control": "no-store"})


def _search_result(app: App, h: Hit) -> dict[str, Any]:
    p = h.paper
    snippet_html = str(h.snippet_html) if h.snippet_html else None
    snippet = (html.unescape(_TAG.sub("", snippet_html)) if snippet_html
               else shorten(p.abstract, 300))
    return {"id": p.id, "title": p.title, "authors": list(p.authors),
            "categories": ordered_categories(p),
            "published": p.published.isoformat() if p.published else None,
            "score": h.score, "url": app.url(paper_path(p.id)), "abstract": p.abstract,
            "snippet": snippet, "snippet_html": snippet_html,
            "title_html": str(h.title_html) if h.title_html else None, "match": h.match}


def _with_extras(app: App, hits: list[Hit]) -> list[dict[str, Any]]:
    extras = app.extras(h.paper for h in hits)
    return [{**_search_result(app, h), **list_extras(extras.get(h.paper.id))} for h in hits]


@router.get("/api/search", response_model=schemas.SearchPage,
            responses=schemas.errors(400, 404, 503))
def api_search(
    app: App,
    q: str = Query(default="", description="A query in the search language (see /search)"),
    limit: str | None = schemas.whole_number("Results per page: default 20, at most 100"),
    sort: str = schemas.one_of("relevance", SORTS, "The order of the results"),
    mode: str = schemas.one_of("hybrid", MODES, "Words (lexical), meaning (dense) or both"),
    cursor: str | None = Query(default=None, description=CURSOR),
) -> dict[str, Any]:
    """Papers matching a query in the search language, best first: a page of at most
    ``limit`` (default 20, at most 100) with ``total`` (how many papers match: those above
    the relevance floor) and ``next_cursor``. The last page of the matches (or an answer
    with none) also lists up to 10 ``related`` papers, the closest below the floor, never
    counted. Each result carries its abstract and a snippet with the matches highlighted.
    A query that is a paper's id, link or DOI answers that paper alone with
    ``exact_match: true`` (a 404 when it is not stored, a 400 for a malformed id)."""
    if mode not in MODES:
        raise PageError(400, f"mode must be one of {', '.join(MODES)}")
    checked_sort, count = parse_sort(sort), parse_limit(limit)
    scope = ("search", q, sort, mode, str(count))
    offset = paging.decode(app.key, scope, cursor)
    named = reference(app, q)
    if named is not None:
        ref, paper = named
        if paper is None:
            raise PageError(404, f"{ref.not_stored} See {ref.source_url}", "Paper not found")
        return {"query": q, "sort": sort, "mode": mode, "exact_match": True, "total": 1,
                "spelling": {},
                "next_cursor": None, "results": _with_extras(app, [Hit(paper, 1.0)]),
                "related": []}
    hits: list[Hit] = []
    total = 0
    if q.strip():
        options = SearchOptions(limit=min(count, paging.MAX_OFFSET - offset),
                                sort=checked_sort, offset=offset)
        hits, total = app.search_page(q, mode, options, depth=paging.MAX_OFFSET,
                                      related=RELATED)
    spelling = app.spelling(q, mode) if q.strip() else {}
    matches = [h for h in hits if h.match]
    # a short page is the last one listed (papers past the candidates are counted only)
    reachable = total if len(matches) == count else offset + len(matches)
    return {"query": q, "sort": sort, "mode": mode, "exact_match": False, "total": total,
            "spelling": spelling,
            "next_cursor": paging.next_cursor(app.key, scope, offset, len(matches), reachable),
            "results": _with_extras(app, matches),
            "related": _with_extras(app, [h for h in hits if not h.match])}


@router.get("/api/similar", response_model=schemas.SimilarPage,
            responses=schemas.errors(400, 404, 503))
def api_similar(
    app: App,
    id: list[str] | None = Query(default=None, description="Stored papers' ids"),
    text: str = Query(default="", description="A text (an abstract) to find papers like"),
    limit: str | None = schemas.whole_number("How many papers: default 20, at most 100"),
) -> dict[str, Any]:
    """Papers like the given ids (a paper, or a reading list) and/or a pasted text.
    An id of no stored paper is a 404: an empty list would read as "nothing similar"."""
    count = parse_limit(limit)
    known, missing = app.stored_ids(id or [])
    if missing:
        raise PageError(404, f"No paper with id {missing[0]!r} is stored here.",
                        "Paper not found")
    hits = app.similar(known, text=text or None, limit=count)
    extras = app.extras(h.paper for h in hits)
    return {"ids": id or [], "text": text, "results": [
        {"id": h.paper.id, "title": h.paper.title, "score": h.score,
         "url": app.url(paper_path(h.paper.id)), **list_extras(extras.get(h.paper.id))}
        for h in hits]}


@router.get("/api/trending", response_model=schemas.TrendingPage,
            responses=schemas.errors(400, 503))
def api_trending(
    request: Request,
    app: App,
    window: str = schemas.one_of("week", trending.WINDOWS, "The window ranked"),
    date: str | None = schemas.day("The last day of the window (default: today)"),
    cat: str | None = schemas.category("Only papers listed in this arXiv category"),
    order: str | None = schemas.one_of(None, trending.ORDERS,
                                       "trending (decayed, the default) or top (the period's "
                                       "total)"),
    limit: str | None = schemas.whole_number("Entries per page: default 30, at most 100"),
    cursor: str | None = Query(default=None, description=CURSOR),
) -> Response:
    """Trending papers with the reason and the parts of each score (as the CLI's --json):
    a page of ``limit`` (default 30, at most 100) with ``total`` and ``next_cursor``.
    Shared and validated: an ``ETag``, and a 304 for a current ``If-None-Match``."""
    def render() -> Response:
        page = trending_page(app, window, date, cat, order, limit, cursor)
        return JSONResponse(schemas.TrendingPage.model_validate(page).model_dump(mode="json"))

    return shared(request, app, render)


def trending_page(app: App, window: str, date: str | None, cat: str | None,
                  order: str | None, limit: str | None, cursor: str | None) -> dict[str, Any]:
    """The body of ``/api/trending`` for its parameters (checked: a 400 otherwise)."""
    count = parse_limit(limit) if limit else TRENDING_PAGE
    scope = ("trending", window, date or "", cat or "", order or "", str(count))
    offset = paging.decode(app.key, scope, cursor)
    body = app.trending_json(trending_for(app, window, date, cat, order=order,
                                          limit=paging.MAX_OFFSET))
    entries = body["entries"]
    page = entries[offset:offset + count]
    return {**body, "entries": page, "total": len(entries),
            "next_cursor": paging.next_cursor(app.key, scope, offset, len(page), len(entries))}


@router.get("/api/papers/{paper_id:path}", response_model=schemas.PaperOut,
            responses=schemas.errors(301, 404, 503))
def api_paper(request: Request, app: App, paper_id: str) -> Response:
    """One stored paper and its dated signals. A versioned or prefixed arXiv id (``v2``,
    ``arXiv:``) is a 301 to the canonical id. Shared and validated: an ``ETag``, and a 304
    for a current ``If-None-Match``."""
    def render() -> Response:
        found = find_paper(app, paper_id, "/api")
        if isinstance(found, Response):
            return found
        return JSONResponse(schemas.PaperOut.model_validate(paper_record(app, found))
                            .model_dump(mode="json"))

    return shared(request, app, render, per_paper=True)


def paper_record(app: App, found: Paper) -> dict[str, Any]:
    """The body of ``/api/papers/{id}`` for a stored paper: its signals and metadata read
    once each (two queries)."""
    found_sigs = app.signals(found.id)
    signals = [{"day": s.day.isoformat(), "source": s.source, "value": s.value}
               for s in found_sigs]
    extras = app.paper_extras(found, found_sigs)
    hub = hub_fields(app.hub_paper(found, found_sigs, extras))  # what PaperInfo reads
    return {**hub, **paper_json(found, app.settings.base_url), "signals": signals,
            "meta": extras.as_json()}

"""The JSON API (``/api/…``) and ``/healthz``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from paperwire.app import list_extras
from paperwire.errors import PageError
from paperwire.models import Paper
from paperwire.web import health
from paperwire.web.common import (
    App,
    find_paper,
    ordered_categories,
    paper_json,
    paper_path,
    parse_limit,
    reference,
    run_search,
    trending_for,
)
from paperwire.web.hub_routes import hub_fields

router = APIRouter()


@router.get("/healthz")
def healthz(app: App) -> JSONResponse:
    """Each part checked for real (see :mod:`paperwire.web.health`); 503 if one is down."""
    status, body = health.report(app.store, app.settings, app.background, app.outbox_url)
    return JSONResponse(body, status, headers={"Cache-Control": "no-store"})


@router.get("/api/search")
def api_search(app: App, q: str = "", limit: str | None = None, sort: str = "relevance",
               mode: str = "hybrid") -> dict[str, Any]:
    """Ranked results; a query that is a paper's id, link or DOI answers that paper alone
    with ``exact_match: true`` (a 404 when it is not stored, a 400 for a malformed id)."""
    named = reference(app, q)
    if named is not None:
        ref, paper = named
        if paper is None:
            raise PageError(404, f"{ref.not_stored} See {ref.source_url}", "Paper not found")
        return {"query": q, "sort": sort, "mode": mode, "exact_match": True,
                "results": [{**_result(app, paper), "score": 1.0}]}
    hits = run_search(app, q, limit, sort, mode, highlight=False)
    extras = app.extras(h.paper for h in hits)
    return {"query": q, "sort": sort, "mode": mode, "exact_match": False,
            "results": [{**_result(app, h.paper), "score": h.score,
                         **list_extras(extras.get(h.paper.id))} for h in hits]}


def _result(app: App, p: Paper) -> dict[str, Any]:
    return {"id": p.id, "title": p.title, "authors": list(p.authors),
            "categories": ordered_categories(p),
            "published": p.published.isoformat() if p.published else None,
            "url": app.url(paper_path(p.id))}


@router.get("/api/similar")
def api_similar(app: App, id: list[str] | None = Query(default=None), text: str = "",
                limit: str | None = None) -> dict[str, Any]:
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


@router.get("/api/trending")
def api_trending(app: App, window: str = "week", date: str | None = None,
                 cat: str | None = None) -> dict[str, Any]:
    """Trending papers with the reason and the parts of each score (as the CLI's --json)."""
    return app.trending_json(trending_for(app, window, date, cat))


@router.get("/api/papers/{paper_id:path}", response_model=None)
def api_paper(app: App, paper_id: str) -> dict[str, Any] | Response:
    found = find_paper(app, paper_id, "/api")
    if isinstance(found, Response):
        return found
    found_sigs = app.signals(found.id)
    signals = [{"day": s.day.isoformat(), "source": s.source, "value": s.value}
               for s in found_sigs]
    hub = hub_fields(app.hub_papers([found])[0])  # what huggingface_hub's PaperInfo reads
    meta = app.paper_extras(found, found_sigs).as_json()
    return {**hub, **paper_json(found, app.settings.base_url), "signals": signals,
            "meta": meta}

"""The feeds: trending as Atom and JSON Feed, a search's results and a category's new
papers as Atom (built in :mod:`paperwire.web.feeds`)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from paperwire.errors import PageError
from paperwire.web import feeds
from paperwire.web.caching import shared
from paperwire.web.common import (
    App,
    category_feed_path,
    parse_category,
    parse_date,
    search_feed_path,
    searched_papers,
    trending_for,
)

router = APIRouter(include_in_schema=False)
CATEGORY_FEED_LIMIT = 50
# a search's and a category's feeds (trending's are shared and validated: see .caching)
FEED_HEADERS = {"Cache-Control": "public, max-age=900"}


@router.get("/feeds/trending.atom")
def feed_atom(request: Request, app: App, window: str = "week", date: str | None = None,
              cat: str | None = None) -> Response:
    def render() -> Response:
        view = trending_for(app, window, date, cat)
        body = feeds.atom_feed(view, app.settings.base_url, pinned=parse_date(date),
                               extras=app.extras(p for _, p in view.entries))
        return Response(body, media_type=feeds.ATOM_TYPE)

    return shared(request, app, render)


@router.get("/feeds/trending.json")
def feed_json(request: Request, app: App, window: str = "week", date: str | None = None,
              cat: str | None = None) -> Response:
    def render() -> Response:
        view = trending_for(app, window, date, cat)
        feed = feeds.json_feed(view, app.settings.base_url, pinned=parse_date(date),
                               extras=app.extras(p for _, p in view.entries))
        body = json.dumps(feed, ensure_ascii=False, indent=1)
        return Response(body.encode("utf-8"), media_type=feeds.JSON_FEED_TYPE)

    return shared(request, app, render)


@router.get("/feeds/search.atom")
def feed_search(app: App, q: str = "", limit: str | None = None,
                mode: str = "hybrid") -> Response:
    """A search as a feed: the papers the search page lists for the query, newest first
    (``sort=date``); a query the search cannot take is a 400, as on the page."""
    if not q.strip():
        raise PageError(400, "A search feed needs a query: /feeds/search.atom?q=…")
    papers = searched_papers(app, q, limit, mode)
    base = app.settings.base_url
    page_query = {"q": q, "sort": "date", **({"limit": limit} if limit else {})}
    body = feeds.papers_atom(
        papers, base, self_url=base + search_feed_path(q, limit),
        page_url=f"{base}/search?{urlencode(page_query)}",
        title=f"Paperwire · search “{q.strip()}”, newest first",
        subtitle=f"The newest papers matching {q.strip()!r} on Paperwire.", now=app.now(),
        extras=app.extras(papers))
    return Response(body, media_type=feeds.ATOM_TYPE, headers=FEED_HEADERS)


@router.get("/feeds/category/{cat}.atom")
def feed_category(app: App, cat: str) -> Response:
    """A category's newest papers (listed in it as primary or cross-list), newest first."""
    category = parse_category(cat)
    assert category is not None  # the path always holds something
    papers = app.latest(CATEGORY_FEED_LIMIT, category=category)
    base = app.settings.base_url
    body = feeds.papers_atom(
        papers, base, self_url=base + category_feed_path(category),
        page_url=f"{base}/search?{urlencode({'q': f'cat:{category}', 'sort': 'date'})}",
        title=f"Paperwire · new in {category}",
        subtitle=f"The newest papers listed in {category}, primary or cross-list.",
        now=app.now(), extras=app.extras(papers))
    return Response(body, media_type=feeds.ATOM_TYPE, headers=FEED_HEADERS)

"""The HTML pages: trending (home), search, a paper, and how trending is computed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from paperwire import trending
from paperwire.errors import PageError, QueryError
from paperwire.library import bibtex
from paperwire.models import Paper
from paperwire.paper_ids import PaperRef
from paperwire.search import Hit
from paperwire.search.lexical import marked_authors
from paperwire.search.query import FIRST_DAY, SORTS
from paperwire.web import charts, feeds
from paperwire.web.caching import shared
from paperwire.web.common import (
    RELATED,
    SIMILAR_LIMIT,
    TRENDING_LIMIT,
    App,
    category_feed_path,
    corrected_query,
    find_paper,
    page,
    paper_path,
    parse_limit,
    parse_page,
    ranked_by,
    reactions_for,
    reference,
    run_search,
    search_feed_path,
    shown_weights,
    trending_for,
)

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, app: App, window: str = "week", date: str | None = None,
         cat: str | None = None, order: str | None = None, p: str | None = None) -> Response:
    """Trending (or the top of the period) of a window as of a day, page ``p`` (from 1):
    shared and validated for readers not signed in (see :mod:`.caching`)."""
    return shared(request, app, lambda: home_page(request, app, window, date, cat, order, p),
                  per_reader=True)


def home_page(request: Request, app: App, window: str, date: str | None, cat: str | None,
              order: str | None, p: str | None) -> Response:
    """The home page as rendered for this request (its reader's action bars)."""
    view = trending_for(app, window, date, cat, order, p)
    latest = [] if view.entries else app.latest(20, category=view.category)

    def here(**change: str | None) -> str:
        params = {"window": view.window, "cat": view.category, "date": date or None,
                  "order": None if view.order == "trending" else view.order}
        params.update(change)
        return "/?" + urlencode({k: v for k, v in params.items() if v})

    tabs = [(w, here(window=w)) for w in trending.WINDOWS]
    orders = [(o, here(order=None if o == "trending" else o)) for o in trending.ORDERS]
    followed = list(app.settings.arxiv_categories)
    if view.category and view.category not in followed:
        followed.append(view.category)
    cats = [(None, here(cat=None))] + [(c, here(cat=c)) for c in followed]
    sparks: dict[str, Markup] = {}
    if view.as_of is not None:
        start, end = trending.window_bounds(view.window, view.as_of)
        sparks = {e.paper_id: charts.sparkline(e.series, start, end) for e, _ in view.entries}
    acts = reactions_for(request, app, [p.id for _, p in view.entries] + [p.id for p in latest])
    feed_params = {"window": view.window, "cat": view.category}
    feed_query = urlencode({k: v for k, v in feed_params.items() if v})
    extras = app.extras([p for _, p in view.entries] + latest)
    return page(request, "home.html", view=view, latest=latest, tabs=tabs, cats=cats,
                orders=orders, browse=browse_links(app, view, here),
                extras=extras,
                ranked_by=ranked_by(app.settings) or "signals",
                sparks=sparks, all_url=here(cat=None), acts=acts,
                api_url="/api/trending" + here(order=None)[1:],
                atom_url="/feeds/trending.atom?" + feed_query,
                json_url="/feeds/trending.json?" + feed_query,
                feed_title=feeds.feed_title(view),
                category_feed_url=category_feed_path(view.category) if view.category else None,
                category_feed_title=f"New in {view.category} (Atom)")


def browse_links(app: App, view: trending.TrendingView,
                 here: Callable[..., str]) -> dict[str, str | None]:
    """The previous and next windows (the next one, up to the newest day with data), and
    the previous and next pages of this one."""
    links: dict[str, str | None] = {"prev": None, "next": None, "earlier": None, "later": None}
    if view.as_of is not None:
        before, after = trending.adjacent_days(view.window, view.as_of)
        newest = app.data_day()
        if before >= FIRST_DAY:
            links["prev"] = here(date=before.isoformat())
        if newest is not None and view.as_of < newest:
            links["next"] = here(date=min(after, newest).isoformat())
    number = view.offset // TRENDING_LIMIT + 1
    if number > 1:
        links["earlier"] = here(p=str(number - 1) if number > 2 else None)
    if view.more:
        links["later"] = here(p=str(number + 1))
    return links


@router.get("/search")
def search_page(request: Request, app: App, q: str = "", limit: str | None = None,
                sort: str = "relevance", mode: str = "hybrid") -> Response:
    """Results; a query or parameter the search cannot take is a 400 that shows the
    message under the search box, the query kept in it to be corrected. A query that is a
    paper's id, link or DOI goes to the paper (303); one naming no stored paper is a 404
    that says so and links to the paper's source, a malformed id a 400."""
    hits: list[Hit] = []
    total = 0
    error: str | None = None
    missing: PaperRef | None = None
    spelling: dict[str, str] = {}
    try:
        named = reference(app, q)  # a malformed id: a PageError(400)
        if named is not None and named[1] is not None:
            return RedirectResponse(paper_path(named[1].id), status_code=303)
        if named is not None:
            missing = named[0]
        else:
            hits, total = run_search(app, q, limit, sort, mode, highlight=True,
                                     related=RELATED)
            spelling = app.spelling(q, mode) if q.strip() else {}
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
    acts = reactions_for(request, app, [h.paper.id for h in hits])
    status = 400 if error else 404 if missing else 200
    alone = app.name_words(q, mode) if hits else None
    marks = {h.paper.id: marked_authors(q, h.paper.authors, alone) for h in hits}
    return page(request, "search.html", status_code=status, q=q, total=total, marks=marks,
                hits=[h for h in hits if h.match], related=[h for h in hits if not h.match],
                extras=app.extras(h.paper for h in hits),
                limit=parse_limit(limit), sort=sort, sorts=sorts, error=error, acts=acts,
                missing=missing, spelling=spelling, corrected=corrected_query(q, spelling),
                feed_url=search_feed_path(q, limit) if q.strip() and status == 200 else None,
                feed_title=f"Search “{q.strip()}”, newest first (Atom)")


SIMILAR_PAGE, SIMILAR_PAGES = 20, 10  # neighbours a page, pages at most


@router.get("/papers/{paper_id:path}/similar")
def similar_page(request: Request, app: App, paper_id: str, page_no: str = Query(
        "1", alias="page")) -> Response:
    """More papers like this one than its page shows, ``SIMILAR_PAGE`` a page."""
    found = find_paper(app, paper_id, "", suffix="/similar")
    if isinstance(found, Response):
        return found
    number = parse_page(page_no, SIMILAR_PAGES)
    hits = app.similar([found.id], limit=number * SIMILAR_PAGE + 1)
    shown = hits[(number - 1) * SIMILAR_PAGE: number * SIMILAR_PAGE]
    more = len(hits) > number * SIMILAR_PAGE and number < SIMILAR_PAGES
    base = paper_path(found.id) + "/similar"
    acts = reactions_for(request, app, [h.paper.id for h in shown])
    extras = app.extras(h.paper for h in shown)
    return page(request, "similar.html", paper=found, hits=shown, acts=acts, extras=extras,
                first=(number - 1) * SIMILAR_PAGE + 1,
                prev_url=(f"{base}?page={number - 1}" if number > 2 else base)
                if number > 1 else None,
                next_url=f"{base}?page={number + 1}" if more else None)


@router.get("/papers/{paper_id:path}")
def paper_page(request: Request, app: App, paper_id: str) -> Response:
    """A paper: its record, signals, chart and similar papers; shared and validated for
    readers not signed in (see :mod:`.caching`), as the home page."""
    return shared(request, app, lambda: paper_view(request, app, paper_id),
                  per_reader=True, indexes=True, per_paper=True)


def paper_view(request: Request, app: App, paper_id: str) -> Response:
    """The paper's page as rendered for this request (its reader's action bars)."""
    found = find_paper(app, paper_id, "")
    if isinstance(found, Response):
        return found
    found_sigs = app.signals(found.id)
    chart = charts.signal_chart([(s.day, s.source, s.value) for s in found_sigs],
                                weights=app.settings.trending_weights)
    sigs = sorted(found_sigs, key=lambda s: s.day, reverse=True)
    similar = app.similar([found.id], limit=SIMILAR_LIMIT)
    acts = reactions_for(request, app, [found.id] + [h.paper.id for h in similar])
    extras = app.paper_extras(found, found_sigs)
    return page(request, "paper.html", paper=found, signals=sigs, chart=chart, extras=extras,
                labels=trending.SOURCE_LABELS, similar=similar, acts=acts,
                canonical=app.settings.base_url + paper_path(found.id),
                cite=cite_entry(found), cite_url=cite_path(found.id))


@router.get("/about/trending")
def about_trending(request: Request, app: App) -> Response:
    context: dict[str, Any] = {
        "doc": (trending.__doc__ or "").strip(), "windows": trending.WINDOWS,
        "min_evidence": trending.MIN_EVIDENCE, "weights": shown_weights(app.settings),
        "labels": trending.SOURCE_LABELS}
    return page(request, "about_trending.html", **context)


# --- citing a paper -----------------------------------------------------------------------


def cite_entry(paper: Paper) -> str:
    """The paper's BibTeX entry (the library export's form and key)."""
    return bibtex.entry(paper, bibtex.citation_keys([paper])[paper.id])


def cite_path(paper_id: str) -> str:
    return "/cite" + paper_path(paper_id).removeprefix("/papers") + ".bib"


@router.get("/cite/{paper_id:path}.bib")
def paper_bibtex(app: App, paper_id: str) -> Response:
    """The paper's BibTeX entry as a file to download."""
    found = find_paper(app, paper_id, "")
    if isinstance(found, Response):
        return found
    key = bibtex.citation_keys([found])[found.id]
    return Response(cite_entry(found), media_type="application/x-bibtex; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{key}.bib"'})

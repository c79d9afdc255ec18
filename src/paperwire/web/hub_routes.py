"""Hugging Face–compatible routes: what the official ``huggingface_hub`` client reads
(``hf papers ls|search|info|read``, ``HfApi(endpoint=…)``), answered from this site's store
(:mod:`paperwire.daily`). ``/api/papers/{id}`` is Paperwire's own (:mod:`.api`), with these
fields added to it. The lists have Hugging Face's shape: each item holds a ``paper``."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from paperwire import daily
from paperwire.errors import PageError
from paperwire.models import Paper
from paperwire.web import schemas
from paperwire.web.common import App, find_paper, paper_path, parse_limit

router = APIRouter()


ERRORS = schemas.errors(400, 503)  # 503: the database (or, searching, the index) is down
SEARCH_ERRORS = ERRORS


class HubAuthor(BaseModel):
    name: str


class HubUser(BaseModel):
    """Who submitted a paper to Hugging Face's daily list (``PaperInfo.submitted_by``)."""

    name: str | None = Field(description="Hub username, when stored.")
    user: str | None = Field(description="The same (the client reads this key).")
    fullname: str


class HubOrganization(BaseModel):
    fullname: str


class HubMeta(BaseModel):
    """What Hugging Face knows about a paper besides its text, as stored here (null or
    empty when unknown). ``githubRepo`` is the code link this site shows (Hugging Face's,
    else one named in the comment or the abstract); ``githubStars`` its newest count."""

    githubRepo: str | None = None
    githubStars: int | None = None
    projectPage: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = []


class HubPaperFields(HubMeta):
    """The paper of a list item, as Hugging Face nests it."""

    id: str
    title: str
    summary: str
    authors: list[HubAuthor]
    publishedAt: str | None = Field(description="First version (ISO 8601, UTC).")
    upvotes: int = Field(description="Upvotes on Hugging Face plus upvotes here.")
    submittedOnDailyAt: str | None = Field(description="First listed on a daily list.")


class HubEntryMeta(HubMeta):
    """The metadata ``PaperInfo`` reads from the top level of an entry."""

    numComments: int = Field(0, description="Comments on Hugging Face.")
    organization: HubOrganization | None = None
    thumbnail: str | None = None
    submittedBy: HubUser | None = None


class HubListItem(HubEntryMeta):
    """One entry of ``/api/daily_papers`` or ``/api/papers/search``."""

    paper: HubPaperFields
    title: str
    summary: str
    publishedAt: str | None = Field(description="When it was listed (Hugging Face's sense).")
    submittedOnDailyAt: str | None
    categories: list[str]
    url: str


def stamp(day: date | None) -> str | None:
    """A day as the Hub writes times: ``2025-01-23T00:00:00.000Z``."""
    return f"{day.isoformat()}T00:00:00.000Z" if day else None


def hub_fields(item: daily.HubPaper) -> dict[str, Any]:
    """What ``PaperInfo`` reads, added to ``/api/papers/{id}``: ``summary``, ``upvotes``,
    ``submittedOnDailyAt``, the metadata (:class:`HubEntryMeta`), and a ``paper`` object with
    the authors as ``[{name}]`` and ``publishedAt`` (the client reads those from it; the
    top-level ``authors`` stay names)."""
    p = item.paper
    return {"summary": p.abstract, "upvotes": item.upvotes,
            "submittedOnDailyAt": stamp(item.submitted), **entry_meta(item).model_dump(),
            "paper": paper_fields(item).model_dump()}


def paper_meta(item: daily.HubPaper) -> HubMeta:
    x = item.extras
    m = x.meta if x is not None else None
    return HubMeta(githubRepo=x.code_url if x else None, githubStars=x.stars if x else None,
                   projectPage=x.project_url if x else None,
                   ai_summary=m.ai_summary if m else None,
                   ai_keywords=list(m.ai_keywords) if m else [])


def entry_meta(item: daily.HubPaper) -> HubEntryMeta:
    m = item.extras.meta if item.extras is not None else None
    if m is None:
        return HubEntryMeta(**paper_meta(item).model_dump())
    shown = m.submitted_by or m.submitter
    user = HubUser(name=m.submitter, user=m.submitter, fullname=shown) if shown else None
    return HubEntryMeta(
        **paper_meta(item).model_dump(), numComments=m.comments or 0, thumbnail=m.thumbnail_url,
        organization=HubOrganization(fullname=m.organization) if m.organization else None,
        submittedBy=user)


def paper_fields(item: daily.HubPaper) -> HubPaperFields:
    p = item.paper
    return HubPaperFields(
        id=p.id, title=p.title, summary=p.abstract, authors=[HubAuthor(name=a) for a in p.authors],
        publishedAt=stamp(p.published), upvotes=item.upvotes,
        submittedOnDailyAt=stamp(item.submitted), **paper_meta(item).model_dump())


def list_item(app: App, item: daily.HubPaper) -> HubListItem:
    p = item.paper
    return HubListItem(paper=paper_fields(item), title=p.title, summary=p.abstract,
                       publishedAt=stamp(item.submitted), submittedOnDailyAt=stamp(item.submitted),
                       categories=list(p.categories), url=app.url(paper_path(p.id)),
                       **entry_meta(item).model_dump())


def _whole(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise PageError(400, f"Invalid {name} {value!r}: use a whole number from {low} to {high}.")
    return int(value)


@router.get("/api/daily_papers", responses=ERRORS)
def daily_papers(
    app: App,
    date: str | None = schemas.day("A day"),
    week: str | None = schemas.matching(schemas.WEEK_PATTERN, "An ISO week, YYYY-Www"),
    month: str | None = schemas.matching(schemas.MONTH_PATTERN, "A month, YYYY-MM"),
    sort: str | None = schemas.one_of(None, daily.SORTS, "publishedAt (default) or trending"),
    p: str | None = schemas.whole_number("The page, from 0", 0, daily.MAX_PAGE),
    limit: str | None = schemas.whole_number("Papers per page: default 50", 1, daily.MAX_LIMIT),
    submitter: str | None = Query(default=None, description="Matches nothing (not stored)"),
) -> list[HubListItem]:
    """Hugging Face's daily papers of a day (``date=YYYY-MM-DD``), an ISO week
    (``week=YYYY-Www``) or a month (``month=YYYY-MM``), default the newest day with data;
    the first given counts (date, then week, then month); ``sort`` publishedAt (default) or
    trending (the period's total); page ``p`` (from 0) of ``limit`` (default 50, at most
    100)."""
    # each period given is checked, the first counts: a schema cannot say "only one of these"
    try:
        periods = [daily.parse_period(*given) for given in
                   ((date, None, None), (None, week, None), (None, None, month)) if any(given)]
    except ValueError as exc:
        raise PageError(400, f"{exc}.") from None
    period = periods[0] if periods else None
    if sort not in (None, "", *daily.SORTS):
        raise PageError(400, f"Invalid sort {sort!r}: use one of {', '.join(daily.SORTS)}.")
    page = _whole(p, "p", 0, 0, daily.MAX_PAGE)
    count = _whole(limit, "limit", daily.DEFAULT_LIMIT, 1, daily.MAX_LIMIT)
    found = app.daily_papers(period, sort or "publishedAt", page, count, submitter or None)
    return [list_item(app, item) for item in found]


@router.get("/api/papers/search", responses=SEARCH_ERRORS)
def search_papers(
    app: App,
    q: str = Query(default="", description="A query in the search language (see /search)"),
    limit: str | None = schemas.whole_number("How many: default 20, at most 100 (capped)"),
) -> list[HubListItem]:
    """Papers matching ``q`` (the search page's query language), best first; a ``q`` that
    is a stored paper's id or link gives that paper first."""
    count = parse_limit(limit)  # checked even without a query
    if not q.strip():
        return []
    found = app.search_papers(q, count)
    return [list_item(app, item) for item in app.hub_papers(found)]


@router.get("/papers/{paper_id:path}.md", include_in_schema=False)
def paper_markdown(app: App, paper_id: str) -> Response:
    """A paper as Markdown (``hf papers read``)."""
    found = find_paper(app, paper_id, "")
    if isinstance(found, Response):  # a versioned id: to the canonical one's Markdown
        found.headers["location"] += ".md"
        return found
    return markdown_response(app, found)


def markdown_response(app: App, paper: Paper) -> Response:
    item = app.hub_papers([paper])[0]
    return PlainTextResponse(daily.markdown(item, app.url(paper_path(paper.id))),
                             media_type="text/markdown; charset=utf-8")

"""The JSON API's shapes (pydantic v2): every body an ``/api/…`` route (and ``/healthz``)
answers, and the one error body, ``{"detail": "…"}``, of every 4xx/5xx. ``/openapi.json`` is
built from them, so ``/docs`` and schemathesis (``tests/test_api_schema.py``) read the truth.

Stability: ``/api`` is version 1 and stable: fields are only ever added, never renamed or
removed, so every model here allows extra fields and clients must ignore fields they do not
know.

Declaring a new JSON route (the pattern every route here follows)::

    @router.get("/api/things", response_model=schemas.ThingPage,
                responses=schemas.errors(400, 404))
    def api_things(...) -> dict[str, Any]: ...

``response_model`` types (and checks) the 200 body; :func:`errors` declares each error
status the route can answer (all with :class:`ErrorBody`). A status not declared is a
schemathesis failure. An HTML page or form route takes ``include_in_schema=False``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

DAY_PATTERN = r"^(19|20|21)[0-9]{2}-[0-9]{2}-[0-9]{2}$"
WEEK_PATTERN = r"^(19|20|21)[0-9]{2}-W(0[1-9]|[1-4][0-9]|5[0-2])$"  # W53: some years only
MONTH_PATTERN = r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$"
CATEGORY_PATTERN = r"^[a-z-]+(\.[A-Za-z-]+)?$"  # as paperwire.models.is_arxiv_category
EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
_DESCRIPTIONS = {
    301: "Moved: a versioned or prefixed arXiv id, sent on to the canonical id",
    400: "Bad request: a parameter, query, cursor or body that cannot be used",
    401: "Sign in required (a session cookie)",
    403: "Forbidden: a missing or wrong CSRF token, or a request from another site",
    404: "Not found",
    405: "Method not allowed (the `Allow` header lists the methods the address takes)",
    413: "Request too large",
    415: "Unsupported media type: send JSON",
    429: "Too many requests: try again later",
    503: "Unavailable for now (the database or the search index): try again shortly",
}


class Model(BaseModel):
    """A response body: more fields may be added in later versions (never removed)."""

    model_config = ConfigDict(extra="allow")


class ErrorBody(Model):
    """Every error of the API: a status and this body, with a message for a person."""

    detail: str = Field(description="What went wrong, in a sentence")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that can answer ``statuses`` with :class:`ErrorBody`."""
    return {status: {"description": _DESCRIPTIONS[status]} if status < 400
            else {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
            for status in statuses}


# ---- papers --------------------------------------------------------------------------


class SignalOut(Model):
    day: date
    source: str = Field(description="hf_upvotes, upvote, save or digest_click")
    value: float


class PaperOut(Model):
    """A stored paper (``GET /api/papers/{id}``)."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str] = Field(description="The primary category first")
    primary_category: str | None
    version: int | None
    published: date | None
    updated: date | None
    comment: str | None
    journal_ref: str | None
    doi: str | None
    abs_url: str | None
    pdf_url: str | None
    url: str = Field(description="The paper's page on this server")
    signals: list[SignalOut] = Field(description="Its dated signals, oldest first")


# ---- search, similar, trending -----------------------------------------------------------


class ListExtras(Model):
    """What every list item carries besides the paper (``paperwire.app.list_extras``)."""

    tldr: str | None = Field(default=None, description="A one-line TL;DR")
    tldr_from: Literal["hf", "abstract"] | None = Field(
        default=None, description="hf: Hugging Face's AI summary; abstract: extracted")
    code_url: str | None = Field(default=None, description="Its code repository")


class Paged(Model):
    total: int = Field(description="How many results the request has in all (the ranked "
                                   "results reachable by paging)")
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same other parameters) for the next page; "
                    "null on the last page")


class SearchResult(ListExtras):
    id: str
    title: str
    authors: list[str]
    categories: list[str]
    published: date | None
    score: float
    url: str
    abstract: str
    snippet: str = Field(description="An excerpt of the abstract around the matches, as "
                                     "plain text")
    snippet_html: str | None = Field(
        description="The same excerpt as HTML: text escaped, matches in <b>; null when the "
                    "words did not match (a paper found by meaning only)")
    title_html: str | None = Field(description="The title as HTML, matches in <b>")
    match: bool = Field(description="Above the relevance floor: true for every entry of "
                                    "`results`, false for every entry of `related`")


class SearchPage(Paged):
    query: str
    exact_match: bool = Field(description="The query named a paper (an id, link or DOI): "
                                          "that paper alone")
    spelling: dict[str, str] = Field(
        description="Words of the query that no paper contains, each with the closest word "
                    "of the collection that was searched for as well (`tranformer` → "
                    "`transformer`); empty when every word is known")
    sort: Literal["relevance", "date", "trending"]
    mode: Literal["lexical", "dense", "hybrid"]
    total: int = Field(description="How many papers match the query (above the relevance "
                                   "floor); related papers are not counted. Paging `results` "
                                   "lists the matches among the best 1000 candidates of each "
                                   "retriever; papers past them that hold every word of the "
                                   "query are counted, not listed")
    results: list[SearchResult] = Field(description="A page of the matches")
    related: list[SearchResult] = Field(
        description="On the last page of the matches (or when there are none): up to 10 "
                    "papers that came closest without matching, best first; empty on the "
                    "other pages")


class SimilarResult(ListExtras):
    id: str
    title: str
    score: float
    url: str


class SimilarPage(Model):
    ids: list[str]
    text: str
    results: list[SimilarResult]


class TrendingPart(Model):
    source: str
    count: float
    weight: float
    points: float


class TrendingEntryOut(ListExtras):
    rank: int
    id: str
    title: str
    url: str
    published: date | None
    primary_category: str | None
    category_rank: int | None
    score: float
    total: float
    reason: str
    parts: list[TrendingPart]
    series: list[tuple[date, float]] = Field(description="[day, weighted signal] pairs")


class TrendingPage(Paged):
    window: Literal["day", "week", "month"]
    requested: date
    as_of: date | None
    category: str | None
    note: str | None
    entries: list[TrendingEntryOut]


# ---- health, digests, reactions ----------------------------------------------------------


class HealthCheck(Model):
    status: Literal["ok", "off", "down"]
    detail: str


class Health(Model):
    status: Literal["ok", "error"]
    database: str
    papers: int | None
    checks: dict[str, HealthCheck]
    detail: str | None = Field(default=None, description="The parts that are down")


class SubscribeAccepted(Model):
    status: Literal["pending"]
    detail: str


class ReactionState(Model):
    id: str
    voted: bool
    saved: bool
    upvotes: int
    changed: bool = Field(description="Whether this request changed anything")


# ---- parameters: the schema states what the handler accepts (the handler checks, with its
# own messages), so a request the schema allows is never refused. Empty is the default.

_EMPTY = {"type": "string", "maxLength": 0}


def whole_number(description: str, minimum: int = 1, maximum: int | None = None) -> Any:
    """A query parameter that is a whole number from ``minimum`` (read as a string by the
    handler); ``maximum``: where a larger one is refused (not capped)."""
    bounds: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        bounds["maximum"] = maximum
    return Query(default=None, description=description,
                 json_schema_extra={"anyOf": [bounds, _EMPTY]})


def one_of(default: str | None, choices: Iterable[str], description: str) -> Any:
    """One of ``choices``; with a None default, empty is the default too."""
    values = list(choices) + ([""] if default is None else [])
    return Query(default=default, description=description, json_schema_extra={
        "anyOf": [{"type": "string", "enum": values}]} if default is None
        else {"enum": values})


def matching(pattern: str, description: str) -> Any:
    """A string of the form ``pattern`` (or empty: the default)."""
    return Query(default=None, description=description, json_schema_extra={
        "anyOf": [{"type": "string", "pattern": pattern}, _EMPTY]})


def day(description: str) -> Any:
    """A day ``YYYY-MM-DD`` from 1900-01-01 to 2199-12-31."""
    return Query(default=None, description=description, json_schema_extra={
        "anyOf": [{"type": "string", "format": "date", "pattern": DAY_PATTERN}, _EMPTY]})


def category(description: str) -> Any:
    return Query(default=None, description=description, json_schema_extra={
        "anyOf": [{"type": "string", "pattern": CATEGORY_PATTERN, "maxLength": 40},
                  _EMPTY]})


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body itself."""
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": schema}}}}

"""arXiv API (Atom) source: new papers in some categories, day by submission day.

For each UTC submission day from the first to the last day of the range, the source pages
through ``export.arxiv.org/api/query`` with

    search_query=(cat:cs.CL OR cat:cs.LG) AND submittedDate:[202506120000 TO 202506122359]
    sortBy=submittedDate  sortOrder=ascending  start=…  max_results=page_size

and yields one :class:`Batch` per page. Cursor shapes (JSON):

    {"day": "2025-06-12", "start": 200, "until": "2025-06-14"}   next page to read
    {"done_until": "2025-06-14"}                                  the whole range was read

After the last page of a day that is not the last one the cursor points at the next day,
start 0. Where a run starts is decided by :func:`plan_range`.

arXiv asks for at most one request every 3 seconds: that is the Fetcher's ``min_interval``;
this module never sleeps itself.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from xml.etree.ElementTree import Element

import httpx

from paperwire.clock import utc_today
from paperwire.errors import RecordError, SourceError
from paperwire.models import Paper, parse_arxiv_id
from paperwire.sources.atom import (
    ATOM,
    NS,
    child_text,
    first_doi,
    iso_date,
    parse_xml,
)
from paperwire.sources.base import Batch, Cursor, check_range, cursor_day, last_day
from paperwire.sources.http import Fetcher

log = logging.getLogger(__name__)

SOURCE = "arxiv-api"
EMPTY_PAGE_RETRIES = 3  # arXiv sometimes answers an empty page although more results remain
MAX_PAGE_SIZE = 2000  # the API's own limit per request


@dataclass(frozen=True)
class Feed:
    """One parsed API response page."""

    total: int  # opensearch:totalResults
    entry_count: int  # <entry> elements on the page, good or bad
    papers: list[Paper] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------- parsing


def _date_of(entry: Element, tag: str) -> date | None:
    text = child_text(entry, f"atom:{tag}")
    if text is None:
        return None
    try:
        return iso_date(text)
    except ValueError as exc:
        raise RecordError(f"bad <{tag}> date {text!r}") from exc


def entry_to_paper(entry: Element) -> Paper:
    """The :class:`Paper` of one Atom ``<entry>``. Raises :class:`RecordError` when the entry
    has no usable arXiv id or no title."""
    raw_id = child_text(entry, "atom:id")
    if raw_id is None:
        raise RecordError("entry has no <id>")
    parsed = parse_arxiv_id(raw_id)
    if parsed is None:
        raise RecordError(f"<id> {raw_id!r} is not an arXiv abs URL or id")
    paper_id, version = parsed
    title = child_text(entry, "atom:title")
    if title is None:
        raise RecordError(f"{paper_id}: entry has no title")

    primary_el = entry.find("arxiv:primary_category", NS)
    primary = (primary_el.get("term") or "").strip() if primary_el is not None else ""
    categories: list[str] = [primary] if primary else []
    for cat in entry.findall("atom:category", NS):
        term = (cat.get("term") or "").strip()
        if term and term not in categories:
            categories.append(term)

    authors = tuple(
        name for a in entry.findall("atom:author", NS) if (name := child_text(a, "atom:name"))
    )
    try:
        published = _date_of(entry, "published")
        updated = _date_of(entry, "updated")
    except RecordError as exc:
        raise RecordError(f"{paper_id}: {exc}") from exc

    return Paper(
        id=paper_id,
        title=title,
        abstract=child_text(entry, "atom:summary") or "",
        authors=authors,
        categories=tuple(categories),
        primary_category=primary or (categories[0] if categories else None),
        version=version,
        published=published,
        updated=updated or published,
        comment=child_text(entry, "arxiv:comment"),
        journal_ref=child_text(entry, "arxiv:journal_ref"),
        doi=first_doi(child_text(entry, "arxiv:doi")),
        source="arxiv",
    )


def _api_error(root: Element) -> str | None:
    """arXiv's reason when the feed is its error report (one entry titled "Error" whose id
    points into arxiv.org/api/errors), else None."""
    for entry in root.findall("atom:entry", NS):
        entry_id = child_text(entry, "atom:id") or ""
        title = child_text(entry, "atom:title") or ""
        if "/api/errors" in entry_id or (title == "Error" and not parse_arxiv_id(entry_id)):
            return child_text(entry, "atom:summary") or title
    return None


def api_error_reason(content: bytes) -> str | None:
    """arXiv's reason from an error response body, or None when the body is not one.
    Never raises."""
    try:
        root = parse_xml(content, source=SOURCE, where="error body", expected="an Atom feed")
    except SourceError:
        return None
    return _api_error(root) if root.tag == f"{{{ATOM}}}feed" else None


def parse_feed(content: bytes, where: str) -> Feed:
    """Parse one API response page. Raises :class:`SourceError` naming ``where`` when the
    body is not an Atom feed, is truncated, lacks ``opensearch:totalResults`` or is arXiv's
    error report. Malformed entries go to ``Feed.skipped``."""
    root = parse_xml(content, source=SOURCE, where=where, expected="an Atom feed")
    if root.tag != f"{{{ATOM}}}feed":
        raise SourceError(SOURCE, f"{where}: not an Atom feed (root element <{root.tag}>)")
    reason = _api_error(root)
    if reason is not None:
        raise SourceError(SOURCE, f"{where}: arXiv rejected the query: {reason}")
    total_text = child_text(root, "opensearch:totalResults")
    if total_text is None or not total_text.isdigit():
        raise SourceError(
            SOURCE,
            f"{where}: not an arXiv API feed: no opensearch:totalResults "
            f"(got {total_text!r}); truncated or wrong endpoint?",
        )
    papers: list[Paper] = []
    skipped: list[tuple[str, str]] = []
    entries = root.findall("atom:entry", NS)
    for n, entry in enumerate(entries, 1):
        try:
            papers.append(entry_to_paper(entry))
        except RecordError as exc:
            skipped.append((f"{where}, entry {n}", str(exc)))
    return Feed(total=int(total_text), entry_count=len(entries), papers=papers, skipped=skipped)


# --------------------------------------------------------------------------- planning


def plan_range(
    cursor: Cursor | None,
    since: date | None,
    until: date | None,
    today: date,
    lookback_days: int,
) -> tuple[date, int, date]:
    """``(first_day, start_offset, last_day)`` of the next run.

    - ``last_day`` is ``until``, else ``today``.
    - Explicit ``since`` wins; but a cursor stopped mid-way through a run with the same
      ``until`` whose day lies in ``[since, until]`` is resumed at its day and offset.
    - Without ``since``: an in-progress cursor is resumed; after a finished run
      (``done_until``) the run starts ``lookback_days`` before it (re-reading a few days
      catches papers released late from moderation); with no cursor, ``lookback_days``
      before today.
    """
    last = last_day(since, until, today)
    cursor = cursor or {}
    day = cursor_day(cursor.get("day"))
    start = cursor.get("start", 0)
    if not isinstance(start, int) or start < 0:
        day, start = None, 0
    if since is not None:
        same_run = cursor_day(cursor.get("until")) == last
        if day is not None and same_run and since <= day <= last:
            return day, start, last
        return since, 0, last
    if day is not None and day <= last:
        return day, start, last
    done = cursor_day(cursor.get("done_until"))
    base = min(done, last) if done is not None else min(today, last)
    return base - timedelta(days=lookback_days), 0, last


# --------------------------------------------------------------------------- the source


class ArxivApiSource:
    """New papers in ``categories`` from the arXiv API, day by submission day."""

    def __init__(
        self,
        categories: Sequence[str],
        fetcher: Fetcher,
        base_url: str,
        since: date | None = None,
        until: date | None = None,
        today: date | None = None,
        lookback_days: int = 3,
        page_size: int = 100,
    ) -> None:
        cats = sorted({c.strip() for c in categories if c.strip()})
        if not cats:
            raise ValueError("ArxivApiSource needs at least one category")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}")
        check_range(since, until, lookback_days)
        self.categories = cats
        self.fetcher = fetcher
        self.base_url = base_url
        self.since = since
        self.until = until
        self.today = today
        self.lookback_days = lookback_days
        self.page_size = page_size

    @property
    def key(self) -> str:
        return "arxiv-api:" + ",".join(self.categories)

    def search_query(self, day: date) -> str:
        cats = " OR ".join(f"cat:{c}" for c in self.categories)
        d = day.strftime("%Y%m%d")
        return f"({cats}) AND submittedDate:[{d}0000 TO {d}2359]"

    def params(self, day: date, start: int) -> dict[str, str | int]:
        return {
            "search_query": self.search_query(day),
            "sortBy": "submittedDate",
            "sortOrder": "ascending",
            "start": start,
            "max_results": self.page_size,
        }

    def batches(self, cursor: Cursor | None) -> Iterator[Batch]:
        first, start, last = plan_range(
            cursor, self.since, self.until, self.today or utc_today(), self.lookback_days
        )
        day = first
        while day <= last:
            yield from self._day_batches(day, start, last)
            day += timedelta(days=1)
            start = 0

    def _day_batches(self, day: date, start: int, last: date) -> Iterator[Batch]:
        cats = ",".join(self.categories)
        while True:
            feed = self._fetch_page(day, start)
            next_start = start + feed.entry_count
            day_done = feed.entry_count == 0 or next_start >= feed.total
            cursor: Cursor
            if not day_done:
                cursor = {"day": day.isoformat(), "start": next_start, "until": last.isoformat()}
            elif day < last:
                next_day = (day + timedelta(days=1)).isoformat()
                cursor = {"day": next_day, "start": 0, "until": last.isoformat()}
            else:
                cursor = {"done_until": last.isoformat()}
            pages = max(1, math.ceil(feed.total / self.page_size))
            page = start // self.page_size + 1
            yield Batch(
                papers=feed.papers,
                cursor=cursor,
                skipped=feed.skipped,
                note=f"{cats} {day.isoformat()} (page {page}/{pages})",
            )
            if day_done:
                return
            start = next_start

    def _fetch_page(self, day: date, start: int) -> Feed:
        params = self.params(day, start)
        where = f"{day.isoformat()} start={start}"
        for attempt in range(EMPTY_PAGE_RETRIES + 1):
            response = self._get(params, where)
            feed = parse_feed(response.content, f"{where} ({response.url})")
            if feed.entry_count > 0 or start >= feed.total:
                return feed
            if attempt < EMPTY_PAGE_RETRIES:
                log.warning(
                    "%s: %s: empty page although totalResults=%d; asking again",
                    SOURCE, where, feed.total,
                )
        raise SourceError(
            SOURCE,
            f"{where}: arXiv returned an empty page {EMPTY_PAGE_RETRIES + 1} times although "
            f"totalResults={feed.total} says results remain; try again later",
        )

    def _get(self, params: dict[str, str | int], where: str) -> httpx.Response:
        """``fetcher.get``; a rejected query (HTTP 400) names arXiv's reason from its body."""
        try:
            return self.fetcher.get(self.base_url, params, explain=api_error_reason)
        except SourceError as exc:
            if exc.status != 400:
                raise
            raise SourceError(
                SOURCE, f"{where}: arXiv rejected the query ({exc.reason})", exc.status
            ) from exc

"""arXiv OAI-PMH source (``metadataPrefix=arXivRaw``): every record of a set changed in a
date window, with full version history.

The first request is ``verb=ListRecords&metadataPrefix=arXivRaw&from=…&until=…&set=…``;
each further page is asked for with ``verb=ListRecords&resumptionToken=…`` only. One
:class:`Batch` per response page. Cursor shapes (JSON):

    {"from": "2025-06-09", "until": "2025-06-12", "token": "726959|1001"}  mid-window
    {"done_until": "2025-06-12"}                                          window finished

so a harvest killed mid-way resumes with the checkpointed token (and, should arXiv no longer
accept it, restarts that window from its beginning). Where a run starts is decided by
:func:`plan_window`.

OAI errors: ``noRecordsMatch`` is an empty window; ``badResumptionToken`` restarts the
window (at most :data:`MAX_RESTARTS` times); any other code is a :class:`SourceError`.
HTTP 503 with ``Retry-After`` (arXiv's flow control) is handled by the Fetcher.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from xml.etree.ElementTree import Element

from paperwire.clock import utc_today
from paperwire.errors import RecordError, SourceError
from paperwire.models import Paper, parse_arxiv_id
from paperwire.sources.atom import (
    NS,
    OAI,
    child_text,
    collapse,
    first_doi,
    parse_xml,
    rfc2822_date,
)
from paperwire.sources.base import Batch, Cursor, check_range, cursor_day, last_day
from paperwire.sources.http import Fetcher

log = logging.getLogger(__name__)

SOURCE = "arxiv-oai"
METADATA_PREFIX = "arXivRaw"
MAX_RESTARTS = 2  # badResumptionToken restarts of one window before giving up
OAI_ID_PREFIX = "oai:arXiv.org:"


@dataclass(frozen=True)
class OaiPage:
    """One parsed OAI-PMH response."""

    papers: list[Paper] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    token: str | None = None  # resumptionToken; None on the last page
    complete_size: int | None = None  # resumptionToken/@completeListSize
    offset: int | None = None  # resumptionToken/@cursor
    error: tuple[str, str] | None = None  # (code, message) of an <error>


# --------------------------------------------------------------------------- parsing


def split_authors(text: str) -> list[str]:
    """``"A. One, B. Two, and C. Three"`` → ``["A. One", "B. Two", "C. Three"]``.

    Splits on commas and the word "and" outside parentheses; parenthesised affiliations
    (``"A. One (MIT), B. Two ((1) MIT, (2) CMU)"``) are dropped from the names.
    """
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for token in re.split(r"(\(|\)|,|\band\b)", collapse(text)):
        if token == "(":
            depth += 1
        elif token == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and token in (",", "and"):
            parts.append("".join(current))
            current = []
        elif depth == 0:
            current.append(token)
    parts.append("".join(current))
    return [name for p in parts if (name := collapse(p))]


def record_to_paper(record: Element) -> Paper:
    """The :class:`Paper` of one arXivRaw ``<record>``. Raises :class:`RecordError` when
    it has no usable id, no title or unreadable version dates."""
    meta = record.find("oai:metadata/raw:arXivRaw", NS)
    if meta is None:
        raise RecordError("record has no arXivRaw metadata")
    raw_id = child_text(meta, "raw:id") or ""
    parsed = parse_arxiv_id(raw_id)
    if parsed is None:
        raise RecordError(f"<id> {raw_id!r} is not an arXiv id")
    paper_id = parsed[0]
    title = child_text(meta, "raw:title")
    if title is None:
        raise RecordError(f"{paper_id}: record has no title")

    versions: list[tuple[int, date]] = []
    for v in meta.findall("raw:version", NS):
        label = (v.get("version") or "").strip().lower()
        when = child_text(v, "raw:date")
        if not re.fullmatch(r"v\d+", label) or when is None:
            raise RecordError(f"{paper_id}: malformed <version> ({label!r}, {when!r})")
        try:
            versions.append((int(label[1:]), rfc2822_date(when)))
        except ValueError as exc:
            raise RecordError(f"{paper_id}: bad version date {when!r}") from exc
    versions.sort()
    version = versions[-1][0] if versions else parsed[1]
    published = versions[0][1] if versions else None
    updated = versions[-1][1] if versions else None

    categories: list[str] = []
    for cat in (child_text(meta, "raw:categories") or "").split():
        if cat not in categories:
            categories.append(cat)

    return Paper(
        id=paper_id,
        title=title,
        abstract=child_text(meta, "raw:abstract") or "",
        authors=tuple(split_authors(child_text(meta, "raw:authors") or "")),
        categories=tuple(categories),
        primary_category=categories[0] if categories else None,
        version=version,
        published=published,
        updated=updated,
        comment=child_text(meta, "raw:comments"),
        journal_ref=child_text(meta, "raw:journal-ref"),
        doi=first_doi(child_text(meta, "raw:doi")),
        source="arxiv",
    )


def parse_oai_response(
    content: bytes, where: str, categories: Sequence[str] | None = None
) -> OaiPage:
    """Parse a ListRecords or GetRecord response. Raises :class:`SourceError` naming
    ``where`` when it is not an OAI-PMH response or is truncated; an OAI ``<error>`` is
    returned in ``OaiPage.error`` for the caller to decide. Deleted and malformed records
    go to ``OaiPage.skipped``; with ``categories``, records in none of them are left out."""
    root = parse_xml(content, source=SOURCE, where=where, expected="an OAI-PMH response")
    if root.tag != f"{{{OAI}}}OAI-PMH":
        raise SourceError(SOURCE, f"{where}: not an OAI-PMH response (root <{root.tag}>)")
    error = root.find("oai:error", NS)
    if error is not None:
        return OaiPage(error=(error.get("code") or "unknown", collapse(error.text)))
    body = root.find("oai:ListRecords", NS)
    if body is None:
        body = root.find("oai:GetRecord", NS)
    if body is None:
        raise SourceError(
            SOURCE, f"{where}: OAI-PMH response has neither ListRecords nor GetRecord"
        )
    wanted = set(categories or ())
    papers: list[Paper] = []
    skipped: list[tuple[str, str]] = []
    for n, record in enumerate(body.findall("oai:record", NS), 1):
        header = record.find("oai:header", NS)
        ident = (child_text(header, "oai:identifier") if header is not None else None) or (
            f"record {n}"
        )
        label = f"{where}, {ident.removeprefix(OAI_ID_PREFIX)}"
        if header is not None and header.get("status") == "deleted":
            skipped.append((label, "deleted"))
            continue
        try:
            paper = record_to_paper(record)
        except RecordError as exc:
            skipped.append((label, str(exc)))
            continue
        if wanted and not wanted.intersection(paper.categories):
            continue
        papers.append(paper)

    token_el = body.find("oai:resumptionToken", NS)
    token = size = offset = None
    if token_el is not None:
        token = collapse(token_el.text) or None
        size = _int_or_none(token_el.get("completeListSize"))
        offset = _int_or_none(token_el.get("cursor"))
    return OaiPage(
        papers=papers, skipped=skipped, token=token, complete_size=size, offset=offset
    )


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


# --------------------------------------------------------------------------- planning


def plan_window(
    cursor: Cursor | None,
    since: date | None,
    until: date | None,
    today: date,
    lookback_days: int,
) -> tuple[date, date, str | None]:
    """``(from, until, resumption_token)`` of the next run.

    - ``until`` defaults to ``today``.
    - A cursor checkpointed mid-window (``token``) is resumed when it fits: with explicit
      ``since`` only if its window is exactly ``[since, until]``; without ``since`` when no
      other ``until`` was asked for. Its token belongs to its window, so the window is kept.
    - Otherwise the window starts at ``since``; else ``lookback_days`` before the last
      finished window (``done_until``); else ``lookback_days`` before today.
    """
    last = last_day(since, until, today)
    cursor = cursor or {}
    c_from, c_until = cursor_day(cursor.get("from")), cursor_day(cursor.get("until"))
    token = cursor.get("token")
    if isinstance(token, str) and token and c_from is not None and c_until is not None:
        if since is not None:
            if (c_from, c_until) == (since, last):
                return c_from, c_until, token
        elif until is None or c_until == until:
            return c_from, c_until, token
    if since is not None:
        return since, last, None
    done = cursor_day(cursor.get("done_until"))
    base = min(done, last) if done is not None else min(today, last)
    return base - timedelta(days=lookback_days), last, None


# --------------------------------------------------------------------------- the source


class ArxivOaiSource:
    """Records of one arXiv OAI set (``cs``, ``math``, ``physics:hep-th``…) changed in a
    date window, optionally kept only when in one of ``categories``."""

    def __init__(
        self,
        set_spec: str,
        fetcher: Fetcher,
        base_url: str,
        since: date | None = None,
        until: date | None = None,
        today: date | None = None,
        lookback_days: int = 3,
        categories: Sequence[str] | None = None,
    ) -> None:
        if not set_spec.strip():
            raise ValueError("ArxivOaiSource needs a set (like cs or physics:hep-th)")
        check_range(since, until, lookback_days)
        self.set_spec = set_spec.strip()
        self.fetcher = fetcher
        self.base_url = base_url
        self.since = since
        self.until = until
        self.today = today
        self.lookback_days = lookback_days
        self.categories = sorted({c.strip() for c in categories or () if c.strip()})

    @property
    def key(self) -> str:
        key = f"arxiv-oai:{self.set_spec}"
        return f"{key}:{','.join(self.categories)}" if self.categories else key

    def first_params(self, start: date, last: date) -> dict[str, str]:
        return {
            "verb": "ListRecords",
            "metadataPrefix": METADATA_PREFIX,
            "from": start.isoformat(),
            "until": last.isoformat(),
            "set": self.set_spec,
        }

    def batches(self, cursor: Cursor | None) -> Iterator[Batch]:
        start, last, token = plan_window(
            cursor, self.since, self.until, self.today or utc_today(), self.lookback_days
        )
        window = f"{self.set_spec} {start.isoformat()}..{last.isoformat()}"
        restarts = 0
        page = 0
        while True:
            params = (
                {"verb": "ListRecords", "resumptionToken": token}
                if token
                else self.first_params(start, last)
            )
            where = f"{window}" + (f" token {token}" if token else "")
            response = self.fetcher.get(self.base_url, params)
            result = parse_oai_response(
                response.content, f"{where} ({response.url})", self.categories
            )
            if result.error is not None:
                code, message = result.error
                if code == "noRecordsMatch":
                    yield Batch(
                        papers=[],
                        cursor={"done_until": last.isoformat()},
                        note=f"{window}: no records",
                    )
                    return
                if code == "badResumptionToken" and token:
                    if restarts >= MAX_RESTARTS:
                        raise SourceError(
                            SOURCE,
                            f"{where}: OAI-PMH error badResumptionToken ({message}) after "
                            f"restarting the window {MAX_RESTARTS} times",
                        )
                    restarts += 1
                    log.warning(
                        "%s: %s: badResumptionToken (%s); restarting the window (%d/%d)",
                        SOURCE, where, message, restarts, MAX_RESTARTS,
                    )
                    token = None
                    page = 0
                    continue
                raise SourceError(SOURCE, f"{where}: OAI-PMH error {code}: {message}")
            page += 1
            if result.token is not None and result.token == token:
                raise SourceError(
                    SOURCE, f"{where}: arXiv returned the same resumptionToken again"
                )
            next_cursor: Cursor = (
                {"from": start.isoformat(), "until": last.isoformat(), "token": result.token}
                if result.token
                else {"done_until": last.isoformat()}
            )
            progress = ""
            if result.complete_size is not None:
                progress = f", of {result.complete_size} records"
            yield Batch(
                papers=result.papers,
                cursor=next_cursor,
                skipped=result.skipped,
                note=f"{window} (page {page}{progress})",
            )
            if not result.token:
                return
            token = result.token

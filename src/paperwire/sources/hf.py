"""Hugging Face daily papers: the papers of each day's list and their upvotes, day by day.

One request per day, ``GET {base_url}?date=YYYY-MM-DD``, answers a JSON array of entries
(``{paper: {id, authors, publishedAt, title, summary, upvotes, …}, publishedAt, …}``); a day
without a list (weekends, holidays) answers ``[]``. Each entry is turned into a Paper, an
``hf_upvotes`` Signal for that day (and a ``github_stars`` one) and its metadata by the
file importer's own parser (:func:`paperwire.parsing.formats.parse_hf_full`), so a live
ingest and an import of saved days give the same records. One :class:`Batch` per day;
cursor shapes (JSON):

    {"day": "2025-06-13", "until": "2025-06-16"}   days up to 2025-06-13 of this run are done
    {"done_until": "2025-06-16"}                   the whole run was read

Upvotes keep changing after a day's list is out, so every run starts ``lookback_days``
before the last one finished and re-reads those days; a re-read day's signal replaces the
stored value. Where a run starts is decided by :func:`plan_days`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from paperwire.clock import utc_today
from paperwire.errors import RecordError, SourceError, TooDeep
from paperwire.metadata import PaperMeta
from paperwire.models import Paper, Signal
from paperwire.parsing.formats import parse_hf_full
from paperwire.parsing.reading import TOO_DEEP, Item, JsonArrayReader, loads
from paperwire.sources.base import Batch, Cursor, check_range, cursor_day, last_day
from paperwire.sources.http import Fetcher

log = logging.getLogger(__name__)

SOURCE = "hf-daily"


# --------------------------------------------------------------------------- planning


def plan_days(
    cursor: Cursor | None,
    *,
    today: date,
    lookback_days: int = 3,
    day: date | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[date]:
    """The days the next run reads, oldest first (empty when there is nothing to read).

    - ``day``: just that day.
    - The last day is ``until``, else ``today``.
    - Explicit ``since`` wins; but a cursor stopped part-way through a run with the same
      ``until`` whose last done day lies in ``[since, until)`` resumes on the day after it.
    - Without ``since``: a run stopped part-way resumes on the day after its last done day;
      after a finished run (``done_until``) the run starts ``lookback_days`` before it (the
      re-read updates the upvotes of recent days); with no cursor, ``lookback_days`` before
      today (or before ``until``, when that is earlier).

    Raises ValueError for ``day`` together with ``since``/``until``, or ``since`` after the
    last day.
    """
    if lookback_days < 0:
        raise ValueError("lookback_days must not be negative")
    if day is not None:
        if since is not None or until is not None:
            raise ValueError("give either day or since/until, not both")
        return [day]
    last = last_day(since, until, today)
    cursor = cursor or {}
    done_day = cursor_day(cursor.get("day"))
    same_run = done_day is not None and cursor_day(cursor.get("until")) == last
    if since is not None:
        if done_day is not None and same_run and since <= done_day < last:
            first = done_day + timedelta(days=1)
        else:
            first = since
    elif done_day is not None and (until is None or same_run):
        first = done_day + timedelta(days=1)
    else:
        done = cursor_day(cursor.get("done_until"))
        base = min(done, last) if done is not None else min(today, last)
        first = base - timedelta(days=lookback_days)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _position(cursor: Cursor | None) -> date | None:
    """The last day a cursor says is done (``done_until``, else ``day``)."""
    if not cursor:
        return None
    return cursor_day(cursor.get("done_until")) or cursor_day(cursor.get("day"))


# --------------------------------------------------------------------------- parsing


def _snippet(content: bytes) -> str:
    text = " ".join(content[:200].decode("utf-8", errors="replace").split())
    return text[:80] + ("…" if len(text) > 80 else "")


def _ran_out(text: str, exc: json.JSONDecodeError) -> bool:
    """Whether the JSON error is the text ending early: at its end, in an unterminated
    string, or inside a ``true``/``false``/``null``."""
    rest = text[exc.pos :].strip()
    return (
        not rest
        or exc.msg.startswith("Unterminated string")
        or any(word.startswith(rest) for word in ("true", "false", "null"))
    )


def _items(text: str, iso: str) -> list[Item]:
    """The elements of a JSON array one by one (an element nested too deeply is an error
    item, skipped alone), for a response that cannot be decoded whole."""
    reader = JsonArrayReader()
    items = reader.feed(text) + reader.finish()
    bad = [i for i in items if i.error is not None and TOO_DEEP not in i.error]
    if bad:
        raise SourceError(SOURCE, f"{iso}: the response is malformed JSON ({bad[0].error})")
    return items


def parse_day(content: bytes, day: date) -> tuple[list[Paper], list[Signal], list[tuple[str, str]]]:
    """Papers, signals and skipped entries of one day's response body (see
    :func:`parse_day_meta`, which also gives the papers' metadata)."""
    papers, signals, skipped, _ = parse_day_meta(content, day)
    return papers, signals, skipped


DayParsed = tuple[list[Paper], list[Signal], list[tuple[str, str]], list[PaperMeta]]


def parse_day_meta(content: bytes, day: date) -> DayParsed:
    """Papers, signals, skipped entries and the papers' metadata of one day's response body.

    Raises :class:`SourceError` naming the day when the body as a whole is unusable: not
    JSON (an HTML error page), truncated JSON, an ``{"error": …}`` answer, or anything but a
    JSON array. An entry that cannot be read (no ``paper.id``, say) is skipped with its
    reason, and the rest of the day is kept.
    """
    iso = day.isoformat()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        cut = exc.start >= len(content) - 3 and exc.reason == "unexpected end of data"
        reason = "is truncated (ends inside a character)" if cut else "is not UTF-8"
        raise SourceError(SOURCE, f"{iso}: the JSON response {reason}") from None
    try:
        data: Any = loads(text)
    except TooDeep as exc:
        if not text.lstrip().startswith("["):
            raise SourceError(SOURCE, f"{iso}: the JSON response is {exc}") from None
        data = _items(text, iso)  # skip the entries nested too deeply, keep the others
    except json.JSONDecodeError as exc:
        if not text.strip():
            reason = "the response is empty, expected a JSON array"
        elif text.lstrip()[:1] not in ("[", "{"):
            reason = f"the response is not JSON (starts {_snippet(content)!r})"
        elif _ran_out(text, exc):
            reason = f"the JSON response is truncated ({exc.msg} at char {exc.pos})"
        else:
            reason = f"the response is malformed JSON ({exc.msg} at char {exc.pos})"
        raise SourceError(SOURCE, f"{iso}: {reason}") from None
    if isinstance(data, dict):
        if "error" in data:
            raise SourceError(SOURCE, f"{iso}: Hugging Face answered an error: {data['error']!r}")
        keys = ", ".join(sorted(map(str, data))[:5])
        raise SourceError(SOURCE, f"{iso}: expected a JSON array, got an object ({{{keys}}})")
    if not isinstance(data, list):
        raise SourceError(SOURCE, f"{iso}: expected a JSON array, got {type(data).__name__}")
    papers: list[Paper] = []
    signals: list[Signal] = []
    skipped: list[tuple[str, str]] = []
    metas: list[PaperMeta] = []
    items = data if data and isinstance(data[0], Item) else [Item(1, v) for v in data]
    for n, (_, entry, error) in enumerate(items, 1):
        if error is not None:
            skipped.append((f"{SOURCE} {iso} entry {n}", error))
            continue
        try:
            paper, sigs, meta = parse_hf_full(entry, day)
        except RecordError as exc:
            skipped.append((f"{SOURCE} {iso} entry {n}", str(exc)))
            continue
        papers.append(paper)
        signals.extend(sigs)
        if meta is not None:
            metas.append(meta)
    return papers, signals, skipped, metas


# --------------------------------------------------------------------------- the source


class HfDailySource:
    """Hugging Face daily papers, one batch per day."""

    def __init__(
        self,
        fetcher: Fetcher,
        base_url: str,
        since: date | None = None,
        until: date | None = None,
        day: date | None = None,
        today: date | None = None,
        lookback_days: int = 3,
    ) -> None:
        check_range(since, until, lookback_days)
        if day is not None and (since is not None or until is not None):
            raise ValueError("give either day or since/until, not both")
        self.fetcher = fetcher
        self.base_url = base_url
        self.since = since
        self.until = until
        self.day = day
        self.today = today
        self.lookback_days = lookback_days

    @property
    def key(self) -> str:
        return SOURCE

    @property
    def explicit(self) -> bool:
        """Whether the days were asked for (``day``/``since``/``until``) rather than planned
        from the cursor."""
        return self.day is not None or self.since is not None or self.until is not None

    def plan(self, cursor: Cursor | None) -> list[date]:
        return plan_days(
            cursor,
            today=self.today or utc_today(),
            lookback_days=self.lookback_days,
            day=self.day,
            since=self.since,
            until=self.until,
        )

    def batches(self, cursor: Cursor | None) -> Iterator[Batch]:
        days = self.plan(cursor)
        if not days:
            return
        last = days[-1]
        # An explicit run (a backfill of old days, one day re-read) never moves the cursor
        # back before where the scheduled runs stand: its batches leave the cursor as it is
        # until they pass that point. Otherwise the next scheduled run would re-read every
        # day from the backfill on.
        held = _position(cursor) if self.explicit else None
        for d in days:
            papers, signals, skipped, metas = self.fetch_day_meta(d)
            if d < last:
                new_cursor: Cursor = {"day": d.isoformat(), "until": last.isoformat()}
                position = d
            else:
                new_cursor = {"done_until": last.isoformat()}
                position = last
            note = f"Hugging Face {d.isoformat()}: {len(papers)} papers"
            if skipped:
                note += f", {len(skipped)} skipped"
            yield Batch(
                papers=papers,
                signals=signals,
                cursor=None if held is not None and position < held else new_cursor,
                skipped=skipped,
                note=note,
                metas=metas,
            )

    def fetch_day(self, day: date) -> tuple[list[Paper], list[Signal], list[tuple[str, str]]]:
        """One day's papers, signals and skipped entries (see :func:`parse_day`)."""
        papers, signals, skipped, _ = self.fetch_day_meta(day)
        return papers, signals, skipped

    def fetch_day_meta(self, day: date) -> DayParsed:
        """One day's papers, signals, skipped entries and metadata (:func:`parse_day_meta`)."""
        response = self.fetcher.get(self.base_url, {"date": day.isoformat()})
        return parse_day_meta(response.content, day)

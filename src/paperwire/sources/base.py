"""The seam every live source plugs into.

A :class:`Source` turns a cursor (where the last committed run stopped, or None) into a stream
of :class:`Batch` es. Each batch carries the cursor that is true once it is committed; the
ingest runner writes the batch and its cursor in one transaction, so a run killed at any moment
resumes exactly after the last committed batch, with no partial rows and no duplicates.
Cursors are small JSON-able dicts, private to their source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from paperwire.metadata import PaperMeta
from paperwire.models import Paper, Signal

Cursor = dict[str, Any]


def check_range(since: date | None, until: date | None, lookback_days: int) -> None:
    """The checks every source makes of the days it is asked for: ValueError saying which
    argument is wrong."""
    if lookback_days < 0:
        raise ValueError("lookback_days must not be negative")
    if since is not None and until is not None and since > until:
        raise ValueError(f"since {since} is after until {until}")


def last_day(since: date | None, until: date | None, today: date) -> date:
    """The last day a run reads: ``until``, else ``today``; ValueError when ``since`` is
    after it."""
    last = until or today
    if since is not None and since > last:
        raise ValueError(f"since {since} is after until {last}")
    return last


def cursor_day(value: Any) -> date | None:
    """A day stored in a cursor (ISO text), or None when absent or garbled."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class Batch:
    papers: list[Paper]
    signals: list[Signal] = field(default_factory=list)
    cursor: Cursor | None = None  # the position after this batch; None leaves it as it was
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, why) per record
    note: str = ""  # what this batch covers, for progress output ("cs.CL 2025-06-12, page 2")
    # ids of records that may only update papers already stored (e.g. RSS replacements): a
    # replaced paper the store has never seen is old, not new, and is skipped
    updates_only: frozenset[str] = frozenset()
    metas: list[PaperMeta] = field(default_factory=list)  # the papers' metadata (Hugging Face)


class Source(Protocol):
    @property
    def key(self) -> str:
        """Names the cursor and the lock: the same key means the same ingest
        (e.g. ``arxiv-api:cs.CL,cs.LG``)."""
        ...

    def batches(self, cursor: Cursor | None) -> Iterator[Batch]:
        """Batches from ``cursor`` on. Raises SourceError when the source fails; batches
        already yielded stay committed."""
        ...

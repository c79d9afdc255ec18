"""Running a live source into the store: one transaction per batch with its cursor, under a
lease so that two runs of the same ingest never overlap (across processes and hosts)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paperwire.seeds import match_seeds
from paperwire.sources.base import Batch, Source
from paperwire.store import Store, WriteCounts
from paperwire.store.leases import new_holder, running, take_lease

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    source: str
    batches: int = 0
    papers: WriteCounts = field(default_factory=WriteCounts)
    signals: WriteCounts = field(default_factory=WriteCounts)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cursor: dict[str, Any] | None = None

    def summary(self) -> str:
        p, s = self.papers, self.signals
        return (
            f"{self.source}: {p.new:,} papers added, {p.changed:,} updated, "
            f"{p.unchanged:,} unchanged; {s.new:,} signals added, {s.changed:,} updated; "
            f"{len(self.skipped):,} skipped; {self.batches:,} batches"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "batches": self.batches,
            "papers": vars(self.papers), "signals": vars(self.signals),
            "skipped": [list(s) for s in self.skipped], "cursor": self.cursor,
        }


def _drop_unknown_replacements(store: Store, batch: Batch) -> tuple[Batch, list[tuple[str, str]]]:
    if not batch.updates_only:
        return batch, []
    known = set(store.get_papers(batch.updates_only))
    drop = {pid for pid in batch.updates_only if pid not in known}
    if not drop:
        return batch, []
    kept = Batch(
        papers=[p for p in batch.papers if p.id not in drop],
        signals=[s for s in batch.signals if s.paper_id not in drop],
        cursor=batch.cursor, skipped=batch.skipped, note=batch.note,
        metas=[m for m in batch.metas if m.paper_id not in drop],
    )
    why = "a replacement of a paper not in the store (an old paper, not a new one)"
    return kept, [(pid, why) for pid in sorted(drop)]


def run_ingest(
    store: Store,
    source: Source,
    on_batch: Callable[[Batch, IngestReport], None] | None = None,
    holder: str | None = None,
) -> IngestReport:
    """Pull every batch ``source`` has from its stored cursor on, committing each with the
    cursor after it. A failure (SourceError) leaves every earlier batch committed and the
    cursor at the last of them, so the next run resumes there."""
    lease = f"ingest:{source.key}"
    holder = holder or new_holder()
    with running(holder):  # before the lease: no other thread may think this run ended
        take_lease(store, lease, holder)
        return _run(store, source, lease, holder, on_batch)


def _run(store: Store, source: Source, lease: str, holder: str,
         on_batch: Callable[[Batch, IngestReport], None] | None) -> IngestReport:
    report = IngestReport(source.key, cursor=store.get_cursor(source.key))
    started = datetime.utcnow()
    try:
        for raw in source.batches(report.cursor):
            batch, dropped = _drop_unknown_replacements(store, raw)
            cursor = (source.key, batch.cursor) if batch.cursor is not None else None
            pc, sc = store.write_batch(batch.papers, batch.signals, cursor=cursor,
                                       metas=batch.metas)
            report.batches += 1
            report.papers.add(pc)
            report.signals.add(sc)
            report.skipped += batch.skipped + dropped
            if batch.cursor is not None:
                report.cursor = batch.cursor
            if on_batch:
                on_batch(batch, report)
            take_lease(store, lease, holder)  # renew
    finally:
        store.release_lease(lease, holder)
    if report.papers.new or report.papers.changed:
        match_seeds(store, since=started)
    return report

"""Running a live source into the store: one transaction per batch with its cursor, under a
lease so that two runs of the same ingest never overlap (across processes and hosts)."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from paperwire.errors import SourceBusy
from paperwire.sources.base import Batch, Source
from paperwire.store import Store, WriteCounts

log = logging.getLogger(__name__)
LEASE_TTL = timedelta(minutes=15)  # renewed after every batch


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


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def dead_local_holder(holder: str) -> bool:
    """True when ``holder`` names a process on this host that no longer exists (it was
    killed): its lease can be taken at once instead of waiting for it to expire."""
    host, _, rest = holder.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


_RUNNING: set[str] = set()  # the holders of the ingest runs going on in this process


def _ended_here(holder: str) -> bool:
    """True when ``holder`` is a run of this process that has ended without releasing its
    lease (the database was down at its end)."""
    return (holder.startswith(f"{socket.gethostname()}:{os.getpid()}:")
            and holder not in _RUNNING)


def take_lease(store: Store, name: str, holder: str) -> None:
    if store.acquire_lease(name, holder, LEASE_TTL):
        return
    current = store.lease_holder(name)
    if current and (dead_local_holder(current[0]) or _ended_here(current[0])):
        log.warning("%s: taking over the lease of %s, which is no longer running", name, current[0])
        if store.acquire_lease(name, holder, LEASE_TTL, steal_from=current[0]):
            return
    who = f" by {current[0]} until {current[1]:%Y-%m-%d %H:%M} UTC" if current else ""
    raise SourceBusy(name, f"another run holds this ingest{who}; not starting a second one")


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
    _RUNNING.add(holder)  # before the lease: no other thread may think this run ended
    try:
        take_lease(store, lease, holder)
        return _run(store, source, lease, holder, on_batch)
    finally:
        _RUNNING.discard(holder)


def _run(store: Store, source: Source, lease: str, holder: str,
         on_batch: Callable[[Batch, IngestReport], None] | None) -> IngestReport:
    report = IngestReport(source.key, cursor=store.get_cursor(source.key))
    try:
        for raw in source.batches(report.cursor):
            batch, dropped = _drop_unknown_replacements(store, raw)
            cursor = (source.key, batch.cursor) if batch.cursor is not None else None
            pc, sc = store.write_batch(batch.papers, batch.signals, cursor=cursor)
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
    return report

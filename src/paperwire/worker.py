"""The scheduler: runs the configured ingests and the digest run on their cron schedule
(``paperwire worker``, and a background thread of ``paperwire serve``). Several workers may run
against one database: the last run of each job is kept in the store, each ingest holds a lease,
and each digest is claimed in the delivery ledger, so nothing runs or is sent twice."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from paperwire.clock import utcnow
from paperwire.config import Settings
from paperwire.digests.service import DigestContext
from paperwire.errors import PaperwireError, SourceBusy, StoreError
from paperwire.ingest import IngestReport, run_ingest
from paperwire.schedule import due, parse_schedule
from paperwire.sources import Source, arxiv_sources, hf_source
from paperwire.store import Store

if TYPE_CHECKING:
    from paperwire.search import SearchEngine

log = logging.getLogger(__name__)
TICK_SECONDS = 30.0
MAX_JOB_TIME = timedelta(hours=6)  # a job running longer than this means a stuck scheduler


def job_sources(
    name: str, settings: Settings, client: httpx.Client | None = None
) -> list[Source]:
    if name == "arxiv":
        return arxiv_sources(settings, settings.arxiv_categories, via="api", client=client)
    if name == "hf":
        return [hf_source(settings, client=client)]
    raise ValueError(f"unknown job {name!r}")


class Scheduler:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        client: httpx.Client | None = None,
        outbox_url: str | None = None,
        only: Collection[str] | None = None,
        digest_context: Callable[[], DigestContext] | None = None,
    ) -> None:
        self.outbox_url = outbox_url  # the running local outbox, when no SMTP is configured
        self.digest_context = digest_context  # the application's (shared engine and key)
        self.store = store
        self.settings = settings
        self.jobs = {name: expr for name, expr in parse_schedule(settings.ingest_schedule).items()
                     if only is None or name in only}
        self.clock = clock
        self.client = client
        # liveness, read by /healthz: when the loop last went round, what it is running now
        self.last_tick: datetime | None = None
        self.last_error: str | None = None
        self.running: str | None = None
        self._job_started: datetime | None = None
        self._looping = False
        self._tick_seconds = TICK_SECONDS

    def alive(self, now: datetime | None = None) -> bool:
        """True while :meth:`run_forever` is looping: it went round within three tick
        intervals (plus a minute), or it is in a job that started less than MAX_JOB_TIME ago.
        False before the loop started and after it ended."""
        if not self._looping or self.last_tick is None:
            return False
        now = now or self.clock()
        if self.running is not None and self._job_started is not None:
            return now - self._job_started <= MAX_JOB_TIME
        return now - self.last_tick <= timedelta(seconds=3 * self._tick_seconds + 60)

    def _last_runs(self, now: datetime) -> dict[str, datetime]:
        last = {}
        for name in self.jobs:
            cursor = self.store.get_cursor(f"schedule:{name}")
            if cursor is None:  # first start: wait for the schedule's next firing
                self.store.set_cursor(f"schedule:{name}", {"last_run": now.isoformat()})
                last[name] = now
            else:
                last[name] = datetime.fromisoformat(cursor["last_run"])
        return last

    def tick(self) -> dict[str, list[IngestReport] | str]:
        """Run every job that is due now. Returns, per job run, its reports or its error."""
        now = self.clock()
        results: dict[str, list[IngestReport] | str] = {}
        for name in due(self.jobs, self._last_runs(now), now):
            self.running, self._job_started = name, self.clock()
            try:
                results[name] = self.run_job(name)
            finally:
                self.running = self._job_started = None
            self.store.set_cursor(f"schedule:{name}", {"last_run": now.isoformat()})
        return results

    def run_job(self, name: str) -> list[IngestReport] | str:
        """Run one job; any exception it raises is logged and returned as its result (a
        driver error or a bug in one job must not stop the others, or the scheduler)."""
        try:
            return self._run_job(name)
        except Exception as exc:
            log.exception("job %s failed", name)
            self.last_error = f"{name}: {type(exc).__name__}: {exc}"
            return self.last_error

    def _run_job(self, name: str) -> list[IngestReport] | str:
        if name == "digest":
            return self.run_digests()
        reports = []
        try:
            for source in job_sources(name, self.settings, self.client):
                report = run_ingest(self.store, source)
                log.info("%s", report.summary())
                reports.append(report)
        except SourceBusy as exc:
            log.info("skipping %s: %s", name, exc)
            return str(exc)
        except PaperwireError as exc:
            log.error("ingest %s failed: %s", name, exc)
            return str(exc)
        return reports

    def run_digests(self) -> str:
        """Send the digests due now (and retries), purge stale unconfirmed subscriptions,
        never-used accounts and expired sessions."""
        from paperwire.accounts import purge as purge_accounts
        from paperwire.digests import open_mailer
        from paperwire.digests.deliver import run
        from paperwire.digests.subscriptions import purge_unconfirmed

        ctx = (self.digest_context() if self.digest_context is not None
               else DigestContext(self.store, self.settings))
        try:
            purged = purge_unconfirmed(ctx, self.clock())
            purge_accounts(self.store, self.settings, self.clock())
            with open_mailer(self.settings, self.outbox_url) as mailer:
                report = run(ctx, mailer, self.clock)
        except PaperwireError as exc:
            log.error("digest run failed: %s", exc)
            return str(exc)
        summary = f"digests: {report.summary()}" + (f"; {purged} unconfirmed purged"
                                                    if purged else "")
        (log.warning if report.paused else log.info)("%s", summary)
        return summary

    def run_forever(self, stop: threading.Event, tick_seconds: float = TICK_SECONDS) -> None:
        """Tick until ``stop`` is set. Nothing a tick raises ends the loop (the database may
        be down for a while, a job may have a bug): it is logged and the next tick tries
        again. A database outage is one line per failed tick (no traceback), and one more
        when the database answers again. ``last_tick`` records each round, for :meth:`alive`."""
        log.info("scheduler started: %s", "; ".join(f"{k}={v}" for k, v in self.jobs.items()))
        self._tick_seconds = tick_seconds
        self.last_tick = self.clock()  # started: alive from now on
        self._looping = True
        outage = 0  # ticks failed in a row on the database
        try:
            while not stop.is_set():
                try:
                    self.tick()
                    if outage:
                        log.info("scheduler: the database is back after %d failed tick%s",
                                 outage, "" if outage == 1 else "s")
                        outage = 0
                except StoreError as exc:  # the database is down: one line, try again
                    outage += 1
                    log.error("scheduler: %s (next try in %g s)", exc, tick_seconds)
                    self.last_error = str(exc)
                except PaperwireError as exc:
                    log.error("scheduler: %s", exc)
                    self.last_error = str(exc)
                except Exception as exc:
                    log.exception("scheduler: a tick failed")
                    self.last_error = f"{type(exc).__name__}: {exc}"
                try:
                    self.last_tick = self.clock()
                except Exception:  # a broken clock must not end the loop either
                    log.exception("scheduler: the clock failed")
                stop.wait(tick_seconds)
        finally:
            self._looping = False


def index_forever(engine: SearchEngine, stop: threading.Event,
                  every: float) -> None:
    """Be this index folder's writer (when no other process is): take in new papers, embed
    new and changed ones, publish, every ``every`` seconds, so no request ever writes an
    index or waits for the model on the corpus (see :mod:`paperwire.search.writer`)."""
    from paperwire.search.writer import writer_of

    writer_of(engine).run_forever(stop, every)


@dataclass
class Background:
    """The background threads of ``paperwire serve``, for /healthz to look at and for
    ``stop`` to end: the scheduler (None when off) and the embedder, the index writer."""

    stop: threading.Event
    scheduler: Scheduler | None = None
    scheduler_thread: threading.Thread | None = None
    embedder_thread: threading.Thread | None = None
    tick_seconds: float = TICK_SECONDS
    engine: SearchEngine | None = None  # the index writer's engine, which the app shares


def start_in_background(
    store: Store, settings: Settings, schedule: bool = True, embed: bool = True,
    outbox_url: str | None = None,
    only: Collection[str] | None = None,
    tick_seconds: float = TICK_SECONDS, embed_every: float | None = None,
    digest_context: Callable[[], DigestContext] | None = None,
    engine: SearchEngine | None = None,
) -> Background:
    """Start the scheduler (when the schedule is not empty) and the index writer in daemon
    threads; returns them, with the event that stops them. ``engine``: the process's search
    engine, which the writer then writes for (and requests follow)."""
    bg = Background(threading.Event(), tick_seconds=tick_seconds)
    scheduler = Scheduler(store, settings, outbox_url=outbox_url, only=only,
                          digest_context=digest_context)
    if schedule and scheduler.jobs:
        bg.scheduler = scheduler
        bg.scheduler_thread = threading.Thread(
            target=scheduler.run_forever, args=(bg.stop, tick_seconds),
            name="paperwire-scheduler", daemon=True)
    if embed:
        from paperwire.search import SearchEngine
        from paperwire.search.writer import writer_of

        bg.engine = engine if engine is not None else SearchEngine(store, settings)
        writer_of(bg.engine)  # the app's requests ask this writer to catch up
        bg.embedder_thread = threading.Thread(
            target=index_forever,
            args=(bg.engine, bg.stop, embed_every or settings.index_interval_seconds),
            name="paperwire-index-writer", daemon=True)
    for thread in (bg.scheduler_thread, bg.embedder_thread):
        if thread is not None:
            thread.start()
    return bg

"""The ingest runner and the scheduler, with small in-test sources (real implementations of
the Source protocol) on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest

from paperwire.config import Settings
from paperwire.errors import SourceBusy, SourceError
from paperwire.ingest import run_ingest
from paperwire.models import Paper, Signal
from paperwire.schedule import due, next_run, parse_schedule
from paperwire.sources.base import Batch, Cursor
from paperwire.store import Store
from paperwire.store.leases import new_holder, take_lease
from paperwire.worker import Scheduler


def paper(pid: str, **kw: object) -> Paper:
    return Paper(id=pid, title=f"Title {pid}", abstract="…", version=1,  # type: ignore[arg-type]
                 published=date(2026, 6, 1), **kw)


@dataclass
class ListSource:
    """Yields pre-made pages from the cursor's page on; can fail at a given page."""

    pages: list[list[Paper]]
    fail_at: int | None = None
    key: str = "test-source"
    seen_cursors: list[Cursor | None] = field(default_factory=list)

    def batches(self, cursor: Cursor | None) -> Iterator[Batch]:
        self.seen_cursors.append(cursor)
        start = 0 if cursor is None else int(cursor["page"])
        for i in range(start, len(self.pages)):
            if i == self.fail_at:
                raise SourceError(self.key, f"HTTP 503 on page {i}")
            sigs = [Signal(p.id, "hf_upvotes", date(2026, 6, 2), 3) for p in self.pages[i]]
            yield Batch(self.pages[i], sigs, cursor={"page": i + 1}, note=f"page {i}")


PAGES = [[paper(f"2606.0{i}{j:03d}") for j in range(5)] for i in range(4)]


def test_failure_keeps_earlier_batches_and_resumes_after_them(store: Store) -> None:
    source = ListSource(PAGES, fail_at=2)
    with pytest.raises(SourceError, match="page 2"):
        run_ingest(store, source)
    assert store.count_papers() == 10
    assert store.get_cursor("test-source") == {"page": 2}
    source.fail_at = None
    report = run_ingest(store, source)
    assert source.seen_cursors[-1] == {"page": 2}
    assert (report.batches, report.papers.new) == (2, 10)
    assert store.count_papers() == 20 and store.count_signals() == 20
    # the lease was released both times
    assert store.lease_holder("ingest:test-source") is None


def test_a_second_run_of_the_same_ingest_is_refused(store: Store) -> None:
    take_lease(store, "ingest:test-source", "otherhost:1:abc")
    with pytest.raises(SourceBusy, match="another run holds this ingest by otherhost"):
        run_ingest(store, ListSource(PAGES))
    assert store.count_papers() == 0
    # a lease left by a process of this host that is gone (killed) is taken over at once
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    store.release_lease("ingest:test-source", "otherhost:1:abc")
    take_lease(store, "ingest:test-source", f"{new_holder().split(':')[0]}:{dead}:x")
    assert run_ingest(store, ListSource(PAGES)).papers.new == 20


def test_lease_expires_and_renews(store: Store) -> None:
    t0 = datetime(2026, 1, 1)
    assert store.acquire_lease("x", "a", timedelta(minutes=1), now=t0)
    assert not store.acquire_lease("x", "b", timedelta(minutes=1), now=t0 + timedelta(seconds=30))
    assert store.acquire_lease("x", "a", timedelta(minutes=1), now=t0 + timedelta(seconds=50))
    assert not store.acquire_lease("x", "b", timedelta(minutes=1), now=t0 + timedelta(seconds=90))
    assert store.acquire_lease("x", "b", timedelta(minutes=1), now=t0 + timedelta(seconds=111))


def test_replacements_of_unknown_papers_are_skipped(store: Store) -> None:
    store.write_batch([paper("2601.00001")])
    known_v2 = Paper(id="2601.00001", title="Revised", version=2)
    unknown_v3 = Paper(id="2105.00002", title="Old paper, third version", version=3)
    new = paper("2606.00003")

    @dataclass
    class Rss:
        key: str = "rss"

        def batches(self, cursor: Cursor | None) -> Iterator[Batch]:
            yield Batch([known_v2, unknown_v3, new], cursor={"n": 1},
                        updates_only=frozenset({"2601.00001", "2105.00002"}))

    report = run_ingest(store, Rss())
    assert store.get_paper("2105.00002") is None
    assert [pid for pid, _ in report.skipped] == ["2105.00002"]
    revised = store.get_paper("2601.00001")
    assert revised is not None and revised.title == "Revised"
    assert revised.published == date(2026, 6, 1)  # first-version date kept
    assert store.get_paper("2606.00003") is not None
    assert (report.papers.new, report.papers.changed) == (1, 1)


def test_schedule_parsing_and_due() -> None:
    jobs = parse_schedule("arxiv=0 */6 * * *; hf=30 */2 * * *")
    assert jobs == {"arxiv": "0 */6 * * *", "hf": "30 */2 * * *"}
    assert parse_schedule("") == {}
    for bad in ("arxiv=every day", "rss=0 * * * *", "arxiv=0 * * * *; arxiv=1 * * * *"):
        with pytest.raises(ValueError):
            parse_schedule(bad)
    assert next_run("0 */6 * * *", datetime(2026, 1, 1, 5, 59)) == datetime(2026, 1, 1, 6)
    last = {"arxiv": datetime(2026, 1, 1, 5, 0), "hf": datetime(2026, 1, 1, 4, 0)}
    assert due(jobs, last, datetime(2026, 1, 1, 5, 45)) == ["hf"]
    assert due(jobs, last, datetime(2026, 1, 1, 6, 0)) == ["arxiv", "hf"]
    assert due(jobs, {}, datetime(2026, 1, 1, 6, 0)) == []


def test_scheduler_runs_due_jobs_once_across_workers(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []

    def fake_sources(name: str, *_: object, **__: object) -> list[ListSource]:
        runs.append(name)
        return [ListSource(PAGES, key=f"test-{name}")]

    monkeypatch.setattr("paperwire.worker.job_sources", fake_sources)
    settings = Settings(home=settings.home, database_url=settings.database_url,
                        ingest_schedule="hf=0 * * * *")
    clock = {"now": datetime(2026, 1, 1, 9, 30)}
    a = Scheduler(store, settings, clock=lambda: clock["now"])
    b = Scheduler(store, settings, clock=lambda: clock["now"])
    assert a.tick() == {} and b.tick() == {}  # first start waits for the schedule
    clock["now"] = datetime(2026, 1, 1, 10, 0, 5)
    result = a.tick()
    assert list(result) == ["hf"] and runs == ["hf"]
    assert b.tick() == {}  # another worker sees the firing is done
    assert store.count_papers() == 20
    clock["now"] = datetime(2026, 1, 1, 11, 0, 1)
    assert list(b.tick()) == ["hf"] and runs == ["hf", "hf"]


def test_settings_for_sources_fail_clearly() -> None:
    from paperwire.config import load_settings
    from paperwire.errors import ConfigError

    s = load_settings({"PAPERWIRE_ARXIV_CATEGORIES": "cs.CL, cs.LG",
                       "PAPERWIRE_HF_API_URL": "http://127.0.0.1:9/api/daily_papers"})
    assert s.arxiv_categories == ("cs.CL", "cs.LG")
    assert s.hf_api_url == "http://127.0.0.1:9/api/daily_papers"
    for name, value in [("PAPERWIRE_ARXIV_CATEGORIES", "cs.CL;drop table"),
                        ("PAPERWIRE_INGEST_SCHEDULE", "arxiv=sometimes"),
                        ("PAPERWIRE_ARXIV_DELAY_SECONDS", "-1"),
                        ("PAPERWIRE_INGEST_LOOKBACK_DAYS", "many")]:
        with pytest.raises(ConfigError, match=name):
            load_settings({name: value})


def test_a_replaced_old_paper_is_neither_new_nor_trending(store: Store) -> None:
    from paperwire.listings import trending_view

    old_v1 = Paper(id="2403.00001", title="Old idea", version=1, published=date(2024, 3, 1),
                   updated=date(2024, 3, 1))
    store.write_batch([old_v1])
    day = date(2026, 6, 10)
    old_v2 = Paper(id="2403.00001", title="Old idea, revised", version=2,
                   published=date(2024, 3, 1), updated=day)
    fresh = Paper(id="2606.01234", title="Fresh idea", version=1, published=day, updated=day)

    @dataclass
    class Api:
        key: str = "api"

        def batches(self, cursor: Cursor | None) -> Iterator[Batch]:
            yield Batch([old_v2, fresh], [Signal(old_v2.id, "hf_upvotes", day, 80),
                                          Signal(fresh.id, "hf_upvotes", day, 5)],
                        cursor={"done_until": day.isoformat()})

    report = run_ingest(store, Api())
    assert (report.papers.new, report.papers.changed) == (1, 1)
    stored = store.get_paper(old_v2.id)
    assert stored is not None and stored.version == 2 and stored.published == date(2024, 3, 1)
    assert [p.id for p in store.latest_papers(limit=1)] == [fresh.id]
    view = trending_view(store, "week", requested=day)
    assert [p.id for _, p in view.entries] == [fresh.id]


def test_a_lease_left_by_an_ended_run_of_this_process_is_taken_over(store: Store) -> None:
    """A run whose lease could not be released (the database went away at its end) must not
    block the next run of the same process until the lease expires: no run of this
    process holds it any more, so it is taken over at once."""
    source = ListSource(PAGES, key="test-left")
    left = new_holder()  # this process, as the ended run was
    assert store.acquire_lease(f"ingest:{source.key}", left, timedelta(minutes=30))
    report = run_ingest(store, source)
    assert report.batches == 4 and store.lease_holder(f"ingest:{source.key}") is None


def test_a_lease_held_by_a_running_run_of_this_process_is_respected(store: Store) -> None:
    source = ListSource(PAGES, key="test-busy")
    seen: list[str] = []

    def nested(batch: Batch, report: object) -> None:
        if not seen:  # while the first run holds its lease, a second run must not start
            with pytest.raises(SourceBusy):
                run_ingest(store, ListSource(PAGES, key="test-busy"))
            seen.append("busy")

    run_ingest(store, source, on_batch=nested)
    assert seen == ["busy"]

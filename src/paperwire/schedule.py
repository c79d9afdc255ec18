"""The schedule: ``name=CRON; name=CRON`` (five-field cron, UTC), e.g.
``arxiv=0 */6 * * *; hf=30 */2 * * *; digest=*/10 * * * *``. Jobs: the two ingests, and
``digest``, which sends the digests that are due (each subscriber's own hour) and retries.
Pure functions; the worker does the waiting."""

from __future__ import annotations

from datetime import datetime

from croniter import croniter

JOBS = ("arxiv", "hf", "digest")


def parse_schedule(text: str) -> dict[str, str]:
    """``{"arxiv": "0 */6 * * *", ...}``; raises ValueError naming the bad part."""
    jobs: dict[str, str] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, sep, expr = part.partition("=")
        name, expr = name.strip(), expr.strip()
        if not sep or name not in JOBS:
            raise ValueError(f"{part!r}: expected NAME=CRON with NAME one of {', '.join(JOBS)}")
        if not croniter.is_valid(expr) or len(expr.split()) != 5:
            raise ValueError(f"{part!r}: {expr!r} is not a five-field cron expression")
        if name in jobs:
            raise ValueError(f"{name} is scheduled twice")
        jobs[name] = expr
    return jobs


def next_run(expr: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that ``expr`` fires (naive UTC in, naive out)."""
    nxt: datetime = croniter(expr, after).get_next(datetime)
    return nxt


def due(jobs: dict[str, str], last: dict[str, datetime], now: datetime) -> list[str]:
    """Jobs whose next run after their last run is at or before ``now`` (sorted by name).
    A job that never ran is due at its first firing after ``now`` minus one period, i.e. it
    waits for its schedule rather than running at start-up."""
    ready = []
    for name, expr in sorted(jobs.items()):
        ref = last.get(name)
        if ref is None:
            continue
        if next_run(expr, ref) <= now:
            ready.append(name)
    return ready

"""Deliver due digests through the ledger, exactly once as far as SMTP allows.

One run:
1. *plan*: for every active subscriber whose digest is due (their local hour has come, on their
   weekday for weekly digests), add a ``pending`` ledger row for (subscriber, local date);
2. *expire*: pending rows past their cut-off (a day after the due time; three for weekly)
   become ``expired``;
3. *send*: claim each due row with a conditional UPDATE (``pending`` → ``sending``; a
   ``sending`` row whose claimer died or went stale is claimed again), compose it once and keep
   its papers in the row, send, and record the outcome right after the server's reply.

Outcomes: 250 → ``sent``; a 4xx, a dropped connection or a timeout → ``pending`` again after an
exponential backoff (1, 2, 4 … minutes, at most an hour) until the cut-off; a 5xx → ``failed``
(three in a row suppress the address). A burst of failures that are not about one address
(authentication refused, server gone) pauses the run rather than burning through the list.

A kill at any point loses nothing: a row claimed by a dead process is claimed again by the next
run and the same mail (same papers, same Message-ID) is sent. The only duplicate possible comes
from a kill after the server accepted the message and before ``sent`` was recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from paperwire.digests.mailer import Mailer, SendStatus
from paperwire.digests.service import (
    DigestContext,
    gather,
    items_of,
    message_for,
    message_id_for,
    stored_digest,
)
from paperwire.errors import DeliveryError
from paperwire.records import Subscriber
from paperwire.store.digests import Delivery
from paperwire.store.leases import dead_local_holder, new_holder

log = logging.getLogger(__name__)
CLAIM_STALE_AFTER = timedelta(minutes=10)
PAUSE_AFTER_SYSTEMIC = 5  # failures in a row that are not about one address
SUPPRESS_AFTER = 3  # permanent failures in a row for one address
MAX_BACKOFF = timedelta(hours=1)
FIRST_DIGEST_DAY = date(1991, 8, 14)  # arXiv's first day: nothing to send before it


@dataclass
class RunReport:
    planned: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    expired: int = 0
    skipped: int = 0
    suppressed: int = 0
    lost_claims: int = 0
    paused: str | None = None
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed, "
                f"{self.expired} expired, {self.skipped} skipped")
        return text + (f"; paused: {self.paused}" if self.paused else "")


def local_now(sub: Subscriber, now: datetime) -> datetime:
    """``now`` (naive UTC) on the subscriber's wall clock (naive)."""
    return now.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(sub.timezone)).replace(
        tzinfo=None)


def due_day(sub: Subscriber, now: datetime) -> date | None:
    """The local date whose digest is due for ``sub`` at ``now``, or None."""
    local = local_now(sub, now)
    if local.hour < sub.hour:
        return None
    if sub.frequency == "weekly" and local.weekday() != sub.weekday:
        return None
    return local.date()


def cut_off(sub: Subscriber, day: date) -> datetime:
    """When an undelivered digest for ``day`` stops being worth sending (naive UTC); held
    at the ends of the calendar rather than overflowing."""
    due_local = datetime(day.year, day.month, day.day, sub.hour, tzinfo=ZoneInfo(sub.timezone))
    span = timedelta(days=3 if sub.frequency == "weekly" else 1)
    try:
        return (due_local + span).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    except OverflowError:
        return datetime.max if day.year > 1 else datetime.min + span


def digest_day_range(now: datetime) -> tuple[date, date]:
    """The digest dates a run may be asked for: from arXiv's first day to tomorrow (UTC),
    the local date somewhere on Earth (UTC+14) when it is ``now`` in UTC."""
    return FIRST_DIGEST_DAY, now.date() + timedelta(days=1)


def check_digest_day(day: date, now: datetime) -> date:
    """``day`` if a digest can be sent for it; DeliveryError (one line) otherwise."""
    first, last = digest_day_range(now)
    if not first <= day <= last:
        raise DeliveryError(f"no digest can be sent for {day.isoformat()}: a digest date must "
                            f"be from {first.isoformat()} (arXiv's first day) to "
                            f"{last.isoformat()} (tomorrow)")
    return day


def plan(ctx: DigestContext, now: datetime, day: date | None = None) -> int:
    """Add ledger rows for the digests due at ``now`` (or, with ``day``, for every active
    subscriber whose frequency sends on that day, whatever the hour)."""
    due = []
    for sub in ctx.store.digests.active():
        try:
            if day is None:
                d = due_day(sub, now)
            elif sub.frequency == "daily" or day.weekday() == sub.weekday:
                d = day
            else:
                d = None
            if d is not None:
                # a digest asked for by date (a backfill) gets a day from now, however old
                grace = timedelta(hours=1) if day is None else timedelta(days=1)
                due.append((sub.id, d, max(cut_off(sub, d), now + grace)))
        except (ValueError, OverflowError, LookupError) as exc:  # e.g. an unknown time zone
            log.error("subscriber %s not planned: %s", sub.id, exc)
    return ctx.store.digests.ensure_deliveries(due, now)


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(minutes=2 ** max(0, attempts - 1)))


class Pacer:
    """At most ``rate`` sends a second (0: no limit)."""

    def __init__(self, rate: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.sleep = sleep
        self.next = 0.0

    def wait(self) -> None:
        if self.gap:
            now = time.monotonic()
            if self.next > now:
                self.sleep(self.next - now)
            self.next = max(now, self.next) + self.gap


def run(
    ctx: DigestContext,
    mailer: Mailer,
    clock: Callable[[], datetime],
    day: date | None = None,
    holder: str | None = None,
    on_progress: Callable[[RunReport, int], None] | None = None,
) -> RunReport:
    """Plan, expire and send everything due now (or, with ``day``, that day's digests).
    Raises nothing for delivery problems: they are in the report (``paused`` when the run
    stopped early). A ``day`` no digest can be for is a DeliveryError before anything is
    planned. An exception while one digest is being delivered never leaves its row claimed:
    it is retried later (after a backoff) and the run goes on; an interruption (Ctrl-C,
    SystemExit) gives the row back at once and ends the run."""
    if day is not None:
        check_digest_day(day, clock())
    holder = holder or new_holder()
    digests = ctx.store.digests
    report = RunReport()
    report.planned = plan(ctx, clock(), day)
    report.expired += digests.expire(clock())
    pacer = Pacer(ctx.settings.digest_send_rate)
    systemic = 0
    seen: set[int] = set()
    while report.paused is None:
        now = clock()
        dead = [h for h in digests.sending_holders() if h != holder and dead_local_holder(h)]
        batch = [d for d in digests.claimable(now, now - CLAIM_STALE_AFTER, 200, dead)
                 if d.id not in seen]
        if not batch:
            break
        for row in batch:
            seen.add(row.id)
            claimed = digests.claim(row, holder, clock())
            if claimed is None:
                report.lost_claims += 1  # another worker took it: fine
                continue
            outcome = _deliver_guarded(ctx, mailer, claimed, holder, clock, pacer, report)
            systemic = systemic + 1 if outcome == "systemic" else 0
            if on_progress:
                on_progress(report, len(seen))
            if systemic >= PAUSE_AFTER_SYSTEMIC:
                report.paused = (f"{systemic} failures in a row were not about one address "
                                 f"(last: {report.errors[-1] if report.errors else '?'}); "
                                 "the rest waits for the next run")
                break
    return report


def _deliver_guarded(ctx: DigestContext, mailer: Mailer, d: Delivery, holder: str,
                     clock: Callable[[], datetime], pacer: Pacer, report: RunReport) -> str:
    """:func:`_deliver_one`, never leaving ``d`` claimed by this run whatever is raised."""
    try:
        return _deliver_one(ctx, mailer, d, holder, clock, pacer, report)
    except Exception as exc:  # a bug or a database error in one digest: retry it later
        log.exception("digest %s (subscriber %s, %s) failed", d.id, d.subscriber_id,
                      d.digest_date)
        detail = f"{type(exc).__name__}: {exc}"
        report.errors.append(detail)
        now = clock()
        retry_at = now + backoff(d.attempts)
        try:
            if retry_at >= d.expires_at:
                ctx.store.digests.finish(d, holder, "expired", now, error=detail)
                report.expired += 1
            else:
                ctx.store.digests.finish(d, holder, "pending", now, error=detail,
                                         next_attempt_at=retry_at)
                report.retrying += 1
        except Exception:  # the database is gone too: the claim goes stale, and is retaken
            log.exception("could not release digest %s", d.id)
            raise exc from None
        return "systemic"  # several in a row pause the run
    except BaseException:  # interrupted: give the row back now, for the next run
        try:
            ctx.store.digests.finish(d, holder, "pending", clock(), error="interrupted",
                                     next_attempt_at=clock())
        except Exception:
            log.exception("could not release digest %s", d.id)
        raise


def _deliver_one(ctx: DigestContext, mailer: Mailer, d: Delivery, holder: str,
                 clock: Callable[[], datetime], pacer: Pacer, report: RunReport) -> str:
    digests = ctx.store.digests
    if clock() >= d.expires_at:  # e.g. a dead run's claim found only days later
        digests.finish(d, holder, "expired", clock(), error="not delivered before the cut-off")
        report.expired += 1
        return "expired"
    sub = digests.get(d.subscriber_id)
    if sub is None or sub.status != "active":
        digests.finish(d, holder, "skipped", clock(), error="no longer subscribed")
        report.skipped += 1
        return "skipped"
    if d.items is None or d.period is None:
        digest = gather(ctx, sub, d.digest_date)
        if digest.empty and sub.skip_empty:
            digests.finish(d, holder, "skipped", clock(), error="nothing new (skipped by choice)")
            report.skipped += 1
            return "skipped"
        items = items_of(digest)
        kept = digests.save_composition(d, holder, items, digest.note, digest.period,
                                        message_id_for(ctx, sub, d.digest_date))
        if kept is None:
            report.lost_claims += 1
            return "lost"
        if kept != items:  # another digest of theirs holds some of these papers now
            digest = stored_digest(ctx, sub, d.digest_date, digest.period, kept, digest.note)
    else:
        digest = stored_digest(ctx, sub, d.digest_date, d.period, d.items, d.note)
    message = message_for(ctx, digest, clock())
    pacer.wait()
    result = mailer.send(message)
    now = clock()
    if result.status is SendStatus.SENT:
        digests.finish(d, holder, "sent", now, code=result.code)
        digests.record_outcome(sub.id, hard_failure=False, suppress_after=SUPPRESS_AFTER)
        report.sent += 1
        return "sent"
    report.errors.append(result.detail)
    if result.status is SendStatus.REJECTED and not result.systemic:
        digests.finish(d, holder, "failed", now, code=result.code, error=result.detail)
        if digests.record_outcome(sub.id, hard_failure=True, suppress_after=SUPPRESS_AFTER):
            report.suppressed += 1
        report.failed += 1
        return "failed"
    retry_at = now + backoff(d.attempts)
    if retry_at >= d.expires_at:
        digests.finish(d, holder, "expired", now, code=result.code, error=result.detail)
        report.expired += 1
    else:
        digests.finish(d, holder, "pending", now, code=result.code, error=result.detail,
                       next_attempt_at=retry_at)
        report.retrying += 1
    return "systemic" if result.systemic else "retry"

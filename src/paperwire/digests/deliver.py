"""Deliver due digests through the ledger, exactly once as far as SMTP allows.

One run:
1. *plan*: for every active subscriber whose digest is due (their local hour has come, on their
   weekday for weekly digests), add a ``pending`` ledger row for (subscriber, local date);
2. *expire*: pending rows past their cut-off (a day after the due time; three for weekly)
   become ``expired``;
3. *send*: claim the next batch of due rows in one UPDATE (``pending`` → ``sending``; a
   ``sending`` row whose claimer died or whose claim is older than the lease is claimed
   again), compose them and keep their papers in the rows (one transaction), then send each
   and record its outcome right after the server's reply.

Several runs (processes, hosts) can share a day: on PostgreSQL the claim picks its rows
``FOR UPDATE SKIP LOCKED``, so each worker takes a different batch without waiting. Digests
with the same papers are rendered once per run (:class:`SharedBodies`), each mail with its own
links; the send rate (``digest_send_rate``) is the deployment's, counted in the store.

Outcomes: 250 → ``sent``; a 4xx, a dropped connection or a timeout → ``pending`` again after an
exponential backoff (1, 2, 4 … minutes, at most an hour) until the cut-off; a 5xx → ``failed``
(three in a row suppress the address). A burst of failures that are not about one address
(authentication refused, server gone) pauses the run rather than burning through the list.

A kill at any point loses nothing: a row claimed by a dead process is claimed again by the next
run and the same mail (same papers, same Message-ID) is sent. So is a row left claimed by a run
that ended on a database error (PostgreSQL restarted mid-run): the next run of the same process
(the worker's next tick) takes it back at once; other processes, after the lease. The only
duplicate possible comes from a kill after the server accepted the message and before
``sent`` was recorded, or from a database outage longer than MARK_SENT_PATIENCE at that moment
(the ``sent`` mark is tried again meanwhile, so a restart of PostgreSQL sends nothing twice).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from paperwire.digests.mailer import Mailer, SendStatus
from paperwire.digests.service import (
    DigestContext,
    Known,
    SharedBodies,
    gather,
    items_of,
    known_for,
    mail_for,
    message_id_for,
    stored_digest,
)
from paperwire.errors import DeliveryError, StoreError
from paperwire.records import Digest, Subscriber
from paperwire.store.digests import Composition, Delivery
from paperwire.store.leases import dead_local_holder, ended_here, new_holder, running

log = logging.getLogger(__name__)
CLAIM_STALE_AFTER = timedelta(minutes=10)  # the lease: a claim older than this is retaken
CLAIM_BATCH = 50  # rows claimed (and composed) at a time
PAUSE_AFTER_SYSTEMIC = 5  # failures in a row that are not about one address
SUPPRESS_AFTER = 3  # permanent failures in a row for one address
MAX_BACKOFF = timedelta(hours=1)
# the server has a message but its ``sent`` mark failed (the database restarting): the mark is
# tried again this long (seconds) before the run gives up, so a restart of PostgreSQL sends
# nothing twice; past it the row is left claimed, taken back and the same mail sent again
MARK_SENT_PATIENCE = 30.0
SEND_RATE_KEY = "digest-send-rate"  # the deployment's sends this second (send_limits)
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
    """At most ``rate`` sends a second (0: no limit), evenly spaced in this process; with
    ``take`` (the store's shared counter: ``take(second, limit)`` is False once ``limit`` were
    taken in that second), at most ``rate`` a second over every worker of the deployment."""

    def __init__(self, rate: float, sleep: Callable[[float], None] = time.sleep,
                 take: Callable[[datetime, int], bool] | None = None) -> None:
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.per_second = math.ceil(rate) if rate > 0 else 0
        self.sleep = sleep
        self.take = take
        self.next = 0.0

    def wait(self) -> None:
        if not self.gap:
            return
        now = time.monotonic()
        if self.next > now:
            self.sleep(self.next - now)
        self.next = max(now, self.next) + self.gap
        while self.take is not None:
            wall = time.time()
            second = datetime.fromtimestamp(int(wall), UTC).replace(tzinfo=None)
            if self.take(second, self.per_second):
                return
            self.sleep(int(wall) + 1 - wall)  # this second's sends are spent: the next one


def run(
    ctx: DigestContext,
    mailer: Mailer,
    clock: Callable[[], datetime],
    day: date | None = None,
    holder: str | None = None,
    on_progress: Callable[[RunReport, int], None] | None = None,
    *,
    lease: timedelta = CLAIM_STALE_AFTER,
    batch: int = CLAIM_BATCH,
) -> RunReport:
    """Plan, expire and send everything due now (or, with ``day``, that day's digests).
    Raises nothing for delivery problems: they are in the report (``paused`` when the run
    stopped early). A ``day`` no digest can be for is a DeliveryError before anything is
    planned. An exception while one digest is being delivered never leaves its row claimed:
    it is retried later (after a backoff) and the run goes on; an interruption (Ctrl-C,
    SystemExit) gives the unsent rows back at once and ends the run.

    Several runs (processes, hosts) may work through the same day at once: each claims
    ``batch`` due rows at a time, and a row claimed by a run that died is claimed again once
    its claim is ``lease`` old (at once when the dead process was on this host, or when the
    run that claimed it ended in this process, e.g. on a database error)."""
    if day is not None:
        check_digest_day(day, clock())
    with running(holder or new_holder()) as holder:
        return _run(ctx, mailer, clock, day, holder, on_progress, lease, batch)


def _run(ctx: DigestContext, mailer: Mailer, clock: Callable[[], datetime], day: date | None,
         holder: str, on_progress: Callable[[RunReport, int], None] | None,
         lease: timedelta, batch: int) -> RunReport:
    report = RunReport()
    report.planned = plan(ctx, clock(), day)
    report.expired += ctx.store.digests.expire(clock())
    sending = _Sending(ctx, mailer, holder, clock, report, lease)
    seen: set[int] = set()
    while report.paused is None:
        claimed = claim_due(ctx, holder, clock, lease, batch)  # due → claim
        again = [d for d in claimed if d.id in seen]  # given back earlier in this run
        claimed, later = one_per_subscriber([d for d in claimed if d.id not in seen])
        _give_back(ctx, again + later, holder)
        if not claimed:
            break
        seen.update(d.id for d in claimed)
        sending.send_batch(claimed, on_progress, len(seen))  # → send
    return report


def one_per_subscriber(rows: list[Delivery]) -> tuple[list[Delivery], list[Delivery]]:
    """Each subscriber's row of the earliest date, and the others: a subscriber's next
    digest is composed once the one before it is sent (its period starts where that one's
    ended)."""
    first: dict[int, Delivery] = {}
    for d in sorted(rows, key=lambda d: d.digest_date):
        first.setdefault(d.subscriber_id, d)
    return ([d for d in rows if first[d.subscriber_id] is d],
            [d for d in rows if first[d.subscriber_id] is not d])


def claim_due(ctx: DigestContext, holder: str, clock: Callable[[], datetime],
              lease: timedelta, batch: int) -> list[Delivery]:
    """Claim the next ``batch`` due rows: pending ones, and those whose claimer died (a
    process of this host that is gone), whose claimer was a run of this process that has
    ended (on a database error: it could not give them back), or whose claim is older than
    ``lease``."""
    digests = ctx.store.digests
    now = clock()
    dead = [h for h in digests.sending_holders()
            if h != holder and (dead_local_holder(h) or ended_here(h))]
    return digests.claim_due(holder, now, now - lease, batch, dead)


def _log_failure(exc: BaseException, what: str, *args: object) -> None:
    """Log ``what`` at ERROR: a database error as one line (an outage, e.g. PostgreSQL
    restarting, is the news, not the stack); anything else with its traceback (a bug)."""
    if isinstance(exc, StoreError):
        log.error(f"{what}: %s", *args, exc)
    else:
        log.error(what, *args, exc_info=exc)


def _give_back(ctx: DigestContext, rows: Sequence[Delivery], holder: str) -> None:
    """Put claimed rows this run will not try back to ``pending``, as they were."""
    try:
        ctx.store.digests.release(rows, holder)
    except Exception as exc:  # the claims go stale, and are retaken
        _log_failure(exc, "could not release %d digests", len(rows))


class _Sending:
    """One run's sending state: the mailer, the pacer (the deployment's send rate), the
    bodies rendered so far and the count of systemic failures in a row."""

    def __init__(self, ctx: DigestContext, mailer: Mailer, holder: str,
                 clock: Callable[[], datetime], report: RunReport, lease: timedelta) -> None:
        self.ctx, self.mailer, self.holder, self.clock = ctx, mailer, holder, clock
        self.report = report
        self.renew_after = lease.total_seconds() / 2  # a batch's claims, renewed this often
        self.renewed = time.monotonic()
        digests = ctx.store.digests
        self.pacer = Pacer(ctx.settings.digest_send_rate,
                           take=lambda second, n: digests.take_limit(SEND_RATE_KEY, second, n))
        self.shared = SharedBodies()
        self.systemic = 0

    def send_batch(self, claimed: list[Delivery],
                   on_progress: Callable[[RunReport, int], None] | None, seen: int) -> None:
        """Compose the claimed rows (their compositions saved in one transaction), then send
        them one by one; rows left when the run pauses or is interrupted are given back."""
        left = list(claimed)
        self.renewed = time.monotonic()
        try:
            ready = self._prepare(claimed)
            for d in claimed:
                if self.report.paused is not None:
                    break
                self._keep_claims(left, ready)
                left.remove(d)
                if d.id not in ready:
                    continue
                outcome = self._send_guarded(d, ready[d.id])
                self.systemic = self.systemic + 1 if outcome == "systemic" else 0
                if on_progress:
                    on_progress(self.report, seen - len(left))
                if self.systemic >= PAUSE_AFTER_SYSTEMIC:
                    errors = self.report.errors
                    self.report.paused = (
                        f"{self.systemic} failures in a row were not about one address "
                        f"(last: {errors[-1] if errors else '?'}); the rest waits for the "
                        "next run")
        finally:
            _give_back(self.ctx, left, self.holder)

    def _keep_claims(self, left: list[Delivery], ready: dict[int, Digest]) -> None:
        """Renew the claims on the rows not sent yet when half the lease has passed (a slow
        send rate): a row another worker took over meanwhile is not sent by this one."""
        if time.monotonic() - self.renewed < self.renew_after:
            return
        mine = self.ctx.store.digests.renew(left, self.holder, self.clock())
        self.renewed = time.monotonic()
        for d in left:
            if d.id not in mine and ready.pop(d.id, None) is not None:
                self.report.lost_claims += 1

    def _prepare(self, claimed: list[Delivery]) -> dict[int, Digest]:
        """Each claimed row's digest, by delivery id: composed now (and saved, for resends)
        or rebuilt from the ledger. Rows expired, skipped or failed here are finished."""
        subs = self.ctx.store.digests.get_many(d.subscriber_id for d in claimed)
        known = self._known(claimed, subs)
        ready: dict[int, Digest] = {}
        fresh: list[tuple[Composition, Digest]] = []
        for d in claimed:
            try:
                got = self._digest_of(d, subs.get(d.subscriber_id),
                                      known.get((d.subscriber_id, d.digest_date)))
            except Exception as exc:
                self._failed(d, exc)
                self.systemic += 1
                continue
            if isinstance(got, tuple):
                fresh.append(got)
            elif got is not None:
                ready[d.id] = got
        kept = self.ctx.store.digests.save_compositions(self.holder, [c for c, _ in fresh])
        for comp, digest in fresh:
            items = kept.get(comp.delivery.id)
            if items is None:
                self.report.lost_claims += 1
            elif items != comp.items:  # another digest of theirs holds some of these now
                ready[comp.delivery.id] = stored_digest(
                    self.ctx, digest.subscriber, comp.delivery.digest_date, digest.period,
                    items, digest.note)
            else:
                ready[comp.delivery.id] = digest
        return ready

    def _known(self, claimed: list[Delivery], subs: dict[int, Subscriber]
               ) -> dict[tuple[int, date], Known]:
        """The histories of the rows to compose, read for the batch at once (none saved in
        between: the batch's compositions are saved together after). Should that fail,
        each digest reads its own (and fails alone)."""
        wanted = [(subs[d.subscriber_id], d.digest_date) for d in claimed
                  if d.subscriber_id in subs and (d.items is None or d.period is None)]
        try:
            return known_for(self.ctx, wanted)
        except Exception:
            log.exception("could not read the histories of %d subscribers", len(wanted))
            return {}

    def _digest_of(self, d: Delivery, sub: Subscriber | None, known: Known | None = None
                   ) -> Digest | tuple[Composition, Digest] | None:
        """``d``'s stored digest, a fresh composition to save, or None (finished here)."""
        ctx, digests, report = self.ctx, self.ctx.store.digests, self.report
        if self.clock() >= d.expires_at:  # e.g. a dead run's claim found only days later
            digests.finish(d, self.holder, "expired", self.clock(),
                           error="not delivered before the cut-off")
            report.expired += 1
            return None
        if sub is None or sub.status != "active":
            digests.finish(d, self.holder, "skipped", self.clock(), error="no longer subscribed")
            report.skipped += 1
            return None
        if d.items is not None and d.period is not None:
            return stored_digest(ctx, sub, d.digest_date, d.period, d.items, d.note)
        digest = gather(ctx, sub, d.digest_date, known)
        if digest.empty and sub.skip_empty:
            digests.finish(d, self.holder, "skipped", self.clock(),
                           error="nothing new (skipped by choice)")
            report.skipped += 1
            return None
        comp = Composition(d, items_of(digest), digest.note, digest.period,
                           message_id_for(ctx, sub, d.digest_date))
        return comp, digest

    def _send_guarded(self, d: Delivery, digest: Digest) -> str:
        """:meth:`_send_one`, never leaving ``d`` claimed by this run whatever is raised."""
        try:
            return self._send_one(d, digest)
        except Exception as exc:  # a bug or a database error in one digest: retry it later
            self._failed(d, exc)
            return "systemic"  # several in a row pause the run
        except BaseException:  # interrupted: give the row back now, for the next run
            try:
                self.ctx.store.digests.finish(d, self.holder, "pending", self.clock(),
                                              error="interrupted", next_attempt_at=self.clock())
            except Exception as exc:
                _log_failure(exc, "could not release digest %s", d.id)
            raise

    def _failed(self, d: Delivery, exc: Exception) -> None:
        """``d`` raised ``exc``: retry it after a backoff (or expire it)."""
        _log_failure(exc, "digest %s (subscriber %s, %s) failed", d.id, d.subscriber_id,
                     d.digest_date)
        detail = f"{type(exc).__name__}: {exc}"
        self.report.errors.append(detail)
        now = self.clock()
        retry_at = now + backoff(d.attempts)
        try:
            if retry_at >= d.expires_at:
                self.ctx.store.digests.finish(d, self.holder, "expired", now, error=detail)
                self.report.expired += 1
            else:
                self.ctx.store.digests.finish(d, self.holder, "pending", now, error=detail,
                                              next_attempt_at=retry_at)
                self.report.retrying += 1
        except Exception as again:  # the database is gone too: the claim is retaken later
            _log_failure(again, "could not release digest %s", d.id)
            raise exc from None

    def _mark_sent(self, d: Delivery, now: datetime, code: int | None) -> None:
        """Record ``d`` as sent; a database error is tried again for MARK_SENT_PATIENCE
        seconds (0.2, 0.4 … 2 s apart) before it is raised: the mail is out already."""
        deadline = time.monotonic() + MARK_SENT_PATIENCE
        wait = 0.2
        while True:
            try:
                self.ctx.store.digests.mark_sent(d, self.holder, now, code)
                return
            except StoreError as exc:
                if time.monotonic() + wait > deadline:
                    raise
                log.warning("digest %s was sent but not recorded yet (%s); trying again",
                            d.id, exc)
                time.sleep(wait)
                wait = min(2 * wait, 2.0)

    def _send_one(self, d: Delivery, digest: Digest) -> str:
        digests, report, holder = self.ctx.store.digests, self.report, self.holder
        message = mail_for(self.ctx, digest, self.clock(), self.shared)
        self.pacer.wait()
        result = self.mailer.send(message)
        now = self.clock()
        if result.status is SendStatus.SENT:
            self._mark_sent(d, now, result.code)
            report.sent += 1
            return "sent"
        report.errors.append(result.detail)
        sub_id = d.subscriber_id
        if result.status is SendStatus.REJECTED and not result.systemic:
            digests.finish(d, holder, "failed", now, code=result.code, error=result.detail)
            if digests.record_outcome(sub_id, hard_failure=True, suppress_after=SUPPRESS_AFTER):
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

"""SQL for subscribers, the delivery ledger and the papers each subscriber was sent.

Reached as ``store.digests``. The ledger holds one row per (subscriber, digest date); a run
*claims* rows with a conditional UPDATE (a row changes hands only if it is still due), a batch
at a time with :meth:`DigestStore.claim_due` (on PostgreSQL the rows are picked ``FOR UPDATE
SKIP LOCKED``, so concurrent workers take disjoint batches), so two workers never send the
same digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from paperwire.records import Subscriber
from paperwire.store import version as version_sql
from paperwire.store.db import dialect_insert, store_errors
from paperwire.store.schema import (
    deliveries,
    digest_clicks,
    papers,
    send_limits,
    sent_papers,
    signals,
    subscribers,
)

MAX_CONFIRMATIONS_PER_DAY = 3  # per mailbox (``user+tag@x`` counts as ``user@x``)
PREFERENCE_FIELDS = ("frequency", "weekday", "hour", "timezone", "categories", "queries",
                     "papers", "size", "mode", "skip_empty")


@dataclass(frozen=True)
class Composition:
    """A claimed delivery's composed digest, to be saved with :meth:`save_compositions`."""

    delivery: Delivery
    items: list[dict[str, str]]
    note: str | None
    period: tuple[date, date]
    message_id: str


@dataclass(frozen=True)
class Delivery:
    id: int
    subscriber_id: int
    digest_date: date
    state: str
    attempts: int
    next_attempt_at: datetime
    expires_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    message_id: str | None
    period: tuple[date, date] | None
    items: list[dict[str, str]] | None
    note: str | None
    last_code: int | None
    last_error: str | None
    sent_at: datetime | None


def _subscriber(row: Any) -> Subscriber:
    return Subscriber(
        id=row.id, email=row.email, status=row.status, frequency=row.frequency,
        weekday=row.weekday, hour=row.hour, timezone=row.timezone,
        categories=tuple(row.categories or ()), queries=tuple(row.queries or ()),
        papers=tuple(row.papers or ()), size=row.size, mode=row.mode,
        skip_empty=bool(row.skip_empty), created_at=row.created_at,
        confirmed_at=row.confirmed_at, unsubscribed_at=row.unsubscribed_at, epoch=row.epoch,
    )


def _delivery(row: Any) -> Delivery:
    period = (row.period_start, row.period_end) if row.period_start else None
    return Delivery(
        id=row.id, subscriber_id=row.subscriber_id, digest_date=row.digest_date,
        state=row.state, attempts=row.attempts, next_attempt_at=row.next_attempt_at,
        expires_at=row.expires_at, claimed_by=row.claimed_by, claimed_at=row.claimed_at,
        message_id=row.message_id, period=period, items=row.items, note=row.note,
        last_code=row.last_code, last_error=row.last_error, sent_at=row.sent_at,
    )


def _prefs(sub: Subscriber) -> dict[str, Any]:
    return {
        "frequency": sub.frequency, "weekday": sub.weekday, "hour": sub.hour,
        "timezone": sub.timezone, "categories": list(sub.categories),
        "queries": list(sub.queries), "papers": list(sub.papers), "size": sub.size,
        "mode": sub.mode, "skip_empty": sub.skip_empty,
    }


@store_errors
class DigestStore:
    """Every public method raises :class:`StoreError` when the database fails."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _insert_ignore(self, table: Any) -> Any:
        return dialect_insert(self.engine, table).on_conflict_do_nothing()

    # ---- subscribers -------------------------------------------------------------------

    def get(self, subscriber_id: int) -> Subscriber | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
        return _subscriber(row) if row else None

    def by_email(self, email: str) -> Subscriber | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(subscribers).where(subscribers.c.email == email.lower())).first()
        return _subscriber(row) if row else None

    def nonce_of(self, subscriber_id: int) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(subscribers.c.nonce)
                                .where(subscribers.c.id == subscriber_id)).scalar()

    def _take(self, conn: Any, key: str, window_start: datetime, limit: int) -> bool:
        """Count one more under ``key`` in the window starting ``window_start`` unless that
        makes more than ``limit``: a single conditional upsert, atomic on SQLite and on
        PostgreSQL (the row is the lock), so concurrent callers can never overshoot."""
        ins = dialect_insert(self.engine, send_limits)
        stmt = ins.values(key=key, window_start=window_start, count=1).on_conflict_do_update(
            index_elements=[send_limits.c.key],
            set_={"count": case((send_limits.c.window_start == window_start,
                                 send_limits.c.count + 1), else_=1),
                  "window_start": window_start},
            where=or_(send_limits.c.window_start != window_start,
                      send_limits.c.count < limit),
        ).returning(send_limits.c.count)
        return conn.execute(stmt).first() is not None

    def take_limit(self, key: str, window_start: datetime, limit: int) -> bool:
        """Spend one of ``limit`` under ``key`` for this window; False when none is left."""
        with self.engine.begin() as conn:
            return self._take(conn, key, window_start, limit)

    def request(self, wanted: Subscriber, nonce: str, now: datetime, *,
                mailbox: str | None = None) -> Subscriber | None:
        """Record a subscription request for ``wanted.email``; return the subscriber to send a
        confirmation mail to (with ``nonce`` now its live link), or None when no mail may go
        (the address is suppressed, or its mailbox — ``mailbox``, default the address — had
        its three confirmation mails today). An active subscriber's preferences are not
        changed by a request (only by its signed preferences link).

        The mailbox's daily counter is taken first, with one conditional upsert: that
        statement is the lock (PostgreSQL locks the counter row; on SQLite it takes the write
        lock), so concurrent requests are serialised and never send more than the limit."""
        email = wanted.email.lower()
        today = now.date()
        day_start = datetime(today.year, today.month, today.day)
        with self.engine.begin() as conn:
            row = conn.execute(select(subscribers.c.status)
                               .where(subscribers.c.email == email)).first()
            if row is not None and row.status == "suppressed":
                return None
            if not self._take(conn, f"mailbox:{mailbox or email}", day_start,
                              MAX_CONFIRMATIONS_PER_DAY):
                return None
            values = {**_prefs(wanted), "email": email, "status": "pending", "nonce": nonce,
                      "confirm_day": today, "confirm_count": 1, "hard_failures": 0,
                      "created_at": now}
            conn.execute(self._insert_ignore(subscribers).values(**values))
            row = conn.execute(select(subscribers).where(subscribers.c.email == email)
                               .with_for_update()).one()
            if row.nonce != nonce:  # it existed: renew its link (and its wishes, unless active)
                if row.status == "suppressed":
                    return None
                count = row.confirm_count if row.confirm_day == today else 0
                changes: dict[str, Any] = {"nonce": nonce, "confirm_day": today,
                                           "confirm_count": count + 1}
                if row.status != "active":
                    changes.update(_prefs(wanted), status="pending")
                conn.execute(update(subscribers).where(subscribers.c.id == row.id)
                             .values(**changes))
                row = conn.execute(select(subscribers).where(subscribers.c.id == row.id)).one()
            return _subscriber(row)

    def purge_limits(self, before: datetime) -> int:
        """Forget counters whose window started before ``before``."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(send_limits).where(
                send_limits.c.window_start < before)).rowcount or 0)

    def confirm(self, subscriber_id: int, nonce: str, now: datetime) -> Subscriber | None:
        """Activate the subscriber if ``nonce`` is its live confirmation link (single use)."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id, subscribers.c.nonce == nonce,
                       subscribers.c.status.in_(("pending", "active", "unsubscribed")))
                .values(status="active", nonce=None, confirmed_at=now, unsubscribed_at=None,
                        hard_failures=0, epoch=subscribers.c.epoch + 1)
            ).rowcount
            if not done:
                return None
            row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).one()
        return _subscriber(row)

    def unsubscribe(self, subscriber_id: int, now: datetime) -> Subscriber | None:
        """Stop all mail to the subscriber (repeating is harmless). None if it is unknown.
        A suppressed address stays suppressed (an old unsubscribe link must not put a
        bouncing address back within reach of a confirmation mail). Pending digests are
        skipped and give back the papers a retry had reserved: they were never delivered."""
        with self.engine.begin() as conn:
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id,
                       subscribers.c.status.not_in(("unsubscribed", "suppressed")))
                .values(status="unsubscribed", unsubscribed_at=now, nonce=None))
            days = [r[0] for r in conn.execute(
                update(deliveries)
                .where(deliveries.c.subscriber_id == subscriber_id,
                       deliveries.c.state == "pending")
                .values(state="skipped", last_error="unsubscribed")
                .returning(deliveries.c.digest_date))]
            if days:
                conn.execute(delete(sent_papers).where(
                    sent_papers.c.subscriber_id == subscriber_id,
                    sent_papers.c.digest_date.in_(days)))
            row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
        return _subscriber(row) if row else None

    def set_preferences(self, subscriber_id: int, prefs: Subscriber) -> Subscriber | None:
        with self.engine.begin() as conn:
            conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id)
                         .values(**_prefs(prefs)))
            row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
        return _subscriber(row) if row else None

    def activate(self, subscriber: Subscriber, now: datetime) -> Subscriber:
        """Add or update an already-confirmed subscriber (imports, tests, benchmarks)."""
        email = subscriber.email.lower()
        with self.engine.begin() as conn:
            row = conn.execute(select(subscribers.c.id).where(subscribers.c.email == email)).first()
            values = {**_prefs(subscriber), "status": "active", "confirmed_at": now, "nonce": None}
            if row is None:
                conn.execute(insert(subscribers).values(
                    **values, email=email, confirm_count=0, hard_failures=0, created_at=now))
            else:
                # coming back from an unsubscribe is a new subscription: old links stop working
                epoch = case((subscribers.c.status == "active", subscribers.c.epoch),
                             else_=subscribers.c.epoch + 1)
                conn.execute(update(subscribers).where(subscribers.c.id == row.id)
                             .values(**values, unsubscribed_at=None, epoch=epoch))
            got = conn.execute(select(subscribers).where(subscribers.c.email == email)).one()
        return _subscriber(got)

    def add_many(self, subs: Sequence[Subscriber], now: datetime) -> int:
        """Insert confirmed subscribers in one transaction (benchmarks, imports)."""
        rows = [{**_prefs(s), "email": s.email.lower(), "status": "active", "nonce": None,
                 "confirm_count": 0, "hard_failures": 0, "created_at": now, "confirmed_at": now}
                for s in subs]
        with self.engine.begin() as conn:
            if rows:
                conn.execute(insert(subscribers), rows)
        return len(rows)

    def purge_unconfirmed(self, created_before: datetime) -> int:
        """Delete never-confirmed requests made before ``created_before`` whose last
        confirmation mail also went out before that day (a renewed request holds a live
        link, which must keep working)."""
        with self.engine.begin() as conn:
            return int(conn.execute(
                delete(subscribers).where(
                    subscribers.c.status == "pending",
                    subscribers.c.confirmed_at.is_(None),
                    subscribers.c.created_at < created_before,
                    or_(subscribers.c.confirm_day.is_(None),
                        subscribers.c.confirm_day < created_before.date()))
            ).rowcount or 0)

    def active(self) -> Iterator[Subscriber]:
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(subscribers).where(subscribers.c.status == "active",
                                              subscribers.c.id > last)
                    .order_by(subscribers.c.id).limit(1000)).all()
            if not rows:
                return
            yield from (_subscriber(r) for r in rows)
            last = rows[-1].id

    def count_by_status(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(subscribers.c.status, func.count())
                                .group_by(subscribers.c.status)).all()
        return {r[0]: int(r[1]) for r in rows}

    def record_outcome(self, subscriber_id: int, hard_failure: bool, suppress_after: int) -> bool:
        """Count permanent failures in a row (a success resets the count); suppress the address
        after ``suppress_after`` of them. True when the address is now suppressed."""
        with self.engine.begin() as conn:
            if not hard_failure:
                conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id,
                                                       subscribers.c.hard_failures != 0)
                             .values(hard_failures=0))
                return False
            conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id)
                         .values(hard_failures=subscribers.c.hard_failures + 1))
            return bool(conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id, subscribers.c.status == "active",
                       subscribers.c.hard_failures >= suppress_after)
                .values(status="suppressed")).rowcount)

    # ---- the delivery ledger -----------------------------------------------------------

    def ensure_deliveries(self, due: Iterable[tuple[int, date, datetime]], now: datetime) -> int:
        """Add a pending row per (subscriber, digest date, expires at) unless one exists."""
        rows = [{"subscriber_id": sid, "digest_date": day, "state": "pending", "attempts": 0,
                 "next_attempt_at": now, "expires_at": expires, "created_at": now}
                for sid, day, expires in due]
        added = 0
        stmt = self._insert_ignore(deliveries).returning(deliveries.c.id)
        with self.engine.begin() as conn:
            for i in range(0, len(rows), 500):
                # count the ids returned: an executemany's rowcount is -1 on PostgreSQL
                added += len(conn.execute(stmt, rows[i:i + 500]).all())
        return added

    def claimable(self, now: datetime, stale_before: datetime, limit: int = 500,
                  dead_holders: Sequence[str] = ()) -> list[Delivery]:
        """Rows a run may claim: pending and due, or 'sending' under a claim that is stale or
        held by a process known to be dead. Oldest first."""
        sending = and_(deliveries.c.state == "sending",
                       or_(deliveries.c.claimed_at < stale_before,
                           deliveries.c.claimed_by.in_(list(dead_holders))))
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries)
                .where(or_(and_(deliveries.c.state == "pending",
                                deliveries.c.next_attempt_at <= now), sending))
                .order_by(deliveries.c.next_attempt_at, deliveries.c.id).limit(limit)).all()
        return [_delivery(r) for r in rows]

    def claim_due(self, holder: str, now: datetime, stale_before: datetime, limit: int,
                  dead_holders: Sequence[str] = ()) -> list[Delivery]:
        """Claim up to ``limit`` of the rows :meth:`claimable` would list, in one statement:
        ``pending`` → ``sending`` under ``holder``. On PostgreSQL the rows are picked
        ``FOR UPDATE SKIP LOCKED``, so concurrent workers each take a different batch
        without waiting on one another; on SQLite the statement holds the write lock. The
        claim is re-checked by the UPDATE itself, so a row changes hands only once."""
        def due(t: Any) -> Any:
            return or_(and_(t.c.state == "pending", t.c.next_attempt_at <= now),
                       and_(t.c.state == "sending",
                            or_(t.c.claimed_at < stale_before,
                                t.c.claimed_by.in_(list(dead_holders)))))

        rows = deliveries.alias("due")  # not correlated with the updated table
        pick = (select(rows.c.id).where(due(rows))
                .order_by(rows.c.next_attempt_at, rows.c.id).limit(limit))
        if self.engine.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        # picked once (a CTE): an IN subquery may be re-run per updated row, and each run
        # would skip the rows this statement has just updated and lock further ones
        picked = pick.cte("picked")
        if self.engine.dialect.name == "postgresql":
            picked = picked.prefix_with("MATERIALIZED")
        stmt = (update(deliveries)
                .where(deliveries.c.id.in_(select(picked.c.id)), due(deliveries))
                .values(state="sending", claimed_by=holder, claimed_at=now,
                        attempts=deliveries.c.attempts + 1)
                .returning(*deliveries.c))
        with self.engine.begin() as conn:
            claimed = [_delivery(r) for r in conn.execute(stmt)]
        return sorted(claimed, key=lambda d: (d.next_attempt_at, d.id))

    def get_many(self, ids: Iterable[int]) -> dict[int, Subscriber]:
        """The subscribers with these ids, in one query (the unknown ones left out)."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(subscribers).where(subscribers.c.id.in_(wanted))).all()
        return {r.id: _subscriber(r) for r in rows}

    def sending_holders(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(
                select(deliveries.c.claimed_by).where(deliveries.c.state == "sending")
                .distinct()) if r[0]]

    def claim(self, seen: Delivery, holder: str, now: datetime) -> Delivery | None:
        """Take the row if it is still as ``seen`` (state and claim): the optimistic lock."""
        cond = [deliveries.c.id == seen.id, deliveries.c.state == seen.state,
                deliveries.c.attempts == seen.attempts]
        cond.append(deliveries.c.claimed_by.is_(None) if seen.claimed_by is None
                    else deliveries.c.claimed_by == seen.claimed_by)
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(deliveries).where(*cond)
                .values(state="sending", claimed_by=holder, claimed_at=now,
                        attempts=deliveries.c.attempts + 1)).rowcount
            if not taken:
                return None
            row = conn.execute(select(deliveries).where(deliveries.c.id == seen.id)).one()
        return _delivery(row)

    def save_composition(self, d: Delivery, holder: str, items: list[dict[str, str]],
                         note: str | None, period: tuple[date, date],
                         message_id: str) -> list[dict[str, str]] | None:
        """Reserve the digest's papers for this subscriber and keep what the digest holds (so
        a resend is the same mail), in one transaction. A paper another of the subscriber's
        digests already holds (another date, composed first or at the same time) is left
        out: returns the items kept, or None when the claim was lost."""
        with self.engine.begin() as conn:
            mine = conn.execute(
                update(deliveries)
                .where(deliveries.c.id == d.id, deliveries.c.claimed_by == holder,
                       deliveries.c.state == "sending")
                .values(claimed_at=deliveries.c.claimed_at)).rowcount
            if not mine:
                return None
            ids = [it["id"] for it in items]
            if ids:
                # inserting first makes a concurrent reservation of the same paper wait for
                # ours (PostgreSQL) or be serialised with it (SQLite); then read who holds it
                conn.execute(self._insert_ignore(sent_papers),
                             [{"subscriber_id": d.subscriber_id, "paper_id": pid,
                               "digest_date": d.digest_date} for pid in ids])
                held = {r[0]: r[1] for r in conn.execute(
                    select(sent_papers.c.paper_id, sent_papers.c.digest_date)
                    .where(sent_papers.c.subscriber_id == d.subscriber_id,
                           sent_papers.c.paper_id.in_(ids)))}
                items = [it for it in items if held.get(it["id"]) == d.digest_date]
            conn.execute(
                update(deliveries).where(deliveries.c.id == d.id)
                .values(items=items, note=note, period_start=period[0], period_end=period[1],
                        message_id=message_id))
        return items

    def save_compositions(self, holder: str, composed: Sequence[Composition]
                          ) -> dict[int, list[dict[str, str]]]:
        """:meth:`save_composition` for a batch, in one transaction: returns the items kept
        per delivery id, leaving out the deliveries whose claim was lost."""
        if not composed:
            return {}
        ids = [c.delivery.id for c in composed]
        with self.engine.begin() as conn:
            mine = {r[0] for r in conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids), deliveries.c.claimed_by == holder,
                       deliveries.c.state == "sending")
                .values(claimed_at=deliveries.c.claimed_at).returning(deliveries.c.id))}
            ours = [c for c in composed if c.delivery.id in mine]
            reserved = [{"subscriber_id": c.delivery.subscriber_id, "paper_id": it["id"],
                         "digest_date": c.delivery.digest_date} for c in ours for it in c.items]
            held: dict[tuple[int, str], date] = {}
            if reserved:
                conn.execute(self._insert_ignore(sent_papers), reserved)
                held = {(r[0], r[1]): r[2] for r in conn.execute(
                    select(sent_papers.c.subscriber_id, sent_papers.c.paper_id,
                           sent_papers.c.digest_date)
                    .where(sent_papers.c.subscriber_id.in_(
                        {c.delivery.subscriber_id for c in ours}),
                           sent_papers.c.paper_id.in_({r["paper_id"] for r in reserved})))}
            kept = {c.delivery.id: [it for it in c.items
                                    if held.get((c.delivery.subscriber_id, it["id"]))
                                    == c.delivery.digest_date] for c in ours}
            if ours:
                conn.execute(
                    update(deliveries).where(deliveries.c.id == bindparam("did"))
                    .values(items=bindparam("v_items"), note=bindparam("v_note"),
                            period_start=bindparam("v_start"), period_end=bindparam("v_end"),
                            message_id=bindparam("v_mid")),
                    [{"did": c.delivery.id, "v_items": kept[c.delivery.id], "v_note": c.note,
                      "v_start": c.period[0], "v_end": c.period[1], "v_mid": c.message_id}
                     for c in ours])
        return kept

    def renew(self, rows: Sequence[Delivery], holder: str, now: datetime) -> set[int]:
        """Renew ``holder``'s claims on ``rows`` (their lease starts again at ``now``); the
        ids of the rows still claimed by it."""
        if not rows:
            return set()
        with self.engine.begin() as conn:
            return {r[0] for r in conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([d.id for d in rows]),
                       deliveries.c.claimed_by == holder, deliveries.c.state == "sending")
                .values(claimed_at=now).returning(deliveries.c.id))}

    def release(self, rows: Sequence[Delivery], holder: str) -> int:
        """Give claimed rows that were never tried back to ``pending``, as they were before
        the claim (one statement)."""
        if not rows:
            return 0
        with self.engine.begin() as conn:
            return int(conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([d.id for d in rows]),
                       deliveries.c.claimed_by == holder, deliveries.c.state == "sending")
                .values(state="pending", claimed_by=None,
                        attempts=deliveries.c.attempts - 1)).rowcount or 0)

    def mark_sent(self, d: Delivery, holder: str, now: datetime, code: int | None) -> bool:
        """Record that ``d`` was delivered and reset its subscriber's count of permanent
        failures, in one transaction: one commit per message, so a killed worker can only
        resend the message in flight. On PostgreSQL the commit does not wait for its WAL
        flush (``synchronous_commit = off`` for this transaction only): the worker's kill
        loses nothing (the server has the commit); a crash of the database server itself may
        lose the last fraction of a second of ``sent`` marks, whose mails are then sent again
        with the same Message-ID. It saves a disk flush per message (4 ms of 5 here)."""
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL synchronous_commit = off"))
            ok = conn.execute(
                update(deliveries).where(deliveries.c.id == d.id,
                                         deliveries.c.claimed_by == holder,
                                         deliveries.c.state == "sending")
                .values(state="sent", last_code=code, last_error=None, claimed_by=None,
                        sent_at=now)).rowcount
            conn.execute(update(subscribers).where(subscribers.c.id == d.subscriber_id,
                                                   subscribers.c.hard_failures != 0)
                         .values(hard_failures=0))
        return bool(ok)

    def finish(self, d: Delivery, holder: str, state: str, now: datetime, *,
               code: int | None = None, error: str | None = None,
               next_attempt_at: datetime | None = None) -> bool:
        """Record the outcome of a claimed row. ``pending`` (a retry) needs ``next_attempt_at``.
        A failed, expired or skipped digest gives its papers back (they were not delivered)."""
        values: dict[str, Any] = {"state": state, "last_code": code, "last_error": error,
                                  "claimed_by": None}
        if state == "sent":
            values["sent_at"] = now
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        with self.engine.begin() as conn:
            ok = conn.execute(
                update(deliveries).where(deliveries.c.id == d.id,
                                         deliveries.c.claimed_by == holder,
                                         deliveries.c.state == "sending")
                .values(**values)).rowcount
            if ok and state in ("failed", "expired", "skipped"):
                conn.execute(delete(sent_papers).where(
                    sent_papers.c.subscriber_id == d.subscriber_id,
                    sent_papers.c.digest_date == d.digest_date))
        return bool(ok)

    def expire(self, now: datetime) -> int:
        """Pending rows past their cut-off become expired, and give their papers back."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(deliveries.c.subscriber_id, deliveries.c.digest_date)
                                .where(deliveries.c.state == "pending",
                                       deliveries.c.expires_at <= now)).all()
            for sid, day in rows:
                conn.execute(delete(sent_papers).where(sent_papers.c.subscriber_id == sid,
                                                       sent_papers.c.digest_date == day))
            return int(conn.execute(
                update(deliveries).where(deliveries.c.state == "pending",
                                         deliveries.c.expires_at <= now)
                .values(state="expired", last_error="not delivered before the cut-off")
            ).rowcount or 0)

    def get_delivery(self, subscriber_id: int, day: date) -> Delivery | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(deliveries).where(
                deliveries.c.subscriber_id == subscriber_id,
                deliveries.c.digest_date == day)).first()
        return _delivery(row) if row else None

    def deliveries_for(self, day: date | None = None) -> list[Delivery]:
        q = select(deliveries).order_by(deliveries.c.id)
        if day is not None:
            q = q.where(deliveries.c.digest_date == day)
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(q)]

    def count_deliveries(self, day: date | None = None) -> dict[str, int]:
        q = select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
        if day is not None:
            q = q.where(deliveries.c.digest_date == day)
        with self.engine.connect() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(q)}

    def sent_paper_ids(self, subscriber_id: int, before: date | None = None,
                       other_than: date | None = None) -> set[str]:
        """The papers sent (or reserved) to the subscriber: by digests before ``before``, or
        by every digest but the one of ``other_than``."""
        q = select(sent_papers.c.paper_id).where(sent_papers.c.subscriber_id == subscriber_id)
        if before is not None:
            q = q.where(sent_papers.c.digest_date < before)
        if other_than is not None:
            q = q.where(sent_papers.c.digest_date != other_than)
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(q)}

    def histories(self, wanted: Iterable[tuple[int, date]]
                  ) -> dict[tuple[int, date], tuple[date | None, set[str]]]:
        """For each (subscriber id, digest date): :meth:`last_period_end` before that date
        and :meth:`sent_paper_ids` other than it, as one call each would give, read for
        many subscribers at once (two queries per distinct date)."""
        by_day: dict[date, list[int]] = {}
        for sid, day in dict.fromkeys(wanted):
            by_day.setdefault(day, []).append(sid)
        found: dict[tuple[int, date], tuple[date | None, set[str]]] = {}
        with self.engine.connect() as conn:
            for day, ids in by_day.items():
                for start in range(0, len(ids), 500):
                    chunk = ids[start:start + 500]
                    ends = {r[0]: r[1] for r in conn.execute(
                        select(deliveries.c.subscriber_id, func.max(deliveries.c.period_end))
                        .where(deliveries.c.subscriber_id.in_(chunk),
                               deliveries.c.state == "sent", deliveries.c.digest_date < day)
                        .group_by(deliveries.c.subscriber_id))}
                    sent: dict[int, set[str]] = {sid: set() for sid in chunk}
                    for sid, pid in conn.execute(
                            select(sent_papers.c.subscriber_id, sent_papers.c.paper_id)
                            .where(sent_papers.c.subscriber_id.in_(chunk),
                                   sent_papers.c.digest_date != day)):
                        sent[sid].add(pid)
                    found.update({(sid, day): (ends.get(sid), sent[sid]) for sid in chunk})
        return found

    def last_period_end(self, subscriber_id: int, before: date) -> date | None:
        """The end of the period the subscriber's last delivered digest before ``before``
        covered: the next digest starts the day after."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.max(deliveries.c.period_end))
                .where(deliveries.c.subscriber_id == subscriber_id,
                       deliveries.c.state == "sent", deliveries.c.digest_date < before)
            ).scalar()

    # ---- clicks ------------------------------------------------------------------------

    def record_click(self, subscriber_id: int, paper_id: str, digest_date: date,
                     now: datetime, source: str = "digest_click") -> bool:
        """Count a click on a digest's (signed) link: the first one of this subscriber on
        this paper adds 1 to the paper's ``source`` signal of today, in one transaction;
        any later one counts nothing. True when it counted. An unknown paper or subscriber
        counts nothing."""
        day = now.date()
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(papers.c.id).where(papers.c.id == paper_id)).first() \
                        is None:
                    return False
                if conn.execute(select(subscribers.c.id)
                                .where(subscribers.c.id == subscriber_id)).first() is None:
                    return False
                first = conn.execute(
                    self._insert_ignore(digest_clicks)
                    .values(subscriber_id=subscriber_id, paper_id=paper_id,
                            digest_date=digest_date, clicked_at=now)
                    .returning(digest_clicks.c.paper_id)).first()
                if first is None:
                    return False
                ins = dialect_insert(self.engine, signals)
                conn.execute(ins.values(paper_id=paper_id, source=source, day=day, value=1.0,
                                        observed_at=now)
                             .on_conflict_do_update(
                                 index_elements=[signals.c.paper_id, signals.c.source,
                                                 signals.c.day],
                                 set_={"value": signals.c.value + 1.0, "observed_at": now}))
                version_sql.touch(conn, now)
                return True
        except IntegrityError:  # the subscriber was deleted meanwhile
            return False

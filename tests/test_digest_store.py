"""The digest's SQL (``store.digests``) on SQLite and PostgreSQL: subscription requests and
confirmation, the delivery ledger's optimistic lock, and the papers reserved per subscriber."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

from paperwire.records import Subscriber
from paperwire.store import Store
from paperwire.store.digests import MAX_CONFIRMATIONS_PER_DAY, Delivery

NOW = datetime(2026, 6, 10, 7, 0)
DAY = date(2026, 6, 10)
STALE_BEFORE = NOW - timedelta(minutes=10)
ITEMS = [{"id": "2606.00001", "why": "Trending: 30 upvotes", "kind": "trending"},
         {"id": "2606.00002", "why": 'Matches your interest "rag"', "kind": "match"}]
PERIOD = (date(2026, 6, 9), date(2026, 6, 9))


def wanted(email: str, **prefs: object) -> Subscriber:
    return Subscriber(id=0, email=email, **prefs)  # type: ignore[arg-type]


def active(store: Store, email: str, **prefs: object) -> Subscriber:
    return store.digests.activate(wanted(email, **prefs), NOW)


def one_row(store: Store, sub: Subscriber, day: date = DAY,
            expires: datetime = NOW + timedelta(days=1)) -> Delivery:
    assert store.digests.ensure_deliveries([(sub.id, day, expires)], NOW) == 1
    row = store.digests.get_delivery(sub.id, day)
    assert row is not None and row.state == "pending"
    return row


def claimed(store: Store, sub: Subscriber, holder: str = "host:1:a") -> Delivery:
    row = one_row(store, sub)
    got = store.digests.claim(row, holder, NOW)
    assert got is not None
    return got


# -- subscribing ---------------------------------------------------------------------------


def test_request_then_confirm_once(store: Store) -> None:
    """A request makes a pending subscriber holding the nonce; confirming with that nonce
    activates it and clears the nonce, so the same link cannot confirm again."""
    sub = store.digests.request(wanted("Reader@Example.org", categories=("cs.CL",)), "n1", NOW)
    assert sub is not None
    assert (sub.status, sub.email, sub.categories) == ("pending", "reader@example.org",
                                                       ("cs.CL",))
    assert store.digests.nonce_of(sub.id) == "n1"
    assert store.digests.confirm(sub.id, "wrong", NOW) is None
    done = store.digests.confirm(sub.id, "n1", NOW + timedelta(minutes=5))
    assert done is not None and done.status == "active"
    assert done.confirmed_at == NOW + timedelta(minutes=5)
    assert store.digests.nonce_of(sub.id) is None
    assert store.digests.confirm(sub.id, "n1", NOW + timedelta(minutes=6)) is None


def test_a_second_request_kills_the_first_link(store: Store) -> None:
    """A new request replaces the nonce: the first link no longer confirms, the second does."""
    first = store.digests.request(wanted("r@example.org"), "first", NOW)
    second = store.digests.request(wanted("r@example.org"), "second", NOW + timedelta(hours=1))
    assert first is not None and second is not None and first.id == second.id
    assert store.digests.confirm(first.id, "first", NOW) is None
    assert store.digests.get(first.id).status == "pending"  # type: ignore[union-attr]
    confirmed = store.digests.confirm(first.id, "second", NOW)
    assert confirmed is not None and confirmed.status == "active"


def test_three_confirmation_mails_a_day_then_none(store: Store) -> None:
    """At most three requests a (UTC) day get a mail; the fourth gets None and leaves the
    third link alive; the next day the count starts again."""
    got = [store.digests.request(wanted("r@example.org"), f"n{i}", NOW + timedelta(hours=i))
           for i in range(MAX_CONFIRMATIONS_PER_DAY + 1)]
    assert [g is not None for g in got] == [True, True, True, False]
    assert store.digests.nonce_of(got[0].id) == "n2"  # type: ignore[union-attr]
    nxt = store.digests.request(wanted("r@example.org"), "tomorrow", NOW + timedelta(days=1))
    assert nxt is not None
    assert store.digests.nonce_of(nxt.id) == "tomorrow"


def test_suppressed_address_gets_no_mail(store: Store) -> None:
    """A suppressed address is never sent a confirmation mail."""
    sub = active(store, "bounces@example.org")
    for _ in range(3):
        store.digests.record_outcome(sub.id, hard_failure=True, suppress_after=3)
    assert store.digests.get(sub.id).status == "suppressed"  # type: ignore[union-attr]
    assert store.digests.request(wanted("bounces@example.org"), "n", NOW) is None
    assert store.digests.nonce_of(sub.id) is None


def test_unsubscribing_does_not_lift_a_suppression(store: Store) -> None:
    """Following an old unsubscribe link of a suppressed address keeps it suppressed, so a
    new request still sends it nothing (a hard-bouncing address stays off the list)."""
    sub = active(store, "bounces@example.org")
    for _ in range(3):
        store.digests.record_outcome(sub.id, hard_failure=True, suppress_after=3)
    after = store.digests.unsubscribe(sub.id, NOW)
    assert after is not None and after.status == "suppressed"
    assert store.digests.request(wanted("bounces@example.org"), "n", NOW) is None


def test_record_outcome_counts_failures_in_a_row(store: Store) -> None:
    """Two permanent failures, a success, then two more do not suppress; a third in a row
    does (and says so once)."""
    sub = active(store, "r@example.org")
    assert not store.digests.record_outcome(sub.id, True, 3)
    assert not store.digests.record_outcome(sub.id, True, 3)
    assert not store.digests.record_outcome(sub.id, False, 3)
    assert not store.digests.record_outcome(sub.id, True, 3)
    assert not store.digests.record_outcome(sub.id, True, 3)
    assert store.digests.get(sub.id).status == "active"  # type: ignore[union-attr]
    assert store.digests.record_outcome(sub.id, True, 3)
    assert store.digests.get(sub.id).status == "suppressed"  # type: ignore[union-attr]
    assert not store.digests.record_outcome(sub.id, True, 3)


def test_request_does_not_change_an_active_subscribers_preferences(store: Store) -> None:
    """A request for an active address only renews its confirmation nonce: preferences and
    status stay as they were (only the signed preferences link changes them)."""
    sub = active(store, "r@example.org", categories=("cs.IR",), queries=("dense retrieval",),
                 size=12, frequency="weekly", weekday=4)
    again = store.digests.request(
        wanted("r@example.org", categories=("cs.CV",), queries=("diffusion",)), "n", NOW)
    assert again is not None
    stored = store.digests.get(sub.id)
    assert stored is not None
    assert (stored.status, stored.categories, stored.queries, stored.size, stored.frequency,
            stored.weekday) == ("active", ("cs.IR",), ("dense retrieval",), 12, "weekly", 4)


def test_an_unsubscribed_address_resubscribes_through_a_new_confirmation(store: Store) -> None:
    """After unsubscribing, a request makes the address pending with the new preferences;
    only its confirmation makes it active again."""
    sub = active(store, "r@example.org", categories=("cs.IR",))
    store.digests.unsubscribe(sub.id, NOW)
    again = store.digests.request(wanted("r@example.org", categories=("cs.CV",)), "n", NOW)
    assert again is not None and (again.status, again.categories) == ("pending", ("cs.CV",))
    assert list(store.digests.active()) == []
    assert store.digests.confirm(sub.id, "n", NOW) is not None
    assert [s.id for s in store.digests.active()] == [sub.id]


def test_unsubscribe_skips_pending_deliveries_and_gives_their_papers_back(store: Store) -> None:
    """Unsubscribing turns the subscriber's pending ledger rows into ``skipped`` (the sent
    ones stay) and releases the papers a pending retry had reserved, since they were never
    delivered."""
    sub = active(store, "r@example.org")
    sent = claimed(store, sub, "h")
    assert store.digests.save_composition(sent, "h", ITEMS[:1], None, PERIOD, "<m1@x>")
    assert store.digests.finish(sent, "h", "sent", NOW)
    retry_day = DAY + timedelta(days=1)
    store.digests.ensure_deliveries([(sub.id, retry_day, NOW + timedelta(days=2))], NOW)
    row = store.digests.get_delivery(sub.id, retry_day)
    assert row is not None
    got = store.digests.claim(row, "h", NOW)
    assert got is not None
    assert store.digests.save_composition(got, "h", ITEMS[1:], None, PERIOD, "<m2@x>")
    assert store.digests.finish(got, "h", "pending", NOW, code=451,
                                next_attempt_at=NOW + timedelta(minutes=1))
    assert store.digests.sent_paper_ids(sub.id) == {"2606.00001", "2606.00002"}

    after = store.digests.unsubscribe(sub.id, NOW)
    assert after is not None and after.status == "unsubscribed"
    assert store.digests.get_delivery(sub.id, DAY).state == "sent"  # type: ignore[union-attr]
    skipped = store.digests.get_delivery(sub.id, retry_day)
    assert skipped is not None and skipped.state == "skipped"
    assert store.digests.sent_paper_ids(sub.id) == {"2606.00001"}
    assert store.digests.claimable(NOW + timedelta(hours=1), STALE_BEFORE) == []
    assert store.digests.unsubscribe(sub.id, NOW) is not None  # repeating is harmless
    assert store.digests.unsubscribe(10_000, NOW) is None


def test_purge_unconfirmed_removes_only_old_pending_requests(store: Store) -> None:
    """Pending addresses whose request is older than the cut-off are deleted; newer pending,
    active and unsubscribed ones stay."""
    old = store.digests.request(wanted("old@example.org"), "n", NOW - timedelta(days=8))
    new = store.digests.request(wanted("new@example.org"), "n", NOW - timedelta(days=2))
    kept = active(store, "active@example.org")
    assert old is not None and new is not None
    assert store.digests.purge_unconfirmed(NOW - timedelta(days=7)) == 1
    assert store.digests.get(old.id) is None
    assert store.digests.get(new.id) is not None
    assert store.digests.get(kept.id) is not None


def test_purge_keeps_a_pending_address_that_asked_again_recently(store: Store) -> None:
    """A pending address first asked 10 days ago that asked again today holds a live link:
    the purge must not delete it under that link."""
    first = store.digests.request(wanted("slow@example.org"), "n1", NOW - timedelta(days=10))
    assert first is not None
    again = store.digests.request(wanted("slow@example.org"), "n2", NOW)
    assert again is not None
    assert store.digests.purge_unconfirmed(NOW - timedelta(days=7)) == 0
    confirmed = store.digests.confirm(first.id, "n2", NOW + timedelta(hours=1))
    assert confirmed is not None and confirmed.status == "active"


# -- the ledger ------------------------------------------------------------------------------


def test_ensure_deliveries_is_idempotent_per_subscriber_and_date(store: Store) -> None:
    """Planning the same (subscriber, date) twice adds one row; another date adds another."""
    a, b = active(store, "a@example.org"), active(store, "b@example.org")
    due = [(a.id, DAY, NOW + timedelta(days=1)), (b.id, DAY, NOW + timedelta(days=1))]
    assert store.digests.ensure_deliveries(due, NOW) == 2
    assert store.digests.ensure_deliveries(due, NOW + timedelta(minutes=10)) == 0
    assert store.digests.ensure_deliveries([*due, (a.id, DAY + timedelta(days=1), NOW)],
                                           NOW) == 1
    assert store.digests.count_deliveries(DAY) == {"pending": 2}
    assert len(store.digests.deliveries_for()) == 3
    assert store.digests.ensure_deliveries([], NOW) == 0


def test_two_claims_of_the_same_row_one_wins(store: Store) -> None:
    """Two runs that saw the same pending row both try to claim it: exactly one gets it; the
    winner's row is ``sending`` under its name with one attempt."""
    row = one_row(store, active(store, "r@example.org"))
    first = store.digests.claim(row, "host:1:a", NOW)
    second = store.digests.claim(row, "host:2:b", NOW)
    assert first is not None and second is None
    assert (first.state, first.claimed_by, first.attempts) == ("sending", "host:1:a", 1)


def test_concurrent_claims_exactly_one_wins(store: Store) -> None:
    """Eight threads claim the same seen row at once: exactly one succeeds."""
    row = one_row(store, active(store, "r@example.org"))
    barrier = threading.Barrier(8)
    wins: list[str] = []

    def worker(i: int) -> None:
        barrier.wait()
        if store.digests.claim(row, f"host:{i}:x", NOW) is not None:
            wins.append(f"host:{i}:x")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(wins) == 1
    assert store.digests.get_delivery(row.subscriber_id, DAY).claimed_by == wins[0]  # type: ignore[union-attr]


def test_a_live_claim_is_not_claimable_but_a_stale_or_dead_one_is(store: Store) -> None:
    """A fresh ``sending`` row is nobody else's to take; once its claim is stale, or its
    holder is named dead, it is claimable again and one new claim takes it."""
    row = claimed(store, active(store, "r@example.org"), "host:1:a")
    assert store.digests.claimable(NOW, STALE_BEFORE) == []
    assert [d.id for d in store.digests.claimable(NOW, STALE_BEFORE, 10, ["host:1:a"])] == [row.id]
    later = NOW + timedelta(minutes=11)
    stale = store.digests.claimable(later, later - timedelta(minutes=10))
    assert [d.id for d in stale] == [row.id]
    assert stale[0].state == "sending" and stale[0].claimed_by == "host:1:a"
    taken = store.digests.claim(stale[0], "host:2:b", later)
    assert taken is not None and (taken.claimed_by, taken.attempts) == ("host:2:b", 2)
    assert store.digests.claim(stale[0], "host:3:c", later) is None
    # the old holder cannot record an outcome any more
    assert not store.digests.finish(row, "host:1:a", "sent", later)
    assert store.digests.finish(taken, "host:2:b", "sent", later, code=250)
    assert store.digests.get_delivery(row.subscriber_id, DAY).state == "sent"  # type: ignore[union-attr]


def test_pending_row_waits_for_its_next_attempt(store: Store) -> None:
    """A retried row is claimable only from its ``next_attempt_at``; oldest first."""
    a, b = active(store, "a@example.org"), active(store, "b@example.org")
    row = claimed(store, a, "h")
    assert store.digests.finish(row, "h", "pending", NOW, code=451, error="451 later",
                                next_attempt_at=NOW + timedelta(minutes=2))
    one_row(store, b)
    assert [d.subscriber_id for d in store.digests.claimable(NOW, STALE_BEFORE)] == [b.id]
    due = store.digests.claimable(NOW + timedelta(minutes=2), STALE_BEFORE)
    assert [d.subscriber_id for d in due] == [b.id, a.id]
    retry = next(d for d in due if d.subscriber_id == a.id)
    assert (retry.last_code, retry.last_error, retry.claimed_by) == (451, "451 later", None)


def test_save_composition_keeps_the_digest_and_reserves_its_papers(store: Store) -> None:
    """Saving a composition stores items, note, period and Message-ID on the row and
    reserves the papers for that subscriber in the same transaction."""
    sub = active(store, "r@example.org")
    row = claimed(store, sub, "h")
    assert store.digests.save_composition(row, "h", ITEMS, "a note", PERIOD, "<id@x>")
    got = store.digests.get_delivery(sub.id, DAY)
    assert got is not None
    assert (got.items, got.note, got.period, got.message_id) == (ITEMS, "a note", PERIOD,
                                                                 "<id@x>")
    assert store.digests.sent_paper_ids(sub.id) == {"2606.00001", "2606.00002"}
    assert store.digests.sent_paper_ids(sub.id, before=DAY) == set()
    assert store.digests.sent_paper_ids(sub.id, before=DAY + timedelta(days=1)) == {
        "2606.00001", "2606.00002"}


def test_save_composition_under_a_lost_claim_changes_nothing(store: Store) -> None:
    """A run whose claim was taken over cannot save a composition or reserve papers."""
    sub = active(store, "r@example.org")
    row = claimed(store, sub, "host:1:a")
    later = NOW + timedelta(minutes=11)
    stale = store.digests.claimable(later, later - timedelta(minutes=10))[0]
    assert store.digests.claim(stale, "host:2:b", later) is not None
    assert not store.digests.save_composition(row, "host:1:a", ITEMS, None, PERIOD, "<id@x>")
    assert store.digests.get_delivery(sub.id, DAY).items is None  # type: ignore[union-attr]
    assert store.digests.sent_paper_ids(sub.id) == set()


def test_failed_and_expired_give_the_papers_back_sent_keeps_them(store: Store) -> None:
    """``failed`` and ``expired`` outcomes release the reserved papers; ``sent`` keeps them
    and records when."""
    for state in ("failed", "expired", "skipped", "sent"):
        sub = active(store, f"{state}@example.org")
        row = claimed(store, sub, "h")
        assert store.digests.save_composition(row, "h", ITEMS, None, PERIOD, "<id@x>")
        assert store.digests.finish(row, "h", state, NOW, code=550 if state == "failed" else None)
        after = store.digests.get_delivery(sub.id, DAY)
        assert after is not None and after.state == state and after.claimed_by is None
        kept = store.digests.sent_paper_ids(sub.id)
        if state == "sent":
            assert kept == {"2606.00001", "2606.00002"} and after.sent_at == NOW
        else:
            assert kept == set(), state


def test_finish_gives_back_only_that_days_papers(store: Store) -> None:
    """A failed digest releases its own papers, not those of an earlier delivered one."""
    sub = active(store, "r@example.org")
    first = claimed(store, sub, "h")
    store.digests.save_composition(first, "h", ITEMS[:1], None, PERIOD, "<a@x>")
    store.digests.finish(first, "h", "sent", NOW)
    nxt = DAY + timedelta(days=1)
    store.digests.ensure_deliveries([(sub.id, nxt, NOW + timedelta(days=2))], NOW)
    row = store.digests.claim(store.digests.get_delivery(sub.id, nxt), "h", NOW)  # type: ignore[arg-type]
    assert row is not None
    store.digests.save_composition(row, "h", ITEMS[1:], None, PERIOD, "<b@x>")
    store.digests.finish(row, "h", "failed", NOW, code=550)
    assert store.digests.sent_paper_ids(sub.id) == {"2606.00001"}


def test_expire_turns_overdue_pending_rows_into_expired(store: Store) -> None:
    """``expire`` marks pending rows at or past their cut-off expired, releasing their papers;
    rows not yet due to expire, and sent rows, stay."""
    late, ontime, done = (active(store, f"{n}@example.org") for n in ("late", "ontime", "done"))
    row = claimed(store, late, "h")
    store.digests.save_composition(row, "h", ITEMS, None, PERIOD, "<id@x>")
    store.digests.finish(row, "h", "pending", NOW, code=451,
                         next_attempt_at=NOW + timedelta(minutes=1))
    one_row(store, ontime, expires=NOW + timedelta(days=2))
    sent = claimed(store, done, "h")
    store.digests.finish(sent, "h", "sent", NOW)
    cut = NOW + timedelta(days=1)
    assert store.digests.expire(cut - timedelta(seconds=1)) == 0
    assert store.digests.expire(cut) == 1
    assert store.digests.get_delivery(late.id, DAY).state == "expired"  # type: ignore[union-attr]
    assert store.digests.get_delivery(ontime.id, DAY).state == "pending"  # type: ignore[union-attr]
    assert store.digests.get_delivery(done.id, DAY).state == "sent"  # type: ignore[union-attr]
    assert store.digests.sent_paper_ids(late.id) == set()
    assert store.digests.expire(cut) == 0


def test_last_period_end_counts_only_sent_digests(store: Store) -> None:
    """The next digest's period starts after the last *delivered* one: a failed or pending
    digest does not move it, and only digests before the date count."""
    sub = active(store, "r@example.org")
    row = claimed(store, sub, "h")
    store.digests.save_composition(row, "h", ITEMS, None, PERIOD, "<id@x>")
    assert store.digests.last_period_end(sub.id, DAY + timedelta(days=1)) is None
    store.digests.finish(row, "h", "sent", NOW)
    assert store.digests.last_period_end(sub.id, DAY + timedelta(days=1)) == PERIOD[1]
    assert store.digests.last_period_end(sub.id, DAY) is None

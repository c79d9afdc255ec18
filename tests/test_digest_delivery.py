"""Digest delivery end to end: the ledger (SQLite and PostgreSQL), the real composition over
real papers and Hugging Face signals, and a real SMTP server on loopback that misbehaves on
demand (tests/smtp_server.py). Every message is parsed back from the bytes the server got.

The store holds a slice of the bundled demo data: the papers first listed 1–12 June 2026 and
every paper with Hugging Face upvotes from 4 to 9 June. Signals stop on 9 June, so the week's
trending list stays the same for the digests of 10, 11 and 12 June (the "same papers keep
trending" case), while new papers keep arriving for interest matches.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage

import pytest

from paperwire.cli import DEMO_DATA, main
from paperwire.config import Settings
from paperwire.digests import deliver
from paperwire.digests.deliver import PAUSE_AFTER_SYSTEMIC, RunReport, cut_off, due_day
from paperwire.digests.mailer import SmtpMailer
from paperwire.digests.render import digest_message_id
from paperwire.digests.service import DigestContext
from paperwire.digests.subscriptions import confirm, subscribe
from paperwire.errors import TokenError
from paperwire.importers import run_import
from paperwire.models import Paper, Signal
from paperwire.records import Subscriber
from paperwire.smtp_url import parse_smtp_url
from paperwire.store import Store
from smtp_server import FaultySmtpServer, Received

BASE = "https://papers.example.org"
FROM = "Paperwire <digest@papers.example.org>"
DAY = date(2026, 6, 10)  # a Wednesday; its digest covers Tuesday 9 June
NOON = datetime(2026, 6, 10, 12, 0)  # UTC: past 7:00 in UTC and in New York (8:00 EDT)
# a paper's link in a digest: its page, or the (signed) click-counting redirect to it
PAPER_URL = re.compile(re.escape(BASE) + r"/(?:go|papers)/([0-9A-Za-z.:_-]+)(?=[\s\"<?]|$)")


# -- data ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_slice(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Paper], list[Signal]]:
    """Real papers and signals from the bundled demo data (imported once per module)."""
    folder = tmp_path_factory.mktemp("demo_slice")
    full = Store.open(f"sqlite:///{folder / 'demo.db'}")
    files = [f for f in sorted(DEMO_DATA.iterdir()) if f.name != "seed-papers.jsonl"]
    run_import(full, files, progress=False)
    signals = [s for s in full.signals_between(date(2026, 6, 4), date(2026, 6, 9))]
    ids = {p.id for p in full.published_between(date(2026, 6, 1), date(2026, 6, 12), None,
                                                10_000)}
    papers = list(full.get_papers(ids | {s.paper_id for s in signals}).values())
    full.close()
    assert len(signals) > 80 and len(papers) > 200
    return papers, signals


@pytest.fixture
def filled(store: Store, demo_slice: tuple[list[Paper], list[Signal]]) -> Store:
    papers, signals = demo_slice
    store.write_batch(papers, signals)
    return store


@pytest.fixture
def ctx(filled: Store, settings: Settings) -> DigestContext:
    return DigestContext(filled, replace(settings, base_url=BASE, mail_from=FROM,
                                         digest_send_rate=0))


@pytest.fixture
def mailer(smtp_server: FaultySmtpServer) -> Iterator[SmtpMailer]:
    with SmtpMailer(parse_smtp_url(f"{smtp_server.url}?timeout=10"), "client.test") as m:
        yield m


PEOPLE = {
    "trend@example.org": {"mode": "trending", "size": 5},
    "cl@example.org": {"categories": ("cs.CL",), "size": 6},
    "vision@example.org": {"categories": ("cs.CV", "cs.AI"), "size": 6},
    "agents@example.org": {"queries": ("coding agents",), "size": 5},
    "ny@example.org": {"timezone": "America/New_York", "hour": 7, "size": 4},
    "weekly@example.org": {"frequency": "weekly", "weekday": DAY.weekday(), "size": 8},
}


def add(store: Store, email: str, **prefs: object) -> Subscriber:
    return store.digests.activate(Subscriber(id=0, email=email, **prefs),  # type: ignore[arg-type]
                                  NOON - timedelta(days=30))


def add_people(store: Store, emails: list[str] | None = None) -> dict[str, Subscriber]:
    return {e: add(store, e, **p) for e, p in PEOPLE.items() if emails is None or e in emails}


def at(when: datetime) -> Callable[[], datetime]:
    return lambda: when


def send(ctx: DigestContext, mailer: SmtpMailer, when: datetime,
         day: date | None = None) -> RunReport:
    return deliver.run(ctx, mailer, at(when), day)


# -- reading messages back -----------------------------------------------------------------


def body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body((kind,))
    assert part is not None, f"no text/{kind} part"
    return str(part.get_content())


def listed(msg: EmailMessage, kind: str) -> list[str]:
    """The paper ids a part links to, in order, each once."""
    return list(dict.fromkeys(PAPER_URL.findall(body(msg, kind))))


def by_recipient(received: list[Received]) -> dict[str, list[EmailMessage]]:
    out: dict[str, list[EmailMessage]] = {}
    for r in received:
        assert len(r.rcpt_tos) == 1
        out.setdefault(r.rcpt_tos[0], []).append(r.message)
    return out


def check_digest(msg: EmailMessage, sub: Subscriber, day: date, store: Store) -> list[str]:
    """Assert everything a delivered digest must carry; return its paper ids."""
    assert msg["To"] == sub.email
    assert msg["From"] == FROM
    assert msg["Subject"].startswith(f"Paperwire · {day.day} Jun 2026 · ")
    assert msg["Message-ID"] == digest_message_id(sub.id, day, BASE)
    unsub = str(msg["List-Unsubscribe"])
    assert re.fullmatch(r"<https://papers\.example\.org/unsubscribe\?token=[\w.%-]+>", unsub)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text_ids, html_ids = listed(msg, "plain"), listed(msg, "html")
    assert text_ids == html_ids
    row = store.digests.get_delivery(sub.id, day)
    assert row is not None and row.state == "sent" and row.items is not None
    assert [it["id"] for it in row.items] == text_ids
    assert row.message_id == msg["Message-ID"]
    return text_ids


# -- a clean run ---------------------------------------------------------------------------


def test_one_digest_per_subscriber_and_a_second_run_sends_nothing(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """A run sends exactly one digest to each due subscriber, each correct in every header
    and listing the same papers in both parts; running again sends nothing."""
    people = add_people(ctx.store)
    report = send(ctx, mailer, NOON)
    assert (report.planned, report.sent, report.failed, report.retrying) == (6, 6, 0, 0)
    assert report.paused is None
    got = by_recipient(smtp_server.received)
    assert sorted(got) == sorted(people)
    for email, sub in people.items():
        [msg] = got[email]
        ids = check_digest(msg, sub, DAY, ctx.store)
        assert 1 <= len(ids) <= sub.size
    # what each kind of subscriber got
    cl = ctx.store.get_papers(listed(got["cl@example.org"][0], "plain"))
    assert any("cs.CL" in p.categories for p in cl.values())
    trend_text = body(got["trend@example.org"][0], "plain")
    assert "== Trending ==" in trend_text and "== Matching" not in trend_text
    assert "Why: Trending: " in trend_text
    assert 'Matches your interest "coding agents"' in body(got["agents@example.org"][0],
                                                           "plain")

    again = send(ctx, mailer, NOON + timedelta(minutes=30))
    assert (again.planned, again.sent) == (0, 0)
    assert len(smtp_server.received) == 6
    assert ctx.store.digests.count_deliveries(DAY) == {"sent": 6}


def test_matches_cover_the_period_and_trending_fills_the_rest(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """A category subscriber's matches are papers first listed in the period (9 June) in
    that category, and a query subscriber's are search hits first listed in the period;
    both listed before the trending ones."""
    sub = add(ctx.store, "cl@example.org", categories=("cs.CL",), size=6)
    seeker = add(ctx.store, "agents@example.org", queries=("coding agents",), size=6)
    send(ctx, mailer, NOON)
    row = ctx.store.digests.get_delivery(sub.id, DAY)
    assert row is not None and row.items is not None and row.period == (date(2026, 6, 9),) * 2
    kinds = [it["kind"] for it in row.items]
    assert kinds == sorted(kinds, key=lambda k: k != "match") and "match" in kinds
    papers = ctx.store.get_papers(it["id"] for it in row.items)
    for it in row.items:
        if it["kind"] == "match":
            p = papers[it["id"]]
            assert p.published == date(2026, 6, 9) and p.primary_category == "cs.CL"
            assert it["why"] == "New in cs.CL"
    found = ctx.store.digests.get_delivery(seeker.id, DAY)
    assert found is not None and found.items is not None
    hits = [it for it in found.items if it["kind"] == "match"]
    assert hits and all(it["why"] == 'Matches your interest "coding agents"' for it in hits)
    for it in hits:
        assert ctx.store.get_papers([it["id"]])[it["id"]].published == date(2026, 6, 9)


def test_two_runs_at_once_send_each_digest_once(
    ctx: DigestContext, smtp_server: FaultySmtpServer
) -> None:
    """Two runs started together (say cron and the worker) share the work through the
    ledger's claims: every subscriber gets exactly one digest."""
    people = [add(ctx.store, f"r{i:02d}@example.org", mode="trending", size=2 + i % 4)
              for i in range(40)]
    barrier = threading.Barrier(2)
    reports: list[RunReport] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            with SmtpMailer(parse_smtp_url(f"{smtp_server.url}?timeout=10"), "c.test") as m:
                barrier.wait()
                reports.append(send(ctx, m, NOON))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    assert sum(r.sent for r in reports) == len(people)
    got = by_recipient(smtp_server.received)
    assert sorted(got) == sorted(p.email for p in people)
    assert all(len(msgs) == 1 for msgs in got.values())
    assert ctx.store.digests.count_deliveries(DAY) == {"sent": len(people)}


# -- temporary failures --------------------------------------------------------------------


@pytest.mark.parametrize(("stage", "code"), [
    ("rcpt", 451), ("rcpt", 452), ("rcpt", 421), ("data", 451), ("data", 452), ("data", 421)])
def test_a_temporary_failure_is_retried_after_a_backoff(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer, stage: str, code: int
) -> None:
    """A 4xx at RCPT or after the data puts the row back to pending with its next attempt a
    minute later; a run before then leaves it alone, a run after sends it, once."""
    people = add_people(ctx.store, ["trend@example.org", "cl@example.org"])
    victim = people["cl@example.org"]
    fail = smtp_server.fail_rcpt if stage == "rcpt" else smtp_server.fail_data
    fail(code, to=victim.email, times=1)
    first = send(ctx, mailer, NOON)
    assert (first.sent, first.retrying) == (1, 1)
    row = ctx.store.digests.get_delivery(victim.id, DAY)
    assert row is not None
    assert (row.state, row.attempts, row.last_code) == ("pending", 1, code)
    assert row.next_attempt_at == NOON + timedelta(minutes=1)
    assert row.items is not None  # composed once: the retry sends the very same digest

    assert send(ctx, mailer, NOON + timedelta(seconds=59)).sent == 0
    later = send(ctx, mailer, NOON + timedelta(minutes=1))
    assert (later.sent, later.retrying) == (1, 0)
    got = by_recipient(smtp_server.received)
    assert Counter({k: len(v) for k, v in got.items()}) == Counter(
        {"trend@example.org": 1, "cl@example.org": 1})
    assert listed(got[victim.email][0], "plain") == [it["id"] for it in row.items]
    check_digest(got[victim.email][0], victim, DAY, ctx.store)


def test_backoff_doubles_up_to_an_hour(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """Each further 4xx waits twice as long: 1, 2, 4, 8 minutes after each attempt."""
    sub = add(ctx.store, "cl@example.org", categories=("cs.CL",))
    smtp_server.fail_rcpt(451, to=sub.email)
    when = NOON
    waits = []
    for _ in range(4):
        send(ctx, mailer, when)
        row = ctx.store.digests.get_delivery(sub.id, DAY)
        assert row is not None and row.state == "pending"
        waits.append(row.next_attempt_at - when)
        when = row.next_attempt_at
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert deliver.backoff(20) == timedelta(hours=1)


def test_dropped_connection_before_the_dot_is_retried(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """A connection dropped during DATA leaves nothing at the server; the digest is retried
    and then delivered exactly once."""
    sub = add(ctx.store, "cl@example.org", categories=("cs.CL",))
    smtp_server.drop_before_dot(to=sub.email, times=1)
    first = send(ctx, mailer, NOON)
    assert (first.sent, first.retrying) == (0, 1)
    assert smtp_server.received == []
    assert send(ctx, mailer, NOON + timedelta(minutes=1)).sent == 1
    [msg] = by_recipient(smtp_server.received)[sub.email]
    check_digest(msg, sub, DAY, ctx.store)


def test_drop_after_the_dot_resends_the_same_message(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """The ambiguous case: the server took the message and hung up before replying. The
    digest is retried, and the resend carries the same Message-ID and the same papers, so
    the receiving side can tell it is the same mail."""
    sub = add(ctx.store, "trend@example.org", mode="trending", size=5)
    smtp_server.drop_after_dot(to=sub.email, times=1)
    first = send(ctx, mailer, NOON)
    assert (first.sent, first.retrying) == (0, 1)
    assert ctx.store.digests.get_delivery(sub.id, DAY).state == "pending"  # type: ignore[union-attr]
    assert send(ctx, mailer, NOON + timedelta(minutes=1)).sent == 1
    copies = by_recipient(smtp_server.received)[sub.email]
    assert len(copies) == 2
    assert copies[0]["Message-ID"] == copies[1]["Message-ID"]
    assert listed(copies[0], "plain") == listed(copies[1], "plain")
    assert body(copies[0], "plain") == body(copies[1], "plain")
    assert body(copies[0], "html") == body(copies[1], "html")
    check_digest(copies[1], sub, DAY, ctx.store)


@pytest.mark.parametrize("at_stage", ["rcpt", "data"])
def test_a_stalled_server_times_out_and_is_retried(
    ctx: DigestContext, smtp_server: FaultySmtpServer, at_stage: str
) -> None:
    """A server that stops answering (past the mailer's 1 s timeout) makes a retry, not a
    loss and not a failure; the retry delivers once."""
    sub = add(ctx.store, "cl@example.org", categories=("cs.CL",))
    smtp_server.stall(at_stage, seconds=4.0, to=sub.email, times=1)
    with SmtpMailer(parse_smtp_url(f"{smtp_server.url}?timeout=1"), "client.test") as mailer:
        first = send(ctx, mailer, NOON)
        assert (first.sent, first.retrying, first.failed) == (0, 1, 0)
        assert "no reply within 1 s" in first.errors[0]
        assert send(ctx, mailer, NOON + timedelta(minutes=1)).sent == 1
    assert len(by_recipient(smtp_server.received)[sub.email]) == 1


def test_a_retry_past_the_cut_off_expires(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """A digest still failing when its next attempt would fall after the cut-off (a day after
    its due time) is expired, its papers given back; a pending row found past the cut-off at
    the start of a run is expired too."""
    a = add(ctx.store, "a@example.org", mode="trending")
    b = add(ctx.store, "b@example.org", mode="trending")
    smtp_server.fail_rcpt(451)
    assert send(ctx, mailer, NOON).retrying == 2
    expires = cut_off(a, DAY)
    assert expires == datetime(2026, 6, 11, 7, 0)
    row = ctx.store.digests.get_delivery(a.id, DAY)
    assert row is not None and row.expires_at == expires
    # only a can be tried just before the cut-off: b waits until its next attempt
    b_row = ctx.store.digests.get_delivery(b.id, DAY)
    assert b_row is not None
    with ctx.store.engine.begin() as conn:
        from sqlalchemy import update

        from paperwire.store.schema import deliveries
        conn.execute(update(deliveries).where(deliveries.c.id == b_row.id)
                     .values(next_attempt_at=expires + timedelta(hours=1)))
    late = send(ctx, mailer, expires - timedelta(seconds=30))
    assert (late.expired, late.retrying, late.sent) == (1, 0, 0)
    assert ctx.store.digests.get_delivery(a.id, DAY).state == "expired"  # type: ignore[union-attr]
    assert ctx.store.digests.sent_paper_ids(a.id) == set()
    after = send(ctx, mailer, expires)
    assert after.expired == 1
    assert ctx.store.digests.get_delivery(b.id, DAY).state == "expired"  # type: ignore[union-attr]
    assert smtp_server.received == []


def test_a_crashed_claim_past_the_cut_off_is_not_sent(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """A digest left 'sending' by a run that died, found only after its cut-off, is not sent
    days late: it is expired and its papers given back."""
    sub = add(ctx.store, "a@example.org", mode="trending")
    deliver.plan(ctx, NOON)
    row = ctx.store.digests.get_delivery(sub.id, DAY)
    assert row is not None
    dead = ctx.store.digests.claim(row, "elsewhere:1:dead", NOON)
    assert dead is not None
    ctx.store.digests.save_composition(dead, "elsewhere:1:dead", [
        {"id": "2606.07297", "why": "Trending", "kind": "trending"}], None,
        (date(2026, 6, 9), date(2026, 6, 9)), digest_message_id(sub.id, DAY, BASE))
    two_days_later = NOON + timedelta(days=2)
    report = send(ctx, mailer, two_days_later, day=None)
    assert ctx.store.digests.get_delivery(sub.id, DAY).state == "expired"  # type: ignore[union-attr]
    assert report.expired == 1
    assert [r.message["Message-ID"] for r in smtp_server.received] == [
        digest_message_id(sub.id, date(2026, 6, 12), BASE)]  # only that day's own digest
    assert "2606.07297" not in ctx.store.digests.sent_paper_ids(sub.id, before=DAY + timedelta(1))


# -- permanent failures --------------------------------------------------------------------


@pytest.mark.parametrize(("stage", "code"), [("rcpt", 550), ("data", 554)])
def test_a_permanent_failure_fails_the_digest(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer, stage: str, code: int
) -> None:
    """A 5xx fails that digest for good (no retry), gives its papers back, and the others
    are still sent."""
    people = add_people(ctx.store, ["trend@example.org", "cl@example.org"])
    victim = people["cl@example.org"]
    fail = smtp_server.fail_rcpt if stage == "rcpt" else smtp_server.fail_data
    fail(code, to=victim.email)
    report = send(ctx, mailer, NOON)
    assert (report.sent, report.failed, report.retrying) == (1, 1, 0)
    row = ctx.store.digests.get_delivery(victim.id, DAY)
    assert row is not None and (row.state, row.last_code) == ("failed", code)
    assert ctx.store.digests.sent_paper_ids(victim.id) == set()
    assert send(ctx, mailer, NOON + timedelta(hours=2)).sent == 0
    assert list(by_recipient(smtp_server.received)) == ["trend@example.org"]


def test_three_failed_days_in_a_row_suppress_the_address(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """An address refused with 550 on three consecutive daily digests is suppressed on the
    third and gets no row on the fourth day; another address is unaffected."""
    bad = add(ctx.store, "gone@example.org", mode="trending", size=3)
    good = add(ctx.store, "fine@example.org", mode="trending", size=3)
    smtp_server.fail_rcpt(550, to=bad.email)
    reports = [send(ctx, mailer, NOON + timedelta(days=i)) for i in range(4)]
    assert [r.failed for r in reports] == [1, 1, 1, 0]
    assert [r.suppressed for r in reports] == [0, 0, 1, 0]
    assert [r.sent for r in reports] == [1, 1, 1, 1]
    assert ctx.store.digests.get(bad.id).status == "suppressed"  # type: ignore[union-attr]
    assert ctx.store.digests.get_delivery(bad.id, DAY + timedelta(days=3)) is None
    assert ctx.store.digests.get(good.id).status == "active"  # type: ignore[union-attr]
    assert len(by_recipient(smtp_server.received)[good.email]) == 4


def test_a_delivered_digest_resets_the_failure_count(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """Two failed days, one delivered, two failed again: not three *in a row*, so the
    address stays active."""
    sub = add(ctx.store, "flaky@example.org", mode="trending", size=2)
    for i, fails in enumerate([True, True, False, True, True]):
        smtp_server.clear_faults()
        if fails:
            smtp_server.fail_rcpt(550, to=sub.email)
        send(ctx, mailer, NOON + timedelta(days=i))
    assert ctx.store.digests.get(sub.id).status == "active"  # type: ignore[union-attr]


def test_authentication_failure_pauses_the_run(ctx: DigestContext) -> None:
    """A wrong password (535 at AUTH) on every message is not about any one address: the run
    stops after PAUSE_AFTER_SYSTEMIC attempts with ``paused`` set, fails nobody, and leaves
    every row pending for the next run."""
    people = [add(ctx.store, f"r{i}@example.org", mode="trending", size=3) for i in range(8)]
    with FaultySmtpServer(auth=("digest", "s3cret")) as server:
        url = f"smtp://digest:wrong@127.0.0.1:{server.port}?timeout=10"
        with SmtpMailer(parse_smtp_url(url), "client.test") as mailer:
            report = send(ctx, mailer, NOON)
        assert server.received == []
    assert report.paused is not None and "535" in report.paused
    assert report.sent == report.failed == report.suppressed == 0
    assert report.retrying == PAUSE_AFTER_SYSTEMIC
    rows = [ctx.store.digests.get_delivery(s.id, DAY) for s in people]
    assert all(r is not None and r.state == "pending" for r in rows)
    assert sorted(r.attempts for r in rows if r) == [0] * (8 - PAUSE_AFTER_SYSTEMIC) + [1] * 5
    assert all(ctx.store.digests.get(s.id).status == "active" for s in people)  # type: ignore[union-attr]


# -- across days ---------------------------------------------------------------------------


def test_no_paper_reaches_a_subscriber_twice_across_days(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """Daily digests on three consecutive days while the same papers keep trending: each
    subscriber gets one digest a day, and no paper twice over the three."""
    people = add_people(ctx.store, ["trend@example.org", "cl@example.org", "vision@example.org",
                                    "agents@example.org", "ny@example.org"])
    for i in range(3):
        report = send(ctx, mailer, NOON + timedelta(days=i))
        assert report.sent == len(people)
    got = by_recipient(smtp_server.received)
    for email, sub in people.items():
        msgs = got[email]
        assert len(msgs) == 3
        days = [DAY + timedelta(days=i) for i in range(3)]
        assert [m["Message-ID"] for m in msgs] == [digest_message_id(sub.id, d, BASE)
                                                   for d in days]
        seen: list[str] = []
        for msg, d in zip(msgs, days, strict=True):
            seen += check_digest(msg, sub, d, ctx.store)
        assert len(seen) == len(set(seen)), f"{email} got a paper twice"
        assert len(seen) > sub.size  # more than one day's worth: later days were not empty
        # each period starts the day after the previous one ended
        periods = [ctx.store.digests.get_delivery(sub.id, d).period for d in days]  # type: ignore[union-attr]
        assert periods == [(d - timedelta(days=1),) * 2 for d in days]


def test_weekly_subscribers_get_a_row_only_on_their_weekday(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """A weekly subscriber (Wednesday) is planned on Wednesday only, with a week-long period;
    a daily one every day."""
    people = add_people(ctx.store, ["weekly@example.org", "trend@example.org"])
    weekly = people["weekly@example.org"]
    for i in range(7):
        send(ctx, mailer, NOON + timedelta(days=i))
    rows = [d for d in ctx.store.digests.deliveries_for() if d.subscriber_id == weekly.id]
    assert [(r.digest_date, r.state) for r in rows] == [(DAY, "sent")]
    assert rows[0].period == (date(2026, 6, 3), date(2026, 6, 9))
    got = by_recipient(smtp_server.received)
    assert len(got["weekly@example.org"]) == 1 and len(got["trend@example.org"]) == 7
    assert "weekly Paperwire digest" in body(got["weekly@example.org"][0], "plain")
    # --date plans weekly subscribers on their weekday only, too
    assert deliver.plan(ctx, NOON, day=DAY + timedelta(days=8)) == 1


def test_due_day_follows_the_local_hour_and_time_zone() -> None:
    """The digest is due from the subscriber's local hour on their local date."""
    ny = Subscriber(id=1, email="ny@example.org", timezone="America/New_York", hour=7)
    assert due_day(ny, datetime(2026, 6, 10, 10, 59)) is None  # 06:59 EDT
    assert due_day(ny, datetime(2026, 6, 10, 11, 0)) == DAY  # 07:00 EDT
    assert due_day(ny, datetime(2026, 6, 11, 3, 0)) == DAY  # 23:00 EDT, still the 10th
    tokyo = Subscriber(id=2, email="t@example.org", timezone="Asia/Tokyo", hour=7)
    assert due_day(tokyo, datetime(2026, 6, 9, 22, 0)) == DAY  # 07:00 JST on the 10th
    assert due_day(tokyo, datetime(2026, 6, 9, 21, 59)) is None
    weekly = replace(ny, frequency="weekly", weekday=3)  # Thursday
    assert due_day(weekly, datetime(2026, 6, 10, 12, 0)) is None
    assert due_day(weekly, datetime(2026, 6, 11, 12, 0)) == date(2026, 6, 11)
    assert cut_off(ny, DAY) == datetime(2026, 6, 11, 11, 0)
    assert cut_off(weekly, DAY) == datetime(2026, 6, 13, 11, 0)


def test_a_run_plans_a_subscriber_only_once_their_hour_has_come(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """At 10:59 UTC the New York subscriber (7:00 local) is not due; at 11:00 they are."""
    ny = add(ctx.store, "ny@example.org", timezone="America/New_York", hour=7)
    utc = add(ctx.store, "utc@example.org", hour=11, mode="trending")
    assert send(ctx, mailer, datetime(2026, 6, 10, 10, 59)).sent == 0
    assert ctx.store.digests.deliveries_for() == []
    report = send(ctx, mailer, datetime(2026, 6, 10, 11, 0))
    assert report.sent == 2
    assert {d.subscriber_id for d in ctx.store.digests.deliveries_for(DAY)} == {ny.id, utc.id}


# -- nothing new ---------------------------------------------------------------------------


def test_nothing_new_is_skipped_by_choice_or_said_plainly(
    store: Store, settings: Settings, mailer: SmtpMailer, smtp_server: FaultySmtpServer,
    demo_slice: tuple[list[Paper], list[Signal]],
) -> None:
    """With no trending signals and no paper in their category, a ``skip_empty`` subscriber
    gets nothing (row ``skipped``); another gets a digest that says so plainly."""
    papers, _ = demo_slice
    store.write_batch(papers, [])
    ctx = DigestContext(store, replace(settings, base_url=BASE, mail_from=FROM,
                                       digest_send_rate=0))
    quiet = add(ctx.store, "quiet@example.org", categories=("math.AG",), skip_empty=True)
    told = add(ctx.store, "told@example.org", categories=("math.AG",))
    report = send(ctx, mailer, NOON)
    assert (report.sent, report.skipped) == (1, 1)
    assert ctx.store.digests.get_delivery(quiet.id, DAY).state == "skipped"  # type: ignore[union-attr]
    [msg] = by_recipient(smtp_server.received)[told.email]
    assert msg["Subject"] == "Paperwire · 10 Jun 2026 · nothing new today"
    text = " ".join(body(msg, "plain").split())
    new = ctx.store.count_published_between(date(2026, 6, 9), date(2026, 6, 9))
    assert new > 0
    assert (f"Nothing new for you for Tue 9 Jun: none of the {new} new papers matched your "
            "interests (math.AG), and nothing new is trending.") in text
    assert listed(msg, "plain") == []
    assert msg["Message-ID"] == digest_message_id(told.id, DAY, BASE)


def test_unsubscribed_between_plan_and_send_is_skipped(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """A subscriber who unsubscribes after the run planned their digest gets nothing."""
    sub = add(ctx.store, "gone@example.org", mode="trending")
    keep = add(ctx.store, "kept@example.org", mode="trending")
    deliver.plan(ctx, NOON)
    ctx.store.digests.unsubscribe(sub.id, NOON)
    report = send(ctx, mailer, NOON)
    assert (report.sent, report.skipped) == (1, 0)  # the row was already skipped
    assert list(by_recipient(smtp_server.received)) == [keep.email]
    assert ctx.store.digests.get_delivery(sub.id, DAY).state == "skipped"  # type: ignore[union-attr]


# -- double opt-in -------------------------------------------------------------------------


def test_subscribe_sends_one_confirmation_and_nothing_else_until_confirmed(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """``subscribe`` sends exactly one confirmation mail; a digest run before confirming
    sends nothing; following the link in the mail activates the subscription (once), and
    the next run sends the digest."""
    assert subscribe(ctx, mailer, "New.Reader@Example.ORG", categories=["cs.CL"],
                     now=NOON - timedelta(hours=6))
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ("new.reader@example.org",)
    assert mail.message["Subject"] == "Confirm your Paperwire digest subscription"
    links = re.findall(re.escape(BASE) + r"/subscribe/confirm\?token=([\w.-]+)",
                       body(mail.message, "plain"))
    assert len(links) == 1
    assert links[0] in body(mail.message, "html")
    assert send(ctx, mailer, NOON).planned == 0
    assert len(smtp_server.received) == 1

    with pytest.raises(TokenError):
        confirm(ctx, links[0] + "x", NOON)
    sub = confirm(ctx, links[0], NOON)
    assert (sub.status, sub.categories) == ("active", ("cs.CL",))
    with pytest.raises(TokenError, match="already used"):
        confirm(ctx, links[0], NOON)
    report = send(ctx, mailer, NOON + timedelta(minutes=1))
    assert report.sent == 1
    check_digest(smtp_server.received[-1].message, sub, DAY, ctx.store)


def test_a_confirmation_link_expires_after_48_hours(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """The link in the confirmation mail stops working 48 hours after it was sent."""
    subscribe(ctx, mailer, "late@example.org", now=NOON)
    [token] = re.findall(r"confirm\?token=([\w.-]+)", body(smtp_server.received[0].message,
                                                            "plain"))
    with pytest.raises(TokenError, match="expired"):
        confirm(ctx, token, NOON + timedelta(hours=48))
    assert ctx.store.digests.by_email("late@example.org").status == "pending"  # type: ignore[union-attr]


def test_the_fourth_request_of_a_day_sends_no_mail(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """Three confirmation mails a day reach one address; the fourth request sends none."""
    sent = [subscribe(ctx, mailer, "r@example.org", now=NOON + timedelta(minutes=i))
            for i in range(4)]
    assert sent == [True, True, True, False]
    assert len(smtp_server.received) == 3


# -- the CLI -------------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


def test_cli_digest_send(
    filled: Store, cli_env: dict[str, str], smtp_server: FaultySmtpServer,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """``paperwire digest send --date D`` against the SMTP server of PAPERWIRE_SMTP_URL sends
    one digest per subscriber, exits 0 and prints a one-line summary; again, it sends
    nothing; ``digest status`` shows the ledger."""
    monkeypatch.setenv("PAPERWIRE_SMTP_URL", f"{smtp_server.url}?timeout=10")
    monkeypatch.setenv("PAPERWIRE_DIGEST_SEND_RATE", "0")
    monkeypatch.setenv("PAPERWIRE_BASE_URL", BASE)
    people = add_people(filled, ["trend@example.org", "cl@example.org", "weekly@example.org"])
    smtp_server.fail_rcpt(451, to="cl@example.org", times=1)
    code, out, err = run_cli(capsys, "digest", "send", "--date", DAY.isoformat())
    assert code == 0, err
    assert out == "digests: 2 sent, 1 to retry, 0 failed, 0 expired, 0 skipped\n"
    got = by_recipient(smtp_server.received)
    assert sorted(got) == ["trend@example.org", "weekly@example.org"]
    for email in got:
        assert got[email][0]["Message-ID"] == digest_message_id(people[email].id, DAY, BASE)
    code, out, _ = run_cli(capsys, "digest", "send", "--date", DAY.isoformat())
    assert code == 0 and out.startswith("digests: 0 sent, 0 to retry")
    code, out, _ = run_cli(capsys, "digest", "status", "--date", DAY.isoformat())
    assert code == 0
    assert out == "subscribers: 3 active\ndeliveries: 1 pending, 2 sent\n"


def test_cli_digest_send_paused_exits_1_with_one_error_line(
    filled: Store, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """When every message meets a refused login the run pauses: exit 1 and exactly one
    ``error:`` line on stderr naming the cause; nothing is sent or failed."""
    for i in range(PAUSE_AFTER_SYSTEMIC + 2):
        add(filled, f"r{i}@example.org", mode="trending", size=2)
    with FaultySmtpServer(auth=("digest", "s3cret")) as server:
        monkeypatch.setenv("PAPERWIRE_SMTP_URL",
                           f"smtp://digest:wrong@127.0.0.1:{server.port}?timeout=10")
        monkeypatch.setenv("PAPERWIRE_DIGEST_SEND_RATE", "0")
        code, out, err = run_cli(capsys, "digest", "send", "--date", DAY.isoformat())
        assert server.received == []
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: digest run paused:")
    assert "535" in lines[0] and "wrong" not in lines[0]
    assert out.startswith("digests: 0 sent, 5 to retry")
    assert filled.digests.count_deliveries(DAY) == {"pending": PAUSE_AFTER_SYSTEMIC + 2}


def test_cli_subscribe_sends_one_confirmation_and_admin_confirmed_sends_none(
    filled: Store, cli_env: dict[str, str], smtp_server: FaultySmtpServer,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """``paperwire subscribe EMAIL`` sends one confirmation mail and leaves the address
    pending; ``--confirmed`` adds it active and sends nothing. The answer never says
    whether the address was known."""
    monkeypatch.setenv("PAPERWIRE_SMTP_URL", f"{smtp_server.url}?timeout=10")
    code, out, _ = run_cli(capsys, "subscribe", "reader@example.org", "--category", "cs.CL")
    assert code == 0 and "a confirmation mail is on its way" in out
    assert [r.rcpt_tos for r in smtp_server.received] == [("reader@example.org",)]
    assert filled.digests.by_email("reader@example.org").status == "pending"  # type: ignore[union-attr]
    code, again, _ = run_cli(capsys, "subscribe", "reader@example.org")
    assert code == 0 and again == out
    code, out, _ = run_cli(capsys, "subscribe", "boss@example.org", "--confirmed")
    assert code == 0 and "confirmed by an admin" in out
    assert filled.digests.by_email("boss@example.org").status == "active"  # type: ignore[union-attr]
    assert len(smtp_server.received) == 2  # the two requests for reader@, nothing for boss@


def test_cli_preview_shows_the_digest_and_records_nothing(
    filled: Store, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``digest preview`` prints the subject and the text part for a subscriber and a date,
    sends nothing and leaves the ledger and the reserved papers empty."""
    monkeypatch.setenv("PAPERWIRE_BASE_URL", BASE)
    sub = add(filled, "trend@example.org", mode="trending", size=3)
    code, out, err = run_cli(capsys, "digest", "preview", sub.email, "--date", DAY.isoformat())
    assert code == 0, err
    assert out.startswith("Subject: Paperwire · 10 Jun 2026 · ")
    assert "To: trend@example.org" in out and "== Trending ==" in out
    assert len(PAPER_URL.findall(out)) == 3
    assert filled.digests.deliveries_for() == []
    assert filled.digests.sent_paper_ids(sub.id) == set()
    code, _, err = run_cli(capsys, "digest", "preview", "nobody@example.org")
    assert code == 1 and err.startswith("error: no subscriber")


def test_two_due_days_of_one_subscriber_are_composed_in_order(
    ctx: DigestContext, mailer: SmtpMailer
) -> None:
    """A subscriber whose digest of one day is still due when the next day's is (a retry, a
    run that did not happen): both are claimed in one batch, but the later one is composed
    once the earlier one is sent, so its period starts the day after the earlier one's."""
    sub = add(ctx.store, "trend@example.org", mode="trending", size=4)
    assert send(ctx, mailer, NOON - timedelta(days=4), DAY - timedelta(days=4)).sent == 1
    ctx.store.digests.ensure_deliveries(
        [(sub.id, DAY - timedelta(days=1), NOON + timedelta(days=1))], NOON)
    assert send(ctx, mailer, NOON, DAY).sent == 2
    earlier = ctx.store.digests.get_delivery(sub.id, DAY - timedelta(days=1))
    later = ctx.store.digests.get_delivery(sub.id, DAY)
    assert earlier is not None and later is not None
    assert earlier.period == (DAY - timedelta(days=4), DAY - timedelta(days=2))
    assert later.period == (DAY - timedelta(days=1), DAY - timedelta(days=1))


# -- one run's shortcuts: each interest searched once, histories read per batch ------------


def test_a_runs_interest_searches_are_each_subscribers_own(ctx: DigestContext) -> None:
    """The interest searches a run keeps (one per query, period and categories, at the
    engine's depth) give every subscriber the hits their own search would: asked in an
    order where a cache that ignored the limit or the categories would answer wrongly."""
    from paperwire.search.query import SearchOptions

    period = (date(2026, 6, 1), date(2026, 6, 9))
    engine = ctx.engine()
    longest = 0
    for q in ("language models", "reinforcement learning", "diffusion"):
        for cats, limit in (((), 12), ((), 45), (("cs.CL",), 45), ((), 10), (("cs.LG",), 30),
                            (("cs.CL",), 15), ((), 100)):
            kept = ctx.interest_hits(q, period, cats, limit)
            alone = engine.search(q, "hybrid", SearchOptions(
                after=period[0], before=period[1], limit=limit, categories=cats))
            assert [(h.paper.id, h.score) for h in kept] == \
                [(h.paper.id, h.score) for h in alone], (q, cats, limit)
            longest = max(longest, len(kept))
    assert longest > 45  # enough matches that the limits cut the lists
    for cat, limit in (("cs.CL", 5), ("cs.CL", 40), ("cs.LG", 40), ("cs.CL", 20)):
        assert ctx.published(period, cat, limit) == ctx.store.published_between(
            *period, cat, limit)


def test_a_batch_reads_its_histories_at_once_as_each_would_alone(
    ctx: DigestContext, mailer: SmtpMailer
) -> None:
    """:func:`known_for` (the histories of a batch, three queries) gives each subscriber the
    last period and the papers sent that its own reads give, and so the same digest: for a
    backfill between two sent days (the papers of the later one count, the period of the
    earlier) and for the next day (the period of the later)."""
    from paperwire.digests.service import gather, known_for

    people = add_people(ctx.store, ["trend@example.org", "cl@example.org",
                                    "vision@example.org", "agents@example.org"])
    fresh = add(ctx.store, "new@example.org", queries=("language models",), size=7)
    ctx.store.accounts.add("agents@example.org", NOON)
    assert send(ctx, mailer, NOON, DAY).sent == len(people) + 1
    later = DAY + timedelta(days=2)
    assert send(ctx, mailer, NOON + timedelta(days=2), later).sent == len(people) + 1
    subs = [*people.values(), fresh]
    for day in (DAY + timedelta(days=1), later + timedelta(days=1)):
        known = known_for(ctx, [(sub, day) for sub in subs])
        for sub in subs:
            k = known[(sub.id, day)]
            assert k.last_period_end == ctx.store.digests.last_period_end(sub.id, before=day)
            assert k.already == ctx.store.digests.sent_paper_ids(sub.id, other_than=day)
            assert k.account == ctx.store.accounts.by_email(sub.email)
            alone = DigestContext(ctx.store, ctx.settings, searcher=ctx.engine)  # reads alone
            assert gather(ctx, sub, day, k) == gather(alone, sub, day), (sub.email, day)
    after = known[(people["cl@example.org"].id, later + timedelta(days=1))]
    assert after.last_period_end == later - timedelta(days=1)
    between = known_for(ctx, [(people["cl@example.org"], DAY + timedelta(days=1))])
    first = between[(people["cl@example.org"].id, DAY + timedelta(days=1))]
    assert first.last_period_end == DAY - timedelta(days=1)  # not the later day's period
    assert first.already >= ctx.store.digests.sent_paper_ids(
        people["cl@example.org"].id, before=later + timedelta(days=1))  # both days' papers
    assert known[(people["agents@example.org"].id, later + timedelta(days=1))].account

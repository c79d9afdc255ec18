"""Digest runs at the edges: out-of-range dates, a digest whose composition raises, the
scheduler meeting an exception, and the order in which days are sent. Real SQLite and
PostgreSQL, a real SMTP server on loopback (tests/smtp_server.py)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime, timedelta

import pytest

import test_digest_delivery as delivery_tests
from paperwire.config import Settings
from paperwire.digests import deliver
from paperwire.digests.mailer import SmtpMailer
from paperwire.digests.service import DigestContext
from paperwire.errors import DeliveryError
from paperwire.store import Store
from paperwire.worker import Scheduler
from smtp_server import FaultySmtpServer
from test_digest_delivery import (
    BASE,
    DAY,
    NOON,
    add,
    add_people,
    by_recipient,
    check_digest,
    run_cli,
    send,
)

# the real-data fixtures of the delivery tests (demo papers and upvotes, a DigestContext)
demo_slice = delivery_tests.demo_slice
filled = delivery_tests.filled
ctx = delivery_tests.ctx
mailer = delivery_tests.mailer


@pytest.mark.parametrize("bad", ["0001-01-01", "9999-12-31", "2626-07-01"])
def test_cli_digest_send_rejects_an_out_of_range_date_and_claims_nothing(
    bad: str, filled: Store, cli_env: dict[str, str], smtp_server: FaultySmtpServer,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """A date before arXiv or after tomorrow is bad usage: one ``error:`` line, exit 2, no
    traceback, no ledger row; the next normal run sends every due digest."""
    monkeypatch.setenv("PAPERWIRE_SMTP_URL", f"{smtp_server.url}?timeout=10")
    monkeypatch.setenv("PAPERWIRE_DIGEST_SEND_RATE", "0")
    monkeypatch.setenv("PAPERWIRE_BASE_URL", BASE)
    people = add_people(filled, ["trend@example.org", "cl@example.org"])
    code, out, err = run_cli(capsys, "digest", "send", "--date", bad)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and out == ""
    assert any(bad in line for line in lines), err
    assert filled.digests.deliveries_for() == []
    assert smtp_server.received == []
    code, out, err = run_cli(capsys, "digest", "send", "--date", DAY.isoformat())
    assert code == 0, err
    assert out == "digests: 2 sent, 0 to retry, 0 failed, 0 expired, 0 skipped\n"
    assert sorted(by_recipient(smtp_server.received)) == sorted(people)


@pytest.mark.parametrize("bad", [date.min, date.max, date(2626, 7, 1)])
def test_a_run_for_an_out_of_range_day_is_refused_before_planning(
    bad: date, ctx: DigestContext, mailer: SmtpMailer
) -> None:
    add_people(ctx.store, ["trend@example.org"])
    with pytest.raises(DeliveryError, match=bad.isoformat()):
        send(ctx, mailer, NOON, bad)
    assert ctx.store.digests.deliveries_for() == []


def test_composing_at_the_edges_of_the_calendar_does_not_overflow(ctx: DigestContext) -> None:
    """The pure and store-reading parts of a digest take any date (a preview of day 1)."""
    from paperwire.digests.service import gather

    sub = add(ctx.store, "cl@example.org", categories=("cs.CL",), size=3)
    for day in (date.min, date.min + timedelta(days=1), date.max):
        digest = gather(ctx, sub, day)
        assert digest.period[0] <= digest.period[1]
        assert deliver.cut_off(sub, day) >= datetime(1, 1, 1)


def test_an_exception_in_one_digest_releases_its_claim_and_the_run_goes_on(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in composing one digest (any exception) leaves no row claimed: that digest is
    retried later, the others are sent in the same run, and a later run sends it."""
    people = add_people(ctx.store, ["trend@example.org", "cl@example.org", "ny@example.org"])
    real_gather = deliver.gather
    victim = people["cl@example.org"]

    def flaky(c: DigestContext, sub: object, day: date, *known: object) -> object:
        if getattr(sub, "id", None) == victim.id:
            raise RuntimeError("boom")
        return real_gather(c, sub, day, *known)  # type: ignore[arg-type]

    monkeypatch.setattr(deliver, "gather", flaky)
    report = send(ctx, mailer, NOON)
    assert report.sent == 2 and report.retrying == 1
    assert any("boom" in e for e in report.errors)
    rows = {r.subscriber_id: r for r in ctx.store.digests.deliveries_for(DAY)}
    assert rows[victim.id].state == "pending" and rows[victim.id].claimed_by is None
    assert all(r.state != "sending" for r in rows.values())
    monkeypatch.setattr(deliver, "gather", real_gather)
    later = send(ctx, mailer, NOON + timedelta(minutes=5))
    assert later.sent == 1
    got = by_recipient(smtp_server.received)
    assert sorted(got) == sorted(people) and all(len(m) == 1 for m in got.values())
    check_digest(got[victim.email][0], victim, DAY, ctx.store)


def test_an_interrupted_run_gives_its_claim_back(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C (or any BaseException) in the middle of a digest puts its row back to pending
    at once, so the very next run sends it."""
    add_people(ctx.store, ["trend@example.org"])
    real_gather = deliver.gather

    def interrupted(*_: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(deliver, "gather", interrupted)
    with pytest.raises(KeyboardInterrupt):
        send(ctx, mailer, NOON)
    [row] = ctx.store.digests.deliveries_for(DAY)
    assert row.state == "pending" and row.claimed_by is None
    monkeypatch.setattr(deliver, "gather", real_gather)
    assert send(ctx, mailer, NOON + timedelta(seconds=1)).sent == 1


# -- the scheduler ---------------------------------------------------------------------


def test_the_scheduler_survives_any_exception_in_a_job_and_keeps_ticking(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A job raising something that is not a PaperwireError (a database driver error, a
    bug) is logged; the scheduler thread stays alive, keeps ticking and says when it last
    ticked (``last_tick``, ``alive()``), which /healthz reads."""
    from sqlalchemy.exc import OperationalError

    calls: list[int] = []

    def broken(self: Scheduler) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(Scheduler, "run_digests", broken)
    s = Settings(home=settings.home, database_url=settings.database_url,
                 ingest_schedule="digest=* * * * *")
    clock = {"now": datetime(2026, 6, 10, 9, 0, 30)}
    sched = Scheduler(store, s, clock=lambda: clock["now"])
    assert sched.last_tick is None and not sched.alive()
    sched.tick()  # first start: waits for the next firing
    stop = threading.Event()
    clock["now"] = datetime(2026, 6, 10, 9, 1, 5)
    caplog.set_level(logging.ERROR, logger="paperwire.worker")
    thread = threading.Thread(target=sched.run_forever, args=(stop, 0.05), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while len(calls) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    clock["now"] = datetime(2026, 6, 10, 9, 2, 5)
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    clock["now"] = datetime(2026, 6, 10, 9, 2, 30)
    time.sleep(0.3)
    assert thread.is_alive() and len(calls) == 2
    assert sched.last_tick == clock["now"]
    assert sched.alive()
    assert "server closed the connection" in caplog.text and "a bug" in caplog.text
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and not sched.alive()


# -- never twice, whatever the order -------------------------------------------------------


def test_a_paper_is_never_sent_twice_when_an_earlier_day_is_sent_after_a_later_one(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """``digest send --date 11 Jun`` then ``--date 10 Jun`` (a backfill after the fact):
    the same papers trend on both days, yet none reaches a subscriber twice."""
    people = add_people(ctx.store, ["trend@example.org", "cl@example.org",
                                    "agents@example.org"])
    later, earlier = DAY + timedelta(days=1), DAY
    assert send(ctx, mailer, NOON + timedelta(days=1), later).sent == len(people)
    assert send(ctx, mailer, NOON + timedelta(days=1, minutes=1), earlier).sent == len(people)
    got = by_recipient(smtp_server.received)
    for email, sub in people.items():
        first, second = got[email]
        a = check_digest(first, sub, later, ctx.store)
        b = check_digest(second, sub, earlier, ctx.store)
        assert a and b and not set(a) & set(b), f"{email} got {set(a) & set(b)} twice"


def test_reserving_a_paper_another_day_already_holds_drops_it_from_the_digest(
    ctx: DigestContext,
) -> None:
    """Two digests of one subscriber composed at once (two runs, two dates) cannot both
    reserve a paper: the ledger keeps it for the first, and the second digest leaves it
    out, whatever it had composed."""
    sub = add(ctx.store, "trend@example.org", mode="trending", size=3)
    digests = ctx.store.digests
    digests.ensure_deliveries([(sub.id, DAY, NOON + timedelta(days=1)),
                               (sub.id, DAY + timedelta(days=1), NOON + timedelta(days=2))],
                              NOON)
    rows = digests.claimable(NOON, NOON)
    a, b = (digests.claim(r, f"h{i}", NOON) for i, r in enumerate(rows))
    assert a is not None and b is not None
    items = [{"id": pid, "why": "w", "kind": "trending"} for pid in ("p1", "p2", "p3")]
    period = (DAY, DAY)
    kept_a = digests.save_composition(a, "h0", items, None, period, "<a@x>")
    p4 = {"id": "p4", "why": "w", "kind": "trending"}
    kept_b = digests.save_composition(b, "h1", [*items[1:], p4], None, period, "<b@x>")
    assert kept_a == items
    assert kept_b == [p4]
    row_b = digests.get_delivery(sub.id, b.digest_date)
    assert row_b is not None and row_b.items == kept_b


# -- when ingestion has stopped ------------------------------------------------------------


def test_a_digest_long_after_the_data_stops_says_so_and_nothing_is_this_weeks(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """The data ends in June; the digest of Thursday 2 July (covering Wednesday 1 July) says
    there are no new papers since the last ones and that ingestion may have stopped,
    blames no weekend or holiday, and calls no paper "#1 this week"."""
    sub = add(ctx.store, "trend@example.org", mode="trending", size=5)
    day = date(2026, 7, 2)
    assert send(ctx, mailer, datetime(2026, 7, 2, 12, 0), day).sent == 1
    [msg] = by_recipient(smtp_server.received)[sub.email]
    for kind in ("plain", "html"):
        part = msg.get_body((kind,))
        assert part is not None
        text = " ".join(part.get_content().split())
        assert "weekend" not in text and "holiday" not in text
        assert "this week" not in text and "today" not in text
        assert "No new papers since Fri 12 Jun" in text
        assert "ingestion may have stopped" in text
        assert "in the week to Tue 9 Jun" in text  # the trending reasons, dated


def test_a_quiet_weekend_still_says_arxiv_does_not_announce(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """The digest of Sunday 14 June covers Saturday 13 June, the day after the last papers
    (Friday 12 June): that is a weekend, and the digest says so."""
    sub = add(ctx.store, "trend@example.org", mode="trending", size=5)
    assert send(ctx, mailer, datetime(2026, 6, 14, 12, 0), date(2026, 6, 14)).sent == 1
    [msg] = by_recipient(smtp_server.received)[sub.email]
    text = " ".join(msg.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
    assert "arXiv does not announce on weekends" in text
    assert "ingestion may have stopped" not in text


def test_stale_trending_views_say_so_on_the_page_in_the_api_and_the_feeds(
    filled: Store, settings: Settings
) -> None:
    """Months after the last signals, the home page, /api/trending and both feeds still list
    the last week's papers, but no reason calls them "#1 this week", and the note says that
    nothing newer was imported."""
    from fastapi.testclient import TestClient

    from paperwire.app import Paperwire
    from paperwire.web.app import create_app

    client = TestClient(create_app(Paperwire(settings, filled)))
    api = client.get("/api/trending?date=2026-10-07").json()
    assert api["as_of"] == "2026-06-09" and api["entries"]
    assert all("this week" not in e["reason"] for e in api["entries"])
    assert all("in the week to Tue 9 Jun" in e["reason"] for e in api["entries"])
    assert "ingestion may have stopped" in api["note"]
    home = client.get("/?date=2026-10-07").text
    assert "this week" not in home and "in the week to Tue 9 Jun" in home
    assert "ingestion may have stopped" in home
    feed = client.get("/feeds/trending.json").json()
    assert feed["items"] and all("this week" not in it["summary"] for it in feed["items"])
    assert "this week" not in feed["title"]
    atom = client.get("/feeds/trending.atom").text
    assert "<entry>" in atom and "this week" not in atom
    fresh = client.get("/api/trending?date=2026-06-09").json()
    assert fresh["note"] is None and "#1 this week" in fresh["entries"][0]["reason"]


# -- interests: example papers, quoted searches, and saying why nothing matched -------------


def test_example_papers_given_as_arxiv_links_or_versions_produce_matches(
    ctx: DigestContext, mailer: SmtpMailer, smtp_server: FaultySmtpServer
) -> None:
    """"Papers like these" given the way people copy them from arXiv (a versioned id, an
    ``arXiv:`` prefix, an abs URL) lead the digest with papers like them, each saying so."""
    examples = ctx.store.published_between(date(2026, 6, 3), date(2026, 6, 3), "cs.CL", 2)
    given = (f"arXiv:{examples[0].id}v2", f"https://arxiv.org/abs/{examples[1].id}")
    sub = add(ctx.store, "like@example.org", papers=given, size=6)
    assert send(ctx, mailer, NOON).sent == 1
    row = ctx.store.digests.get_delivery(sub.id, DAY)
    assert row is not None and row.items is not None
    likes = [it["why"] for it in row.items if it["kind"] == "match"]
    assert likes and all(w.startswith('Like "') for w in likes)
    from paperwire.digests.service import quoted

    titles = {f"Like {quoted(e.title)}" for e in examples}
    assert set(likes) <= titles
    [msg] = by_recipient(smtp_server.received)[sub.email]
    assert "== Matching your interests ==" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_quoted_search_is_quoted_once_in_the_why_line(ctx: DigestContext) -> None:
    from paperwire.digests.service import gather

    sub = add(ctx.store, "q@example.org", queries=('"language models"',), size=4)
    digest = gather(ctx, sub, DAY)
    whys = {it.why for it in digest.items if it.kind == "match"}
    assert whys == {'Matches your interest "language models"'}


def test_interests_that_match_nothing_are_named_in_the_digest(ctx: DigestContext) -> None:
    """A personal digest whose interests matched none of the period's new papers says so
    (and which interests), instead of silently sending trending papers only; an example
    paper that is not stored here is named too."""
    from paperwire.digests.service import gather

    sub = add(ctx.store, "none@example.org", queries=('"zyxw quantum basket weaving"',),
              papers=("2699.99999",), size=4)
    digest = gather(ctx, sub, DAY)
    assert digest.items and all(it.kind == "trending" for it in digest.items)
    assert digest.note is not None
    assert "matched your interests" in digest.note
    assert "zyxw quantum basket weaving" in digest.note
    assert "2699.99999" in digest.note and "not stored" in digest.note

"""Several digest workers over one day's ledger, on PostgreSQL: each digest goes out once, a
worker killed with SIGKILL loses nothing (its claimed rows are taken over once their lease
has run out), and digests with the same papers are rendered once.

The workers are real processes (tests/digest_worker.py) running ``deliver.run`` against a
real SMTP server (tests/smtp_server.py) in this process. PostgreSQL tests skip, with the
reason, when the server of PAPERWIRE_TEST_POSTGRES_URL is unreachable (see conftest).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from paperwire.cli import DEMO_DATA
from paperwire.config import Settings
from paperwire.digests import deliver, render
from paperwire.digests.render import digest_message_id
from paperwire.digests.service import DigestContext, gather, message_for
from paperwire.importers import run_import
from paperwire.records import Subscriber
from paperwire.store import Store
from smtp_server import FaultySmtpServer
from tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).with_name("digest_worker.py")
DAY = date(2026, 6, 10)
BASE = "https://papers.example.org"
NOW = datetime(2026, 6, 10, 12, 0)
pg_only = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def seed(url: str, n: int, sizes: int = 6) -> dict[str, int]:
    """Real papers and upvotes (8 and 9 June) and ``n`` trending-only subscribers of
    ``sizes`` different digest sizes; their ids by address."""
    store = Store.open(url)
    run_import(store, [DEMO_DATA / "hf-daily-2026-06-08.json.gz",
                       DEMO_DATA / "hf-daily-2026-06-09.json.gz"], progress=False)
    subs = [Subscriber(id=0, email=f"reader{i:04d}@example.org", mode="trending",
                       size=3 + i % sizes) for i in range(n)]
    store.digests.add_many(subs, datetime(2026, 5, 1))
    ids = {s.email: s.id for s in store.digests.active()}
    store.close()
    return ids


def ready(db_url: str, home: Path, server: FaultySmtpServer, holder: str = "",
          lease: float = 600, batch: int = 20, rate: float = 0, until: float = 0,
          patience: float | None = None) -> subprocess.Popen[str]:
    """A worker process, set up and waiting for :func:`go` (with ``until``, one running
    again and again, like the scheduler, until the day is done: tests/digest_worker.py;
    ``patience``: its deliver.MARK_SENT_PATIENCE)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    if patience is not None:
        env["MARK_SENT_PATIENCE"] = str(patience)
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), db_url, str(home), f"{server.url}?timeout=10",
         DAY.isoformat(), holder, str(lease), str(batch), str(rate), str(until)],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


def go(*procs: subprocess.Popen[str]) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def report_of(proc: subprocess.Popen[str]) -> dict[str, object]:
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(300)
    assert proc.returncode == 0, err
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def copies_by_address(server: FaultySmtpServer) -> dict[str, list[EmailMessage]]:
    got: dict[str, list[EmailMessage]] = {}
    for r in server.received:
        assert len(r.rcpt_tos) == 1
        got.setdefault(r.rcpt_tos[0], []).append(r.message)
    return got


def bodies(msg: EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies, with the line ends as rendered (the wire's are CRLF)."""
    text_part, html_part = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text_part is not None and html_part is not None
    return (str(text_part.get_content()).replace("\r\n", "\n"),
            str(html_part.get_content()).replace("\r\n", "\n"))


@pg_only
def test_concurrent_claims_take_disjoint_rows_without_waiting(db_url: str) -> None:
    """A claimer holding rows locked on one connection does not stall another: it skips
    them (FOR UPDATE SKIP LOCKED), and no row is claimed twice."""
    store = Store.open(db_url)
    subs = [Subscriber(id=0, email=f"r{i}@example.org", mode="trending") for i in range(60)]
    store.digests.add_many(subs, NOW)
    store.digests.ensure_deliveries(
        [(s.id, DAY, NOW + timedelta(days=1)) for s in store.digests.active()], NOW)
    other = create_engine(db_url)
    with other.begin() as conn:  # another worker, mid-claim: it holds the 10 oldest rows
        conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        held = [r[0] for r in conn.execute(text(
            "SELECT id FROM deliveries ORDER BY next_attempt_at, id LIMIT 10 FOR UPDATE"))]
        t0 = time.monotonic()
        first = store.digests.claim_due("w1", NOW, NOW - timedelta(minutes=10), 20)
        assert time.monotonic() - t0 < 2.0
    other.dispose()
    assert len(first) == 20 and not {d.id for d in first} & set(held)
    claims: dict[str, list[int]] = {}

    def claim(name: str) -> None:
        mine = []
        while batch := store.digests.claim_due(name, NOW, NOW - timedelta(minutes=10), 7):
            assert len(batch) <= 7
            mine += [d.id for d in batch]
        claims[name] = mine

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in (2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    every = [i for ids in claims.values() for i in ids] + [d.id for d in first]
    assert len(every) == len(set(every)) == 60
    assert all(d.state == "sending" and d.attempts == 1 for d in store.digests.deliveries_for())
    store.close()


@pytest.mark.slow
@pg_only
def test_three_worker_processes_deliver_each_digest_exactly_once(
    db_url: str, tmp_path: Path, smtp_server: FaultySmtpServer
) -> None:
    ids = seed(db_url, 300)
    workers = [ready(db_url, tmp_path / "home", smtp_server) for _ in range(3)]
    go(*workers)
    reports = [report_of(w) for w in workers]
    got = copies_by_address(smtp_server)
    assert sorted(got) == sorted(ids)
    assert all(len(copies) == 1 for copies in got.values())
    assert sum(int(str(r["sent"])) for r in reports) == 300
    assert all(int(str(r["sent"])) > 0 for r in reports), reports  # the day was shared
    assert all(r["lost_claims"] == 0 for r in reports), reports  # and never fought over
    store = Store.open(db_url)
    assert store.digests.count_deliveries(DAY) == {"sent": 300}
    store.close()


@pytest.mark.slow
@pg_only
def test_a_killed_workers_claims_are_taken_over_after_the_lease(
    db_url: str, tmp_path: Path, smtp_server: FaultySmtpServer
) -> None:
    """Workers "on other hosts" (so only the lease can tell that one died): one is killed
    with SIGKILL mid-run holding a batch of claimed rows. The others finish the rest; its
    rows wait for the lease, then the next run sends them. Every subscriber gets the digest;
    the only possible duplicate is the message in flight at the kill, the same mail."""
    ids = seed(db_url, 300)
    lease = 6.0
    home = tmp_path / "home"
    victim = ready(db_url, home, smtp_server, "elsewhere-1:1:victim", lease, batch=40)
    others = [ready(db_url, home, smtp_server, f"elsewhere-{i}:1:w", lease, batch=40)
              for i in (2, 3)]
    go(victim)
    deadline = time.monotonic() + 60
    while len(smtp_server.received) < 15 and time.monotonic() < deadline:
        time.sleep(0.002)
    go(*others)
    os.kill(victim.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    victim.wait(30)
    for w in others:
        report_of(w)
    store = Store.open(db_url)
    stuck = [d for d in store.digests.deliveries_for(DAY) if d.state == "sending"]
    if time.monotonic() - killed_at < lease - 0.5:  # the others ended within the lease:
        assert stuck, "the killed worker held no claimed row"  # they left its rows alone
        assert {d.claimed_by for d in stuck} == {"elsewhere-1:1:victim"}
    time.sleep(max(0.0, lease + 0.5 - (time.monotonic() - killed_at)))
    late = ready(db_url, home, smtp_server, "elsewhere-4:1:w", lease)
    go(late)
    assert report_of(late)["sent"] == len(stuck)
    assert store.digests.count_deliveries(DAY) == {"sent": 300}
    store.close()
    got = copies_by_address(smtp_server)
    assert sorted(got) == sorted(ids)
    twice = {a: c for a, c in got.items() if len(c) > 1}
    assert len(twice) <= 1 and all(len(c) == 2 for c in twice.values()), twice
    for address, (first, again) in twice.items():
        assert first["Message-ID"] == again["Message-ID"] == digest_message_id(
            ids[address], DAY, BASE)
        assert bodies(first) == bodies(again)


@pytest.mark.slow
@pg_only
def test_a_slow_batch_renews_its_claims_so_no_one_takes_them_over(
    db_url: str, tmp_path: Path, smtp_server: FaultySmtpServer
) -> None:
    """A worker sending 4 a second claims a batch of 30 (7.5 s, more than twice the 3 s
    lease); a fast one starts once the lease has run out, sends the other 30 and looks for
    more. The slow one's claims were renewed as it went, so the fast one leaves them alone:
    no digest is sent twice."""
    ids = seed(db_url, 60)
    home = tmp_path / "home"
    slow = ready(db_url, home, smtp_server, "elsewhere-1:1:slow", lease=3.0, batch=30, rate=4)
    fast = ready(db_url, home, smtp_server, "elsewhere-2:1:fast", lease=3.0, batch=30)
    go(slow)
    deadline = time.monotonic() + 60
    while not smtp_server.received and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(3.5)
    go(fast)
    fast_report, slow_report = report_of(fast), report_of(slow)
    got = copies_by_address(smtp_server)
    assert sorted(got) == sorted(ids)
    assert all(len(copies) == 1 for copies in got.values()), sorted(
        a for a, c in got.items() if len(c) > 1)
    assert slow_report["sent"] == fast_report["sent"] == 30


def cut_while_a_mail_is_out(db_url: str, tmp_path: Path, smtp_server: FaultySmtpServer,
                            patience: float | None = None) -> tuple[str, str, float]:
    """One worker sending the seeded day (as the scheduler runs it, again and again) through
    a TCP proxy to PostgreSQL, cut for 3 s while the worker waits 1.5 s for the SMTP server's
    reply to reader0030's digest; the worker's stdout, stderr, and the seconds it ran on
    once the database was back."""
    upstream = make_url(db_url)
    with TcpProxy(upstream.host or "127.0.0.1", upstream.port or 5432) as proxy:
        url = upstream.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False)
        smtp_server.stall("data", 1.5, to="reader0030@example.org", times=1)
        worker = ready(url, tmp_path / "home", smtp_server, batch=50, until=40,
                       patience=patience)
        go(worker)
        deadline = time.monotonic() + 60
        while (not any(r.rcpt_tos == ("reader0029@example.org",)
                       for r in smtp_server.received) and time.monotonic() < deadline):
            time.sleep(0.005)
        time.sleep(0.5)  # reader0030's reply is 1 s away: the database goes, for 3 s
        proxy.cut()
        time.sleep(3.0)
        proxy.restore()
        t0 = time.monotonic()
        out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    return out, err, time.monotonic() - t0


@pytest.mark.slow
@pg_only
def test_after_a_database_outage_the_next_run_takes_back_the_rows_its_worker_held(
    db_url: str, tmp_path: Path, smtp_server: FaultySmtpServer
) -> None:
    """PostgreSQL goes away while a worker waits for the SMTP server's reply to a digest of a
    claimed batch (a TCP proxy cut: a restart of the server, as far as the worker can tell),
    so recording that digest as sent fails and the run ends with the batch still claimed.
    The worker lives on and runs again, like the scheduler; once the database is back, its
    next run takes those rows back at once (the run that claimed them has ended in this very
    process) rather than after the 10-minute lease. The digest in flight at the outage is the
    only one sent twice, the same mail (the worker tries its ``sent`` mark again for one
    second only here: the outage outlasts it). The outage is logged one line at a time,
    without a traceback."""
    ids = seed(db_url, 120)
    out, err, took = cut_while_a_mail_is_out(db_url, tmp_path, smtp_server, patience=1)
    report = json.loads(out.strip().splitlines()[-1])
    assert int(str(report["runs"])) > 1, report  # the outage ended a run
    # the outage is logged (the worker has no logging set up: Python's last-resort handler
    # writes warnings and errors to stderr), one line per event, without a traceback
    assert "digest" in err and "the database failed" in err, err
    assert "Traceback" not in err, err
    store = Store.open(db_url)
    assert store.digests.count_deliveries(DAY) == {"sent": 120}
    store.close()
    assert took < 20, f"the held rows waited {took:.0f} s"
    got = copies_by_address(smtp_server)
    assert sorted(got) == sorted(ids)
    twice = {a: c for a, c in got.items() if len(c) > 1}
    assert set(twice) <= {"reader0030@example.org"}, sorted(twice)
    for address, (first, again) in twice.items():
        assert first["Message-ID"] == again["Message-ID"] == digest_message_id(
            ids[address], DAY, BASE)
        assert bodies(first) == bodies(again)


@pg_only
@pytest.mark.slow
def test_a_database_restart_while_a_mail_is_out_sends_nothing_twice(
    db_url: str, tmp_path: Path, smtp_server: FaultySmtpServer
) -> None:
    """As above, but the database is back within the worker's patience for the ``sent``
    mark (3 s against 30): the mark is tried again until it holds, so the digest in flight at
    the outage is recorded, not sent again, and the run goes on to the end."""
    ids = seed(db_url, 120)
    _out, err, _took = cut_while_a_mail_is_out(db_url, tmp_path, smtp_server)
    assert "was sent but not recorded yet" in err and "Traceback" not in err, err
    store = Store.open(db_url)
    assert store.digests.count_deliveries(DAY) == {"sent": 120}
    store.close()
    got = copies_by_address(smtp_server)
    assert sorted(got) == sorted(ids)
    assert {a: len(c) for a, c in got.items() if len(c) > 1} == {}


TOKENS = re.compile(r"(?:t|token)=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_digests_with_the_same_papers_are_rendered_once(
    db_url: str, tmp_path: Path, smtp_server: FaultySmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """40 trending-only subscribers in two sizes: two contents, so the templates run twice
    each; every mail has its own signed links and is otherwise byte for byte the mail
    rendered for that subscriber alone."""
    ids = seed(db_url, 40, sizes=2)
    renders: Counter[str] = Counter()
    real_render = render.render

    def counting(name: str, **context: object) -> str:
        renders[name] += 1
        return real_render(name, **context)

    monkeypatch.setattr(render, "render", counting)
    store = Store.open(db_url)
    settings = Settings(home=tmp_path / "home", database_url=db_url, secret_key="k" * 32,
                        base_url=BASE, digest_send_rate=0)
    ctx = DigestContext(store, settings)
    from paperwire.digests.mailer import SmtpMailer
    from paperwire.smtp_url import parse_smtp_url

    with SmtpMailer(parse_smtp_url(smtp_server.url)) as mailer:
        report = deliver.run(ctx, mailer, lambda: NOW, DAY)
    assert report.sent == 40
    assert renders == {"digest.txt": 2, "digest.html": 2}
    got = copies_by_address(smtp_server)
    by_shape: dict[tuple[str, str], set[str]] = {}
    for address, (msg,) in got.items():
        text_body, html_body = bodies(msg)
        assert TOKENS.search(text_body) and TOKENS.search(html_body)
        shape = (TOKENS.sub("TOKEN", text_body), TOKENS.sub("TOKEN", html_body))
        by_shape.setdefault(shape, set()).add(address)
        sub = store.digests.get(ids[address])
        assert sub is not None
        alone = message_for(ctx, gather(ctx, sub, DAY), NOW)  # rendered for them alone
        assert bodies(alone) == (text_body, html_body)
        tokens = set(TOKENS.findall(text_body))
        assert tokens == set(TOKENS.findall(html_body.replace("&amp;", "&")))
    assert len(by_shape) == 2
    assert sorted(len(a) for a in by_shape.values()) == [20, 20]
    every = [t for msg in got.values() for t in set(TOKENS.findall(bodies(msg[0])[0]))]
    assert len(every) == len(set(every))  # no two subscribers share a signed link
    store.close()


def test_the_send_rate_holds_for_the_whole_deployment(store: Store) -> None:
    """Two workers' pacers at 20 a second each share the deployment's 20 a second (the
    store's counter): no second sees more than 20 sends between them."""
    seconds: list[datetime] = []
    lock = threading.Lock()

    def take(second: datetime, n: int) -> bool:
        taken = store.digests.take_limit(deliver.SEND_RATE_KEY, second, n)
        if taken:
            with lock:
                seconds.append(second)
        return taken

    def worker() -> None:
        pacer = deliver.Pacer(20, take=take)
        for _ in range(25):
            pacer.wait()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(seconds) == 50
    assert max(Counter(seconds).values()) <= 20

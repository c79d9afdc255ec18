"""kill -9 ``paperwire digest send`` at random moments, restart it, and check that every digest
arrives, and that the only duplicates are the ones SMTP cannot rule out.

A real SMTP server (tests/smtp_server.py) runs in this process; the CLI runs as a subprocess
against it, over a store (SQLite or PostgreSQL) with real Hugging Face papers and upvotes from
the demo data and a few hundred trending-only subscribers. Each round starts the command and
kills it at a random point of its work: after a random number (0 to a few) of its messages
reached the server, plus a random fraction of the time between two messages — so kills land
in startup and planning, in composing, in the SMTP transaction, and between the server's 250
and the ledger's ``sent``. Then one run goes to the end.

Afterwards: every subscriber received the digest, the ledger says ``sent`` for all; a
recipient who got it twice got the same Message-ID and the same body each time; and each
extra copy is the message in flight when some kill landed — the last one the server had
recorded once that killed process's connection was gone.

PAPERWIRE_TEST_DIGEST_KILLS sets the number of kills (default 10; CI sets 30).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from paperwire.cli import DEMO_DATA
from paperwire.digests.render import digest_message_id
from paperwire.importers import run_import
from paperwire.records import Subscriber
from paperwire.store import Store
from smtp_server import FaultySmtpServer

KILLS = int(os.environ.get("PAPERWIRE_TEST_DIGEST_KILLS", "10"))
SUBSCRIBERS = 300
DAY = date(2026, 6, 10)
BASE = "https://papers.example.org"
KEY = "crash-test-secret-key-0123456789"


@pytest.fixture
def server() -> Iterator[FaultySmtpServer]:
    with FaultySmtpServer() as s:
        yield s


def seed(url: str) -> dict[str, int]:
    """Real papers and upvotes (8 and 9 June) and SUBSCRIBERS trending-only subscribers of
    various sizes; returns their ids by address."""
    store = Store.open(url)
    run_import(store, [DEMO_DATA / "hf-daily-2026-06-08.json.gz",
                       DEMO_DATA / "hf-daily-2026-06-09.json.gz"], progress=False)
    subs = [Subscriber(id=0, email=f"reader{i:04d}@example.org", mode="trending",
                       size=3 + i % 6) for i in range(SUBSCRIBERS)]
    store.digests.add_many(subs, datetime(2026, 5, 1))
    ids = {s.email: s.id for s in store.digests.active()}
    store.close()
    return ids


def env_for(home: Path, db_url: str, smtp_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env.update(
        PAPERWIRE_HOME=str(home), PAPERWIRE_DATABASE_URL=db_url, PAPERWIRE_LOG_LEVEL="WARNING",
        PAPERWIRE_SMTP_URL=f"{smtp_url}?timeout=10", PAPERWIRE_DIGEST_SEND_RATE="0",
        PAPERWIRE_BASE_URL=BASE, PAPERWIRE_SECRET_KEY=KEY,
    )
    return env


def settle(server: FaultySmtpServer, timeout: float = 10.0) -> None:
    """Wait until the server has no connection left open: by then whatever the killed
    client's last bytes made it record is recorded (aiosmtpd records a message before it
    processes the connection's end, or never)."""
    deadline = time.monotonic() + timeout
    while server._live and time.monotonic() < deadline:  # the server's own set of sessions
        time.sleep(0.002)
    assert not server._live, "the killed client's SMTP session never ended"


def parts(msg: EmailMessage) -> tuple[str, str]:
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


@pytest.mark.slow
def test_kill_and_restart_delivers_every_digest_once_or_an_identical_resend(
    db_url: str, tmp_path: Path, server: FaultySmtpServer
) -> None:
    ids = seed(db_url)
    assert len(ids) == SUBSCRIBERS
    cmd = [sys.executable, "-m", "paperwire", "digest", "send", "--date", DAY.isoformat()]
    env = env_for(tmp_path / "home", db_url, server.url)
    rng_seed = int(os.environ.get("PAPERWIRE_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(rng_seed)
    per_kill = max(1, SUBSCRIBERS // (KILLS * 3))  # leave most of the work to the last run
    startup, gap = 1.0, 0.02  # refined from what each round shows
    marks: list[int] = []  # messages the server had recorded once each kill settled
    rounds: list[float] = []
    mid_send = 0
    started = time.monotonic()
    for _ in range(KILLS):
        t0 = time.monotonic()
        before = len(server.received)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        target = rng.randint(0, per_kill)
        if target == 0:  # somewhere in startup, planning or the first composition
            time.sleep(rng.uniform(0.0, startup))
        else:
            first_at = None
            while proc.poll() is None and len(server.received) < before + target:
                if first_at is None and len(server.received) > before:
                    first_at = time.monotonic()
                    startup = 0.7 * startup + 0.3 * (first_at - t0)
                time.sleep(0.001)
            if first_at is not None and target > 1:
                gap = 0.7 * gap + 0.3 * (time.monotonic() - first_at) / (target - 1)
            time.sleep(rng.uniform(0.0, 1.5 * gap))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            mid_send += target > 0
        proc.wait(timeout=60)
        settle(server)
        marks.append(len(server.received))
        rounds.append(time.monotonic() - t0)
    final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    total = time.monotonic() - started
    print(f"\n{KILLS} kills (seed {rng_seed}): {sum(rounds) / max(1, len(rounds)):.2f} s per "
          f"kill, {total:.1f} s in all; {mid_send} kills while sending; startup ≈ "
          f"{startup:.2f} s, ≈ {gap * 1000:.1f} ms a message; {marks[-1] if marks else 0} "
          f"messages before the last run")
    assert final.returncode == 0, f"seed {rng_seed}: {final.stderr}"
    assert final.stdout.startswith("digests: "), final.stdout
    assert mid_send >= min(KILLS, 3) // 2 + 1, f"seed {rng_seed}: too few kills while sending"

    store = Store.open(db_url)
    assert store.digests.count_deliveries(DAY) == {"sent": SUBSCRIBERS}, f"seed {rng_seed}"
    rows = {d.subscriber_id: d for d in store.digests.deliveries_for(DAY)}
    store.close()

    received = server.received
    copies: dict[str, list[int]] = {}
    for i, r in enumerate(received):
        assert len(r.rcpt_tos) == 1
        copies.setdefault(r.rcpt_tos[0], []).append(i)
    assert sorted(copies) == sorted(ids), f"seed {rng_seed}: a subscriber got no digest"
    in_flight = {m - 1 for m in marks if m > 0}
    duplicates = 0
    for email, where in copies.items():
        first = received[where[0]].message
        assert first["Message-ID"] == digest_message_id(ids[email], DAY, BASE)
        row = rows[ids[email]]
        assert row.message_id == first["Message-ID"]
        assert row.items is not None and all(it["id"] in parts(first)[0] for it in row.items)
        for extra in where[1:]:
            again = received[extra].message
            assert again["Message-ID"] == first["Message-ID"], f"seed {rng_seed}: {email}"
            assert parts(again) == parts(first), f"seed {rng_seed}: {email} got another body"
        for earlier in where[:-1]:
            duplicates += 1
            assert earlier in in_flight, (
                f"seed {rng_seed}: {email} got the digest twice, but copy #{earlier} was not "
                f"in flight at any kill (kills settled at {marks})")
    assert duplicates <= KILLS
    print(f"{duplicates} duplicate(s), each the message in flight at a kill; "
          f"{len(received)} messages for {SUBSCRIBERS} subscribers")

"""The scheduler survives a database outage and says so in the log: PostgreSQL is reached
through a TCP proxy that the test cuts while the scheduler loop runs real jobs (the Hugging
Face ingest, served by httpx.MockTransport, and the digest run, mailing a real SMTP server),
then restores. Each failed tick is one log line, without a traceback; after the outage the
jobs run again and their data lands."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy.engine import make_url

from paperwire.config import Settings
from paperwire.store import Store
from paperwire.worker import Scheduler
from smtp_server import FaultySmtpServer
from tcp_proxy import TcpProxy

PAPER = "2501.00001"


class FakeHf:
    """The daily-papers API: one paper, with ``upvotes`` upvotes, for any day asked."""

    def __init__(self) -> None:
        self.upvotes = 1
        self.requests = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        entry = {"paper": {"id": PAPER, "title": "Sparse retrieval", "summary": "Sparsity.",
                           "authors": [{"name": "Ada Lovelace"}], "publishedAt": "2025-01-02",
                           "upvotes": self.upvotes}}
        return httpx.Response(200, content=json.dumps([entry]).encode())


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def pg_url(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("the outage is a cut TCP connection to PostgreSQL")
    return db_url


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    upstream = make_url(pg_url)
    with TcpProxy(upstream.host or "127.0.0.1", upstream.port or 5432) as p:
        yield p


def test_the_scheduler_logs_a_database_outage_and_carries_on(
    pg_url: str, proxy: TcpProxy, settings: Settings, smtp_server: FaultySmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = make_url(pg_url).set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False)
    store = Store.open(url)
    live = Settings(home=settings.home, database_url=url, models_dir=settings.models_dir,
                    ingest_schedule="hf=* * * * *; digest=* * * * *",
                    ingest_lookback_days=0, smtp_url=smtp_server.url)
    hf = FakeHf()
    start, t0 = datetime(2026, 6, 10, 9, 0, 30), time.monotonic()

    def clock() -> datetime:  # a simulated minute per 20 ms: every job is due at every tick
        return start + timedelta(minutes=(time.monotonic() - t0) * 50)

    client = httpx.Client(transport=httpx.MockTransport(hf.handler))
    sched = Scheduler(store, live, clock=clock, client=client)
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="paperwire")
    thread = threading.Thread(target=sched.run_forever, args=(stop, 0.1), daemon=True)
    thread.start()
    try:
        wait_until(lambda: any(s.value == 1 for s in store.signals_for(PAPER)))
        wait_until(lambda: "digests:" in caplog.text)

        proxy.cut()
        caplog.clear()
        ticked = sched.last_tick
        wait_until(lambda: sched.last_tick != ticked and len(caplog.records) >= 3)
        time.sleep(0.5)  # a few more failed ticks
        outage = list(caplog.records)
        assert thread.is_alive()
        errors = [r for r in outage if r.levelno >= logging.ERROR]
        assert errors, "the outage was not logged"
        for r in errors:
            message = r.getMessage()
            assert r.exc_info is None, f"a traceback was logged: {message}"
            assert "\n" not in message and "the database failed" in message, message
        ticks = sum(1 for r in errors if r.getMessage().startswith("scheduler: "))
        assert ticks >= 2 and len(errors) <= 2 * ticks + 2, [r.getMessage() for r in errors]

        hf.upvotes = 7
        caplog.clear()
        proxy.restore()
        wait_until(lambda: any(s.value == 7 for s in store.signals_for(PAPER)))
        wait_until(lambda: "digests:" in caplog.text)
        # logged once the first whole tick after the outage is done
        wait_until(lambda: "scheduler: the database is back" in caplog.text)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(10)
        client.close()
        store.close()
    assert not thread.is_alive()

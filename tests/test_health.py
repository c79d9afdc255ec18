"""/healthz tells the truth (issue 10): the database, the scheduler, the index writer and the
mail path, each checked on the real component; a part that is down makes it a 503. On
SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from paperwire.config import Settings
from paperwire.digests.outbox import LocalOutbox
from paperwire.models import utcnow
from paperwire.store import Store, db
from paperwire.web.app import create_app
from paperwire.worker import Background, Scheduler, start_in_background
from smtp_server import FaultySmtpServer

DIGESTS_ONLY = "digest=*/10 * * * *"


def health(client: TestClient) -> tuple[int, dict[str, Any]]:
    r = client.get("/healthz")
    return r.status_code, r.json()


def statuses(body: dict[str, Any]) -> dict[str, str]:
    return {name: check["status"] for name, check in body["checks"].items()}


def wait_until(condition: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_every_part_up_then_each_one_down(settings: Settings, store: Store,
                                          tmp_path: Path) -> None:
    live = replace(settings, ingest_schedule=DIGESTS_ONLY)
    bg = start_in_background(store, live, outbox_url=None, only=("digest",),
                             tick_seconds=0.2, embed_every=0.2)
    outbox = LocalOutbox(tmp_path / "outbox").__enter__()
    try:
        app = create_app(live, store, bg)
        app.state.outbox_url = outbox.url
        client = TestClient(app)
        wait_until(lambda: bg.scheduler is not None and bg.scheduler.last_tick is not None)
        code, body = health(client)
        assert code == 200 and body["status"] == "ok", body
        assert statuses(body) == {"database": "ok", "scheduler": "ok", "index_writer": "ok",
                                  "mail": "ok"}
        assert client.head("/healthz").status_code == 200

        outbox.__exit__(None, None, None)  # the local outbox stops: mail cannot go out
        code, body = health(client)
        assert code == 503 and body["status"] == "error"
        assert statuses(body)["mail"] == "down" and "local outbox" in body["checks"]["mail"][
            "detail"]
        assert statuses(body)["scheduler"] == "ok" and body["detail"] == "down: mail"

        outbox = LocalOutbox(tmp_path / "outbox").__enter__()
        app.state.outbox_url = outbox.url
        assert health(client)[0] == 200

        bg.stop.set()  # the background threads end
        for thread in (bg.scheduler_thread, bg.embedder_thread):
            assert thread is not None
            thread.join(timeout=30)
        code, body = health(client)
        assert code == 503
        assert statuses(body) == {"database": "ok", "scheduler": "down",
                                  "index_writer": "down", "mail": "ok"}
    finally:
        bg.stop.set()
        outbox.__exit__(None, None, None)


def test_a_scheduler_that_stopped_ticking_is_down(settings: Settings, store: Store) -> None:
    """The thread lives but its loop is stuck (no tick for long, no job running)."""
    clock = {"now": utcnow()}
    live = replace(settings, ingest_schedule=DIGESTS_ONLY)
    sched = Scheduler(store, live, clock=lambda: clock["now"], only=("digest",))
    bg = Background(threading.Event(), scheduler=sched, tick_seconds=0.2)
    bg.scheduler_thread = threading.Thread(target=sched.run_forever, args=(bg.stop, 3600.0),
                                           daemon=True)
    bg.scheduler_thread.start()
    try:
        wait_until(lambda: sched.last_tick is not None)
        client = TestClient(create_app(live, store, bg))
        assert statuses(health(client)[1])["scheduler"] == "ok"
        clock["now"] += timedelta(minutes=5)  # the loop waits an hour: it missed its ticks
        code, body = health(client)
        assert code == 503 and statuses(body)["scheduler"] == "down"
        assert "no tick for 300 s" in body["checks"]["scheduler"]["detail"]
        sched.running = "arxiv"  # a long job is not a stuck loop
        assert health(client)[0] == 200
    finally:
        bg.stop.set()


def test_mail_server_reachable_or_not(settings: Settings, store: Store,
                                      smtp_server: FaultySmtpServer) -> None:
    up = replace(settings, smtp_url=smtp_server.url)
    code, body = health(TestClient(create_app(up, store)))
    assert code == 200 and body["checks"]["mail"]["status"] == "ok"
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    down = replace(settings, smtp_url=f"smtp://user:secret@127.0.0.1:{dead_port}")
    code, body = health(TestClient(create_app(down, store)))
    assert code == 503 and body["checks"]["mail"]["status"] == "down"
    assert f"127.0.0.1:{dead_port}" in body["checks"]["mail"]["detail"]
    assert "secret" not in str(body)


def test_an_unreachable_database_is_down(settings: Settings) -> None:
    gone = Store(db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    code, body = health(TestClient(create_app(settings, gone)))
    assert code == 503 and statuses(body)["database"] == "down"
    assert body["papers"] is None


def test_parts_this_process_does_not_run_are_off(settings: Settings, store: Store) -> None:
    code, body = health(TestClient(create_app(settings, store)))
    assert code == 200
    assert statuses(body) == {"database": "ok", "scheduler": "off", "index_writer": "off",
                              "mail": "ok"}

"""What ``/healthz`` reports: each part a running Paperwire needs, checked for real.

* ``database``: a query answers (the number of papers).
* ``scheduler``: its thread is alive and began a tick within STALE_TICKS intervals, or is
  running a job (an ingest may take a while).
* ``index_writer``: the background thread that writes the search indexes (indexing and
  embedding new papers, when this process holds the writer lock) is alive.
* ``mail``: the SMTP server of PAPERWIRE_SMTP_URL, or the running local outbox, answers a
  connection with its greeting.

``data_version`` (not a check) says where the shared pages' data version comes from:
``notifications`` (PostgreSQL, listening) or ``read per request`` (SQLite, or while the
listener reconnects).

A part this process does not run (``serve --no-scheduler``, an empty schedule, an app
without background threads) is ``off``, which is not a failure; ``down`` is, and makes the
answer a 503.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from paperwire.config import Settings
from paperwire.smtp_url import parse_smtp_url
from paperwire.store import Store
from paperwire.worker import Background

STALE_TICKS = 3  # ticks a live scheduler may miss (plus SLACK_SECONDS) before it is "down"
SLACK_SECONDS = 30.0
PROBE_SECONDS = 3.0
COUNT_SECONDS = 10.0  # the papers count is made again at most this often (the database is
# still asked every time whether it answers)


@dataclass(frozen=True)
class Check:
    status: str  # "ok", "off" or "down"
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "detail": self.detail}


def check_scheduler(bg: Background | None) -> Check:
    if bg is None or bg.scheduler is None or bg.scheduler_thread is None:
        return Check("off", "not run by this process")
    sched = bg.scheduler
    if not bg.scheduler_thread.is_alive():
        return Check("down", "the scheduler thread has stopped")
    if sched.running is not None:
        return Check("ok", f"running the {sched.running} job")
    if sched.last_tick is None:
        return Check("ok", "starting")
    age = (sched.clock() - sched.last_tick).total_seconds()
    if age > STALE_TICKS * bg.tick_seconds + SLACK_SECONDS:
        return Check("down", f"no tick for {age:.0f} s (one is due every "
                             f"{bg.tick_seconds:g} s)")
    return Check("ok", f"last tick {age:.0f} s ago")


def check_index_writer(bg: Background | None) -> Check:
    if bg is None or bg.embedder_thread is None:
        return Check("off", "not run by this process")
    if not bg.embedder_thread.is_alive():
        return Check("down", "the index writer thread has stopped")
    writer = getattr(bg.engine, "_writer", None)
    if writer is not None and not writer.lock.held:
        return Check("ok", "another process writes the search indexes; following it")
    return Check("ok", "writing the search indexes (new papers, embeddings) in the background")


def check_mail(settings: Settings, outbox_url: str | None) -> Check:
    if settings.smtp_url:
        target, what = parse_smtp_url(settings.smtp_url), "the SMTP server"
    elif outbox_url:
        target, what = parse_smtp_url(outbox_url), "the local outbox"
    else:
        return Check("ok", "a local outbox is started for each run that sends mail")
    where = f"{what} at {target.host}:{target.port}"
    try:
        with socket.create_connection((target.host, target.port), PROBE_SECONDS) as sock:
            if target.security != "tls":  # implicit TLS greets only after the handshake
                greeting = sock.makefile("rb").readline(512)
                if not greeting.startswith(b"220"):
                    return Check("down", f"{where} did not greet (got {greeting[:40]!r})")
                sock.sendall(b"QUIT\r\n")
    except OSError as exc:
        return Check("down", f"cannot reach {where}: {exc.strerror or exc}")
    return Check("ok", f"{where} answers")


def report(store: Store, settings: Settings, bg: Background | None,
           outbox_url: str | None) -> tuple[int, dict[str, Any]]:
    """The HTTP status (200, or 503 when a part is down) and the JSON body."""
    papers = store.health(max_age=COUNT_SECONDS)
    checks = {
        "database": Check("ok", f"{store.dialect}, {papers} papers") if papers is not None
        else Check("down", f"{store.dialect} cannot be reached"),
        "scheduler": check_scheduler(bg),
        "index_writer": check_index_writer(bg),
        "mail": check_mail(settings, outbox_url),
    }
    down = [name for name, check in checks.items() if check.status == "down"]
    body: dict[str, Any] = {"status": "error" if down else "ok", "database": store.dialect,
                            "papers": papers, "data_version": store.version_source(),
                            "checks": {name: c.to_dict() for name, c in checks.items()}}
    if down:
        body["detail"] = "down: " + ", ".join(down)
    return (503 if down else 200), body

"""The data version from PostgreSQL's notifications (issue 16): a web process keeps it in
memory from LISTEN/NOTIFY, so a shared page's hit asks the database nothing; a write in
another process reaches it within milliseconds; while its listening connection is down the
version is read per request again (never stale), and the listener comes back. SQLite
reads it per request. Real PostgreSQL, real app."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper, Signal
from paperwire.store import Store
from paperwire.store import version as version_sql
from paperwire.web.app import create_app

NOW = datetime.utcnow().replace(microsecond=0)
TODAY = NOW.date()
A = Paper(id="2607.00001", title="Listening for versions", abstract="We notify. " * 20,
          authors=("Ada",), categories=("cs.IR",), primary_category="cs.IR",
          published=TODAY - timedelta(days=1))


def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.005)


def listening(store: Store) -> bool:
    return bool(store.version_source()["source"] == "notifications")


@contextmanager
def queries(store: Store) -> Iterator[list[str]]:
    """The statements ``store`` runs meanwhile."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def upvote(store: Store, count: int) -> None:
    store.write_batch([], [Signal(A.id, "hf_upvotes", TODAY, count)],
                      now=datetime.utcnow())


def test_a_hit_asks_nothing_and_hears_another_process(settings: Settings, store: Store,
                                                      db_url: str) -> None:
    store.write_batch([A], [Signal(A.id, "hf_upvotes", TODAY, 1)], now=NOW)
    pw = Paperwire(replace(settings, secret_key="k" * 32), store)
    follows = store.dialect == "postgresql"
    other = Store.open(db_url)  # another process's store on the same database
    try:
        with TestClient(create_app(pw)) as reader:
            if follows:
                until(lambda: listening(store))
            source = reader.get("/healthz").json()["data_version"]
            assert source["source"] == ("notifications" if follows else "read per request")
            first = reader.get("/?window=day")
            with queries(store) as seen:
                assert reader.get("/?window=day").content == first.content
            assert len(seen) == (0 if follows else 1), seen  # SQLite: the data version

            upvote(other, 7)
            with queries(store) as seen:  # heard, not asked for
                until(lambda: store.data_version() == other.data_version())
            assert seen == [] if follows else seen, seen
            moved = reader.get("/?window=day")
            assert moved.status_code == 200 and moved.content != first.content
            with queries(store) as seen:
                assert reader.get("/?window=day").content == moved.content
            assert len(seen) == (0 if follows else 1), seen
        assert store.version_source()["source"] == "read per request"  # stopped at the end
    finally:
        other.close()


def test_a_lost_listener_reads_per_request_then_listens_again(
        pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(version_sql, "RETRY_SECONDS", (1.0,))  # an outage of a second
    store, other = Store.open(pg_schema_url), Store.open(pg_schema_url)
    try:
        store.write_batch([A], [], now=NOW)
        store.follow_version()
        until(lambda: listening(store))
        pid = store.version_source()["backend_pid"]
        with other.engine.begin() as conn:  # as a server restart would
            assert conn.execute(select(func.pg_terminate_backend(pid))).scalar()
        until(lambda: not listening(store))
        assert "listening again after" in store.version_source()["detail"]

        upvote(other, 3)  # made while nobody listens: read, not missed
        with queries(store) as seen:
            assert store.data_version() == other.data_version()
        assert len(seen) == 1 and "FROM cursors" in seen[0], seen

        until(lambda: listening(store))
        assert store.version_source()["backend_pid"] not in (None, pid)
        upvote(other, 5)
        with queries(store) as seen:
            until(lambda: store.data_version() == other.data_version())
        assert seen == [], seen
    finally:
        store.close()
        other.close()


def test_a_write_of_this_process_shows_at_once(pg_schema_url: str) -> None:
    """Its own write: read per request until its notification comes back, so the next
    call already has it."""
    store, other = Store.open(pg_schema_url), Store.open(pg_schema_url)
    try:
        store.write_batch([A], [], now=NOW)
        store.follow_version()
        until(lambda: listening(store))
        for count in range(10, 15):
            upvote(store, count)
            assert store.data_version() == other.data_version()
        until(lambda: store.version_source()["heard"] >= 5)
        with queries(store) as seen:  # its notifications heard: nothing asked again
            assert store.data_version() == other.data_version()
        assert seen == [], seen
    finally:
        store.close()
        other.close()


def test_a_missed_notification_is_read_again_at_the_next_check(
        pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The listener checks its connection and reads the version again every CHECK_SECONDS:
    a version it holds wrongly (a notification lost, a connection dead without a word) is
    put right by then, not kept until the next write."""
    monkeypatch.setattr(version_sql, "CHECK_SECONDS", 0.5)
    store, other = Store.open(pg_schema_url), Store.open(pg_schema_url)
    try:
        store.write_batch([A], [], now=NOW)
        store.follow_version()
        until(lambda: listening(store))
        listener = version_sql._listeners[store.engine]
        with listener._lock:  # as if the last write's notification never came
            listener._known = replace(other.data_version(), token="lost")
        assert store.data_version().token == "lost"
        until(lambda: store.data_version() == other.data_version(), seconds=5.0)
        assert listening(store)
    finally:
        store.close()
        other.close()

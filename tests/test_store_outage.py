"""The store turns every database failure into ``StoreError``, reads as well as writes: a
database that goes away (PostgreSQL behind a cut TCP proxy, a SQLite file that stopped being
a database) surfaces as one clear sentence, never as a SQLAlchemy or driver exception."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from paperwire.errors import StoreError
from paperwire.models import Paper, Signal
from paperwire.records import Subscriber
from paperwire.store import Store
from tcp_proxy import TcpProxy


@dataclass
class Outage:
    store: Store
    cut: Callable[[], None]
    restore: Callable[[], None]


def through_proxy(url: str, proxy: TcpProxy) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False)


@pytest.fixture
def outage(db_url: str) -> Iterator[Outage]:
    """A migrated store whose database can be taken away (``cut``) and given back."""
    if db_url.startswith("sqlite"):
        path = Path(make_url(db_url).database or "")
        store = Store.open(db_url)
        saved: list[bytes] = []

        def cut() -> None:
            store.engine.dispose()  # checkpoints the WAL into the file
            saved.append(path.read_bytes())
            for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                extra.unlink(missing_ok=True)
            path.write_bytes(b"this is not a database file, not any more" * 200)

        def restore() -> None:
            store.engine.dispose()
            path.write_bytes(saved.pop())

        yield Outage(store, cut, restore)
        store.close()
        return
    upstream = make_url(db_url)
    with TcpProxy(upstream.host or "127.0.0.1", upstream.port or 5432) as proxy:
        store = Store.open(through_proxy(db_url, proxy))
        yield Outage(store, proxy.cut, proxy.restore)
        store.close()


NOW = datetime(2025, 1, 10, 12)
DAY = date(2025, 1, 9)


def _reads(store: Store, sub: Subscriber) -> dict[str, Callable[[], Any]]:
    return {
        "get_paper": lambda: store.get_paper("2501.00001"),
        "get_papers": lambda: store.get_papers(["2501.00001"]),
        "count_papers": lambda: store.count_papers(),
        "latest_papers": lambda: store.latest_papers(),
        "iter_changed_since": lambda: list(store.iter_changed_since(None)),
        "papers_to_embed": lambda: list(store.papers_to_embed("m")),
        "signals_for": lambda: store.signals_for("2501.00001"),
        "get_metas": lambda: store.get_metas(["2501.00001"]),
        "latest_signals": lambda: store.latest_signals(["2501.00001"], "github_stars"),
        "signals_between": lambda: store.signals_between(DAY, DAY),
        "signal_day_totals": lambda: store.signal_day_totals(),
        "get_cursor": lambda: store.get_cursor("schedule:hf"),
        "lease_holder": lambda: store.lease_holder("ingest:x"),
        "digests.active": lambda: list(store.digests.active()),
        "digests.get": lambda: store.digests.get(sub.id),
        "digests.by_email": lambda: store.digests.by_email(sub.email),
        "digests.count_by_status": lambda: store.digests.count_by_status(),
        "digests.claimable": lambda: store.digests.claimable(NOW, NOW),
        "digests.deliveries_for": lambda: store.digests.deliveries_for(DAY),
    }


def _writes(store: Store, sub: Subscriber) -> dict[str, Callable[[], Any]]:
    return {
        "set_cursor": lambda: store.set_cursor("schedule:hf", {"last_run": NOW.isoformat()}),
        "release_lease": lambda: store.release_lease("ingest:x", "me"),
        "digests.unsubscribe": lambda: store.digests.unsubscribe(sub.id, NOW),
        "digests.ensure_deliveries": lambda: store.digests.ensure_deliveries(
            [(sub.id, DAY, NOW + timedelta(days=1))], NOW),
        "digests.expire": lambda: store.digests.expire(NOW),
    }


def test_reads_and_writes_raise_store_error_while_the_database_is_gone(outage: Outage) -> None:
    store = outage.store
    store.write_batch(
        [Paper(id="2501.00001", title="Sparse retrieval", abstract="We study sparsity.",
               authors=("Ada Lovelace",), categories=("cs.IR",), primary_category="cs.IR",
               version=1, published=DAY)],
        [Signal("2501.00001", "hf_upvotes", DAY, 3.0)], now=NOW)
    sub = store.digests.activate(Subscriber(id=0, email="ada@example.org"), NOW)
    calls = {**_reads(store, sub), **_writes(store, sub)}

    outage.cut()
    for name, call in calls.items():
        with pytest.raises(StoreError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and message.startswith("the database failed"), (name, message)
        assert "[SQL:" not in message, (name, message)

    outage.restore()  # the same store works again: nothing was left broken
    assert store.get_paper("2501.00001") is not None
    assert [s.email for s in store.digests.active()] == ["ada@example.org"]


def test_health_says_none_while_the_database_is_gone(outage: Outage) -> None:
    outage.cut()
    assert outage.store.health() is None and not outage.store.ping()
    outage.restore()
    assert outage.store.health() == 0

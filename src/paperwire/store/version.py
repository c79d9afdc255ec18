"""SQL of the data version (issue 16): one row of the ``cursors`` table that every write of
what trending and its pages read (papers, signals, paper metadata; upvotes, saves and digest
clicks are signals) replaces in its own transaction with a new random value and its time.
Reading it is one primary-key lookup, however large the store; the value changes with every
such write whatever the writers' clocks say, so a cache keyed by it is never stale.

On PostgreSQL the same transaction also sends the new version on a channel of the schema
(``NOTIFY``, delivered at commit), and a web process keeps it in memory with a
:class:`VersionListener` instead of reading it for every request: one thread on its own
connection that ``LISTEN``s, then reads the version, then applies each notification. While
that connection is down (the server restarted), and after a write of this process until its
own notification comes back, the version is read per request again, so it is never older
than the notifications' delivery (milliseconds) allows."""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import datetime
from time import monotonic
from typing import Any
from weakref import WeakKeyDictionary

from psycopg import Error as DriverError
from psycopg import sql
from sqlalchemy import Connection, Engine, func, literal, select
from sqlalchemy.exc import SQLAlchemyError

from paperwire.records import DataVersion
from paperwire.store.db import dialect_insert, first_line
from paperwire.store.schema import cursors

log = logging.getLogger(__name__)
KEY = "version:data"
CHANNEL_PREFIX = "paperwire_version_"  # + md5 of the schema: one channel per store
WAIT_SECONDS = 1.0  # one wait for notifications, between looks at whether to stop
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)  # between attempts to listen again
OWN_WRITE_SECONDS = 10.0  # how long a write of this process waits for its notification
# the listening connection is checked and the version read again this often: a connection
# that died without a word (a silent network), or a notification lost, is stale no longer
CHECK_SECONDS = 10.0
# the listeners of this process, by engine: a write through one tells it (see touch)
_listeners: WeakKeyDictionary[Engine, VersionListener] = WeakKeyDictionary()


def _channel() -> Any:
    return literal(CHANNEL_PREFIX) + func.md5(func.current_schema())


def touch(conn: Connection, now: datetime) -> None:
    """Give the data a new version (in the caller's transaction, after its writes)."""
    insert = dialect_insert(conn, cursors)
    token = secrets.token_hex(8)
    value = {"version": token}
    conn.execute(insert.values(key=KEY, value=value, updated_at=now)
                 .on_conflict_do_update(index_elements=[cursors.c.key],
                                        set_={"value": value, "updated_at": now}))
    if conn.dialect.name == "postgresql":
        listener = _listeners.get(conn.engine)
        if listener is not None:  # this process reads per request until it hears it
            listener.expect(token)
        conn.execute(select(func.pg_notify(_channel(), f"{token} {now.isoformat()}")))


def read(conn: Connection) -> DataVersion:
    """The data's version ("" with no time before the first write that made one)."""
    row = conn.execute(select(cursors.c.value, cursors.c.updated_at)
                       .where(cursors.c.key == KEY)).first()
    if row is None:
        return DataVersion("", None)
    return DataVersion(str(row.value.get("version", "")), row.updated_at)


def _heard(payload: str) -> DataVersion | None:
    token, _, changed = payload.partition(" ")
    try:
        return DataVersion(token, datetime.fromisoformat(changed))
    except ValueError:
        return None


class VersionListener:
    """The data version of a PostgreSQL store, kept in memory from its notifications by one
    thread with its own connection (see the module's text). :meth:`current` is None
    whenever it cannot vouch for it: the caller then reads it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._known: DataVersion | None = None
        self._expected: dict[str, float] = {}  # own writes' tokens not heard yet → deadline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="paperwire-version",
                                        daemon=True)
        self.backend_pid: int | None = None  # the listening session's, while it listens
        self.error = ""  # why it last lost its connection
        self.heard = 0  # notifications applied

    def start(self) -> None:
        _listeners[self.engine] = self
        self._thread.start()

    def stop(self, timeout: float = 2 * WAIT_SECONDS) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if _listeners.get(self.engine) is self:
            del _listeners[self.engine]

    @property
    def listening(self) -> bool:
        with self._lock:
            return self._known is not None

    def current(self) -> DataVersion | None:
        """The version, or None while the listener is not listening or a write of this
        process has not come back as a notification yet."""
        with self._lock:
            if self._expected:
                now = monotonic()
                self._expected = {t: d for t, d in self._expected.items() if d > now}
                if self._expected:
                    return None
            return self._known

    def expect(self, token: str) -> None:
        """A write of this process made ``token`` (not committed yet)."""
        with self._lock:
            self._expected[token] = monotonic() + OWN_WRITE_SECONDS

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._listen()
                attempt = 0
            except (DriverError, SQLAlchemyError, OSError) as exc:
                self.error = first_line(exc)
                log.warning("data version: lost the notifications (%s); reading it per "
                            "request until listening again", self.error)
            self._stop.wait(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
            attempt += 1

    def _listen(self) -> None:
        pooled = self.engine.raw_connection()
        pooled.detach()  # its own session, closed here, never back in the pool
        conn: Any = pooled.dbapi_connection
        try:
            conn.rollback()
            conn.autocommit = True
            channel = conn.execute(str(select(_channel()).compile(
                self.engine, compile_kwargs={"literal_binds": True}))).fetchone()[0]
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self._read_again()  # after LISTEN: no later write unheard
            self.backend_pid = conn.info.backend_pid
            checked = monotonic()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=WAIT_SECONDS):
                    self._apply(note.payload)
                if monotonic() - checked >= CHECK_SECONDS:
                    self._check(conn)
                    checked = monotonic()
        finally:
            with self._lock:
                self._known = None
            self.backend_pid = None
            conn.close()

    def _check(self, conn: Any) -> None:
        """Ask the listening connection for an answer, then read the version again: not
        vouched for meanwhile (a silent network hangs here), and anything missed is read."""
        with self._lock:
            self._known = None
        conn.execute("SELECT 1")
        self._read_again()

    def _read_again(self) -> None:
        with self.engine.connect() as reader:
            known = read(reader)
        with self._lock:
            self._known = known

    def _apply(self, payload: str) -> None:
        version = _heard(payload)
        if version is None:
            return
        with self._lock:
            self._known = version
            self._expected.pop(version.token, None)
        self.heard += 1

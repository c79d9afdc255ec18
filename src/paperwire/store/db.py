"""Engines and migrations. SQLite gets WAL and a busy timeout; both dialects are migrated
by Alembic, automatically on open, so re-running is a no-op."""

from __future__ import annotations

import errno
import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from paperwire.errors import StoreError, StoreFull

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Pages each connection keeps in memory (SQLite's default is 2 MiB): an import into a store
# of gigabytes touches B-tree pages all over the file (papers arrive in no id order), and
# rereads them from the OS at every miss (bench/scale_bench.py; BENCHMARKS.md, issue 15).
SQLITE_CACHE_KIB = 65536
P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)


def dialect_insert(bind: Engine | Connection, table: Any) -> Any:
    """An INSERT into ``table`` in the dialect of ``bind``: one that has
    ``on_conflict_do_update`` / ``on_conflict_do_nothing`` (upserts), on SQLite and PostgreSQL."""
    return (postgresql.insert(table) if bind.dialect.name == "postgresql"
            else sqlite.insert(table))


def first_line(exc: BaseException) -> str:
    """The database's own message, without the SQL statement SQLAlchemy appends."""
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


SQLITE_FULL = 13  # "database or disk is full": the disk, or PRAGMA max_page_count
PG_DISK_FULL = "53100"  # SQLSTATE disk_full ("could not extend file": no space left)


def is_full(exc: BaseException) -> bool:
    """Whether a database error means the database cannot grow (its disk is full or it
    reached its size limit) rather than anything about the data written."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, OSError):
        return orig.errno == errno.ENOSPC
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == SQLITE_FULL
    return getattr(orig, "sqlstate", None) == PG_DISK_FULL


def where(engine: Engine) -> str:
    """The database, as its owner knows it: a SQLite file's path, else the URL (no
    password)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return url.database
    return url.render_as_string(hide_password=True)


def _failure(fn: Callable[..., Any], exc: BaseException, owner: Any = None) -> StoreError:
    engine = getattr(owner, "engine", None)
    if is_full(exc):
        at = f" {where(engine)}" if isinstance(engine, Engine) else ""
        return StoreFull(f"the database{at} is full (no space left on its disk, or it reached "
                         f"its size limit): {first_line(exc)}")
    return StoreError(f"the database failed in {fn.__qualname__}: {first_line(exc)}")


def database_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` raising :class:`StoreError` (one line naming the method and the database's own
    message) instead of any SQLAlchemy or driver error; generators too, while iterated. A
    full database raises :class:`StoreFull`, naming the database (the ``engine`` of the
    method's object). A :class:`StoreError` the method raises itself goes through
    unchanged."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(*args, **kwargs)
            except SQLAlchemyError as exc:
                raise _failure(fn, exc, args[0] if args else None) from exc
        return cast(Callable[P, R], generator)

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise _failure(fn, exc, args[0] if args else None) from exc
    return call


def store_errors(cls: C) -> C:
    """Class decorator: every public method of ``cls`` (plain or class method) goes through
    :func:`database_errors`, so no caller of the store ever sees a SQLAlchemy exception."""
    for name, value in list(vars(cls).items()):
        if name.startswith("_"):
            continue
        if isinstance(value, classmethod):
            setattr(cls, name, classmethod(database_errors(value.__func__)))
        elif inspect.isfunction(value):
            setattr(cls, name, database_errors(value))
    return cls


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cur.close()


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"bad database URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    return engine


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Migrate to the newest schema. Returns (revision before, revision after)."""
    try:
        before = current_revision(engine)
        if before != head_revision():
            cfg = _alembic_config()
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            log.info("database migrated from %s to %s", before or "empty", head_revision())
        return before, current_revision(engine)
    except OperationalError as exc:
        if is_full(exc):
            raise StoreFull(f"the database {where(engine)} is full (no space left on its "
                            f"disk, or it reached its size limit): {first_line(exc)}") from exc
        raise StoreError(f"cannot reach the database {_safe(engine)}: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"migrating {_safe(engine)} failed: {exc}") from exc


def _safe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
